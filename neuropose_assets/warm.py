"""Warm run workers: every per-video run executes inside a long-lived Celery worker process that imported the code
location and loaded the pose model once, through Dagster's own ``dagster-celery`` run launcher.

Why: with Dagster's default launcher every run starts a fresh interpreter that imports dagster, the code location,
polars, pandera, OpenCV and MediaPipe and loads the pose model again (2.7–4.3 s measured per run, more than pose
estimation for a short clip).  ``dagster_celery.CeleryRunLauncher`` sends each run as a Celery task; a worker executes
it with Dagster's own run body (``_execute_run_command_body``: the same events, checks and materializations as a
fresh run worker), in its own process, which stays alive for the next run.

* **Broker without a server.**  Celery's broker and result backend live in the database the instance already uses:
  SQLite files under ``$DAGSTER_HOME`` on one workstation (kombu's SQLAlchemy transport, Celery's database result
  backend), the instance's PostgreSQL when ``$NEUROPOSE_POSTGRES_URL`` is set — so workers on other hosts take runs
  from the same queue with nothing more to run or open.
* **One worker per pose slot**, each a ``--pool solo`` Celery worker (the run executes in the worker's main process:
  no fork, nothing re-imported); ``ui`` starts and supervises them like the daemon, ``neuropose-assets worker``
  starts them on another host (MeTRAbs: one per GPU, each seeing only its own).
* **Health.**  A worker killed mid-run is found by the pid its run recorded (``Started process for run (pid: N)``,
  :class:`~neuropose_assets.run_launcher.WorkerHealth`): run monitoring fails the run and ``run_retries`` starts it
  again on a live worker; the supervisor replaces the dead worker.  A worker on another host is judged by its
  heartbeat file in the shared ``$DAGSTER_HOME`` (:func:`~neuropose_assets.run_launcher.write_heartbeat`): a host
  that went down or was cut off is silent, and its run fails after :data:`~neuropose_assets.run_launcher.SILENT_S`
  and is retried elsewhere.  A task still queued is judged by Celery's state.

Configured in the instance's ``dagster.yaml`` by :func:`neuropose_assets.instance.instance_yaml` (``run_launcher:
module: neuropose_assets.warm, class: WarmRunLauncher``).  Imported by the daemon and the webserver: it imports
Celery (light), never the code location or a pose model.
"""

from __future__ import annotations

from pathlib import Path

from dagster_celery.launcher import CeleryRunLauncher

from neuropose_assets.run_launcher import WorkerHealth
from neuropose_assets.settings import settings

#: the Celery queue of per-video runs
QUEUE = "dagster"
#: how often a worker polls the broker for a run, s (kombu's SQLAlchemy transport polls; its default, 1 s, would add
#: up to a second to every run's start; the transport passes its options to ``create_engine``, so this is set on the
#: transport class by :func:`poll_often`)
POLL_S = 0.1
#: Celery settings shared by the launcher and the workers: a worker takes one run at a time and no run ahead of it
#: (a run waiting in a busy worker's prefetch buffer could not go to a free worker)
CELERY_CONFIG = {
    "worker_prefetch_multiplier": 1,
    "task_acks_late": False,
    "broker_connection_retry_on_startup": True,
    "worker_hijack_root_logger": False,
    "result_expires": 7 * 24 * 3600,
}


def poll_often() -> None:
    """Make this process's SQL broker connections poll every :data:`POLL_S` (a worker's, before it consumes)."""
    from kombu.transport import sqlalchemy

    sqlalchemy.Transport.polling_interval = POLL_S


def celery_urls(dagster_home: str | Path | None = None) -> tuple[str, str]:
    """``(broker, result backend)`` URLs: the instance's PostgreSQL (``$NEUROPOSE_POSTGRES_URL``) or SQLite files in
    ``dagster_home`` (default ``$DAGSTER_HOME``)."""
    pg = settings().postgres_url
    if pg:
        url = pg.split("://", 1)[1]
        return f"sqla+postgresql://{url}", f"db+postgresql://{url}"
    home = Path(dagster_home or settings().dagster_home).resolve()
    return f"sqla+sqlite:///{home / 'celery-broker.db'}", f"db+sqlite:///{home / 'celery-results.db'}"


def app_args(dagster_home: str | Path | None = None) -> dict:
    """The Celery app's arguments (broker, backend, default queue and :data:`CELERY_CONFIG`), the same in the
    launcher and in every worker."""
    broker, backend = celery_urls(dagster_home)
    return {"broker": broker, "backend": backend, "config_source": CELERY_CONFIG, "task_default_queue": QUEUE}


def import_run_modules() -> None:
    """Import into this process what a run would import on its first use: every module of
    :mod:`neuropose_assets.core` (the science the assets import inside their functions; none imports TensorFlow,
    MediaPipe or matplotlib at module level) and the data contracts (:mod:`data_contracts`, pandera: ~0.5 s).
    A warm worker calls it once at start, so that its first video does not pay them."""
    import importlib
    import pkgutil

    import neuropose_assets.core as core

    importlib.import_module("data_contracts")
    for module in pkgutil.walk_packages(core.__path__, f"{core.__name__}."):
        importlib.import_module(module.name)


class WarmRunLauncher(WorkerHealth, CeleryRunLauncher):
    """``dagster_celery.CeleryRunLauncher`` on the instance's own database, with the pid-based worker health check
    (module docstring).  No configuration: the broker follows the instance's storage."""

    def __init__(self, inst_data=None) -> None:
        args = app_args()
        CeleryRunLauncher.__init__(
            self,
            default_queue=QUEUE,
            broker=args["broker"],
            backend=args["backend"],
            config_source=CELERY_CONFIG,
            inst_data=inst_data,
        )
        WorkerHealth.__init__(self)

    @classmethod
    def config_type(cls) -> dict:
        """No configuration (module docstring)."""
        return {}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> WarmRunLauncher:  # noqa: ARG003
        """The launcher of the instance's ``dagster.yaml`` entry."""
        return cls(inst_data=inst_data)

    def check_run_worker_health(self, run):
        """A run whose worker process is known on this host: alive → ``RUNNING``, gone → ``FAILED``
        (:class:`~neuropose_assets.run_launcher.WorkerHealth`); otherwise Celery's state of its task."""
        verdict = self.worker_health(run)
        if verdict is not None:
            return verdict
        return CeleryRunLauncher.check_run_worker_health(self, run)
