"""``reference_events``: the events that came with a marker file (C3D ``EVENT`` annotations, force-plate
contacts, a ground reaction ``.mot``: :mod:`neuropose_assets.core.interop.mocap`) — empty for a video — so that
``neuropose-assets agreement`` can compare the detected events with them.
"""

import time

import dagster as dg
import polars as pl

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.common import MARKER_FORMATS, provenance, since
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part


@part(
    kinds={"python", "parquet"},
    code_version="1",
    description="Events recorded with marker-based capture (C3D events, force-plate contacts at 20 N, a ground "
    "reaction .mot) in frames and seconds, with their source — the reference for the detected events (empty for a "
    "video).",
)
def reference_events(
    context: dg.AssetExecutionContext, storage: StorageResource, raw_video: ProvenancedTable
) -> dg.Output[ProvenancedTable]:
    """Materialize ``reference_events``: the events of a marker file
    (:func:`~neuropose_assets.dagster_defs.assets.poses.import_marker_file`); none for a video."""
    from neuropose_assets.dagster_defs.assets.poses import import_marker_file

    key = context.partition_key
    t0 = time.perf_counter()
    rows = []
    if raw_video.df["codec"][0] in MARKER_FORMATS:
        imp, _, _ = import_marker_file(key, storage, raw_video)
        rows = [
            {"event": e.event, "side": e.side, "frame": e.frame, "time_s": e.time_s, "source": e.source}
            for e in imp.events
        ]
    from data_contracts import polars_schema

    df = pl.DataFrame(rows, schema=polars_schema("reference_events")).sort("frame", "source")
    counts = {f"{s}/{e}": n for s, e, n in df.group_by("source", "event").len().sort("source", "event").iter_rows()}
    return dg.Output(
        ProvenancedTable(df, provenance("reference_events", raw_video.provenance, None)),
        metadata={"events": dg.MetadataValue.json(counts), "compute_s": since(t0)},
    )
