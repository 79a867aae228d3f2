"""The model-fit stage: poses → kinematics (OpenSim coordinates of a skeletal model fitted to the keypoints).

A thin wrapper around :func:`neuropose_assets.core.kinematics.fit.fit_model`: read the subject's keypoints from
``poses`` (and the image size from ``raw_video``, the declared height from ``task``), fit, write the table with its
residuals; the provenance records the fitted dimensions, focal length and ground frame, and which coordinates are
null in how many frames and why.
"""

import time

import dagster as dg

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.core.kinematics.fit import FitConfig
from neuropose_assets.dagster_defs.common import fail, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part

KinematicsConfig = dagster_config(FitConfig)


@part(
    kinds={"python", "parquet"},
    code_version="1",
    description="A skeletal model (OpenSim coordinates: pelvis, hips, knees, ankles, lumbar, arms; constant "
    "subject-scaled segments, joint limits) fitted over the trial to the pose model's 2D keypoints through an "
    "estimated camera and to its 3D keypoints, smoothly in time; angles in deg with OpenSim's signs, residuals per "
    "keypoint (px, mm); an angle is null where a keypoint it needs is not seen.",
)
def kinematics(
    context: dg.AssetExecutionContext,
    config: KinematicsConfig,
    poses: ProvenancedTable,
    raw_video: ProvenancedTable,
    task: ProvenancedTable,
    storage: StorageResource,  # noqa: ARG001 - checks
) -> dg.Output[ProvenancedTable]:
    """Materialize ``kinematics``: :func:`~neuropose_assets.core.kinematics.fit.fit_model` on the subject's
    keypoints."""
    from neuropose_assets.core.kinematics.fit import fit_model, kinematics_table, observations_from_poses
    from neuropose_assets.core.kinematics.skeletons import get_skeleton
    from neuropose_assets.dagster_defs.assets.task import task_spec

    key = context.partition_key
    t0 = time.perf_counter()
    cfg = config_or_fail(config, "kinematics")
    height = task_spec(task).height_m
    if height is not None and cfg.height_m is None:
        cfg = cfg.model_copy(update={"height_m": height})
    skeleton = get_skeleton(poses.provenance["model"]["skeleton"])
    row = raw_video.df.row(0, named=True)
    try:
        frames, obs = observations_from_poses(
            poses.df, skeleton, row["width_px"] or 0, row["height_px"] or 0, cfg.track
        )
    except KeyError as err:  # a track that does not occur
        raise fail(f"kinematics: {err.args[0]}", key) from None
    try:
        fit = fit_model(obs, cfg)
    except ValueError as err:  # nothing to fit: the subject's lower body is not seen
        raise fail(f"kinematics: {err}", key) from None
    df, nulls = kinematics_table(frames, obs, fit)
    settings = {
        **cfg.model_dump(mode="json"),
        "dimensions_m": fit.dims.as_dict(),
        "focal_px": round(float(fit.focal_px), 1),
        "ground_to_camera": fit.ground.round(6).tolist(),
        "sigma_px": round(float(fit.sigma_px), 2),
        "null": nulls,
    }
    prov = provenance("kinematics", poses.provenance, settings, "scipy")
    seconds = since(t0)
    context.log.info(
        f"{key}: model fitted to {len(frames)} frames in {seconds:.1f} s; median reprojection error "
        f"{df['residual_rms_px'].median() or float('nan'):.1f} px"
    )
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "frames": len(frames),
            "dimensions_m": dg.MetadataValue.json(fit.dims.as_dict()),
            "height_m": round(float(fit.height_m), 3),
            "height_from": "declared" if cfg.height_m else "estimated (pose model's scale)",
            "focal_px": round(float(fit.focal_px), 1),
            "median_residual_px": float(df["residual_rms_px"].median() or 0.0),
            "null_coordinates": dg.MetadataValue.json({c: v["null_frames"] for c, v in nulls.items()})
            if nulls
            else "none",
            "frames_per_s": round(len(frames) / max(seconds, 1e-9), 1),
            "compute_s": seconds,
        },
    )
