"""The skeletal model fitted to every video: OpenSim model coordinates, constant segment dimensions, forward kinematics.

A reduced full-body model of the Rajagopal (2016) / gait2392 family, with the coordinate names, axes, zero pose and
signs of OpenSim (and of OpenCap's LaiUhlrich2022 model, a Rajagopal derivative), so that its ``.mot`` loads onto those
models without renaming.  Body frames follow OpenSim: **X anterior, Y superior, Z to the right** in the neutral pose
(standing, arms hanging, feet flat).  Every rotation coordinate is in radians here (degrees in the tables).

=====================  =============================  ===========================================================
coordinate             rotation (parent → child)      positive
=====================  =============================  ===========================================================
``pelvis_tilt``        ground → pelvis about Z         posterior tilt (the top of the pelvis moves back; a positive
                                                      rotation about the right-pointing Z, like hip flexion)
``pelvis_list``        about X (after tilt)            the pelvis drops on the right (left side up)
``pelvis_rotation``    about Y (after list)            the pelvis turns to the left (anterior side moves left)
``pelvis_t{x,y,z}``    translation of the pelvis       m, in the fitted frame (module :mod:`.fit`)
``hip_flexion_{r,l}``  pelvis → femur about Z          flexion (thigh forward); extension negative
``hip_adduction_r``    about X (after flexion)         adduction (thigh toward the midline); left: about −X
``hip_rotation_r``     about Y (after adduction)       internal rotation; left: about −Y
``knee_angle_{r,l}``   femur → tibia about −Z          flexion (Rajagopal's sign; gait2392 uses the opposite)
``ankle_angle_{r,l}``  tibia → foot about Z            dorsiflexion (toes up); plantarflexion negative
``lumbar_extension``   pelvis → torso about Z          the torso leans back relative to the pelvis (extension)
``lumbar_bending``     about X                         the torso bends to the right
``lumbar_rotation``    about Y                         the torso turns to the left
``arm_flex_{r,l}``     torso → humerus about Z         flexion (arm forward and up)
``arm_add_r``          about X; left: about −X         adduction (arm toward the midline); abduction negative
``arm_rot_r``          about Y; left: about −Y         internal rotation
``elbow_flex_{r,l}``   humerus → forearm about Z       flexion
=====================  =============================  ===========================================================

Rotations of a joint are applied in the order listed (body-fixed, as OpenSim's ``CustomJoint`` rotation1–3): the
hip is ``Rz(flexion) · Rx(±adduction) · Ry(±rotation)``.  The ankle is a single hinge about the shank's Z axis (the
Rajagopal model's talocrural axis is oblique and its subtalar and toe joints are not modelled: a video's foot points
cannot resolve them).  Joint centres, not anatomical landmarks, are the model's points; the pose model's keypoints are
matched to them one by one (:data:`KEYPOINTS`).

Segment dimensions (:class:`Dimensions`, m) are constant over a trial: pelvis width (between the hip keypoints), thigh,
shank, ankle height above the sole, heel and toe distance from the ankle along the foot, trunk (hip midpoint →
shoulder midpoint), shoulder width, upper arm, forearm.  Left and right are equal.

Sources: Rajagopal A, Dembia CL, DeMers MS, et al. Full-body musculoskeletal model for muscle-driven simulation of
human gait. IEEE Trans Biomed Eng 2016;63(10):2068-79 (coordinates, axes, ranges); Delp SL, et al. OpenSim. IEEE
TBME 2007 (gait2392); Wu G, et al. ISB recommendation on definitions of joint coordinate systems, J Biomech
2002;35:543-8 (signs).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

#: every model coordinate, in the order of the state vector (rotations in rad, translations in m)
COORDINATES: tuple[str, ...] = (
    "pelvis_tilt",
    "pelvis_list",
    "pelvis_rotation",
    "pelvis_tx",
    "pelvis_ty",
    "pelvis_tz",
    "hip_flexion_r",
    "hip_adduction_r",
    "hip_rotation_r",
    "knee_angle_r",
    "ankle_angle_r",
    "hip_flexion_l",
    "hip_adduction_l",
    "hip_rotation_l",
    "knee_angle_l",
    "ankle_angle_l",
    "lumbar_extension",
    "lumbar_bending",
    "lumbar_rotation",
    "arm_flex_r",
    "arm_add_r",
    "arm_rot_r",
    "elbow_flex_r",
    "arm_flex_l",
    "arm_add_l",
    "arm_rot_l",
    "elbow_flex_l",
)
INDEX = {c: i for i, c in enumerate(COORDINATES)}
TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")
ROTATIONS = tuple(c for c in COORDINATES if c not in TRANSLATIONS)

#: joint limits (rad), from the Rajagopal model's coordinate ranges, widened where video keypoints of healthy and
#: impaired subjects legitimately go beyond them; the fit never leaves them
LIMITS_DEG: dict[str, tuple[float, float]] = {
    "pelvis_tilt": (-90, 90),
    "pelvis_list": (-90, 90),
    "pelvis_rotation": (-180, 180),
    "hip_flexion_r": (-40, 140),
    "hip_adduction_r": (-50, 35),
    "hip_rotation_r": (-45, 45),
    "hip_flexion_l": (-40, 140),
    "hip_adduction_l": (-50, 35),
    "hip_rotation_l": (-45, 45),
    "knee_angle_r": (0, 160),
    "knee_angle_l": (0, 160),
    "ankle_angle_r": (-60, 45),
    "ankle_angle_l": (-60, 45),
    "lumbar_extension": (-90, 45),
    "lumbar_bending": (-45, 45),
    "lumbar_rotation": (-45, 45),
    "arm_flex_r": (-90, 180),
    "arm_add_r": (-180, 60),
    "arm_rot_r": (-135, 135),
    "elbow_flex_r": (-5, 165),
    "arm_flex_l": (-90, 180),
    "arm_add_l": (-180, 60),
    "arm_rot_l": (-135, 135),
    "elbow_flex_l": (-5, 165),
}

#: the model's points, in this order, and the clinical joint (:mod:`.skeletons`) each is matched to
KEYPOINTS: tuple[str, ...] = (
    "right_hip",
    "left_hip",
    "right_knee",
    "left_knee",
    "right_ankle",
    "left_ankle",
    "right_heel",
    "left_heel",
    "right_toe",
    "left_toe",
    "right_shoulder",
    "left_shoulder",
    "right_elbow",
    "left_elbow",
    "right_wrist",
    "left_wrist",
)
KP = {k: i for i, k in enumerate(KEYPOINTS)}


@dataclass(frozen=True)
class Dimensions:
    """Segment dimensions of one subject, m (module docstring)."""

    pelvis_width: float
    hip_drop: float
    thigh: float
    shank: float
    ankle_height: float
    heel: float
    toe: float
    trunk: float
    shoulder_width: float
    upper_arm: float
    forearm: float

    def as_array(self) -> np.ndarray:
        """The dimensions as a float array ``(11,)``, m, in field order (:data:`DIMENSION_NAMES`)."""
        return np.array([getattr(self, f.name) for f in fields(self)], float)

    @classmethod
    def from_array(cls, a: np.ndarray) -> Dimensions:
        """The dimensions from a ``(11,)`` array, m, in field order (the inverse of :meth:`as_array`)."""
        return cls(*map(float, a))

    def as_dict(self) -> dict[str, float]:
        """``{dimension: length}``, m, rounded to 0.1 mm (for provenance and metadata)."""
        return {k: round(v, 4) for k, v in asdict(self).items()}


DIMENSION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Dimensions))


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(F, 3, 3)`` about body axis ``axis`` (0 = X, 1 = Y, 2 = Z) by ``angle`` ``(F,)`` rad."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((*np.shape(angle), 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., i, i] = c
    out[..., j, j] = c
    out[..., i, j] = -s
    out[..., j, i] = s
    return out


@dataclass(frozen=True)
class Joint:
    """A joint of the tree: the child ``segment`` hangs from ``parent`` at ``offset`` (a function of the dimensions,
    in the parent's frame) and turns by ``rotations``: ``(coordinate, body axis 0/1/2, sign)`` applied in order."""

    segment: str
    parent: str | None
    offset: tuple  # (dimension name or None, factor) per axis: the offset is dims[name] * factor
    rotations: tuple[tuple[str, int, float], ...]


def _o(x=(None, 0.0), y=(None, 0.0), z=(None, 0.0)) -> tuple:
    return (x, y, z)


#: where the shoulder keypoints sit relative to the hip keypoints in the neutral pose: behind the pelvis's vertical by
#: this fraction of the trunk length (5.4°).  From the OpenSim geometry of Pose2Sim's BlazePose marker set on its
#: Rajagopal-based model (Pose2Sim 0.10, ``OpenSim_Setup/Markers_BlazePose.xml``: hip markers at (−0.064, −0.081) m in
#: the pelvis frame, shoulder markers at (−0.013, 0.366) m in the torso frame, whose origin, the lumbar joint, is at
#: (−0.101, 0.082) m in the pelvis frame): the line from the hip to the shoulder keypoints leans back 0.0495 m over
#: 0.5285 m when the pelvis and the lumbar spine are neutral
SHOULDER_BACK = 0.0495 / 0.5285

#: the kinematic tree, parents before children (module docstring)
JOINTS: tuple[Joint, ...] = (
    Joint("pelvis", None, _o(), (("pelvis_tilt", 2, 1.0), ("pelvis_list", 0, 1.0), ("pelvis_rotation", 1, 1.0))),
    Joint(
        "femur_r",
        "pelvis",
        _o(y=("hip_drop", -1.0), z=("pelvis_width", 0.5)),
        (("hip_flexion_r", 2, 1.0), ("hip_adduction_r", 0, 1.0), ("hip_rotation_r", 1, 1.0)),
    ),
    Joint("tibia_r", "femur_r", _o(y=("thigh", -1.0)), (("knee_angle_r", 2, -1.0),)),
    Joint("foot_r", "tibia_r", _o(y=("shank", -1.0)), (("ankle_angle_r", 2, 1.0),)),
    Joint(
        "femur_l",
        "pelvis",
        _o(y=("hip_drop", -1.0), z=("pelvis_width", -0.5)),
        (("hip_flexion_l", 2, 1.0), ("hip_adduction_l", 0, -1.0), ("hip_rotation_l", 1, -1.0)),
    ),
    Joint("tibia_l", "femur_l", _o(y=("thigh", -1.0)), (("knee_angle_l", 2, -1.0),)),
    Joint("foot_l", "tibia_l", _o(y=("shank", -1.0)), (("ankle_angle_l", 2, 1.0),)),
    Joint(
        "torso", "pelvis", _o(), (("lumbar_extension", 2, 1.0), ("lumbar_bending", 0, 1.0), ("lumbar_rotation", 1, 1.0))
    ),
    Joint(
        "humerus_r",
        "torso",
        _o(x=("trunk", -SHOULDER_BACK), y=("trunk", 1.0), z=("shoulder_width", 0.5)),
        (("arm_flex_r", 2, 1.0), ("arm_add_r", 0, 1.0), ("arm_rot_r", 1, 1.0)),
    ),
    Joint("ulna_r", "humerus_r", _o(y=("upper_arm", -1.0)), (("elbow_flex_r", 2, 1.0),)),
    Joint(
        "humerus_l",
        "torso",
        _o(x=("trunk", -SHOULDER_BACK), y=("trunk", 1.0), z=("shoulder_width", -0.5)),
        (("arm_flex_l", 2, 1.0), ("arm_add_l", 0, -1.0), ("arm_rot_l", 1, -1.0)),
    ),
    Joint("ulna_l", "humerus_l", _o(y=("upper_arm", -1.0)), (("elbow_flex_l", 2, 1.0),)),
)
SEGMENT = {j.segment: i for i, j in enumerate(JOINTS)}
#: where each keypoint sits: (segment, offset in the segment's frame as for :class:`Joint`)
KEYPOINT_SITES: dict[str, tuple[str, tuple]] = {
    "right_hip": ("pelvis", _o(z=("pelvis_width", 0.5))),
    "left_hip": ("pelvis", _o(z=("pelvis_width", -0.5))),
    "right_knee": ("tibia_r", _o()),
    "left_knee": ("tibia_l", _o()),
    "right_ankle": ("foot_r", _o()),
    "left_ankle": ("foot_l", _o()),
    "right_heel": ("foot_r", _o(x=("heel", -1.0), y=("ankle_height", -1.0))),
    "left_heel": ("foot_l", _o(x=("heel", -1.0), y=("ankle_height", -1.0))),
    "right_toe": ("foot_r", _o(x=("toe", 1.0), y=("ankle_height", -1.0))),
    "left_toe": ("foot_l", _o(x=("toe", 1.0), y=("ankle_height", -1.0))),
    "right_shoulder": ("humerus_r", _o()),
    "left_shoulder": ("humerus_l", _o()),
    "right_elbow": ("ulna_r", _o()),
    "left_elbow": ("ulna_l", _o()),
    "right_wrist": ("ulna_r", _o(y=("forearm", -1.0))),
    "left_wrist": ("ulna_l", _o(y=("forearm", -1.0))),
}


def _ancestors(segment: str) -> list[str]:
    out = []
    while segment is not None:
        out.append(segment)
        segment = JOINTS[SEGMENT[segment]].parent
    return out


#: ``DOWNSTREAM[c, k]``: keypoint ``k`` moves with coordinate ``c`` (a rotation of one of its segment's ancestors)
DOWNSTREAM = np.zeros((len(COORDINATES), len(KEYPOINTS)), bool)
for _k, (_seg, _) in KEYPOINT_SITES.items():
    for _a in _ancestors(_seg):
        for _c, _, _ in JOINTS[SEGMENT[_a]].rotations:
            DOWNSTREAM[INDEX[_c], KP[_k]] = True
    for _c in TRANSLATIONS:
        DOWNSTREAM[INDEX[_c], KP[_k]] = True


def _offset(spec: tuple, dims: dict[str, float]) -> np.ndarray:
    return np.array([0.0 if name is None else dims[name] * factor for name, factor in spec])


@dataclass
class Pose:
    """Forward kinematics of ``F`` frames: ``points`` ``(F, K, 3)`` (:data:`KEYPOINTS`), ``axes`` ``(F, Q, 3)`` the
    world axis of each rotation coordinate and ``pivots`` ``(F, Q, 3)`` a point on it (zeros for translations), m."""

    points: np.ndarray
    axes: np.ndarray
    pivots: np.ndarray

    def pair_jacobian(self) -> np.ndarray:
        """``(F, pairs, 3)``: ``d point / d q`` of each (keypoint :data:`PAIR_K`, rotation coordinate
        :data:`PAIR_Q`) pair where the keypoint moves with the coordinate, ``axis × (point − pivot)`` (m/rad; the
        arithmetic of ``numpy.cross``: ``a₁b₂ − a₂b₁``, …).  Every other rotation entry of the Jacobian is zero."""
        a = np.take(self.axes, PAIR_Q, axis=1)  # np.take: 8x faster than fancy indexing on this axis
        rel = np.take(self.points, PAIR_K, axis=1) - np.take(self.pivots, PAIR_Q, axis=1)
        out = np.empty(rel.shape)
        for i in range(3):
            j, m = (i + 1) % 3, (i + 2) % 3
            out[..., i] = a[..., j] * rel[..., m] - a[..., m] * rel[..., j]
        return out

    def jacobian(self, translations: bool = True) -> np.ndarray:
        """``d points / d q``: ``(F, K, 3, Q)`` (rotations: :meth:`pair_jacobian` at the keypoints downstream, zeros
        elsewhere; translations: the identity, or zeros with ``translations=False``)."""
        f, k = self.points.shape[:2]
        jac = np.zeros((f, k, 3, len(COORDINATES)))
        jac[:, PAIR_K, :, PAIR_Q] = self.pair_jacobian().transpose(1, 0, 2)
        if translations:
            for c in TRANSLATIONS:
                jac[:, :, INDEX[c] - 3, INDEX[c]] = 1.0
        return jac


#: the (rotation coordinate, keypoint) pairs of :data:`DOWNSTREAM`: the nonzero rotation entries of the Jacobian
PAIR_Q, PAIR_K = np.nonzero(DOWNSTREAM & np.isin(np.arange(len(COORDINATES)), [INDEX[c] for c in ROTATIONS])[:, None])


def forward_kinematics(q: np.ndarray, dims: np.ndarray, rotation: np.ndarray | None = None) -> Pose:
    """Positions of :data:`KEYPOINTS` (and the axes of every coordinate) for states ``q``.

    Args:
        q: ``(F, len(COORDINATES))`` model coordinates (rad, m).
        dims: ``(len(DIMENSION_NAMES),)`` segment dimensions (m).
        rotation: ``(3, 3)`` from the model's ground axes to the output frame (default: identity, OpenSim ground
            axes X anterior, Y superior, Z right).  ``pelvis_t*`` are applied in the output frame.
    """
    d = dict(zip(DIMENSION_NAMES, np.asarray(dims, float)))
    n = q.shape[0]
    base = np.broadcast_to(np.eye(3) if rotation is None else rotation, (n, 3, 3))
    t = q[:, 3:6]
    rot: dict[str, np.ndarray] = {}
    origin: dict[str, np.ndarray] = {}
    axes = np.zeros((n, len(COORDINATES), 3))
    pivots = np.zeros((n, len(COORDINATES), 3))
    for j in JOINTS:
        r = base if j.parent is None else rot[j.parent]
        o = t if j.parent is None else origin[j.parent] + r @ _offset(j.offset, d)
        for name, axis, sign in j.rotations:
            ci = INDEX[name]
            axes[:, ci] = sign * r[:, :, axis]
            pivots[:, ci] = o
            r = r @ _rot(axis, sign * q[:, ci])
        rot[j.segment], origin[j.segment] = r, o
    points = np.empty((n, len(KEYPOINTS), 3))
    for k, (seg, spec) in KEYPOINT_SITES.items():
        points[:, KP[k]] = origin[seg] + rot[seg] @ _offset(spec, d)
    return Pose(points, axes, pivots)


def decompose_zxy(r: np.ndarray) -> np.ndarray:
    """Body-fixed Z-X-Y angles ``(F, 3)`` (rad) of rotation matrices ``r`` ``(F, 3, 3)`` = ``Rz(a)·Rx(b)·Ry(c)``."""
    b = np.arcsin(np.clip(r[:, 2, 1], -1.0, 1.0))
    a = np.arctan2(-r[:, 0, 1], r[:, 1, 1])
    c = np.arctan2(-r[:, 2, 0], r[:, 2, 2])
    return np.stack([a, b, c], axis=1)
