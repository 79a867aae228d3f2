"""Review stage: pictures of what the pipeline saw, off the path to the outcomes.

``review_video`` renders the recording with the skeletons and the task's events (H.264 MP4 in ``<data root>/review``)
and a key-frame contact sheet; ``report`` writes the self-contained per-video report (``<data root>/reports``) and
shows its figures inline in the UI.  Both run in their own job (``review_job``), started by ``review_sensor`` when a
video's outcomes are materialized, in the pool ``render`` (one at a time), so rendering never delays pose estimation
or the outcomes.
"""

import time

import dagster as dg
import polars as pl

from neuropose_assets.core.tables import ProvenancedTable
from neuropose_assets.dagster_defs.assets import MARKER_FORMATS
from neuropose_assets.dagster_defs.common import fail, provenance, since
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.results import PREFIX, cohort_url, report_url, review_url

REVIEW = "review"


@dg.asset(
    partitions_def=videos,
    group_name=REVIEW,
    kinds={"video", "parquet"},
    pool="render",
    code_version="2",
    deps=["outcomes"],  # rendered once the outcomes exist: never on the path to them
    description="Review video: the recording with the subject's skeleton (others dimmed), its track id, the frame "
    "time and the task's events (e.g. 'HS L') drawn; H.264 MP4 that a browser plays, and a key-frame contact sheet.",
)
def review_video(context: dg.AssetExecutionContext, storage: StorageResource, raw_video: ProvenancedTable,
                 poses: ProvenancedTable, events: ProvenancedTable) -> dg.Output[ProvenancedTable]:  # fmt: skip
    """Materialize ``review_video``: :func:`..core.render.render_review_video` and the key-frame contact sheet."""
    from neuropose_assets.core.atomic import atomic_write_bytes
    from neuropose_assets.core.errors import VideoError
    from neuropose_assets.core.render import contact_sheet, jpeg_bytes, render_review_video
    from neuropose_assets.core.skeletons import get_skeleton

    key = context.partition_key
    layout = storage.layout
    out = layout.review / f"{key}.mp4"
    if raw_video.df["codec"][0] in MARKER_FORMATS:  # marker-based capture: no picture to draw on
        df = pl.DataFrame({"video_path": [None], "contact_sheet_path": [None], "frames": [0], "width_px": [None],
                           "height_px": [None], "render_s": [0.0]},
                          schema_overrides={"video_path": pl.Utf8, "contact_sheet_path": pl.Utf8, "frames": pl.Int64,
                                            "width_px": pl.Int32, "height_px": pl.Int32})  # fmt: skip
        return dg.Output(ProvenancedTable(df, provenance("review_video", poses.provenance, None)),
                         metadata={"review_video": "none: marker-based capture has no video (the report's figures "
                                                   "show its signals)"})  # fmt: skip
    try:
        res = render_review_video(raw_video.df["stored_path"][0], poses.df, events.df, out,
                                  skeleton=get_skeleton(poses.provenance["model"]["skeleton"]))  # fmt: skip
    except VideoError as err:
        raise fail(err, key) from None
    sheet = contact_sheet(res.key_frames)
    sheet_path = layout.review / f"{key}.contact.jpg"
    meta: dict = {}
    if sheet is not None:
        from neuropose_assets.core.plots import md_image

        atomic_write_bytes(sheet_path, jpeg_bytes(sheet))
        meta["key_frames"] = dg.MetadataValue.md(md_image(jpeg_bytes(sheet, 1000, 70), "one frame per event", "jpeg"))
    elif sheet_path.exists():
        sheet_path.unlink()
    df = pl.DataFrame({"video_path": [str(out)], "contact_sheet_path": [str(sheet_path) if sheet is not None else None],
                       "frames": [res.frames], "width_px": [res.width_px], "height_px": [res.height_px],
                       "render_s": [round(res.render_s, 3)]},
                      schema_overrides={"frames": pl.Int64, "width_px": pl.Int32, "height_px": pl.Int32,
                                        "contact_sheet_path": pl.Utf8})  # fmt: skip
    return dg.Output(
        ProvenancedTable(df, provenance("review_video", poses.provenance, None, "av")),
        metadata={
            "watch": dg.MetadataValue.url(review_url(context.partition_key)),  # the results page serves it
            "review_video": dg.MetadataValue.path(str(out)),
            "frames": res.frames,
            "size": f"{res.width_px}×{res.height_px} px",
            "render_frames_per_s": round(res.frames_per_s, 1),
            **meta,
        },
    )


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
    """Materialize ``report``: :func:`..core.report.write_report`, its figures shown inline in the UI."""
    from neuropose_assets.core.plots import md_image
    from neuropose_assets.core.report import write_report

    t0 = time.perf_counter()
    key = context.partition_key
    try:
        path, rep = write_report(storage.layout, key)
    except FileNotFoundError as err:
        raise fail(err, key) from None
    captions = {"signal": "task signal, events, repetitions", "angles": "joint angles", "gait_cycle": "gait cycle",
                "repetition_dtw": "repetition DTW"}  # fmt: skip
    figures = {f"plot_{k}": dg.MetadataValue.md(md_image(v, captions[k])) for k, v in rep.figures.items()
               if k in captions}  # fmt: skip
    return dg.MaterializeResult(
        metadata={
            "open_report": dg.MetadataValue.url(report_url(key)),  # served by the results page
            "open_pdf": dg.MetadataValue.url(report_url(key) + ".pdf"),
            "results_page": dg.MetadataValue.url(results_link(storage, key)),
            "report": dg.MetadataValue.path(str(path)),
            **figures,
            "quality_flags": dg.MetadataValue.md("\n".join(f"- **{f.severity}** {f.message}" for f in rep.flags)
                                                 or "none"),  # fmt: skip
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


REVIEW_ASSETS = [review_video, report]
