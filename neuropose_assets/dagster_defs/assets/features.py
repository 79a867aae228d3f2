"""``features``: the subject's clinical joints (root-centred, mm), speeds and the fitted joint angles
(:func:`neuropose_assets.core.kinematics.features.compute_features` on ``poses`` and ``kinematics``).
"""

import time

import dagster as dg

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.core.kinematics.features import FeaturesConfig
from neuropose_assets.dagster_defs.common import fail, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part

FeaturesAssetConfig = dagster_config(FeaturesConfig)


@part(
    kinds={"python", "parquet"},
    code_version="5",
    description="One person on the clinical joint set: gap-filled, low-pass filtered, root-centred 3D (mm), 2D (px), "
    "joint confidences (0–1, observed frames only), speeds (mm/s), time (s); "
    "joint angles (deg) of the fitted model (kinematics: OpenSim coordinates).",
)
def features(
    context: dg.AssetExecutionContext,
    config: FeaturesAssetConfig,
    poses: ProvenancedTable,
    kinematics: ProvenancedTable,
    storage: StorageResource,  # noqa: ARG001 - the checks read the written file through it
) -> dg.Output[ProvenancedTable]:
    """Materialize ``features``: :func:`~neuropose_assets.core.kinematics.features.compute_features` on ``poses`` and
    ``kinematics``."""
    from neuropose_assets.core.kinematics.features import ANGLE_COLUMNS, compute_features
    from neuropose_assets.core.kinematics.skeletons import get_skeleton

    t0 = time.perf_counter()
    skeleton = get_skeleton(poses.provenance["model"]["skeleton"])
    core_cfg = config_or_fail(config, "features")
    fitted = (kinematics.provenance.get("configs", {}).get("kinematics") or {}).get("track")
    if fitted != core_cfg.track:
        context.log.warning(
            f"features of track {core_cfg.track}, "
            f"but the model was fitted to track {fitted}: the angle "
            "columns stay null (set the kinematics config's track to the same person)"
        )
    try:
        df, diag = compute_features(poses.df, skeleton, core_cfg, kinematics.df if fitted == core_cfg.track else None)
    except KeyError as err:  # a track that does not occur: the config names a person who is not there
        raise fail(f"features: {err.args[0]}", context.partition_key) from None
    from neuropose_assets.core.kinematics.signal import filter_description

    lowpass = filter_description(core_cfg.lowpass_hz, core_cfg.lowpass_order) if core_cfg.lowpass_hz else None
    prov = provenance(
        "features",
        kinematics.provenance,
        {
            **core_cfg.model_dump(),
            "skeleton": skeleton.name,
            "root": "pelvis",
            "lowpass_filter": lowpass,
            "angles": "the kinematics stage's fitted model",
        },
    )
    ranges = {
        f"{c}_range": f"{df[c].min():.1f}–{df[c].max():.1f}" for c in ANGLE_COLUMNS if df[c].null_count() < df.height
    }
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={**{k: v for k, v in diag.items() if v is not None}, **ranges, "compute_s": since(t0)},
    )
