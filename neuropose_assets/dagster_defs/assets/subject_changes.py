"""``subject_changes``: per subject of a cohort, each outcome's change between consecutive sessions and against
baseline, judged against the published threshold for the subject's population and the sessions' own intervals
(:func:`neuropose_assets.core.analysis.change.subject_changes`)."""

import dagster as dg
import polars as pl

from neuropose_assets.dagster_defs.cohort_tables import cohort_table_asset


def _compute(cohort: pl.DataFrame) -> pl.DataFrame:
    from neuropose_assets.core.analysis import change

    return change.subject_changes(cohort)


def _reference() -> dict:
    from neuropose_assets.core.analysis import change

    return {"thresholds": [t.__dict__ for t in change.thresholds()]}


def _metadata(df: pl.DataFrame) -> dict:
    verdicts = df.group_by("verdict").len().sort("verdict", nulls_last=True)
    exceeds = df.filter(pl.col("verdict") == "exceeds")
    return {
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
    }


subject_changes = cohort_table_asset(
    "subject_changes",
    description="Has it changed: per subject, task, outcome and pair of sessions (consecutive, and against baseline) "
    "the change with its 95 % interval, the published MDC / MCID for the subject's population "
    "(neuropose_assets/data/change_thresholds.csv, cited) and the verdict — 'exceeds' only when the change is above "
    "the threshold and the sessions' intervals resolve it.",
    compute=_compute,
    reference=_reference,
    metadata=_metadata,
)
