"""End to end through Dagster on real video: every asset, content checks, and bad input isolated per partition."""

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from data_contracts import SCHEMAS
from neuropose_assets.core.analysis import quality
from neuropose_assets.core.io.tables import read_provenance
from neuropose_assets.core.kinematics.features import ANGLE_COLUMNS
from neuropose_assets.dagster_defs.checks import PER_VIDEO_TABLES
from neuropose_assets.service.runs import failure_message

pytestmark = pytest.mark.e2e


def test_real_clip_materializes_every_asset_and_check(world):
    res = world["results"]["cam01"]
    assert res.success
    mats = {e.asset_key.to_user_string() for e in res.get_asset_materialization_events()}
    assert mats == set(PER_VIDEO_TABLES)
    evals = {e.check_name: e for e in res.get_asset_check_evaluations()}
    per_video = [c for c in quality.CHECKS if c.asset not in quality.COHORT_ASSETS]  # visits_consistent: per cohort
    assert len(evals) == len(PER_VIDEO_TABLES) + len(per_video)  # contracts + every per-video quality check
    # a 1.7 s clip holds about one stride: the gait check says so (WARN); the subject's right arm goes overhead with
    # the elbow bent, where the model's fit of the wrist may stay > 5 σ off for ~0.2 s (fit_residual names it: WARN)
    assert {n for n, e in evals.items() if not e.passed} <= {"repetitions_found", "fit_residual"}
    assert all(e.severity.value == "WARN" for e in evals.values() if not e.passed)


def test_outputs_match_their_contracts_and_carry_provenance(world):
    layout = world["layout"]
    for asset in PER_VIDEO_TABLES:
        path = layout.asset_file(asset, "cam01")
        SCHEMAS[asset].validate(pl.read_parquet(path), lazy=True)
        prov = read_provenance(path)
        assert prov["source"]["partition"] == "cam01"
        if asset != "task":  # the declaration does not depend on the video's content
            assert len(prov["source"]["sha256"]) == 64
        if asset not in ("raw_video", "task", "reference_events"):  # no pose model involved
            assert prov["model"]["name"] == "blazepose_ghum_3d" and len(prov["model"]["checksum"]) == 64
    assert not list(layout.assets.rglob("*.partial"))


def test_person_found_and_angles_physiological(world):
    layout = world["layout"]
    poses = pl.read_parquet(layout.asset_file("poses", "cam01"))
    frames = poses["frame"].n_unique()
    assert frames == 100
    assert poses.filter(pl.col("is_subject"))["frame"].n_unique() > 0.9 * frames
    feats = pl.read_parquet(layout.asset_file("features", "cam01"))
    for side in ("left", "right"):
        knee = feats[f"knee_angle_{side[0]}_deg"].drop_nulls()
        assert knee.len() > 90 and knee.min() >= 0 and knee.max() <= 150
    # a standing/walking adult: thigh (hip→knee) 300–550 mm in 3D
    thigh = np.hypot.reduce([(feats[f"left_knee_{a}_mm"] - feats[f"left_hip_{a}_mm"]).to_numpy() for a in "xyz"])
    assert 300 < np.nanmedian(thigh) < 550
    assert set(ANGLE_COLUMNS) <= set(feats.columns)
    raw = pl.read_parquet(layout.asset_file("raw_video", "cam01")).row(0, named=True)
    assert (raw["fps"], raw["frame_count"], raw["width_px"], raw["height_px"]) == (60.0, 100, 1080, 1920)
    assert Path(raw["stored_path"]).exists()


def test_task_events_and_outcomes_carry_the_declaration(world):
    layout = world["layout"]
    prov = read_provenance(layout.asset_file("outcomes", "cam01"))
    assert prov["task"] == {"spec": {"task": "gait", "camera_view": "unknown"}, "source": "test"}
    assert prov["configs"]["events"]["gait"]["min_prominence_mm"] == 50.0
    out = pl.read_parquet(layout.asset_file("outcomes", "cam01"))
    assert out.filter(pl.col("value").is_null())["null_reason"].null_count() == 0  # every null says why
    speed = out.filter(pl.col("measure") == "gait_speed_m_s").row(0, named=True)
    assert speed["value"] is None and "hip-centred" in speed["null_reason"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("not_a_video", "could not be opened as a video|no picture"),
        ("empty_file", "is empty \\(0 bytes\\)"),
        ("no_person", "No person was detected"),
    ],
)
def test_bad_input_fails_its_own_partition_with_an_actionable_message(world, key, message):
    import re

    res = world["results"][key]
    assert not res.success
    assert re.search(message, failure_message(res)), failure_message(res)
    layout = world["layout"]
    assert not layout.asset_file("features", key).exists()


def test_cohort_matrix_skips_failed_members(world):
    cohort = world["cohort"]
    assert cohort.success
    table = pl.read_parquet(world["layout"].asset_file("cohort_outcomes", "trial"))
    assert table["partition"].to_list() == ["cam01"] and table["task"].to_list() == ["gait"]
    mats = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in cohort.get_asset_materialization_events()
    }
    for asset in ("cohort_outcomes", "cohort_dtw"):
        assert (
            "no_person" in mats[asset]["missing_members"].value and "empty_file" in mats[asset]["missing_members"].value
        )


def test_rerun_gives_byte_identical_outputs(world):
    from dagster import AssetKey

    from neuropose_assets.core.io.atomic import sha256_file
    from neuropose_assets.definitions import build_defs

    layout = world["layout"]
    assets = ("poses", "features", "events", "repetitions", "outcomes", "repetition_dtw")
    before = {a: sha256_file(layout.asset_file(a, "cam01")) for a in assets}
    job = build_defs(str(layout.root)).resolve_job_def("per_video_job")
    res = job.execute_in_process(
        partition_key="cam01", instance=world["instance"], asset_selection=[AssetKey(a) for a in assets]
    )
    assert res.success
    assert {a: sha256_file(layout.asset_file(a, "cam01")) for a in assets} == before


def test_undefined_means_are_null_not_zero(world):
    mats = {e.asset_key.to_user_string(): e for e in world["results"]["cam01"].get_asset_materialization_events()}
    meta = mats["repetition_dtw"].event_specific_data.materialization.metadata
    if meta["pairs"].value == 0:
        assert meta["mean_distance"].value is None
    reps = mats["repetitions"].event_specific_data.materialization.metadata
    if reps["repetitions"].value == 0:
        assert reps["mean_duration_s"].value is None


@pytest.fixture(scope="module")
def reviewed(world):
    from neuropose_assets.definitions import build_defs

    job = build_defs(str(world["layout"].root)).resolve_job_def("review_job")
    return job.execute_in_process(partition_key="cam01", instance=world["instance"], raise_on_error=False)


def test_review_video_and_report_of_a_real_clip(reviewed, world):
    import av

    assert reviewed.success
    layout = world["layout"]
    with av.open(str(layout.review / "cam01.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in c.decode(video=0)) == 100
    mats = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in reviewed.get_asset_materialization_events()
    }
    assert mats["review_video"]["render_frames_per_s"].value > 0
    assert mats["report"]["plot_signal"].value.startswith("![task signal")
    assert "data:image/png;base64," in mats["report"]["plot_angles"].value
    html = (layout.reports / "cam01.html").read_text()
    raw = pl.read_parquet(layout.asset_file("raw_video", "cam01")).row(0, named=True)
    for needle in (
        "cadence_steps_min",
        "Quality flags",
        "blazepose_ghum_3d",
        raw["sha256"],
        "data:image/png",
        "<h2>Events</h2>",
        'href="cam01.pdf"',
    ):
        assert needle in html, needle
    events = pl.read_parquet(layout.asset_file("events", "cam01"))
    for e in events.iter_rows(named=True):  # the event table lists every event with its time
        assert f"<td>{e['time_s']:.2f}</td><td>{e['frame']}</td>" in html
    pdf = (layout.reports / "cam01.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 3


def test_report_command_writes_where_asked(reviewed, world, tmp_path):
    from neuropose_assets.cli import main

    out = tmp_path / "sub" / "cam01 report.html"
    assert main(["report", "cam01", "--data-root", str(world["layout"].root), "--out", str(out)]) == 0
    assert out.read_text().startswith("<!doctype html>")
    assert main(["report", "no_person", "--data-root", str(world["layout"].root)]) == 2  # failed: says what is missing


def test_the_ui_column_schema_carries_the_contract_descriptions(world):
    mats = {e.asset_key.to_user_string(): e for e in world["results"]["cam01"].get_asset_materialization_events()}
    for asset in ("features", "outcomes", "events"):
        schema = mats[asset].event_specific_data.materialization.metadata["dagster/column_schema"].value
        undescribed = [c.name for c in schema.columns if not c.description]
        assert not undescribed, (asset, undescribed)
    cols = {
        c.name: c.description
        for c in mats["features"].event_specific_data.materialization.metadata["dagster/column_schema"].value.columns
    }
    assert "mm" in cols["left_knee_x_mm"] and "deg" in cols["knee_angle_l_deg"]


def test_the_console_shows_progress_not_the_event_log(tmp_path, cam01):
    import subprocess
    import sys

    cli = Path(sys.executable).parent / "neuropose-assets"
    out = subprocess.run(
        [str(cli), "run", str(cam01), "--task", "gait", "--no-review", "--data-root", str(tmp_path / "data")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "[1/1] pose2sim_single_cam01: ok — task gait" in out.stdout and "cadence_steps_min" in out.stdout
    noise = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if any(k in line for k in ("DEBUG", "W0000", "I0000", "NORM_RECT", "STEP_START"))
    ]
    assert not noise, noise[:5]
    assert (tmp_path / "data" / "logs" / "neuropose-assets.log").exists()  # native log lines went here


def test_opensim_export_of_a_real_clip_round_trips_and_keeps_opensims_axes(world, tmp_path):
    """BlazePose features → TRC → import: every speed and every three-point angle of the markers back to 1e-6 of its
    range; the TRC is in metres
    with Y up (head above the heels) and the coordinate check of the video passed."""
    from trc import TRCData

    from neuropose_assets.core.interop.opensim import round_trip

    layout = world["layout"]
    diffs = round_trip(pl.read_parquet(layout.asset_file("features", "cam01")), tmp_path)
    assert len(diffs) >= 20 and max(diffs.values()) <= 1e-6, max(diffs.items(), key=lambda kv: kv[1])
    row = pl.read_parquet(layout.asset_file("opensim_export", "cam01")).row(0, named=True)
    trc = TRCData()
    trc.load(row["trc_path"])
    labels = list(trc["Markers"])
    head, heel = labels.index("Head"), labels.index("LHeel")
    t, coords = trc[50]
    assert trc["Units"] == "m" and 1.0 < coords[head][1] - coords[heel][1] < 2.2  # Y up, metres
    assert world["results"]["cam01"].success
    evals = {e.check_name: e for e in world["results"]["cam01"].get_asset_check_evaluations()}
    assert evals["coordinate_frame"].passed
