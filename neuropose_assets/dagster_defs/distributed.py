"""Many machines: per-video runs on a dask.distributed cluster, through Dagster's own ``dagster-dask`` executor.

Why dask (and not ``dagster-k8s`` / ``dagster-celery``): a dask worker is a long-lived process, so the pose model is
loaded once per worker (the preload below) instead of once per step or pod; dask's worker *resources* keep pose
estimation at one per core / GPU on every host; and one executor reaches a workstation (``dask worker``), an HPC
queue (``dask-jobqueue``'s ``SLURMCluster``) and Kubernetes (``dask-kubernetes``) without a message broker.

* ``$NEUROPOSE_DASK_SCHEDULER`` (e.g. ``tcp://10.0.0.5:8786``) set where the definitions load (code server, run
  workers) switches ``per_video_job`` to the dask executor on that scheduler.  Unset: the in-process executor (one
  machine, the default).  The review and cohort jobs stay in-process in the run worker: they are light.
* Every step of a per-video run is a dask task.  ``poses`` asks for one unit of the worker resource ``POSE``;
  ``neuropose-assets worker`` starts workers that each hold one (:func:`worker_command`), so a worker estimates one
  video at a time and a host runs at most as many as it has pose slots (:func:`~neuropose_assets.core.io.concurrency.
  pose_slots`).  Dagster's ``pose_model`` pool is *not* consulted by this executor; the dask resource replaces it.
* The data root and ``$DAGSTER_HOME`` must be the same path on every host (a shared file system), and the instance
  should be on PostgreSQL (``$NEUROPOSE_POSTGRES_URL``, also set on the workers): steps write their events from the
  worker hosts.

This module imports neither dask nor dagster-dask unless the scheduler variable is set.
"""

from __future__ import annotations

import json
import os
import socket
import sys

from neuropose_assets.settings import settings

SCHEDULER_ENV = "NEUROPOSE_DASK_SCHEDULER"
#: the dask worker resource a pose estimation holds (one unit per estimation)
POSE_RESOURCE = "POSE"
#: dagster-dask reads a step's dask resource requirements from this op tag (``DASK_RESOURCE_REQUIREMENTS_KEY``)
POSES_OP_TAGS = {"dagster-dask/resource_requirements": json.dumps({POSE_RESOURCE: 1})}


def per_video_executor():
    """dagster-dask's executor on the scheduler at ``$NEUROPOSE_DASK_SCHEDULER`` when it is set
    (:mod:`.dask_executor`: fixed for a cluster shared by concurrent runs), else Dagster's in-process executor (the
    whole run in its run worker: each heavy library imported once per run)."""
    import dagster as dg

    if not settings().dask_scheduler:
        return dg.in_process_executor
    from neuropose_assets.dagster_defs.dask_executor import shared_dask_executor

    return shared_dask_executor.configured({"address": {"env": SCHEDULER_ENV}}, name="dask")


def worker_name() -> str | None:
    """``"<worker name> (<host> pid <pid>)"`` inside a dask worker or a warm run worker (its Celery node name,
    ``<name>@<host>``), else ``None``: recorded in the ``poses`` metadata, so an operator sees which host estimated a
    video."""
    if "celery" in sys.modules:
        from celery import current_task

        if current_task and current_task.request.hostname:
            return f"{current_task.request.hostname} ({socket.gethostname()} pid {os.getpid()})"
    if "distributed" not in sys.modules:
        return None
    from distributed import get_worker

    try:
        w = get_worker()
    except ValueError:  # not inside a worker
        return None
    return f"{w.name} ({socket.gethostname()} pid {os.getpid()})"


def worker_command(
    scheduler: str, *, nworkers: int, name: str | None = None, python: str = sys.executable
) -> list[str]:
    """The ``dask worker`` command line for a host: ``nworkers`` processes of one thread each (Dagster steps are not
    thread-safe), each holding one ``POSE`` unit and preloading the code location and pose model
    (:mod:`neuropose_assets.dagster_defs.dask_worker`)."""
    if nworkers < 1:
        raise ValueError(f"nworkers must be at least 1, not {nworkers}")
    cmd = [
        python,
        "-m",
        "distributed.cli.dask_worker",
        scheduler,
        "--nworkers",
        str(nworkers),
        "--nthreads",
        "1",
        "--resources",
        f"{POSE_RESOURCE}=1",
        "--preload",
        "neuropose_assets.dagster_defs.dask_worker",
        "--no-dashboard",
    ]
    if name:
        cmd += ["--name", name]
    return cmd


def worker_plan(
    scheduler: str,
    *,
    backend: str,
    nworkers: int | None = None,
    name: str | None = None,
    gpus: int | None = None,
    visible_devices: str | None = None,
) -> list[tuple[dict[str, str], list[str]]]:
    """The worker processes a host starts, as ``(environment overrides, command)`` pairs.

    * ``nworkers`` given: one ``dask worker`` with that many processes.
    * MeTRAbs on ``gpus`` ≥ 1 GPUs: one ``dask worker`` per GPU, each seeing only its own
      (``CUDA_VISIBLE_DEVICES`` = that entry of ``visible_devices``, or its index).
    * Otherwise :func:`~neuropose_assets.core.io.concurrency.pose_slots` processes (BlazePose: one per core).

    Raises:
        ValueError: ``nworkers`` < 1, or a bad ``$NEUROPOSE_POSE_SLOTS``.
    """
    from neuropose_assets.core.io.concurrency import gpu_count, pose_slots

    env = {SCHEDULER_ENV: scheduler}
    if nworkers is None and backend == "metrabs":
        gpus = gpu_count() if gpus is None else gpus
        if gpus:
            ids = [v.strip() for v in (visible_devices or "").split(",") if v.strip()] or [str(i) for i in range(gpus)]
            return [
                (
                    {**env, "CUDA_VISIBLE_DEVICES": ids[i]},
                    worker_command(scheduler, nworkers=1, name=f"{name}-gpu{ids[i]}" if name else None),
                )
                for i in range(gpus)
            ]
    n = nworkers if nworkers is not None else pose_slots(backend, gpus=gpus)[0]
    return [(env, worker_command(scheduler, nworkers=n, name=name))]
