"""The skeletal model and its fit: forward kinematics and Jacobians, OpenSim's signs, recovery of known angles from
keypoints seen through a camera (with keypoint noise and the pose model's unreliable depth), direction invariance
(a mirrored video gives the same angles), and nulls where a keypoint is not seen."""

import numpy as np
import pytest

from neuropose_assets.core.kinematics import biomech as bm
from neuropose_assets.core.kinematics.fit import FitConfig, Observations, fit_model, kinematics_table

DIMS = np.array([0.2, 0.02, 0.42, 0.41, 0.07, 0.05, 0.17, 0.5, 0.34, 0.29, 0.26])


def test_jacobian_matches_finite_differences_and_the_signs_are_opensims():
    rng = np.random.default_rng(0)
    q = rng.normal(0, 0.4, (4, len(bm.COORDINATES)))
    q[:, 3:6] = rng.normal(0, 1, (4, 3))
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    pose = bm.forward_kinematics(q, DIMS, rot)
    numeric = np.zeros_like(pose.jacobian())
    for c in range(q.shape[1]):
        dq = q.copy()
        dq[:, c] += 1e-6
        numeric[..., c] = (bm.forward_kinematics(dq, DIMS, rot).points - pose.points) / 1e-6
    np.testing.assert_allclose(pose.jacobian(), numeric, atol=1e-5)
    without = numeric.copy()
    without[..., 3:6] = 0.0  # the fit's root-relative points: the pelvis translations move none of them
    np.testing.assert_allclose(pose.jacobian(translations=False), without, atol=1e-5)
    zero = np.zeros((1, len(bm.COORDINATES)))
    p0 = bm.forward_kinematics(zero, DIMS).points[0]

    def moved(coordinate: str, keypoint: str, axis: int, deg: float = 20.0) -> float:
        q = zero.copy()
        q[0, bm.INDEX[coordinate]] = np.radians(deg)
        return float(bm.forward_kinematics(q, DIMS).points[0, bm.KP[keypoint], axis] - p0[bm.KP[keypoint], axis])

    X, Y, Z = 0, 1, 2  # anterior, superior, right
    assert moved("hip_flexion_r", "right_knee", X) > 0  # flexion: the thigh forward
    assert moved("knee_angle_l", "left_ankle", X) < 0  # flexion: the shank back
    assert moved("ankle_angle_r", "right_toe", Y) > 0  # dorsiflexion: the toes up
    assert moved("hip_adduction_r", "right_knee", Z) < 0 < moved("hip_adduction_l", "left_knee", Z)  # to the midline
    assert moved("hip_rotation_r", "right_toe", Z, 45) < 0 < moved("hip_rotation_l", "left_toe", Z, 45)  # internal
    assert moved("lumbar_extension", "right_shoulder", X) < 0  # extension: the torso back
    assert moved("pelvis_tilt", "right_shoulder", X) < 0  # about +Z, like hip flexion: the top of the pelvis back
    assert moved("arm_flex_r", "right_wrist", X) > 0 and moved("elbow_flex_l", "left_wrist", X) > 0
    assert moved("pelvis_list", "right_hip", Y) < 0 < moved("pelvis_list", "left_hip", Y)  # the right side drops
    assert moved("pelvis_rotation", "right_toe", Z, 30) < 0  # turning left: the toes point left
    assert moved("lumbar_bending", "left_shoulder", Z) > 0  # bending right
    assert moved("arm_add_r", "right_wrist", Z) < 0 < moved("arm_add_l", "left_wrist", Z)  # toward the midline


def _truth(n: int = 120, fps: float = 60.0) -> tuple[np.ndarray, np.ndarray]:
    """A sit-to-stand-like movement: hips and knees 90° → 0° → 90°, ankles following, arms forward."""
    t = np.arange(n) / fps
    phase = 0.5 * (1 + np.cos(2 * np.pi * t / t[-1]))  # 1 seated, 0 standing, 1 seated
    q = np.zeros((n, len(bm.COORDINATES)))
    for s in ("r", "l"):
        q[:, bm.INDEX[f"hip_flexion_{s}"]] = np.radians(5 + 85 * phase)
        q[:, bm.INDEX[f"knee_angle_{s}"]] = np.radians(3 + 92 * phase)
        q[:, bm.INDEX[f"ankle_angle_{s}"]] = np.radians(2 + 15 * phase)
        q[:, bm.INDEX[f"hip_adduction_{s}"]] = np.radians(-4)
        q[:, bm.INDEX[f"arm_flex_{s}"]] = np.radians(60)
        q[:, bm.INDEX[f"elbow_flex_{s}"]] = np.radians(70)
    q[:, bm.INDEX["hip_flexion_r"]] += np.radians(8 * np.sin(2 * np.pi * t))  # the sides differ a little
    q[:, bm.INDEX["lumbar_extension"]] = -0.2 * q[:, bm.INDEX["hip_flexion_r"]]
    return t, q


def _observe(t, q, rng, *, yaw_deg: float = -40.0, mirror: bool = False, depth_noise_mm: float = 60.0):
    """Keypoints of states ``q`` seen by a 720×1280 camera 3.5 m away, the subject turned ``yaw_deg`` (front-oblique):
    2D with 3-px noise, root-relative 3D with ``depth_noise_mm`` of error in depth; ``mirror``: the image flipped
    left-right (u → W − u, x → −x), the pose model labelling the sides as it sees them."""
    yaw = np.radians(yaw_deg)
    # columns: the subject's anterior, up and right in camera axes (x right, y down, z away); yaw 0 = facing the camera
    ground_to_cam = np.stack([[np.sin(yaw), 0, -np.cos(yaw)], [0, -1, 0], [-np.cos(yaw), 0, -np.sin(yaw)]], axis=1)
    assert np.linalg.det(ground_to_cam) == pytest.approx(1.0)
    qq = q.copy()
    qq[:, 3:6] = 0.0
    rel = bm.forward_kinematics(qq, DIMS, ground_to_cam).points
    cam = rel + np.array([0.1, 0.2, 3.5])
    f, w, h = 1000.0, 720, 1280
    uv = f * cam[..., :2] / cam[..., 2:3] + [w / 2, h / 2] + rng.normal(0, 3, cam[..., :2].shape)
    xyz = rel + np.concatenate(
        [rng.normal(0, 0.015, rel[..., :2].shape), rng.normal(0, depth_noise_mm / 1000, rel[..., 2:].shape)], -1
    )
    if mirror:
        uv[..., 0] = w - uv[..., 0]
        xyz[..., 0] = -xyz[..., 0]
        swap = [bm.KP[k.replace("left", "@").replace("right", "left").replace("@", "right")] for k in bm.KEYPOINTS]
        uv, xyz = uv[:, swap], xyz[:, swap]
    return Observations(t, uv, xyz, np.full(uv.shape[:2], 0.95), w, h)


def _error_deg(fit, q, coordinate: str, truth_coordinate: str | None = None) -> float:
    a = np.degrees(fit.q[:, bm.INDEX[coordinate]])
    b = np.degrees(q[:, bm.INDEX[truth_coordinate or coordinate]])
    return float(np.sqrt(np.mean((a - b)[5:-5] ** 2)))


def test_the_fit_recovers_known_angles_from_noisy_keypoints():
    t, q = _truth()
    fit = fit_model(_observe(t, q, np.random.default_rng(1)), FitConfig())
    for c in ("knee_angle_r", "knee_angle_l", "hip_flexion_r", "hip_flexion_l", "ankle_angle_r", "ankle_angle_l"):
        assert _error_deg(fit, q, c) < 4.0, (c, _error_deg(fit, q, c))
    assert _error_deg(fit, q, "elbow_flex_r") < 8.0
    assert np.nanmedian(fit.residual_px) < 6.0
    assert fit.dims.thigh == pytest.approx(0.42, rel=0.12) and fit.dims.shank == pytest.approx(0.41, rel=0.12)


def test_a_mirrored_video_gives_the_same_angles_with_the_sides_swapped():
    t, q = _truth()
    rng = np.random.default_rng(2)
    plain = fit_model(_observe(t, q, rng), FitConfig())
    mirrored = fit_model(_observe(t, q, np.random.default_rng(2), mirror=True), FitConfig())
    for right, left in (
        ("knee_angle_r", "knee_angle_l"),
        ("hip_flexion_r", "hip_flexion_l"),
        ("ankle_angle_r", "ankle_angle_l"),
        ("hip_adduction_r", "hip_adduction_l"),
    ):
        for a, b in ((right, left), (left, right)):
            d = np.degrees(plain.q[:, bm.INDEX[a]] - mirrored.q[:, bm.INDEX[b]])[5:-5]
            assert np.sqrt(np.mean(d**2)) < 2.0, (a, b, np.sqrt(np.mean(d**2)))


def test_an_angle_whose_keypoints_are_not_seen_is_null_with_the_reason():
    t, q = _truth(60)
    obs = _observe(t, q, np.random.default_rng(3))
    obs.conf[20:40, bm.KP["left_toe"]] = 0.1  # the left toe hidden for 20 frames
    fit = fit_model(obs, FitConfig())
    table, nulls = kinematics_table(np.arange(60), obs, fit)
    ankle = table["ankle_angle_l_deg"]
    assert (
        ankle[20:40].null_count() == 20 and ankle[:20].null_count() == 0 and table["knee_angle_l_deg"].null_count() == 0
    )
    assert nulls["ankle_angle_l"]["null_frames"] == 20 and "left_toe" in nulls["ankle_angle_l"]["reason"]
    assert table["left_toe_residual_px"][25] is None and table["residual_rms_px"].null_count() == 0


def test_a_declared_height_scales_the_model_and_not_the_angles():
    t, q = _truth(60)
    obs = _observe(t, q, np.random.default_rng(4))
    free, tall = fit_model(obs, FitConfig()), fit_model(obs, FitConfig(height_m=1.95))
    assert tall.height_m == pytest.approx(1.95, rel=1e-6) and abs(free.height_m - 1.95) > 0.05
    d = np.degrees(tall.q[:, bm.INDEX["knee_angle_r"]] - free.q[:, bm.INDEX["knee_angle_r"]])
    assert np.sqrt(np.mean(d**2)) < 3.0  # a uniform scale moves the subject in depth, the angles stay


def test_each_angle_carries_its_standard_deviation_and_an_undetermined_one_is_null():
    from neuropose_assets.core.kinematics.fit import MAX_SD_DEG

    t, q = _truth(60)
    obs = _observe(t, q, np.random.default_rng(5))
    fit = fit_model(obs, FitConfig())
    sd = np.degrees(fit.sd)
    knee, rot = np.median(sd[:, bm.INDEX["knee_angle_r"]]), np.median(sd[:, bm.INDEX["hip_rotation_r"]])
    assert 0.2 < knee < 8.0 and rot > knee, (knee, rot)  # a hip's rotation is less visible than a knee's flexion
    fit.sd[30:35, bm.INDEX["ankle_angle_l"]] = np.radians(MAX_SD_DEG + 1)  # as if the foot were not resolved there
    table, nulls = kinematics_table(np.arange(60), obs, fit)
    assert table["ankle_angle_l_deg"][30:35].null_count() == 5 and table["ankle_angle_l_sd_deg"][29] < MAX_SD_DEG
    assert "determine it no better than ±15°" in nulls["ankle_angle_l"]["reason"]


def test_imposing_the_true_angles_fits_the_keypoints_as_well_and_wrong_ones_worse():
    """fit_imposed, the keypoints-vs-solve diagnostic: on keypoints made from known angles, holding the true angles
    costs nothing in reprojection; holding knees 15° too flexed is held and costs pixels (2.6 → 4.5 px median here)."""
    from neuropose_assets.core.kinematics.fit import fit_imposed

    t, q = _truth()
    obs = _observe(t, q, np.random.default_rng(3))
    free = fit_model(obs, FitConfig())
    legs = [bm.KP[k] for k in bm.KEYPOINTS if k.endswith(("knee", "ankle", "heel", "toe"))]
    names = [f"{c}_{s}" for c in ("hip_flexion", "knee_angle", "ankle_angle") for s in ("r", "l")]
    true = {c: q[:, bm.INDEX[c]] for c in names}
    frames, held = fit_imposed(obs, free, true)
    assert len(frames) == len(t)
    assert np.median(held.residual_px[:, legs]) < np.median(free.residual_px[:, legs]) + 0.5
    wrong = {**true, **{f"knee_angle_{s}": q[:, bm.INDEX[f"knee_angle_{s}"]] + np.radians(15) for s in ("r", "l")}}
    wrong["knee_angle_r"][:10] = np.nan  # unknown frames are left out
    frames, bad = fit_imposed(obs, free, wrong)
    assert len(frames) == len(t) - 10
    assert np.degrees(np.abs(bad.q[:, bm.INDEX["knee_angle_r"]] - wrong["knee_angle_r"][frames])).max() < 3.0
    assert np.median(bad.residual_px[:, legs]) > np.median(free.residual_px[frames][:, legs]) + 1.5
    with pytest.raises(ValueError, match="too few"):
        fit_imposed(obs, free, {"knee_angle_r": np.full(len(t), np.nan)})


def test_the_solver_in_blocks_of_frames_solves_each_frame_as_all_at_once(monkeypatch):
    """The Levenberg–Marquardt solve works on blocks of frames (fit.LM_BLOCK_FRAMES); a block is the whole problem's
    frames, with everything estimated from all frames kept — residuals, Jacobians and solutions equal."""
    from neuropose_assets.core.kinematics import fit as F

    t, q = _truth(n=600)
    obs = _observe(t, q, np.random.default_rng(3))
    ground, dims = F.ground_rotation(obs.xyz), F.initial_dimensions(obs.xyz)
    problem = F._Problem(obs, ground, dims, 1000.0, FitConfig())
    q0 = F.initial_state(obs, ground, dims, 1000.0)
    block = slice(256, 512)
    r, j = problem.residuals(q0, q)
    rb, jb = problem.frames(block).residuals(q0[block], q[block])
    np.testing.assert_array_equal(rb, r[block])
    np.testing.assert_array_equal(jb, j[block])
    blocks = F._levenberg_marquardt(problem, q0, q, iterations=4)
    monkeypatch.setattr(F, "LM_BLOCK_FRAMES", 10_000)
    whole = F._levenberg_marquardt(problem, q0, q, iterations=4)
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-9)


def test_the_fits_jacobian_matches_finite_differences_of_its_residuals():
    """The fit's Jacobian is assembled block by block at the (keypoint, rotation) pairs alone (2D reprojection, 3D,
    priors, level feet, smoothness): every entry must be the derivative of its residual."""
    from neuropose_assets.core.kinematics import fit as F

    t, q = _truth(n=8)
    obs = _observe(t, q, np.random.default_rng(4))
    ground, dims = F.ground_rotation(obs.xyz), F.initial_dimensions(obs.xyz)
    problem = F._Problem(obs, ground, dims, 1000.0, FitConfig())
    problem.flat[:] = True  # the level-feet rows in play for every frame
    q0 = F.initial_state(obs, ground, dims, 1000.0)
    target = q0 + 0.05
    r, j = problem.residuals(q0, target)
    numeric = np.zeros_like(j)
    for c in range(q0.shape[1]):
        dq = q0.copy()
        dq[:, c] += 1e-7
        numeric[..., c] = (problem.residuals(dq, target, jac=False)[0] - r) / 1e-7
    np.testing.assert_allclose(j, numeric, rtol=1e-4, atol=1e-3)
    assert np.count_nonzero(j) > 0.2 * j.size  # not a Jacobian of zeros matching residuals that do not move
