"""The instance's run launcher: Dagster's default launcher, plus the run-worker health check that run monitoring
needs to recover runs whose worker died with its daemon, code server or UI.

Dagster's :class:`~dagster.DefaultRunLauncher` (run workers started by the code server) cannot tell whether a run's
worker is alive, so Dagster's run-monitoring daemon never checks STARTED runs (``supports_check_run_worker_health``
is ``False``): when the code server dies with its workers (``kill -9`` of the daemon or of ``neuropose-assets ui``,
whose restart stops the orphans), their runs stay STARTED until ``max_runtime_seconds`` (6 h) and keep their
``pose_model`` pool slots.  :class:`MonitoredRunLauncher` answers the health check from what every run records:

* a run worker started by the code server or ``dagster api execute_run`` reports ``Started process for run (pid:
  N)`` before the run starts (``dagster/_grpc/impl.py``, ``dagster/_cli/api.py``);
* a run executed inside another process (``neuropose-assets run``, ``backfill --in-process``) carries the tags
  :data:`PID_TAG` and :data:`HOST_TAG` (:func:`process_tags`).

The worker is alive when a process with that pid exists on this host, is not a zombie, and was created before the
run recorded it (so a recycled pid is not mistaken for the worker) — :mod:`psutil`.  A dead worker is ``FAILED``;
Dagster's monitoring then marks the run failed, which frees its pool slots
(``run_monitoring.free_slots_after_run_end_seconds``) and lets ``run_retries`` start it again.  A run whose worker
on another host is judged by that worker's heartbeat file (:func:`write_heartbeat`, written by warm run workers
into the shared ``$DAGSTER_HOME``): silent for :data:`SILENT_S` → ``FAILED`` (its host went down or was cut off).  A
run that records no worker, or whose remote worker writes no heartbeat, is reported ``RUNNING`` (it cannot be judged
from here; the run timeout still applies).

Configured in ``dagster.yaml``::

    run_launcher:
      module: neuropose_assets.run_launcher
      class: MonitoredRunLauncher

This module is imported by the daemon and the webserver: it imports nothing heavy.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from dagster import DagsterEventType, DefaultRunLauncher

from neuropose_assets.dagster_private import CheckRunHealthResult, WorkerStatus

#: tags of a run executed inside a long-lived process (not by a run worker of its own)
PID_TAG = "neuropose/worker_pid"
HOST_TAG = "neuropose/worker_host"
_STARTED = "Started process for run (pid: "
#: a worker process is accepted when it was created at most this long after the run recorded it (clock rounding), s
_CLOCK_SLACK_S = 2.0
#: warm run workers' heartbeat files, under ``$DAGSTER_HOME`` (shared by every host)
HEARTBEAT_DIR = "run_workers"
#: a warm run worker writes its heartbeat this often, s
HEARTBEAT_S = 5.0
#: a worker on another host whose heartbeat is older than this is taken for dead, s (hosts' clocks must agree to a
#: few seconds: NTP)
SILENT_S = 60.0


def process_tags() -> dict[str, str]:
    """Tags that let run monitoring tell whether this process, which executes a run in-process, is still alive."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def worker_name() -> str | None:
    """``"<Celery node> (<host> pid <pid>)"`` inside a warm run worker (:mod:`neuropose_assets.warm`), else ``None``:
    recorded in the ``poses`` metadata, so an operator sees which host estimated a video."""
    import sys

    if "celery" not in sys.modules:
        return None
    from celery import current_task

    if current_task and current_task.request.hostname:
        return f"{current_task.request.hostname} ({socket.gethostname()} pid {os.getpid()})"
    return None


def heartbeat_file(dagster_home: str | Path, host: str, pid: int | str) -> Path:
    """The heartbeat file of the worker process ``pid`` on ``host``."""
    return Path(dagster_home) / HEARTBEAT_DIR / f"{host}-{pid}.json"


def write_heartbeat(dagster_home: str | Path, node: str) -> Path:
    """Record (atomically) that this process, the warm run worker ``node`` (Celery's ``name@host``), is alive now:
    ``{"node", "host", "pid", "beat"}`` (``beat``: s since the epoch).  Returns the file."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    path = heartbeat_file(dagster_home, socket.gethostname(), os.getpid())
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"node": node, "host": socket.gethostname(), "pid": os.getpid(), "beat": time.time()}
    atomic_write_bytes(path, json.dumps(record).encode())
    return path


def read_heartbeats(dagster_home: str | Path, *, now: float | None = None) -> list[dict]:
    """Every warm run worker's last heartbeat, each with ``age_s`` (s since it was written) — the files a stopped
    worker removed are gone, a dead host's stay and age."""
    now = time.time() if now is None else now
    out = []
    for path in sorted((Path(dagster_home) / HEARTBEAT_DIR).glob("*.json")):
        try:
            record = json.loads(path.read_text())
            out.append({**record, "age_s": now - float(record["beat"])})
        except (OSError, ValueError, KeyError, TypeError):  # being replaced, or a foreign file: not a heartbeat
            continue
    return out


def clear_dead_heartbeats(dagster_home: str | Path) -> list[Path]:
    """Remove the heartbeat files of this host's workers that no longer run (what a crash or a reboot of this host
    left; a worker that stops normally removes its own).  Returns the files removed."""
    import psutil

    host = socket.gethostname()
    gone = [
        p
        for p in (Path(dagster_home) / HEARTBEAT_DIR).glob(f"{host}-*.json")
        if p.stem.rsplit("-", 1)[-1].isdigit() and not psutil.pid_exists(int(p.stem.rsplit("-", 1)[-1]))
    ]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def worker_alive(pid: int, recorded_at: float) -> bool:
    """A process ``pid`` exists on this host, is not a zombie, and was created no later than ``recorded_at`` (the
    time, s since the epoch, at which the run recorded it as its worker)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and proc.create_time() <= recorded_at + _CLOCK_SLACK_S
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


class WorkerHealth:
    """The run-worker health check of a launcher whose runs record their worker's pid (module docstring); mixed into
    :class:`MonitoredRunLauncher` and :class:`neuropose_assets.warm.WarmRunLauncher` (``self._instance`` is the
    launcher's instance)."""

    def __init__(self) -> None:
        self._workers: dict[str, tuple[int, float] | None] = {}  # run id -> (pid, recorded at), found once

    @property
    def supports_check_run_worker_health(self) -> bool:
        """``True``: this launcher answers :meth:`check_run_worker_health`, so run monitoring checks STARTED runs."""
        return True

    def _worker(self, run) -> tuple[int, float] | None:
        """``(pid, time recorded)`` of the run's worker on this host, or ``None`` if it has none to check here."""
        if run.run_id in self._workers:
            return self._workers[run.run_id]
        found = None
        if PID_TAG in run.tags:
            if run.tags.get(HOST_TAG) == socket.gethostname():
                record = self._instance.get_run_record_by_id(run.run_id)
                found = (int(run.tags[PID_TAG]), record.create_timestamp.timestamp()) if record else None
        else:
            for entry in self._instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
                event = entry.dagster_event
                pid = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
                if pid is not None and (event.message or "").startswith(_STARTED):
                    found = (int(pid.value), entry.timestamp)
        if found is not None:  # an in-flight run without its event yet is looked up again next time
            self._workers[run.run_id] = found
        return found

    def _remote_worker(self, run) -> CheckRunHealthResult | None:
        """A run executing on another host: ``FAILED`` when its worker's heartbeat is older than :data:`SILENT_S`,
        ``RUNNING`` while it is fresh, ``None`` without one."""
        host, pid = run.tags.get(HOST_TAG), run.tags.get(PID_TAG)
        if not host or not pid or host == socket.gethostname():
            return None
        try:
            record = json.loads(heartbeat_file(self._instance.root_directory, host, pid).read_text())
            age = time.time() - float(record["beat"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if age <= SILENT_S:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker {record.get('node')} beat {age:.0f} s ago")
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run's worker {record.get('node')} (host {host}, pid {pid}) has been silent for {age:.0f} s: its host "
            "went down or was cut off",
        )

    def worker_health(self, run) -> CheckRunHealthResult | None:
        """``RUNNING`` while the run's worker process is alive, ``FAILED`` once it is gone (or, on another host, its
        heartbeat went silent), ``None`` when the run has no worker process to check (not started yet, or on another
        host without a heartbeat)."""
        worker = self._worker(run)
        if worker is None:
            return self._remote_worker(run)
        pid, recorded_at = worker
        if worker_alive(pid, recorded_at):
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker process {pid} is alive")
        self._workers.pop(run.run_id, None)
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"the run's worker process {pid} is gone (killed, or it died with the daemon, the code server or the UI)",
        )


class MonitoredRunLauncher(WorkerHealth, DefaultRunLauncher):
    """:class:`~dagster.DefaultRunLauncher` whose runs run monitoring can check (module docstring)."""

    def __init__(self, inst_data=None) -> None:
        DefaultRunLauncher.__init__(self, inst_data=inst_data)
        WorkerHealth.__init__(self)

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        """``RUNNING`` while the run's worker process is alive (or when it has none to check on this host),
        ``FAILED`` once it is gone."""
        verdict = self.worker_health(run)
        if verdict is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no worker process on this host to check")
        return verdict
