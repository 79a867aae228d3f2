"""Marker-based capture through the whole pipeline (``neuropose-assets run`` on real C3D / TRC files): its own
partitions, events against the recorded events, the coordinate check, the OpenSim export and the agreement report;
a mirrored file fails only its own partition."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.interop.mocap import read_c3d, read_trc, write_trc
from neuropose_assets.core.io.intake import scan_intake
from neuropose_assets.core.io.samples import fetch_mocap_samples
from neuropose_assets.core.io.storage import Layout, default_cache_dir
from neuropose_assets.core.io.tables import read_provenance

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def marker_run(tmp_path_factory):
    from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
    from neuropose_assets.service.runs import run_videos

    samples = fetch_mocap_samples(default_cache_dir() / "samples", ["gaitkit_parkinson", "gaitalytics_treadmill"])
    tmp = tmp_path_factory.mktemp("mocap")
    data, _ = read_c3d(samples["gaitkit_parkinson"])
    mirrored = tmp / "mirrored.trc"  # "y flipped to point down": a reflection
    write_trc(
        mirrored,
        data.labels,
        data.xyz_mm * [1, -1, 1] / 1000.0,
        data.times_s,
        np.arange(1, data.n_frames + 1),
        data.rate_hz,
    )
    layout = Layout(tmp / "data")
    files = {
        "pd-c3d": samples["gaitkit_parkinson"],
        "treadmill-c3d": samples["gaitalytics_treadmill"],
        "mirrored-trc": mirrored,
    }
    decl = TaskDeclaration(TaskSpec(task="gait"), "test")
    summary = run_videos(layout, files, "mocap", {k: decl for k in files}, progress=lambda *a: None)
    return layout, {r["video"]: r for r in summary["rows"]}, samples


def test_marker_files_run_as_their_own_partitions(marker_run):
    layout, rows, _ = marker_run
    assert rows["pd-c3d"]["ok"] and rows["treadmill-c3d"]["ok"]
    model = read_provenance(layout.asset_file("poses", "pd-c3d"))["model"]
    assert model["name"] == "marker_capture" and model["skeleton"] == "clinical_19" and model["origin"] == "camera"
    assert model["settings"]["marker_set"] == "plug_in_gait" and model["settings"]["lab_to_camera"]["up"] == "+Y"
    raw = pl.read_parquet(layout.asset_file("raw_video", "pd-c3d")).row(0, named=True)
    assert raw["codec"] == "c3d" and raw["fps"] == 150.0 and raw["width_px"] is None


def test_a_mirrored_file_fails_its_own_partition_with_the_axis_to_fix(marker_run):
    _, rows, _ = marker_run
    err = rows["mirrored-trc"]["error"]
    assert not rows["mirrored-trc"]["ok"] and "mirrored" in err and "flip it back" in err and "-Y" in err


def test_events_agree_with_the_recorded_events(marker_run):
    from neuropose_assets.core.comparison.agreement import event_agreement

    layout, _, _ = marker_run
    for key, hs_max_ms in (("pd-c3d", 70.0), ("treadmill-c3d", 45.0)):
        events = pl.read_parquet(layout.asset_file("events", key))
        ref = pl.read_parquet(layout.asset_file("reference_events", key))
        table = event_agreement(events, ref.filter(pl.col("source") == "c3d_event"))
        both = table.filter(pl.col("side") == "both")
        assert (both["missed"] == 0).all() and (both["extra"] == 0).all(), (key, both)
        hs = both.filter(pl.col("event") == "heel_strike").row(0, named=True)
        assert hs["max_abs_ms"] <= hs_max_ms, (key, hs)
    # the treadmill's force plates give contacts close to the lab's annotated events
    ref = pl.read_parquet(layout.asset_file("reference_events", "treadmill-c3d"))
    plates = ref.filter((pl.col("source") == "force_plate") & (pl.col("event") == "heel_strike"))
    assert plates.height >= 20
    table = event_agreement(
        plates.drop("source"), ref.filter((pl.col("source") == "c3d_event") & (pl.col("event") == "heel_strike"))
    )
    assert table.filter(pl.col("side") == "both")["median_abs_ms"][0] <= 20


def test_outcomes_on_markers_and_the_null_reasons(marker_run):
    layout, _, _ = marker_run
    pd_out = pl.read_parquet(layout.asset_file("outcomes", "pd-c3d"))
    cadence = pd_out.filter(pl.col("measure") == "cadence_steps_min")["value"][0]
    assert cadence == pytest.approx(94.7, abs=3.0)  # 94.7 steps/min from the annotated heel strikes (gaitkit)
    assert pd_out.filter(pl.col("measure") == "gait_speed_m_s")["value"][0] == pytest.approx(0.66, abs=0.1)
    tm = pl.read_parquet(layout.asset_file("outcomes", "treadmill-c3d"))
    speed = tm.filter(pl.col("measure") == "gait_speed_m_s").row(0, named=True)
    assert speed["value"] is None and "treadmill" in speed["null_reason"]


def test_opensim_export_files_and_the_export_command(marker_run, tmp_path):
    from trc import TRCData

    layout, _, _ = marker_run
    row = pl.read_parquet(layout.asset_file("opensim_export", "pd-c3d")).row(0, named=True)
    trc = TRCData()
    trc.load(row["trc_path"])
    assert trc["Units"] == "m" and float(trc["DataRate"]) == 150.0 and len(trc["Frame#"]) == row["frames"] == 671
    assert "LHeel" in trc["Markers"] and "Hip" in trc["Markers"]
    mot = Path(row["mot_path"]).read_text().splitlines()
    assert "inDegrees=yes" in mot and "NaN" not in "\n".join(mot)  # OpenSim's Storage stops at a NaN
    out = tmp_path / "pd.csv"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuropose_assets.cli",
            "export",
            "pd-c3d",
            "--format",
            "csv",
            "--out",
            str(out),
            "--data-root",
            str(layout.root),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "Y up" in res.stdout and pl.read_csv(out).height == 671


def test_agreement_command_reports_events_and_outcomes(marker_run, tmp_path):
    layout, _, _ = marker_run
    out = tmp_path / "agree.csv"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuropose_assets.cli",
            "agreement",
            "treadmill-c3d",
            "--csv",
            str(out),
            "--data-root",
            str(layout.root),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(out)
    assert set(table["reference"]) == {"c3d_event", "force_plate"}
    # a session against another (here the two marker trials, to exercise the outcome table)
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "neuropose_assets.cli",
            "agreement",
            "pd-c3d",
            "--reference",
            "treadmill-c3d",
            "--data-root",
            str(layout.root),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "cadence_steps_min" in res.stdout and "treadmill-c3d (detected)" in res.stdout


def test_export_then_import_reproduces_the_features(marker_run, tmp_path):
    """Round trip: features → TRC → import → features (no extra filtering or gap filling) agree to 1e-6."""
    from neuropose_assets.core.interop.opensim import round_trip

    layout, _, _ = marker_run
    diffs = round_trip(pl.read_parquet(layout.asset_file("features", "pd-c3d")), tmp_path)
    assert len(diffs) >= 15 and max(diffs.values()) <= 1e-6, max(diffs.items(), key=lambda kv: kv[1])


def test_intake_takes_marker_files_beside_videos(tmp_path):
    for rel in (
        "c/s1/walk01.mp4",
        "c/s1/walk01.c3d",
        "c/s1/walk01.trc",
        "c/s1/walk01_grf.mot",
        "c/markers.yaml",
        "c/notes.txt",
    ):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    prev = scan_intake(tmp_path, now=time.time(), stable_seconds=0).pending
    s = scan_intake(tmp_path, previous=prev, now=time.time(), stable_seconds=0)
    assert sorted(f.key for f in s.ready) == ["c-s1-walk01", "c-s1-walk01-c3d", "c-s1-walk01-trc"]
    assert s.unsupported == ["c/notes.txt"] and not s.collisions


def test_marker_partition_through_dagster_with_a_mapping_file(tmp_path):
    """The cohort's markers.yaml maps a lab's own names; the coordinate check passes and reports the lab frame."""
    from neuropose_assets.core.io.storage import Registry
    from neuropose_assets.definitions import build_defs

    src = fetch_mocap_samples(default_cache_dir() / "samples", ["gaitkit_parkinson"])["gaitkit_parkinson"]
    data, _ = read_c3d(src)
    names = {lab: f"M_{lab.lower()}" for lab in data.labels}
    trial = tmp_path / "intake" / "lab" / "s1" / "walk.trc"
    trial.parent.mkdir(parents=True)
    write_trc(
        trial,
        [names[lab] for lab in data.labels],
        data.xyz_mm / 1000.0,
        data.times_s,
        np.arange(1, data.n_frames + 1),
        data.rate_hz,
    )
    joints = {
        "LHJC": "left_hip",
        "RHJC": "right_hip",
        "LHEE": "left_heel",
        "RHEE": "right_heel",
        "LTOE": "left_toe",
        "RTOE": "right_toe",
        "LKJC": "left_knee",
        "RKJC": "right_knee",
        "LAJC": "left_ankle",
        "RAJC": "right_ankle",
        "LSHO": "left_shoulder",
        "RSHO": "right_shoulder",
    }
    (tmp_path / "intake" / "lab" / "markers.yaml").write_text(
        "name: my_lab\njoints:\n" + "".join(f"  {joints[lab]}: [[{names[lab]}]]\n" for lab in data.labels)
    )
    layout = Layout(tmp_path / "data")
    Registry(layout).register("lab-s1-walk-trc", trial, "lab")
    defs = build_defs(str(layout.root))
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("videos", ["lab-s1-walk-trc"])
        res = defs.resolve_job_def("per_video_job").execute_in_process(
            partition_key="lab-s1-walk-trc", instance=inst, raise_on_error=False
        )
    assert res.success
    checks = {e.check_name: e for e in res.get_asset_check_evaluations()}
    assert checks["coordinate_frame"].passed and checks["poses_contract"].passed
    assert checks["reference_events_contract"].passed and checks["opensim_export_contract"].passed
    model = read_provenance(layout.asset_file("poses", "lab-s1-walk-trc"))["model"]
    assert model["settings"]["marker_set"] == "my_lab" and model["settings"]["mapping_file_sha256"]
    assert read_trc(trial).labels[0].startswith("M_")


def test_a_cohort_of_marker_files_of_one_protocol_is_one_source_for_dtw(marker_run):
    from neuropose_assets.dagster_defs.assets.repetition_dtw import pose_source_identity

    layout, _, _ = marker_run
    pd = read_provenance(layout.asset_file("features", "pd-c3d"))["model"]
    tread = read_provenance(layout.asset_file("features", "treadmill-c3d"))["model"]
    # another trial of the same lab and protocol: another file checksum, the same joint definitions — one source
    other_trial = {**pd, "checksum": "f" * 64}
    assert pose_source_identity(other_trial) == pose_source_identity(pd)
    # these two labs define the joints differently (modelled joint centres vs surface markers + Harrington hips):
    # not comparable, and the identity says so
    assert pose_source_identity(tread) != pose_source_identity(pd)
    assert pose_source_identity(pd).startswith("marker_capture/plug_in_gait/")
