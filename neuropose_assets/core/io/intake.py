"""The intake folder: which files are videos ready to analyse, and which partition key and cohort each gets.

Layout: ``<intake>/<cohort>/<any sub-folders>/<trial>.<ext>``.  The top-level folder is the cohort; deeper folders
(subject, session) are part of the key.  ``<intake>/<cohort>/protocol.yaml`` declares the task of each video
(:mod:`..analysis.tasks`).  Marker-based motion capture (``.trc``, ``.c3d``: :mod:`..interop.mocap`) enters the same
way, its key ending in its format (``walk_1.c3d`` → ``…-walk_1-c3d``); a ``markers.yaml`` (marker-set mapping) and
``.mot`` ground reaction files are read with the marker files next to them, not as recordings.  A file is *ready* when
it is a supported video or marker file, not hidden or temporary, and *stable*: its size and modification time are the
same as on the previous scan and at least ``stable_seconds`` old (a copy in progress changes one or the other).
:func:`scan_settled` takes the second look within the same tick when the wait is short (a file that arrived
complete, e.g. moved in or copied with its modification time, is ready after one tick instead of two).  The scan uses
``os.scandir`` only (no hashing, no decoding), so 10,000 files take a fraction of a second — far below Dagster's 60 s
sensor-tick limit.

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
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from neuropose_assets.core.analysis.tasks import PROTOCOL_FILE
from neuropose_assets.core.io.atomic import atomic_write_bytes
from neuropose_assets.core.io.storage import (
    MAPPING_FILE,
    SIDECAR_EXTENSIONS,
    SOURCE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    sanitize_key,
    source_stem,
)

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
        protocols: cohort folder name -> its ``protocol.yaml`` (:mod:`..analysis.tasks`).
        bad_names: videos whose name gives no partition key (``!!!.mp4``) or is not valid text.
        links: symbolic links that are not followed (links to folders, or to files outside the allowed roots).
        unreadable: ``rel -> reason`` for folders and files that could not be read.
        special: ``rel -> kind`` of entries that are not files: named pipes, sockets, devices (never opened).
        ignored: videos whose name marks them as temporary (``~name.mp4``): never processed.
        files: every video with a key (ready, settling or colliding).
        n_files: files examined.
    """

    ready: list[IntakeFile] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)
    unsupported: list[str] = field(default_factory=list)
    outside_cohort: list[str] = field(default_factory=list)
    collisions: dict[str, list[str]] = field(default_factory=dict)
    protocols: dict[str, Path] = field(default_factory=dict)
    bad_names: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    special: dict[str, str] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    files: list[IntakeFile] = field(default_factory=list)
    n_files: int = 0


def _ignored(name: str) -> bool:
    low = name.lower()
    return name.startswith((".", "~$", "~")) or low.endswith(TEMP_SUFFIXES) or low in {"thumbs.db", "desktop.ini"}


def _inside(path: str, roots: tuple[Path, ...]) -> bool:
    return any(path == str(r) or path.startswith(str(r) + os.sep) for r in roots)


def _walk(root: Path, res: ScanResult, link_roots: tuple[Path, ...]):
    """Files below ``root`` (``os.DirEntry``; hidden / temporary names skipped).  Never follows a link to a folder;
    follows a link to a file only when it resolves inside ``link_roots``.  Every entry that cannot be read (permission,
    a link loop, a name the file system rejects) goes to ``res.unreadable`` / ``res.links`` and the walk goes on."""
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except FileNotFoundError:
            continue
        except OSError as err:  # permission denied, loop, I/O error: report the folder, keep scanning the rest
            res.unreadable[_rel(root, d)] = err.strerror or type(err).__name__
            continue
        with it:
            for e in it:
                if _ignored(e.name):
                    if (
                        e.name.startswith("~")
                        and not e.name.startswith("~$")
                        and e.name.lower().endswith(VIDEO_EXTENSIONS)
                    ):
                        res.ignored.append(_rel(root, e.path))
                    continue
                try:
                    if e.is_symlink():
                        target = os.path.realpath(e.path)
                        if link_roots and _inside(target, link_roots) and os.path.isfile(target):
                            yield e
                        else:
                            res.links.append(_rel(root, e.path))
                    elif e.is_dir(follow_symlinks=False):
                        stack.append(Path(e.path))
                    elif e.is_file(follow_symlinks=False):
                        yield e
                    else:  # a named pipe, socket or device: reading it could block the sensor or never end
                        res.special[_rel(root, e.path)] = _special_kind(e.stat(follow_symlinks=False).st_mode)
                except OSError as err:
                    res.unreadable[_rel(root, e.path)] = err.strerror or type(err).__name__


def _special_kind(mode: int) -> str:
    import stat

    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _rel(root: Path, path: str | Path) -> str:
    return Path(path).relative_to(root).as_posix()


class Pseudonymiser:
    """Pseudonymous keys: ``<cohort>-<HMAC-SHA-256(secret, rel path)[:12]>``, with a private manifest.

    The secret and the manifest live in ``private_dir`` (created with mode 0700, files 0600).  The same path always
    gets the same key; the manifest lets authorised staff map a key back to the delivered file.
    """

    def __init__(self, private_dir: Path, *, cohorts: bool = False) -> None:
        self.cohorts = cohorts
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

    def alias(self, text: str, n: int = 12) -> str:
        """A stable pseudonym of any text (HMAC-SHA-256, ``n`` hex), not recorded in the manifest."""
        return hmac.new(self._secret, text.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:n]

    #: the largest shift of a subject's session dates, days (:meth:`shift_days`)
    MAX_SHIFT_DAYS = 182

    def shift_days(self, subject: str) -> int:
        """Days by which the session dates of ``subject`` are shifted in privacy mode: a keyed (HMAC) choice in
        ±1 … ±:data:`MAX_SHIFT_DAYS`, the same for every video of the subject, so the order of its sessions and the
        intervals between them are kept while the calendar dates — identifying information (HIPAA Safe Harbor, 45
        CFR 164.514(b)(2)(i)(C)) — are not stored.  Date shifting per patient: the de-identification practice of
        e.g. the STARR and i2b2 research data warehouses."""
        digest = hmac.new(self._secret, f"date:{subject}".encode("utf-8", "surrogateescape"), hashlib.sha256).digest()
        days = int.from_bytes(digest[:4], "big") % (2 * self.MAX_SHIFT_DAYS) - self.MAX_SHIFT_DAYS
        return days + 1 if days >= 0 else days  # never 0: every date moves

    def private_visit(self, visit, *, alias_subject: bool = True):
        """The :class:`~neuropose_assets.core.analysis.tasks.Visit` as stored in privacy mode: the subject ID
        replaced by ``s`` + its keyed pseudonym when it may come from a folder name (``alias_subject``; an ID typed
        on the command line is kept), a date as session shifted by the subject's :meth:`shift_days` (an ordinal
        session is kept).  The real values stay in the intake paths recorded in ``private/pseudonyms.json``."""
        import datetime
        import re

        update = {}
        if visit.session is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}", visit.session):
            day = datetime.date.fromisoformat(visit.session) + datetime.timedelta(days=self.shift_days(visit.subject))
            update["session"] = day.isoformat()
        if alias_subject:
            update["subject"] = "s" + self.alias("subject:" + visit.subject)
        return visit.model_copy(update=update)

    def cohort(self, folder: str) -> str:
        """The cohort key of a cohort folder (or of a cohort named on the command line): sanitised, or
        ``c<HMAC[:10]>`` of the sanitised name when cohort names are pseudonymised too (recorded in the manifest).
        Names that differ only in case, accents or punctuation (``Jane_Doe_2026``, ``jane doe 2026``) are one cohort,
        as they are without pseudonyms.  Raises ``ValueError`` for a name without letters or digits."""
        canonical = sanitize_key(folder)
        if not self.cohorts:
            return canonical
        legacy = f"c{self.alias('cohort:' + folder, 10)}"  # keyed on the exact folder name before this release
        if folder != canonical and self._manifest.get(legacy) == folder:
            return legacy
        key = f"c{self.alias('cohort:' + canonical, 10)}"
        if key not in self._manifest:
            self._manifest[key] = folder
            self._dirty = True
        return key

    def is_cohort_key(self, text: str) -> bool:
        """``text`` is a pseudonymous cohort key this manifest knows (so a command may name a cohort by its key)."""
        return bool(re.fullmatch(r"c[0-9a-f]{10}", text)) and text in self._manifest

    def shown(self, rel: str) -> str:
        """How an intake path appears in logs: its would-be key, never its name."""
        folder = rel.split("/", 1)[0]
        cohort = self.cohort(folder) if "/" in rel else "-"
        return f"{cohort}-{self.alias(rel)} (a {Path(rel).suffix or 'file'} file; see private/pseudonyms.json)"

    def key(self, cohort: str, rel: str) -> str:
        """The pseudonymous partition key ``<cohort>-<HMAC[:12]>`` of intake path ``rel`` (relative, '/'-separated),
        recorded in the manifest (written by :meth:`save`)."""
        digest = self.alias(rel)
        key = f"{cohort}-{digest}"
        if self._manifest.get(key) != rel:
            self._manifest[key] = rel
            self._dirty = True
        return key

    def save(self) -> None:
        """Write the manifest (``pseudonyms.json``, mode 0600) atomically if a key was added since it was last
        written."""
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
    stem = source_stem(rel)
    parts = [sanitize_key(p) for p in stem.split("/")[1:]]
    return f"{cohort}-{'-'.join(parts)}"[:128].strip("-_")


def scan_intake(
    root: Path,
    *,
    previous: dict[str, str] | None = None,
    now: float,
    stable_seconds: float = 30.0,
    pseudonymiser: Pseudonymiser | None = None,
    link_roots: tuple[Path, ...] = (),
) -> ScanResult:
    """Scan ``root`` (see module docstring).

    Args:
        previous: ``rel -> fingerprint`` from the last scan (its ``pending`` plus the fingerprints of ready files).
        now: current time, s since the epoch.
        stable_seconds: minimum age of the last modification, s.
        link_roots: symbolic links to files are followed only when they resolve inside one of these folders
            (default: links are never followed; ``NEUROPOSE_INTAKE_LINK_ROOTS``).
    """
    previous = previous or {}
    res = ScanResult()
    by_key: dict[str, list[IntakeFile]] = {}
    if not root.is_dir():
        return res
    roots = tuple(Path(os.path.realpath(r)) for r in link_roots)
    for e in _walk(root, res, roots):
        res.n_files += 1
        rel = _rel(root, e.path)
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:  # bytes that are not text in the name: no key, no message can carry it
            res.bad_names.append(rel.encode("utf-8", "replace").decode())
            continue
        if rel.count("/") == 1 and rel.endswith("/" + PROTOCOL_FILE):
            res.protocols[rel.split("/", 1)[0]] = Path(e.path)
            continue
        if rel.rsplit("/", 1)[-1] == MAPPING_FILE or rel.lower().endswith(SIDECAR_EXTENSIONS):
            continue  # read with the marker files they belong to
        if not rel.lower().endswith(SOURCE_EXTENSIONS):
            res.unsupported.append(rel)
            continue
        if "/" not in rel:
            res.outside_cohort.append(rel)
            continue
        try:
            folder = rel.split("/", 1)[0]
            cohort = pseudonymiser.cohort(folder) if pseudonymiser is not None else sanitize_key(folder)
            key = derive_key(cohort, rel, pseudonymiser)
        except ValueError:  # nothing usable in the name (e.g. "!!!.mp4")
            res.bad_names.append(rel)
            continue
        try:
            st = e.stat()
        except OSError as err:
            res.unreadable[rel] = err.strerror or type(err).__name__
            continue
        fp = f"{st.st_size}:{st.st_mtime_ns}"
        res.files.append(IntakeFile(Path(e.path), rel, cohort, key, fp, st.st_size))
        by_key.setdefault(key, []).append(res.files[-1])
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
    for lst in (res.unsupported, res.bad_names, res.links, res.ignored):
        lst.sort()
    if pseudonymiser is not None:
        pseudonymiser.save()
    return res


#: the shortest gap between the two looks, s (a copy in progress changes the size or time within it)
SETTLE_GAP_S = 1.0


def settle_wait(
    scan: ScanResult, previous: dict[str, str], now: float, stable_seconds: float, within_s: float
) -> float | None:
    """Seconds until a second look could find the newly seen files of ``scan`` ready that can be within ``within_s`` —
    each must keep its fingerprint for at least :data:`SETTLE_GAP_S` and be ``stable_seconds`` old — or ``None`` when
    no new file can (the next tick looks again, as before)."""
    mtimes = [int(fp.split(":", 1)[1]) / 1e9 for rel, fp in scan.pending.items() if previous.get(rel) != fp]
    waits = [w for w in (max(SETTLE_GAP_S, stable_seconds - (now - m)) for m in mtimes) if w <= within_s]
    return max(waits) if waits else None


def scan_settled(
    root: Path,
    *,
    previous: dict[str, str] | None = None,
    settle_within_s: float = 5.0,
    clock=None,
    sleep=None,
    **kwargs,
) -> ScanResult:
    """:func:`scan_intake`, and when files appeared that can be ready within ``settle_within_s`` seconds
    (:func:`settle_wait`; 0: never), a second scan after that wait with the first scan's fingerprints as ``previous``:
    the same rule (unchanged across two looks, ``stable_seconds`` old), one tick sooner.  ``clock`` / ``sleep`` default
    to :func:`time.time` / :func:`time.sleep`; ``kwargs`` are :func:`scan_intake`'s (``stable_seconds``,
    ``pseudonymiser``, ``link_roots``; not ``now``)."""
    import time

    clock, sleep = clock or time.time, sleep or time.sleep
    previous = previous or {}
    now = clock()
    scan = scan_intake(root, previous=previous, now=now, **kwargs)
    wait = settle_wait(scan, previous, now, kwargs.get("stable_seconds", 30.0), settle_within_s)
    if wait is None or settle_within_s <= 0:
        return scan
    sleep(wait)
    return scan_intake(root, previous={**previous, **scan.pending}, now=clock(), **kwargs)
