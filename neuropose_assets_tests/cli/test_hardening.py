"""Hardening, second round (fast part): the run-worker health check behind run monitoring, the supervisor's helpers,
bounded and validated command-line values, and an `ingest` that either completes (its protocol rule included) or
writes nothing.  The real daemon and UI kills are in test_daemon.py."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import dagster as dg
import pytest

from neuropose_assets.cli import main


def _cli(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "neuropose_assets.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
    )


def test_run_monitoring_can_tell_a_dead_worker_from_a_live_one(tmp_path):
    from dagster._core.events import EngineEventData
    from dagster._core.launcher.base import WorkerStatus

    from neuropose_assets.run_launcher import HOST_TAG, PID_TAG, MonitoredRunLauncher, process_tags

    overrides = {"run_launcher": {"module": "neuropose_assets.run_launcher", "class": "MonitoredRunLauncher"}}
    with dg.instance_for_test(overrides=overrides) as inst:
        launcher = inst.run_launcher
        assert isinstance(launcher, MonitoredRunLauncher) and launcher.supports_check_run_worker_health

        def run_with_worker(pid: int) -> dg.DagsterRun:
            run = inst.create_run_for_job(dg.GraphDefinition("g").to_job(), run_id=None)
            inst.report_engine_event(f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid))
            return run

        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            run = run_with_worker(worker.pid)
            assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        finally:
            worker.kill()
            worker.wait()
        dead = launcher.check_run_worker_health(run)
        assert dead.status == WorkerStatus.FAILED and str(worker.pid) in dead.msg
        # a pid recycled by a process started after the run recorded it is not the worker
        later = run_with_worker(os.getpid())  # this process is older than the event: alive
        assert launcher.check_run_worker_health(later).status == WorkerStatus.RUNNING
        time.sleep(0.1)
        newer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            stale = inst.create_run_for_job(dg.GraphDefinition("g").to_job())
            inst.report_engine_event(
                f"Started process for run (pid: {newer.pid}).", stale, EngineEventData.in_process(newer.pid)
            )
            # pretend the event is older than the process: move the process's start into the future
            launcher._workers[stale.run_id] = (newer.pid, time.time() - 3600)
            assert launcher.check_run_worker_health(stale).status == WorkerStatus.FAILED
        finally:
            newer.kill()
            newer.wait()
        # in-process runs (`neuropose-assets run`) carry their process in tags; another host's cannot be judged
        mine = inst.create_run_for_job(dg.GraphDefinition("g").to_job(), tags=process_tags())
        assert launcher.check_run_worker_health(mine).status == WorkerStatus.RUNNING
        gone = inst.create_run_for_job(
            dg.GraphDefinition("g").to_job(), tags={PID_TAG: "4242424", HOST_TAG: socket.gethostname()}
        )
        assert launcher.check_run_worker_health(gone).status == WorkerStatus.FAILED
        remote = inst.create_run_for_job(
            dg.GraphDefinition("g").to_job(), tags={PID_TAG: "4242424", HOST_TAG: "another-host"}
        )
        assert launcher.check_run_worker_health(remote).status == WorkerStatus.RUNNING
        unknown = inst.create_run_for_job(dg.GraphDefinition("g").to_job())  # nothing recorded yet
        assert launcher.check_run_worker_health(unknown).status == WorkerStatus.RUNNING


def test_the_instance_uses_the_monitored_launcher(tmp_path, monkeypatch):
    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import ensure_dagster_home
    from neuropose_assets.run_launcher import MonitoredRunLauncher

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored afterwards
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "fresh")  # the warm workers' launcher: test_warm.py
    home = ensure_dagster_home(Layout(tmp_path / "data"))
    with dg.DagsterInstance.from_config(str(home)) as inst:
        assert isinstance(inst.run_launcher, MonitoredRunLauncher)
        assert inst.run_monitoring_enabled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "x.mp4", "--task", "gait", "--key", "../../etc/x"], "argument --key: invalid partition key"),
        (["run", "x.mp4", "--task", "gait", "--cohort", "!!!"], "argument --cohort: cohort '!!!' has no letters"),
        (["register", "x.mp4", "--cohort", "!!!"], "argument --cohort"),
        (["outcomes", "!!!"], "argument cohort"),
        (["report", "../x"], "argument partition: invalid partition key"),
        (["export", "A B"], "argument partition: invalid partition key"),
        (["ui", "--port", "99999"], "argument --port: '99999' is out of range"),
        (["agreement", "--tolerance-s", "inf"], "argument --tolerance-s"),
        (["agreement", "--pair", "a:../b"], "invalid partition key '../b'"),
        (
            ["run", "{video}", "--task", "tug", "--param", "expected_repetitions=99999999999999999999999"],
            "expected_repetitions: Input should be less than or equal to 10000",
        ),
        (
            ["run", "{video}", "--task", "tug", "--param", "walkway_m=1e400"],
            "walkway_m: Input should be a finite number",
        ),
        (["run", "{video}", "--task", "tug", "--param", "walkway_m=NaN"], "walkway_m: Input should be a finite number"),
        (["run", "{video}", "--task", "generic", "--param", "segmentation.min_distance_s=1e999"], "finite number"),
    ],
)
def test_bad_command_line_values_are_one_line_errors_and_write_nothing(tmp_path, args, message):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not read: the values are refused first")
    root = tmp_path / "data"
    res = _cli(*[a.replace("{video}", str(video)) for a in args], "--data-root", str(root))
    assert res.returncode == 2, res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()[-1]) < 300
    written = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    assert not written, written


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_ingest_with_a_relative_intake_and_a_task_writes_the_rule_and_a_failed_one_writes_nothing(tmp_path):
    from neuropose_assets.core.analysis.tasks import load_protocol

    work = tmp_path / "work"
    work.mkdir()
    ok = _zip(tmp_path / "good.zip", {"S01/walk.mp4": b"v1", "S02/walk.mp4": b"v2"})
    res = _cli(
        "ingest",
        str(ok),
        "--intake",
        "relative/dir",
        "--cohort",
        "Study A",
        "--task",
        "gait",
        "--data-root",
        str(tmp_path / "data"),
        cwd=work,
    )
    assert res.returncode == 0, res.stderr
    intake = work / "relative" / "dir"
    assert sorted(p.relative_to(intake).as_posix() for p in intake.rglob("*.mp4")) == [
        "study_a/S01/walk.mp4",
        "study_a/S02/walk.mp4",
    ]
    assert load_protocol(intake / "study_a" / "protocol.yaml").resolve("S02/walk.mp4").spec.task == "gait"
    before = {p: p.read_bytes() for p in intake.rglob("*") if p.is_file()}
    clash = _zip(tmp_path / "clash.zip", {"S03/new.mp4": b"v3", "S01/walk.mp4": b"again"})
    res = _cli(
        "ingest",
        str(clash),
        "--intake",
        "relative/dir",
        "--cohort",
        "study a",
        "--task",
        "squat",
        "--data-root",
        str(tmp_path / "data"),
        cwd=work,
    )
    assert res.returncode == 2 and "collision" in res.stderr and "Traceback" not in res.stderr
    assert {p: p.read_bytes() for p in intake.rglob("*") if p.is_file()} == before  # the protocol rule too
    fresh = tmp_path / "fresh"
    res = _cli("ingest", str(tmp_path / "missing.zip"), "--intake", str(fresh), "--data-root", str(tmp_path / "d2"))
    assert res.returncode == 2 and "archive not found" in res.stderr and not fresh.exists()


def test_ingest_refuses_bombs_long_names_and_full_disks_in_one_line(tmp_path, monkeypatch, capsys):
    import collections

    from neuropose_assets.core.io import zip_ingest

    monkeypatch.setenv("NEUROPOSE_DATA_ROOT", str(tmp_path / "data"))
    intake = tmp_path / "intake"
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("c/big.mp4", bytes(32 * 1024**2))
    long = _zip(tmp_path / "long.zip", {f"c/{'n' * 300}.mp4": b"v"})
    for archive, message in ((bomb, "zip bomb"), (long, "longer than 255 bytes")):
        assert main(["ingest", str(archive), "--intake", str(intake)]) == 2
        assert message in capsys.readouterr().err
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(zip_ingest.shutil, "disk_usage", lambda p: usage(1, 1, 0))
    assert main(["ingest", str(_zip(tmp_path / "ok.zip", {"c/a.mp4": b"v"})), "--intake", str(intake)]) == 2
    assert "free" in capsys.readouterr().err
    monkeypatch.undo()
    monkeypatch.setenv("NEUROPOSE_DATA_ROOT", str(tmp_path / "data"))

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(zip_ingest.os, "replace", full)  # the disk fills up while the videos are placed
    assert main(["ingest", str(tmp_path / "ok.zip"), "--intake", str(intake)]) == 2
    err = capsys.readouterr().err
    assert "the disk is full. Nothing was placed" in err and "Traceback" not in err
    assert not list(intake.rglob("*.mp4"))


def test_a_second_ui_on_the_same_data_root_is_refused(tmp_path):
    from filelock import FileLock

    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import ensure_dagster_home

    home = ensure_dagster_home(Layout(tmp_path / "data"))
    (home / "ui.json").write_text(json.dumps({"host": "127.0.0.1", "port": 3999, "pid": 12345}))
    with FileLock(str(home / "ui.lock")):
        res = _cli("ui", "--data-root", str(tmp_path / "data"), "--port", "3999")
    assert res.returncode == 2 and "already running on this data root (pid 12345" in res.stderr


def test_ui_refuses_a_port_it_cannot_bind_before_writing_anything(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = _cli("ui", "--data-root", str(tmp_path / "data"), "--port", str(port))
    assert res.returncode == 2 and f"127.0.0.1:{port} is in use" in res.stderr
    assert not (tmp_path / "data" / "dagster_home" / "ui_workspace.yaml").exists()


def test_health_tells_a_dead_a_silent_and_an_orphaned_daemon_apart(tmp_path, monkeypatch):
    from dagster._daemon.types import DaemonHeartbeat

    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.health import _instance_and_daemon
    from neuropose_assets.instance import ensure_dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # restored afterwards
    layout = Layout(tmp_path / "data")
    home = ensure_dagster_home(layout)
    sleeper = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        start_new_session=True,
        env={**os.environ, "DAGSTER_HOME": str(home)},
    )  # as the UI starts its daemon
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()

    def daemon(ui: dict | None, running: bool, beat_age: float | None) -> tuple[str, str]:
        if beat_age is not None:
            with dg.DagsterInstance.from_config(str(home)) as inst:
                inst.add_daemon_heartbeat(DaemonHeartbeat(time.time() - beat_age, "SENSOR", "d1", []))
        check = next(c for c in _instance_and_daemon(layout, ui, running) if c.name == "daemon")
        return check.status, check.detail

    def ui(daemon_pid: int, started: float = 0.0) -> dict:
        return {
            "host": "127.0.0.1",
            "port": 1,
            "pid": os.getpid(),
            "started": started,
            "children": {
                "daemon": {"pid": daemon_pid, "pgid": daemon_pid},
                "webserver": {"pid": gone.pid, "pgid": gone.pid},
            },
        }

    try:
        assert daemon(ui(sleeper.pid), True, 5)[0] == "ok"
        status, detail = daemon(ui(gone.pid), True, 5)  # killed 5 s ago: its last heartbeat is still fresh
        assert status == "fail" and f"pid {gone.pid}) is not running" in detail
        status, detail = daemon(ui(sleeper.pid), True, 61)  # alive but silent beyond 30 s + 30 s
        assert status == "fail" and "silent" in detail
        assert daemon(ui(sleeper.pid, started=time.time()), True, 500)[0] == "warn"  # a UI just started
        # a young UI whose daemon beat after the start, then fell silent: not "starting"
        assert daemon(ui(sleeper.pid, started=time.time() - 80), True, 70)[0] == "fail"
        status, detail = daemon({**ui(sleeper.pid), "pid": gone.pid}, False, 5)  # the UI died, its daemon runs on
        assert status == "fail" and f"still run: {sleeper.pid} (" in detail
        assert daemon(None, False, 5)[0] == "warn"  # a daemon without our UI (dagster dev)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_health_fails_while_a_sensor_fails():
    from types import SimpleNamespace

    from dagster._core.scheduler.instigation import TickStatus

    from neuropose_assets.health import _sensors

    def tick(status, message=None):
        return SimpleNamespace(
            status=status, timestamp=time.time() - 12, error=SimpleNamespace(message=message) if message else None
        )

    states = [
        SimpleNamespace(instigator_origin_id=n, selector_id=n, instigator_name=n)
        for n in ("intake_sensor", "cohort_sensor")
    ]
    last = {
        "intake_sensor": tick(TickStatus.FAILURE, "PermissionError: [Errno 13] /intake\nTraceback ..."),
        "cohort_sensor": tick(TickStatus.SKIPPED),
    }
    inst = SimpleNamespace(
        all_instigator_state=lambda **kw: states, get_ticks=lambda origin, selector, limit: [last[origin]]
    )
    check = _sensors(inst, running=True)
    assert check.status == "fail" and "intake_sensor (12 s ago: PermissionError: [Errno 13] /intake)" in check.detail
    assert _sensors(inst, running=False).status == "warn"
    last["intake_sensor"] = tick(TickStatus.SUCCESS)
    assert _sensors(inst, running=True).status == "ok"


def test_unsupported_formats_are_refused_everywhere_with_one_list(tmp_path):
    from neuropose_assets.core.io.intake import scan_intake
    from neuropose_assets.core.io.storage import SOURCE_EXTENSIONS, unsupported_format

    motion = tmp_path / "walk.bvh"
    motion.write_text("HIERARCHY\nROOT Hips\n")
    root = tmp_path / "data"
    for args in (["register", str(motion), "--cohort", "c"], ["run", str(motion), "--task", "gait"]):
        res = _cli(*args, "--data-root", str(root))
        assert res.returncode == 2, res.stderr
        assert "walk.bvh is not supported; supported are videos (.mp4" in res.stderr and "Traceback" not in res.stderr
        assert not ([p for p in root.rglob("*") if p.is_file()] if root.exists() else [])
    assert all(unsupported_format(f"x{e.upper()}") is None for e in SOURCE_EXTENSIONS)
    archive = _zip(tmp_path / "d.zip", {"S01/walk.mp4": b"v", "S01/walk.bvh": b"m"})
    res = _cli("ingest", str(archive), "--intake", str(tmp_path / "in"), "--cohort", "c", "--data-root", str(root))
    assert res.returncode == 0 and "skipped: walk.bvh is not supported; supported are" in res.stdout, res.stdout
    (tmp_path / "in" / "c" / "other.bvh").write_text("x")
    # the sensor reports it with the same text
    assert scan_intake(tmp_path / "in", now=0.0).unsupported == ["c/other.bvh"]
