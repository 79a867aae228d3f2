"""Person tracking across frames and subject selection.

Tracking is greedy intersection-over-union (IoU) matching of person boxes between consecutive frames, allowing a
track to survive a gap of up to ``max_gap_frames`` frames (the classic IoU tracker: Bochinski et al., "High-Speed
Tracking-by-Detection Without Using Image Information", AVSS 2017).  The *subject* is then chosen among the tracks by
an explicit, recorded policy:

* ``"longest_track"`` (default): the track present in most frames; ties go to the larger mean box area.
* ``"largest_box"``: the track with the largest mean box area (the person closest to the camera).
* ``"most_central"``: the track whose mean box centre is closest to the image centre.

The same code serves every backend; with BlazePose (one person per frame) it only splits the trajectory where
MediaPipe lost the person and re-detected someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

SubjectPolicy = Literal["longest_track", "largest_box", "most_central"]
SUBJECT_POLICIES: tuple[str, ...] = ("longest_track", "largest_box", "most_central")


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix ``(Na, Nb)`` between boxes ``[x, y, w, h, ...]`` (px)."""
    ax0, ay0 = a[:, 0:1], a[:, 1:2]
    ax1, ay1 = ax0 + a[:, 2:3], ay0 + a[:, 3:4]
    bx0, by0 = b[:, 0], b[:, 1]
    bx1, by1 = bx0 + b[:, 2], by0 + b[:, 3]
    iw = np.clip(np.minimum(ax1, bx1) - np.maximum(ax0, bx0), 0, None)
    ih = np.clip(np.minimum(ay1, by1) - np.maximum(ay0, by0), 0, None)
    inter = iw * ih
    union = a[:, 2:3] * a[:, 3:4] + b[:, 2] * b[:, 3] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


@dataclass(frozen=True)
class TrackingConfig:
    """``iou_threshold``: minimum IoU to continue a track; ``max_gap_frames``: frames a track may be unseen."""

    iou_threshold: float = 0.3
    max_gap_frames: int = 15


def track_boxes(boxes_per_frame: list[np.ndarray], config: TrackingConfig = TrackingConfig()) -> list[np.ndarray]:
    """Assign a track id to every detection.

    Args:
        boxes_per_frame: per frame, float ``(N_f, >=4)`` boxes ``[x, y, w, h, ...]`` px.
    Returns:
        per frame, int ``(N_f,)`` track ids (0, 1, ... in order of first appearance).
    """
    active: dict[int, tuple[np.ndarray, int]] = {}  # track id -> (last box, last frame)
    next_id = 0
    out: list[np.ndarray] = []
    for f, boxes in enumerate(boxes_per_frame):
        ids = np.full(len(boxes), -1, dtype=np.int64)
        live = [t for t, (_, last) in active.items() if f - last <= config.max_gap_frames + 1]
        if len(boxes) and live:
            iou = box_iou(boxes, np.stack([active[t][0] for t in live]))
            # greedy: best pairs first
            for flat in np.argsort(-iou, axis=None):
                i, j = np.unravel_index(flat, iou.shape)
                if iou[i, j] < config.iou_threshold:
                    break
                if ids[i] == -1 and live[j] not in ids:
                    ids[i] = live[j]
        for i in range(len(boxes)):
            if ids[i] == -1:
                ids[i] = next_id
                next_id += 1
            active[int(ids[i])] = (boxes[i], f)
        out.append(ids)
    return out


def select_subject(
    boxes_per_frame: list[np.ndarray],
    track_ids: list[np.ndarray],
    *,
    policy: SubjectPolicy = "longest_track",
    image_size: tuple[int, int] | None = None,
) -> int | None:
    """Choose the subject's track id by ``policy``; ``None`` when nobody was detected in any frame.

    Args:
        image_size: ``(width, height)`` px, required for ``"most_central"``.
    Raises:
        ValueError: unknown policy, or ``"most_central"`` without ``image_size``.
    """
    if policy not in SUBJECT_POLICIES:
        raise ValueError(f"unknown subject policy {policy!r}; choose one of {SUBJECT_POLICIES}")
    stats: dict[int, list[np.ndarray]] = {}
    for boxes, ids in zip(boxes_per_frame, track_ids, strict=True):
        for b, t in zip(boxes, ids, strict=True):
            stats.setdefault(int(t), []).append(b)
    if not stats:
        return None

    def area(t: int) -> float:
        return float(np.mean([b[2] * b[3] for b in stats[t]]))

    if policy == "longest_track":
        return max(stats, key=lambda t: (len(stats[t]), area(t), -t))
    if policy == "largest_box":
        return max(stats, key=lambda t: (area(t), len(stats[t]), -t))
    if image_size is None:
        raise ValueError("policy 'most_central' needs image_size=(width, height)")
    cx, cy = image_size[0] / 2, image_size[1] / 2

    def dist(t: int) -> float:
        c = np.array([[b[0] + b[2] / 2, b[1] + b[3] / 2] for b in stats[t]])
        return float(np.hypot(c[:, 0].mean() - cx, c[:, 1].mean() - cy))

    return min(stats, key=lambda t: (dist(t), -len(stats[t]), t))
