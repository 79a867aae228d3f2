"""The real thing: `neuropose-assets ui` (dagster dev: webserver + daemon) picks up a burst of videos dropped into
the intake folder, runs them all, respects the pose pool's limit, and refreshes the cohort matrix."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from neuropose_assets_tests import media

pytestmark = pytest.mark.e2e
N = 3


def _wait(cond, timeout: float, step: float = 2.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return None


def test_burst_is_processed_with_the_pool_limit_respected(tmp_path, cam01, monkeypatch):
    from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

    clips = []
    for i in range(N):  # distinct short clips (different brightness), 30 frames, 540x960
        out = tmp_path / f"trial_{i}.mp4"
        media.ffmpeg(
            "-i",
            str(cam01),
            "-frames:v",
            "30",
            "-vf",
            f"scale=540:960,eq=brightness=0.0{i}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(out),
        )
        clips.append(out)
    intake, data = tmp_path / "intake", tmp_path / "data"
    (intake / "burst").mkdir(parents=True)
    with running_ui(intake, data, NEUROPOSE_POSE_SLOTS="1"):  # the limit is respected (here: one at a time)
        # a cohort with a protocol: one walk, one sit-to-stand, one video that no rule declares
        (intake / "burst" / "protocol.yaml").write_text(
            'videos:\n  "trial_0.mp4": {task: gait}\n  "trial_1.mp4": {task: sit_to_stand, expected_repetitions: 5}\n'
        )
        for c in clips:  # the burst
            os.replace(c, intake / "burst" / c.name)
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        inst = DagsterInstance.get()

        def done():
            runs = [r for r in inst.get_runs() if r.job_name == "per_video_job"]
            finished = [r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)]
            cohort = [r for r in inst.get_runs() if r.job_name == "cohort_job" and r.status == DagsterRunStatus.SUCCESS]
            return len(finished) == N and cohort and runs

        runs = _wait(done, 300)
        assert runs, [(r.job_name, r.status) for r in inst.get_runs()]
        assert all(r.status == DagsterRunStatus.SUCCESS for r in runs)
        spans = []
        for r in runs:
            ev = [e for e in inst.all_logs(r.run_id) if e.dagster_event and e.step_key == "poses"]
            start = next(e.timestamp for e in ev if e.dagster_event.event_type == DagsterEventType.STEP_START)
            end = next(e.timestamp for e in ev if e.dagster_event.event_type == DagsterEventType.STEP_SUCCESS)
            spans.append((start, end))
        spans.sort()
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:])), f"pose steps overlapped: {spans}"
        assert sorted(p.stem for p in (data / "assets" / "features").glob("*.parquet")) == [
            f"burst-trial_{i}" for i in range(N)
        ]
        assert (data / "assets" / "cohort_dtw" / "burst.parquet").exists()
        for i in range(N):
            assert (data / "assets" / "outcomes" / f"burst-trial_{i}.parquet").exists()
        rows = _wait(lambda: _cohort_rows(data), 120)  # the last cohort run may still be queued
        assert rows is not None, "the cohort outcome table never listed every video"
        assert rows == [
            ("burst-trial_0", "gait", True),
            ("burst-trial_1", "sit_to_stand", True),
            ("burst-trial_2", "generic", False),
        ]


def _up(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
        return True
    except OSError:
        return False


def _cohort_rows(data: Path):
    import polars as pl

    path = data / "assets" / "cohort_outcomes" / "burst.parquet"
    if not path.exists():
        return None
    rows = pl.read_parquet(path).select("partition", "task", "declared").rows()
    return rows if len(rows) == N else None


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_ctrl_c_stops_the_uis_whole_process_tree(tmp_path):
    """SIGINT (Ctrl-C); SIGTERM is checked in test_webserver's running-UI test."""
    assert_ui_stops_its_tree(tmp_path, signal.SIGINT)


def assert_ui_stops_its_tree(tmp_path, sig, *extra: str, probe=None) -> str:
    """Start ``neuropose-assets ui`` (``extra`` arguments), run ``probe(port)`` while it is up, send ``sig``; assert
    that every process it started is gone and the port closed.  Returns the UI's stderr."""
    port = 3300 + (os.getpid() + 13 + int(sig)) % 500
    cli = Path(sys.executable).parent / "neuropose-assets"
    env = {**os.environ, "NEUROPOSE_INTAKE": str(tmp_path / "intake")}
    proc = subprocess.Popen(
        [str(cli), "ui", "--data-root", str(tmp_path / "data"), "--port", str(port), *extra],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait(lambda: _up(port), 120), "the UI did not start"
        tree = _descendants(proc.pid)
        assert len(tree) >= 3  # the code server, the daemon, the webserver (and what they started)
        if probe is not None:
            probe(port)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        left = _wait(lambda: not any(_alive(p) for p in tree), 30, step=0.5)
        assert left, [p for p in tree if _alive(p)]
        assert not _up(port)
        return err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_dead_daemon_worker_or_ui_never_stalls_the_pipeline(tmp_path, cam01, monkeypatch):
    """Through the real UI, with one pose slot (the stall would show as a run that never starts):

    1. SIGKILL the daemon while a run estimates poses: the UI starts a new daemon; the run finishes.
    2. SIGKILL `neuropose-assets ui` itself while a run estimates poses: its daemon and webserver die with it (the
       port is free at once); a new `ui` on the same data root and port stops what the dead one left running, run
       monitoring fails the run whose worker died and the retry daemon runs it again — through the only slot.
    3. SIGKILL a run worker (the code server alive): its run fails and is retried, the slot is freed."""
    from dagster import DagsterInstance, DagsterRunStatus

    intake, data = tmp_path / "intake", tmp_path / "data"
    (intake / "c").mkdir(parents=True)
    ui_json = data / "dagster_home" / "ui.json"
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    # the fresh run workers (Dagster's default launcher, a new process per run): their recovery is what this tests;
    # the warm workers' is test_warm_run_workers_keep_the_model_loaded_and_a_killed_one_is_replaced
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "fresh")

    def children() -> dict:
        return {n: c["pid"] for n, c in json.loads(ui_json.read_text())["children"].items()}

    def deliver(name: str, slower: int = 1) -> None:
        tmp = tmp_path / f".{name}.mp4"
        if slower == 1:
            media.ffmpeg("-i", str(cam01), "-c", "copy", str(tmp))  # distinct files (hard links would be one content)
        else:  # every frame repeated: a longer pose step, one continuous track
            media.ffmpeg(
                "-i",
                str(cam01),
                "-vf",
                f"setpts={slower}*PTS",
                "-r",
                "30",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                str(tmp),
            )
        os.replace(tmp, intake / "c" / f"{name}.mp4")

    def runs_of(inst, name: str) -> list:
        return [
            r
            for r in inst.get_runs()
            if r.tags.get("dagster/partition") == f"c-{name}" and r.job_name == "per_video_job"
        ]  # not its review run

    def in_poses(inst, name: str) -> int | None:
        """The pid of the run worker of ``name``'s first run once its poses step has started."""
        for run in runs_of(inst, name)[-1:]:
            logs = inst.all_logs(run.run_id)
            if any(
                e.step_key == "poses" and e.dagster_event and e.dagster_event.event_type.value == "STEP_START"
                for e in logs
            ):
                for e in logs:
                    if e.dagster_event and (e.dagster_event.message or "").startswith("Started process for run"):
                        return int(e.dagster_event.engine_event_data.metadata["pid"].value)
        return None

    def succeeded(inst, name: str, retried: bool = False):
        runs = runs_of(inst, name)
        ok = any(r.status == DagsterRunStatus.SUCCESS for r in runs)
        return runs if ok and (not retried or any(r.tags.get("dagster/parent_run_id") for r in runs)) else None

    with running_ui(intake, data, offset=29, NEUROPOSE_POSE_SLOTS="1", NEUROPOSE_RUN_WORKERS="fresh") as (ui, port):
        inst = DagsterInstance.get()
        deliver("a")
        assert _wait(lambda: in_poses(inst, "a"), 120, step=0.2), "run a never reached pose estimation"
        daemon = children()["daemon"]
        os.kill(daemon, signal.SIGKILL)  # 1. the daemon dies mid-run
        assert _wait(lambda: children()["daemon"] != daemon and _alive(children()["daemon"]), 15, step=0.5)
        runs = _wait(lambda: succeeded(inst, "a"), 120)
        assert runs and len(runs) == 1, [(r.tags, r.status) for r in runs_of(inst, "a")]

        deliver("b", slower=10)  # long enough to outlive the UI's restart, also on a loaded machine
        orphan = _wait(lambda: in_poses(inst, "b"), 120, step=0.2)
        assert orphan, "run b never reached pose estimation"
        first = children()
        os.kill(ui.pid, signal.SIGKILL)  # 2. the UI itself dies mid-run
        ui.wait(10)
        assert _wait(
            lambda: not _up(port) and not _alive(first["daemon"]) and not _alive(first["webserver"]), 20, step=0.5
        ), "the UI's daemon and webserver outlived it"
        assert _alive(orphan)  # the run worker (a child of the code server) is still estimating: an orphan
        with running_ui(intake, data, offset=29, NEUROPOSE_POSE_SLOTS="1", NEUROPOSE_RUN_WORKERS="fresh"):  # same port
            assert not any(_alive(pid) for pid in [*first.values(), orphan]), "orphans of the dead UI still run"
            runs = _wait(lambda: succeeded(inst, "b", retried=True), 180)
            assert runs, [(r.tags, r.status) for r in runs_of(inst, "b")]
            dead = next(r for r in runs if not r.tags.get("dagster/parent_run_id"))
            assert dead.status == DagsterRunStatus.FAILURE
            assert any("worker process" in (e.message or "") for e in inst.all_logs(dead.run_id))  # monitoring said why

            deliver("c")
            worker = _wait(lambda: in_poses(inst, "c"), 120, step=0.2)
            assert worker, "run c never reached pose estimation"
            os.kill(worker, signal.SIGKILL)  # 3. a run worker dies holding the only pose slot
            assert _wait(lambda: succeeded(inst, "c", retried=True), 180), [
                (r.tags, r.status) for r in runs_of(inst, "c")
            ]


@contextlib.contextmanager
def running_ui(intake: Path, data: Path, offset: int = 0, **env: str):
    """``neuropose-assets ui`` on ``data`` watching ``intake`` with fast ticks (1 s stability, 3 s intervals), in its
    own session; yields ``(process, port)`` once the UI answers, kills the whole session afterwards."""
    port = 3300 + (os.getpid() + offset) % 500
    full_env = {
        **os.environ,
        "NEUROPOSE_INTAKE": str(intake),
        "NEUROPOSE_INTAKE_STABLE_SECONDS": "1",
        "NEUROPOSE_INTAKE_INTERVAL_SECONDS": "3",
        "NEUROPOSE_COHORT_INTERVAL_SECONDS": "3",
        **env,
    }
    cli = Path(sys.executable).parent / "neuropose-assets"
    proc = subprocess.Popen(
        [str(cli), "ui", "--data-root", str(data), "--port", str(port)],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait(lambda: _up(port), 120), "the UI did not start"
        yield proc, port
    finally:
        started = _descendants(proc.pid)  # before the UI exits and its children are re-parented
        proc.send_signal(signal.SIGTERM)  # the UI stops its code server, daemon, webserver and their runs
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for pid in started:  # whatever did not stop in time
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def test_warm_run_workers_keep_the_model_loaded_and_a_killed_one_is_replaced(tmp_path, cam01, monkeypatch):
    """NEUROPOSE_RUN_WORKERS=warm: per-video runs execute inside the UI's long-lived Celery worker (one per pose slot),
    run after run in the same process with the pose model already loaded; SIGKILL of that worker mid-run fails the
    run (run monitoring: its worker process is gone), the UI starts a new worker and the retry succeeds there."""
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus

    intake, data = tmp_path / "intake", tmp_path / "data"
    (intake / "c").mkdir(parents=True)
    ui_json = data / "dagster_home" / "ui.json"
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")  # this process's DagsterInstance.get() loads the launcher

    def worker_pid() -> int:
        return json.loads(ui_json.read_text())["children"]["run worker 1"]["pid"]

    def deliver(name: str, slower: int = 1) -> None:
        tmp = tmp_path / f".{name}.mp4"
        vf = ["-vf", f"setpts={slower}*PTS", "-r", "30"] if slower > 1 else []
        media.ffmpeg("-i", str(cam01), *vf, "-c:v", "libx264", "-preset", "ultrafast", str(tmp))
        os.replace(tmp, intake / "c" / f"{name}.mp4")

    def runs_of(inst, name: str) -> list:
        return [
            r
            for r in inst.get_runs()
            if r.tags.get("dagster/partition") == f"c-{name}" and r.job_name == "per_video_job"
        ]

    def run_pid(inst, run) -> int | None:
        for e in inst.all_logs(run.run_id):
            if e.dagster_event and (e.dagster_event.message or "").startswith("Started process for run"):
                return int(e.dagster_event.engine_event_data.metadata["pid"].value)
        return None

    def succeeded(inst, name: str):
        runs = runs_of(inst, name)
        return runs if any(r.status == DagsterRunStatus.SUCCESS for r in runs) else None

    with running_ui(intake, data, offset=57, NEUROPOSE_POSE_SLOTS="1", NEUROPOSE_RUN_WORKERS="warm"):
        inst = DagsterInstance.get()
        warm = worker_pid()
        for name in ("a", "b"):
            deliver(name)
            runs = _wait(lambda name=name: succeeded(inst, name), 120)
            assert runs and len(runs) == 1, [(r.tags, r.status) for r in runs_of(inst, name)]
            assert run_pid(inst, runs[0]) == warm  # executed inside the warm worker, not a fresh process
            assert runs[0].tags["neuropose/worker_pid"] == str(warm)  # with its host: judged on its own host only
        loads = [
            m.asset_materialization.metadata["model_load_s"].value
            for m in inst.fetch_materializations(AssetKey("poses"), limit=10).records
        ]
        assert sorted(loads)[:2] == [0.0, 0.0], loads  # the model was loaded once, before the first run

        deliver("slow", slower=10)
        # mid-run: STARTED (killed while still STARTING, a run waits for the 180-s start timeout instead)
        assert _wait(
            lambda: any(r.status == DagsterRunStatus.STARTED and run_pid(inst, r) for r in runs_of(inst, "slow")),
            120,
            step=0.2,
        )
        os.kill(warm, signal.SIGKILL)  # the worker dies mid-run, holding the only pose slot
        runs = _wait(lambda: succeeded(inst, "slow"), 420)  # the retry may queue behind review runs (one run in flight)
        assert runs, [  # on failure: each run's status, retry tags and engine events (why it was or was not retried)
            (
                r.status,
                {k: v for k, v in r.tags.items() if "retry" in k or "fail" in k},
                [
                    e.message[:200]
                    for e in inst.all_logs(r.run_id)
                    if e.dagster_event and e.dagster_event.is_engine_event
                ],
            )
            for r in runs_of(inst, "slow")
        ]
        dead = next(r for r in runs if not r.tags.get("dagster/parent_run_id"))
        assert dead.status == DagsterRunStatus.FAILURE
        assert any("worker process" in (e.message or "") for e in inst.all_logs(dead.run_id))
        assert worker_pid() != warm and _alive(worker_pid())  # the UI replaced the worker
        from neuropose_assets.core.io.storage import Layout
        from neuropose_assets.health import health_checks

        workers = next(c for c in health_checks(Layout(data), intake) if c.name == "run_workers")
        assert workers.status == "ok" and str(worker_pid()) in workers.detail
