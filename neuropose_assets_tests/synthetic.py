"""Synthetic movements with known answers: a stick figure on the clinical joint set, turned into a BlazePose-33 poses
table and through ``compute_features``, so that events and outcomes are tested on the real code path.

Local body coordinates (mm, camera-aligned axes): the subject faces +x, y points down, the subject's right is −z;
the ankles are on the floor at y = 870.  Segment lengths: thigh 450, shank 420, trunk 500, upper arm 300.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from neuropose_assets.core.kinematics.features import FeaturesConfig, compute_features
from neuropose_assets.core.kinematics.skeletons import BLAZEPOSE_33, CLINICAL_JOINTS
from neuropose_assets.core.pose.base import FramePoses
from neuropose_assets.core.pose.estimate import build_poses_table

CI = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
THIGH, SHANK, TRUNK, ARM = 450.0, 420.0, 500.0, 300.0
PX_PER_MM = 0.5


def body(
    sit_deg: float = 0.0,
    swing: tuple[float, float] = (0.0, 0.0),
    elevation: tuple[float, float] = (0.0, 0.0),
    knee: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """Clinical joints ``(C, 3)`` in local coordinates.

    Args:
        sit_deg: thigh angle from the vertical (0 standing, 90 seated with a horizontal thigh); hip and knee flexion
            both equal it.
        swing: (left, right) forward displacement of each foot relative to the knee line, mm.
        elevation: (left, right) shoulder elevation (abduction in the frontal plane), deg.
        knee: (left, right) extra knee flexion, deg: the shank (ankle, heel, toe) turns backwards about the knee, as
            in the swing phase of walking.
    """
    p = np.zeros((len(CLINICAL_JOINTS), 3))
    a = np.radians(sit_deg)
    hip = np.array([-THIGH * np.sin(a), 450.0 - THIGH * np.cos(a), 0.0])  # the knee is at y = 450, above the ankle
    for side, z, sw, el in (("left", 100.0, swing[0], elevation[0]), ("right", -100.0, swing[1], elevation[1])):
        p[CI[f"{side}_hip"]] = hip + [0, 0, z]
        p[CI[f"{side}_knee"]] = [sw / 2, 450.0, z]
        p[CI[f"{side}_ankle"]] = [sw, 870.0, z]
        p[CI[f"{side}_heel"]] = [sw - 50, 900.0, z]
        p[CI[f"{side}_toe"]] = [sw + 150, 900.0, z]
        kb = np.radians(knee[0] if side == "left" else knee[1])
        if kb:  # rotate the shank about the knee in the sagittal (x–y) plane: the foot goes back and up
            c_, s_ = np.cos(kb), np.sin(kb)
            k = p[CI[f"{side}_knee"]].copy()
            for j in ("ankle", "heel", "toe"):
                d = p[CI[f"{side}_{j}"]] - k
                p[CI[f"{side}_{j}"]] = k + [c_ * d[0] - s_ * d[1], s_ * d[0] + c_ * d[1], d[2]]
        sh = hip + [0, -TRUNK, 1.8 * z]
        p[CI[f"{side}_shoulder"]] = sh
        e = np.radians(el)
        p[CI[f"{side}_elbow"]] = sh + ARM * np.array([0, np.cos(e), np.sign(z) * np.sin(e)])
        p[CI[f"{side}_wrist"]] = sh + (ARM + 250) * np.array([0, np.cos(e), np.sign(z) * np.sin(e)])
    p[CI["pelvis"]] = hip
    p[CI["neck"]] = hip + [0, -TRUNK, 0]
    p[CI["head"]] = hip + [0, -TRUNK - 200, 0]
    return p


def _native(clinical: np.ndarray) -> np.ndarray:
    """BlazePose-33 joints ``(33, 3)`` whose clinical mapping gives back ``clinical``."""
    src = {"left_foot_index": "left_toe", "right_foot_index": "right_toe"}
    out = np.zeros((len(BLAZEPOSE_33.joints), clinical.shape[1]))
    for i, j in enumerate(BLAZEPOSE_33.joints):
        c = src.get(j, j)
        out[i] = clinical[CI[c]] if c in CI else clinical[CI["head"]]
    return out


def features_from_bodies(
    local: np.ndarray, fps: float = 60.0, *, yaw_deg: np.ndarray | None = None, travel_mm: np.ndarray | None = None
) -> pl.DataFrame:
    """The ``features`` table of a movement.

    Args:
        local: ``(F, C, 3)`` clinical joints in local coordinates (:func:`body`).
        yaw_deg: ``(F,)`` heading about the vertical axis (0 = facing +x, the image right); default 0.
        travel_mm: ``(F,)`` pelvis progression along +x (camera frame), mm; default 0.
    Returns:
        features (no low-pass, so known answers stay exact): 3D hip-centred like BlazePose; 2D = orthographic
        projection at :data:`PX_PER_MM`.
    """
    n = len(local)
    yaw = np.radians(np.zeros(n) if yaw_deg is None else yaw_deg)
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0], rot[:, 0, 2], rot[:, 1, 1], rot[:, 2, 0], rot[:, 2, 2] = c, s, 1.0, -s, c
    pelvis = local[:, CI["pelvis"]][:, None, :]
    world = np.einsum("fij,fcj->fci", rot, local - pelvis) + pelvis
    if travel_mm is not None:
        world[:, :, 0] += travel_mm[:, None]
    centred = world - world[:, CI["pelvis"]][:, None, :]
    uv = world[:, :, :2] * PX_PER_MM + np.array([600.0, 100.0])
    frames = []
    for f in range(n):
        p3, p2 = _native(centred[f]), _native(uv[f])
        lo, hi = p2.min(axis=0), p2.max(axis=0)
        frames.append(
            FramePoses(
                boxes=np.array([[lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1], 0.9]], np.float32),
                poses3d=p3[None].astype(np.float32),
                poses2d=p2[None].astype(np.float32),
                confidence=np.ones((1, len(BLAZEPOSE_33.joints)), np.float32),
            )
        )
    poses = build_poses_table(frames, [np.array([0])] * n, 0, np.arange(n) / fps, BLAZEPOSE_33.joints)
    feats, _ = compute_features(poses, BLAZEPOSE_33, FeaturesConfig(lowpass_hz=None), exact_kinematics(poses))
    return feats


def exact_kinematics(poses: pl.DataFrame) -> pl.DataFrame:
    """The ``kinematics`` table of noise-free synthetic poses from the fit's analytic start
    (:func:`~neuropose_assets.core.kinematics.fit.initial_state`: the angles computed from the 3D segment directions,
    exact for exact keypoints), so that the event and outcome tests stay fast; the fit itself is tested in
    test_biomech.py."""
    from neuropose_assets.core.kinematics import biomech as bm
    from neuropose_assets.core.kinematics.fit import (
        Fit,
        ground_rotation,
        initial_dimensions,
        initial_state,
        kinematics_table,
        observations_from_poses,
    )

    frames, obs = observations_from_poses(poses, BLAZEPOSE_33, 1200, 1200)
    dims = initial_dimensions(obs.xyz)
    q = initial_state(obs, ground_rotation(obs.xyz), dims, 1000.0)
    zeros = np.zeros(obs.conf.shape)
    fit = Fit(q, zeros, zeros, bm.Dimensions.from_array(dims), 1000.0, np.eye(3))
    return kinematics_table(frames, obs, fit)[0]


def smooth_step(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    """0 before ``t0``, 1 after ``t1``, a raised-cosine ramp in between."""
    x = np.clip((t - t0) / (t1 - t0), 0, 1)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def walk(
    fps: float = 60.0,
    stride_s: float = 1.1,
    strides: float = 6.5,
    stance: float = 0.6,
    amp: float = 300.0,
    speed_mm_s: float = 1200.0,
    first_hs_s: float = 0.3,
    yaw_deg: float = 0.0,
) -> tuple[pl.DataFrame, dict]:
    """A side-view walk to the image right: heel strikes of the left foot every ``stride_s`` from ``first_hs_s``,
    right half a stride later; each heel is most anterior (``+amp``) at its heel strike and its toe most posterior at
    toe-off = heel strike + ``stance`` × stride; ``yaw_deg`` turns the body about the vertical (0 = side view, 90 =
    facing away from the camera; the pelvis still travels along the image's x).  Returns ``(features, truth)``."""
    t = np.arange(0, first_hs_s + strides * stride_s, 1 / fps)
    local, truth = [], {"heel_strike": {}, "toe_off": {}}
    for side, off in (("left", 0.0), ("right", 0.5)):
        hs0 = first_hs_s + off * stride_s
        truth["heel_strike"][side] = [x for x in hs0 + stride_s * np.arange(-1, strides + 1) if 0.15 < x < t[-1] - 0.15]
        truth["toe_off"][side] = [
            x + stance * stride_s
            for x in hs0 + stride_s * np.arange(-2, strides + 1)
            if 0.15 < x + stance * stride_s < t[-1] - 0.15
        ]
    swing = {}
    for side, off in (("left", 0.0), ("right", 0.5)):
        hs0 = first_hs_s + off * stride_s
        phase = 2 * np.pi * (t - hs0) / stride_s
        # heel: max at HS (phase 0); toe: min at TO (phase 2π·stance); one sinusoid each, mixed per frame
        heel = amp * np.cos(phase)
        toe_rel = amp * np.cos(phase - 2 * np.pi * stance + np.pi)
        swing[side] = (heel, toe_rel)
    for f in range(len(t)):
        b = body(swing=(swing["left"][0][f], swing["right"][0][f]))
        for side in ("left", "right"):
            b[CI[f"{side}_toe"], 0] = swing[side][1][f] + 150
        local.append(b)
    feats = features_from_bodies(np.array(local), fps, travel_mm=speed_mm_s * t, yaw_deg=np.full(len(t), yaw_deg))
    return feats, truth


def sit_to_stand(
    fps: float = 60.0, reps: int = 5, period_s: float = 2.6, seated_s: float = 1.0
) -> tuple[pl.DataFrame, dict]:
    """Seated, then ``reps`` cycles of rise (0.5 s) – stand (0.6 s) – sit (0.5 s) – seated, each starting
    ``period_s`` after the previous.  Returns ``(features, truth)`` with the phase times (10 % / 90 % crossings)."""
    dur = seated_s + reps * period_s + 1.0
    t = np.arange(0, dur, 1 / fps)
    sit = np.full(len(t), 90.0)
    for k in range(reps):
        t0 = seated_s + k * period_s
        up = smooth_step(t, t0, t0 + 0.5)
        down = smooth_step(t, t0 + 1.1, t0 + 1.6)
        sit -= 90.0 * (up - down)
    local = np.array([body(sit_deg=a) for a in sit])
    # pelvis height above the ankles: 870 - y_hip = 420 + 450 cos(a); crossings are found on the features themselves
    return features_from_bodies(local, fps), {"t": t, "sit_deg": sit}
