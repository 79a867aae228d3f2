"""``review_video``: the recording with the skeletons and the task's events drawn (H.264 MP4 in
``<data root>/review``) and a key-frame contact sheet (:mod:`neuropose_assets.core.review.render`).

Review assets run in their own job (``review_job``), started by ``review_sensor`` when a video's outcomes are
materialized, in the pool ``render`` (one at a time), so rendering never delays pose estimation or the outcomes.
"""

import dagster as dg
import polars as pl

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.common import MARKER_FORMATS, REVIEW, fail, provenance
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.results import review_url


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
def review_video(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    raw_video: ProvenancedTable,
    poses: ProvenancedTable,
    events: ProvenancedTable,
) -> dg.Output[ProvenancedTable]:
    """Materialize ``review_video``: :func:`~neuropose_assets.core.review.render.render_review_video` and the key-frame
    contact sheet."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes
    from neuropose_assets.core.io.errors import VideoError
    from neuropose_assets.core.kinematics.skeletons import get_skeleton
    from neuropose_assets.core.review.render import contact_sheet, jpeg_bytes, render_review_video

    key = context.partition_key
    layout = storage.layout
    out = layout.review / f"{key}.mp4"
    if raw_video.df["codec"][0] in MARKER_FORMATS:  # marker-based capture: no picture to draw on
        df = pl.DataFrame(
            {
                "video_path": [None],
                "contact_sheet_path": [None],
                "frames": [0],
                "width_px": [None],
                "height_px": [None],
                "render_s": [0.0],
            },
            schema_overrides={
                "video_path": pl.Utf8,
                "contact_sheet_path": pl.Utf8,
                "frames": pl.Int64,
                "width_px": pl.Int32,
                "height_px": pl.Int32,
            },
        )
        return dg.Output(
            ProvenancedTable(df, provenance("review_video", poses.provenance, None)),
            metadata={
                "review_video": "none: marker-based capture has no video (the report's figures show its signals)"
            },
        )
    try:
        res = render_review_video(
            raw_video.df["stored_path"][0],
            poses.df,
            events.df,
            out,
            skeleton=get_skeleton(poses.provenance["model"]["skeleton"]),
        )
    except VideoError as err:
        raise fail(err, key) from None
    sheet = contact_sheet(res.key_frames)
    sheet_path = layout.review / f"{key}.contact.jpg"
    meta: dict = {}
    if sheet is not None:
        from neuropose_assets.core.review.plots import md_image

        atomic_write_bytes(sheet_path, jpeg_bytes(sheet))
        meta["key_frames"] = dg.MetadataValue.md(md_image(jpeg_bytes(sheet, 1000, 70), "one frame per event", "jpeg"))
    elif sheet_path.exists():
        sheet_path.unlink()
    df = pl.DataFrame(
        {
            "video_path": [str(out)],
            "contact_sheet_path": [str(sheet_path) if sheet is not None else None],
            "frames": [res.frames],
            "width_px": [res.width_px],
            "height_px": [res.height_px],
            "render_s": [round(res.render_s, 3)],
        },
        schema_overrides={
            "frames": pl.Int64,
            "width_px": pl.Int32,
            "height_px": pl.Int32,
            "contact_sheet_path": pl.Utf8,
        },
    )
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
