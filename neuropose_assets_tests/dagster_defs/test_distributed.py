"""Many machines, tested on one: two `neuropose-assets worker` hosts (separate processes on 127.0.0.1, as other
machines would start them) take the per-video runs of one instance on a real PostgreSQL server from its queue, with
none on the UI host.  A cohort of real sample clips dropped into the intake folder is spread over both hosts; every
per-video asset and check of every clip is verified, the pose model was loaded once per worker, not once per video,
and the tables equal a one-machine run bit for bit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neuropose_assets.core.io.storage import Layout

pytestmark = pytest.mark.e2e
CLIPS = ["pose2sim_single_cam01", "pose2sim_single_cam02", "pose2sim_single_cam03", "pose2sim_single_cam04"]


def _finished(inst, keys: set[str]) -> list | None:
    """The per-video runs of the partitions ``keys`` once every one of them has finished (else ``None``)."""
    from dagster import DagsterRunStatus

    runs = [r for r in inst.get_runs() if r.job_name == "per_video_job" and r.tags.get("dagster/partition") in keys]
    finished = [r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)]
    return runs if len(finished) == len(keys) else None


@contextlib.contextmanager
def _group(cmd: list[str], env: dict[str, str], log: Path):
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_a_cohort_runs_across_two_warm_worker_hosts_on_postgres(postgres_url, tmp_path, sample_cache, monkeypatch):
    """Warm run workers on two "hosts" (two `neuropose-assets worker` processes, none on the UI host) take the runs
    of one instance on PostgreSQL from its queue (module docstring)."""
    from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, EventRecordsFilter

    from neuropose_assets.core.io.samples import fetch_samples
    from neuropose_assets.dagster_defs.checks import CHECKS
    from neuropose_assets.definitions import PER_VIDEO_ASSETS
    from neuropose_assets_tests.cli.test_daemon import _wait, running_ui

    clips = fetch_samples(sample_cache, CLIPS)
    intake, data = tmp_path / "intake", tmp_path / "data"
    (intake / "warm").mkdir(parents=True)
    env = {**os.environ, "NEUROPOSE_POSTGRES_URL": postgres_url, "NEUROPOSE_RUN_WORKERS": "warm"}
    cli = str(Path(sys.executable).parent / "neuropose-assets")
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            running_ui(
                intake,
                data,
                offset=91,
                NEUROPOSE_POSTGRES_URL=postgres_url,
                NEUROPOSE_RUN_WORKERS="warm",
                NEUROPOSE_LOCAL_RUN_WORKERS="0",  # runs go only to the worker hosts
                NEUROPOSE_POSE_SLOTS="2",
                NEUROPOSE_COHORT_INTERVAL_SECONDS="600",
            )
        )
        for host in ("hostA", "hostB"):
            cmd = [cli, "worker", "--nworkers", "1", "--name", host, "--data-root", str(data)]
            stack.enter_context(_group(cmd, env, tmp_path / f"{host}.log"))
        (intake / "warm" / "protocol.yaml").write_text("task: gait\ncamera_view: oblique\n")
        for key, path in clips.items():
            os.link(path, intake / "warm" / f"{key}.mp4")
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", postgres_url)
        monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")
        inst = DagsterInstance.get()
        keys = {f"warm-{k}" for k in clips}

        runs = _wait(lambda: _finished(inst, keys), 480)
        logs = {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs), (
            [(r.tags.get("dagster/partition"), r.status) for r in runs or []],
            logs,
        )
        health = subprocess.run([cli, "health", "--data-root", str(data)], capture_output=True, text=True, env=env)
        assert "2 started by `neuropose-assets worker`: hostA-1@" in health.stdout, health.stdout  # their heartbeats
        per_video_keys = {k for a in PER_VIDEO_ASSETS for k in a.keys}
        workers, loads = set(), []
        for key in sorted(keys):
            for asset_key in per_video_keys:
                ours = [m for m in inst.fetch_materializations(asset_key, limit=100).records if m.partition_key == key]
                assert ours, f"{asset_key.to_user_string()} not materialized for {key}"
                if asset_key == AssetKey("poses"):
                    meta = ours[0].asset_materialization.metadata
                    workers.add(meta["worker"].value.split("-")[0])
                    loads.append(meta["model_load_s"].value)
            assert Layout(data).asset_file("outcomes", key).exists()
        # every check of every clip was evaluated, and none failed with ERROR severity (short clips legitimately warn:
        # e.g. no full gait cycle in 1.7 s)
        evals = inst.get_event_records(EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION), limit=10000)
        by = {}
        for rec in evals:
            e = rec.event_log_entry.dagster_event.event_specific_data
            if e.partition in keys:
                by[(e.asset_key, e.check_name, e.partition)] = e.passed or e.severity.value == "WARN"
        n_specs = sum(1 for c in CHECKS if AssetKey(c.asset) in per_video_keys)
        assert len(by) == n_specs * len(keys), (len(by), n_specs)
        assert all(by.values()), [k for k, v in by.items() if not v]
        assert workers == {"hostA", "hostB"}, workers  # the cohort was spread over both hosts
        assert loads == [0.0] * len(keys), loads  # loaded by each worker at its start, once
        assert len({r.tags["neuropose/worker_pid"] for r in runs}) == 2
        beats = sorted(p.name for p in (data / "dagster_home" / "run_workers").glob("*.json"))
        assert len(beats) == 2, beats  # each worker beats (run monitoring judges a remote run by it)
    # the same clip analysed on one machine, in one process, gives the same tables, to the bit
    local = tmp_path / "local"
    key = "warm-pose2sim_single_cam01"
    res = subprocess.run(
        [cli, "run", str(clips["pose2sim_single_cam01"]), "--task", "gait", "--param", "camera_view=oblique"]
        + ["--key", key, "--no-review", "--data-root", str(local)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("NEUROPOSE_POSTGRES_URL", "NEUROPOSE_RUN_WORKERS")},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    import polars as pl

    for asset in ("poses", "features", "events", "outcomes"):
        a, b = (pl.read_parquet(Layout(r).asset_file(asset, key)) for r in (data, local))
        assert a.equals(b), asset
