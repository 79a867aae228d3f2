"""Person tracking across frames and subject selection.

Tracking is greedy intersection-over-union (IoU) matching of person boxes between consecutive frames, allowing a
track to survive a gap of up to ``max_gap_frames`` frames (the classic IoU tracker: Bochinski et al., "High-Speed
Tracking-by-Detection Without Using Image Information", AVSS 2017).  The *subject* is then chosen among the tracks by
an explicit, recorded policy:

* ``"longest_track"`` (default): the track present in most frames; ties go to the larger mean box area.
* ``"largest_box"``: the track with the largest mean box area (the person closest to the camera).
* ``"most_central"``: the track whose mean box centre is closest to the image centre.

Over long recordings a person's track breaks into fragments (occlusion, leaving the view, a single-person model that
hops to someone else and back).  :func:`join_fragments` joins a fragment to the one that ended shortly before it when
position, size and time are continuous (the box centre moved at most ``join_max_jump`` box heights per second of gap,
plus half a box height; box heights within ``join_max_size_ratio``; gap ≤ ``join_max_gap_s``); and when a model that
detects every person (``detects_all_persons``) never saw two people at once, every detection is the subject.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from neuropose_assets.core.models import STRICT

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


class TrackingConfig(BaseModel):
    """How persons are tracked and the subject chosen; stored in the ``poses`` provenance.

    Attributes:
        subject_policy: ``longest_track`` (present in most frames), ``largest_box`` (closest to the camera) or
            ``most_central`` (box centre closest to the image centre).
        iou_threshold: minimum box IoU between consecutive detections to continue a track.
        max_gap_frames: frames a track may be unseen and still be continued by IoU.
        join_max_gap_s: longest gap, s, across which two fragments may be joined into one person (0 = never join).
        join_max_jump: largest move of the box centre across a join, in box heights per second of gap (plus half a
            box height).
        join_max_size_ratio: largest ratio of box heights across a join.
    """

    model_config = STRICT

    subject_policy: SubjectPolicy = "longest_track"
    iou_threshold: float = Field(default=0.3, gt=0, le=1)
    max_gap_frames: int = Field(default=15, ge=0)
    join_max_gap_s: float = Field(default=3.0, ge=0)
    join_max_jump: float = Field(default=1.0, ge=0)
    join_max_size_ratio: float = Field(default=1.5, ge=1)


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


def join_fragments(
    boxes_per_frame: list[np.ndarray],
    track_ids: list[np.ndarray],
    times: np.ndarray,
    config: TrackingConfig = TrackingConfig(),
    *,
    all_persons_detected: bool = False,
) -> list[np.ndarray]:
    """Relabel fragments of one person with one id (module docstring); ids are renumbered 0, 1, ... in order of
    first appearance.

    Args:
        boxes_per_frame, track_ids: as from :func:`track_boxes`.
        times: ``(F,)`` frame times, s.
        all_persons_detected: the model reports every person in view; with at most one detection per frame every
            detection is then the same person.
    """
    present = [t for t in track_ids if len(t)]
    if not present:
        return track_ids
    if all_persons_detected and max(len(t) for t in track_ids) == 1:
        return [np.zeros(len(t), dtype=np.int64) for t in track_ids]
    first: dict[int, tuple[int, np.ndarray]] = {}
    last: dict[int, tuple[int, np.ndarray]] = {}
    for f, (boxes, ids) in enumerate(zip(boxes_per_frame, track_ids, strict=True)):
        for b, t in zip(boxes, ids, strict=True):
            first.setdefault(int(t), (f, b))
            last[int(t)] = (f, b)
    parent: dict[int, int] = {t: t for t in first}

    def root(t: int) -> int:
        while parent[t] != t:
            t = parent[t]
        return t

    continued: set[int] = set()  # chain ends that already have a successor
    for t in sorted(first, key=lambda k: first[k][0]):
        f0, b0 = first[t]
        best, best_cost = None, np.inf
        for u, (f1, b1) in last.items():
            if u in continued or root(u) == root(t) or f1 >= f0:
                continue
            gap = float(times[f0] - times[f1])
            if gap > config.join_max_gap_s:
                continue
            h = 0.5 * (b0[3] + b1[3])
            jump = np.hypot(b0[0] + b0[2] / 2 - b1[0] - b1[2] / 2, b0[1] + b0[3] / 2 - b1[1] - b1[3] / 2)
            ratio = max(b0[3], b1[3]) / max(min(b0[3], b1[3]), 1e-9)
            limit = (0.5 + config.join_max_jump * gap) * h
            if jump <= limit and ratio <= config.join_max_size_ratio and jump / max(limit, 1e-9) < best_cost:
                best, best_cost = u, jump / max(limit, 1e-9)
        if best is not None and last[root(best)][0] < f0:  # the whole chain ended before this fragment starts
            continued.add(best)
            parent[t] = root(best)
            r = root(best)
            last[r] = max(last[r], last[t], key=lambda x: x[0])
    order: dict[int, int] = {}
    for ids in track_ids:
        for t in ids:
            order.setdefault(root(int(t)), len(order))
    return [np.array([order[root(int(t))] for t in ids], dtype=np.int64) for ids in track_ids]


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
