"""Video probing and decoding (OpenCV / FFmpeg backend).

Errors are :class:`VideoError` with a message written for the clinician who recorded the video: what is wrong
with the file and what to do about it.  Rotation metadata (the display matrix phones write) is applied here: OpenCV
reports it (``CAP_PROP_ORIENTATION_META``, degrees clockwise) but does not reliably rotate the frames itself, so we
turn its automatic rotation off and rotate every decoded frame, which makes frames upright and sizes consistent.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from neuropose_assets.core.io.errors import VideoError

__all__ = ["VideoError", "VideoProbe", "DecodedFrame", "probe_video", "iter_frames", "verify_decoding"]


@dataclass(frozen=True)
class VideoProbe:
    """Container facts about a video.

    Attributes:
        fps: nominal frame rate (frames/s) from the container.
        frame_count: frame count declared by the container (the ``poses`` stage records the decoded count).
        duration_s: ``frame_count / fps`` (s).
        width_px, height_px: size of the *decoded, upright* frame (rotation applied), px; ``None`` for marker
            files (no image).
        rotation_deg: rotation stored in the container metadata (0, 90, 180, 270).
        codec: FourCC of the video stream (e.g. ``"h264"``).
    """

    fps: float
    frame_count: int
    duration_s: float
    width_px: int | None
    height_px: int | None
    rotation_deg: int
    codec: str

    def as_dict(self) -> dict:
        """Every field as a dict (the ``raw_video`` asset's metadata)."""
        return asdict(self)


#: leading bytes of still-image formats that FFmpeg would otherwise open as a one-frame "video"
STILL_IMAGE_SIGNATURES = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"\x00\x00\x00\x0cjP  ": "JPEG 2000",
}
#: ISO base media brands of still images (HEIC / AVIF photos from phones), at bytes 8–12 after ``ftyp``
STILL_IMAGE_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}


def still_image_format(head: bytes) -> str | None:
    """The still-image format whose signature starts ``head`` (the file's first 16 bytes), or ``None``."""
    for magic, name in STILL_IMAGE_SIGNATURES.items():
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp" and head[8:12] in STILL_IMAGE_BRANDS:
        return STILL_IMAGE_BRANDS[head[8:12]]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def _not_a_video(name: str, what: str) -> VideoError:
    return VideoError(
        f"The file '{name}' is {what}, not a video: a movement can only be measured from a recording. "
        "Deliver the video itself (MP4, MOV, AVI, MKV, WebM)."
    )


def _open(path: Path, display: str | None = None) -> cv2.VideoCapture:
    name = display or path.name
    if not path.exists():
        raise VideoError(f"The video '{name}' does not exist any more. Copy it into the intake folder again.")
    if path.stat().st_size == 0:
        raise VideoError(
            f"The file '{name}' is empty (0 bytes): the copy from the camera or phone probably failed. "
            "Copy the original recording again."
        )
    with open(path, "rb") as f:
        image = still_image_format(f.read(16))
    if image is not None:
        raise _not_a_video(name, f"a {image} picture")
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)  # we rotate ourselves (see module docstring)
    if not cap.isOpened():
        cap.release()
        raise VideoError(
            f"The file '{name}' could not be opened as a video: it is damaged, incomplete, or not a video despite "
            "its extension. Check that it plays on a computer; if it does, export it again as MP4 (H.264) and "
            "drop the new file into the intake folder."
        )
    return cap


#: frame rates a camera can plausibly record, frames/s (phones: 24–240 slow motion; lab high-speed cameras: ≤ 1000)
MIN_FPS, MAX_FPS = 1.0, 1000.0
#: a decoded frame count below this fraction of the container's claim means the file is truncated (ERROR)
MIN_DECODED_FRACTION = 0.9
#: frames the container announces that may be missing without a warning (an estimated count may be off by one);
#: more missing frames are reported with their count (the ``decoding_complete`` check: WARN)
MISSING_FRAMES_TOLERANCE = 1
#: no two consecutive frames may be further apart than this, s
MAX_FRAME_GAP_S = 10.0


def verify_decoding(probe: VideoProbe, times: np.ndarray, display: str) -> int:
    """Check what was decoded against what the container claims.

    Args:
        probe: the container's claims (:func:`probe_video`).
        times: ``(F,)`` presentation times of the decoded frames, s.
        display: the video's name for messages.
    Returns:
        The number of announced frames that were not decoded (0 when all were, or when more were decoded); more than
        :data:`MISSING_FRAMES_TOLERANCE` is worth a warning (:func:`..analysis.quality.decoding_loss`).
    Raises:
        VideoError: a single frame (a still picture, not a video); fewer than :data:`MIN_DECODED_FRACTION` of the
            claimed frames decoded (truncated file); a gap of more than :data:`MAX_FRAME_GAP_S` between frames; or a
            decoded span far beyond the claimed duration.
    """
    n = len(times)
    claimed = probe.frame_count
    if n == 1:
        raise _not_a_video(display, "a single picture")
    if claimed > 0 and n < MIN_DECODED_FRACTION * claimed and claimed - n >= 3:
        raise VideoError(
            f"Only {n} of the {claimed} frames that '{display}' announces could be decoded: the file is truncated "
            "(an interrupted copy or recording). Analysing the rest would silently miss "
            f"{100 * (1 - n / claimed):.0f} % of the recording. Copy the complete original again."
        )
    if n > 1:
        gaps = np.diff(times)
        if gaps.max() > MAX_FRAME_GAP_S:
            at = int(np.argmax(gaps))
            raise VideoError(
                f"The timestamps of '{display}' jump by {gaps.max():.0f} s between frames {at} and {at + 1}: "
                "its timing is damaged, so durations and speeds would be wrong. Export the original recording again."
            )
    span = float(times[-1] - times[0]) if n else 0.0
    if probe.duration_s > 0 and span > 2 * probe.duration_s + 1.0:
        raise VideoError(
            f"The decoded frames of '{display}' span {span:.0f} s although the file announces {probe.duration_s:.1f} "
            "s: its timing is damaged. Export the original recording again."
        )
    return max(claimed - n, 0)


_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def _rotation(cap: cv2.VideoCapture) -> int:
    return int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360


def _upright(frame: np.ndarray, rotation: int) -> np.ndarray:
    code = _ROTATE.get(rotation)
    return frame if code is None else cv2.rotate(frame, code)


def _fourcc(cap: cv2.VideoCapture) -> str:
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    chars = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    return chars.strip("\x00 ").lower() or "unknown"


def probe_video(path: str | Path, display: str | None = None) -> VideoProbe:
    """Read container facts and decode the first frame to prove the file is usable.

    Args:
        display: the name to use in error messages (default: the file name; a pseudonymous key hides it).
    Raises:
        VideoError: missing, empty, unreadable, without a video stream, first frame not decodable, or a frame rate
            outside :data:`MIN_FPS`–:data:`MAX_FPS`.
    """
    path = Path(path)
    cap = _open(path, display)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        rotation = _rotation(cap)
        codec = _fourcc(cap)
        ok, frame = cap.read()
    finally:
        cap.release()
    if not ok or frame is None:
        raise VideoError(
            f"The file '{display or path.name}' contains no picture that can be decoded "
            "(it may be audio-only, truncated or "
            "use an unsupported codec). Export the recording again as MP4 (H.264) and drop it into the intake folder."
        )
    if fps <= 0 or not np.isfinite(fps):
        raise VideoError(
            f"The video '{display or path.name}' does not state its frame rate, so times in seconds cannot be "
            "computed. Export it again as MP4 (H.264) with a constant frame rate."
        )
    if not MIN_FPS <= fps <= MAX_FPS:
        raise VideoError(
            f"The video '{display or path.name}' claims {fps:g} frames per second, which no camera records "
            f"(plausible: {MIN_FPS:g}–{MAX_FPS:g}): its header is damaged, so no time in seconds could be trusted. "
            "Export the original recording again as MP4 (H.264)."
        )
    h, w = _upright(frame, rotation).shape[:2]
    return VideoProbe(
        fps=fps,
        frame_count=max(n, 0),
        duration_s=max(n, 0) / fps,
        width_px=int(w),
        height_px=int(h),
        rotation_deg=rotation,
        codec=codec,
    )


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: ``index`` (0-based), ``time_s`` (presentation time, s), ``rgb`` uint8 ``(H, W, 3)``."""

    index: int
    time_s: float
    rgb: np.ndarray


_END = object()


def iter_frames(path: str | Path, *, prefetch: int = 8, display: str | None = None) -> Iterator[DecodedFrame]:
    """Decode a video to RGB frames in order, in a background thread so decoding overlaps with inference.

    ``time_s`` comes from the container's presentation timestamps (``CAP_PROP_POS_MSEC``), so variable frame rate
    videos get true times; it falls back to ``index / fps`` when the container gives none.

    Args:
        path: video file.
        prefetch: decoded frames buffered ahead of the consumer (memory: prefetch × H × W × 3 bytes).
        display: the video's name in error messages (default: the file name).

    Raises:
        VideoError: as :func:`probe_video`; also if decoding stops with an error mid-file.
    """
    path = Path(path)
    cap = _open(path, display)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    rotation = _rotation(cap)
    q: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()

    def worker() -> None:
        i = 0
        last_t = -1.0
        try:
            while not stop.is_set():
                ok, bgr = cap.read()
                if not ok or bgr is None:
                    break
                t_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                t = t_ms / 1000.0 if t_ms and t_ms > 0 else (i / fps if fps > 0 else float(i))
                if i > 0 and t <= last_t:  # some containers report no or repeated stamps
                    t = last_t + (1.0 / fps if fps > 0 else 1.0)
                last_t = t
                q.put(DecodedFrame(i, t, cv2.cvtColor(_upright(bgr, rotation), cv2.COLOR_BGR2RGB)))
                i += 1
        except BaseException as exc:  # pragma: no cover - surfaced to the consumer
            q.put(exc)
        finally:
            cap.release()
            q.put(_END)

    thread = threading.Thread(target=worker, name="decode", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise VideoError(
                    f"Decoding '{display or path.name}' failed part-way ({item}). Export the video again."
                ) from item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a worker waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
