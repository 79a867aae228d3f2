"""Safe, all-or-nothing ingest of a clinician's zip archive of videos into the intake folder.

Layout: the intake folder holds one top-level folder per cohort (sanitised with :func:`sanitize_key`); below it the
archive's own subject/session folders and file names are kept as they are (unicode and spaces allowed, ``\\`` becomes
``/``).  With ``cohort=`` every video goes to ``<intake>/<cohort>/<member path>``; without it the first folder of
each member path is the cohort, and a video at the top of the archive is an error.

Guarantees, checked before anything is written: no absolute paths, drive letters, UNC paths, ``..``, symbolic links,
encrypted members, names longer than the file system allows, or names that are not text (a member name without the
zip's UTF-8 flag must be ASCII or valid UTF-8: a legacy code page such as CP437 or Shift-JIS cannot be read back
reliably, so it is refused rather than placed garbled); at most :data:`MAX_MEMBERS` entries; no video that inflates
more than :data:`MAX_RATIO` times (per member and over the archive, as Apache POI's ``ZipSecureFile`` does: a minimum
inflate ratio of 0.01 beyond a grace size of 100 KiB); the declared size of the videos is within ``max_total_bytes``
and fits the free space of the intake's file system with :data:`FREE_SPACE_RESERVE` to spare; no two videos map to
the same file (compared case- and accent-insensitively, as on most clinical shares) and none clashes with what is
already in the intake folder.  A cohort folder that already exists under another spelling (``Jane_Doe_2026/`` for
cohort ``jane doe 2026``) is used as it is, never doubled.  Decompressed bytes are counted while copying, so a forged
declared size cannot fill the disk.  The videos are first extracted and fsynced into a hidden
``<intake>/.ingest-<uuid>`` directory (same filesystem) under hidden ``.partial`` names; then the companion files (a
cohort's ``protocol.yaml`` with the task declared for these videos) are written, and the videos moved into place with
:func:`os.replace`; on any failure the files placed by this call are removed (overwritten ones and companions restored)
and the staging directory is deleted.  Every refusal and every OS error (disk full, permissions) is an
:class:`IngestError` with one actionable message.  The intake sensor ignores names starting with ``.``, so it never sees
a partially written video.
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

from neuropose_assets.core.io.atomic import atomic_write_bytes, fsync_dir
from neuropose_assets.core.io.storage import MAPPING_FILE, SIDECAR_EXTENSIONS, SOURCE_EXTENSIONS, sanitize_key

_CHUNK = 1 << 20  # 1 MiB of decompressed data per read
#: entries in one archive (every entry, folders and skipped files included): a clinical delivery holds tens to hundreds
MAX_MEMBERS = 10_000
#: largest inflate ratio (uncompressed / compressed) of a video, per member and over the archive; videos barely
#: compress (≈ 1), text marker files ≈ 3–10 (Apache POI ZipSecureFile: minimum inflate ratio 0.01)
MAX_RATIO = 100.0
#: the ratio is judged only above this size (POI's grace entry size), bytes
RATIO_GRACE_BYTES = 100 * 1024
#: free space left on the intake's file system after the videos are placed, bytes
FREE_SPACE_RESERVE = 1 << 30
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


class ArchiveWriteError(IngestError):
    """Writing into the intake folder failed (disk full, permissions, the file system refused a name); nothing was
    left behind."""


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
    name: str  # the member's name as text (:func:`member_name`)


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
    if any(len(p.encode("utf-8", "surrogateescape")) > NAME_MAX for p in parts):
        return (), f"a name longer than {NAME_MAX} bytes, which the file system refuses"
    return parts, None


#: longest file or folder name, bytes (ext4, XFS, NTFS, APFS: 255)
NAME_MAX = 255


def member_name(info: zipfile.ZipInfo) -> str | None:
    """The member's name as text, or ``None`` when it is not: names flagged UTF-8 (bit 11) are read as such by
    :mod:`zipfile`; an unflagged name is read as CP437 there, so its bytes are taken back and accepted when they are
    ASCII or valid UTF-8 (what most tools write), and refused otherwise (a legacy code page cannot be told apart)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.orig_filename.encode("cp437")
    except UnicodeEncodeError:  # a ZipFile opened with metadata_encoding: already decoded
        return info.filename
    try:
        return raw.decode("utf-8") if not raw.isascii() else info.filename
    except UnicodeDecodeError:
        return None


def _declared_size(info: zipfile.ZipInfo) -> int:
    """Uncompressed size the archive claims for a member (bytes); not trusted beyond the first check."""
    return info.file_size


def _plan(zf: zipfile.ZipFile, archive: Path, cohort: str | None, folder_of=None) -> tuple[list[_Video], list[str]]:
    """Videos to extract and skipped member names; raises ``ArchiveInvalidError``/``ArchiveEmptyError``.
    ``folder_of(name)``: the intake folder of an archive folder that names a cohort (default: sanitised)."""
    folder_of = folder_of or sanitize_key
    videos, skipped, unsafe, rootless, bad_cohort = [], [], [], [], []
    members = zf.infolist()
    if len(members) > MAX_MEMBERS:
        raise ArchiveInvalidError(
            f"the archive {archive.name} has {len(members):,} entries, more than the {MAX_MEMBERS:,} one delivery may "
            "hold; nothing was copied. Split it into several archives (e.g. one per cohort or subject)."
        )
    for info in members:
        name = member_name(info)
        if name is None:
            unsafe.append(
                f"{info.orig_filename.encode('cp437', 'replace').decode('ascii', 'backslashreplace')!r}: "
                "its name is not UTF-8 (an old zip tool's code page), so it cannot be placed under its "
                "real name"
            )
            continue
        parts, reason = split_member(name)
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "symbolic link"
        elif reason is None and info.flag_bits & 0x1:
            reason = "encrypted (password-protected)"
        elif (
            reason is None
            and _declared_size(info) > RATIO_GRACE_BYTES
            and _declared_size(info) > MAX_RATIO * max(info.compress_size, 1)
        ):
            reason = (
                f"inflates {_declared_size(info) / max(info.compress_size, 1):,.0f}-fold "
                f"({_human(info.compress_size)} → {_human(_declared_size(info))}), more than the "
                f"{MAX_RATIO:.0f}-fold a video can: a zip bomb"
            )
        if reason:
            unsafe.append(f"{name!r}: {reason}")
        elif (
            name.endswith(("/", "\\"))
            or any(p.startswith(".") or p in _JUNK_DIRS for p in parts)
            or not (parts[-1].lower().endswith(SOURCE_EXTENSIONS + SIDECAR_EXTENSIONS) or parts[-1] == MAPPING_FILE)
        ):
            skipped.append(name)
        elif cohort is not None:
            videos.append(_Video(info, (cohort, *parts), name))
        elif len(parts) == 1:
            rootless.append(name)
        else:
            try:
                videos.append(_Video(info, (folder_of(parts[0]), *parts[1:]), name))
            except ValueError:
                bad_cohort.append(f"{name!r}: folder {parts[0]!r} has no letters or digits to name a cohort")
    if unsafe:
        raise ArchiveInvalidError(
            f"the archive {archive.name} contains entries that are unsafe to extract; nothing was copied:\n  - "
            + "\n  - ".join(unsafe[:50])
            + (f"\n  - … and {len(unsafe) - 50} more" if len(unsafe) > 50 else "")
            + "\nRemove them (zip plain video files with short names, without links or a password, with a tool that "
            "writes UTF-8 names such as 7-Zip, macOS or Windows 11) and zip again."
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
    from neuropose_assets.core.io.intake import _ignored, scan_intake

    problems = []
    for v in videos:
        cur = intake
        for part in v.parts[:-1]:
            cur = cur / part
            if cur.is_symlink():
                problems.append(
                    f"{v.name!r}: {cur} is a symbolic link; ingest does not write through links "
                    "(it could place files outside the intake folder)"
                )
                break
        ignored = [p for p in v.parts if _ignored(p)]
        if ignored:
            problems.append(
                f"{v.name!r}: the name {ignored[0]!r} marks a temporary or hidden file, which the "
                "intake ignores; rename it"
            )
    keys: dict[str, dict[str, str]] = {}  # key -> folded path -> how it is shown
    for v in videos:
        rel = "/".join(v.parts)
        try:
            keys.setdefault(key_of(v.parts[0], rel), {}).setdefault(_fold(rel), repr(v.name))
        except ValueError:
            problems.append(f"{v.name!r}: the name has no letters or digits to make a partition key from")
    for f in scan_intake(intake, now=0.0, stable_seconds=0).files:
        keys.setdefault(key_of(f.cohort, f.rel), {}).setdefault(_fold(f.rel), f"{f.rel} (already in the intake folder)")
    for key, by_path in keys.items():
        names = list(by_path.values())
        if len(names) > 1:  # the same path (in any case) is a file-name collision, reported above
            problems.append(
                f"{' and '.join(names)} would become the same partition {key!r} (names may differ only in "
                "spaces, punctuation or case); the intake would process neither"
            )
    return problems


def _check_collisions(intake: Path, videos: list[_Video], overwrite: bool, key_of=None) -> None:
    """Raise one ``CollisionError`` listing every internal and intake-folder collision (file names, partition keys,
    links and ignored names: :func:`_intake_rule_violations`)."""
    if key_of is None:
        from neuropose_assets.core.io.intake import derive_key

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
            names = " and ".join(repr(v.name) for v in group)
            collisions.append(
                f"{names} would be the same file {'/'.join(group[0].parts)} (names must differ by "
                "more than upper/lower case)"
            )
        if key in folders:
            collisions.append(f"{group[0].name!r} is a file but {folders[key].name!r} needs a folder of the same name")
    listings: dict[Path, list[str]] = {}
    existing = 0
    for v in videos:
        hit = _existing(intake, v.parts, listings)
        if hit and not (overwrite and hit[1] == "already exists"):
            existing += hit[1] == "already exists"
            collisions.append(f"{v.name!r}: {hit[0]} {hit[1]} in the intake folder")
    collisions += _intake_rule_violations(intake, videos, overwrite, key_of)
    if collisions:
        hint = " (or pass overwrite=True to replace videos that already exist)" if existing else ""
        raise CollisionError(
            f"{len(collisions)} name collision(s); nothing was copied:\n  - "
            + "\n  - ".join(collisions)
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
                            f"{v.name!r} decompresses to more than its declared size: the videos exceed "
                            f"the limit of {_human(cap)}. The archive is damaged or malicious; zip the videos again."
                        )
                    dst.write(chunk)
                    total += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as err:
            raise ArchiveInvalidError(
                f"{v.name!r} cannot be read from the archive ({err}): the archive is damaged or uses an "
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


def existing_cohort_folder(intake: Path, name: str) -> str:
    """The intake folder of cohort ``name``: an existing top-level folder whose name gives the same cohort key
    (``Jane_Doe_2026`` for ``jane doe 2026``), else the sanitised name.  Raises ``ValueError`` for a name without
    letters or digits."""
    key = sanitize_key(name)
    try:
        names = sorted(os.listdir(intake))
    except OSError:
        names = []
    for existing in names:
        with contextlib.suppress(ValueError):
            if sanitize_key(existing) == key and (intake / existing).is_dir() and not (intake / existing).is_symlink():
                return existing
    return key


def _check_ratio_and_space(archive: Path, intake: Path, videos: list[_Video]) -> None:
    """The archive as a whole inflates at most :data:`MAX_RATIO` times, and its videos fit the free space."""
    size = sum(_declared_size(v.info) for v in videos)
    packed = sum(v.info.compress_size for v in videos)
    if size > RATIO_GRACE_BYTES and size > MAX_RATIO * max(packed, 1):
        raise ArchiveTooLargeError(
            f"the videos in {archive.name} inflate {size / max(packed, 1):,.0f}-fold ({_human(packed)} → "
            f"{_human(size)}), more than the {MAX_RATIO:.0f}-fold real videos can: the archive is a zip bomb or "
            "damaged; nothing was copied."
        )
    free = shutil.disk_usage(intake).free
    if size + FREE_SPACE_RESERVE > free:
        raise ArchiveTooLargeError(
            f"the {len(videos)} video(s) in {archive.name} need {_human(size)}, but the intake folder's disk has "
            f"{_human(free)} free (and keeps {_human(FREE_SPACE_RESERVE)} in reserve); nothing was copied. Free space "
            "or ingest a smaller archive."
        )


def _write_failed(err: OSError, intake: Path, not_undone: list[str] = ()) -> ArchiveWriteError:
    import errno

    why = {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is used up",
        errno.ENAMETOOLONG: "a name is longer than the file system allows",
        errno.EACCES: "permission denied",
        errno.EROFS: "the file system is read-only",
    }.get(err.errno, err.strerror or type(err).__name__)
    if not_undone:
        return ArchiveWriteError(
            f"writing into the intake folder {intake} failed: {why}, "
            "and these could not be undone "
            "(remove or restore them by hand):\n  " + "\n  ".join(not_undone)
        )
    return ArchiveWriteError(
        f"writing into the intake folder {intake} failed: {why}. Nothing was placed (everything "
        "written so far was removed); fix that and ingest the archive again."
    )


def ingest_zip(
    archive: str | Path,
    intake_dir: str | Path,
    *,
    cohort: str | None = None,
    max_total_bytes: int = 20 * 1024**3,
    overwrite: bool = False,
    key_of=None,
    companions=None,
) -> IngestResult:
    """Place the videos of zip ``archive`` into the existing ``intake_dir``, all or nothing (see the module doc).

    ``cohort``: put every video under the intake folder of that cohort (:func:`existing_cohort_folder`); by default
    the first folder of each member path is the cohort.  ``max_total_bytes``: cap on the uncompressed size of the
    videos (declared and actually written), in bytes.  ``overwrite``: replace videos that already exist at exactly
    the same path.  ``key_of(cohort, rel)``: the partition key the intake will give a file (default:
    :func:`.intake.derive_key`, not pseudonymised), so that two videos the intake would merge are refused here.
    ``companions(targets)``: ``{path: bytes}`` of other files to write in the same all-or-nothing step, before the
    videos appear (the cohort's ``protocol.yaml`` declaring their task); ``targets`` are the videos' final paths.

    Raises ``FileNotFoundError`` (archive or intake folder missing), ``ArchiveInvalidError``, ``ArchiveEmptyError``,
    ``ArchiveTooLargeError``, ``CollisionError`` and ``ArchiveWriteError`` (all ``IngestError``, a ``ValueError``);
    on any error the intake folder is left as it was.
    """
    archive, intake = Path(archive), Path(intake_dir).absolute()
    if not archive.is_file():
        raise FileNotFoundError(f"archive not found: {archive}")
    if not intake.is_dir():
        raise FileNotFoundError(f"intake folder not found: {intake}; create it or check the path")
    cohort_folder = None
    if cohort is not None:
        try:
            cohort_folder = existing_cohort_folder(intake, cohort)
        except ValueError as err:
            raise IngestError(f"cohort {cohort!r} has no letters or digits; choose another cohort name") from err
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError, OSError, UnicodeDecodeError) as err:  # a name flagged UTF-8 that is not
        raise ArchiveInvalidError(
            f"{archive.name} is not a readable zip archive ({err}); copy it again or zip the videos again."
        ) from err
    with zf:
        videos, skipped = _plan(zf, archive, cohort_folder, lambda name: existing_cohort_folder(intake, name))
        declared = sum(_declared_size(v.info) for v in videos)
        if declared > max_total_bytes:
            raise ArchiveTooLargeError(
                f"the {len(videos)} video(s) in {archive.name} add up to {_human(declared)}, more than the limit of "
                f"{_human(max_total_bytes)}; split them into several smaller archives and ingest each one."
            )
        _check_ratio_and_space(archive, intake, videos)
        _check_collisions(intake, videos, overwrite, key_of)
        targets = [intake.joinpath(*v.parts) for v in videos]
        try:
            staging = intake / f".ingest-{uuid.uuid4().hex}"
            staging.mkdir()
        except OSError as err:
            raise _write_failed(err, intake) from None
        undo: list[tuple[Path, Path | None]] = []
        created: list[Path] = []
        keep_staging = False
        try:
            staged, total = _extract(zf, videos, staging, max_total_bytes)
            for j, (path, data) in enumerate((companions(targets) if companions else {}).items()):
                _makedirs(path.parent, created)
                backup = None
                if path.exists():
                    backup = staging / f".companion{j}.backup"
                    shutil.copy2(path, backup)
                atomic_write_bytes(path, data)
                undo.append((path, backup))
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
            if isinstance(err, OSError):
                raise _write_failed(err, intake, failed) from err
            raise
        finally:
            if not keep_staging:
                shutil.rmtree(staging, ignore_errors=True)
    cohorts = sorted({v.parts[0] for v in videos})
    return IngestResult(archive=archive, cohorts=cohorts, placed=targets, skipped=skipped, total_bytes=total)
