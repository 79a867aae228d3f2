"""Test media with known faults, made with the ffmpeg binary shipped in the ``imageio-ffmpeg`` wheel."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True, capture_output=True)


def rotated_phone_video(src: Path, out: Path) -> Path:
    """Frames stored landscape (``src`` turned 90° clockwise, half size) with rotation metadata that makes players
    show them upright — what phones write.  Decoded upright it is ``src``'s portrait orientation."""
    landscape = out.with_name(f".{out.stem}.landscape.mp4")
    ffmpeg(
        "-i",
        str(src),
        "-vf",
        "scale=iw/2:ih/2,transpose=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-an",
        str(landscape),
    )
    ffmpeg("-display_rotation:v:0", "90", "-i", str(landscape), "-c", "copy", str(out))  # display matrix, as phones
    landscape.unlink()
    return out


def variable_frame_rate_video(src: Path, out: Path) -> Path:
    """``src`` (half size) with irregular frame intervals: every third frame is held twice as long."""
    ffmpeg(
        "-i",
        str(src),
        "-vf",
        "scale=iw/2:ih/2,setpts='N/(60*TB)+floor(N/3)/(60*TB)'",
        "-fps_mode",
        "vfr",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-an",
        str(out),
    )
    return out


def uhd_video(src: Path, out: Path, frames: int = 12) -> Path:
    """The first ``frames`` frames of ``src`` scaled to 2160×3840 (4K, portrait)."""
    ffmpeg(
        "-i",
        str(src),
        "-frames:v",
        str(frames),
        "-vf",
        "scale=2160:3840",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-an",
        str(out),
    )
    return out


def audio_only(out: Path) -> Path:
    """One second of a 440 Hz tone in an MP4 container, no video stream."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(out))
    return out


def truncated(src: Path, out: Path, fraction: float = 0.4) -> Path:
    data = src.read_bytes()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def truncated_index_first(src: Path, out: Path, fraction: float = 0.4) -> Path:
    """``src`` re-muxed with its index (moov) at the front, then cut: the header still announces every frame, the
    decoder finds only the first part — a copy interrupted after a "fast start" export."""
    whole = out.with_name(f".{out.stem}.whole.mp4")
    ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    whole.unlink()
    out.write_bytes(data[: int(len(data) * fraction)])
    return out


def long_video(src: Path, out: Path, seconds: float, vf: str | None = None) -> Path:
    """``src`` played forwards then backwards, repeated to ``seconds`` (H.264, no audio), optionally filtered by ``vf``
    (e.g. ``scale=1920:1080``).  The motion stays continuous — a plain loop would jump back at every repeat and start
    a new person track each time — so one subject is tracked throughout (benchmarks of long recordings)."""
    there_and_back = out.with_name(out.stem + "_palindrome.mkv")
    ffmpeg(
        "-i",
        str(src),
        "-filter_complex",
        "[0:v]split[a][b];[b]reverse[r];[a][r]concat=n=2:v=1[v]",
        "-map",
        "[v]",
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "18",
        str(there_and_back),
    )
    ffmpeg(
        "-stream_loop",
        "-1",
        "-i",
        str(there_and_back),
        "-t",
        str(seconds),
        *(["-vf", vf] if vf else []),
        "-an",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "23",
        str(out),
    )
    there_and_back.unlink()
    return out
