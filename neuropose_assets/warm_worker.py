"""The Celery app of a warm run worker: ``celery -A neuropose_assets.warm_worker worker --pool solo -Q dagster``
(started by ``neuropose-assets ui`` and ``worker --warm``; :mod:`.warm`).

The worker registers ``dagster-celery``'s run tasks (execute and resume) on the same broker as the instance's
launcher and, once at start, imports the code location and loads the pose model, so every run it executes finds them
in memory.  Needs ``$DAGSTER_HOME`` (the instance) and the variables the code location reads.
"""

from __future__ import annotations

import time

from celery.signals import worker_ready
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from neuropose_assets.warm import app_args, poll_often

poll_often()
app = make_app(app_args())
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)


def preload() -> dict[str, float]:
    """Import the code location and load the pose model into this process (the resource caches it for the process's
    life); returns the seconds each took."""
    t0 = time.perf_counter()
    from neuropose_assets.definitions import defs

    t1 = time.perf_counter()
    defs.resources["pose_model"].get_backend()
    return {"code_location_s": t1 - t0, "pose_model_s": time.perf_counter() - t1}


@worker_ready.connect
def _warm_up(sender=None, **_kwargs) -> None:  # noqa: ARG001 - Celery's signal signature
    took = preload()
    print(f"warm worker ready: code location {took['code_location_s']:.1f} s, pose model {took['pose_model_s']:.1f} s")
