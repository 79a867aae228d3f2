"""Marker-based motion capture: reading TRC / C3D, marker sets, coordinate checks, on real gait recordings (the
gaitkit trials: healthy, Parkinson's, stroke) and on known answers."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from neuropose_assets.core.interop.mocap import (
    MarkerFileError,
    import_markers,
    read_c3d,
    read_mot,
    read_trc,
    write_mot,
    write_trc,
)
from neuropose_assets.core.io.samples import GAITKIT, MOCAP_SAMPLES, fetch_mocap_samples
from neuropose_assets.core.io.storage import default_cache_dir
from neuropose_assets.core.kinematics.frames import CoordinateError, camera_to_opensim, lab_to_camera
from neuropose_assets.core.kinematics.markersets import (
    MARKER_SETS,
    HipMarkers,
    MarkerMapping,
    clinical_from_markers,
    harrington_hip_centres,
    load_mapping,
)
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS

CI = {j: i for i, j in enumerate(CLINICAL_JOINTS)}


@pytest.fixture(scope="session")
def mocap() -> dict[str, Path]:
    return fetch_mocap_samples(default_cache_dir() / "samples")


@pytest.fixture(scope="session")
def annotations(mocap) -> dict[str, dict]:
    """The trials' annotated events straight from the gaitkit JSON (independent of our C3D reader)."""
    sdist = next((default_cache_dir() / "samples" / "wheels").glob(f"gaitkit-{GAITKIT.version}.tar.gz"))
    with tarfile.open(sdist) as tf:
        return {s.key: json.loads(tf.extractfile(s.member).read()) for s in MOCAP_SAMPLES if s.dist == GAITKIT}


def _as_trc(tmp_path: Path, src: Path, name: str, change=None, labels=None) -> Path:
    """Write the markers of ``src`` as a TRC (metres), optionally changed (``change(xyz_mm) -> xyz_mm``)."""
    data = read_trc(src) if src.suffix == ".trc" else read_c3d(src)[0]
    xyz = data.xyz_mm if change is None else change(data.xyz_mm.copy())
    out = tmp_path / name
    write_trc(out, labels or data.labels, xyz / 1000.0, data.times_s, np.arange(1, data.n_frames + 1), data.rate_hz)
    return out


def test_c3d_reads_rate_units_labels_and_annotated_events(mocap, annotations):
    data, plates = read_c3d(mocap["gaitkit_parkinson"])
    truth = annotations["gaitkit_parkinson"]
    assert data.rate_hz == truth["fps"] == 150.0
    assert data.n_frames == truth["n_frames"]
    assert {"LHEE", "RHEE", "LTOE", "RTOE", "LHJC", "RHJC"} <= set(data.labels)
    raw = truth["angle_frames"][10]["landmark_positions"]["left_heel"]
    np.testing.assert_allclose(data.xyz_mm[10, data.labels.index("LHEE")], raw, atol=1e-3)
    for kind, key in (("heel_strike", "hs_frames"), ("toe_off", "to_frames")):
        for side in ("left", "right"):
            got = [e.frame for e in data.events if e.event == kind and e.side == side]
            assert got == truth["ground_truth"][key][side]
    assert plates == []
    # the healthy trial's shoulders are all-zero: the convention for a missing sample → NaN, not the origin
    healthy, _ = read_c3d(mocap["gaitkit_healthy"])
    assert "LSHO" not in healthy.labels or np.isnan(healthy.xyz_mm[:, healthy.labels.index("LSHO")]).all()


@pytest.mark.parametrize("key, up", [("gaitkit_healthy", "+Y"), ("gaitkit_parkinson", "+Y"), ("gaitkit_stroke", "+Z")])
def test_lab_frame_is_found_from_the_data(mocap, key, up):
    imp = import_markers(mocap[key])
    assert imp.transform.up == up
    assert imp.transform.mirrored_fraction < 0.05
    assert imp.mapping == "plug_in_gait"
    # virtual camera: y down, x along the walk; the head-less trials still have hips above heels (y smaller)
    cam = imp.table
    hip_y = np.nanmedian(cam["left_hip_y_mm"].to_numpy())
    heel_y = np.nanmedian(cam["left_heel_y_mm"].to_numpy())
    assert heel_y - hip_y > 600
    pel = cam["pelvis_x_mm"].to_numpy()
    assert pel[-1] - pel[0] > 1000  # walks along +x
    # the rotation is proper and recorded for provenance
    assert np.isclose(np.linalg.det(imp.transform.rotation), 1.0)
    assert imp.settings()["lab_to_camera"]["up"] == up


def test_mirrored_axis_is_refused_with_the_axis_to_fix(mocap, tmp_path):
    # "y flipped to point down": a reflection of a Y-up lab (the silent failure)
    flipped = _as_trc(tmp_path, mocap["gaitkit_parkinson"], "flip_y.trc", lambda x: x * [1, -1, 1])
    with pytest.raises(CoordinateError, match=r"mirrored.*flip it back") as err:
        import_markers(flipped)
    assert "-Y" in str(err.value)
    # the medio-lateral axis flipped (or left / right swapped) in a Z-up lab
    flipped_ml = _as_trc(tmp_path, mocap["gaitkit_stroke"], "flip_ml.trc", lambda x: x * [1, -1, 1])
    with pytest.raises(CoordinateError, match=r"mirrored.*medio-lateral axis \(Y\)"):
        import_markers(flipped_ml)
    data = read_c3d(mocap["gaitkit_parkinson"])[0]
    swap = [lab.replace("L", "#").replace("R", "L").replace("#", "R") for lab in data.labels]
    swapped = _as_trc(tmp_path, mocap["gaitkit_parkinson"], "swapped.trc", labels=swap)
    with pytest.raises(CoordinateError, match="swapped"):
        import_markers(swapped)


def test_unknown_axis_order_is_refused(mocap, tmp_path):
    c, s = np.cos(np.radians(45)), np.sin(np.radians(45))
    tilt = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])  # vertical 45° away from every axis
    tilted = _as_trc(tmp_path, mocap["gaitkit_parkinson"], "tilted.trc", lambda x: x @ tilt.T)
    with pytest.raises(CoordinateError, match="axis"):
        import_markers(tilted)
    # a proper rotation that keeps an axis vertical (Z up) is fine and gives the same poses
    rot = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]])  # +90° about X: Y up → Z up
    z_up = import_markers(_as_trc(tmp_path, mocap["gaitkit_parkinson"], "zup.trc", lambda x: x @ rot.T))
    y_up = import_markers(_as_trc(tmp_path, mocap["gaitkit_parkinson"], "yup.trc"))
    assert z_up.transform.up == "+Z"
    for col in ("left_heel_x_mm", "left_heel_y_mm", "right_toe_z_mm"):
        np.testing.assert_allclose(z_up.table[col].to_numpy(), y_up.table[col].to_numpy(), atol=1e-3)


def test_trc_round_trip_and_independent_reader(mocap, tmp_path):
    from trc import TRCData  # trc-data-reader (PyPI), an independent TRC parser

    src, _ = read_c3d(mocap["gaitkit_parkinson"])
    xyz = src.xyz_mm.copy()
    xyz[5:9, 0] = np.nan  # a gap: blank fields
    path = tmp_path / "p.trc"
    write_trc(path, src.labels, xyz / 1000.0, src.times_s, np.arange(1, src.n_frames + 1), src.rate_hz)
    back = read_trc(path)
    assert back.units == "m" and back.rate_hz == 150.0 and back.labels == src.labels
    np.testing.assert_allclose(back.xyz_mm, xyz, atol=1e-5, equal_nan=True)
    other = TRCData()
    other.load(str(path))
    assert float(other["DataRate"]) == 150.0 and other["Units"] == "m"
    assert list(other["Markers"]) == src.labels
    assert len(other["Frame#"]) == src.n_frames
    frame = other[100]  # (time, [marker xyz …])
    np.testing.assert_allclose(np.asarray(frame[1][1]) * 1000.0, xyz[99, 1], atol=1e-5)


def test_mot_round_trip(tmp_path):
    t = np.arange(10) / 100.0
    values = np.column_stack([np.sin(t), np.cos(t)])
    values[3, 1] = np.nan
    path = tmp_path / "a.mot"
    write_mot(path, ["knee_angle_r", "hip_flexion_r"], values, t)
    text = path.read_text()
    assert "inDegrees=yes" in text and "endheader" in text
    cols, back = read_mot(path)
    assert cols == ["time", "knee_angle_r", "hip_flexion_r"]
    np.testing.assert_allclose(back[:, 1:], values, equal_nan=True, rtol=1e-8)


def test_missing_joints_name_the_markers_and_the_mapping_file(mocap, tmp_path):
    data = read_c3d(mocap["gaitkit_parkinson"])[0]
    odd = _as_trc(tmp_path, mocap["gaitkit_parkinson"], "odd.trc", labels=[f"M{i}" for i in range(len(data.labels))])
    with pytest.raises(MarkerFileError, match=r"markers\.yaml") as err:
        import_markers(odd)
    assert "M0" in str(err.value) and "left_hip" in str(err.value)
    # the lab's own names via a mapping file
    (tmp_path / "markers.yaml").write_text(
        "name: my_lab\njoints:\n"
        + "".join(
            f"  {j}: [[M{i}]]\n"
            for i, j in enumerate(
                {
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
                }[lab]
                for lab in data.labels
            )
        )
    )
    ours = import_markers(odd, mapping=load_mapping(tmp_path / "markers.yaml"))
    ref = import_markers(mocap["gaitkit_parkinson"])
    assert ours.mapping == "my_lab"
    np.testing.assert_allclose(
        ours.table["left_heel_y_mm"].to_numpy(), ref.table["left_heel_y_mm"].to_numpy(), atol=1e-3
    )


def test_bad_marker_files_fail_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.trc"
    bad.write_text("not a trc\n")
    with pytest.raises(MarkerFileError, match="bad.trc"):
        import_markers(bad)
    broken = tmp_path / "broken.c3d"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(MarkerFileError, match="not a readable C3D"):
        import_markers(broken)


def test_harrington_hip_centres_known_answer():
    # pelvis frame = lab frame: ASIS at z = ±120, PSIS 150 mm behind (−x); PW = 240, PD = 150
    lasi, rasi, lpsi, rpsi = [-0.0, 0, -120], [0.0, 0, 120], [-150.0, 0, -40], [-150.0, 0, 40]
    markers = np.array([[lasi, rasi, lpsi, rpsi]])
    index = {"lasi": 0, "rasi": 1, "lpsi": 2, "rpsi": 3}
    left, right = harrington_hip_centres(
        markers, index, HipMarkers(left_asis="LASI", right_asis="RASI", left_psis="LPSI", right_psis="RPSI")
    )
    x, y, z = -0.24 * 150 - 9.9, -0.30 * 240 - 10.9, 0.33 * 240 + 7.3
    np.testing.assert_allclose(right[0], [x, y, z], atol=1e-9)
    np.testing.assert_allclose(left[0], [x, y, -z], atol=1e-9)


def test_marker_sets_map_their_own_names():
    pig = ["Sub01:LASI", "RASI", "SACR", "LKNE", "LKNM", "RKNE", "LANK", "RANK", "LHEE", "RHEE", "LTOE", "RTOE"]
    markers = np.random.default_rng(0).normal(size=(3, len(pig), 3)) * 100
    out, how = clinical_from_markers(markers, pig, MARKER_SETS["plug_in_gait"])
    assert how["left_knee"] == "mean(LKNE, LKNM)"
    np.testing.assert_allclose(out[:, CI["left_knee"]], markers[:, 3:5].mean(axis=1))
    assert "Harrington" in how["left_hip"] and how["pelvis"] == "midpoint of left_hip and right_hip"
    assert MarkerMapping(name="x").resolve(pig) == ({}, None)


def test_camera_to_opensim_is_a_rotation_to_x_forward_y_up(mocap):
    imp = import_markers(mocap["gaitkit_parkinson"])
    xyz = np.stack([imp.table[f"{j}_{a}_mm"].to_numpy() for j in CLINICAL_JOINTS for a in "xyz"], 1)
    xyz = xyz.reshape(len(imp.table), len(CLINICAL_JOINTS), 3)
    t = camera_to_opensim(xyz)
    osim = t.apply(xyz)
    assert np.isclose(np.linalg.det(t.rotation), 1.0)
    assert np.nanmedian(osim[:, CI["pelvis"], 1] - osim[:, CI["left_heel"], 1]) > 600  # Y up
    assert osim[-1, CI["pelvis"], 0] - osim[0, CI["pelvis"], 0] > 1000  # X forward
    # Z to the subject's right
    assert np.nanmedian(osim[:, CI["right_hip"], 2] - osim[:, CI["left_hip"], 2]) > 100
    assert lab_to_camera(xyz).mirrored_fraction < 0.05


def _gait(table):
    from neuropose_assets.core.analysis.events import analyse_task
    from neuropose_assets.core.analysis.tasks import TaskSpec
    from neuropose_assets.core.kinematics.features import compute_features
    from neuropose_assets.core.kinematics.skeletons import CLINICAL_19

    features, _ = compute_features(table, CLINICAL_19)
    return analyse_task(features, TaskSpec(task="gait"), source="markers")


def _frames(events, kind: str, side: str) -> list[int]:
    return events.filter((events["event"] == kind) & (events["side"] == side))["frame"].to_list()


def test_gait_events_on_marker_data_match_the_annotations(mocap):
    imp = import_markers(mocap["gaitkit_parkinson"])
    events = _gait(imp.table).events
    for kind in ("heel_strike", "toe_off"):
        for side in ("left", "right"):
            truth = [e.frame for e in imp.events if e.event == kind and e.side == side]
            got = _frames(events, kind, side)
            assert len(got) == len(truth), (kind, side, got, truth)  # every annotated event, no extra one
            # Zeni's heel strike leads the annotated contact by up to ~9 frames (60 ms) on this shuffling gait
            assert all(abs(g - t) <= 10 for g, t in zip(got, truth)), (kind, side, got, truth)


@pytest.fixture(scope="module")
def pd_full(mocap):
    """The Parkinson's trial and the heel strikes found in the whole of it, per side."""
    imp = import_markers(mocap["gaitkit_parkinson"])
    events = _gait(imp.table).events
    return imp, {side: _frames(events, "heel_strike", side) for side in ("left", "right")}


@pytest.mark.parametrize(
    "cut, side, which, margin",
    [
        ("start", "left", 0, 8),  # the trial starts 8 frames (53 ms) before a heel strike
        ("end", "left", 1, 6),  # … ends 6 frames (40 ms) after one
        ("end", "right", 0, 6),  # … holds only one heel strike of that side
    ],
)
def test_heel_strikes_at_the_edges_and_single_ones_are_reported(pd_full, cut, side, which, margin):
    imp, full = pd_full
    frame = full[side][which]
    start, stop = (frame - margin, imp.table.height) if cut == "start" else (0, frame + margin + 1)
    result = _gait(imp.table.slice(start, stop - start))
    got = [f + start for f in _frames(result.events, "heel_strike", side)]
    assert any(abs(g - frame) <= 2 for g in got), (frame, got)
    if which == 0 and cut == "end":  # one heel strike of that side: its event, but no gait cycle
        assert result.repetitions.filter(result.repetitions["side"] == side).height == 0


def test_an_edge_maximum_the_signal_does_not_support_is_not_an_event(pd_full):
    imp, full = pd_full
    frame = full["right"][0]
    start = frame - 2  # 2 frames before the heel strike: the heel rose < 3 mm in them
    result = _gait(imp.table.slice(start, 110))
    assert all(abs(f + start - frame) > 2 for f in _frames(result.events, "heel_strike", "right"))


def test_video_coordinate_check_names_the_flipped_axis_and_warns_on_mirrored_labels(mocap):
    from neuropose_assets.core.analysis.quality import coordinate_frame

    imp = import_markers(mocap["gaitkit_parkinson"])
    xyz = np.stack([imp.table[f"{j}_{a}_mm"].to_numpy() for j in CLINICAL_JOINTS for a in "xyz"], 1)
    xyz = xyz.reshape(len(imp.table), len(CLINICAL_JOINTS), 3)
    uv = 0.3 * xyz[..., :2] + 500.0  # a side-view camera: image axes follow x and y
    numbers, flags = coordinate_frame(xyz, uv, "v1")
    assert flags == [] and numbers["x_vs_image_r"] > 0.99 and numbers["mirrored_fraction"] < 0.05
    numbers, flags = coordinate_frame(xyz * [1, -1, 1], uv, "v1")  # a converter that writes y up
    assert [f.severity for f in flags] == ["ERROR"] and "3D y axis" in flags[0].message and "flip y" in flags[0].message
    swap = [CI[j.replace("left", "#").replace("right", "left").replace("#", "right")] for j in CLINICAL_JOINTS]
    numbers, flags = coordinate_frame(xyz[:, swap], uv[:, swap], "v1")  # the model mirrored the body
    assert [f.severity for f in flags] == ["WARN"] and "mirrored" in flags[0].message


def test_ground_reaction_mot_next_to_a_trc_gives_the_force_plate_contacts(mocap, tmp_path):
    """The treadmill's two force plates written as an OpenSim external-loads .mot (``N_ground_force_v*`` / ``_p*``,
    metres) beside a TRC of its markers: the same contacts as from the C3D's platforms."""
    from neuropose_assets.core.interop.mocap import find_sidecars

    src = mocap["gaitalytics_treadmill"]
    data, plates = read_c3d(src)
    assert len(plates) == 2
    trc = _as_trc(tmp_path, src, "tread.trc")
    n = len(plates[0].force_n)
    cols, blocks = [], []
    for k, p in enumerate(plates, 1):
        cols += [f"{k}_ground_force_v{a}" for a in "xyz"] + [f"{k}_ground_force_p{a}" for a in "xyz"]
        blocks += [p.force_n, p.cop_mm / 1000.0]
    write_mot(
        tmp_path / "tread_grf.mot",
        cols,
        np.concatenate(blocks, axis=1),
        np.arange(n) / plates[0].rate_hz,
        in_degrees=False,
    )
    mapping, grf = find_sidecars(trc)
    assert mapping is None and grf == tmp_path / "tread_grf.mot"
    from_mot = import_markers(trc, grf=grf).events
    from_c3d = [e for e in import_markers(src).events if e.source == "force_plate"]
    assert len(from_mot) == len(from_c3d) >= 40
    assert [(e.event, e.side) for e in from_mot] == [(e.event, e.side) for e in from_c3d]
    # the .mot's times (1 ns) give the plate rate to ~1e-9: a contact on a half-frame may round to the next frame
    assert max(abs(a.frame - b.frame) for a, b in zip(from_mot, from_c3d)) <= 1
    # the same forces with the time column rounded to 1 ms (as some exporters write it): no 2 % time-scale error,
    # no swapped or lost sides
    rounded = tmp_path / "r" / "tread.trc"
    rounded.parent.mkdir()
    rounded.write_bytes(trc.read_bytes())
    t = np.round(np.arange(n) / plates[0].rate_hz, 3)
    write_mot(rounded.parent / "tread_grf.mot", cols, np.concatenate(blocks, axis=1), t, in_degrees=False)
    from_rounded = import_markers(rounded, grf=rounded.parent / "tread_grf.mot").events
    assert [(e.event, e.side) for e in from_rounded] == [(e.event, e.side) for e in from_c3d]
    assert max(abs(a.frame - b.frame) for a, b in zip(from_rounded, from_c3d)) <= 1


def test_an_inconsistent_reference_is_named_not_trusted():
    import polars as pl

    from neuropose_assets.core.comparison.agreement import reference_problems

    rows = [
        (e, s, t + o + (0.66 if e == "toe_off" else 0.0), "force_plate")
        for e in ("heel_strike", "toe_off")
        for t in (0.0, 1.1, 2.2)
        for s, o in (("left", 0.0), ("right", 0.55))
    ]
    good = pl.DataFrame(
        rows, schema={"event": pl.Utf8, "side": pl.Utf8, "time_s": pl.Float64, "source": pl.Utf8}, orient="row"
    )
    assert reference_problems(good) == []
    assert any(
        "no left heel strike while the right foot has 3" in p
        for p in reference_problems(good.filter(pl.col("side") == "right"))
    )
    late = good.with_columns(
        pl.when((pl.col("event") == "toe_off") & (pl.col("side") == "left"))
        .then(pl.col("time_s") + 1.5)
        .otherwise(pl.col("time_s"))
        .alias("time_s")
    )
    assert any(
        "1 contact(s) of implausible duration" in p and "left 2.16 s at 0.00 s" in p for p in reference_problems(late)
    )
    unsided = good.with_columns(pl.when(pl.col("time_s") < 0.6).then(None).otherwise(pl.col("side")).alias("side"))
    assert any("2 contact event(s) without a side" in p for p in reference_problems(unsided))
