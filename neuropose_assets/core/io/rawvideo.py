"""Register a delivered video: content hash, probe, immutable content-addressed copy.

The copy (not a hard link: a hard link shares the inode, so an in-place edit of the intake file would change the
"immutable" copy too) is written to a temporary file while hashing, probed, and only then renamed to
``cas/sha256/<ab>/<sha256><ext>`` and made read-only.  A file that is not a usable video never enters the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from neuropose_assets.core.io.atomic import CHUNK, atomic_path, atomic_write_bytes, sweep_orphans, temp_name
from neuropose_assets.core.io.storage import Layout, is_marker_file
from neuropose_assets.core.io.video import VideoError, VideoProbe, probe_video


@dataclass(frozen=True)
class StoredVideo:
    """``sha256`` of the content, ``size_bytes``, the read-only ``stored_path`` and the ``probe`` of that copy."""

    sha256: str
    size_bytes: int
    stored_path: Path
    probe: VideoProbe


def probe_source(path: Path, name: str, suffix: str) -> VideoProbe:
    """Probe a recording by its delivered extension ``suffix``: a video (:func:`.video.probe_video`) or a marker file
    (:func:`..interop.mocap.probe_markers`: the marker rate as ``fps``, no image size, ``codec`` = ``trc`` / ``c3d``).

    Raises:
        VideoError: not a usable video or marker file (the message says what to do).
    """
    if is_marker_file(suffix):
        from neuropose_assets.core.interop.mocap import probe_markers

        return probe_markers(path, name, suffix)
    return probe_video(path, name)


def store_video(source: str | Path, layout: Layout, display: str | None = None) -> StoredVideo:
    """Hash, probe and store ``source`` in the content-addressed store of ``layout``.

    Args:
        display: the video's name in messages (default: the file name; pass the pseudonymous key to hide it).
    Raises:
        VideoError: the source is missing, empty or not a usable video (nothing is stored).
        OSError: the copy itself failed (disk full, permissions); the staging file is removed.
    """
    source = Path(source)
    name = display or source.name
    if not source.exists():
        raise VideoError(
            f"The video '{name}' is no longer where it was delivered: it was moved or deleted after it was "
            "registered. Put it back (or deliver it again) and re-run."
        )
    if source.stat().st_size == 0:
        probe_video(source, name)  # raises the clinician-facing "empty file" error
    layout.cas.mkdir(parents=True, exist_ok=True)
    sweep_orphans(layout.cas)  # staging copies of killed runs
    h = hashlib.sha256()
    size = 0
    staging = layout.cas / temp_name("incoming")  # never the source's name: it may be too long, or identifying
    try:
        with open(source, "rb") as src, open(staging, "wb") as dst:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        probe = probe_source(staging, name, source.suffix)
        target = layout.cas_file(digest, source.suffix or ".video")
        if not target.exists():
            with atomic_path(target) as tmp:
                os.replace(staging, tmp)
            os.chmod(target, stat.S_IMODE(target.stat().st_mode) & 0o444)  # read-only; keeps an owner-only umask
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    return StoredVideo(digest, size, target, probe)


def claims_path(layout: Layout, sha256: str) -> Path:
    """Where the partitions holding the content ``sha256`` are listed: ``cas/sha256/<ab>/<sha256>.partitions``."""
    return layout.cas / sha256[:2] / f"{sha256}.partitions"


def claimants(layout: Layout, sha256: str) -> set[str]:
    """The partitions that currently hold the content ``sha256``."""
    path = claims_path(layout, sha256)
    return set(path.read_text().split()) if path.exists() else set()


def claim_content(layout: Layout, sha256: str, partition: str, previous_sha256: str | None = None) -> list[str]:
    """Record that ``partition`` holds the content ``sha256`` (withdrawing its claim on ``previous_sha256``, the
    content it held before a re-delivery); return the *other* partitions holding ``sha256``.

    The claim files are updated under a file lock and rewritten atomically, so concurrent runs neither lose nor
    duplicate claims.  The same recording delivered under two names is thereby detectable, and a replaced video
    no longer counts as a copy of its old content.
    """
    from filelock import FileLock

    path = claims_path(layout, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(layout.cas / ".claims.lock")):
        if previous_sha256 and previous_sha256 != sha256:
            old = claimants(layout, previous_sha256)
            if partition in old:
                atomic_write_bytes(
                    claims_path(layout, previous_sha256), "".join(f"{k}\n" for k in sorted(old - {partition})).encode()
                )
        keys = claimants(layout, sha256)
        if partition not in keys:
            atomic_write_bytes(path, "".join(f"{k}\n" for k in sorted(keys | {partition})).encode())
    return sorted(keys - {partition})
