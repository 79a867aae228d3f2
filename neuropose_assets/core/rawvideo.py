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

from neuropose_assets.core.atomic import CHUNK, atomic_path, sweep_orphans, temp_name
from neuropose_assets.core.storage import Layout
from neuropose_assets.core.video import VideoError, VideoProbe, probe_video


@dataclass(frozen=True)
class StoredVideo:
    """``sha256`` of the content, ``size_bytes``, the read-only ``stored_path`` and the ``probe`` of that copy."""

    sha256: str
    size_bytes: int
    stored_path: Path
    probe: VideoProbe


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
        probe = probe_video(staging, name)
        target = layout.cas_file(digest, source.suffix or ".video")
        if not target.exists():
            with atomic_path(target) as tmp:
                os.replace(staging, tmp)
            os.chmod(target, stat.S_IMODE(target.stat().st_mode) & 0o444)  # read-only; keeps an owner-only umask
    finally:
        with contextlib.suppress(FileNotFoundError):
            staging.unlink()
    return StoredVideo(digest, size, target, probe)


def claim_content(layout: Layout, sha256: str, partition: str) -> list[str]:
    """Record that ``partition`` holds the content ``sha256``; return the *other* partitions holding it.

    Claims are lines appended (``O_APPEND``, one small write each, so concurrent runs do not interleave) to
    ``cas/sha256/<ab>/<sha256>.partitions``.  The same recording delivered under two names is thereby detectable.
    """
    path = layout.cas / sha256[:2] / f"{sha256}.partitions"
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = set(path.read_text().split()) if path.exists() else set()
    if partition not in keys:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, f"{partition}\n".encode())
        finally:
            os.close(fd)
    return sorted(keys - {partition})
