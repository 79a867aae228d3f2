"""How many pose estimations may run at once on this machine: the limit of the ``pose_model`` pool.

One rule, in one place (:func:`pose_slots`), applied to the instance whenever the CLI opens it
(:func:`..instance.ensure_dagster_home`) and recorded in every ``poses`` output:

* **BlazePose on the CPU**: one per core.  A bare MediaPipe loop uses about 1.2 cores (61 frames/s on the Sports2D
  sample, 56 pinned to one core, measured for the scaling issue), so one estimation per core keeps every core busy
  without oversubscribing them much;
* **MeTRAbs**: one per GPU (a pool limits how many steps run, the model fills its GPU); on a machine without a GPU,
  one (TensorFlow already uses every core for one image batch);
* **override**: ``$NEUROPOSE_POSE_SLOTS`` (a positive integer), e.g. to leave cores to other work.

Runs as a whole are limited separately (``concurrency.runs.max_concurrent_runs`` in ``dagster.yaml``); the other
steps (features, events, outcomes, checks) take no pool slot, so they run while another video's poses are estimated.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from neuropose_assets.settings import settings

POSE_POOL = "pose_model"
ENV_SLOTS = "NEUROPOSE_POSE_SLOTS"


def gpu_count() -> int:
    """NVIDIA GPUs visible to this process (``nvidia-smi -L``, honouring ``CUDA_VISIBLE_DEVICES``); 0 without a
    driver.  TensorFlow is not imported for this."""
    visible = settings().cuda_visible_devices
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    if not shutil.which("nvidia-smi"):
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    n = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    if visible:
        n = min(n, len([v for v in visible.split(",") if v.strip()]))
    return n


def pose_slots(
    backend: str, *, cores: int | None = None, gpus: int | None = None, override: str | None = None
) -> tuple[int, str]:
    """The ``pose_model`` pool limit for ``backend`` on this machine, and why (module docstring).

    Args:
        cores, gpus: the machine (default: ``os.cpu_count()``, :func:`gpu_count`).
        override: the value of ``$NEUROPOSE_POSE_SLOTS`` (default: read from the environment).
    Raises:
        ValueError: the override is not a positive integer.
    """
    override = settings().pose_slots if override is None else override
    if override:
        try:
            n = int(override)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"${ENV_SLOTS} must be a positive integer, got {override!r}")
        return n, f"${ENV_SLOTS}={n}"
    cores = cores if cores is not None else (os.cpu_count() or 1)
    if backend == "metrabs":
        gpus = gpu_count() if gpus is None else gpus
        if gpus:
            return gpus, f"MeTRAbs: one per GPU ({gpus} GPU(s))"
        return 1, "MeTRAbs on the CPU: one (TensorFlow uses every core for one batch)"
    return max(1, cores), f"BlazePose on the CPU: one per core ({cores} core(s))"
