"""``subject_changes``: per subject of a cohort, each outcome's change between consecutive sessions and against
baseline, judged against the published threshold for the subject's population and the sessions' own intervals
(:func:`neuropose_assets.core.analysis.change.subject_changes`)."""

import time

import dagster as dg
import polars as pl

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import COHORT, since, versions
from neuropose_assets.dagster_defs.partitions import cohorts
from neuropose_assets.dagster_defs.resources import StorageResource


@dg.asset(
    partitions_def=cohorts,
    group_name=COHORT,
    kinds={"polars", "parquet"},
    code_version="1",
    description="Has it changed: per subject, task, outcome and pair of sessions (consecutive, and against baseline) "
    "the change with its 95 % interval, the published MDC / MCID for the subject's population "
    "(neuropose_assets/data/change_thresholds.csv, cited) and the verdict — 'exceeds' only when the change is above "
    "the threshold and the sessions' intervals resolve it.",
    check_specs=check_specs("subject_changes", partitions_def=cohorts),
)
@checked("subject_changes")
def subject_changes(
    context: dg.AssetExecutionContext,
    cohort_outcomes: ProvenancedTable,
    storage: StorageResource,  # noqa: ARG001 - checks
) -> dg.Output[ProvenancedTable]:
    """Materialize ``subject_changes`` from the cohort's ``cohort_outcomes`` table."""
    from neuropose_assets.core.analysis import change

    t0 = time.perf_counter()
    df = change.subject_changes(cohort_outcomes.df)
    verdicts = df.group_by("verdict").len().sort("verdict", nulls_last=True)
    prov = {
        "stage": "subject_changes",
        "cohort": context.partition_key,
        "configs": {},
        "versions": versions(),
        "thresholds": [t.__dict__ for t in change.thresholds()],
    }
    exceeds = df.filter(pl.col("verdict") == "exceeds")
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "subjects_with_two_sessions": df["subject"].n_unique() if df.height else 0,
            "comparisons": df.height,
            "verdicts": dg.MetadataValue.json({str(v): n for v, n in verdicts.iter_rows()}),
            "exceeding": dg.MetadataValue.md(
                "\n".join(
                    f"- {r['subject']} {r['measure']}: {r['session_from']} → {r['session_to']} "
                    f"{r['change']:+.3g} {r['unit']} ({r['threshold_statistic']} {r['threshold']:.3g})"
                    for r in exceeds.iter_rows(named=True)
                )
                or "none"
            ),
            "compute_s": since(t0),
        },
    )
