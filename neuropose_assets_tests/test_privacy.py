"""Privacy by default when pseudonymised: through the real daemon (``neuropose-assets ui``), a patient's name in the
cohort folder and the file names appears nowhere under the data root — outputs, registry, the Dagster instance (event
log, sensor ticks, compute logs) — except in ``private/``; everything is owner-only."""

import os
import stat
import time

import pytest

from neuropose_assets_tests import media
from neuropose_assets_tests.test_daemon import _wait, running_ui

pytestmark = pytest.mark.e2e
NAME = "Mueller"  # the "patient": in the cohort folder and in both file names


def test_a_pseudonymised_run_leaves_no_name_outside_private(tmp_path, cam01, monkeypatch):
    from dagster import DagsterInstance, DagsterRunStatus

    intake, data = tmp_path / "intake", tmp_path / "data"
    folder = intake / f"{NAME}_Hans_2026" / "S01"
    folder.mkdir(parents=True)
    media.ffmpeg("-i", str(cam01), "-frames:v", "20", "-c", "copy", str(tmp_path / "walk.mp4"))
    (tmp_path / "notes.mp4").write_text(f"{NAME} Hans, session notes\n" * 50)  # not a video: fails its partition
    with running_ui(intake, data, offset=7, NEUROPOSE_PSEUDONYMISE="all"):
        os.replace(tmp_path / "walk.mp4", folder / f"{NAME}_Hans_walk.mp4")
        os.replace(tmp_path / "notes.mp4", folder / f"{NAME}_Hans_notes.mp4")
        monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
        inst = DagsterInstance.get()

        def finished():
            runs = [r for r in inst.get_runs() if r.job_name == "per_video_job"]
            done = [r for r in runs if r.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE)]
            cohort = [r for r in inst.get_runs() if r.job_name == "cohort_job" and r.status == DagsterRunStatus.SUCCESS]
            return len(done) == 2 and cohort and done

        runs = _wait(finished, 300)
        assert runs, [(r.job_name, r.status) for r in inst.get_runs()]
        assert sorted(r.status.value for r in runs) == ["FAILURE", "SUCCESS"]
        time.sleep(4)  # one more sensor tick, so that its logs are written too

    leaks, loose = [], []
    for p in data.rglob("*"):
        rel = p.relative_to(data)
        if NAME.lower() in str(rel).lower() and rel.parts[0] != "private":
            leaks.append(str(rel))
        mode = stat.S_IMODE(p.lstat().st_mode)
        if mode & 0o077:
            loose.append(f"{rel} {oct(mode)}")
        if p.is_file() and rel.parts[0] != "private" and NAME.lower().encode() in p.read_bytes().lower():
            leaks.append(f"{rel} (content)")
    assert not leaks, leaks
    assert not loose, loose[:20]
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert NAME.encode() in (data / "private" / "pseudonyms.json").read_bytes()  # authorised staff can map back
