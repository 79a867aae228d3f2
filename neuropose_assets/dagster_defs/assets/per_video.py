"""The per-video run's fused steps (:mod:`neuropose_assets.dagster_defs.steps`): ``intake`` before the pose model,
``analysis`` after it — with ``poses`` (its own step: the pose-model pool and its retries) three steps per run.
Which stage belongs to which step is listed once, in :data:`neuropose_assets.stages.STEPS`."""

import importlib

from neuropose_assets import stages
from neuropose_assets.dagster_defs.common import TRANSIENT_RETRY
from neuropose_assets.dagster_defs.steps import fused_step


def _parts(step: str) -> list:
    """The :class:`..steps.Part` of every stage of ``step``, in :data:`~neuropose_assets.stages.STEPS`' order (a
    multi-output stage once)."""
    out: list = []
    for asset in stages.STEPS[step]:
        s = stages.stage(asset)
        p = getattr(importlib.import_module(f"neuropose_assets.dagster_defs.assets.{s.defs}"), s.function)
        if p not in out:
            out.append(p)
    return out


intake = fused_step(
    "intake",
    _parts("intake"),
    # raw_video copies the file: a network share's hiccup is retried (bad input fails once, with its message)
    retry_policy=TRANSIENT_RETRY,
    description="Registers the video (raw_video), its declared task (task) and a marker file's events "
    "(reference_events): one step.",
)
analysis = fused_step(
    "analysis",
    _parts("analysis"),
    description="Everything after the pose model, in one step: the model fit (kinematics), features, events and "
    "repetitions, outcomes, repetition DTW and the OpenSim export.",
)
