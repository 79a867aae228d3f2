"""Warm run workers (neuropose_assets/warm.py): the instance's launcher, its broker in the instance's own database,
and its health verdicts; the workers themselves run in cli/test_daemon.py."""

import subprocess
import sys

import dagster as dg
import yaml


def test_warm_mode_swaps_only_the_run_launcher_and_the_broker_follows_the_storage(tmp_path, monkeypatch):
    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import ensure_dagster_home, instance_yaml
    from neuropose_assets.warm import WarmRunLauncher, app_args, celery_urls

    fresh = yaml.safe_load(instance_yaml())
    monkeypatch.setenv("NEUROPOSE_RUN_WORKERS", "warm")
    warm = yaml.safe_load(instance_yaml())
    assert warm["run_launcher"] == {"module": "neuropose_assets.warm", "class": "WarmRunLauncher"}
    assert {k: v for k, v in warm.items() if k != "run_launcher"} == {
        k: v for k, v in fresh.items() if k != "run_launcher"
    }  # run monitoring, retries, pools: as before
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
    assert "postgres" in yaml.safe_load(instance_yaml())["storage"]


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
