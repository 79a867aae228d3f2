"""``group_comparison``: per task and outcome, the cohort's declared groups compared — mean ± SD, effect size with its
interval, Welch's test and Holm-adjusted p-values (:func:`neuropose_assets.core.analysis.groups.group_comparison`)."""

import dagster as dg
import polars as pl

from neuropose_assets.dagster_defs.cohort_tables import cohort_table_asset


def _compute(cohort: pl.DataFrame) -> pl.DataFrame:
    from neuropose_assets.core.analysis import groups

    return groups.group_comparison(cohort)


def _metadata(df: pl.DataFrame) -> dict:
    significant = df.filter(pl.col("p_holm") < 0.05) if df.height else df
    return {
        "comparisons": df.height,
        "holm_p_below_0_05": dg.MetadataValue.md(
            "\n".join(
                f"- {r['task']} {r['measure']}: {r['test']}, p_holm {r['p_holm']:.3g}, {r['effect_kind']} "
                f"{r['effect_size']:.2f}"
                for r in significant.iter_rows(named=True)
            )
            or "none"
        ),
    }


group_comparison = cohort_table_asset(
    "group_comparison",
    description="Do the groups differ: per task and outcome, the groups declared in protocol.yaml (subjects: group) "
    "compared on one value per subject (first session) — n, mean ± SD per group, Welch t-test (two groups, Cohen's d "
    "with 95 % CI) or Welch ANOVA (partial eta squared), p-values Holm-adjusted across the task's outcomes; empty "
    "without two groups.",
    compute=_compute,
    reference=dict,
    metadata=_metadata,
    kinds={"pingouin", "parquet"},
    packages=("pingouin",),
)
