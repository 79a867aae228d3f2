"""Shared by the daemon benchmarks: start `neuropose-assets ui` on a data root and intake, wait for per-video runs,
and the `poses` step span of a run."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


@contextlib.contextmanager
def running_ui(data: Path, intake: Path, port: int, **env_vars: str):
    """`neuropose-assets ui` on ``data`` watching ``intake`` (stable after 1 s, scanned every 5 s), extra environment
    ``env_vars``; yields once the webserver answers, stops the whole process group afterwards."""
    env = {
        **os.environ,
        "NEUROPOSE_INTAKE": str(intake),
        "NEUROPOSE_INTAKE_STABLE_SECONDS": "1",
        "NEUROPOSE_INTAKE_INTERVAL_SECONDS": "5",
        **env_vars,
    }
    cli = Path(sys.executable).parent / "neuropose-assets"
    proc = subprocess.Popen(
        [str(cli), "ui", "--data-root", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(180):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2)
                break
            except OSError:
                time.sleep(1)
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def finished_runs(inst, n: int, job: str = "per_video_job", poll_s: float = 2.0) -> list:
    """Wait until ``n`` runs of ``job`` ended (success or failure); returns their run records."""
    from dagster import DagsterRunStatus

    while True:
        runs = [r for r in inst.get_run_records(limit=10 * n) if r.dagster_run.job_name == job]
        done = [r for r in runs if r.dagster_run.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)]
        if len(done) >= n:
            return done
        time.sleep(poll_s)


def step_spans(inst, run_id: str) -> dict[str, tuple[float, float]]:
    """{step key: (start, end)} timestamps of the run's finished steps (STEP_START → STEP_SUCCESS / STEP_FAILURE)."""
    from dagster import DagsterEventType

    start, out = {}, {}
    for e in inst.all_logs(run_id):
        kind = e.dagster_event.event_type if e.dagster_event else None
        if kind == DagsterEventType.STEP_START:
            start[e.step_key] = e.timestamp
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and e.step_key in start:
            out[e.step_key] = (start[e.step_key], e.timestamp)
    return out


def poses_span(inst, run_id: str) -> tuple[float, float] | None:
    """(start, end) timestamps of the run's `poses` step, or None."""
    return step_spans(inst, run_id).get("poses")


@contextlib.contextmanager
def warm_hosts(data: Path, nworkers: int, log_dir: Path, **env_vars: str):
    """One `neuropose-assets worker` host with ``nworkers`` warm run workers on ``data`` (the instance on the
    PostgreSQL in ``env_vars``); yields once every worker has loaded the code location and the pose model."""
    env = {**os.environ, "NEUROPOSE_RUN_WORKERS": "warm", **env_vars}
    cli = str(Path(sys.executable).parent / "neuropose-assets")
    log_path = log_dir / "warm_workers.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [cli, "worker", "--nworkers", str(nworkers), "--data-root", str(data)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.time() + 300
        while log_path.read_text(errors="replace").count("warm worker ready") < nworkers:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the warm workers did not start: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(1)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
