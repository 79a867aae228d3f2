"""A tiny TensorFlow SavedModel with the MeTRAbs interface, for tests and the glue benchmark.

It has the four attributes the real model has (``detect_poses``, ``detect_poses_batched``,
``per_skeleton_joint_names``, ``per_skeleton_joint_edges``) and returns ragged tensors like it.  Poses are
deterministic: an image whose mean brightness is below 5 holds nobody; any other holds two persons — a subject at
3 m whose knees bend with the image brightness ``m`` (ankle moved forward by ``3·(m − 128)`` mm) and a smaller
bystander 1 m to the side.  2D joints are the pinhole projection with the given intrinsics.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from neuropose_assets.core.kinematics.skeletons import BERKELEY_MHAD_43

_X = {"l": -1.0, "r": 1.0}


def template_pose() -> np.ndarray:
    """``(43, 3)`` mm: a standing adult, pelvis at the origin, y down."""
    p = {}
    p["head"], p["lhead"], p["rhead"] = (0, -700, 0), (-80, -700, 0), (80, -700, 0)
    for i, n in enumerate(("rback", "backl", "backt", "lback", "lside", "bell", "chest", "rside")):
        p[n] = (np.cos(i) * 120, -300 - 20 * i, np.sin(i) * 80)
    for s, x in _X.items():
        p[f"{s}sho1"], p[f"{s}sho2"] = (200 * x, -500, 0), (210 * x, -490, 30)
        p[f"{s}arm"], p[f"{s}elb"], p[f"{s}wri"] = (220 * x, -350, 0), (230 * x, -230, 0), (240 * x, 0, 40)
        for k in (1, 2, 3):
            p[f"{s}han{k}"] = (245 * x, 70 + 5 * k, 40)
        p[f"{s}hipb"], p[f"{s}hipf"], p[f"{s}hipl"] = (100 * x, 0, 60), (100 * x, 0, -60), (150 * x, 0, 0)
        p[f"{s}leg"], p[f"{s}kne"], p[f"{s}ank"] = (100 * x, 200, 0), (100 * x, 450, 0), (100 * x, 850, 0)
        p[f"{s}hee"], p[f"{s}foo"] = (100 * x, 900, 50), (100 * x, 900, -150)
    return np.array([p[j] for j in BERKELEY_MHAD_43.joints], np.float32)


def _edges() -> np.ndarray:
    j = {n: i for i, n in enumerate(BERKELEY_MHAD_43.joints)}
    pairs = [("head", "chest")]
    for s in "lr":
        pairs += [
            ("chest", f"{s}sho1"),
            (f"{s}sho1", f"{s}elb"),
            (f"{s}elb", f"{s}wri"),
            (f"{s}hipb", f"{s}kne"),
            (f"{s}kne", f"{s}ank"),
            (f"{s}ank", f"{s}hee"),
            (f"{s}ank", f"{s}foo"),
        ]
    return np.array([(j[a], j[b]) for a, b in pairs], np.int32)


def build_fake_metrabs(path: Path, *, omit: str | None = None) -> Path:
    """Save the fake model to ``path`` (a SavedModel directory); ``omit`` drops one required attribute."""
    import tensorflow as tf

    template = tf.constant(template_pose())
    names = BERKELEY_MHAD_43.joints
    bend = np.zeros((43, 3), np.float32)
    for n in ("lank", "rank", "lhee", "rhee", "lfoo", "rfoo"):
        bend[names.index(n), 2] = -3.0
    bend = tf.constant(bend)
    offsets = tf.constant([[0.0, 0.0, 3000.0], [1000.0, 0.0, 3500.0]], tf.float32)
    boxes_const = tf.constant([[100.0, 100.0, 400.0, 800.0, 0.9], [600.0, 200.0, 200.0, 400.0, 0.8]], tf.float32)

    class FakeMetrabs(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            if omit != "per_skeleton_joint_names":
                self.per_skeleton_joint_names = {"berkeley_mhad_43": tf.Variable(list(names), trainable=False)}
            if omit != "per_skeleton_joint_edges":
                self.per_skeleton_joint_edges = {"berkeley_mhad_43": tf.Variable(_edges(), trainable=False)}

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, None, 3], tf.uint8),
                tf.TensorSpec([None, 3, 3], tf.float32),
                tf.TensorSpec([], tf.string),
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.float32),
                tf.TensorSpec([], tf.int32),
            ]
        )
        def detect_poses_batched(
            self, images, intrinsic_matrix, skeleton, num_aug, detector_threshold, internal_batch_size
        ):
            means = tf.reduce_mean(tf.cast(images, tf.float32), axis=[1, 2, 3])  # [B]
            lengths = tf.where(means > 5.0, 2, 0)
            b = tf.shape(images)[0]
            delta = (means - 128.0)[:, None, None, None]  # [B,1,1,1]
            person = tf.stack([template, template * 0.8], axis=0)[None]  # [1,2,J,3]
            poses = person + delta * bend[None, None] + offsets[None, :, None, :]  # [B,2,J,3]
            k = tf.broadcast_to(intrinsic_matrix, [b, 3, 3])
            proj = tf.einsum("bij,bpkj->bpki", k, poses)
            uv = proj[..., :2] / proj[..., 2:3]
            boxes = tf.broadcast_to(boxes_const[None], [b, 2, 5])
            mask = tf.sequence_mask(lengths, 2)
            rl = tf.cast(lengths, tf.int64)
            return {
                "boxes": tf.RaggedTensor.from_row_lengths(tf.boolean_mask(boxes, mask), rl),
                "poses3d": tf.RaggedTensor.from_row_lengths(tf.boolean_mask(poses, mask), rl),
                "poses2d": tf.RaggedTensor.from_row_lengths(tf.boolean_mask(uv, mask), rl),
            }

        @tf.function(
            input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8),
                tf.TensorSpec([3, 3], tf.float32),
                tf.TensorSpec([], tf.string),
            ]
        )
        def detect_poses(self, image, intrinsic_matrix, skeleton):
            out = self.detect_poses_batched(image[None], intrinsic_matrix[None], skeleton, 1, 0.3, 64)
            return {k: v[0] for k, v in out.items()}

    model = FakeMetrabs()
    if omit == "detect_poses_batched":
        model = _without(model, tf)
    tf.saved_model.save(model, str(path))
    return path


def _without(model, tf):
    class Partial(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.per_skeleton_joint_names = model.per_skeleton_joint_names
            self.per_skeleton_joint_edges = model.per_skeleton_joint_edges
            self.detect_poses = model.detect_poses

    return Partial()


def make_tarball(model_dir: Path, tarball: Path, *, arcname: str = "metrabs_fake") -> Path:
    with tarfile.open(tarball, "w:gz") as tf:
        tf.add(model_dir, arcname=arcname)
    return tarball
