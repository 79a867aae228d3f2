"""Pictures of what the pipeline saw: a review video (the recording with the skeletons and the task's events drawn)
and a key-frame contact sheet (one frame per event).

Drawing is OpenCV; the video is H.264 (libx264, ``yuv420p``, ``+faststart``) written with PyAV, so browsers play it.
Frames are decoded, scaled and made upright by FFmpeg (:func:`decode_scaled`) — the frames the pose model saw, in the
same order — so the 2D joints (px) of the ``poses`` table land where they belong.  The subject is drawn in colour (left
side blue, right side red, midline white) with its track id; every other tracked person thin and grey.  Each event is
shown as a label (``HS L`` = left heel strike) for :data:`EVENT_HOLD_S` after it happens, or until the same side's next
event; each side has its own row, so labels never overlap.  The output is written atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from neuropose_assets.core.io.atomic import atomic_path
from neuropose_assets.core.io.video import probe_video
from neuropose_assets.core.kinematics.skeletons import CLINICAL_EDGES, CLINICAL_JOINTS, Skeleton

#: how an event is written on the picture (side appended as L / R)
EVENT_LABELS = {
    "heel_strike": "HS",
    "toe_off": "TO",
    "seat_off": "seat-off",
    "standing_reached": "standing",
    "standing_peak": "highest",
    "sit_start": "sit start",
    "seated": "seated",
    "squat_start": "squat start",
    "squat_bottom": "bottom",
    "squat_end": "squat end",
    "raise_start": "raise",
    "arm_up": "arm up",
    "arm_at_top": "top",
    "arm_down": "arm down",
    "arm_lowered": "lowered",
    "turn_start": "turn start",
    "turn_end": "turn end",
    "start": "start",
    "peak": "peak",
    "end": "end",
}
EVENT_HOLD_S = 0.5
#: RGB colours (frames are drawn in RGB): the subject's left side, right side, midline; other persons
LEFT, RIGHT, MID, OTHER = (40, 140, 230), (230, 50, 50), (235, 235, 235), (150, 150, 150)
_CI = {j: i for i, j in enumerate(CLINICAL_JOINTS)}


def event_label(event: str, side: str | None) -> str:
    """``heel_strike``, ``left`` → ``HS L``."""
    label = EVENT_LABELS.get(event, event)
    return f"{label} {side[0].upper()}" if side else label


def persons_by_frame(poses: pl.DataFrame, skeleton: Skeleton) -> dict[int, list[tuple[int, bool, np.ndarray]]]:
    """Per frame, every detected person as ``(track, is_subject, uv)`` with ``uv`` ``(C, 2)`` the clinical joints in
    the image, px (NaN where a joint is missing)."""
    rows = poses.filter(pl.col("track").is_not_null())
    cols = [f"{j}_{a}_px" for j in skeleton.joints for a in "uv"]
    native = rows.select(cols).to_numpy().astype(np.float64).reshape(rows.height, len(skeleton.joints), 2)
    clinical = skeleton.to_clinical(native)
    out: dict[int, list] = {}
    for (frame, track, subject), uv in zip(
        rows.select("frame", "track", "is_subject").iter_rows(), clinical, strict=True
    ):
        out.setdefault(int(frame), []).append((int(track), bool(subject), uv))
    return out


def _edge_colour(a: str, b: str) -> tuple[int, int, int]:
    if a.startswith("left") or b.startswith("left"):
        return LEFT
    if a.startswith("right") or b.startswith("right"):
        return RIGHT
    return MID


def draw_person(img: np.ndarray, uv: np.ndarray, scale: float, subject: bool) -> None:
    """Draw one stick figure onto ``img`` (RGB, modified in place); ``uv`` px in the original frame, ``scale`` the
    factor from the original frame to ``img``."""
    p = uv * scale
    width = max(2, int(round(img.shape[1] / 320))) if subject else 1
    for a, b in CLINICAL_EDGES:
        pa, pb = p[_CI[a]], p[_CI[b]]
        if np.isfinite(pa).all() and np.isfinite(pb).all():
            cv2.line(
                img,
                tuple(map(int, pa)),
                tuple(map(int, pb)),
                _edge_colour(a, b) if subject else OTHER,
                width,
                cv2.LINE_AA,
            )
    if subject:
        for q in p[np.isfinite(p).all(axis=1)]:
            cv2.circle(img, tuple(map(int, q)), width + 1, MID, -1, cv2.LINE_AA)


def _text(img: np.ndarray, text: str, org: tuple[int, int], size: float, colour=(255, 255, 255)) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), max(2, int(4 * size)), cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, colour, max(1, int(1.5 * size)), cv2.LINE_AA)


def _text_box(text: str, org: tuple[int, int], size: float) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` px that :func:`_text` covers (outline included)."""
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, max(2, int(4 * size)))
    return org[0], org[1] - h, org[0] + w, org[1] + base


#: the row of the picture's top-left block each side's event label is written in (below the time)
EVENT_ROWS = {"left": 1, "right": 2, None: 3}
#: the colour of an event label per side (RGB): the skeleton's side colours, lightened to read on any background
EVENT_TEXT = {"left": (120, 190, 255), "right": (255, 120, 120), None: (255, 230, 80)}


def active_events(events: list[tuple[str, str | None, int, float]], frame: int, time_s: float) -> dict:
    """Per side (``left``, ``right``, ``None``), the label of that side's latest event at or before ``frame`` if it
    happened less than :data:`EVENT_HOLD_S` before ``time_s``: at most one label per side, so that a toe-off and the
    same foot's next heel strike never show at once.  ``events``: ``(event, side, frame, time_s)`` by frame."""
    latest: dict = {}
    for event, side, f, t in events:
        if f <= frame:
            latest[side] = (event, t)
    return {side: event_label(e, side) for side, (e, t) in latest.items() if time_s - t < EVENT_HOLD_S}


def annotate(img: np.ndarray, persons, scale: float, time_s: float, labels: dict) -> None:
    """Draw the persons, the frame time, the subject's track id and the active event labels (:func:`active_events`:
    side → label) onto ``img``.  Time and events are a block at the top left, one fixed row per side
    (:data:`EVENT_ROWS`); the subject's label is moved below that block where it would cross it, so no two labels
    overlap."""
    size = max(0.7, img.shape[1] / 900)
    rows = [(0, f"t = {time_s:6.2f} s", (255, 255, 255))] + [
        (EVENT_ROWS[side], label, EVENT_TEXT[side]) for side, label in labels.items()
    ]
    block = (0, 0, 0, 0)
    for row, text, colour in rows:
        org = (10, int((30 + 38 * row) * size) + 5)
        _text(img, text, org, size, colour)
        x0, y0, x1, y1 = _text_box(text, org, size)
        block = (0, 0, max(block[2], x1), max(block[3], y1))
    block = (0, 0, max(block[2], _text_box("standing R", (10, 0), size)[2]), int((30 + 38 * 3) * size) + 5 + 8)
    for track, subject, uv in sorted(persons, key=lambda p: p[1]):  # the subject last, on top
        draw_person(img, uv, scale, subject)
        if subject:
            head = uv[_CI["head"]] * scale
            if np.isfinite(head).all():
                small = img.shape[1] / 1400
                org = (int(head[0]) + 8, max(14, int(head[1]) - 10))
                x0, y0, x1, y1 = _text_box(f"subject #{track}", org, small)
                if x0 < block[2] and y0 < block[3]:  # would cross the time / event block
                    org = (org[0], block[3] + (y1 - y0))
                _text(img, f"subject #{track}", org, small)


@dataclass
class RenderResult:
    """``frames`` written, ``render_s`` wall time, ``frames_per_s``, ``width_px`` × ``height_px`` of the review
    video, and ``key_frames``: ``(label, time_s, RGB image)`` for the contact sheet."""

    frames: int
    render_s: float
    width_px: int
    height_px: int
    key_frames: list[tuple[str, float, np.ndarray]] = field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        """Render speed, frames/s (``frames / render_s``; NaN when no time was measured)."""
        return self.frames / self.render_s if self.render_s > 0 else float("nan")


def render_review_video(
    video: str | Path,
    poses: pl.DataFrame,
    events: pl.DataFrame,
    out: str | Path,
    *,
    skeleton: Skeleton,
    max_side_px: int = 960,
    crf: int = 23,
    key_frame_px: int = 480,
    max_key_frames: int = 24,
) -> RenderResult:
    """Write the review video of ``video`` to ``out`` (MP4, H.264) and collect the key frames of the events.

    Args:
        poses, events: the video's ``poses`` and ``events`` tables.
        skeleton: the native skeleton of ``poses``.
        max_side_px: the longer side of the review video, px (downscaled, never upscaled; even dimensions).
        crf: x264 constant rate factor (lower = better quality, larger file).
        key_frame_px: the longer side of each contact-sheet frame, px; max_key_frames: at most this many events
            pictured.
    Raises:
        VideoError: the video cannot be decoded.
    """
    import av

    t0 = time.perf_counter()
    probe = probe_video(video)
    scale = min(1.0, max_side_px / max(probe.width_px, probe.height_px))
    w, h = (int(round(probe.width_px * scale)) // 2 * 2, int(round(probe.height_px * scale)) // 2 * 2)
    times = dict(zip(*poses.select("frame", "time_s").unique("frame").sort("frame").to_numpy().T, strict=True))
    persons = persons_by_frame(poses, skeleton)
    ev = events.sort("frame").select("event", "side", "frame", "time_s").rows()
    wanted = {f: event_label(e, s) for e, s, f, _ in ev[:max_key_frames]}
    result = RenderResult(0, 0.0, w, h)
    with atomic_path(out) as tmp:
        container = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
        stream = container.add_stream("libx264", rate=int(round(probe.fps)) or 30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for index, img in enumerate(decode_scaled(video, w, h, probe.rotation_deg)):
            t = float(times.get(index, index / probe.fps))
            annotate(img, persons.get(index, []), w / probe.width_px, t, active_events(ev, index, t))
            if index in wanted:
                k = min(1.0, key_frame_px / max(w, h))
                result.key_frames.append(
                    (wanted[index], t, cv2.resize(img, (int(w * k), int(h * k)), interpolation=cv2.INTER_AREA))
                )
            yuv = cv2.cvtColor(img, cv2.COLOR_RGB2YUV_I420)  # faster than letting FFmpeg convert
            frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
            result.frames += 1
        for packet in stream.encode():
            container.mux(packet)
        container.close()
    result.render_s = time.perf_counter() - t0
    return result


def decode_scaled(video: str | Path, width: int, height: int, rotation_deg: int, prefetch: int = 8):
    """Frames of ``video`` as upright RGB ``(height, width, 3)`` uint8, decoded, scaled and converted by FFmpeg in
    one step (PyAV, frame-threaded) in a background thread — about 1.5× faster than decoding at full size with
    OpenCV and resizing.  ``width`` × ``height`` is the upright size; ``rotation_deg`` the display rotation that
    :func:`..io.video.probe_video` reported (the same frames, in the same order, as :func:`..io.video.iter_frames`)."""
    import queue
    import threading

    import av

    stored_w, stored_h = (height, width) if rotation_deg in (90, 270) else (width, height)
    k = {90: 3, 180: 2, 270: 1}.get(rotation_deg, 0)  # np.rot90 turns counter-clockwise; the metadata is clockwise
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    end = object()
    stop = threading.Event()

    def worker() -> None:
        try:
            with av.open(str(video)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    if stop.is_set():
                        break
                    img = frame.reformat(width=stored_w, height=stored_h, format="rgb24").to_ndarray()
                    q.put(np.ascontiguousarray(np.rot90(img, k)) if k else img)
        except BaseException as exc:  # pragma: no cover - surfaced to the consumer
            q.put(exc)
        finally:
            q.put(end)

    thread = threading.Thread(target=worker, name="review-decode", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def contact_sheet(key_frames: list[tuple[str, float, np.ndarray]], width_px: int = 1500) -> np.ndarray | None:
    """One image (RGB) of the key frames in a grid at most ``width_px`` wide (as many columns as fit), each captioned
    above with its event and time; ``None`` if there are none."""
    if not key_frames:
        return None
    h = max(img.shape[0] for _, _, img in key_frames)
    w = max(img.shape[1] for _, _, img in key_frames) + 6  # a white gap between frames
    columns = max(1, min(len(key_frames), width_px // w))
    size = 0.7
    cap = 56  # two caption lines: the event, its time
    rows = (len(key_frames) + columns - 1) // columns
    sheet = np.full((rows * (h + cap), columns * w, 3), 255, np.uint8)
    for k, (label, t, img) in enumerate(key_frames):
        r, c = divmod(k, columns)
        y, x = r * (h + cap), c * w
        sheet[y + cap : y + cap + img.shape[0], x : x + img.shape[1]] = img
        for line, text in enumerate((label, f"{t:.2f} s")):
            cv2.putText(
                sheet, text, (x + 4, y + 22 + 25 * line), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 2, cv2.LINE_AA
            )
    return sheet


def jpeg_bytes(img_rgb: np.ndarray, max_width_px: int | None = None, quality: int = 80) -> bytes:
    """JPEG encoding of an RGB image (photographs: a fraction of a PNG's size), optionally downscaled."""
    if max_width_px is not None and img_rgb.shape[1] > max_width_px:
        k = max_width_px / img_rgb.shape[1]
        img_rgb = cv2.resize(img_rgb, (max_width_px, int(img_rgb.shape[0] * k)), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()
