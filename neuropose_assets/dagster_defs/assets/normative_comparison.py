"""``normative_comparison``: per video of a cohort and outcome, the published norm for the subject's age and sex with
the value's position in it, and the clinical cut-offs it meets
(:func:`neuropose_assets.core.analysis.norms.normative_comparison`)."""

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
    description="Is it abnormal: per video and outcome, the published norm of healthy adults of the subject's age "
    "and sex (neuropose_assets/data/norms.csv: mean, 95 % interval, where worse than average begins), the value's "
    "position and % of the mean, and the clinical cut-offs it meets (neuropose_assets/data/cutoffs.csv), each with "
    "its source; no comparison without the subject's age, with the reason.",
    check_specs=check_specs("normative_comparison", partitions_def=cohorts),
)
@checked("normative_comparison")
def normative_comparison(
    context: dg.AssetExecutionContext,
    cohort_outcomes: ProvenancedTable,
    storage: StorageResource,  # noqa: ARG001 - checks
) -> dg.Output[ProvenancedTable]:
    """Materialize ``normative_comparison`` from the cohort's ``cohort_outcomes`` table."""
    from neuropose_assets.core.analysis import norms

    t0 = time.perf_counter()
    df = norms.normative_comparison(cohort_outcomes.df)
    prov = {
        "stage": "normative_comparison",
        "cohort": context.partition_key,
        "configs": {},
        "versions": versions(),
        "norms": [n.__dict__ for n in norms.norms()],
        "cutoffs": [c.__dict__ for c in norms.cutoffs()],
    }
    flagged = df.filter((pl.col("kind") == "cutoff") & ~pl.col("result").str.starts_with("not "))
    worse = df.filter(pl.col("result") == "worse than average")
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "comparisons": df.height,
            "worse_than_average": dg.MetadataValue.md(
                "\n".join(f"- {r['partition']} {r['measure']} {r['value']:.3g}" for r in worse.iter_rows(named=True))
                or "none"
            ),
            "cutoffs_met": dg.MetadataValue.md(
                "\n".join(
                    f"- {r['partition']} {r['measure']} {r['value']:.3g}: {r['result']}"
                    for r in flagged.iter_rows(named=True)
                )
                or "none"
            ),
            "compute_s": since(t0),
        },
    )
