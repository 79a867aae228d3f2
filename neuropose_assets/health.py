"""Is this installation sound?  ``neuropose-assets version`` and ``neuropose-assets health``.

``version``: the package, the pose models (names, checksums, where they are) and the key libraries, read without
importing TensorFlow or MediaPipe.

``health``: one line per check, ``ok`` / ``warn`` / ``fail``; the command exits non-zero when any check fails:

* ``data_root``: exists, writable (a file is created and removed), owner-only (no group / other permissions: it holds
  patient data; ``chmod 700``);
* ``intake``: the intake folder exists and is readable (warn when absent: nothing is delivered yet);
* ``instance``: the Dagster instance under the data root opens and answers a run query;
* ``pose_pool``: the ``pose_model`` pool's limit equals the hardware rule (:mod:`.core.io.concurrency`; warn otherwise);
* ``daemon``: with ``neuropose-assets ui`` running, the daemon process it started is alive and its heartbeat is at most
  :data:`HEARTBEAT_MAX_AGE_S` old (Dagster's 30-s heartbeat interval plus a 30-s margin; fail otherwise); processes
  left running by a UI that died fail; without a UI, a warning (headless ``run`` needs no daemon);
* ``sensors``: the last tick of every sensor succeeded or skipped (fail, with the sensor's error, while the UI runs;
  a warning otherwise);
* ``pose_model``: BlazePose's model files inside the mediapipe wheel match their pinned SHA-256; MeTRAbs, when
  installed in the cache, has the archive checksum recorded at extraction equal to the pinned one and its
  ``saved_model.pb`` / variables index fingerprint unchanged;
* ``disk``: free space on the data root's file system ≥ :data:`MIN_FREE_BYTES` and ≥ twice the intake's size (the
  store keeps a copy of every delivered file);
* ``webserver``: when ``neuropose-assets ui`` is running (its ``ui.json`` under the instance), the webserver it
  started is the one that answers on the recorded address (the guard's ``/__neuropose__/ui`` names its pid) and, when
  started on loopback, the port listens on loopback only (fail otherwise); a UI deliberately bound to another address
  warns (no authentication); without a UI, nothing may answer on the last recorded address (an orphan: fail);
* ``run_workers`` (only with ``$NEUROPOSE_RUN_WORKERS=warm`` and the UI running): every warm run worker the UI
  started is alive, and some worker takes runs — on this host or, by their heartbeats, on others (fail otherwise:
  per-video runs would wait); workers on other hosts that went silent are named (warn); this host's workers holding
  more than half of its memory, or the machine short of memory while they run, warns (each keeps a pose model).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import socket
import stat
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from neuropose_assets.core.io.storage import Layout, default_cache_dir
from neuropose_assets.settings import settings

#: SHA-256 over BlazePose GHUM 3D Full's model files inside mediapipe 0.10.21 (:data:`.pose.blazepose.MODEL_FILES`)
BLAZEPOSE_SHA256 = "babf28247ffed0a562cf02cb53d113059d41a6d5e6a23795b85603c9bdb84088"
BLAZEPOSE_FILES = ("modules/pose_detection/pose_detection.tflite", "modules/pose_landmark/pose_landmark_full.tflite")
#: Dagster's daemon heartbeat interval (``dagster/_daemon/controller.py``: 30 s) plus a margin of one interval, s
HEARTBEAT_MAX_AGE_S = 60.0
#: a UI younger than this may not have beaten yet, s
STARTUP_GRACE_S = 90.0
MIN_FREE_BYTES = 2 * 2**30
#: warm run workers of one host holding more than this share of its memory: a warning (each keeps a pose model)
WORKER_MEMORY_SHARE = 0.5
#: less than this share of the memory available while warm run workers run: a warning
MIN_AVAILABLE_SHARE = 0.1
UI_FILE = "ui.json"


@dataclass
class Check:
    """One health check: ``name``, ``status`` (``ok`` | ``warn`` | ``fail``) and what was found / what to do."""

    name: str
    status: str
    detail: str

    def as_dict(self) -> dict:
        """``{"name", "status", "detail"}`` as a dict (``neuropose-assets health --json``)."""
        return asdict(self)


def blazepose_model() -> dict:
    """BlazePose's model files in the installed mediapipe (found without importing it) and their checksum."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return {"name": "blazepose_ghum_3d", "present": False, "detail": "mediapipe is not installed"}
    root = Path(list(spec.submodule_search_locations)[0])
    missing = [rel for rel in BLAZEPOSE_FILES if not (root / rel).is_file()]
    if missing:
        return {"name": "blazepose_ghum_3d", "present": False, "detail": f"missing {', '.join(missing)} in {root}"}
    h = hashlib.sha256()
    for rel in BLAZEPOSE_FILES:
        h.update((root / rel).read_bytes())
    digest = h.hexdigest()
    return {
        "name": "blazepose_ghum_3d",
        "variant": "full",
        "present": True,
        "sha256": digest,
        "verified": digest == BLAZEPOSE_SHA256,
        "location": str(root / "modules"),
        "detail": "inside the mediapipe wheel",
    }


def metrabs_models(cache: Path | None = None) -> list[dict]:
    """MeTRAbs variants extracted in the model cache (``$NEUROPOSE_MODEL_CACHE`` or ``<cache>/models``): the archive
    SHA-256 recorded at extraction, whether it is the pinned one, and the current fingerprint of the SavedModel."""
    from neuropose_assets.core.pose.metrabs_model import MARKER, PINNED, directory_fingerprint

    cache = Path(cache or settings().model_cache or default_cache_dir() / "models")
    out = []
    for marker in sorted(cache.glob(f"*/{MARKER}")) if cache.is_dir() else []:
        meta = json.loads(marker.read_text())
        path = marker.parent / meta.get("saved_model", "")
        pinned = PINNED.get(meta.get("variant", ""), (None, None))[1]
        present = (path / "saved_model.pb").is_file()
        fingerprint = directory_fingerprint(path) if present else None
        out.append(
            {
                "name": "metrabs",
                "variant": meta.get("variant"),
                "present": present,
                "sha256": meta.get("archive_sha256"),
                "location": str(path),
                "verified": present
                and pinned is not None
                and meta.get("archive_sha256") == pinned
                and meta.get("fingerprint", fingerprint) == fingerprint,
                "detail": "archive checksum recorded at extraction" + ("" if pinned else " (variant not pinned)"),
            }
        )
    return out


def version_info() -> dict:
    """Package, models and library versions (``neuropose-assets version``)."""
    from neuropose_assets.core.pose.bench import git_commit, library_versions

    versions = library_versions()
    return {
        "package": "neuropose-assets",
        "version": versions.get("neuropose-assets"),
        "commit": git_commit(Path(__file__).resolve().parents[1]),
        "models": [blazepose_model(), *metrabs_models()],
        "libraries": versions,
    }


# ------------------------------------------------------------------------------------------------------------ health


def _data_root(layout: Layout) -> Check:
    root = layout.root
    if not root.is_dir():
        return Check(
            "data_root", "fail", f"{root} does not exist: run `neuropose-assets demo` or create it (mkdir -m 700)"
        )
    probe = root / f".health-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return Check("data_root", "fail", f"{root} is not writable ({err.strerror}); fix its owner / permissions")
    mode = stat.S_IMODE(root.stat().st_mode)
    if mode & 0o077:
        return Check(
            "data_root",
            "fail",
            f"{root} is writable but readable by others (mode {mode:o}); it holds patient data: chmod 700 {root}",
        )
    return Check("data_root", "ok", f"{root} writable, owner-only (mode {mode:o})")


def _intake(intake: Path) -> Check:
    if not intake.exists():
        return Check(
            "intake", "warn", f"{intake} does not exist yet (nothing delivered); create it or set NEUROPOSE_INTAKE"
        )
    if not os.access(intake, os.R_OK | os.X_OK):
        return Check("intake", "fail", f"{intake} is not readable by this user: the intake sensor cannot see new files")
    return Check("intake", "ok", f"{intake} readable")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    import psutil

    try:
        return psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
    except (psutil.Error, ValueError):
        return False


def _ui_record(layout: Layout) -> tuple[dict | None, bool]:
    """``(ui.json, whether its UI process is alive)``; ``(None, False)`` when no UI was recorded."""
    path = layout.dagster_home / UI_FILE
    try:
        rec = json.loads(path.read_text())
        int(rec["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, False
    return rec, _alive(rec["pid"])


def _child(rec: dict | None, name: str) -> int | None:
    return ((rec or {}).get("children") or {}).get(name, {}).get("pid")


def ui_orphans(home: Path, rec: dict | None) -> dict[int, list]:
    """Processes still running in the process groups that the UI recorded in ``rec`` (``ui.json``) started — its code
    server with the run workers it spawned, daemon, webserver — that belong to the instance in ``home`` (one of them
    has ``DAGSTER_HOME`` = ``home``, so a recycled pid is not taken for one): ``{pgid: [psutil.Process]}``.  Call it
    only when the UI process itself is gone."""
    import psutil

    groups = {int(c["pgid"]) for c in ((rec or {}).get("children") or {}).values() if "pgid" in c}
    found: dict[int, list] = {}
    for proc in psutil.process_iter():
        try:
            pgid = os.getpgid(proc.pid)
        except OSError:
            continue
        if pgid in groups and proc.pid != os.getpid():
            found.setdefault(pgid, []).append(proc)
    ours = {}
    for pgid, procs in found.items():
        for proc in procs:
            try:
                if proc.environ().get("DAGSTER_HOME") == str(home):
                    ours[pgid] = procs
                    break
            except psutil.Error:
                continue
    return ours


def _instance_and_daemon(layout: Layout, ui: dict | None, running: bool) -> list[Check]:
    if not (layout.dagster_home / "dagster.yaml").exists():
        return [
            Check(
                "instance",
                "fail",
                f"no Dagster instance under {layout.dagster_home}: run `neuropose-assets "
                "demo` or `neuropose-assets ui` once",
            ),
            Check("daemon", "warn", "no instance, no daemon"),
        ]
    import dagster as dg

    try:
        inst = dg.DagsterInstance.from_config(str(layout.dagster_home))
        n = len(inst.get_run_records(limit=1))
    except Exception as err:  # storage errors come in many types; say what happened
        return [
            Check("instance", "fail", f"the instance under {layout.dagster_home} does not open: {err}"),
            Check("daemon", "warn", "no instance, no daemon"),
        ]
    checks = [Check("instance", "ok", f"{layout.dagster_home} opens ({'runs recorded' if n else 'no runs yet'})")]
    checks.append(_pose_pool(inst))
    beats = inst.get_daemon_heartbeats() or {}
    latest = max((hb.timestamp for hb in beats.values()), default=None)
    age = time.time() - latest if latest is not None else None
    beat = f"last heartbeat {age:.0f} s ago" if age is not None else "no heartbeat recorded"
    orphans = (
        []
        if running
        else [
            f"{p.pid} ({' '.join(p.cmdline()[1:4])[:60]})"
            for procs in ui_orphans(layout.dagster_home, ui).values()
            for p in procs
            if _alive(p.pid)
        ]
    )
    if running:
        pid = _child(ui, "daemon")
        started = float(ui.get("started", 0))
        # a UI that started a moment ago may not have beaten yet; one that has beaten since and then fell silent has not
        young = time.time() - started < STARTUP_GRACE_S and (latest is None or latest < started)
        if pid is not None and not _alive(pid):
            checks.append(
                Check(
                    "daemon",
                    "fail",
                    f"the daemon the UI started (pid {pid}) is not running ({beat}): "
                    "sensors, queued runs and retries stall until the UI restarts it",
                )
            )
        elif age is not None and age <= HEARTBEAT_MAX_AGE_S:
            checks.append(Check("daemon", "ok", f"pid {pid}, heartbeat {age:.0f} s ago ({len(beats)} daemon(s))"))
        elif young:
            checks.append(
                Check(
                    "daemon",
                    "warn",
                    f"the UI started {time.time() - ui['started']:.0f} s ago; the daemon has not beaten yet ({beat})",
                )
            )
        else:
            checks.append(
                Check(
                    "daemon",
                    "fail",
                    f"the UI is running but the daemon is silent ({beat}, more than "
                    f"{HEARTBEAT_MAX_AGE_S:.0f} s): sensors, queued runs and retries "
                    "stall; restart `neuropose-assets ui`",
                )
            )
    elif orphans:
        checks.append(
            Check(
                "daemon",
                "fail",
                f"the UI recorded under {layout.dagster_home} (pid {ui['pid']}) is gone, "
                f"but processes it started still run: {'; '.join(orphans)} ({beat}); "
                "they may hold pose slots and ports: start `neuropose-assets ui` again "
                "(it stops them first) or kill them",
            )
        )
    elif age is not None and age <= HEARTBEAT_MAX_AGE_S:
        checks.append(
            Check(
                "daemon",
                "warn",
                f"a daemon beats ({beat}) but no `neuropose-assets ui` is running: started by hand (dagster dev)?",
            )
        )
    else:
        checks.append(
            Check(
                "daemon",
                "warn",
                "no daemon running (start `neuropose-assets ui` for the intake sensor, "
                "queued runs and retries; headless `run` does not need it)",
            )
        )
    checks.append(_sensors(inst, running))
    inst.dispose()
    return checks


def _sensors(inst, running: bool) -> Check:
    """The last tick of every sensor the daemon has ticked: failures fail while the UI runs."""
    from neuropose_assets.dagster_private import InstigatorType, TickStatus

    failing, n = [], 0
    for state in inst.all_instigator_state(instigator_type=InstigatorType.SENSOR):
        ticks = inst.get_ticks(state.instigator_origin_id, state.selector_id, limit=1)
        if not ticks:
            continue
        n += 1
        tick = ticks[0]
        if tick.status == TickStatus.FAILURE:
            error = (tick.error.message if tick.error else "no error recorded").strip().splitlines()[0][:200]
            failing.append(f"{state.instigator_name} ({time.time() - tick.timestamp:.0f} s ago: {error})")
    if failing:
        return Check(
            "sensors",
            "fail" if running else "warn",
            f"last tick failed: {'; '.join(failing)} — new "
            "deliveries or cohort refreshes wait; see Automation "
            "→ Sensors in the UI",
        )
    return Check("sensors", "ok", f"{n} sensor(s) ticked, none failing" if n else "no sensor has ticked yet")


def _pose_pool(inst) -> Check:
    from neuropose_assets.core.io.concurrency import POSE_POOL, pose_slots

    try:
        want, why = pose_slots(settings().pose_backend)
    except ValueError as err:
        return Check("pose_pool", "fail", str(err))
    storage = inst.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return Check("pose_pool", "warn", "this instance's storage has no pools: pose estimations are not limited")
    have = storage.get_concurrency_info(POSE_POOL).slot_count
    if have != want:
        return Check(
            "pose_pool",
            "warn",
            f"pool {POSE_POOL} allows {have} at once, the hardware rule {want} ({why}); "
            "the CLI applies the rule whenever it opens the instance",
        )
    return Check("pose_pool", "ok", f"{have} pose estimation(s) at once — {why}")


def _pose_model() -> list[Check]:
    out = []
    bp = blazepose_model()
    if not bp["present"]:
        out.append(Check("pose_model", "fail", f"BlazePose: {bp['detail']}; reinstall with `python3.11 tasks.py env`"))
    elif not bp["verified"]:
        out.append(
            Check(
                "pose_model",
                "fail",
                f"BlazePose model files have SHA-256 {bp['sha256'][:12]}…, expected "
                f"{BLAZEPOSE_SHA256[:12]}… (mediapipe 0.10.21): reinstall the locked "
                "environment",
            )
        )
    else:
        out.append(Check("pose_model", "ok", f"BlazePose GHUM 3D Full, SHA-256 {bp['sha256'][:12]}… verified"))
    for m in metrabs_models():
        status = "ok" if m["verified"] else "fail"
        out.append(
            Check(
                "pose_model",
                status,
                f"MeTRAbs {m['variant']}: "
                + (
                    f"archive SHA-256 {m['sha256'][:12]}… verified, SavedModel unchanged"
                    if m["verified"]
                    else "missing files or not the pinned checksum: `neuropose-assets model install` again"
                ),
            )
        )
    return out


def _disk(layout: Layout, intake: Path) -> Check:
    root = layout.root if layout.root.exists() else layout.root.parent
    free = shutil.disk_usage(root).free
    delivered = sum(f.stat().st_size for f in intake.rglob("*") if f.is_file()) if intake.is_dir() else 0
    need = max(MIN_FREE_BYTES, 2 * delivered)
    text = f"{free / 2**30:.1f} GiB free on the data root's file system; the intake holds {delivered / 2**30:.2f} GiB"
    if free < need:
        return Check(
            "disk",
            "fail" if free < delivered else "warn",
            f"{text}: the store copies every delivered file; free space or move the data root",
        )
    return Check("disk", "ok", text)


def _listening_addresses(port: int) -> set[str]:
    """Local IPv4 / IPv6 addresses with a socket listening on ``port`` (``/proc/net/tcp*``; empty elsewhere)."""
    found = set()
    for name, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state = parts[1], parts[3]
            addr, p = local.split(":")
            if state != "0A" or int(p, 16) != port:  # 0A = LISTEN
                continue
            if width == 8:
                found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
            else:
                raw = b"".join(bytes.fromhex(addr[i : i + 8])[::-1] for i in range(0, 32, 8))
                found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def _who(host: str, port: int) -> dict:
    """What answers on ``host:port``: the guard's ``/__neuropose__/ui`` (webserver pid) and Dagster's ``/server_info``.
    Raises ``OSError`` / ``ValueError`` when nothing usable answers."""
    from neuropose_assets.webserver import WHO_PATH

    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    with urllib.request.urlopen(f"{base}/server_info", timeout=5) as resp:
        info = json.loads(resp.read())
    try:
        with urllib.request.urlopen(f"{base}{WHO_PATH}", timeout=5) as resp:
            info.update(json.loads(resp.read()))
    except (OSError, ValueError):
        pass  # a webserver without the guard: a Dagster UI, but not ours
    return info


def _webserver(ui: dict | None, running: bool) -> Check:
    if ui is None:
        return Check("webserver", "warn", "the UI is not running (`neuropose-assets ui`)")
    host, port = ui["host"], int(ui["port"])
    if not running:
        try:
            info = _who(host, port)
        except (OSError, ValueError):
            return Check("webserver", "warn", "the UI is not running (`neuropose-assets ui`)")
        return Check(
            "webserver",
            "fail",
            f"the UI that was started on {host}:{port} (pid {ui['pid']}) is gone, but "
            f"a webserver (pid {info.get('webserver_pid', '?')}) still answers there: "
            "an orphan; start `neuropose-assets ui` again (it stops it) or kill it",
        )
    try:
        info = _who(host, port)
    except (OSError, ValueError) as err:
        return Check("webserver", "fail", f"the UI recorded {host}:{port} but does not answer there ({err})")
    want = _child(ui, "webserver")
    if want is not None and info.get("webserver_pid") != want:
        return Check(
            "webserver",
            "fail",
            f"{host}:{port} is answered by "
            + (f"webserver pid {info['webserver_pid']}" if "webserver_pid" in info else "another program")
            + f", not by the UI's webserver (pid {want}): "
            "stop the other program, then restart `neuropose-assets ui`",
        )
    listening = _listening_addresses(port)
    loopback = {"127.0.0.1", "::1"}
    version = f"dagster-webserver {info.get('dagster_webserver_version', '?')}"
    if host in ("127.0.0.1", "localhost", "::1"):
        exposed = sorted(listening - loopback)
        if exposed:
            return Check(
                "webserver",
                "fail",
                f"the UI was started on {host}:{port} but port {port} listens on "
                f"{', '.join(exposed)} too: it has no authentication; stop whatever "
                "else binds that port",
            )
        return Check("webserver", "ok", f"answers on {host}:{port} ({version}, pid {want}), listening on loopback only")
    return Check(
        "webserver",
        "warn",
        f"answers on {host}:{port} ({version}) as configured, listening on "
        f"{', '.join(sorted(listening)) or host}: reachable from the network without "
        "authentication — keep 127.0.0.1 behind an SSH tunnel or an authenticating "
        "proxy",
    )


def _run_workers(ui: dict | None, running: bool, home: Path | str | None = None) -> list[Check]:
    """With ``$NEUROPOSE_RUN_WORKERS=warm`` and the UI running: every warm run worker the UI started is alive, and
    some worker takes runs: the UI's, or those ``neuropose-assets worker`` started here or on other hosts (their
    heartbeats, :func:`~neuropose_assets.run_launcher.read_heartbeats`); fail otherwise: runs wait in the queue.  Warns
    when fewer workers take runs than the instance launches at once (``max_concurrent_runs`` in its ``dagster.yaml``,
    which the UI host wrote from its pose slots, :func:`~neuropose_assets.instance.instance_yaml`), since a launched
    run that finds no worker waits as STARTING until Dagster's start timeout fails it."""
    import yaml

    from neuropose_assets.run_launcher import SILENT_S, read_heartbeats

    if settings().run_workers != "warm" or not running:
        return []
    workers = {n: c.get("pid") for n, c in ((ui or {}).get("children") or {}).items() if n.startswith("run worker")}
    dead = sorted(n for n, pid in workers.items() if not _alive(pid))
    if dead:
        return [Check("run_workers", "fail", f"{', '.join(dead)} not running (the UI restarts a stopped worker)")]
    mine = {(socket.gethostname(), pid) for pid in workers.values()}
    beats = [b for b in read_heartbeats(home or settings().dagster_home) if (b.get("host"), b.get("pid")) not in mine]
    remote = sorted(str(b.get("node")) for b in beats if b["age_s"] <= SILENT_S)
    silent = sorted(f"{b.get('node')} ({b['age_s']:.0f} s)" for b in beats if b["age_s"] > SILENT_S)
    if not workers and not remote:
        return [
            Check(
                "run_workers",
                "fail",
                "no warm run worker takes runs: the UI started none (NEUROPOSE_LOCAL_RUN_WORKERS=0) and no "
                "`neuropose-assets worker` host is beating" + (f" (silent: {', '.join(silent)})" if silent else ""),
            )
        ]
    here = f"{len(workers)} on this host (pid {', '.join(map(str, workers.values()))})" if workers else "none here"
    detail = f"warm run workers: {here}" + (
        f"; {len(remote)} started by `neuropose-assets worker`: {', '.join(remote)}" if remote else ""
    )
    problems = [f"silent (host down?): {', '.join(silent)}"] if silent else []
    memory = _worker_memory(list(workers.values()))
    if memory:
        problems.append(memory)
    try:
        config = yaml.safe_load((Path(home or settings().dagster_home) / "dagster.yaml").read_text())
        slots = int(config["concurrency"]["runs"]["max_concurrent_runs"])
    except (OSError, TypeError, KeyError, ValueError, yaml.YAMLError):  # no instance yet: the instance check says so
        slots = 0
    if len(workers) + len(remote) < slots:
        problems.append(
            f"the instance launches up to {slots} runs at once (the pose slots) but {len(workers) + len(remote)} "
            "worker(s) take them: the others wait as STARTING and fail after the 180-s start timeout; set "
            "NEUROPOSE_POSE_SLOTS on the UI host to the workers' total, or start more"
        )
    if problems:
        return [Check("run_workers", "warn", f"{detail}; {'; '.join(problems)}")]
    return [Check("run_workers", "ok", detail)]


def _worker_memory(pids: list[int]) -> str | None:
    """What is wrong with the memory the warm run workers ``pids`` of this host hold, or None: together more than
    :data:`WORKER_MEMORY_SHARE` of the machine's memory, or the machine short of memory while they run (less than
    :data:`MIN_AVAILABLE_SHARE` available).  Each worker keeps the code location and the pose model resident
    (BlazePose: ~520 MB idle, measured; MeTRAbs several GB): one per pose slot, so ``NEUROPOSE_POSE_SLOTS`` above what
    the memory holds swaps, or the kernel kills workers (their runs fail and are retried, the worker replaced)."""
    import psutil

    rss, alive = 0, 0
    for pid in pids:
        try:
            rss += psutil.Process(pid).memory_info().rss
            alive += 1
        except psutil.Error:  # ended since: the liveness check reports it
            continue
    if not rss:
        return None
    vm = psutil.virtual_memory()
    if rss <= WORKER_MEMORY_SHARE * vm.total and vm.available >= MIN_AVAILABLE_SHARE * vm.total:
        return None
    return (
        f"the {alive} warm run worker(s) hold {rss / 2**30:.1f} GiB of this machine's {vm.total / 2**30:.1f} GiB "
        f"({vm.available / 2**30:.1f} GiB available): lower NEUROPOSE_POSE_SLOTS (one worker each), or set "
        "NEUROPOSE_RUN_WORKERS=fresh (a process per run, nothing held between runs)"
    )


def health_checks(layout: Layout, intake: Path) -> list[Check]:
    """Every check of the module docstring, in order."""
    ui, running = _ui_record(layout)
    return [
        _data_root(layout),
        _intake(intake),
        *_instance_and_daemon(layout, ui, running),
        *_pose_model(),
        _disk(layout, intake),
        _webserver(ui, running),
        *_run_workers(ui, running, layout.dagster_home),
    ]
