"""MeTRAbs backend: absolute 3D poses in mm for every person, batched TensorFlow inference.

Reference: Sárándi et al., IEEE T-BIOM 2021 (arXiv 2007.07227); model API ``detect_poses_batched`` of the published
SavedModels (``isarandi/metrabs``).  TensorFlow is imported only when a model is loaded.

Output mapping (per frame ``b`` of a batch, ``N_b`` persons, skeleton ``berkeley_mhad_43`` by default):
    * ``poses3d`` ``[N_b, J, 3]`` mm, camera frame (x right, y down, z forward) — absolute, not hip-centred;
    * ``poses2d`` ``[N_b, J, 2]`` px; ``boxes`` ``[N_b, 5]`` = ``[x, y, w, h, confidence]`` px;
    * per-joint confidence: MeTRAbs has none, so every joint gets the detection confidence of its box.

Intrinsics: either a user-supplied 3×3 matrix (px) or a field of view along the larger image side (degrees, the
MeTRAbs convention, default 55°), from which ``f = (max(W, H) / 2) / tan(fov / 2)`` and the principal point at the
image centre.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

import numpy as np

from neuropose_assets.core.kinematics.skeletons import BERKELEY_MHAD_43, Skeleton
from neuropose_assets.core.pose.base import FramePoses, ModelInfo, PoseBackend, PoseSession
from neuropose_assets.core.pose.metrabs_model import DEFAULT_NUM_AUG, DEFAULT_VARIANT, ModelLocation

REQUIRED_ATTRIBUTES = ("detect_poses", "detect_poses_batched", "per_skeleton_joint_names", "per_skeleton_joint_edges")


class ModelLoadError(RuntimeError):
    """The SavedModel loaded but is not a usable MeTRAbs model (missing attribute, unknown skeleton, ...)."""


def intrinsics_from_fov(width: int, height: int, fov_degrees: float) -> np.ndarray:
    """Pinhole intrinsic matrix ``(3, 3)`` px for a field of view along the larger image side (degrees)."""
    if not 0 < fov_degrees < 180:
        raise ValueError(f"field of view must be in (0, 180) degrees, got {fov_degrees}")
    f = (max(width, height) / 2.0) / np.tan(np.radians(fov_degrees) / 2.0)
    return np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]], np.float32)


def aligned_batch(frames: list[np.ndarray], align: int = 64) -> np.ndarray:
    """Stack frames into a new ``align``-byte-aligned uint8 array ``(B, H, W, 3)``.

    TensorFlow can wrap an aligned host buffer without copying it (DLPack), which saves a 50 MB copy per batch of
    eight 1080p frames compared with ``tf.convert_to_tensor(np.stack(frames))``.
    """
    shape = (len(frames), *frames[0].shape)
    n = int(np.prod(shape))
    raw = np.empty(n + align, np.uint8)
    off = (-raw.ctypes.data) % align
    out = raw[off : off + n].reshape(shape)
    for i, f in enumerate(frames):
        out[i] = f
    return out


def ragged_to_frames(boxes: Any, poses3d: Any, poses2d: Any, n_joints: int) -> list[FramePoses]:
    """Split ragged batch outputs (``tf.RaggedTensor`` with ``row_lengths``/``flat_values``, or lists of arrays)
    into one :class:`FramePoses` per image."""
    if hasattr(boxes, "row_lengths"):
        lengths = boxes.row_lengths().numpy()
        b = boxes.flat_values.numpy().reshape(-1, 5)
        p3 = poses3d.flat_values.numpy().reshape(-1, n_joints, 3)
        p2 = poses2d.flat_values.numpy().reshape(-1, n_joints, 2)
    else:
        lengths = np.array([len(x) for x in boxes])
        b = np.concatenate([np.reshape(x, (-1, 5)) for x in boxes]) if len(boxes) else np.zeros((0, 5))
        p3 = (
            np.concatenate([np.reshape(x, (-1, n_joints, 3)) for x in poses3d])
            if len(boxes)
            else np.zeros((0, n_joints, 3))
        )
        p2 = (
            np.concatenate([np.reshape(x, (-1, n_joints, 2)) for x in poses2d])
            if len(boxes)
            else np.zeros((0, n_joints, 2))
        )
    out, start = [], 0
    for n in lengths:
        sl = slice(start, start + int(n))
        bb = b[sl].astype(np.float32, copy=False)
        conf = np.repeat(bb[:, 4:5], n_joints, axis=1)
        out.append(FramePoses(bb, p3[sl].astype(np.float32, copy=False), p2[sl].astype(np.float32, copy=False), conf))
        start += int(n)
    return out


class MetrabsSession(PoseSession):
    """One video through a :class:`MetrabsBackend`: batches of ``backend.batch_size`` frames with this video's
    camera intrinsics (the backend's matrix, else :func:`intrinsics_from_fov` of the frame size); ``model_s`` sums the
    time spent in the model, s."""

    def __init__(self, backend: MetrabsBackend, width: int, height: int) -> None:
        self._b = backend
        self.batch_size = backend.batch_size
        k = (
            backend.intrinsic_matrix
            if backend.intrinsic_matrix is not None
            else intrinsics_from_fov(width, height, backend.fov_degrees)
        )
        self._tf = backend.tf
        self._k = self._tf.constant(np.asarray(k, np.float32).reshape(1, 3, 3))
        self.model_s = 0.0  # time spent inside the model call (for the glue-cost benchmark)

    def process(self, frames: list[np.ndarray]) -> list[FramePoses]:
        """One :class:`FramePoses` per frame of the batch: one ``detect_poses_batched`` call on an aligned,
        zero-copy batch (:func:`aligned_batch`), split per frame by :func:`ragged_to_frames`."""
        tf, b = self._tf, self._b
        batch = aligned_batch(frames)
        images = tf.experimental.dlpack.from_dlpack(batch.__dlpack__())  # zero-copy view of `batch`
        t = time.perf_counter()
        with tf.device(b.device):
            pred = b.model.detect_poses_batched(
                images,
                intrinsic_matrix=self._k,
                skeleton=b.skeleton_name,
                num_aug=b.num_aug,
                detector_threshold=b.detector_threshold,
                internal_batch_size=b.internal_batch_size,
            )
        self.model_s += time.perf_counter() - t
        return ragged_to_frames(pred["boxes"], pred["poses3d"], pred["poses2d"], len(b.skeleton.joints))


class MetrabsBackend(PoseBackend):
    """A loaded MeTRAbs SavedModel.

    Args:
        location: the extracted model (from :func:`.metrabs_model.acquire`).
        skeleton: MeTRAbs skeleton name; must be one we map onto the clinical joint set (``berkeley_mhad_43``).
        batch_size: frames per ``detect_poses_batched`` call.
        num_aug: test-time augmentations (default :data:`.metrabs_model.DEFAULT_NUM_AUG` = 5, the published accuracy
            setting; 1 is about 5× faster).
        detector_threshold: person-detector confidence threshold in [0, 1].
        internal_batch_size: crops per internal forward pass (GPU memory vs speed).
        fov_degrees: field of view along the larger image side (used when ``intrinsic_matrix`` is None).
        intrinsic_matrix: user-supplied 3×3 camera matrix in px (overrides ``fov_degrees``).
    Raises:
        ModelLoadError: a required attribute is missing, or the skeleton's joints differ from ours.
    """

    detects_all_persons = True

    def __init__(
        self,
        location: ModelLocation,
        *,
        skeleton: str = "berkeley_mhad_43",
        batch_size: int = 8,
        num_aug: int = DEFAULT_NUM_AUG,
        detector_threshold: float = 0.3,
        internal_batch_size: int = 64,
        fov_degrees: float = 55.0,
        intrinsic_matrix: list[float] | np.ndarray | None = None,
        device: str | None = None,
    ) -> None:
        if skeleton != BERKELEY_MHAD_43.name:
            raise ModelLoadError(f"skeleton {skeleton!r} has no clinical-joint mapping; use 'berkeley_mhad_43'")
        if batch_size < 1 or num_aug < 1:
            raise ValueError("batch_size and num_aug must be >= 1")
        import tensorflow as tf

        self.tf = tf
        gpus = tf.config.list_physical_devices("GPU")
        for g in gpus:
            try:
                tf.config.experimental.set_memory_growth(g, True)
            except RuntimeError:  # already initialised by an earlier model in this process
                pass
        self.device = device or ("/GPU:0" if gpus else "/CPU:0")
        self.skeleton: Skeleton = BERKELEY_MHAD_43
        self.skeleton_name = skeleton
        self.batch_size = int(batch_size)
        self.num_aug = int(num_aug)
        self.detector_threshold = float(detector_threshold)
        self.internal_batch_size = int(internal_batch_size)
        self.fov_degrees = float(fov_degrees)
        self.intrinsic_matrix = (
            None if intrinsic_matrix is None else np.asarray(intrinsic_matrix, np.float32).reshape(3, 3)
        )
        t = time.perf_counter()
        self.model = tf.saved_model.load(str(location.path))
        self.load_s = time.perf_counter() - t
        missing = [a for a in REQUIRED_ATTRIBUTES if not hasattr(self.model, a)]
        if missing:
            raise ModelLoadError(
                f"the SavedModel at {location.path} is not a MeTRAbs model: missing {', '.join(missing)}. "
                "Check that the archive is a MeTRAbs release (see `neuropose-assets model install --help`)."
            )
        names = tuple(np.asarray(self.model.per_skeleton_joint_names[skeleton].numpy()).astype(str).tolist())
        if names != BERKELEY_MHAD_43.joints:
            raise ModelLoadError(f"the model's {skeleton} joints differ from neuropose-assets' definition: {names}")
        self.info = ModelInfo(
            name="metrabs",
            variant=location.variant,
            checksum=location.checksum,
            skeleton=skeleton,
            origin="camera",
            settings={
                "batch_size": self.batch_size,
                "num_aug": self.num_aug,
                "detector_threshold": self.detector_threshold,
                "internal_batch_size": self.internal_batch_size,
                "fov_degrees": None if self.intrinsic_matrix is not None else self.fov_degrees,
                "intrinsic_matrix": None if self.intrinsic_matrix is None else self.intrinsic_matrix.tolist(),
                "device": self.device,
                "model_source": location.source,
            },
            versions={"tensorflow": metadata.version("tensorflow")},
        )

    def open_video(self, *, width: int, height: int, fps: float) -> PoseSession:
        """A :class:`MetrabsSession` for one video of ``width`` × ``height`` px; ``fps`` is not used."""
        return MetrabsSession(self, width, height)


__all__ = ["DEFAULT_VARIANT", "MetrabsBackend", "MetrabsSession", "ModelLoadError", "intrinsics_from_fov"]
