"""``report``: the self-contained per-video report, HTML and PDF (``<data root>/reports``;
:mod:`neuropose_assets.core.review.report`), its figures shown inline in the UI.  Runs in ``review_job`` like
:mod:`.review_video`.
"""

import time

import dagster as dg

from neuropose_assets.dagster_defs.common import REVIEW, fail, since
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.results import PREFIX, cohort_url, report_url


@dg.asset(
    partitions_def=videos,
    group_name=REVIEW,
    kinds={"html"},
    code_version="2",
    deps=["task", "features", "events", "repetitions", "outcomes", "repetition_dtw", "review_video"],
    description="Per-video report (self-contained HTML, and the same as a PDF): task, outcomes with units and "
    "definitions, event times, figures, quality flags and provenance. Its figures are shown inline here.",
)
def report(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Materialize ``report``: :func:`~neuropose_assets.core.review.report.write_report`, its figures shown inline in
    the UI."""
    from neuropose_assets.core.review.plots import md_image
    from neuropose_assets.core.review.report import write_report

    t0 = time.perf_counter()
    key = context.partition_key
    try:
        path, rep = write_report(storage.layout, key)
    except FileNotFoundError as err:
        raise fail(err, key) from None
    captions = {
        "signal": "task signal, events, repetitions",
        "angles": "joint angles",
        "gait_cycle": "gait cycle",
        "repetition_dtw": "repetition DTW",
    }
    figures = {
        f"plot_{k}": dg.MetadataValue.md(md_image(v, captions[k])) for k, v in rep.figures.items() if k in captions
    }
    return dg.MaterializeResult(
        metadata={
            "open_report": dg.MetadataValue.url(report_url(key)),  # served by the results page
            "open_pdf": dg.MetadataValue.url(report_url(key) + ".pdf"),
            "results_page": dg.MetadataValue.url(results_link(storage, key)),
            "report": dg.MetadataValue.path(str(path)),
            **figures,
            "quality_flags": dg.MetadataValue.md(
                "\n".join(f"- **{f.severity}** {f.message}" for f in rep.flags) or "none"
            ),
            "build_s": since(t0),
        }
    )


def results_link(storage: StorageResource, key: str) -> str:
    """The video's row on its cohort's results page (relative to the UI's origin: the same server serves both)."""
    try:
        cohort = storage.registry.get(key).cohort
    except (KeyError, ValueError):
        return PREFIX + "/"
    return f"{cohort_url(cohort)}#{key}"
