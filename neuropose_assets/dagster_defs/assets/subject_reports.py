"""``subject_reports``: a self-contained HTML report per subject of a cohort — sessions side by side, the timeline of
the main outcomes, the changes and their verdicts, norms and cut-offs, quality flags
(:func:`neuropose_assets.core.review.subject_report.write_subject_reports`)."""

import time

import dagster as dg

from neuropose_assets.dagster_defs.common import COHORT, since
from neuropose_assets.dagster_defs.partitions import cohorts
from neuropose_assets.dagster_defs.resources import StorageResource


@dg.asset(
    partitions_def=cohorts,
    group_name=COHORT,
    deps=["cohort_outcomes", "subject_changes", "normative_comparison"],
    kinds={"html"},
    code_version="1",
    description="One HTML report per subject of the cohort (<data root>/reports/subjects/<cohort>/<subject>.html): "
    "its sessions side by side with 95 % intervals, a timeline of the main outcomes with the published change "
    "threshold as a band, the changes and their verdicts, norms and cut-offs, and each video's quality flags.",
)
def subject_reports(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Materialize ``subject_reports`` for the cohort partition."""
    from neuropose_assets.core.review.subject_report import write_subject_reports

    t0 = time.perf_counter()
    paths = write_subject_reports(storage.layout, context.partition_key)
    return dg.MaterializeResult(
        metadata={
            "subjects": len(paths),
            "reports": dg.MetadataValue.md(
                "\n".join(f"- {s}: `{p}`" for s, p in paths.items()) or "no subject declared"
            ),
            "build_s": since(t0),
        }
    )
