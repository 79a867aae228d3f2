"""BlazePose GHUM 3D (MediaPipe 0.10.21 "solutions" Pose, ``model_complexity=1`` = Full).

The Full landmark model and the person detector ship inside the mediapipe wheel, so this backend runs offline.
Reference: Bazarevsky et al., "BlazePose: On-device Real-time Body Pose tracking", CVPR-W 2020 (arXiv 2006.10204);
GHUM: Xu et al., CVPR 2020.  One person per frame: in video mode MediaPipe tracks the person it found first.

Output mapping (per frame, 33 landmarks):
    * ``poses3d`` = ``pose_world_landmarks`` × 1000 → mm, origin at the hip midpoint, x right, y down, z away from
      the camera (metric but not absolute: there is no camera translation).
    * ``poses2d`` = ``pose_landmarks`` (x, y) × (width, height) → px.
    * ``confidence`` = landmark ``visibility``; the box is the extent of the 2D landmarks, its confidence the mean
      visibility.

``mediapipe`` is imported lazily.  Its ``tasks`` package probes for TensorFlow, which costs 5–20 s; we hide
TensorFlow from that probe (the Pose solution does not use it), which cuts the import to under a second.
"""

from __future__ import annotations

import hashlib
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from neuropose_assets.core.kinematics.skeletons import BLAZEPOSE_33
from neuropose_assets.core.pose.base import FramePoses, ModelInfo, PoseBackend, PoseSession

MODEL_FILES = ("modules/pose_detection/pose_detection.tflite", "modules/pose_landmark/pose_landmark_full.tflite")


def import_mediapipe() -> Any:
    """Import mediapipe without letting it import TensorFlow (only the docs/metadata helpers use it)."""
    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ INFO/WARNING lines (e.g. NORM_RECT) are noise
    hide = "tensorflow" not in sys.modules
    if hide:
        sys.modules["tensorflow"] = None  # type: ignore[assignment]  # makes `import tensorflow` raise ImportError
    try:
        import mediapipe as mp
    finally:
        if hide:
            del sys.modules["tensorflow"]
    return mp


def check_landmark_order(pose_landmark) -> None:
    """Our ``blazepose_33`` joint order must be MediaPipe's ``PoseLandmark`` enumeration (index = value), or every
    joint would be mislabelled.

    Raises:
        RuntimeError: the installed mediapipe enumerates the landmarks differently.
    """
    names = tuple(lm.name.lower() for lm in sorted(pose_landmark, key=lambda lm: lm.value))
    if names != BLAZEPOSE_33.joints:
        diff = [(i, ours, theirs) for i, (ours, theirs) in enumerate(zip(BLAZEPOSE_33.joints, names)) if ours != theirs]
        raise RuntimeError(
            f"mediapipe's PoseLandmark order differs from the blazepose_33 skeleton ({len(names)} vs "
            f"{len(BLAZEPOSE_33.joints)} landmarks; first differences {diff[:3]}): "
            "pin mediapipe 0.10.21"
        )


class BlazePoseSession(PoseSession):
    """One video through MediaPipe Pose in video mode (its landmark tracker runs across the frames): one frame
    per call, at most one person per frame."""

    batch_size = 1

    def __init__(self, pose: Any, width: int, height: int) -> None:
        self._pose = pose
        self._wh = np.array([width, height], np.float32)
        self._nj = len(BLAZEPOSE_33.joints)

    def process(self, frames: list[np.ndarray]) -> list[FramePoses]:
        """One :class:`FramePoses` per frame: world landmarks (m, hip-centred) scaled to mm, image landmarks scaled
        to px, visibility as confidence, the landmarks' bounding box with their mean visibility; empty where nobody was
        found."""
        return [self._one(f) for f in frames]

    def _one(self, rgb: np.ndarray) -> FramePoses:
        res = self._pose.process(rgb)
        if res.pose_landmarks is None or res.pose_world_landmarks is None:
            return FramePoses.empty(self._nj)
        img = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark], np.float32)
        world = np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark], np.float32)
        uv = img[:, :2] * self._wh
        vis = img[:, 2]
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        box = np.array([[lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1], float(vis.mean())]], np.float32)
        return FramePoses(box, (world * 1000.0)[None], uv[None], vis[None])

    def close(self) -> None:
        """Close this video's MediaPipe ``Pose`` graph."""
        self._pose.close()


class BlazePoseBackend(PoseBackend):
    """BlazePose GHUM 3D Full.  Settings are recorded in :attr:`info`.

    Args:
        min_detection_confidence: person-detector threshold in [0, 1].
        min_tracking_confidence: landmark-tracking threshold in [0, 1]; below it the detector runs again.
        smooth_landmarks: MediaPipe's temporal landmark filter (video mode).
    """

    skeleton = BLAZEPOSE_33

    def __init__(
        self,
        *,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth_landmarks: bool = True,
    ) -> None:
        mp = import_mediapipe()
        self._pose_mod = mp.solutions.pose
        check_landmark_order(self._pose_mod.PoseLandmark)
        self._kwargs = dict(
            static_image_mode=False,
            model_complexity=1,
            smooth_landmarks=smooth_landmarks,
            enable_segmentation=False,
            min_detection_confidence=float(min_detection_confidence),
            min_tracking_confidence=float(min_tracking_confidence),
        )
        root = Path(mp.__file__).parent
        h = hashlib.sha256()
        for rel in MODEL_FILES:
            h.update((root / rel).read_bytes())
        self.info = ModelInfo(
            name="blazepose_ghum_3d",
            variant="full",
            checksum=h.hexdigest(),
            skeleton=BLAZEPOSE_33.name,
            origin="hip_midpoint",
            settings={k: v for k, v in self._kwargs.items() if k != "enable_segmentation"},
            versions={"mediapipe": metadata.version("mediapipe")},
        )

    def open_video(self, *, width: int, height: int, fps: float) -> PoseSession:
        """A session with a fresh MediaPipe ``Pose`` (video mode, this backend's settings) for one video of
        ``width`` × ``height`` px; ``fps`` is not used."""
        return BlazePoseSession(self._pose_mod.Pose(**self._kwargs), width, height)
