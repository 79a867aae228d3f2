"""Fit the skeletal model (:mod:`.biomech`) to a video's keypoints: OpenSim coordinates per frame, with residuals.

The pose model gives, per frame, 2D keypoints (px, accurate in the image plane) and 3D keypoints (mm, root-relative,
camera axes; their depth is the weak part).  The fit finds, for every frame, the model coordinates ``q``
(:data:`.biomech.COORDINATES`) whose keypoints

* project onto the 2D keypoints through a pinhole camera (focal length estimated, principal point at the image
  centre): reprojection residual in px, weighted by the keypoint's confidence;
* match the root-relative 3D keypoints, with a larger tolerance in depth (camera z) than in the image plane;
* respect the joint limits (:data:`.biomech.LIMITS_DEG`) and weak priors on what keypoints cannot observe (the lumbar
  angles and the hip and arm rotations, pulled toward neutral);
* change smoothly: a prior toward a zero-phase low-pass of the trajectory (the fit alternates between the per-frame
  solve and the filter, a proximal smoothing scheme).

The segment dimensions (:class:`.biomech.Dimensions`) are constant over the trial: estimated from a subsample of
frames together with the focal length, optionally scaled to a known subject height.  The ground frame is the camera
frame turned so that Y is the image's up direction and X the subject's mean facing direction (the camera is assumed
level: its pitch adds to ``pelvis_tilt``, its roll to ``pelvis_list``; joint angles do not depend on it).

Solver: a Levenberg–Marquardt (damped Gauss–Newton) iteration run for all frames at once (batched ``numpy.linalg``
solves of the 27×27 normal equations, analytic Jacobians from :meth:`.biomech.Pose.jacobian`), projected onto the
joint limits; the dimensions and the focal length by :func:`scipy.optimize.least_squares` on a subsample.  Why not a
library for the whole solve: OpenSim's inverse kinematics (and mink / MuJoCo, Pinocchio, biorbd) fit 3D markers frame
by frame — none fits a model to 2D keypoints through a camera with trial-constant dimensions and temporal smoothing,
which is what recovers depth that the pose model's 3D output gets wrong (docs/architecture.md, "The skeletal model
behind the joint angles").

Memory is flat in video length: frames are solved in chunks (:data:`CHUNK_FRAMES`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, Field

from neuropose_assets.core.kinematics import biomech as bm
from neuropose_assets.core.models import STRICT

NQ, NK = len(bm.COORDINATES), len(bm.KEYPOINTS)
CHUNK_FRAMES = 2000
#: frames the Levenberg–Marquardt solver updates at once: its Jacobians take ~36 kB a frame, and a block this size
#: stays in the processor's cache (measured: the solve 20–25 % faster than 1200 frames at once).  The frames are
#: independent in it; only the last bits of a few sums depend on the block's shape (≤ 3e-13 rad measured)
LM_BLOCK_FRAMES = 256
#: the :class:`_Problem` attributes that hold one row per frame
PER_FRAME = ("w", "uv", "xyz", "w3", "flat")
#: Levenberg–Marquardt iterations of the per-frame solve, and of each smoothing round (more change nothing measurable on
#: the dev clips: benchmarks/validate_kinematics.py)
LM_FIRST, LM_SMOOTH = 8, 4
#: a frame keeps its unsmoothed solution when smoothing made its keypoint residuals this many times worse
SMOOTHING_TOLERANCE = 2.0


class FitConfig(BaseModel):
    """Settings of the model fit; stored in the provenance of the ``kinematics`` table.

    Attributes:
        fov_deg: prior field of view of the camera across the image's long side, deg (phones: 60–75°); the focal
            length is estimated around it.
        keypoint_sigma: 2D keypoint uncertainty as a fraction of the subject's leg length in the image.
        sigma_3d_mm: uncertainty of the pose model's root-relative 3D keypoints along camera x, y, z, mm.
        lumbar_sigma_deg, hip_rotation_sigma_deg, arm_rotation_sigma_deg: priors toward neutral of what keypoints do
            not observe, deg.
        smooth_hz: cut-off of the zero-phase low-pass that the smoothness prior pulls toward, Hz.
        smooth_sigma_deg: how far a frame may stay from that low-pass, deg (translations: the same in cm).
        iterations: outer iterations (per-frame solve, then filter).
        foot_3d_weight: weight of the pose model's 3D heel and toe points relative to the other 3D keypoints (the
            pose model's 3D feet are its least reliable points: BlazePose tilts flat feet 23–33° toe-down).
        lumbopelvic_ratio: the share of the hip flexion that the lumbar spine takes as flexion (lumbo-pelvic rhythm:
            keypoints do not show the pelvis's own tilt, only the trunk's).  0.2 from sitting vs standing: the lumbar
            lordosis decreases by 15–20° at ~90° of hip flexion (Lord MJ et al., Spine 1997;22:2571-4; De Carvalho DE
            et al., Spine 2010;35:E1170-3).
        lumbar_standing_deg: ``lumbar_extension`` the prior expects with the hips extended, deg.
        static_foot_speed: a foot whose heel and toe move less than this many leg lengths per second in the image
            stands on the floor (:func:`static_foot`), and the level-foot prior applies to it.
        flat_foot_sigma_deg: how far a standing foot may tilt from level under that prior, deg.
        height_m: the subject's standing height, m, if known (scales the dimensions); else estimated.
        track: person track to fit (``None`` = the subject chosen in ``poses``); the features of another track take
            their angles from here only when their ``track`` is the same.
    """

    model_config = STRICT

    fov_deg: float = Field(default=65.0, gt=10, lt=170)
    keypoint_sigma: float = Field(default=0.02, gt=0, le=0.5)
    sigma_3d_mm: tuple[float, float, float] = (50.0, 50.0, 100.0)
    lumbar_sigma_deg: float = Field(default=10.0, gt=0)
    hip_rotation_sigma_deg: float = Field(default=20.0, gt=0)
    arm_rotation_sigma_deg: float = Field(default=60.0, gt=0)
    smooth_hz: float = Field(default=6.0, gt=0)
    smooth_sigma_deg: float = Field(default=3.0, gt=0)
    iterations: int = Field(default=2, ge=1, le=50)
    foot_3d_weight: float = Field(default=0.3, ge=0, le=1)
    lumbopelvic_ratio: float = Field(default=0.2, ge=0, le=1)
    lumbar_standing_deg: float = Field(default=0.0, ge=-45, le=45)
    static_foot_speed: float = Field(default=0.2, ge=0)
    flat_foot_sigma_deg: float = Field(default=5.0, gt=0)
    height_m: float | None = Field(default=None, gt=0.5, lt=2.6)
    track: int | None = None


@dataclass
class Observations:
    """One person's keypoints, :data:`.biomech.KEYPOINTS` order: ``times`` ``(F,)`` s, ``uv`` ``(F, K, 2)`` px,
    ``xyz`` ``(F, K, 3)`` m (root-relative, camera axes: x right, y down, z away), ``conf`` ``(F, K)`` in [0, 1]
    (0 where missing); ``width``, ``height``: image size, px."""

    times: np.ndarray
    uv: np.ndarray
    xyz: np.ndarray
    conf: np.ndarray
    width: int
    height: int

    def take(self, idx) -> Observations:
        """The observations of the frames ``idx`` selects (indices, a slice or a boolean mask ``(F,)``); same image
        size."""
        return Observations(self.times[idx], self.uv[idx], self.xyz[idx], self.conf[idx], self.width, self.height)


@dataclass
class Fit:
    """Result: ``q`` ``(F, Q)`` coordinates (rad, m), ``residual_px`` ``(F, K)`` reprojection error, ``residual_mm``
    ``(F, K)`` 3D error, ``dims`` and ``focal_px`` of the trial, ``ground`` ``(3, 3)`` ground → camera rotation,
    ``sigma_px`` the 2D keypoint uncertainty used (px), ``sd`` ``(F, Q)`` the standard deviation of each coordinate
    (rad, m; :func:`coordinate_sd`), ``timings`` s."""

    q: np.ndarray
    residual_px: np.ndarray
    residual_mm: np.ndarray
    dims: bm.Dimensions
    focal_px: float
    ground: np.ndarray
    sigma_px: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    sd: np.ndarray | None = None

    @property
    def height_m(self) -> float:
        """Standing height of the fitted model, m (:func:`standing_height`)."""
        return standing_height(self.dims.as_array())


def ground_rotation(xyz: np.ndarray) -> np.ndarray:
    """``(3, 3)`` whose columns are the ground axes X (anterior: the subject's mean facing direction, level), Y (up:
    the image's up direction) and Z (right) in camera coordinates."""
    up = np.array([0.0, -1.0, 0.0])
    lateral = np.nanmean(xyz[:, bm.KP["right_hip"]] - xyz[:, bm.KP["left_hip"]], axis=0)
    forward = np.cross(up, np.nan_to_num(lateral))
    forward[1] = 0.0
    norm = np.linalg.norm(forward)
    forward = forward / norm if norm > 1e-9 else np.array([0.0, 0.0, -1.0])  # facing the camera
    return np.stack([forward, up, np.cross(forward, up)], axis=1)


def _median(x: np.ndarray) -> float:
    """The median of the finite values, NaN when there are none (no warning)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else np.nan


def _length(xyz: np.ndarray, a: str, b: str) -> float:
    return _median(np.linalg.norm(xyz[:, bm.KP[a]] - xyz[:, bm.KP[b]], axis=-1))


#: dimensions (m) of a 1.70 m adult (Winter, Biomechanics and Motor Control of Human Movement, 2009: thigh 0.245 H,
#: shank 0.246 H, ankle height 0.039 H, hip to shoulder 0.288 H, upper arm 0.186 H, forearm 0.146 H), for segments
#: whose keypoints a recording does not have (the arms of a lower-body marker set)
DEFAULT_DIMENSIONS = np.array([0.20, 0.02, 0.42, 0.42, 0.066, 0.05, 0.15, 0.49, 0.30, 0.32, 0.25])


def initial_dimensions(xyz: np.ndarray) -> np.ndarray:
    """Segment dimensions (m) from the median 3D keypoint distances (the pose model's metric estimate); where a
    segment's keypoints are never seen, :data:`DEFAULT_DIMENSIONS`."""

    def both(a: str, b: str) -> float:
        return 0.5 * (_length(xyz, f"left_{a}", f"left_{b}") + _length(xyz, f"right_{a}", f"right_{b}"))

    hips = 0.5 * (xyz[:, bm.KP["left_hip"]] + xyz[:, bm.KP["right_hip"]])
    shoulders = 0.5 * (xyz[:, bm.KP["left_shoulder"]] + xyz[:, bm.KP["right_shoulder"]])
    heel = both("ankle", "heel")
    with np.errstate(all="ignore"):
        trunk = (
            float(np.nanmedian(np.linalg.norm(shoulders - hips, axis=-1))) if np.isfinite(shoulders).any() else np.nan
        )
    dims = np.array(
        [
            _length(xyz, "left_hip", "right_hip"),
            0.03,
            both("hip", "knee"),
            both("knee", "ankle"),
            0.7 * heel,
            0.7 * heel,
            both("ankle", "toe"),
            trunk,
            _length(xyz, "left_shoulder", "right_shoulder"),
            both("shoulder", "elbow"),
            both("elbow", "wrist"),
        ]
    )
    return np.where(np.isfinite(dims) & (dims > 0), dims, DEFAULT_DIMENSIONS)


def initial_state(obs: Observations, ground: np.ndarray, dims: np.ndarray, focal: float) -> np.ndarray:
    """Per-frame coordinates from the 3D keypoints: the pelvis from the hip line and the trunk, hip flexion and knee
    angle from the segment directions, the root's position from its image position and apparent size."""
    g = np.einsum("ij,fkj->fki", ground.T, np.nan_to_num(obs.xyz))  # root-relative, ground axes

    def p(k: str) -> np.ndarray:
        return g[:, bm.KP[k]]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)

    q = np.zeros((len(g), NQ))
    z = unit(p("right_hip") - p("left_hip"))
    trunk = 0.5 * (p("left_shoulder") + p("right_shoulder"))
    y = unit(trunk - (trunk * z).sum(-1, keepdims=True) * z)
    pelvis = np.stack([np.cross(y, z), y, z], axis=2)
    q[:, 0:3] = bm.decompose_zxy(pelvis)
    for s, side, sign in (("r", "right", 1.0), ("l", "left", -1.0)):
        angles = _limb(
            pelvis, p(f"{side}_knee") - p(f"{side}_hip"), p(f"{side}_ankle") - p(f"{side}_knee"), sign, knee=True
        )
        for name, value in zip(("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle"), angles):
            q[:, bm.INDEX[f"{name}_{s}"]] = value
        angles = _limb(
            pelvis,
            p(f"{side}_elbow") - p(f"{side}_shoulder"),
            p(f"{side}_wrist") - p(f"{side}_elbow"),
            sign,
            knee=False,
        )
        for name, value in zip(("arm_flex", "arm_add", "arm_rot", "elbow_flex"), angles):
            q[:, bm.INDEX[f"{name}_{s}"]] = value
    cx, cy = obs.width / 2, obs.height / 2
    hips_uv = 0.5 * (obs.uv[:, bm.KP["left_hip"]] + obs.uv[:, bm.KP["right_hip"]])
    sh_uv = 0.5 * (obs.uv[:, bm.KP["left_shoulder"]] + obs.uv[:, bm.KP["right_shoulder"]])
    size = np.linalg.norm(sh_uv - hips_uv, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = _median(focal * dims[bm.DIMENSION_NAMES.index("trunk")] / size)
    depth = depth if np.isfinite(depth) and depth > 0 else 3.0
    hips_uv = np.where(np.isfinite(hips_uv), hips_uv, [cx, cy])
    q[:, 3] = (hips_uv[:, 0] - cx) * depth / focal
    q[:, 4] = (hips_uv[:, 1] - cy) * depth / focal
    q[:, 5] = depth
    lo, hi = _limits()
    return np.clip(q, lo, hi)


def _limb(parent: np.ndarray, upper: np.ndarray, lower: np.ndarray, sign: float, knee: bool) -> tuple[np.ndarray, ...]:
    """Ball-and-hinge angles of a limb (hip + knee, or shoulder + elbow) from its two segment vectors (ground axes)
    in a parent frame ``(F, 3, 3)``: ``(flexion, adduction, rotation, hinge)``, rad; the rotation puts the lower
    segment in the hinge's plane (0 when the limb is straight)."""
    v = np.einsum("fji,fj->fi", parent, upper)
    v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)
    b = np.arcsin(np.clip(-v[:, 2], -1, 1))  # = sign * adduction
    a = np.arctan2(v[:, 0], -v[:, 1])
    seg = parent @ bm._rot(2, a) @ bm._rot(0, b)
    w = np.einsum("fji,fj->fi", seg, lower)
    w = w / np.maximum(np.linalg.norm(w, axis=-1, keepdims=True), 1e-9)
    hinge = np.arccos(np.clip(-w[:, 1], -1, 1))  # angle between the segments
    # the hinge bends the lower segment toward -X (knee: about -Z) or +X (elbow: about +Z) of the rotated frame
    bend = -1.0 if knee else 1.0
    c = np.where(hinge > np.radians(15), np.arctan2(-bend * w[:, 2], bend * w[:, 0]), 0.0)
    return a, sign * b, sign * c, hinge


def static_foot(obs: Observations, side: str, speed: float) -> np.ndarray:
    """``(F,)`` 1.0 where the heel and the toe of ``side`` move less than ``speed`` leg lengths per second in the
    image (the foot stands on the floor), else 0.0; speeds from central differences of the 2D keypoints after a 4-Hz
    zero-phase low-pass (keypoint jitter would otherwise hide a standing foot)."""
    leg = _median(np.linalg.norm(obs.uv[:, bm.KP[f"{side}_hip"]] - obs.uv[:, bm.KP[f"{side}_ankle"]], axis=-1))
    if len(obs.times) < 3 or not np.isfinite(leg) or leg <= 0:
        return np.zeros(len(obs.times))
    from neuropose_assets.core.kinematics.signal import lowpass_times

    v = 0.0
    for k in (f"{side}_heel", f"{side}_toe"):
        pos = (
            lowpass_times(obs.uv[:, bm.KP[k]], obs.times, 4.0, order=2) if len(obs.times) > 12 else obs.uv[:, bm.KP[k]]
        )
        v = np.maximum(v, np.linalg.norm(np.gradient(pos, obs.times, axis=0), axis=-1))
    return np.where(np.nan_to_num(v, nan=np.inf) < speed * leg, 1.0, 0.0)


def _limits() -> tuple[np.ndarray, np.ndarray]:
    lo = np.array([np.radians(bm.LIMITS_DEG[c][0]) if c in bm.LIMITS_DEG else -np.inf for c in bm.COORDINATES])
    hi = np.array([np.radians(bm.LIMITS_DEG[c][1]) if c in bm.LIMITS_DEG else np.inf for c in bm.COORDINATES])
    lo[bm.INDEX["pelvis_tz"]] = 0.2  # the subject is in front of the camera
    return lo, hi


class _Problem:
    """Residuals and Jacobians of every frame (rows: 2D, 3D, priors, smoothness target)."""

    def __init__(self, obs: Observations, ground: np.ndarray, dims: np.ndarray, focal: float, cfg: FitConfig):
        self.ground, self.dims, self.focal = ground, dims, focal
        self.c = np.array([obs.width / 2, obs.height / 2])
        conf = np.clip(np.nan_to_num(obs.conf), 0, 1)
        self.w = np.sqrt(np.where(np.isfinite(obs.uv).all(-1), conf, 0.0))  # (F, K): 2D weights
        self.uv, self.xyz = np.nan_to_num(obs.uv), np.nan_to_num(obs.xyz)
        w3 = np.sqrt(np.where(np.isfinite(obs.xyz).all(-1), conf, 0.0))
        leg = _median(np.linalg.norm(obs.uv[:, bm.KP["left_hip"]] - obs.uv[:, bm.KP["left_ankle"]], axis=-1))
        self.sigma_px = max(2.0, cfg.keypoint_sigma * (leg if np.isfinite(leg) else 500.0))
        self.sigma_3d = np.asarray(cfg.sigma_3d_mm) / 1000.0
        # the pose model's 3D feet are its least reliable points (BlazePose: toes down by 23–33° on flat feet):
        # they only break the depth ambiguity, the image decides the rest
        self.w3 = w3 * np.where(
            np.isin(np.arange(NK), [bm.KP[k] for k in bm.KEYPOINTS if k.endswith(("heel", "toe"))]),
            cfg.foot_3d_weight,
            1.0,
        )
        # a foot that does not move in the image stands on the floor: its sole is level (the camera level)
        self.flat = np.stack([static_foot(obs, side, cfg.static_foot_speed) for side in ("right", "left")], 1)
        self.flat_sigma = np.sin(np.radians(cfg.flat_foot_sigma_deg))
        priors = {
            "lumbar_extension": cfg.lumbar_sigma_deg,
            "lumbar_bending": cfg.lumbar_sigma_deg,
            "lumbar_rotation": cfg.lumbar_sigma_deg,
            "hip_rotation_r": cfg.hip_rotation_sigma_deg,
            "hip_rotation_l": cfg.hip_rotation_sigma_deg,
            "arm_rot_r": cfg.arm_rotation_sigma_deg,
            "arm_rot_l": cfg.arm_rotation_sigma_deg,
        }
        self.prior_a = np.zeros((len(priors), NQ))
        for row, name in enumerate(priors):
            self.prior_a[row, bm.INDEX[name]] = 1.0
        self.prior_b = np.zeros(len(priors))
        # lumbo-pelvic rhythm: the lumbar spine takes a share of the hip flexion (it flexes as the hips flex)
        lumbar = list(priors).index("lumbar_extension")
        for side in ("r", "l"):
            self.prior_a[lumbar, bm.INDEX[f"hip_flexion_{side}"]] = cfg.lumbopelvic_ratio / 2
        self.prior_b[lumbar] = np.radians(cfg.lumbar_standing_deg)
        self.prior_sigma = np.radians(np.array(list(priors.values())))
        self.prior_a = self.prior_a / self.prior_sigma[:, None]
        self.prior_b = self.prior_b / self.prior_sigma
        self.smooth_sigma = np.full(NQ, np.radians(cfg.smooth_sigma_deg))
        self.smooth_sigma[3:6] = cfg.smooth_sigma_deg / 100.0  # cm → m

    def frames(self, sl: slice) -> _Problem:
        """The same problem for the frames ``sl`` alone: the per-frame arrays sliced, what was estimated from all
        frames (the 2D keypoint uncertainty, which feet stand still) kept."""
        part = copy.copy(self)
        for name in PER_FRAME:
            setattr(part, name, getattr(self, name)[sl])
        return part

    def residuals(self, q: np.ndarray, target: np.ndarray | None, jac: bool = True):
        pose = bm.forward_kinematics(
            np.concatenate([q[:, :3], np.zeros((len(q), 3)), q[:, 6:]], 1), self.dims, self.ground
        )  # root-relative, camera axes
        rel = pose.points
        cam = rel + q[:, None, 3:6]
        z = cam[..., 2:3]
        proj = self.focal * cam[..., :2] / z + self.c
        r2 = (proj - self.uv) / self.sigma_px * self.w[..., None]  # (F, K, 2)
        r3 = (rel - self.xyz) / self.sigma_3d * self.w3[..., None]  # (F, K, 3)
        rp = q @ self.prior_a.T - self.prior_b
        up = self.ground[:, 1]  # the ground's Y (up) in camera axes
        sole = [rel[:, bm.KP[f"{s}_toe"]] - rel[:, bm.KP[f"{s}_heel"]] for s in ("right", "left")]
        foot_len = self.dims[bm.DIMENSION_NAMES.index("heel")] + self.dims[bm.DIMENSION_NAMES.index("toe")]
        rf = np.stack([v @ up for v in sole], 1) / foot_len / self.flat_sigma * self.flat  # (F, 2)
        parts = [r2.reshape(len(q), -1), r3.reshape(len(q), -1), rp, rf]
        if target is not None:
            parts.append((q - target) / self.smooth_sigma)
        r = np.concatenate(parts, 1)
        if not jac:
            return r, proj, rel
        n, nk = len(q), NK
        # d points / d q (root-relative: t was zeroed) is nonzero only at the (keypoint, rotation) pairs where the
        # keypoint moves with the coordinate, a third of all: every block is computed at those pairs alone and
        # written into a Jacobian of zeros (the same values, bit for bit, as the dense product)
        v = pose.pair_jacobian()  # (F, pairs, 3)
        pk, pq = bm.PAIR_K, bm.PAIR_Q
        rows = 5 * nk + len(self.prior_b) + 2 + (NQ if target is not None else 0)
        jac = np.zeros((n, rows, NQ))
        flat = jac.reshape(n, rows * NQ)
        # 2D: d proj / d cam = f / z * [[1, 0, -x/z], [0, 1, -y/z]], d cam / d q = d points / d q + the identity at
        # pelvis_t*
        x_z, y_z = cam[..., 0] / cam[..., 2], cam[..., 1] / cam[..., 2]
        fz = self.focal / cam[..., 2]  # (F, K)
        for row, ratio, own in ((0, x_z, 3), (1, y_z, 4)):
            d = fz[:, pk] * (v[..., row] - ratio[:, pk] * v[..., 2])
            flat[:, (2 * pk + row) * NQ + pq] = d / self.sigma_px * self.w[:, pk]
            block = jac[:, row : 2 * nk : 2]  # (F, K, Q): the u (v) rows
            block[..., own] = fz * (1.0 - ratio * 0.0) / self.sigma_px * self.w  # d cam_x / d pelvis_tx = 1
            block[..., 5] = fz * (0.0 - ratio * 1.0) / self.sigma_px * self.w  # d cam_z / d pelvis_tz = 1
        for i in range(3):  # 3D: the root-relative points themselves
            flat[:, (2 * nk + 3 * pk + i) * NQ + pq] = v[..., i] / self.sigma_3d[i] * self.w3[:, pk]
        at = 5 * nk + len(self.prior_b)
        jac[:, 5 * nk : at] = self.prior_a
        for col, s in enumerate(("right", "left")):
            sole = self._point_jacobian(v, bm.KP[f"{s}_toe"]) - self._point_jacobian(v, bm.KP[f"{s}_heel"])
            jac[:, at + col] = np.einsum("i,fiq->fq", up, sole) / foot_len / self.flat_sigma * self.flat[:, col, None]
        if target is not None:
            jac[:, at + 2 :] = np.diag(1.0 / self.smooth_sigma)
        return r, jac

    @staticmethod
    def _point_jacobian(v: np.ndarray, keypoint: int) -> np.ndarray:
        """``(F, 3, Q)`` d point / d q of one keypoint from the pairs' values ``v`` (translations zero)."""
        out = np.zeros((len(v), 3, NQ))
        sel = bm.PAIR_K == keypoint
        out[:, :, bm.PAIR_Q[sel]] = v[:, sel].transpose(0, 2, 1)
        return out


def _levenberg_marquardt(problem: _Problem, q: np.ndarray, target: np.ndarray | None, iterations: int = 15):
    """Damped Gauss–Newton for every frame, projected onto the joint limits.  Frames are independent of one another
    here (each has its own damping and acceptance), so they are solved :data:`LM_BLOCK_FRAMES` at a time."""
    if len(q) <= LM_BLOCK_FRAMES:
        return _lm_block(problem, q, target, iterations)
    blocks = [slice(s, s + LM_BLOCK_FRAMES) for s in range(0, len(q), LM_BLOCK_FRAMES)]
    return np.concatenate(
        [_lm_block(problem.frames(b), q[b], None if target is None else target[b], iterations) for b in blocks]
    )


def _lm_block(problem: _Problem, q: np.ndarray, target: np.ndarray | None, iterations: int) -> np.ndarray:
    lo, hi = _limits()
    q = q.copy()  # updated in place below; the caller's array stays as it was
    lam = np.full(len(q), 1e-2)
    r, j = problem.residuals(q, target)
    cost = (r**2).sum(1)
    for _ in range(iterations):
        jt = j.transpose(0, 2, 1)
        jtj = jt @ j  # batched matmul: BLAS per frame, 4x faster than the equivalent einsum
        g = np.einsum("fmi,fm->fi", j, r)
        diag = np.einsum("fii->fi", jtj)
        a = jtj + (lam[:, None] * (diag + 1e-6))[:, :, None] * np.eye(NQ)
        step = -np.linalg.solve(a, g[..., None])[..., 0]
        cand = np.clip(q + step, lo, hi)
        r_new, j_new = problem.residuals(cand, target)
        cost_new = (r_new**2).sum(1)
        better = cost_new < cost
        np.copyto(q, cand, where=better[:, None])  # in place: the Jacobians are 20 MB per 800 frames
        np.copyto(r, r_new, where=better[:, None])
        np.copyto(j, j_new, where=better[:, None, None])
        cost = np.where(better, cost_new, cost)
        lam = np.where(better, lam * 0.3, lam * 10.0).clip(1e-7, 1e7)
    return q


def _lowpass(q: np.ndarray, times: np.ndarray, hz: float) -> np.ndarray:
    """The smoothness target: a zero-phase low-pass of the trajectory, rotations unwrapped first (a coordinate that
    crosses ±180° is one movement, not a jump)."""
    from neuropose_assets.core.kinematics.signal import lowpass_times

    unwrapped = q.copy()
    rot = [bm.INDEX[c] for c in bm.ROTATIONS]
    unwrapped[:, rot] = np.unwrap(unwrapped[:, rot], axis=0)
    return lowpass_times(unwrapped, times, hz, order=2) if len(q) > 12 else unwrapped


def _data_cost(problem: _Problem, q: np.ndarray) -> np.ndarray:
    """Per-frame sum of squares of the keypoint residuals (2D and 3D) alone."""
    r = problem.residuals(q, None, jac=False)[0]
    return (r[:, : NK * 5] ** 2).sum(1)


def _fit_dimensions(
    obs: Observations, ground: np.ndarray, dims: np.ndarray, focal: float, q: np.ndarray, cfg: FitConfig
) -> tuple[np.ndarray, float]:
    """Dimensions and focal length for fixed coordinates ``q`` (a subsample): least squares on 2D + 3D residuals."""
    from scipy.optimize import least_squares

    problem = _Problem(obs, ground, dims, focal, cfg)  # what depends on the keypoints alone is computed once

    def fun(x):
        problem.dims, problem.focal = x[:-1], x[-1]
        return problem.residuals(q, None, jac=False)[0][:, : NK * 5].ravel()

    x0 = np.concatenate([dims, [focal]])
    lb = np.concatenate([np.full(len(dims), 0.01), [focal * 0.4]])
    lb[bm.DIMENSION_NAMES.index("hip_drop")] = 0.0
    ub = np.concatenate([np.full(len(dims), 1.2), [focal * 2.5]])
    prior = np.log(x0[-1])

    def fun_prior(x):
        return np.concatenate([fun(x), [(np.log(x[-1]) - prior) / 0.3]])

    res = least_squares(fun_prior, np.clip(x0, lb + 1e-6, ub - 1e-6), bounds=(lb, ub), x_scale="jac", max_nfev=30)
    return res.x[:-1], float(res.x[-1])


def fit_model(obs: Observations, cfg: FitConfig = FitConfig()) -> Fit:
    """Fit the model to one person's keypoints (module docstring).  BLAS runs on one thread here (a multi-threaded
    sum's order, and so its last bit, depends on the thread count; the problems are small, so nothing is lost): the
    same keypoints give bit-identical angles within a process; between processes the last bits can differ (measured:
    at most 3e-14 rad on a 798-frame clip — numpy's and BLAS's vector kernels may take another path for another
    memory alignment), far below any angle's precision.

    Raises:
        ValueError: too few frames with the lower body seen to fit anything.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_model(obs, cfg)


def _fit_model(obs: Observations, cfg: FitConfig) -> Fit:
    t0 = time.perf_counter()
    seen = (obs.conf[:, [bm.KP[k] for k in ("left_hip", "right_hip", "left_knee", "right_knee")]] > 0.3).all(1)
    if seen.sum() < 3:
        raise ValueError(f"the lower body is seen in {int(seen.sum())} frame(s): too few to fit the model")
    ground = ground_rotation(obs.xyz[seen])
    # no image (marker-based capture): the 2D term has no weight and the focal length is a placeholder
    focal = max(obs.width, obs.height, 1000) / 2 / np.tan(np.radians(cfg.fov_deg) / 2)
    dims = initial_dimensions(obs.xyz[seen])
    sub = np.flatnonzero(seen)[np.unique(np.linspace(0, seen.sum() - 1, min(int(seen.sum()), 60)).astype(int))]
    sample = obs.take(sub)
    qs = initial_state(sample, ground, dims, focal)
    for _ in range(2):  # alternate: poses of the subsample, then its dimensions and the focal length
        qs = _levenberg_marquardt(_Problem(sample, ground, dims, focal, cfg), qs, None, iterations=15)
        dims, focal = _fit_dimensions(sample, ground, dims, focal, qs, cfg)
    if cfg.height_m is not None:  # the declared height is the scale: the pose model's metric 3D is rescaled with it
        factor = cfg.height_m / standing_height(dims)
        dims = dims * factor
        obs = Observations(obs.times, obs.uv, obs.xyz * factor, obs.conf, obs.width, obs.height)
    t1 = time.perf_counter()
    q = np.empty((len(obs.times), NQ))
    sd = np.empty((len(obs.times), NQ))
    res_px = np.full((len(obs.times), NK), np.nan)
    res_mm = np.full((len(obs.times), NK), np.nan)
    for start in range(0, len(obs.times), CHUNK_FRAMES):
        idx = np.arange(start, min(start + CHUNK_FRAMES, len(obs.times)))
        part = obs.take(idx)
        problem = _Problem(part, ground, dims, focal, cfg)
        qc = initial_state(part, ground, dims, focal)
        qc = _levenberg_marquardt(problem, qc, None, iterations=LM_FIRST)
        raw, raw_cost = qc, _data_cost(problem, qc)
        for _ in range(cfg.iterations):
            target = _lowpass(qc, part.times, cfg.smooth_hz)
            qc = _levenberg_marquardt(problem, qc, target, iterations=LM_SMOOTH)
        # where the smoothness pull moved a frame into another configuration than its own keypoints support (a limb
        # passing an Euler singularity, e.g. an arm overhead), that frame keeps its unsmoothed solution
        worse = _data_cost(problem, qc) > SMOOTHING_TOLERANCE * raw_cost + NK
        qc[worse] = raw[worse]
        q[idx] = qc
        sd[idx] = coordinate_sd(problem, qc)
        _, proj, rel = problem.residuals(qc, None, jac=False)
        res_px[idx] = np.linalg.norm(proj - part.uv, axis=-1)
        res_mm[idx] = 1000 * np.linalg.norm(rel - part.xyz, axis=-1)
    sigma_px = _Problem(sample, ground, dims, focal, cfg).sigma_px
    return Fit(
        q,
        res_px,
        res_mm,
        bm.Dimensions.from_array(dims),
        focal,
        ground,
        sigma_px,
        {"dimensions_s": t1 - t0, "frames_s": time.perf_counter() - t1},
        sd,
    )


def fit_imposed(
    obs: Observations, fit: Fit, imposed: dict[str, np.ndarray], cfg: FitConfig = FitConfig(), sigma_deg: float = 1.0
) -> tuple[np.ndarray, Fit]:
    """The model fitted with some coordinates held at given values: a diagnostic that splits the error of
    :func:`fit_model` between the keypoints and the solve.

    Starting from ``fit`` (of the same ``obs``), every coordinate in ``imposed`` is held within ``sigma_deg`` of its
    given value (for example motion capture's joint angles), the others stay free; the dimensions and the focal length
    are re-estimated with them (three rounds of poses, then dimensions).  If the keypoints fit *worse* with the true
    angles than with the free fit's, no solve can recover the true angles from these keypoints: the remaining error is
    the pose model's (``benchmarks/validate_kinematics.py --oracle``).

    Args:
        imposed: coordinate name (:data:`.biomech.COORDINATES`) → ``(F,)`` values, rad (NaN where unknown).
    Returns:
        ``(frames, fit)``: the indices ``(n,)`` of the frames where every imposed value is known, and the fit on those
        frames (its ``sd`` is ``None``).
    Raises:
        KeyError: an unknown coordinate.
        ValueError: fewer than 3 frames with every imposed value known.
    """
    from threadpoolctl import threadpool_limits

    idx = [bm.INDEX[c] for c in imposed]
    values = np.stack([np.asarray(v, float) for v in imposed.values()], 1)
    frames = np.flatnonzero(np.isfinite(values).all(1))
    if len(frames) < 3:
        raise ValueError(f"the imposed coordinates are known in {len(frames)} frame(s): too few")
    part = obs.take(frames)
    q = fit.q[frames].copy()
    q[:, idx] = values[frames]
    target = q.copy()
    hold = np.full(NQ, np.inf)  # 1 / inf = 0: no pull on the free coordinates
    hold[idx] = np.radians(sigma_deg)
    dims, focal = fit.dims.as_array(), fit.focal_px
    sub = np.unique(np.linspace(0, len(frames) - 1, min(len(frames), 60)).astype(int))

    def problem() -> _Problem:
        p = _Problem(part, fit.ground, dims, focal, cfg)
        p.smooth_sigma = hold
        return p

    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(3):
            q = _levenberg_marquardt(problem(), q, target, iterations=15)
            dims, focal = _fit_dimensions(part.take(sub), fit.ground, dims, focal, q[sub], cfg)
        final = problem()
        q = _levenberg_marquardt(final, q, target, iterations=15)
        _, proj, rel = final.residuals(q, None, jac=False)
    res_px = np.linalg.norm(proj - part.uv, axis=-1)
    res_mm = 1000 * np.linalg.norm(rel - part.xyz, axis=-1)
    return frames, Fit(q, res_px, res_mm, bm.Dimensions.from_array(dims), focal, fit.ground, final.sigma_px)


def coordinate_sd(problem: _Problem, q: np.ndarray) -> np.ndarray:
    """``(F, Q)`` standard deviation of each coordinate in each frame (rad, m): the Laplace approximation
    ``sqrt(diag((JᵀJ)⁻¹))`` of the keypoint terms and the priors at the solution (the smoothness pull left out, so
    it says what the frame's own keypoints and the model's priors determine).  On the dev clips its median is 4–10°
    for knee, hip and ankle, the size of the actual median errors against motion capture
    (``benchmarks/validate_kinematics.py``)."""
    _, jac = problem.residuals(q, None)
    info = jac.transpose(0, 2, 1) @ jac + 1e-9 * np.eye(NQ)
    return np.sqrt(np.clip(np.einsum("fii->fi", np.linalg.inv(info)), 0, None))


def standing_height(dims: np.ndarray) -> float:
    """Standing height (m) of a model with dimensions ``dims``: sole to shoulder plus a head and neck of 0.182 of the
    height above the shoulders (Winter, Biomechanics and Motor Control of Human Movement, 2009: shoulder height
    0.818 H)."""
    d = dict(zip(bm.DIMENSION_NAMES, dims))
    return (d["ankle_height"] + d["shank"] + d["thigh"] + d["hip_drop"] + d["trunk"]) / 0.818


# -------------------------------------------------------------------------------------------------------- the table

#: the keypoints whose observation a coordinate needs: it is null in frames where one of them is not seen
OBSERVED_BY: dict[str, tuple[str, ...]] = {
    **{c: ("left_hip", "right_hip") for c in ("pelvis_tilt", "pelvis_list", "pelvis_rotation", *bm.TRANSLATIONS)},
    **{
        f"hip_{a}_{s}": (f"{side}_hip", f"{side}_knee")
        for a in ("flexion", "adduction", "rotation")
        for s, side in (("r", "right"), ("l", "left"))
    },
    **{
        f"knee_angle_{s}": (f"{side}_hip", f"{side}_knee", f"{side}_ankle")
        for s, side in (("r", "right"), ("l", "left"))
    },
    **{
        f"ankle_angle_{s}": (f"{side}_knee", f"{side}_ankle", f"{side}_heel", f"{side}_toe")
        for s, side in (("r", "right"), ("l", "left"))
    },
    **{c: ("left_shoulder", "right_shoulder") for c in ("lumbar_extension", "lumbar_bending", "lumbar_rotation")},
    **{
        f"arm_{a}_{s}": (f"{side}_shoulder", f"{side}_elbow")
        for a in ("flex", "add", "rot")
        for s, side in (("r", "right"), ("l", "left"))
    },
    **{
        f"elbow_flex_{s}": (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist")
        for s, side in (("r", "right"), ("l", "left"))
    },
}
#: a keypoint with a lower confidence than this is "not seen"
MIN_CONFIDENCE = 0.5
#: an angle whose standard deviation (:func:`coordinate_sd`) exceeds this is not a measurement: null, deg
MAX_SD_DEG = 15.0
#: coordinates never nulled for their SD: translations, and the shoulders' Euler angles, whose SD inflates near the
#: Euler singularity (the arm horizontal to the side) where the arm's direction — and the shoulder elevation derived
#: from it — is still well determined
SD_EXEMPT = frozenset({*bm.TRANSLATIONS, *(f"arm_{a}_{s}" for a in ("flex", "add", "rot") for s in ("r", "l"))})


def column(coordinate: str) -> str:
    """The table column of a model coordinate: ``knee_angle_r_deg`` (rotations, deg), ``pelvis_tx_m`` (m)."""
    return f"{coordinate}_m" if coordinate in bm.TRANSLATIONS else f"{coordinate}_deg"


COLUMNS: tuple[str, ...] = tuple(column(c) for c in bm.COORDINATES)


def observations_from_poses(poses, skeleton, width: int, height: int, track: int | None = None):
    """``(frames, observations)`` of one person from a ``poses`` table (:mod:`..pose.estimate`): the subject (or
    ``track``), mapped onto :data:`.biomech.KEYPOINTS` via the clinical joint set; 3D made root-relative (hip
    midpoint), mm → m; a missing confidence counts as 1 where the joint has coordinates (marker files).

    Raises:
        KeyError: ``track`` does not occur.
    """
    from neuropose_assets.core.kinematics.features import person_arrays
    from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS

    frames, times, xyz, uv, conf = person_arrays(poses, skeleton, track, confidence=True)
    idx = [CLINICAL_JOINTS.index(k) for k in bm.KEYPOINTS]
    xyz, uv, conf = xyz[:, idx] / 1000.0, uv[:, idx], conf[:, idx]
    hips = 0.5 * (xyz[:, bm.KP["left_hip"]] + xyz[:, bm.KP["right_hip"]])
    xyz = xyz - hips[:, None, :]
    seen = np.isfinite(xyz).all(-1) | np.isfinite(uv).all(-1)
    conf = np.where(np.isnan(conf) & seen, 1.0, np.nan_to_num(conf))
    return frames, Observations(times, uv, xyz, np.where(seen, conf, 0.0), int(width or 0), int(height or 0))


def kinematics_table(frames: np.ndarray, obs: Observations, fit: Fit) -> tuple[object, dict[str, dict]]:
    """The ``kinematics`` table and, per coordinate, how many frames are null and why.

    Columns: ``frame`` (Int32), ``time_s``, ``subject_present``; every model coordinate (:data:`COLUMNS`: rotations
    in deg, translations in m; null where a keypoint it needs (:data:`OBSERVED_BY`) is not seen, or where its
    standard deviation exceeds :data:`MAX_SD_DEG`) and its standard deviation ``{coordinate}_sd_deg`` /
    ``_sd_m`` (:func:`coordinate_sd`); per keypoint the
    reprojection error ``{keypoint}_residual_px`` and 3D error ``{keypoint}_residual_mm``; ``residual_rms_px`` over
    the keypoints seen.
    """
    import polars as pl

    seen = obs.conf >= MIN_CONFIDENCE  # (F, K)
    present = seen.any(1)
    cols: dict[str, pl.Series] = {
        "frame": pl.Series("frame", frames, pl.Int32),
        "time_s": pl.Series("time_s", obs.times, pl.Float64),
        "subject_present": pl.Series("subject_present", present),
    }
    nulls: dict[str, dict] = {}
    sd_all = fit.sd if fit.sd is not None else np.full(fit.q.shape, np.nan)
    for i, c in enumerate(bm.COORDINATES):
        need = [bm.KP[k] for k in OBSERVED_BY[c]]
        rotation = c not in bm.TRANSLATIONS
        seen_ok = seen[:, need].all(1)
        sd = np.degrees(sd_all[:, i]) if rotation else sd_all[:, i]
        determined = ~(sd > MAX_SD_DEG) if c not in SD_EXEMPT else np.ones(len(sd), bool)
        ok = seen_ok & determined
        value = np.degrees(fit.q[:, i]) if rotation else fit.q[:, i]
        cols[column(c)] = pl.Series(column(c), np.where(ok, value, np.nan), pl.Float64, nan_to_null=True)
        sd_name = f"{c}_sd_deg" if rotation else f"{c}_sd_m"
        cols[sd_name] = pl.Series(sd_name, np.where(ok, sd, np.nan), pl.Float64, nan_to_null=True)
        reasons = []
        if (~seen_ok).any():
            reasons.append(
                f"{int((~seen_ok).sum())} frame(s): {' / '.join(OBSERVED_BY[c])} not seen (confidence < "
                f"{MIN_CONFIDENCE})"
            )
        if (seen_ok & ~determined).any():
            reasons.append(
                f"{int((seen_ok & ~determined).sum())} frame(s): the keypoints determine it no better than "
                f"±{MAX_SD_DEG:g}° (1 SD)"
            )
        if reasons:
            nulls[c] = {"null_frames": int((~ok).sum()), "reason": "; ".join(reasons)}
    for k in bm.KEYPOINTS:
        i = bm.KP[k]
        cols[f"{k}_residual_px"] = pl.Series(
            f"{k}_residual_px", np.where(seen[:, i], fit.residual_px[:, i], np.nan), pl.Float32, nan_to_null=True
        )
        cols[f"{k}_residual_mm"] = pl.Series(
            f"{k}_residual_mm", np.where(seen[:, i], fit.residual_mm[:, i], np.nan), pl.Float32, nan_to_null=True
        )
    squares = np.where(seen, fit.residual_px, np.nan) ** 2
    counts = np.isfinite(squares).sum(1)
    rms = np.where(counts > 0, np.sqrt(np.nansum(squares, axis=1) / np.maximum(counts, 1)), np.nan)  # no one seen: null
    cols["residual_rms_px"] = pl.Series("residual_rms_px", rms, pl.Float32, nan_to_null=True)
    return pl.DataFrame(cols), nulls
