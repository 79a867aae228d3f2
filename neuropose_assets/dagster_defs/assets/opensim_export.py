"""``opensim_export``: the video's poses and angles as OpenSim files,
``<data root>/exports/<video>.{trc,mot,csv}`` (:mod:`neuropose_assets.core.interop.opensim`).
"""

import json
import time

import dagster as dg
import polars as pl

from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.common import fail, provenance, since
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part


@part(
    kinds={"python", "parquet"},
    code_version="2",
    description="OpenSim export: the clinical joints as markers (.trc, metres, X forward, Y up, Z right), the fitted "
    "model's OpenSim coordinates (.mot: hip_flexion_r, knee_angle_l, …, degrees; loads onto a Rajagopal-family model) "
    "and both as CSV, under <data root>/exports. Frames without any joint are left out.",
)
def opensim_export(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    features: ProvenancedTable,
    kinematics: ProvenancedTable,
) -> dg.Output[ProvenancedTable]:
    """Materialize ``opensim_export``: :func:`~neuropose_assets.core.interop.opensim.opensim_tables`, written as .trc,
    .mot and .csv."""
    from neuropose_assets.core.interop.opensim import FORMATS, opensim_tables, write_export

    key = context.partition_key
    t0 = time.perf_counter()
    frame = (features.provenance.get("configs", {}).get("features") or {}).get("frame", "camera")
    try:
        exp = opensim_tables(
            features.df,
            frame=frame,
            absolute=features.provenance["model"]["origin"] == "camera",
            kinematics=kinematics.df,
        )
    except VideoError as err:
        raise fail(err, key) from None
    paths = {fmt: write_export(exp, storage.layout.exports / f"{key}.{fmt}", fmt) for fmt in FORMATS}
    df = pl.DataFrame(
        {
            "trc_path": [str(paths["trc"])],
            "mot_path": [str(paths["mot"])],
            "csv_path": [str(paths["csv"])],
            "frames": pl.Series([len(exp.times_s)], dtype=pl.Int64),
            "frames_omitted": pl.Series([exp.omitted], dtype=pl.Int64),
            "mot_rows": pl.Series([int(exp.mot_rows().sum())], dtype=pl.Int64),
            "markers": [",".join(exp.labels)],
            "absolute": [exp.absolute],
            "transform_json": [json.dumps(exp.transform.as_dict(), sort_keys=True)],
        }
    )
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
