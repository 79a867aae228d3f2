"""The Celery app of a warm run worker: ``celery -A neuropose_assets.warm_worker worker --pool solo -Q dagster``
(started by ``neuropose-assets ui`` and ``worker``; :mod:`.warm`).

The worker registers ``dagster-celery``'s run tasks (execute and resume) on the same broker as the instance's
launcher and, once at start, imports the code location and loads the pose model, so every run it executes finds them
in memory.  Needs ``$DAGSTER_HOME`` (the instance) and the variables the code location reads.
"""

from __future__ import annotations

import threading
import time
from contextlib import suppress

from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_execute_job_task, create_resume_job_task

from neuropose_assets.warm import app_args, poll_often

poll_often()
app = make_app(app_args())
execute_job = create_execute_job_task(app)
resume_job = create_resume_job_task(app)


def preload() -> dict[str, float]:
    """Import the code location and what its runs import on first use
    (:func:`~neuropose_assets.warm.import_run_modules`, the instance's storage), load the pose model (the resource
    caches it for the process's life) and compile the DTW kernels into this process; returns the seconds each took."""
    t0 = time.perf_counter()
    from dagster import DagsterInstance

    from neuropose_assets.core.comparison.dtw import warm_up
    from neuropose_assets.core.io.storage import default_cache_dir
    from neuropose_assets.definitions import defs
    from neuropose_assets.warm import import_run_modules

    import_run_modules()
    with DagsterInstance.get():  # the instance's storage classes (each run opens the instance again)
        pass
    t1 = time.perf_counter()
    defs.resources["pose_model"].get_backend()
    t2 = time.perf_counter()
    warm_up(default_cache_dir() / "numba")  # the cache the repetition_dtw asset uses
    return {"code_location_s": t1 - t0, "pose_model_s": t2 - t1, "dtw_s": time.perf_counter() - t2}


#: set while this worker executes a run
_IN_RUN = threading.Event()


@task_prerun.connect
def _record_worker(sender=None, kwargs=None, **_rest) -> None:  # noqa: ARG001 - Celery's signal signature
    """Tag the run this worker is about to execute with its pid and host (:func:`..run_launcher.process_tags`), so
    run monitoring judges the worker on its own host and never mistakes another host's pid for a local one."""
    from dagster import DagsterInstance

    from neuropose_assets.run_launcher import process_tags

    _IN_RUN.set()
    packed = (kwargs or {}).get("execute_job_args_packed") or (kwargs or {}).get("resume_job_args_packed")
    # Dagster's serialized ExecuteRunArgs keeps the run id under its storage name ``pipeline_run_id``
    run_id = (packed.get("pipeline_run_id") or packed.get("run_id")) if isinstance(packed, dict) else None
    if run_id:
        with DagsterInstance.get() as instance:
            instance.add_run_tags(run_id, process_tags())


def _beat(node: str, stop: threading.Event) -> None:
    """Write this worker's heartbeat every :data:`~neuropose_assets.run_launcher.HEARTBEAT_S` until ``stop`` is set
    (run monitoring on the UI host judges a run on this host by it).  An orphan stops: when the supervisor that
    started this worker (``ui`` or ``worker``) is gone, this process sends itself SIGTERM (Celery's warm shutdown) at
    the first beat outside a run — the kernel's parent-death SIGTERM is swallowed by a run in progress (Dagster
    handles interrupts while it executes, and a second one would fail the run), so the worker finishes its run and
    then stops instead of taking runs unsupervised."""
    import os
    import signal

    from neuropose_assets.run_launcher import HEARTBEAT_S, clear_dead_heartbeats, write_heartbeat
    from neuropose_assets.settings import settings

    parent = os.getppid()
    home = settings().dagster_home
    if home:
        with suppress(OSError):
            clear_dead_heartbeats(home)  # this host's workers that died before: not "silent" forever
    while not stop.is_set():
        if home:
            with suppress(OSError):  # a full or briefly unreachable shared disk: try again at the next beat
                write_heartbeat(home, node)
        if os.getppid() != parent and not _IN_RUN.is_set():
            os.kill(os.getpid(), signal.SIGTERM)
        stop.wait(HEARTBEAT_S)


_STOP_BEATING = threading.Event()


@task_postrun.connect
def _run_ended(sender=None, **_kwargs) -> None:  # noqa: ARG001 - Celery's signal signature
    _IN_RUN.clear()


@worker_ready.connect
def _warm_up(sender=None, **_kwargs) -> None:
    took = preload()
    node = getattr(sender, "hostname", None) or "warm worker"
    threading.Thread(target=_beat, args=(node, _STOP_BEATING), name="heartbeat", daemon=True).start()
    print(
        f"warm worker ready: code location {took['code_location_s']:.1f} s, pose model {took['pose_model_s']:.1f} s, "
        f"DTW {took['dtw_s']:.1f} s"
    )


@worker_shutdown.connect
def _stop_beating(sender=None, **_kwargs) -> None:  # noqa: ARG001 - Celery's signal signature
    """A worker that stops removes its heartbeat (only a dead one leaves it to age)."""
    import os
    import socket

    from neuropose_assets.run_launcher import heartbeat_file
    from neuropose_assets.settings import settings

    _STOP_BEATING.set()
    with suppress(OSError):
        heartbeat_file(settings().dagster_home, socket.gethostname(), os.getpid()).unlink()
