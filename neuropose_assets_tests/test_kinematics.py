import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.kinematics import ANGLES, compute_features, flexion_deg, included_angle, inclination_deg
from neuropose_assets.core.pose.base import FramePoses
from neuropose_assets.core.pose.estimate import build_poses_table
from neuropose_assets.core.skeletons import BERKELEY_MHAD_43, BLAZEPOSE_33, CLINICAL_JOINTS, get_skeleton


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


def test_inclination_of_upright_trunk_is_zero_and_horizontal_is_90():
    pelvis = np.zeros(3)
    assert inclination_deg(pelvis, np.array([0, -500.0, 0])) == pytest.approx(0.0, abs=1e-9)  # y points down
    assert inclination_deg(pelvis, np.array([500.0, 0, 0])) == pytest.approx(90.0)


@pytest.mark.parametrize("skeleton", [BLAZEPOSE_33, BERKELEY_MHAD_43])
def test_every_clinical_joint_is_mapped_and_rows_average_to_one(skeleton):
    m = skeleton.clinical_matrix()
    assert m.shape == (len(CLINICAL_JOINTS), len(skeleton.joints))
    np.testing.assert_allclose(m.sum(axis=1), 1.0)


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


def test_features_are_root_centred_with_known_angles_and_explicit_gaps():
    rng = np.random.default_rng(0)
    nj = len(BLAZEPOSE_33.joints)
    frames = []
    for bend in (0.0, 30.0, None, 60.0):
        if bend is None:
            frames.append(FramePoses.empty(nj))
            continue
        p = _pose(rng, bend).astype(np.float32)
        frames.append(FramePoses(np.array([[0, 0, 10, 10, 0.9]], np.float32), p[None], p[None, :, :2],
                                 np.ones((1, nj), np.float32)))  # fmt: skip
    tracks = [np.zeros(f.n_persons, np.int64) for f in frames]
    poses = build_poses_table(frames, tracks, 0, np.arange(4) / 30.0, BLAZEPOSE_33.joints)
    assert poses.height == 4 and poses["track"].null_count() == 1
    feats = compute_features(poses, BLAZEPOSE_33)
    assert feats["subject_present"].to_list() == [True, True, False, True]
    np.testing.assert_allclose(feats["left_knee_flexion_deg"].to_numpy()[[0, 1, 3]], [0, 30, 60], atol=1e-3)
    assert feats["left_knee_flexion_deg"][2] is None
    np.testing.assert_allclose(feats["pelvis_x_mm"].drop_nulls().to_numpy(), 0.0, atol=1e-9)
    np.testing.assert_allclose(feats["root_x_mm"].drop_nulls().to_numpy(), 200.0, atol=1e-3)
    np.testing.assert_allclose(feats["left_knee_x_mm"].drop_nulls().to_numpy(), -100.0, atol=1e-3)
    assert set(ANGLES) <= set(feats.columns)
    assert feats.schema["frame"] == pl.Int32
