"""Many machines, tested on one: a dask scheduler and two `neuropose-assets worker` hosts (separate processes on
127.0.0.1), the instance on a real PostgreSQL server, and `neuropose-assets ui --dask-scheduler`.  A cohort of real
sample clips dropped into the intake folder is spread over both workers by the daemon's runs; every per-video asset
and check of every clip is verified, and the pose model was loaded once per worker, not once per video."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from neuropose_assets.core.io.storage import Layout
from neuropose_assets.dagster_defs.distributed import POSES_OP_TAGS, worker_command, worker_plan

pytestmark = pytest.mark.e2e
CLIPS = ["pose2sim_single_cam01", "pose2sim_single_cam02", "pose2sim_single_cam03", "pose2sim_single_cam04"]


def test_worker_plan_follows_the_pose_slots(monkeypatch):
    monkeypatch.delenv("NEUROPOSE_POSE_SLOTS", raising=False)
    [(env, cmd)] = worker_plan("tcp://h:8786", backend="blazepose", gpus=0)
    assert env == {"NEUROPOSE_DASK_SCHEDULER": "tcp://h:8786"}
    assert cmd[cmd.index("--nworkers") + 1] == str(os.cpu_count())
    assert cmd[cmd.index("--nthreads") + 1] == "1" and cmd[cmd.index("--resources") + 1] == "POSE=1"
    gpu = worker_plan("tcp://h:8786", backend="metrabs", gpus=2, visible_devices="3,5", name="gpuhost")
    assert [e["CUDA_VISIBLE_DEVICES"] for e, _ in gpu] == ["3", "5"]
    assert all(c[c.index("--nworkers") + 1] == "1" for _, c in gpu) and gpu[1][1][-1] == "gpuhost-gpu5"
    [(_, cpu)] = worker_plan("tcp://h:8786", backend="metrabs", gpus=0)
    assert cpu[cpu.index("--nworkers") + 1] == "1"  # TensorFlow on the CPU: one estimation per host
    monkeypatch.setenv("NEUROPOSE_POSE_SLOTS", "3")
    [(_, cmd)] = worker_plan("tcp://h:8786", backend="blazepose", gpus=0)
    assert cmd[cmd.index("--nworkers") + 1] == "3"
    with pytest.raises(ValueError, match="at least 1"):
        worker_command("tcp://h:8786", nworkers=0)
    assert POSES_OP_TAGS == {"dagster-dask/resource_requirements": '{"POSE": 1}'}


def test_health_fails_when_the_scheduler_is_missing(monkeypatch):
    from neuropose_assets.health import _dask_cluster

    monkeypatch.delenv("NEUROPOSE_DASK_SCHEDULER", raising=False)
    assert _dask_cluster() == []
    monkeypatch.setenv("NEUROPOSE_DASK_SCHEDULER", f"tcp://127.0.0.1:{_free_port()}")
    [check] = _dask_cluster()
    assert check.status == "fail" and "does not answer" in check.detail


def test_the_executor_is_chosen_by_the_environment(monkeypatch):
    import dagster as dg

    from neuropose_assets.dagster_defs.distributed import per_video_executor

    monkeypatch.delenv("NEUROPOSE_DASK_SCHEDULER", raising=False)
    assert per_video_executor() is dg.in_process_executor
    monkeypatch.setenv("NEUROPOSE_DASK_SCHEDULER", "tcp://127.0.0.1:1")
    assert per_video_executor().name == "dask"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_a_cohort_runs_across_two_dask_workers_on_postgres(postgres_url, tmp_path, sample_cache, monkeypatch):
    from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, EventRecordsFilter
    from distributed import Client

    from neuropose_assets.core.io.samples import fetch_samples
    from neuropose_assets.dagster_defs.checks import CHECKS
    from neuropose_assets.definitions import PER_VIDEO_ASSETS
    from neuropose_assets_tests.cli.test_daemon import _wait, running_ui

    clips = fetch_samples(sample_cache, CLIPS)
    intake, data = tmp_path / "intake", tmp_path / "data"
    (intake / "dist").mkdir(parents=True)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "NEUROPOSE_POSTGRES_URL": postgres_url, "NEUROPOSE_POSE_SLOTS": "2"}
    cli = str(Path(sys.executable).parent / "neuropose-assets")
    scheduler = [
        sys.executable,
        "-m",
        "distributed.cli.dask_scheduler",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-dashboard",
    ]
    with contextlib.ExitStack() as stack:
        stack.enter_context(_group(scheduler, env, tmp_path / "scheduler.log"))
        for host in ("hostA", "hostB"):  # two "hosts", one worker process each
            stack.enter_context(
                _group(
                    [cli, "worker", address, "--nworkers", "1", "--name", host, "--data-root", str(data)],
                    env,
                    tmp_path / f"{host}.log",
                )
            )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=180)  # each has imported the code location and loaded BlazePose
            assert sorted(w["name"] for w in client.scheduler_info()["workers"].values()) == ["hostA", "hostB"]
        stack.enter_context(
            running_ui(
                intake,
                data,
                offset=77,
                NEUROPOSE_POSTGRES_URL=postgres_url,
                NEUROPOSE_DASK_SCHEDULER=address,
                NEUROPOSE_COHORT_INTERVAL_SECONDS="600",
            )
        )
        (intake / "dist" / "protocol.yaml").write_text("task: gait\ncamera_view: oblique\n")
        for key, path in clips.items():
            os.link(path, intake / "dist" / f"{key}.mp4")
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", postgres_url)
        inst = DagsterInstance.get()
        keys = {f"dist-{k}" for k in clips}

        runs = _wait(lambda: _finished(inst, keys), 600)
        logs = {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}
        assert runs, logs
        failures = [
            (
                r.tags.get("dagster/partition"),
                r.status.value,
                [
                    (e.message, str(getattr(e.dagster_event.event_specific_data, "error", ""))[-1500:])
                    for e in inst.all_logs(r.run_id)
                    if e.is_dagster_event and e.dagster_event.is_failure
                ][:3],
            )
            for r in runs
            if r.status != DagsterRunStatus.SUCCESS
        ]
        assert not failures, (failures, logs)

        health = subprocess.run(
            [cli, "health", "--data-root", str(data)],
            capture_output=True,
            text=True,
            env={**env, "NEUROPOSE_DASK_SCHEDULER": address},
        )
        assert "ok    dask" in health.stdout and "2 worker process(es), 2 pose estimation(s)" in health.stdout, (
            health.stdout
        )
        layout = Layout(data)
        per_video_keys = {k for a in PER_VIDEO_ASSETS for k in a.keys}
        workers, loads = set(), []
        for key in sorted(keys):
            for asset_key in per_video_keys:
                mats = inst.fetch_materializations(asset_key, limit=100).records
                ours = [m for m in mats if m.partition_key == key]
                assert ours, f"{asset_key.to_user_string()} not materialized for {key}"
                if asset_key == AssetKey("poses"):
                    meta = ours[0].asset_materialization.metadata
                    workers.add(meta["worker"].value.split(" ")[0])
                    loads.append(meta["model_load_s"].value)
            assert layout.asset_file("outcomes", key).exists() and layout.asset_file("features", key).exists()
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
        assert loads == [0.0] * len(keys), loads  # the model was loaded by each worker's preload, once
    # the same clip analysed on one machine, in one process, gives the same tables, to the bit
    local = tmp_path / "local"
    res = subprocess.run(
        [
            cli,
            "run",
            str(clips["pose2sim_single_cam01"]),
            "--task",
            "gait",
            "--param",
            "camera_view=oblique",
            "--key",
            "dist-pose2sim_single_cam01",
            "--no-review",
            "--data-root",
            str(local),
        ],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "NEUROPOSE_POSTGRES_URL"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    import polars as pl

    for asset in ("poses", "features", "events", "outcomes"):
        a, b = (pl.read_parquet(Layout(r).asset_file(asset, "dist-pose2sim_single_cam01")) for r in (data, local))
        assert a.equals(b), asset


def test_a_cohort_runs_across_two_warm_worker_hosts_on_postgres(postgres_url, tmp_path, sample_cache, monkeypatch):
    """Warm run workers on two "hosts" (two `neuropose-assets worker --warm` processes, as other machines would start
    them, none on the UI host) take the runs of one instance on PostgreSQL from its queue; every output is there,
    every check evaluated, and each host estimated one clip with its model already loaded."""
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus

    from neuropose_assets.core.io.samples import fetch_samples
    from neuropose_assets.definitions import PER_VIDEO_ASSETS
    from neuropose_assets_tests.cli.test_daemon import _wait, running_ui

    clips = fetch_samples(sample_cache, CLIPS[:2])
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
            cmd = [cli, "worker", "--warm", "--nworkers", "1", "--name", host, "--data-root", str(data)]
            stack.enter_context(_group(cmd, env, tmp_path / f"{host}.log"))
        (intake / "warm" / "protocol.yaml").write_text("task: gait\ncamera_view: oblique\n")
        for key, path in clips.items():
            os.link(path, intake / "warm" / f"{key}.mp4")
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", postgres_url)
        monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")
        inst = DagsterInstance.get()
        keys = {f"warm-{k}" for k in clips}

        runs = _wait(lambda: _finished(inst, keys), 300)
        logs = {p.name: p.read_text(errors="replace")[-3000:] for p in tmp_path.glob("*.log")}
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs), (
            [(r.tags.get("dagster/partition"), r.status) for r in runs or []],
            logs,
        )
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
        assert workers == {"hostA", "hostB"}, workers  # one clip on each host
        assert loads == [0.0] * len(keys), loads  # loaded by each worker at its start
        assert len({r.tags["neuropose/worker_pid"] for r in runs}) == 2
