"""The Dagster code location (``workspace.yaml`` loads this module).

Importing it must stay cheap: no TensorFlow, MediaPipe or tslearn (they are imported inside the assets that use
them), so the webserver, daemon and code server start in seconds.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import dagster as dg

from neuropose_assets import stages
from neuropose_assets.core.io.storage import Layout, default_data_root, secure_data_root
from neuropose_assets.dagster_defs.common import PER_VIDEO, REVIEW
from neuropose_assets.dagster_defs.io_manager import ParquetIOManager
from neuropose_assets.dagster_defs.resources import PoseModelResource, StorageResource
from neuropose_assets.dagster_defs.sensors import build_cohort_sensor, build_intake_sensor, build_review_sensor
from neuropose_assets.settings import settings


def asset_definitions(job: str) -> list:
    """The asset definitions of ``job``, read from the stage list (:data:`neuropose_assets.stages.STAGES`): each
    stage's definition (:func:`neuropose_assets.stages.definition_at`: its fused step, else its ``function`` in
    ``dagster_defs/assets/<defs>.py``), a multi-asset once."""
    out: list = []
    for s in stages.STAGES:
        if s.job == job:
            module, name = stages.definition_at(s.asset)
            definition = getattr(importlib.import_module(f"neuropose_assets.dagster_defs.assets.{module}"), name)
            if definition not in out:
                out.append(definition)
    return out


PER_VIDEO_ASSETS = asset_definitions("per_video_job")
REVIEW_ASSETS = asset_definitions("review_job")
COHORT_ASSETS = asset_definitions("cohort_job")

#: One run per video: the whole chain in one process, so each heavy library is imported (and the pose model loaded)
#: at most once per run (and once per worker with warm run workers, ``neuropose_assets/warm.py``).
per_video_job = dg.define_asset_job(
    "per_video_job",
    selection=dg.AssetSelection.groups(PER_VIDEO),
    executor_def=dg.in_process_executor,
    description=f"{stages.chain('per_video_job')} for one video",
)
review_job = dg.define_asset_job(
    "review_job",
    selection=dg.AssetSelection.groups(REVIEW),
    executor_def=dg.in_process_executor,
    description="review_video and report for one video partition (after its outcomes)",
)
cohort_job = dg.define_asset_job(
    "cohort_job",
    selection=dg.AssetSelection.assets(*COHORT_ASSETS),
    executor_def=dg.in_process_executor,
    description="cohort_outcomes and cohort_dtw for one cohort partition",
)

intake_sensor = build_intake_sensor(per_video_job)
cohort_sensor = build_cohort_sensor(cohort_job)
review_sensor = build_review_sensor(review_job)


def pose_model_from_env() -> PoseModelResource:
    """The pose model selected by environment: ``NEUROPOSE_POSE_BACKEND`` (blazepose | metrabs), and for MeTRAbs
    ``NEUROPOSE_METRABS_VARIANT``, ``NEUROPOSE_METRABS_SHA256``, ``NEUROPOSE_MODEL_CACHE`` (the tarball / directory
    variables are read where the model is acquired)."""
    env = settings()
    kw = {"backend": env.pose_backend}
    for field in ("metrabs_variant", "metrabs_sha256", "model_cache"):
        if getattr(env, field):
            kw[field] = getattr(env, field)
    return PoseModelResource(**kw)


def build_resources(data_root: str | None = None, pose_model: PoseModelResource | None = None) -> dict:
    """Resources for a data root (default: ``$NEUROPOSE_DATA_ROOT`` or the user data directory) and pose model
    (default: :func:`pose_model_from_env`)."""
    layout = Layout(default_data_root() if data_root is None else Path(data_root))
    secure_data_root(layout)  # privacy mode: the code server and run workers create owner-only files
    return {
        "io_manager": ParquetIOManager(data_root=str(layout.root)),
        "storage": StorageResource(data_root=str(layout.root)),
        "pose_model": pose_model or pose_model_from_env(),
    }


def build_defs(data_root: str | None = None, pose_model: PoseModelResource | None = None) -> dg.Definitions:
    """The code location's definitions, bound to a data root and pose model (defaults as in
    :func:`build_resources`)."""
    return dg.Definitions(
        assets=[*PER_VIDEO_ASSETS, *REVIEW_ASSETS, *COHORT_ASSETS],
        jobs=[per_video_job, review_job, cohort_job],
        sensors=[intake_sensor, cohort_sensor, review_sensor],
        resources=build_resources(data_root, pose_model),
    )


defs = build_defs()
