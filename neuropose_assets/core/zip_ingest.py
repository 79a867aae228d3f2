"""Safe, all-or-nothing ingest of a clinician's zip archive of videos into the intake folder.

Layout: the intake folder holds one top-level folder per cohort (sanitised with :func:`sanitize_key`); below it the
archive's own subject/session folders and file names are kept as they are (unicode and spaces allowed, ``\\`` becomes
``/``).  With ``cohort=`` every video goes to ``<intake>/<cohort>/<member path>``; without it the first folder of
each member path is the cohort, and a video at the top of the archive is an error.

Guarantees, checked before anything is written: no absolute paths, drive letters, UNC paths, ``..``, symbolic links or
encrypted members; the declared size of the videos is within ``max_total_bytes``; no two videos map to the same file
(compared case- and accent-insensitively, as on most clinical shares) and none clashes with what is already in the
intake folder.  Decompressed bytes are counted while copying, so a forged declared size cannot fill the disk.  The
videos are first extracted and fsynced into a hidden ``<intake>/.ingest-<uuid>`` directory (same filesystem) under
hidden ``.partial`` names, then moved into place with :func:`os.replace`; on any failure the files placed by this
call are removed (overwritten ones restored) and the staging directory is deleted.  The intake sensor ignores names
starting with ``.``, so it never sees a partially written video.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import unicodedata
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from neuropose_assets.core.atomic import fsync_dir
from neuropose_assets.core.storage import MAPPING_FILE, SIDECAR_EXTENSIONS, SOURCE_EXTENSIONS, sanitize_key

_CHUNK = 1 << 20  # 1 MiB of decompressed data per read
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
_JUNK_DIRS = {"__MACOSX"}


class IngestError(ValueError):
    """The archive cannot be ingested.  ``str(err)`` is an actionable message for a clinician."""


class ArchiveInvalidError(IngestError):
    """Not a zip, damaged, or it contains an unsafe member (absolute path, ``..``, link, encryption)."""


class ArchiveEmptyError(IngestError):
    """The archive contains no video."""


class ArchiveTooLargeError(IngestError):
    """The videos (declared or actually decompressed) exceed ``max_total_bytes``."""


class CollisionError(IngestError):
    """Videos would overwrite each other or files already in the intake folder; ``collisions`` lists every one."""

    def __init__(self, message: str, collisions: list[str]) -> None:
        super().__init__(message)
        self.collisions = list(collisions)

    def __reduce__(self):  # keep pickling (e.g. across processes) working with the extra argument
        return type(self), (str(self), self.collisions)


@dataclass(frozen=True)
class IngestResult:
    """``placed``: final paths of the videos; ``skipped``: member names not ingested; ``total_bytes``: bytes written."""

    archive: Path
    cohorts: list[str]
    placed: list[Path]
    skipped: list[str]
    total_bytes: int


@dataclass(frozen=True)
class _Video:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]  # target path relative to the intake folder, cohort first


def _fold(text: str) -> str:
    """Comparison key of a name on a case-insensitive, normalisation-insensitive share."""
    return unicodedata.normalize("NFC", text).casefold()


def _human(n: int) -> str:
    """``n`` bytes in the largest binary unit that keeps it >= 1."""
    for exp, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if n >= 1024**exp:
            return f"{n / 1024**exp:.1f} {unit}"
    return f"{n} bytes"


def split_member(name: str) -> tuple[tuple[str, ...], str | None]:
    """Path components of a member name (``\\`` is a separator too), or ``((), reason)`` if it is unsafe."""
    norm = name.replace("\\", "/")
    parts = tuple(p for p in norm.split("/") if p not in ("", "."))
    if norm.startswith("/") or any(_DRIVE_RE.match(p) for p in parts):  # /x, \\server\share, C:\x, C:x
        return (), "absolute path"
    if ".." in parts:
        return (), "path traversal"
    if not parts:
        return (), "empty name"
    return parts, None


def _declared_size(info: zipfile.ZipInfo) -> int:
    """Uncompressed size the archive claims for a member (bytes); not trusted beyond the first check."""
    return info.file_size


def _plan(zf: zipfile.ZipFile, archive: Path, cohort: str | None) -> tuple[list[_Video], list[str]]:
    """Videos to extract and skipped member names; raises ``ArchiveInvalidError``/``ArchiveEmptyError``."""
    videos, skipped, unsafe, rootless, bad_cohort = [], [], [], [], []
    for info in zf.infolist():
        name = info.filename
        parts, reason = split_member(name)
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "symbolic link"
        elif reason is None and info.flag_bits & 0x1:
            reason = "encrypted (password-protected)"
        if reason:
            unsafe.append(f"{name!r}: {reason}")
        elif (name.endswith(("/", "\\")) or any(p.startswith(".") or p in _JUNK_DIRS for p in parts)
              or not (parts[-1].lower().endswith(SOURCE_EXTENSIONS + SIDECAR_EXTENSIONS)
                      or parts[-1] == MAPPING_FILE)):  # fmt: skip
            skipped.append(name)
        elif cohort is not None:
            videos.append(_Video(info, (cohort, *parts)))
        elif len(parts) == 1:
            rootless.append(name)
        else:
            try:
                videos.append(_Video(info, (sanitize_key(parts[0]), *parts[1:])))
            except ValueError:
                bad_cohort.append(f"{name!r}: folder {parts[0]!r} has no letters or digits to name a cohort")
    if unsafe:
        raise ArchiveInvalidError(
            f"the archive {archive.name} contains entries that are unsafe to extract; nothing was copied:\n  - "
            + "\n  - ".join(unsafe)
            + "\nRemove them (zip plain video files, without links or a password) and zip again."
        )
    if rootless or bad_cohort:
        lines = [f"{n!r}: video at the top of the archive, outside any cohort folder" for n in rootless] + bad_cohort
        raise ArchiveInvalidError(
            f"cannot tell which cohort the videos in {archive.name} belong to; nothing was copied:\n  - "
            + "\n  - ".join(lines)
            + "\nPass cohort='<name>' to put every video in one cohort, or put the videos in a folder named after "
            "their cohort and zip again."
        )
    if not any(v.parts[-1].lower().endswith(SOURCE_EXTENSIONS) for v in videos):
        raise ArchiveEmptyError(
            f"the archive {archive.name} contains no video ({', '.join(SOURCE_EXTENSIONS)}); {len(skipped)} other "
            "entry(ies) were skipped. Add the video files themselves (not shortcuts) and zip again."
        )
    return videos, skipped


def _existing(intake: Path, parts: tuple[str, ...], listings: dict[Path, list[str]]) -> tuple[Path, str] | None:
    """What already in the intake folder ``intake/parts`` would clash with (case-insensitively), and how."""
    cur = intake
    for depth, part in enumerate(parts):
        if cur not in listings:
            try:
                listings[cur] = os.listdir(cur)
            except OSError:
                listings[cur] = []
        names = listings[cur]
        actual = part if part in names else next((n for n in names if _fold(n) == _fold(part)), None)
        if actual is None:
            return None
        cur = cur / actual
        if depth < len(parts) - 1 and not cur.is_dir():
            return cur, "is a file, but a folder of that name is needed"
    if cur.is_dir() and not cur.is_symlink():
        return cur, "is a folder"
    return (cur, "already exists") if cur == intake.joinpath(*parts) else (cur, "differs only in upper/lower case")


def _intake_rule_violations(intake: Path, videos: list[_Video], overwrite: bool, key_of) -> list[str]:
    """What the intake would refuse or not see, found before anything is placed: a folder on the way that is a
    symbolic link (ingest never writes through links), a name the intake ignores (``~name``, ``.name``, ``*.tmp``),
    and two videos — in the archive or already in the intake — that would become the same partition key."""
    from neuropose_assets.core.intake import _ignored, scan_intake

    problems = []
    for v in videos:
        cur = intake
        for part in v.parts[:-1]:
            cur = cur / part
            if cur.is_symlink():
                problems.append(f"{v.info.filename!r}: {cur} is a symbolic link; ingest does not write through links "
                                "(it could place files outside the intake folder)")  # fmt: skip
                break
        ignored = [p for p in v.parts if _ignored(p)]
        if ignored:
            problems.append(f"{v.info.filename!r}: the name {ignored[0]!r} marks a temporary or hidden file, which the "
                            "intake ignores; rename it")  # fmt: skip
    keys: dict[str, dict[str, str]] = {}  # key -> folded path -> how it is shown
    for v in videos:
        rel = "/".join(v.parts)
        try:
            keys.setdefault(key_of(v.parts[0], rel), {}).setdefault(_fold(rel), repr(v.info.filename))
        except ValueError:
            problems.append(f"{v.info.filename!r}: the name has no letters or digits to make a partition key from")
    for f in scan_intake(intake, now=0.0, stable_seconds=0).files:
        keys.setdefault(key_of(f.cohort, f.rel), {}).setdefault(_fold(f.rel), f"{f.rel} (already in the intake folder)")
    for key, by_path in keys.items():
        names = list(by_path.values())
        if len(names) > 1:  # the same path (in any case) is a file-name collision, reported above
            problems.append(f"{' and '.join(names)} would become the same partition {key!r} (names may differ only in "
                            "spaces, punctuation or case); the intake would process neither")  # fmt: skip
    return problems


def _check_collisions(intake: Path, videos: list[_Video], overwrite: bool, key_of=None) -> None:
    """Raise one ``CollisionError`` listing every internal and intake-folder collision (file names, partition keys,
    links and ignored names: :func:`_intake_rule_violations`)."""
    if key_of is None:
        from neuropose_assets.core.intake import derive_key

        def key_of(cohort: str, rel: str) -> str:
            return derive_key(cohort, rel)

    collisions: list[str] = []
    groups: dict[str, list[_Video]] = {}
    folders: dict[str, _Video] = {}
    for v in videos:
        groups.setdefault(_fold("/".join(v.parts)), []).append(v)
        for i in range(1, len(v.parts)):
            folders.setdefault(_fold("/".join(v.parts[:i])), v)
    for key, group in groups.items():
        if len(group) > 1:
            names = " and ".join(repr(v.info.filename) for v in group)
            collisions.append(f"{names} would be the same file {'/'.join(group[0].parts)} (names must differ by "
                              "more than upper/lower case)")  # fmt: skip
        if key in folders:
            collisions.append(f"{group[0].info.filename!r} is a file but {folders[key].info.filename!r} needs a "
                              "folder of the same name")  # fmt: skip
    listings: dict[Path, list[str]] = {}
    existing = 0
    for v in videos:
        hit = _existing(intake, v.parts, listings)
        if hit and not (overwrite and hit[1] == "already exists"):
            existing += hit[1] == "already exists"
            collisions.append(f"{v.info.filename!r}: {hit[0]} {hit[1]} in the intake folder")
    collisions += _intake_rule_violations(intake, videos, overwrite, key_of)
    if collisions:
        hint = " (or pass overwrite=True to replace videos that already exist)" if existing else ""
        raise CollisionError(
            f"{len(collisions)} name collision(s); nothing was copied:\n  - " + "\n  - ".join(collisions)
            + f"\nRename the files so each name is unique, or remove the existing ones from the intake folder"
            f"{hint}, and zip again.",
            collisions,
        )


def _extract(zf: zipfile.ZipFile, videos: list[_Video], staging: Path, cap: int) -> tuple[list[Path], int]:
    """Copy the videos into ``staging`` in chunks, fsynced; abort once the decompressed total exceeds ``cap``."""
    staged, total = [], 0
    for i, v in enumerate(videos):
        path = staging / f".{i}.partial"
        try:
            with zf.open(v.info) as src, open(path, "xb") as dst:
                while chunk := src.read(_CHUNK):
                    if total + len(chunk) > cap:
                        raise ArchiveTooLargeError(
                            f"{v.info.filename!r} decompresses to more than its declared size: the videos exceed "
                            f"the limit of {_human(cap)}. The archive is damaged or malicious; zip the videos again."
                        )
                    dst.write(chunk)
                    total += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise ArchiveInvalidError(
                f"{v.info.filename!r} cannot be read from the archive ({err}): the archive is damaged or uses an "
                "unsupported compression. Copy it again, or zip the videos again with standard (Deflate) compression."
            ) from err
        staged.append(path)
    return staged, total


def _makedirs(path: Path, created: list[Path]) -> None:
    """``mkdir -p`` that records the directories it created, outermost first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        created.append(d)


def _rollback(undo: list[tuple[Path, Path | None]], created: list[Path]) -> list[str]:
    """Remove placed files (restore overwritten ones) and now-empty created folders; returns what failed."""
    failed = []
    for target, backup in reversed(undo):
        try:
            if backup is None:
                target.unlink()
            else:
                os.replace(backup, target)
        except OSError as err:
            failed.append(f"{target}: {err}" + (f" (the original is kept at {backup})" if backup else ""))
    for d in reversed(created):
        with contextlib.suppress(OSError):
            d.rmdir()
    return failed


def ingest_zip(
    archive: str | Path,
    intake_dir: str | Path,
    *,
    cohort: str | None = None,
    max_total_bytes: int = 20 * 1024**3,
    overwrite: bool = False,
    key_of=None,
) -> IngestResult:
    """Place the videos of zip ``archive`` into the existing ``intake_dir``, all or nothing (see the module doc).

    ``cohort``: put every video under ``<intake>/<sanitize_key(cohort)>/``; by default the first folder of each member
    path is the cohort.  ``max_total_bytes``: cap on the uncompressed size of the videos (declared and actually
    written), in bytes.  ``overwrite``: replace videos that already exist at exactly the same path.  ``key_of(cohort,
    rel)``: the partition key the intake will give a file (default: :func:`.intake.derive_key`, not pseudonymised),
    so that two videos the intake would merge are refused here.

    Raises ``FileNotFoundError`` (archive or intake folder missing), ``ArchiveInvalidError``, ``ArchiveEmptyError``,
    ``ArchiveTooLargeError``, ``CollisionError`` (all ``IngestError``, a ``ValueError``) and ``OSError`` (disk full,
    permissions); on any error the intake folder is left as it was.
    """
    archive, intake = Path(archive), Path(intake_dir).absolute()
    if not archive.exists():
        raise FileNotFoundError(f"archive not found: {archive}")
    if not intake.is_dir():
        raise FileNotFoundError(f"intake folder not found: {intake}; create it or check the path")
    cohort_key = None
    if cohort is not None:
        try:
            cohort_key = sanitize_key(cohort)
        except ValueError as err:
            raise IngestError(f"cohort {cohort!r} has no letters or digits; choose another cohort name") from err
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError) as err:
        raise ArchiveInvalidError(
            f"{archive.name} is not a readable zip archive ({err}); copy it again or zip the videos again."
        ) from err
    with zf:
        videos, skipped = _plan(zf, archive, cohort_key)
        declared = sum(_declared_size(v.info) for v in videos)
        if declared > max_total_bytes:
            raise ArchiveTooLargeError(
                f"the {len(videos)} video(s) in {archive.name} add up to {_human(declared)}, more than the limit of "
                f"{_human(max_total_bytes)}; split them into several smaller archives and ingest each one."
            )
        _check_collisions(intake, videos, overwrite, key_of)
        targets = [intake.joinpath(*v.parts) for v in videos]
        staging = intake / f".ingest-{uuid.uuid4().hex}"
        staging.mkdir()
        undo: list[tuple[Path, Path | None]] = []
        created: list[Path] = []
        keep_staging = False
        try:
            staged, total = _extract(zf, videos, staging, max_total_bytes)
            for i, (src, target) in enumerate(zip(staged, targets)):
                _makedirs(target.parent, created)
                backup = None
                if os.path.lexists(target):
                    if not overwrite:
                        msg = f"{target} appeared in the intake folder meanwhile; nothing was copied. Try again."
                        raise CollisionError(msg, [str(target)])
                    backup = staging / f".{i}.backup"
                    try:
                        os.link(target, backup, follow_symlinks=False)
                    except OSError:
                        shutil.copy2(target, backup, follow_symlinks=False)
                os.replace(src, target)
                undo.append((target, backup))
            for d in {t.parent for t in targets} | {d.parent for d in created}:
                fsync_dir(d)
        except BaseException as err:
            failed = _rollback(undo, created)
            if failed:
                keep_staging = True
                err.add_note("could not undo:\n  " + "\n  ".join(failed))
            raise
        finally:
            if not keep_staging:
                shutil.rmtree(staging, ignore_errors=True)
    cohorts = sorted({v.parts[0] for v in videos})
    return IngestResult(archive=archive, cohorts=cohorts, placed=targets, skipped=skipped, total_bytes=total)
