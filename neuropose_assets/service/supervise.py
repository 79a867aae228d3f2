"""The process supervisor behind ``neuropose-assets ui`` and ``worker``: the code server, daemon, guarded webserver
and warm run workers (``worker``: the warm run workers only), each in its own process group, restarted when one
stops, stopped with everything they started; what a UI that died left running is stopped first."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from neuropose_assets.core.io.storage import (
    Layout,
)
from neuropose_assets.settings import settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


#: a child that stops is started again at most this many times within :data:`RESTART_WINDOW_S`, then the UI stops
MAX_RESTARTS = 3


RESTART_WINDOW_S = 600.0


def may_restart(restarts: list[float]) -> bool:
    """Whether a stopped child may be started again: fewer than :data:`MAX_RESTARTS` restarts in the last
    :data:`RESTART_WINDOW_S` (``restarts``: their times, pruned in place; this one is recorded when allowed)."""
    now = time.time()
    restarts[:] = [t for t in restarts if now - t < RESTART_WINDOW_S]
    if len(restarts) >= MAX_RESTARTS:
        return False
    restarts.append(now)
    return True


def stop_tree(*procs: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Stop processes started in their own sessions and everything they started: SIGTERM to every group at once,
    then SIGKILL to what is left after ``grace_s`` (``dagster dev``-style servers do not always pass SIGTERM on)."""
    import signal

    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.time() + grace_s
    while time.time() < deadline and any(group_alive(p.pid) for p in procs):
        time.sleep(0.2)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def group_alive(pgid: int) -> bool:
    """Whether process group ``pgid`` still has a process (one we may not signal counts as alive)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the code server's gRPC port)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_code_server(port: int, proc: subprocess.Popen, timeout_s: float = 180.0) -> bool:
    """Whether the code server on ``port`` answers a gRPC ping within ``timeout_s`` (False as soon as ``proc``
    exits)."""
    from neuropose_assets.dagster_private import DagsterGrpcClient

    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        try:
            client.ping("ready?")
            return True
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.5)
    return False


def die_with_parent() -> None:
    """``preexec_fn`` of the UI's children: the kernel sends them SIGTERM when the UI process dies, even by SIGKILL
    (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere the next ``ui`` stops the orphans, :func:`stop_orphans`)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def stop_orphans(home: Path, out=print) -> int:
    """Stop what a ``neuropose-assets ui`` that died (SIGKILL, a crash) left running on the instance in ``home``
    (:func:`~neuropose_assets.health.ui_orphans`: its code server with the run workers it started, daemon, webserver):
    SIGTERM to each process group, SIGKILL after 10 s.  Returns how many processes were stopped."""
    import json
    import signal

    import psutil

    from neuropose_assets.health import UI_FILE, ui_orphans

    try:
        record = json.loads((home / UI_FILE).read_text())
    except (OSError, ValueError):
        return 0
    stopped = 0
    for pgid, procs in ui_orphans(home, record).items():
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            _, alive = psutil.wait_procs(procs, timeout=10)
            if not alive:
                break
        stopped += len(procs)
    if stopped:
        out(
            f"stopped {stopped} process(es) left running by a UI that died (pid {record.get('pid')}): its code server, "
            "daemon, webserver and run workers; run monitoring fails and retries the runs they held"
        )
    return stopped


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (as uvicorn binds it, with ``SO_REUSEADDR``)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def warm_worker_command(name: str) -> list[str]:
    """The command of one warm run worker (:mod:`neuropose_assets.warm`): a Celery worker with the solo pool (a run
    executes in the worker's own process, which keeps the code location and the pose model loaded), taking runs from
    the instance's queue, named ``<name>@<host>``; no gossip, mingle or heartbeat (the runs' pids are checked
    instead)."""
    from neuropose_assets.warm import QUEUE

    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "neuropose_assets.warm_worker",
        "worker",
        "--pool",
        "solo",
        "-Q",
        QUEUE,
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--loglevel",
        "WARNING",
    ]


def warm_worker_plan(
    prefix: str,
    backend: str,
    *,
    nworkers: int | None = None,
    slots: int | None = None,
    gpus: int | None = None,
    visible_devices: str | None = None,
) -> dict[str, tuple[dict[str, str], list[str]]]:
    """The warm run workers a host starts: ``{name: (environment overrides, command)}``, names ``<prefix>-<n>``.

    * ``nworkers`` given: that many workers (0: none — the UI host of a cluster whose runs go to other hosts).
    * MeTRAbs on ``gpus`` ≥ 1 GPUs (default: :func:`~neuropose_assets.core.io.concurrency.gpu_count`): one worker per
      GPU, each seeing only its own (``CUDA_VISIBLE_DEVICES`` = that entry of ``visible_devices`` — default
      ``$CUDA_VISIBLE_DEVICES`` — or its index), named ``<prefix>-gpu<id>``.
    * Otherwise ``slots`` workers (default: :func:`~neuropose_assets.core.io.concurrency.pose_slots`, one per core for
      BlazePose), the pose slots of the host.

    Raises:
        ValueError: ``nworkers`` < 0, or a bad ``$NEUROPOSE_POSE_SLOTS``.
    """
    from neuropose_assets.core.io.concurrency import gpu_count, pose_slots

    if nworkers is not None and nworkers < 0:
        raise ValueError(f"nworkers must be 0 or more, not {nworkers}")
    if nworkers is None and backend == "metrabs":
        gpus = gpu_count() if gpus is None else gpus
        if gpus:
            visible = settings().cuda_visible_devices if visible_devices is None else visible_devices
            ids = [v.strip() for v in (visible or "").split(",") if v.strip()][:gpus] or [str(i) for i in range(gpus)]
            return {
                f"{prefix}-gpu{g}": ({"CUDA_VISIBLE_DEVICES": g}, warm_worker_command(f"{prefix}-gpu{g}")) for g in ids
            }
    n = nworkers if nworkers is not None else (slots or pose_slots(backend, gpus=gpus)[0])
    return {f"{prefix}-{i}": ({}, warm_worker_command(f"{prefix}-{i}")) for i in range(1, n + 1)}


def serve_ui(layout: Layout, home: Path, *, host: str, port: int, allowed_hosts: list[str]) -> int:
    """Run the UI's process tree on the instance in ``home`` until a signal (see :func:`run_ui`, which holds the data
    root's UI lock); returns the process exit code."""
    import json
    import signal

    from dagster import DagsterInstance

    from neuropose_assets.core.io.atomic import atomic_write_bytes
    from neuropose_assets.health import UI_FILE
    from neuropose_assets.instance import apply_pose_slots

    stop_orphans(home)  # what a UI that died (kill -9, a crash) left behind holds the ports and the pose slots
    if not port_free(host, port):
        print(f"error: {host}:{port} is in use by another program; stop it or choose another --port", file=sys.stderr)
        return 2
    try:
        with DagsterInstance.get() as instance:
            slots, why = apply_pose_slots(instance)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"pose estimations at once (pool pose_model): {slots} — {why}")
    if host not in LOOPBACK:
        print(
            f"WARNING: the Dagster UI has no authentication. Bound to {host}, anyone who can reach port "
            f"{port} can read every output and start or stop runs. Keep the default 127.0.0.1 and reach it "
            "through an SSH tunnel (ssh -L 3000:127.0.0.1:3000 server), or put it behind a reverse proxy that "
            "authenticates (e.g. nginx with SSO or basic auth; pass its name with --allowed-host).",
            file=sys.stderr,
        )
    grpc_port = free_port()
    workspace = home / "ui_workspace.yaml"
    atomic_write_bytes(
        workspace,
        (
            f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
            "      location_name: neuropose_assets\n"
        ).encode(),
    )
    py = sys.executable
    commands = {
        "code server": [
            py,
            "-m",
            "dagster",
            "code-server",
            "start",
            "-m",
            "neuropose_assets.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(grpc_port),
            "--location-name",
            "neuropose_assets",
            "--log-level",
            "warning",
        ],
        "daemon": [py, "-m", "dagster._daemon", "run", "-w", str(workspace)],
        "webserver": [
            py,
            "-m",
            "neuropose_assets.webserver",
            "--workspace",
            str(workspace),
            "--host",
            host,
            "--port",
            str(port),
            *(f"--allowed-host={h}" for h in allowed_hosts),
        ],
    }
    envs: dict[str, dict[str, str]] = {}
    if settings().run_workers == "warm":
        plan = warm_worker_plan("run", settings().pose_backend, nworkers=settings().local_run_workers, slots=slots)
        for worker, (env, cmd) in plan.items():
            commands[f"run worker {worker.removeprefix('run-')}"] = cmd
            envs[f"run worker {worker.removeprefix('run-')}"] = env
        print(
            f"{len(plan)} warm run worker(s) on this host: per-video runs execute in them, the pose model loaded once "
            "each" + ("" if plan else "; runs wait for `neuropose-assets worker` hosts")
        )
    print(f"DAGSTER_HOME={settings().dagster_home} NEUROPOSE_DATA_ROOT={layout.root}")
    procs: dict[str, subprocess.Popen] = {}
    restarts: list[float] = []
    started = time.time()

    def start(name: str) -> None:
        procs[name] = subprocess.Popen(
            commands[name],
            cwd=home,
            env={**os.environ, **envs[name]} if name in envs else None,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )

    def record() -> None:  # where the UI listens and its process groups: `health` and the next UI read it
        atomic_write_bytes(
            home / UI_FILE,
            json.dumps(
                {
                    "host": host,
                    "port": port,
                    "pid": os.getpid(),
                    "started": started,
                    "children": {n: {"pid": p.pid, "pgid": p.pid} for n, p in procs.items()},
                }
            ).encode(),
        )

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGINT too: a background start may ignore it
        signal.signal(sig, stop)
    try:
        start("code server")
        record()
        if not wait_for_code_server(grpc_port, procs["code server"]):
            print("error: the code server did not start (see its output above)", file=sys.stderr)
            return 1
        for name in [n for n in commands if n != "code server"]:  # the daemon, the webserver, warm run workers
            start(name)
        record()
        print(f"Dagster UI on http://{host}:{port} (Ctrl-C stops the UI, the daemon and the code server)")
        while True:
            for name, proc in list(procs.items()):
                if proc.poll() is None:
                    continue
                if not may_restart(restarts):
                    print(
                        f"the {name} stopped (exit code {proc.returncode}) after {MAX_RESTARTS} restarts in "
                        f"{RESTART_WINDOW_S / 60:.0f} min; stopping the others",
                        file=sys.stderr,
                    )
                    return proc.returncode or 1
                print(f"the {name} stopped (exit code {proc.returncode}); starting it again", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # what it started (a code server's run workers) goes too
                start(name)
                if name == "code server" and not wait_for_code_server(grpc_port, procs[name]):
                    print("error: the code server did not start again", file=sys.stderr)
                    return 1
                record()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the UI, the daemon, the code server and their runs ...", file=sys.stderr)
        return 0
    finally:
        stop_tree(*procs.values())
        with contextlib.suppress(FileNotFoundError):
            (home / UI_FILE).unlink()


def run_ui(layout: Layout, *, host: str, port: int, allowed_hosts: list[str]) -> int:
    """The Dagster UI and daemon, as ``dagster dev`` runs them, but with the webserver behind
    :class:`~neuropose_assets.webserver.SameOriginGuard`: a code server (loads the definitions once, launches the
    run workers), the daemon (sensors, run queue, monitoring, retries) and the guarded webserver, each in its own
    process group so that SIGTERM / Ctrl-C stops everything they started.

    Supervision: one UI per data root (a lock under the instance); the children die with the UI even when it is
    killed (:func:`die_with_parent`), and a new UI first stops whatever a dead one left running
    (:func:`stop_orphans`); a child that stops is restarted (at most :data:`MAX_RESTARTS` times in
    :data:`RESTART_WINDOW_S`), so a killed daemon does not stall the intake; the web port is checked before anything
    is started or rewritten.  Returns the process exit code (0 stopped by a signal, 1 a child could not be kept
    running, 2 another UI holds the data root, the port is taken or the pose slots are invalid)."""
    import json

    from filelock import FileLock, Timeout

    from neuropose_assets.health import UI_FILE
    from neuropose_assets.instance import ensure_dagster_home

    home = ensure_dagster_home(layout)
    lock = FileLock(str(home / "ui.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            rec = json.loads((home / UI_FILE).read_text())
            where = f" (pid {rec['pid']}, http://{rec['host']}:{rec['port']})"
        except (OSError, ValueError, KeyError):
            where = ""
        print(
            f"error: a neuropose-assets ui is already running on this data root{where}; stop it first (Ctrl-C or "
            "kill its pid), or use it",
            file=sys.stderr,
        )
        return 2
    try:
        return serve_ui(layout, home, host=host, port=port, allowed_hosts=allowed_hosts)
    finally:
        lock.release()


def run_warm_workers(layout: Layout, *, nworkers: int | None = None, name: str | None = None) -> int:
    """Take per-video runs from the instance's queue on this host (:mod:`neuropose_assets.warm`): ``nworkers`` warm
    run workers (default: this host's pose slots; MeTRAbs: one per GPU, :func:`warm_worker_plan`), named
    ``<name or host>-<i>@<host>``, each with the code location and the pose model loaded, until SIGTERM / Ctrl-C; a
    worker that stops is started again (at most :data:`MAX_RESTARTS` times in :data:`RESTART_WINDOW_S`).  The instance
    (``$DAGSTER_HOME``, the same path on every host) and its PostgreSQL (``$NEUROPOSE_POSTGRES_URL``) must be the UI
    host's.  Returns the exit code (0 stopped by a signal, 1 a worker could not be kept running, 2 nothing to start)."""
    import signal
    import socket

    env = settings()
    if env.postgres_url is None:
        print(
            "warning: the instance is SQLite under the data root; with workers on several hosts use PostgreSQL "
            "($NEUROPOSE_POSTGRES_URL, set on every host)",
            file=sys.stderr,
        )
    try:
        plan = warm_worker_plan(name or socket.gethostname(), env.pose_backend, nworkers=nworkers)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not plan:
        print("error: no worker to start (--nworkers 0)", file=sys.stderr)
        return 2
    child_env = {**os.environ, "NEUROPOSE_RUN_WORKERS": "warm", "DAGSTER_HOME": str(layout.dagster_home)}

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    procs: dict[str, subprocess.Popen] = {}
    restarts: list[float] = []
    print(
        f"{len(plan)} warm run worker(s) ({env.pose_backend}: {', '.join(plan)}) taking runs of the instance at "
        f"{layout.dagster_home}",
        flush=True,
    )

    def start(label: str) -> subprocess.Popen:
        extra, cmd = plan[label]
        return subprocess.Popen(cmd, env={**child_env, **extra}, start_new_session=True, preexec_fn=die_with_parent)

    try:
        for label in plan:
            procs[label] = start(label)
        while True:
            for label, proc in list(procs.items()):
                if proc.poll() is None:
                    continue
                if not may_restart(restarts):
                    print(f"run worker {label} keeps stopping (exit code {proc.returncode})", file=sys.stderr)
                    return proc.returncode or 1
                print(f"run worker {label} stopped (exit code {proc.returncode}); starting it again", file=sys.stderr)
                procs[label] = start(label)
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        stop_tree(*procs.values(), grace_s=20)
