"""Skeleton definitions of the pose models and their mapping onto the shared clinical joint set.

Every pose model has its own *native* joints (BlazePose: 33 landmarks; MeTRAbs ``berkeley_mhad_43``: 43
motion-capture markers).  The native joints are kept in the ``poses`` table.  Everything downstream
(features, segmentation, DTW) works on the model-independent **clinical joint set**: named anatomical
points such as ``pelvis`` or ``right_knee``.  Each clinical joint is defined per skeleton as the mean of
one or more native joints (e.g. ``pelvis`` = mean of the two hip landmarks), so that selection is always by
name, never by index.

Sources: MediaPipe Pose landmark model (Bazarevsky et al., "BlazePose: On-device Real-time Body Pose
tracking", arXiv 2006.10204; GHUM 3D world landmarks, ``mediapipe.solutions.pose.PoseLandmark``);
MeTRAbs ``berkeley_mhad_43`` joint order as served by ``model.per_skeleton_joint_names``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The shared clinical joint set, in table column order.
CLINICAL_JOINTS: tuple[str, ...] = (
    "pelvis",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_toe",
    "right_toe",
    "neck",
    "head",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
)

#: Segments (pairs of clinical joints) used for drawing stick figures.
CLINICAL_EDGES: tuple[tuple[str, str], ...] = (
    ("pelvis", "left_hip"),
    ("pelvis", "right_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("left_ankle", "left_heel"),
    ("left_heel", "left_toe"),
    ("left_ankle", "left_toe"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("right_ankle", "right_heel"),
    ("right_heel", "right_toe"),
    ("right_ankle", "right_toe"),
    ("pelvis", "neck"),
    ("neck", "head"),
    ("neck", "left_shoulder"),
    ("neck", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
)


@dataclass(frozen=True)
class Skeleton:
    """A model's native joint list and how it maps onto :data:`CLINICAL_JOINTS`.

    Attributes:
        name: skeleton identifier as recorded in outputs (e.g. ``"blazepose_33"``, ``"berkeley_mhad_43"``).
        joints: native joint names in the model's index order.
        clinical_map: for each clinical joint, the native joints whose mean defines it.
    """

    name: str
    joints: tuple[str, ...]
    clinical_map: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"skeleton {self.name}: duplicate joint names")
        missing = [c for c in CLINICAL_JOINTS if c not in self.clinical_map]
        if missing:
            raise ValueError(f"skeleton {self.name}: no mapping for clinical joints {missing}")
        index = set(self.joints)
        for clinical, sources in self.clinical_map.items():
            unknown = [s for s in sources if s not in index]
            if unknown or not sources:
                raise ValueError(f"skeleton {self.name}: {clinical} maps to unknown joints {unknown}")

    def index(self, joint: str) -> int:
        """Index of a native joint; ``KeyError`` lists the known names."""
        try:
            return self.joints.index(joint)
        except ValueError:
            raise KeyError(f"unknown joint {joint!r} for skeleton {self.name}; known: {sorted(self.joints)}") from None

    def to_clinical(self, native: np.ndarray) -> np.ndarray:
        """Clinical joints ``(..., C, K)`` from native joints ``(..., J, K)`` (any per-joint values: mm, px): each
        clinical joint is the mean of its native joints, NaN where one of them is NaN.  A native joint that is
        missing affects only the clinical joints defined by it (a matrix product would spread its NaN to all)."""
        return np.stack(
            [native[..., [self.index(s) for s in self.clinical_map[c]], :].mean(axis=-2) for c in CLINICAL_JOINTS],
            axis=-2,
        )


BLAZEPOSE_33 = Skeleton(
    name="blazepose_33",
    joints=(
        "nose",
        "left_eye_inner",
        "left_eye",
        "left_eye_outer",
        "right_eye_inner",
        "right_eye",
        "right_eye_outer",
        "left_ear",
        "right_ear",
        "mouth_left",
        "mouth_right",
        "left_shoulder",
        "right_shoulder",
        "left_elbow",
        "right_elbow",
        "left_wrist",
        "right_wrist",
        "left_pinky",
        "right_pinky",
        "left_index",
        "right_index",
        "left_thumb",
        "right_thumb",
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
        "left_heel",
        "right_heel",
        "left_foot_index",
        "right_foot_index",
    ),
    clinical_map={
        "pelvis": ("left_hip", "right_hip"),
        "left_hip": ("left_hip",),
        "right_hip": ("right_hip",),
        "left_knee": ("left_knee",),
        "right_knee": ("right_knee",),
        "left_ankle": ("left_ankle",),
        "right_ankle": ("right_ankle",),
        "left_heel": ("left_heel",),
        "right_heel": ("right_heel",),
        "left_toe": ("left_foot_index",),
        "right_toe": ("right_foot_index",),
        "neck": ("left_shoulder", "right_shoulder"),
        "head": ("left_ear", "right_ear"),
        "left_shoulder": ("left_shoulder",),
        "right_shoulder": ("right_shoulder",),
        "left_elbow": ("left_elbow",),
        "right_elbow": ("right_elbow",),
        "left_wrist": ("left_wrist",),
        "right_wrist": ("right_wrist",),
    },
)

# berkeley_mhad_43 is a marker set: hip "joints" are approximated by the mean of the markers around each hip
# (back, front, lateral), the pelvis by the mean of all six.  Index 34 is ``lfoo`` (left foot), not a hip marker.
BERKELEY_MHAD_43 = Skeleton(
    name="berkeley_mhad_43",
    joints=(
        "head",
        "lhead",
        "rhead",
        "rback",
        "backl",
        "backt",
        "lback",
        "lside",
        "bell",
        "chest",
        "rside",
        "lsho1",
        "lsho2",
        "larm",
        "lelb",
        "lwri",
        "lhan1",
        "lhan2",
        "lhan3",
        "rsho1",
        "rsho2",
        "rarm",
        "relb",
        "rwri",
        "rhan1",
        "rhan2",
        "rhan3",
        "lhipb",
        "lhipf",
        "lhipl",
        "lleg",
        "lkne",
        "lank",
        "lhee",
        "lfoo",
        "rhipb",
        "rhipf",
        "rhipl",
        "rleg",
        "rkne",
        "rank",
        "rhee",
        "rfoo",
    ),
    clinical_map={
        "pelvis": ("lhipb", "lhipf", "lhipl", "rhipb", "rhipf", "rhipl"),
        "left_hip": ("lhipb", "lhipf", "lhipl"),
        "right_hip": ("rhipb", "rhipf", "rhipl"),
        "left_knee": ("lkne",),
        "right_knee": ("rkne",),
        "left_ankle": ("lank",),
        "right_ankle": ("rank",),
        "left_heel": ("lhee",),
        "right_heel": ("rhee",),
        "left_toe": ("lfoo",),
        "right_toe": ("rfoo",),
        "neck": ("lsho1", "rsho1"),
        "head": ("head", "lhead", "rhead"),
        "left_shoulder": ("lsho1",),
        "right_shoulder": ("rsho1",),
        "left_elbow": ("lelb",),
        "right_elbow": ("relb",),
        "left_wrist": ("lwri",),
        "right_wrist": ("rwri",),
    },
)

#: Marker-based motion capture (:mod:`..interop.mocap`): the markers are mapped onto the clinical joints when the file
#: is read (:mod:`.markersets`), so the native joints *are* the clinical joints.
CLINICAL_19 = Skeleton(name="clinical_19", joints=CLINICAL_JOINTS, clinical_map={j: (j,) for j in CLINICAL_JOINTS})

SKELETONS: dict[str, Skeleton] = {s.name: s for s in (BLAZEPOSE_33, BERKELEY_MHAD_43, CLINICAL_19)}


def get_skeleton(name: str) -> Skeleton:
    """Look up a skeleton by name; ``KeyError`` names the known skeletons."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None
