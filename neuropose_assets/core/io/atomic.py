"""Atomic file writes and content hashing.

A reader (a notebook, another run) never sees a half-written file where it looks: data is written to a hidden
temporary file in the same directory, flushed to disk, then renamed over the target with :func:`os.replace`
(atomic on POSIX within one filesystem).  Temporary names start with ``.`` and end with ``.partial`` so globs such
as ``*.parquet`` never match them.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

CHUNK = 8 << 20  # 8 MiB


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, streamed in 8 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def fsync_dir(directory: Path) -> None:
    """Flush ``directory``'s entries to disk, so that a file renamed or created in it survives a crash; errors (a
    file system that cannot sync a directory) are ignored."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_PARTIAL = re.compile(r"^\..*\.(\d+)\.[0-9a-f]{8}\.partial$")


def temp_name(stem: str) -> str:
    """A hidden temporary file name ``.<stem>.<pid>.<8 hex>.partial`` (the pid lets :func:`sweep_orphans` tell a
    crashed writer's leftovers from a write in progress)."""
    return f".{stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def sweep_orphans(
    directory: str | Path, *, recursive: bool = False, min_age_s: float = 600.0, max_age_s: float = 86_400.0
) -> list[Path]:
    """Remove temporary files (:func:`temp_name`) that a killed process left behind: older than ``min_age_s`` and
    written by a process that no longer exists on this host, or older than ``max_age_s`` whatever their pid says.

    Returns:
        the removed paths.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    now = time.time()
    removed = []
    for p in directory.rglob(".*.partial") if recursive else directory.glob(".*.partial"):
        m = _PARTIAL.match(p.name)
        if not m:
            continue
        with contextlib.suppress(FileNotFoundError):
            age = now - p.lstat().st_mtime
            if age > max_age_s or (age > min_age_s and not _alive(int(m.group(1)))):
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is fsynced and renamed onto ``target``.

    On any exception the temporary file is removed and ``target`` is left as it was.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / temp_name(target.name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
