"""``group_comparison``: per task and outcome, the cohort's declared groups compared — mean ± SD, effect size with its
interval, Welch's test and Holm-adjusted p-values (:func:`neuropose_assets.core.analysis.groups.group_comparison`)."""

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
    kinds={"pingouin", "parquet"},
    code_version="1",
    description="Do the groups differ: per task and outcome, the groups declared in protocol.yaml (subjects: group) "
    "compared on one value per subject (first session) — n, mean ± SD per group, Welch t-test (two groups, Cohen's d "
    "with 95 % CI) or Welch ANOVA (partial eta squared), p-values Holm-adjusted across the task's outcomes; empty "
    "without two groups.",
    check_specs=check_specs("group_comparison", partitions_def=cohorts),
)
@checked("group_comparison")
def group_comparison(
    context: dg.AssetExecutionContext,
    cohort_outcomes: ProvenancedTable,
    storage: StorageResource,  # noqa: ARG001 - checks
) -> dg.Output[ProvenancedTable]:
    """Materialize ``group_comparison`` from the cohort's ``cohort_outcomes`` table."""
    from neuropose_assets.core.analysis import groups

    t0 = time.perf_counter()
    df = groups.group_comparison(cohort_outcomes.df)
    prov = {
        "stage": "group_comparison",
        "cohort": context.partition_key,
        "configs": {},
        "versions": versions("pingouin"),
    }
    significant = df.filter(pl.col("p_holm") < 0.05) if df.height else df
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "comparisons": df.height,
            "holm_p_below_0_05": dg.MetadataValue.md(
                "\n".join(
                    f"- {r['task']} {r['measure']}: {r['test']}, p_holm {r['p_holm']:.3g}, {r['effect_kind']} "
                    f"{r['effect_size']:.2f}"
                    for r in significant.iter_rows(named=True)
                )
                or "none"
            ),
            "compute_s": since(t0),
        },
    )
