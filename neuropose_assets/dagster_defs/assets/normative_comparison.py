"""``normative_comparison``: per video of a cohort and outcome, the published norm for the subject's age and sex with
the value's position in it, and the clinical cut-offs it meets
(:func:`neuropose_assets.core.analysis.norms.normative_comparison`)."""

import dagster as dg
import polars as pl

from neuropose_assets.dagster_defs.cohort_tables import cohort_table_asset


def _compute(cohort: pl.DataFrame) -> pl.DataFrame:
    from neuropose_assets.core.analysis import norms

    return norms.normative_comparison(cohort)


def _reference() -> dict:
    from neuropose_assets.core.analysis import norms

    return {"norms": [n.__dict__ for n in norms.norms()], "cutoffs": [c.__dict__ for c in norms.cutoffs()]}


def _metadata(df: pl.DataFrame) -> dict:
    met = df.filter((pl.col("kind") == "cutoff") & ~pl.col("result").str.starts_with("not "))
    worse = df.filter(pl.col("result") == "worse than average")
    return {
        "comparisons": df.height,
        "worse_than_average": dg.MetadataValue.md(
            "\n".join(f"- {r['partition']} {r['measure']} {r['value']:.3g}" for r in worse.iter_rows(named=True))
            or "none"
        ),
        "cutoffs_met": dg.MetadataValue.md(
            "\n".join(
                f"- {r['partition']} {r['measure']} {r['value']:.3g}: {r['result']}" for r in met.iter_rows(named=True)
            )  # noqa: E501
            or "none"
        ),
    }


normative_comparison = cohort_table_asset(
    "normative_comparison",
    description="Is it abnormal: per video and outcome, the published norm of healthy adults of the subject's age "
    "and sex (neuropose_assets/data/norms.csv: mean, 95 % interval, where worse than average begins), the value's "
    "position and % of the mean, and the clinical cut-offs it meets (neuropose_assets/data/cutoffs.csv), each with "
    "its source; no comparison without the subject's age, with the reason.",
    compute=_compute,
    reference=_reference,
    metadata=_metadata,
)
