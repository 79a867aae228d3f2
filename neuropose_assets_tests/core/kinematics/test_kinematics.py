import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.kinematics.features import (
    ANGLE_COLUMNS,
    FITTED_ANGLES,
    FeaturesConfig,
    compute_features,
    flexion_deg,
    included_angle,
)
from neuropose_assets.core.kinematics.skeletons import (
    BERKELEY_MHAD_43,
    BLAZEPOSE_33,
    CLINICAL_19,
    CLINICAL_JOINTS,
    get_skeleton,
)
from neuropose_assets.core.pose.base import FramePoses
from neuropose_assets.core.pose.estimate import build_poses_table


def test_right_angle_is_90_degrees():
    a, b, c = np.array([1.0, 0, 0]), np.zeros(3), np.array([0, 1.0, 0])
    assert np.degrees(included_angle(a, b, c)) == pytest.approx(90.0)
    assert flexion_deg(a, b, c) == pytest.approx(90.0)


def test_straight_limb_has_zero_flexion_and_collinear_fold_is_180():
    hip, knee, ankle = np.array([0, -400.0, 0]), np.zeros(3), np.array([0, 400.0, 0])
    assert flexion_deg(hip, knee, ankle) == pytest.approx(0.0, abs=1e-9)
    assert flexion_deg(hip, knee, hip) == pytest.approx(180.0)


def test_zero_length_segment_gives_nan():
    assert np.isnan(included_angle(np.zeros(3), np.zeros(3), np.ones(3)))


@pytest.mark.parametrize("skeleton", [BLAZEPOSE_33, BERKELEY_MHAD_43, CLINICAL_19])
def test_clinical_joints_are_means_of_their_native_joints_and_a_missing_one_spoils_only_its_own(skeleton):
    rng = np.random.default_rng(0)
    native = rng.normal(0, 100, (4, len(skeleton.joints), 3))
    clinical = skeleton.to_clinical(native)
    assert clinical.shape == (4, len(CLINICAL_JOINTS), 3)
    for c, joint in enumerate(CLINICAL_JOINTS):
        idx = [skeleton.index(s) for s in skeleton.clinical_map[joint]]
        np.testing.assert_allclose(clinical[:, c], native[:, idx].mean(axis=1))
    gone = skeleton.clinical_map["right_wrist"][0]
    native[:, skeleton.index(gone)] = np.nan  # e.g. a marker the file does not have
    clinical = skeleton.to_clinical(native)
    users = {c for c, j in enumerate(CLINICAL_JOINTS) if gone in skeleton.clinical_map[j]}
    assert np.isnan(clinical[:, sorted(users)]).all()
    assert np.isfinite(np.delete(clinical, sorted(users), axis=1)).all()


def test_mhad_index_34_is_the_left_foot_not_a_hip_marker():
    assert BERKELEY_MHAD_43.joints[34] == "lfoo"
    assert "lfoo" not in BERKELEY_MHAD_43.clinical_map["left_hip"]


def test_unknown_skeleton_names_the_known_ones():
    with pytest.raises(KeyError, match="blazepose_33"):
        get_skeleton("coco_17")


def _pose(rng, knee_bend_deg: float) -> np.ndarray:
    """A BlazePose-33 pose (mm) standing at x=100 with the left knee bent by ``knee_bend_deg`` in the sagittal plane."""
    p = rng.normal(0, 1, (33, 3)) + np.array([100.0, 0, 2000])
    idx = {n: i for i, n in enumerate(BLAZEPOSE_33.joints)}
    p[idx["left_hip"]] = [100, 0, 2000]
    p[idx["right_hip"]] = [300, 0, 2000]
    p[idx["left_knee"]] = [100, 400, 2000]
    t = np.radians(knee_bend_deg)
    p[idx["left_ankle"]] = [100, 400 + 400 * np.cos(t), 2000 - 400 * np.sin(t)]
    return p


def _table(poses_per_frame, fps=30.0):
    nj = len(BLAZEPOSE_33.joints)
    frames = []
    for p in poses_per_frame:
        if p is None:
            frames.append(FramePoses.empty(nj))
            continue
        p = np.asarray(p, np.float32)
        frames.append(
            FramePoses(
                np.array([[0, 0, 10, 10, 0.9]], np.float32), p[None], p[None, :, :2], np.ones((1, nj), np.float32)
            )
        )
    tracks = [np.zeros(f.n_persons, np.int64) for f in frames]
    return build_poses_table(frames, tracks, 0, np.arange(len(frames)) / fps, BLAZEPOSE_33.joints)


RAW = FeaturesConfig(max_gap_s=0, lowpass_hz=None)


def _kinematics(frames, knee_deg, arm=(0.0, 0.0)) -> pl.DataFrame:
    """A ``kinematics`` table (:func:`.kinematic_fit.kinematics_table` columns that features use) with the left knee
    at ``knee_deg`` (None = not seen) and the arms at ``arm`` = (flexion, adduction) deg."""
    data = {"frame": pl.Series(frames, dtype=pl.Int32)}
    for c in FITTED_ANGLES:
        v = [0.0] * len(frames)
        if c == "knee_angle_l":
            v = knee_deg
        elif c.startswith("arm_flex"):
            v = [arm[0]] * len(frames)
        elif c.startswith("arm_add"):
            v = [arm[1]] * len(frames)
        data[f"{c}_deg"] = pl.Series(v, dtype=pl.Float64)
    return pl.DataFrame(data)


def test_features_are_root_centred_with_the_fitted_angles_and_explicit_gaps():
    rng = np.random.default_rng(0)
    poses = _table([_pose(rng, b) if b is not None else None for b in (0.0, 30.0, None, 60.0)])
    assert poses.height == 4 and poses["track"].null_count() == 1
    feats, diag = compute_features(poses, BLAZEPOSE_33, RAW, _kinematics([0, 1, 2, 3], [0.0, 30.0, None, 60.0]))
    assert feats["subject_present"].to_list() == [True, True, False, True]
    assert diag["frames_missing"] == 1 and diag["frames_filled"] == 0
    np.testing.assert_allclose(feats["knee_angle_l_deg"].to_numpy()[[0, 1, 3]], [0, 30, 60], atol=1e-9)
    assert feats["knee_angle_l_deg"][2] is None
    np.testing.assert_allclose(feats["pelvis_x_mm"].drop_nulls().to_numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(feats["root_x_mm"].drop_nulls().to_numpy(), 200.0, atol=1e-3)
    np.testing.assert_allclose(feats["left_knee_x_mm"].drop_nulls().to_numpy(), -100.0, atol=1e-3)
    assert tuple(c for c in feats.columns if c.endswith("_deg")) == ANGLE_COLUMNS
    assert feats.schema["frame"] == pl.Int32
    no_fit, _ = compute_features(poses, BLAZEPOSE_33, RAW)  # without a fit the angles are null, never invented
    assert no_fit["knee_angle_l_deg"].null_count() == 4


def test_short_gaps_in_the_fitted_angles_are_filled_long_ones_stay_null_and_are_counted():
    rng = np.random.default_rng(0)
    seq = [_pose(rng, 10.0 * i) for i in range(12)]
    knees: list = [10.0 * i for i in range(12)]
    for i in (3, 7, 8, 9, 10):  # a 1-frame gap and a 4-frame gap
        seq[i] = None
        knees[i] = None
    feats, diag = compute_features(
        _table(seq),
        BLAZEPOSE_33,
        FeaturesConfig(max_gap_s=2 / 30, lowpass_hz=None),
        _kinematics(list(range(12)), knees),
    )
    knee = feats["knee_angle_l_deg"]
    assert knee[3] == pytest.approx(30.0) and all(knee[i] is None for i in (7, 8, 9, 10))
    assert diag == {
        "frames": 12,
        "frames_with_person": 7,
        "frames_filled": 1,
        "frames_missing": 4,
        "scale_segment_mm": None,
    }


def test_shoulder_elevation_is_the_humerus_against_the_torso_axis():
    poses = _table([_pose(np.random.default_rng(0), 0.0)])
    for flex, add, elevation in ((0, 0, 0), (90, 0, 90), (0, -90, 90), (180, 0, 180), (60, -60, 75.52)):
        f, _ = compute_features(poses, BLAZEPOSE_33, RAW, _kinematics([0], [0.0], arm=(flex, add)))
        assert f["shoulder_elevation_r_deg"][0] == pytest.approx(elevation, abs=0.01)


def _clinical_pose(thigh_deg=0.0, knee_deg=0.0, toe_up_deg=0.0, arm="down") -> np.ndarray:
    """BlazePose landmarks of a person facing the camera (camera frame: x image-right, y down, z away), so the
    subject's anterior is −z and their right side is image-left (−x)."""
    idx = {n: i for i, n in enumerate(BLAZEPOSE_33.joints)}
    p = np.zeros((33, 3))
    p[:] = [0, -300, 3000]
    put = lambda name, xyz: p.__setitem__(idx[name], np.array(xyz) + [0, 0, 3000])  # noqa: E731
    for side, x in (("left", 100.0), ("right", -100.0)):
        put(f"{side}_hip", [x, 0, 0])
        put(f"{side}_shoulder", [2 * x, -500, 0])
        put(f"{side}_ear", [0.8 * x, -650, 0])
        put(f"{side}_elbow", [2 * x, -250, 0] if arm == "down" else [4.5 * x, -500, 0])
        put(f"{side}_wrist", [2 * x, 0, 0] if arm == "down" else [7 * x, -500, 0])
        t = np.radians(thigh_deg if side == "left" else 0.0)
        knee = np.array([x, 450 * np.cos(t), -450 * np.sin(t)])
        k = np.radians((thigh_deg - knee_deg) if side == "left" else 0.0)
        ankle = knee + [0, 400 * np.cos(k), -400 * np.sin(k)]
        put(f"{side}_knee", knee)
        put(f"{side}_ankle", ankle)
        u = np.radians(toe_up_deg if side == "left" else 0.0)
        heel = ankle + [0, 50, 40]
        put(f"{side}_heel", heel)
        put(f"{side}_foot_index", heel + [0, -160 * np.sin(u), -160 * np.cos(u)])
    return p


def test_body_frame_scale_normalisation_and_speed():
    poses = [_clinical_pose() + np.array([0, 0, 3.0 * i]) for i in range(10)]  # 3 mm/frame = 90 mm/s away
    cfg = FeaturesConfig(max_gap_s=0, lowpass_hz=None, frame="body", scale_segment="thigh")
    f, diag = compute_features(_table(poses), BLAZEPOSE_33, cfg)
    row = f.row(0, named=True)
    assert row["neck_y_mm"] == pytest.approx(500, abs=1e-3)  # superior
    assert row["right_hip_z_mm"] == pytest.approx(100, abs=1e-3)  # subject's right
    assert row["left_toe_x_mm"] > 0  # anterior: toes point forward
    assert diag["scale_segment_mm"] == pytest.approx(450)
    assert row["neck_y_norm"] == pytest.approx(500 / 450)
    np.testing.assert_allclose(f["pelvis_speed_mm_s"].to_numpy(), 90.0, atol=1e-6)


def test_lowpass_smooths_jitter_without_shifting_the_movement():
    rng = np.random.default_rng(3)
    t = np.arange(120) / 60.0
    drift = 300 * np.sin(2 * np.pi * 0.8 * t)  # the knee moves sideways
    seq = [
        _pose(rng, 0.0) + rng.normal(0, 8, (33, 3)) + np.outer(np.isin(np.arange(33), [25]), [d, 0, 0]) for d in drift
    ]
    raw, _ = compute_features(_table(seq, fps=60), BLAZEPOSE_33, RAW)
    smooth, _ = compute_features(_table(seq, fps=60), BLAZEPOSE_33, FeaturesConfig(lowpass_hz=6.0))
    err = lambda df: np.abs(df["left_knee_x_mm"].to_numpy() + 100 - drift)[10:-10].mean()  # noqa: E731
    assert err(smooth) < 0.6 * err(raw)


def test_any_track_can_be_selected():
    rng = np.random.default_rng(0)
    p = _pose(rng, 20.0).astype(np.float32)
    nj = len(BLAZEPOSE_33.joints)
    two = FramePoses(
        np.array([[0, 0, 10, 10, 0.9], [50, 0, 10, 10, 0.8]], np.float32),
        np.stack([p, p + 1000]),
        np.stack([p[:, :2], p[:, :2]]),
        np.ones((2, nj), np.float32),
    )
    poses = build_poses_table([two, two], [np.array([0, 1])] * 2, 0, np.array([0, 1 / 30]), BLAZEPOSE_33.joints)
    other, _ = compute_features(poses, BLAZEPOSE_33, FeaturesConfig(track=1, max_gap_s=0, lowpass_hz=None))
    assert other["root_x_mm"][0] == pytest.approx(1200.0)
    with pytest.raises(KeyError, match="track 7"):
        compute_features(poses, BLAZEPOSE_33, FeaturesConfig(track=7))


def test_summary_statistics_whole_trial_and_per_repetition():
    from neuropose_assets.core.kinematics.features import summary_statistics

    df = pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0, None]})
    row = summary_statistics(df, ["x"]).row(0, named=True)
    assert (row["mean"], row["min"], row["max"], row["range"], row["n"]) == (3.0, 1.0, 5.0, 4.0, 5)
    assert row["std"] == pytest.approx(np.sqrt(2.0))  # numpy's population std, as the NeuroPose analyzer
    segs = pl.DataFrame({"repetition": [0, 1], "start_frame": [0, 2], "end_frame": [2, 6]})
    per = summary_statistics(df, ["x"], segs)
    assert per["mean"].to_list() == [1.5, 4.0] and per["repetition"].to_list() == [0, 1]


def test_the_low_pass_is_what_its_description_says():
    """Order per pass, two passes: −6.02 dB at the cut-off, and order 2 per pass is a different (milder) filter."""
    from scipy.signal import butter, sosfreqz

    from neuropose_assets.core.kinematics.signal import filter_description, lowpass

    fs, fc = 60.0, 6.0
    d = filter_description(fc, 4)
    assert (d["order_per_pass"], d["effective_order"], d["gain_at_cutoff_db"]) == (4, 8, -6.02)
    t = np.arange(0, 20, 1 / fs)
    tone = np.sin(2 * np.pi * fc * t)
    out = lowpass(tone, fc, fs)
    gain_db = 20 * np.log10(np.std(out[300:-300]) / np.std(tone[300:-300]))
    assert gain_db == pytest.approx(-6.02, abs=0.2)
    _, h = sosfreqz(butter(4, fc, fs=fs, output="sos"), worN=[fc], fs=fs)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-3.01, abs=0.01)  # each pass: −3 dB
    above = np.sin(2 * np.pi * 12 * t)
    assert np.std(lowpass(above, fc, fs, order=2)[300:-300]) > np.std(lowpass(above, fc, fs)[300:-300])


def test_variable_frame_rate_is_filtered_on_true_times():
    """Every third frame held twice as long (what phones do): filtering by index would treat the signal as if it
    were time-warped; on the true times the slow movement survives and the jitter is removed."""
    from neuropose_assets.core.kinematics.signal import fill_gaps, is_uniform, lowpass, lowpass_times

    steps = np.tile([1, 1, 2], 200) / 60.0
    t = np.concatenate([[0.0], np.cumsum(steps)])
    slow = np.sin(2 * np.pi * 1.5 * t)
    assert not is_uniform(t) and is_uniform(np.arange(10) / 30)
    inner = slice(60, -60)

    def error(y):
        return np.max(np.abs(y - slow)[inner])

    naive_fs = 1 / np.median(np.diff(t))
    # the movement alone: filtered on true times it passes unchanged; by index it is distorted
    assert error(lowpass_times(slow, t, 6.0)) < 0.005
    assert error(lowpass(slow, 6.0, naive_fs)) > 10 * error(lowpass_times(slow, t, 6.0))
    x = slow + 0.2 * np.sin(2 * np.pi * 10 * t)  # with jitter above the cut-off
    assert error(lowpass_times(x, t, 6.0)) < 0.03 < error(lowpass(x, 6.0, naive_fs))
    gap = x.copy()
    gap[100:104] = np.nan
    assert np.isnan(lowpass_times(gap, t, 6.0)[100:104]).all()  # gaps stay gaps
    filled = fill_gaps(np.array([0.0, np.nan, 3.0]), t=np.array([0.0, 1.0, 3.0]))
    assert filled[1] == 1.0  # interpolated in time, not halfway by index
