"""Warm run workers (neuropose_assets/warm.py): the instance's launcher, its broker in the instance's own database,
and its health verdicts; the workers themselves run in cli/test_daemon.py."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml


def test_warm_mode_swaps_only_the_run_launcher_and_the_broker_follows_the_storage(tmp_path, monkeypatch):
    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import ensure_dagster_home, instance_yaml
    from neuropose_assets.warm import WarmRunLauncher, app_args, celery_urls

    monkeypatch.setenv("NEUROPOSE_POSE_SLOTS", "3")
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "fresh")
    fresh = yaml.safe_load(instance_yaml())
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")
    warm = yaml.safe_load(instance_yaml())
    assert warm["run_launcher"] == {"module": "neuropose_assets.warm", "class": "WarmRunLauncher"}
    # runs in flight = the workers (one per pose slot): a launched run never waits STARTING for a busy worker
    assert fresh["concurrency"]["runs"]["max_concurrent_runs"] == 4
    assert warm["concurrency"]["runs"]["max_concurrent_runs"] == 3
    warm["concurrency"]["runs"]["max_concurrent_runs"] = 4
    assert {k: v for k, v in warm.items() if k != "run_launcher"} == {
        k: v for k, v in fresh.items() if k != "run_launcher"
    }  # run monitoring, retries, pools: as before
    monkeypatch.delenv("NEUROPOSE_POSE_SLOTS")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    home = ensure_dagster_home(Layout(tmp_path / "data"))
    assert celery_urls() == (
        f"sqla+sqlite:///{home / 'celery-broker.db'}",
        f"db+sqlite:///{home / 'celery-results.db'}",
    )
    with dg.DagsterInstance.from_config(str(home)) as inst:
        assert isinstance(inst.run_launcher, WarmRunLauncher) and inst.run_launcher.supports_check_run_worker_health
        assert inst.run_launcher.celery.conf.worker_prefetch_multiplier == 1
    monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", "postgresql://u:p@db:5432/np")
    assert celery_urls() == ("sqla+postgresql://u:p@db:5432/np", "db+postgresql://u:p@db:5432/np")
    assert app_args()["task_default_queue"] == "dagster"
    assert yaml.safe_load(instance_yaml())["run_storage"]["module"] == "dagster_postgres.run_storage"


def test_a_run_in_a_dead_worker_fails_a_queued_one_waits(tmp_path, monkeypatch):
    from dagster._core.events import EngineEventData
    from dagster._core.launcher.base import WorkerStatus

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    overrides = {"run_launcher": {"module": "neuropose_assets.warm", "class": "WarmRunLauncher"}}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as inst:
        launcher = inst.run_launcher
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        run = inst.create_run_for_job(dg.GraphDefinition("g").to_job())
        inst.report_engine_event(
            f"Started process for run (pid: {worker.pid}).", run, EngineEventData.in_process(worker.pid)
        )
        try:
            assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        finally:
            worker.kill()
            worker.wait()
        assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED
        queued = inst.create_run_for_job(
            dg.GraphDefinition("g").to_job(), tags={"dagster-celery/task_id": "not-started-yet"}
        )  # no worker has it yet: Celery's state (PENDING) decides, which monitoring does not fail at once
        assert launcher.check_run_worker_health(queued).status == WorkerStatus.UNKNOWN


def test_a_run_on_another_host_fails_when_its_worker_goes_silent(tmp_path, monkeypatch):
    """A run executing on another host is judged by its worker's heartbeat file in the shared instance folder: fresh
    → running, older than SILENT_S (the host went down) → failed, so the retry goes to a live worker."""
    import json
    import time

    from dagster._core.launcher.base import WorkerStatus

    from neuropose_assets.run_launcher import (
        HOST_TAG,
        PID_TAG,
        SILENT_S,
        heartbeat_file,
        read_heartbeats,
        write_heartbeat,
    )

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    overrides = {"run_launcher": {"module": "neuropose_assets.warm", "class": "WarmRunLauncher"}}
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as inst:
        launcher = inst.run_launcher
        tags = {HOST_TAG: "nodeB", PID_TAG: "4711", "dagster-celery/task_id": "t1"}
        run = inst.create_run_for_job(dg.GraphDefinition("g").to_job(), tags=tags)
        beat = heartbeat_file(inst.root_directory, "nodeB", 4711)
        beat.parent.mkdir(parents=True, exist_ok=True)
        beat.write_text(json.dumps({"node": "hostB-1@nodeB", "host": "nodeB", "pid": 4711, "beat": time.time() - 3}))
        verdict = launcher.check_run_worker_health(run)
        assert verdict.status == WorkerStatus.RUNNING and "hostB-1@nodeB" in verdict.msg
        beat.write_text(json.dumps({"node": "hostB-1@nodeB", "host": "nodeB", "pid": 4711, "beat": time.time() - 90}))
        verdict = launcher.check_run_worker_health(run)
        assert verdict.status == WorkerStatus.FAILED and "silent for 90 s" in verdict.msg
        beat.unlink()  # no heartbeat at all: not judged from here (Celery's state of the task decides)
        assert launcher.check_run_worker_health(run).status != WorkerStatus.FAILED
    # the writer and the reader agree; a foreign file is ignored; a dead worker of this host is cleared at next start
    import socket

    from neuropose_assets.run_launcher import clear_dead_heartbeats

    mine = write_heartbeat(tmp_path, "run-1@here")
    (mine.parent / "junk.json").write_text("{not json")
    [record] = read_heartbeats(tmp_path, now=time.time() + SILENT_S + 1)
    assert record["node"] == "run-1@here" and record["age_s"] > SILENT_S
    dead = heartbeat_file(tmp_path, socket.gethostname(), 2**22 + 7)  # above the kernel's largest pid
    dead.write_text(mine.read_text())
    assert clear_dead_heartbeats(tmp_path) == [dead] and mine.exists() and not dead.exists()


def test_warm_worker_plan_follows_the_pose_slots_and_pins_one_gpu_each(monkeypatch):
    from neuropose_assets.service.supervise import warm_worker_plan

    monkeypatch.delenv("NEUROPOSE_POSE_SLOTS", raising=False)
    plan = warm_worker_plan("hostA", "blazepose", gpus=0, slots=None)
    assert list(plan) == [f"hostA-{i}" for i in range(1, __import__("os").cpu_count() + 1)]
    env, cmd = plan["hostA-1"]
    assert env == {} and cmd[cmd.index("-n") + 1] == "hostA-1@%h" and cmd[cmd.index("--pool") + 1] == "solo"
    gpu = warm_worker_plan("gpuhost", "metrabs", gpus=2, visible_devices="3,5")
    assert {k: e for k, (e, _) in gpu.items()} == {
        "gpuhost-gpu3": {"CUDA_VISIBLE_DEVICES": "3"},
        "gpuhost-gpu5": {"CUDA_VISIBLE_DEVICES": "5"},
    }
    assert list(warm_worker_plan("h", "metrabs", gpus=0)) == ["h-1"]  # TensorFlow on the CPU: one per host
    assert list(warm_worker_plan("run", "blazepose", nworkers=0)) == []  # a UI host whose runs go elsewhere
    monkeypatch.setenv("NEUROPOSE_POSE_SLOTS", "3")
    assert len(warm_worker_plan("h", "blazepose", gpus=0)) == 3


def test_health_counts_warm_workers_on_other_hosts_by_their_heartbeats(tmp_path, monkeypatch):
    import json
    import time

    from neuropose_assets.health import _run_workers
    from neuropose_assets.run_launcher import heartbeat_file

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")
    monkeypatch.setenv("NEUROPOSE_POSE_SLOTS", "1")
    from neuropose_assets.instance import instance_yaml

    (tmp_path / "dagster.yaml").write_bytes(instance_yaml())  # as the UI host writes it: 1 run in flight
    [check] = _run_workers({"children": {}}, True)
    assert check.status == "fail" and "no warm run worker takes runs" in check.detail
    for host, age in (("nodeA", 2), ("nodeB", 500)):
        path = heartbeat_file(tmp_path, host, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"node": f"w@{host}", "host": host, "pid": 1, "beat": time.time() - age}))
    [check] = _run_workers({"children": {}}, True)
    assert check.status == "warn" and "1 started by `neuropose-assets worker`: w@nodeA" in check.detail
    assert "silent (host down?): w@nodeB" in check.detail and "launches up to" not in check.detail
    monkeypatch.setenv("NEUROPOSE_POSE_SLOTS", "3")  # a wrong total on the UI host: more runs than workers
    (tmp_path / "dagster.yaml").write_bytes(instance_yaml())
    monkeypatch.delenv("NEUROPOSE_POSE_SLOTS")  # `health` run without the UI host's variables reads the instance
    [check] = _run_workers({"children": {}}, True)
    assert check.status == "warn" and "launches up to 3 runs at once" in check.detail and "1 worker(s)" in check.detail


def test_health_warns_when_the_warm_workers_hold_the_machines_memory(tmp_path, monkeypatch):
    """Each warm worker keeps a pose model resident: too many pose slots for the memory is a warning naming the fix."""
    import os
    from collections import namedtuple

    import psutil

    from neuropose_assets.health import _run_workers

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")
    ui = {"children": {"run worker 1": {"pid": os.getpid()}}}  # this process stands in for a worker
    rss = psutil.Process().memory_info().rss
    vm = namedtuple("vm", "total available")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(rss * 100, rss * 50))  # plenty
    [check] = _run_workers(ui, True)
    assert check.status == "ok", check.detail
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(int(rss * 1.5), int(rss * 0.5)))  # holds 2/3 of it
    [check] = _run_workers(ui, True)
    assert check.status == "warn" and "warm run worker(s) hold" in check.detail
    assert "lower NEUROPOSE_POSE_SLOTS" in check.detail and "NEUROPOSE_RUN_WORKERS=fresh" in check.detail
    monkeypatch.setattr(psutil, "virtual_memory", lambda: vm(rss * 100, rss))  # a small share, but memory is short
    [check] = _run_workers(ui, True)
    assert check.status == "warn" and "GiB available" in check.detail


def test_an_orphaned_worker_finishes_its_run_then_stops(tmp_path, monkeypatch):
    """When its supervisor is gone, a warm worker sends itself SIGTERM (Celery's warm shutdown) at the first beat
    outside a run, never during one (a second interrupt would fail the run); it beats until then."""
    import os
    import threading

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    from neuropose_assets import warm_worker
    from neuropose_assets.run_launcher import read_heartbeats

    parents = iter([1000] + [1] * 1000)  # the supervisor at start, then init: orphaned
    monkeypatch.setattr(os, "getppid", lambda: next(parents))
    signals: list[int] = []
    stop = threading.Event()

    def kill(pid, sig):
        assert pid == os.getpid()
        signals.append(sig)
        stop.set()

    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr("neuropose_assets.run_launcher.HEARTBEAT_S", 0.05)
    warm_worker._IN_RUN.set()  # a run in progress: no signal, the beats go on
    beating = threading.Thread(target=warm_worker._beat, args=("w@h", stop))
    beating.start()
    beating.join(0.5)
    assert beating.is_alive() and signals == [] and read_heartbeats(tmp_path)[0]["node"] == "w@h"
    warm_worker._run_ended()  # the run ended: the next beat stops the worker
    beating.join(5)
    assert not beating.is_alive() and len(signals) == 1


def test_a_warm_worker_imports_what_its_runs_import_on_first_use():
    """Every module the assets, checks and IO manager import inside their functions is loaded by
    ``import_run_modules`` (a warm worker's start, after the code location), so a worker's first video does not pay
    for it — in a fresh interpreter, where the code location alone leaves the contracts and the science unloaded; and
    no heavy library comes with them."""
    import ast
    import json

    import neuropose_assets.dagster_defs as defs_pkg

    lazy = set()
    for path in Path(defs_pkg.__path__[0]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.ImportFrom) and sub.level == 0:
                        lazy.add(sub.module)
                    elif isinstance(sub, ast.Import):
                        lazy.update(alias.name for alias in sub.names)
    code = f"""
import json, sys
lazy = {sorted(lazy)!r}
import neuropose_assets.definitions  # the code location, as a warm worker imports it
before = [m for m in lazy if m in sys.modules]
from neuropose_assets.warm import import_run_modules
import_run_modules()
heavy = [m for m in ("tensorflow", "mediapipe", "matplotlib", "tslearn", "numba") if m in sys.modules]
print(json.dumps([before, [m for m in lazy if m not in sys.modules], heavy]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, missing, heavy = json.loads(out.stdout.strip().splitlines()[-1])
    late = {"data_contracts", "neuropose_assets.core.analysis.outcomes", "neuropose_assets.core.interop.mocap"}
    assert late <= lazy and not late & set(before)  # a worker without import_run_modules imports these in its run
    assert missing == [] and heavy == []
