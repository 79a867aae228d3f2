"""Privacy by default when pseudonymised (``NEUROPOSE_PSEUDONYMISE=all``): through the real daemon (`neuropose-assets
ui`), `ingest` (an archive with a task declared) and a headless `run`, a patient's name — in the cohort folder, the
file names, archive member paths, ``--cohort`` — appears nowhere under the data root (outputs, registry, the SQLite
instance with its event log, sensor ticks and run tags, compute logs, reports) except in ``private/``; everything is
owner-only; a cohort spelt in other case on the command line is the same cohort.  The PostgreSQL instance is checked
the same way in test_postgres.py (:func:`assert_no_name_under`, :func:`names_in_postgres`)."""

import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from neuropose_assets_tests import media
from neuropose_assets_tests.cli.test_daemon import _wait, running_ui

pytestmark = pytest.mark.e2e
#: the "patient": in the cohort folder, the file names, the archive's member paths and --cohort
NAMES = ("Janique", "Doeberlin")


def assert_no_name_under(data: Path, names=NAMES, *, skip=("private",)) -> None:
    """No file or folder name and no file content under ``data`` (except ``skip``) contains any of ``names``
    (case-insensitive); every entry is owner-only."""
    leaks, loose = [], []
    low = [n.lower() for n in names]
    for p in data.rglob("*"):
        rel = p.relative_to(data)
        if rel.parts[0] in skip:
            continue
        if any(n in str(rel).lower() for n in low):
            leaks.append(str(rel))
        mode = stat.S_IMODE(p.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{rel} {oct(mode)}")
        if p.is_file() and any(n.encode() in p.read_bytes().lower() for n in low):
            leaks.append(f"{rel} (content)")
    assert not leaks, leaks
    assert not loose, loose[:20]


def names_in_postgres(url: str, names=NAMES) -> list[str]:
    """``table.column`` of every text value in the database at ``url`` that contains one of ``names``."""
    import psycopg2

    found = []
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'public' "
            "and data_type in ('text', 'character varying', 'json', 'jsonb')"
        )
        for table, column in cur.fetchall():
            for name in names:
                cur.execute(f'select count(*) from "{table}" where "{column}"::text ilike %s', (f"%{name}%",))
                if cur.fetchone()[0]:
                    found.append(f"{table}.{column} ({name})")
    return found


def test_a_pseudonymised_delivery_ingest_and_run_leave_no_name_outside_private(tmp_path, cam01, monkeypatch):
    from dagster import DagsterInstance, DagsterRunStatus

    intake, data = tmp_path / "intake", tmp_path / "data"
    cohort = "Janique_Doeberlin_2026"
    folder = intake / cohort / "S01"
    folder.mkdir(parents=True)
    media.ffmpeg("-i", str(cam01), "-frames:v", "20", "-c", "copy", str(tmp_path / "walk.mp4"))
    media.ffmpeg("-i", str(cam01), "-frames:v", "24", "-c", "copy", str(tmp_path / "arm.mp4"))
    media.ffmpeg("-i", str(cam01), "-frames:v", "22", "-c", "copy", str(tmp_path / f"{cohort}_cli.mp4"))
    (tmp_path / "notes.mp4").write_text("Janique Doeberlin, session notes\n" * 50)  # not a video: fails its partition
    archive = tmp_path / "janique.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(tmp_path / "arm.mp4", f"S02/{cohort}_arm.mp4")
    env = {**os.environ, "NEUROPOSE_PSEUDONYMISE": "all", "NEUROPOSE_INTAKE": str(intake)}
    cli = [sys.executable, "-m", "neuropose_assets.cli"]
    with running_ui(intake, data, offset=7, NEUROPOSE_PSEUDONYMISE="all"):
        # a headless run of a named file into the named cohort, next to the daemon — first, so that the cohort table
        # it builds is older than the daemon's outcomes and the cohort sensor must refresh it (a second cohort run;
        # the other order races: a table built after every outcome is up to date, and the sensor rightly skips it)
        res = subprocess.run(
            [
                *cli,
                "run",
                str(tmp_path / f"{cohort}_cli.mp4"),
                "--cohort",
                cohort,
                "--task",
                "generic",
                "--data-root",
                str(data),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        assert res.returncode == 0, res.stderr[-3000:]
        os.replace(tmp_path / "walk.mp4", folder / "Janique_Doeberlin_walk.mp4")
        os.replace(tmp_path / "notes.mp4", folder / "Janique_Doeberlin_notes.mp4")
        # the archive into the same cohort, named in lower case, with a task: one cohort folder, one cohort key
        res = subprocess.run(
            [*cli, "ingest", str(archive), "--cohort", cohort.lower(), "--task", "arm_raise", "--data-root", str(data)],
            capture_output=True,
            text=True,
            env=env,
        )
        assert res.returncode == 0, res.stderr
        assert sorted(p.name for p in intake.iterdir()) == [cohort]
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        inst = DagsterInstance.get()

        def finished():
            runs = [r for r in inst.get_runs() if r.job_name == "per_video_job"]
            done = [r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)]
            cohort_runs = [
                r for r in inst.get_runs() if r.job_name == "cohort_job" and r.status == DagsterRunStatus.SUCCESS
            ]
            return len(done) == 4 and len(cohort_runs) >= 2 and done

        runs = _wait(finished, 300)
        assert runs, " ".join(f"{r.job_name}:{r.status.value}" for r in inst.get_runs())
        assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS", "SUCCESS", "SUCCESS"]
        (key,) = inst.get_dynamic_partitions("cohorts")  # the folder, --cohort in lower case and as typed: one
        assert key.startswith("c") and all(r.tags.get("cohort", key) == key for r in inst.get_runs())
        time.sleep(4)  # one more sensor tick, so that its logs are written too
    import polars as pl

    tasks = pl.concat([pl.read_parquet(p) for p in (data / "assets" / "task").glob("*.parquet")])
    arm = tasks.filter(pl.col("task") == "arm_raise")
    assert arm.height == 1 and arm["declared_by"][0] == "protocol.yaml rule 1", arm["declared_by"]
    assert_no_name_under(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    manifest = (data / "private" / "pseudonyms.json").read_bytes()
    assert b"Janique_Doeberlin_2026" in manifest  # authorised staff can map back
