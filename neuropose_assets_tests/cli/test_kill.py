"""Killing a run during pose estimation leaves no partial Parquet where readers look; re-running succeeds."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import polars as pl
import pytest

pytestmark = pytest.mark.e2e

RUN = textwrap.dedent(
    """
    import sys
    from dagster import DagsterInstance
    from neuropose_assets.service.runs import register_videos
    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.definitions import build_defs
    layout = Layout(__import__("pathlib").Path(sys.argv[1]))
    inst = DagsterInstance.get()
    register_videos(inst, layout, {"walk": sys.argv[2]}, "kill")
    res = build_defs(sys.argv[1]).resolve_job_def("per_video_job").execute_in_process(
        partition_key="walk", instance=inst, raise_on_error=False)
    sys.exit(0 if res.success else 1)
    """
)


def test_sigkill_during_pose_estimation_then_rerun(tmp_path, cam01):
    data = tmp_path / "data"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(data), str(cam01)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    raw = data / "assets" / "raw_video" / "walk.parquet"
    deadline = time.time() + 120
    while not raw.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert raw.exists(), proc.stderr.read() if proc.poll() is not None else "raw_video never written"
    assert _wait_for_step_start(home, "poses", proc), "the poses step never started"
    time.sleep(0.2)  # inside the poses step (model load ≈ 0.5 s, then ≈ 2.5 s of inference)
    assert proc.poll() is None and not (data / "assets" / "poses" / "walk.parquet").exists(), "killed too late"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)

    visible = sorted(
        p.relative_to(data / "assets").as_posix()
        for p in (data / "assets").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    # no poses/features yet, nothing half-written: only the intake step's tables (the video, its declared task and a
    # marker file's events — none for a video)
    assert set(visible) <= {"raw_video/walk.parquet", "task/walk.parquet", "reference_events/walk.parquet"}, visible
    for p in (data / "assets").rglob("*.parquet"):
        pl.read_parquet(p)  # every file a reader can see is complete

    rerun = subprocess.run([sys.executable, "-c", RUN, str(data), str(cam01)], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert pl.read_parquet(data / "assets" / "features" / "walk.parquet").height == 100


def _wait_for_step_start(home, step: str, proc, timeout: float = 120.0) -> bool:
    """Poll the run's event log (the subprocess's SQLite instance) until ``step`` has started."""
    from dagster import DagsterEventType, DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    deadline = time.time() + timeout
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as inst:
        while time.time() < deadline and proc.poll() is None:
            for run in inst.get_runs():
                for ev in inst.all_logs(run.run_id, of_type=DagsterEventType.STEP_START):
                    if ev.step_key == step:
                        return True
            time.sleep(0.05)
    return False
