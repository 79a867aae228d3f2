"""The pose-model interface every backend implements (BlazePose now, MeTRAbs next).

A backend turns consecutive RGB frames of one video into per-frame detections of every person it sees.  It is
created once per process (model load is the expensive part) and opens one :class:`PoseSession` per video, so
trackers inside the model (BlazePose video mode) start fresh for every video.

Coordinate frames of :class:`FramePoses`:
    * ``poses3d``: mm, camera-aligned axes — x to the image right, y down, z away from the camera.  The origin is
      model-specific: BlazePose world landmarks are centred on the hip midpoint (relative, metric); MeTRAbs gives
      absolute camera coordinates.  ``ModelInfo.origin`` records which.
    * ``poses2d``: px in the decoded, upright frame, origin at the top-left corner, (u right, v down).
    * ``boxes``: ``[x, y, w, h, confidence]`` px.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neuropose_assets.core.kinematics.skeletons import Skeleton


@dataclass(frozen=True)
class FramePoses:
    """Detections in one frame, ``N`` persons (``N = 0`` when nobody was found), ``J`` native joints.

    Attributes:
        boxes: float32 ``(N, 5)``, ``[x, y, w, h, confidence]`` px.
        poses3d: float32 (models) or float64 (marker capture) ``(N, J, 3)`` mm, camera-aligned (x right, y down, z away
            from camera).
        poses2d: float32 ``(N, J, 2)`` px.
        confidence: float32 ``(N, J)`` per-joint confidence / visibility in ``[0, 1]``.
    """

    boxes: np.ndarray
    poses3d: np.ndarray
    poses2d: np.ndarray
    confidence: np.ndarray

    @staticmethod
    def empty(n_joints: int) -> FramePoses:
        """The detections of a frame where nobody was found: ``N = 0`` arrays for ``n_joints`` joints."""
        return FramePoses(
            boxes=np.zeros((0, 5), np.float32),
            poses3d=np.zeros((0, n_joints, 3), np.float32),
            poses2d=np.zeros((0, n_joints, 2), np.float32),
            confidence=np.zeros((0, n_joints), np.float32),
        )

    @property
    def n_persons(self) -> int:
        """Number of persons detected, ``N``."""
        return int(self.boxes.shape[0])


#: ``ModelInfo.name`` of poses read from marker-based motion capture (:mod:`..interop.mocap`), not estimated by a model
MARKER_CAPTURE = "marker_capture"


@dataclass(frozen=True)
class ModelInfo:
    """What produced the poses; recorded in every output so that models are never mixed silently.

    Attributes:
        name: model family (``"blazepose_ghum_3d"``, ``"metrabs"``).
        variant: concrete model (``"full"``; ``"metrabs_eff2l_y4_384px_800k_28ds"``).
        checksum: SHA-256 of the weights file(s) that were loaded.
        skeleton: native skeleton name.
        origin: origin of ``poses3d`` (``"hip_midpoint"`` or ``"camera"``).
        settings: inference settings that change results (thresholds, augmentations, FOV, ...).
        versions: versions of the libraries that ran the model.
    """

    name: str
    variant: str
    checksum: str
    skeleton: str
    origin: str
    settings: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Every field as a JSON-ready dict (copies of ``settings`` and ``versions``): the ``model`` entry of the
        provenance."""
        return {
            "name": self.name,
            "variant": self.variant,
            "checksum": self.checksum,
            "skeleton": self.skeleton,
            "origin": self.origin,
            "settings": dict(self.settings),
            "versions": dict(self.versions),
        }


class PoseSession(ABC):
    """Pose estimation state for one video.  Feed frames in order; close when done."""

    #: how many frames :meth:`process` wants per call (1 for per-frame models)
    batch_size: int = 1

    @abstractmethod
    def process(self, frames: list[np.ndarray]) -> list[FramePoses]:
        """Estimate poses on consecutive RGB uint8 frames ``(H, W, 3)``; returns one :class:`FramePoses` each."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release per-video resources."""

    def __enter__(self) -> PoseSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PoseBackend(ABC):
    """A loaded pose model.  Construct once per process; :meth:`open_video` once per video."""

    skeleton: Skeleton
    info: ModelInfo
    #: the model reports every person in view (MeTRAbs); BlazePose follows one person at a time
    detects_all_persons: bool = False

    @abstractmethod
    def open_video(self, *, width: int, height: int, fps: float) -> PoseSession:
        """Start a session for one video of the given decoded size (px) and frame rate (frames/s)."""
