"""The intake folder: which files are videos ready to analyse, and which partition key and cohort each gets.

Layout: ``<intake>/<cohort>/<any sub-folders>/<trial>.<ext>``.  The top-level folder is the cohort; deeper folders
(subject, session) are part of the key.  ``<intake>/<cohort>/protocol.yaml`` declares the task of each video
(:mod:`.tasks`).  A file is *ready* when it is a supported video, not hidden or temporary, and
*stable*: its size and modification time are the same as on the previous scan and at least ``stable_seconds`` old
(a copy in progress changes one or the other).  The scan uses ``os.scandir`` only (no hashing, no decoding), so 10,000
files take a fraction of a second — far below Dagster's 60 s sensor-tick limit.

Partition keys are human-readable and stable: the sanitised relative path, e.g. ``stroke/P017/S02/walk 1.mp4`` →
``stroke-p017-s02-walk_1``.  Two files that map to the same key are reported as a collision and neither is processed
(never merged).  With ``pseudonymise=True`` keys are ``<cohort>-<12 hex of an HMAC-SHA-256 of the relative path>``; the
key → path mapping lives only in a private manifest (mode 0600) under the data root, so file names that carry patient
names never reach the Dagster UI, run tags or output paths.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from neuropose_assets.core.atomic import atomic_write_bytes
from neuropose_assets.core.storage import VIDEO_EXTENSIONS, sanitize_key
from neuropose_assets.core.tasks import PROTOCOL_FILE

TEMP_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart", ".!qb", ".swp")


@dataclass(frozen=True)
class IntakeFile:
    """A ready video: ``path`` (absolute), ``rel`` (relative to the intake root), ``cohort``, ``key``,
    ``fingerprint`` (``"<size>:<mtime_ns>"``) and ``size`` in bytes."""

    path: Path
    rel: str
    cohort: str
    key: str
    fingerprint: str
    size: int


@dataclass
class ScanResult:
    """Outcome of one scan.

    Attributes:
        ready: stable videos, one per key (collisions removed).
        pending: fingerprints of files seen for the first time or still changing (``rel -> fingerprint``); pass them
            back as ``previous`` on the next scan.
        unsupported: files with an extension that is not a supported video (relative paths).
        outside_cohort: videos directly in the intake root (no cohort folder).
        collisions: ``key -> [rel, ...]`` where several files map to one key.
        protocols: cohort folder name -> its ``protocol.yaml`` (:mod:`.tasks`).
        n_files: files examined.
    """

    ready: list[IntakeFile] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    outside_cohort: list[str] = field(default_factory=list)
    collisions: dict[str, list[str]] = field(default_factory=dict)
    protocols: dict[str, Path] = field(default_factory=dict)
    n_files: int = 0


def _ignored(name: str) -> bool:
    low = name.lower()
    return name.startswith((".", "~$", "~")) or low.endswith(TEMP_SUFFIXES) or low in {"thumbs.db", "desktop.ini"}


def _walk(root: Path):
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except (FileNotFoundError, PermissionError):
            continue
        with it:
            for e in it:
                if _ignored(e.name):
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(Path(e.path))
                elif e.is_file(follow_symlinks=True):
                    yield e


class Pseudonymiser:
    """Pseudonymous keys: ``<cohort>-<HMAC-SHA-256(secret, rel path)[:12]>``, with a private manifest.

    The secret and the manifest live in ``private_dir`` (created with mode 0700, files 0600).  The same path always
    gets the same key; the manifest lets authorised staff map a key back to the delivered file.
    """

    def __init__(self, private_dir: Path) -> None:
        self.dir = private_dir
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret_file = self.dir / "pseudonym.key"
        if not secret_file.exists():
            atomic_write_bytes(secret_file, secrets.token_bytes(32))
            os.chmod(secret_file, 0o600)
        self._secret = secret_file.read_bytes()
        self.manifest_path = self.dir / "pseudonyms.json"
        self._manifest: dict[str, str] = (
            json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else {}
        )
        self._dirty = False

    def key(self, cohort: str, rel: str) -> str:
        digest = hmac.new(self._secret, rel.encode(), hashlib.sha256).hexdigest()[:12]
        key = f"{cohort}-{digest}"
        if self._manifest.get(key) != rel:
            self._manifest[key] = rel
            self._dirty = True
        return key

    def save(self) -> None:
        if self._dirty:
            atomic_write_bytes(self.manifest_path, json.dumps(self._manifest, indent=1, sort_keys=True).encode())
            os.chmod(self.manifest_path, 0o600)
            self._dirty = False

    def lookup(self, key: str) -> str | None:
        """The relative intake path of a pseudonymous key (``None`` if unknown)."""
        return self._manifest.get(key)


def derive_key(cohort: str, rel: str, pseudonymiser: Pseudonymiser | None = None) -> str:
    """Partition key for the intake file ``rel`` (relative path, '/'-separated) in ``cohort``."""
    if pseudonymiser is not None:
        return pseudonymiser.key(cohort, rel)
    stem = rel.rsplit(".", 1)[0]
    parts = [sanitize_key(p) for p in stem.split("/")[1:]]
    return f"{cohort}-{'-'.join(parts)}"[:128].strip("-_")


def scan_intake(
    root: Path,
    *,
    previous: dict[str, str] | None = None,
    now: float,
    stable_seconds: float = 30.0,
    pseudonymiser: Pseudonymiser | None = None,
) -> ScanResult:
    """Scan ``root`` (see module docstring).

    Args:
        previous: ``rel -> fingerprint`` from the last scan (its ``pending`` plus the fingerprints of ready files).
        now: current time, s since the epoch.
        stable_seconds: minimum age of the last modification, s.
    """
    previous = previous or {}
    res = ScanResult()
    by_key: dict[str, list[IntakeFile]] = {}
    if not root.is_dir():
        return res
    for e in _walk(root):
        res.n_files += 1
        rel = Path(e.path).relative_to(root).as_posix()
        if rel.count("/") == 1 and rel.endswith("/" + PROTOCOL_FILE):
            res.protocols[rel.split("/", 1)[0]] = Path(e.path)
            continue
        if not rel.lower().endswith(VIDEO_EXTENSIONS):
            res.unsupported.append(rel)
            continue
        if "/" not in rel:
            res.outside_cohort.append(rel)
            continue
        try:
            cohort = sanitize_key(rel.split("/", 1)[0])
            key = derive_key(cohort, rel, pseudonymiser)
        except ValueError:  # nothing usable in the name (e.g. "!!!.mp4")
            res.unsupported.append(rel)
            continue
        st = e.stat()
        fp = f"{st.st_size}:{st.st_mtime_ns}"
        by_key.setdefault(key, []).append(IntakeFile(Path(e.path), rel, cohort, key, fp, st.st_size))
        if previous.get(rel) != fp or now - st.st_mtime < stable_seconds:
            res.pending[rel] = fp
    for key, files in by_key.items():
        if len(files) > 1:  # never merge: report, process none of them
            res.collisions[key] = sorted(f.rel for f in files)
            for f in files:
                res.pending.pop(f.rel, None)
        elif files[0].rel not in res.pending:
            res.ready.append(files[0])
    res.ready.sort(key=lambda f: f.key)
    res.unsupported.sort()
    if pseudonymiser is not None:
        pseudonymiser.save()
    return res
