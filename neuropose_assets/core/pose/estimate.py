"""Run a pose backend over a whole video and build the ``poses`` table.

The ``poses`` table has one row per (frame, detected person) and one *gap row* (``track`` null, coordinates null)
for every frame in which nobody was detected, so every decoded frame is present exactly once or more.  Columns:

=====================  ========  =========================================================================
column                 dtype     meaning
=====================  ========  =========================================================================
``frame``              Int32     0-based decoded frame index
``time_s``             Float64   presentation time of the frame, s
``track``              Int32     person track id (null in a gap row)
``is_subject``         Boolean   this row is the analysed subject (see :mod:`.tracking`)
``n_persons``          Int16     persons detected in this frame
``box_{x,y,w,h}_px``   Float32   person box, px
``box_conf``           Float32   detection confidence in [0, 1]
``{joint}_{x,y,z}_mm`` Float64   native joint, 3D, mm (frame: see :mod:`.base`); the models' float32 is
                                 stored exactly, marker-based capture (:mod:`..interop.mocap`) keeps its full precision
``{joint}_{u,v}_px``   Float32   native joint, 2D, px
``{joint}_conf``       Float32   joint confidence / visibility in [0, 1]
=====================  ========  =========================================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from neuropose_assets.core.io.video import VideoError, iter_frames, probe_video, verify_decoding
from neuropose_assets.core.pose.base import FramePoses, PoseBackend
from neuropose_assets.core.pose.tracking import TrackingConfig, join_fragments, select_subject, track_boxes


@dataclass
class PoseRun:
    """Result of :func:`estimate_video`: the ``poses`` table plus a summary and stage timings (s)."""

    table: pl.DataFrame
    n_frames: int
    frames_with_person: int
    frames_with_subject: int
    n_tracks: int
    subject_track: int | None
    fps: float
    width_px: int
    height_px: int
    #: frames the container announces, and how many of them could not be decoded (:func:`..io.video.verify_decoding`)
    frames_announced: int = 0
    frames_missing: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    #: inference latency of each frame, ms ``(n_frames,)``: the model call's wall time for the frame (for a batch of
    #: ``B`` frames, the batch's time / ``B`` for each of them); decoding runs in parallel and is not included
    frame_latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict:
        """The run's counts for metadata: frames decoded, announced and missing, frames with a person and with the
        subject, subject coverage (0–1), tracks, the subject's track and the frame rate (frames/s)."""
        return {
            "n_frames": self.n_frames,
            "frames_announced": self.frames_announced,
            "frames_missing": self.frames_missing,
            "frames_with_person": self.frames_with_person,
            "frames_with_subject": self.frames_with_subject,
            "subject_coverage": self.frames_with_subject / self.n_frames if self.n_frames else 0.0,
            "n_tracks": self.n_tracks,
            "subject_track": self.subject_track,
            "fps": self.fps,
        }


def joint_columns(joints: tuple[str, ...]) -> list[str]:
    """Column names of the native-joint block, in table order."""
    return [f"{j}_{s}" for j in joints for s in ("x_mm", "y_mm", "z_mm", "u_px", "v_px", "conf")]


def estimate_video(
    backend: PoseBackend,
    video: str | Path,
    *,
    tracking: TrackingConfig = TrackingConfig(),
    prefetch: int = 8,
    display: str | None = None,
) -> PoseRun:
    """Decode ``video`` (in a background thread), run ``backend`` on every frame, track persons (IoU, then joining
    fragments of one person; :mod:`.tracking`), pick the subject by ``tracking.subject_policy``.

    Args:
        display: the video's name in error messages (default: the file name).
    Raises:
        VideoError: the file cannot be decoded, decodes to zero frames, or what was decoded contradicts the
            container (:func:`..io.video.verify_decoding`: truncated, impossible timing).
    """
    t0 = time.perf_counter()
    probe = probe_video(video, display)
    frames: list[FramePoses] = []
    times: list[float] = []
    latencies: list[float] = []
    infer = 0.0
    with backend.open_video(width=probe.width_px, height=probe.height_px, fps=probe.fps) as session:
        batch: list[np.ndarray] = []
        # decoding runs ahead in its own thread: keep at least two batches in flight so neither side waits
        for fr in iter_frames(video, prefetch=max(prefetch, 2 * session.batch_size), display=display):
            batch.append(fr.rgb)
            times.append(fr.time_s)
            if len(batch) >= session.batch_size:
                ti = time.perf_counter()
                frames.extend(session.process(batch))
                dt = time.perf_counter() - ti
                infer += dt
                latencies += [1000.0 * dt / len(batch)] * len(batch)
                batch = []
        if batch:
            ti = time.perf_counter()
            frames.extend(session.process(batch))
            dt = time.perf_counter() - ti
            infer += dt
            latencies += [1000.0 * dt / len(batch)] * len(batch)
    name = display or Path(video).name
    if not frames:
        raise VideoError(f"The video '{name}' decoded to zero frames. Export it again and re-deliver it.")
    missing = verify_decoding(probe, np.asarray(times), name)
    t_loop = time.perf_counter()
    boxes = [f.boxes for f in frames]
    tracks = join_fragments(
        boxes,
        track_boxes(boxes, tracking),
        np.asarray(times),
        tracking,
        all_persons_detected=backend.detects_all_persons,
    )
    subject = select_subject(
        boxes, tracks, policy=tracking.subject_policy, image_size=(probe.width_px, probe.height_px)
    )
    table = build_poses_table(frames, tracks, subject, np.asarray(times), backend.skeleton.joints)
    t_end = time.perf_counter()
    n_subject = int(sum(bool(np.any(t == subject)) for t in tracks)) if subject is not None else 0
    return PoseRun(
        table=table,
        n_frames=len(frames),
        frames_with_person=int(sum(f.n_persons > 0 for f in frames)),
        frames_with_subject=n_subject,
        n_tracks=int(max((int(t.max()) for t in tracks if len(t)), default=-1) + 1),
        subject_track=subject,
        fps=probe.fps,
        width_px=probe.width_px,
        height_px=probe.height_px,
        frames_announced=probe.frame_count,
        frames_missing=missing,
        timings={
            "decode_and_inference_s": t_loop - t0,
            "inference_s": infer,
            "tracking_and_table_s": t_end - t_loop,
        },
        frame_latencies_ms=latencies,
    )


def build_poses_table(
    frames: list[FramePoses],
    tracks: list[np.ndarray],
    subject: int | None,
    times: np.ndarray,
    joints: tuple[str, ...],
) -> pl.DataFrame:
    """Assemble the ``poses`` table (see module docstring) from per-frame detections and track ids."""
    n_rows = sum(max(f.n_persons, 1) for f in frames)
    nj = len(joints)
    frame = np.empty(n_rows, np.int32)
    t_s = np.empty(n_rows, np.float64)
    track = np.full(n_rows, -1, np.int32)
    n_persons = np.empty(n_rows, np.int16)
    box = np.full((n_rows, 5), np.nan, np.float32)
    block = np.full((n_rows, nj, 6), np.nan, np.float64)
    r = 0
    for i, (f, ids) in enumerate(zip(frames, tracks, strict=True)):
        k = max(f.n_persons, 1)
        frame[r : r + k] = i
        t_s[r : r + k] = times[i]
        n_persons[r : r + k] = f.n_persons
        if f.n_persons:
            track[r : r + k] = ids
            box[r : r + k] = f.boxes
            block[r : r + k, :, 0:3] = f.poses3d
            block[r : r + k, :, 3:5] = f.poses2d
            block[r : r + k, :, 5] = f.confidence
        r += k
    has = track >= 0
    cols: dict[str, pl.Series] = {
        "frame": pl.Series("frame", frame, pl.Int32),
        "time_s": pl.Series("time_s", t_s, pl.Float64),
        "track": pl.Series("track", np.where(has, track, 0), pl.Int32).set(pl.Series(~has), None),
        "is_subject": pl.Series("is_subject", has & (track == (subject if subject is not None else -2))),
        "n_persons": pl.Series("n_persons", n_persons, pl.Int16),
    }
    for c, name in enumerate(("box_x_px", "box_y_px", "box_w_px", "box_h_px", "box_conf")):
        cols[name] = pl.Series(name, box[:, c], pl.Float32, nan_to_null=True)
    flat = block.reshape(n_rows, nj * 6)
    for c, name in enumerate(joint_columns(joints)):
        dtype = pl.Float64 if name.endswith("_mm") else pl.Float32
        cols[name] = pl.Series(name, flat[:, c], dtype, nan_to_null=True)
    return pl.DataFrame(cols)
