"""Biomechanics interop stage: the reference events recorded with marker-based capture, and the OpenSim export.

``reference_events`` holds the events that came with a marker file (C3D ``EVENT`` annotations, force-plate contacts,
a ground reaction ``.mot``: :mod:`..core.mocap`) — empty for a video — so that ``neuropose-assets agreement`` can
compare the detected events with them.  ``opensim_export`` writes ``<data root>/exports/<video>.{trc,mot,csv}``
(:mod:`..core.opensim`).
"""

import json
import time

import dagster as dg
import polars as pl

from neuropose_assets.core.errors import VideoError
from neuropose_assets.core.tables import ProvenancedTable
from neuropose_assets.dagster_defs.assets import MARKER_FORMATS
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import PER_VIDEO, fail, provenance, since
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import StorageResource


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    code_version="1",
    description="Events recorded with marker-based capture (C3D events, force-plate contacts at 20 N, a ground "
    "reaction .mot) in frames and seconds, with their source — the reference for the detected events (empty for a "
    "video).",
    check_specs=check_specs("reference_events", partitions_def=videos),
)
@checked("reference_events")
def reference_events(context: dg.AssetExecutionContext, storage: StorageResource,
                     raw_video: ProvenancedTable) -> dg.Output[ProvenancedTable]:  # fmt: skip
    """Materialize ``reference_events``: the events of a marker file (:func:`.assets.import_marker_file`); none for
    a video."""
    from neuropose_assets.dagster_defs.assets import import_marker_file

    key = context.partition_key
    t0 = time.perf_counter()
    rows = []
    if raw_video.df["codec"][0] in MARKER_FORMATS:
        imp, _, _ = import_marker_file(key, storage, raw_video)
        rows = [{"event": e.event, "side": e.side, "frame": e.frame, "time_s": e.time_s, "source": e.source}
                for e in imp.events]  # fmt: skip
    from data_contracts import polars_schema

    df = pl.DataFrame(rows, schema=polars_schema("reference_events")).sort("frame", "source")
    counts = {f"{s}/{e}": n for s, e, n in df.group_by("source", "event").len().sort("source", "event").iter_rows()}
    return dg.Output(ProvenancedTable(df, provenance("reference_events", raw_video.provenance, None)),
                     metadata={"events": dg.MetadataValue.json(counts), "compute_s": since(t0)})  # fmt: skip


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    code_version="2",
    description="OpenSim export: the clinical joints as markers (.trc, metres, X forward, Y up, Z right), the fitted "
    "model's OpenSim coordinates (.mot: hip_flexion_r, knee_angle_l, …, degrees; loads onto a Rajagopal-family model) "
    "and both as CSV, under <data root>/exports. Frames without any joint are left out.",
    check_specs=check_specs("opensim_export", partitions_def=videos),
)
@checked("opensim_export")
def opensim_export(context: dg.AssetExecutionContext, storage: StorageResource, features: ProvenancedTable,
                   kinematics: ProvenancedTable) -> dg.Output[ProvenancedTable]:  # fmt: skip
    """Materialize ``opensim_export``: :func:`..core.opensim.opensim_tables`, written as .trc, .mot and .csv."""
    from neuropose_assets.core.opensim import FORMATS, opensim_tables, write_export

    key = context.partition_key
    t0 = time.perf_counter()
    frame = (features.provenance.get("configs", {}).get("features") or {}).get("frame", "camera")
    try:
        exp = opensim_tables(features.df, frame=frame, absolute=features.provenance["model"]["origin"] == "camera",
                             kinematics=kinematics.df)  # fmt: skip
    except VideoError as err:
        raise fail(err, key) from None
    paths = {fmt: write_export(exp, storage.layout.exports / f"{key}.{fmt}", fmt) for fmt in FORMATS}
    df = pl.DataFrame({
        "trc_path": [str(paths["trc"])], "mot_path": [str(paths["mot"])], "csv_path": [str(paths["csv"])],
        "frames": pl.Series([len(exp.times_s)], dtype=pl.Int64),
        "frames_omitted": pl.Series([exp.omitted], dtype=pl.Int64),
        "mot_rows": pl.Series([int(exp.mot_rows().sum())], dtype=pl.Int64), "markers": [",".join(exp.labels)],
        "absolute": [exp.absolute], "transform_json": [json.dumps(exp.transform.as_dict(), sort_keys=True)],
    })  # fmt: skip
    prov = provenance("opensim_export", features.provenance, {"formats": list(FORMATS)})
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "trc": dg.MetadataValue.path(str(paths["trc"])),
            "mot": dg.MetadataValue.path(str(paths["mot"])),
            "frames": len(exp.times_s),
            "frames_omitted": exp.omitted,
            "forward_axis_from": exp.transform.heading.how,
            "positions": "absolute" if exp.absolute else "hip-centred (no translation)",
            "compute_s": since(t0),
        },
    )
