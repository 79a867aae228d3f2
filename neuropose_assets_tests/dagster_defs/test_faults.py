"""Faulty deliveries through the intake sensor and real runs: each fails or is flagged with an actionable message,
while the sensor and every other partition keep going."""

import re
import shutil

import dagster as dg
import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.io.storage import Layout
from neuropose_assets.dagster_defs.sensors import evaluate_intake
from neuropose_assets.service.runs import failure_message
from neuropose_assets_tests import media
from neuropose_assets_tests.conftest import write_video

pytestmark = pytest.mark.e2e

FAILS = {
    "faults-truncated": "could not be opened as a video|no picture",
    "faults-truncated_index_first": r"Only \d+ of the 100 frames .* is truncated",
    "faults-zero_bytes": r"is empty \(0 bytes\)",
    "faults-notes_not_a_video": "could not be opened as a video|no picture",
    "faults-audio_only": "could not be opened as a video|no picture",
    "faults-empty_room": "No person was detected",
    "faults-photo": "is a JPEG picture, not a video",
    "faults-screenshot": "is a PNG picture, not a video",
}
LONG = "a" * 240  # a 244-character file name (the staging copy once carried it and failed with "File name too long")
SUCCEEDS = (
    "good-cam01",
    "faults-rotated_phone",
    "faults-variable_rate",
    "faults-uhd_4k",
    "faults-unicode_trial_a",
    "faults-copy_of_cam01",
    f"faults-{LONG}"[:128],
    "faults-cut_at_97",
)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory, cam01):
    tmp = tmp_path_factory.mktemp("faults")
    intake = tmp / "intake"
    (intake / "good").mkdir(parents=True)
    f = intake / "faults"
    f.mkdir()
    shutil.copyfile(cam01, intake / "good" / "cam01.mp4")
    shutil.copyfile(cam01, f / "copy of cam01.mp4")
    media.truncated(cam01, f / "truncated.mp4")
    media.truncated_index_first(cam01, f / "truncated index first.mp4")
    media.truncated_index_first(cam01, f / "cut at 97.mp4", fraction=0.97)  # a few frames lost: analysed, WARN
    import cv2

    frame = np.full((120, 160, 3), 128, np.uint8)
    cv2.imwrite(str(tmp / "photo.jpg"), frame)
    cv2.imwrite(str(tmp / "screenshot.png"), frame)
    shutil.copyfile(tmp / "photo.jpg", f / "photo.mp4")  # pictures renamed: FFmpeg reads them as 1-frame videos
    shutil.copyfile(tmp / "screenshot.png", f / "screenshot.mov")
    import os

    os.mkfifo(f / "pipe.mp4")  # a named pipe: never opened (it would block the sensor), reported once
    media.ffmpeg("-i", str(cam01), "-frames:v", "20", "-c", "copy", str(f / f"{LONG}.mp4"))
    (f / "zero bytes.mp4").write_bytes(b"")
    (f / "notes (not a video).mp4").write_text("session notes\n" * 300)
    media.audio_only(f / "audio only.mp4")
    media.rotated_phone_video(cam01, f / "rotated phone.mp4")
    media.variable_frame_rate_video(cam01, f / "variable rate.mp4")
    media.uhd_video(cam01, f / "uhd 4k.mp4")
    media.ffmpeg(
        "-i",
        str(cam01),
        "-frames:v",
        "30",
        "-vf",
        "scale=iw/2:ih/2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        str(f / "Ünïcode trial ä.mp4"),
    )
    rng = np.random.default_rng(0)
    write_video(
        f / "empty room.mp4", [np.clip(rng.normal(90, 10, (120, 160, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    )
    layout = Layout(tmp / "data")
    mp = pytest.MonkeyPatch()
    mp.setenv("NEUROPOSE_INTAKE", str(intake))
    from neuropose_assets.definitions import build_defs

    defs = build_defs(str(layout.root))
    with dg.instance_for_test() as inst:
        cursor, requests = None, []
        for _ in range(2):
            ctx = dg.build_sensor_context(instance=inst, cursor=cursor)
            res = evaluate_intake(ctx, layout, stable_seconds=0, pseudonymise=False)
            if isinstance(res, dg.SensorResult):
                cursor = res.cursor
                for req in res.dynamic_partitions_requests:
                    inst.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
                requests += res.run_requests
            else:
                cursor = ctx.cursor
        job = defs.resolve_job_def("per_video_job")
        results = {
            r.partition_key: job.execute_in_process(
                partition_key=r.partition_key, instance=inst, tags=r.tags, raise_on_error=False
            )
            for r in requests
        }
        after = evaluate_intake(
            dg.build_sensor_context(instance=inst, cursor=cursor), layout, stable_seconds=0, pseudonymise=False
        )
        cohort = defs.resolve_job_def("cohort_job").execute_in_process(
            partition_key="faults", instance=inst, raise_on_error=False
        )
        yield {"results": results, "layout": layout, "after": after, "cohort": cohort}
    mp.undo()


def test_every_delivery_became_a_partition(delivered):
    assert set(delivered["results"]) == set(FAILS) | set(SUCCEEDS)


@pytest.mark.parametrize("key", sorted(FAILS))
def test_bad_deliveries_fail_their_own_partition_with_an_actionable_message(delivered, key):
    res = delivered["results"][key]
    assert not res.success
    assert re.search(FAILS[key], failure_message(res)), failure_message(res)


@pytest.mark.parametrize("key", SUCCEEDS)
def test_good_deliveries_succeed_next_to_the_bad_ones(delivered, key):
    res = delivered["results"][key]
    assert res.success, failure_message(res)
    poses = pl.read_parquet(delivered["layout"].asset_file("poses", key))
    n = poses["frame"].n_unique()
    assert poses.filter(pl.col("is_subject"))["frame"].n_unique() >= 0.9 * n


def test_a_few_missing_frames_are_a_warning_with_the_count(delivered):
    res = delivered["results"]["faults-cut_at_97"]
    check = next(e for e in res.get_asset_check_evaluations() if e.check_name == "decoding_complete")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert re.search(r"\b\d of the 100 frames .* could not be decoded", check.description), check.description
    full = next(
        e
        for e in delivered["results"]["good-cam01"].get_asset_check_evaluations()
        if e.check_name == "decoding_complete"
    )
    assert full.passed and full.metadata["frames_missing"].value == 0


def test_a_named_pipe_in_the_intake_is_reported_once_and_never_opened(delivered):
    from neuropose_assets.dagster_defs.sensors import load_intake_state, report_tag

    assert report_tag("special:faults/pipe.mp4") in load_intake_state(delivered["layout"])["reported"]
    assert "faults-pipe" not in delivered["results"]


def test_rotation_metadata_is_applied(delivered):
    raw = pl.read_parquet(delivered["layout"].asset_file("raw_video", "faults-rotated_phone")).row(0, named=True)
    assert raw["rotation_deg"] in (90, 270) and (raw["width_px"], raw["height_px"]) == (540, 960)


def test_variable_frame_rate_keeps_true_frame_times(delivered):
    t = pl.read_parquet(delivered["layout"].asset_file("features", "faults-variable_rate"))["time_s"].to_numpy()
    steps = np.round(np.diff(t) * 60).astype(int)
    assert set(steps) == {1, 2}  # 1/60 s and held frames of 2/60 s


def test_same_content_under_two_names_is_flagged(delivered):
    evals = {e.check_name: e for e in delivered["results"]["faults-copy_of_cam01"].get_asset_check_evaluations()}
    first, second = sorted(["faults-copy_of_cam01", "good-cam01"], key=lambda k: list(delivered["results"]).index(k))
    flagged = delivered["results"][second].get_asset_check_evaluations()
    dup = next(e for e in flagged if e.check_name == "unique_content")
    assert not dup.passed and dup.severity == dg.AssetCheckSeverity.WARN and first in dup.description
    assert "unique_content" in evals


def test_sensor_and_cohort_keep_going(delivered):
    assert isinstance(delivered["after"], dg.SkipReason)
    assert delivered["cohort"].success
    layout = delivered["layout"]
    table = pl.read_parquet(layout.asset_file("cohort_outcomes", "faults"))
    assert set(table["partition"]) == set(SUCCEEDS) - {"good-cam01"}  # every good delivery has its row
    assert set(table["task"]) == {"generic"} and not table["declared"].any()  # no protocol.yaml in this intake
    # the DTW matrix compares repetitions: members without one are left out, with the reason
    members = set(pl.read_parquet(layout.asset_file("cohort_dtw", "faults"))["a"].unique().to_list())
    meta = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in delivered["cohort"].get_asset_materialization_events()
    }["cohort_dtw"]
    for key in set(SUCCEEDS) - {"good-cam01"} - members:
        assert f"{key} (no repetition" in meta["missing_members"].value
    for key in FAILS:
        assert key not in members and f"{key} (not processed" in meta["missing_members"].value
