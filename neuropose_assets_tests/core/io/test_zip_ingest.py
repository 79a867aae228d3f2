"""Zip ingest: layout rule, skipped junk, unsafe members, zip bombs, collisions, all-or-nothing placement."""

from __future__ import annotations

import os
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from neuropose_assets.core.io import zip_ingest
from neuropose_assets.core.io.zip_ingest import (
    ArchiveEmptyError,
    ArchiveInvalidError,
    ArchiveTooLargeError,
    CollisionError,
    IngestError,
    ingest_zip,
)

Member = tuple["str | zipfile.ZipInfo", bytes]


def make_zip(path: Path, *members: Member, compression: int = zipfile.ZIP_STORED) -> Path:
    """A zip with ``members`` written verbatim (a ``ZipInfo`` keeps a malicious name exactly as given)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(name, data, compress_type=compression)
    return path


def patch_headers(path: Path, *, set_flags: int = 0, file_size: int | None = None) -> None:
    """Forge the general-purpose flags and/or the declared uncompressed size in every local and central header."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        local = [i.header_offset for i in zf.infolist()]
        pos = zf.start_dir
    for off in local:  # local file header: flags at +6, uncompressed size at +22
        assert data[off : off + 4] == b"PK\x03\x04"
        struct.pack_into("<H", data, off + 6, struct.unpack_from("<H", data, off + 6)[0] | set_flags)
        if file_size is not None:
            struct.pack_into("<I", data, off + 22, file_size)
    for _ in local:  # central directory record: flags at +8, uncompressed size at +24
        assert data[pos : pos + 4] == b"PK\x01\x02"
        struct.pack_into("<H", data, pos + 8, struct.unpack_from("<H", data, pos + 8)[0] | set_flags)
        if file_size is not None:
            struct.pack_into("<I", data, pos + 24, file_size)
        n, m, k = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + n + m + k
    path.write_bytes(bytes(data))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every entry under ``root`` (hidden ones included): relative path -> file content (``None`` for folders)."""
    return {str(p.relative_to(root)): (None if p.is_dir() else p.read_bytes()) for p in root.rglob("*")}


@pytest.fixture
def intake(tmp_path: Path) -> Path:
    d = tmp_path / "intake"
    d.mkdir()
    return d


def test_nested_unicode_names_and_cohort_from_first_folder(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(
        tmp_path / "delivery.zip",
        ("Kohorte Ä/", b""),
        ("Kohorte Ä/Patient 01/Sitzung 1/Gang ß.mp4", b"gait"),
        ("Kohorte Ä/Patient 01/Sitzung 2/Gang ß.MOV", b"gait again"),
        (zipfile.ZipInfo("Stroke\\S02\\walk.avi"), b"walk"),  # Windows separators
    )
    result = ingest_zip(zf, intake)
    expected = [
        intake / "kohorte_a" / "Patient 01" / "Sitzung 1" / "Gang ß.mp4",
        intake / "kohorte_a" / "Patient 01" / "Sitzung 2" / "Gang ß.MOV",
        intake / "stroke" / "S02" / "walk.avi",
    ]
    assert result.placed == expected
    assert [p.read_bytes() for p in expected] == [b"gait", b"gait again", b"walk"]
    assert result.cohorts == ["kohorte_a", "stroke"]
    assert result.skipped == ["Kohorte Ä/"]
    assert result.total_bytes == len(b"gaitgait againwalk")
    assert result.archive == zf
    assert sorted(p.name for p in intake.iterdir()) == ["kohorte_a", "stroke"]  # no staging left behind


def test_cohort_argument_puts_everything_in_one_sanitised_cohort(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(tmp_path / "a.zip", ("walk.mp4", b"1"), ("S01/run.mkv", b"2"))
    result = ingest_zip(zf, intake, cohort="Pilot Study 2")
    assert result.placed == [intake / "pilot_study_2" / "walk.mp4", intake / "pilot_study_2" / "S01" / "run.mkv"]
    assert result.cohorts == ["pilot_study_2"]
    with pytest.raises(IngestError, match="cohort"):
        ingest_zip(zf, intake, cohort="###")


def test_video_at_archive_root_without_cohort_asks_for_cohort(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(tmp_path / "a.zip", ("c/ok.mp4", b"1"), ("walk.mp4", b"2"))
    with pytest.raises(ArchiveInvalidError, match=r"cohort=") as err:
        ingest_zip(zf, intake)
    assert "'walk.mp4'" in str(err.value)
    assert snapshot(intake) == {}


def test_junk_and_non_videos_are_skipped_and_listed(tmp_path: Path, intake: Path) -> None:
    junk = [
        "__MACOSX/c/._walk.mp4",
        "c/.DS_Store",
        "c/._walk.mp4",
        "c/notes.txt",
        "c/sub/",
        ".hidden/x.mp4",
        "c/Thumbs.db",
    ]
    zf = make_zip(tmp_path / "a.zip", *[(n, b"junk") for n in junk], ("c/walk.WEBM", b"video"))
    result = ingest_zip(zf, intake)
    assert result.placed == [intake / "c" / "walk.WEBM"]
    assert result.skipped == junk
    assert snapshot(intake) == {"c": None, "c/walk.WEBM": b"video"}


@pytest.mark.parametrize("members", [[], [("c/notes.pdf", b"x"), ("__MACOSX/c/._x.mp4", b"x"), ("c/", b"")]])
def test_archive_without_video_is_empty(tmp_path: Path, intake: Path, members: list[Member]) -> None:
    with pytest.raises(ArchiveEmptyError, match="no video"):
        ingest_zip(make_zip(tmp_path / "a.zip", *members), intake)
    assert snapshot(intake) == {}


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x.mp4", "path traversal"),
        ("c/../../x.mp4", "path traversal"),
        ("..\\x.mp4", "path traversal"),
        ("c\\..\\..\\x.mp4", "path traversal"),
        ("../notes.txt", "path traversal"),  # unsafe names are refused even for members that would be skipped
        ("/etc/x.mp4", "absolute path"),
        ("C:\\x.mp4", "absolute path"),
        ("C:x.mp4", "absolute path"),
        ("c/D:/x.mp4", "absolute path"),
        ("\\\\server\\share\\x.mp4", "absolute path"),
        ("", "empty name"),
    ],
)
def test_unsafe_member_rejected_before_anything_is_written(tmp_path: Path, intake: Path, name: str, reason: str):
    zf = make_zip(tmp_path / "a.zip", ("c/ok.mp4", b"ok"), (zipfile.ZipInfo(name), b"evil"))
    with pytest.raises(ArchiveInvalidError, match=reason) as err:
        ingest_zip(zf, intake)
    assert repr(name) in str(err.value) and "zip again" in str(err.value)
    assert snapshot(intake) == {}
    assert not (tmp_path / "x.mp4").exists()


def test_symlink_member_rejected(tmp_path: Path, intake: Path) -> None:
    link = zipfile.ZipInfo("c/link.mp4")
    link.external_attr = 0o120777 << 16
    zf = make_zip(tmp_path / "a.zip", ("c/ok.mp4", b"ok"), (link, b"/etc/passwd"))
    with pytest.raises(ArchiveInvalidError, match="'c/link.mp4': symbolic link"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def test_encrypted_member_rejected(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(tmp_path / "a.zip", ("c/ok.mp4", b"ok"))
    patch_headers(zf, set_flags=0x1)
    with pytest.raises(ArchiveInvalidError, match="password"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def test_missing_invalid_or_truncated_archive(tmp_path: Path, intake: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ingest_zip(tmp_path / "missing.zip", intake)
    (tmp_path / "fake.zip").write_bytes(b"this is not a zip archive")
    with pytest.raises(ArchiveInvalidError, match="not a readable zip"):
        ingest_zip(tmp_path / "fake.zip", intake)
    good = make_zip(tmp_path / "good.zip", ("c/ok.mp4", b"x" * 1000))
    (tmp_path / "cut.zip").write_bytes(good.read_bytes()[:600])
    with pytest.raises(ArchiveInvalidError):
        ingest_zip(tmp_path / "cut.zip", intake)
    with pytest.raises(FileNotFoundError, match="intake folder"):
        ingest_zip(good, tmp_path / "no_such_intake")
    assert snapshot(intake) == {}


def test_damaged_member_midway_leaves_nothing(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(tmp_path / "a.zip", ("c/a.mp4", b"A" * 100), ("c/b.mp4", b"B" * 100))
    with zipfile.ZipFile(zf) as z:
        info = z.getinfo("c/b.mp4")
    data = bytearray(zf.read_bytes())
    n, m = struct.unpack_from("<HH", data, info.header_offset + 26)
    data[info.header_offset + 30 + n + m] ^= 0xFF  # first byte of the stored data: CRC mismatch
    zf.write_bytes(bytes(data))
    with pytest.raises(ArchiveInvalidError, match="'c/b.mp4' cannot be read"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def test_too_large_by_declared_size(tmp_path: Path, intake: Path) -> None:
    noise = os.urandom(600 * 1024)  # incompressible, like video: within the inflate ratio, over the size limit
    zf = make_zip(tmp_path / "big.zip", ("c/a.mp4", noise), ("c/b.mp4", noise), compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ArchiveTooLargeError, match="split them"):
        ingest_zip(zf, intake, max_total_bytes=1024**2)
    assert snapshot(intake) == {}


def test_too_large_by_bytes_actually_decompressed(tmp_path: Path, intake: Path, monkeypatch) -> None:
    """The declared sizes are made to lie (0 bytes); the running counter must stop the copy early."""
    zf = make_zip(
        tmp_path / "bomb.zip",
        ("c/a.mp4", bytes(100 * 1024)),
        ("c/bomb.mp4", bytes(8 * 1024**2)),
        compression=zipfile.ZIP_DEFLATED,
    )
    monkeypatch.setattr(zip_ingest, "_declared_size", lambda info: 0)
    decompressed = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        data = real_read(self, n)
        decompressed.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    with pytest.raises(ArchiveTooLargeError, match="'c/bomb.mp4' decompresses to more"):
        ingest_zip(zf, intake, max_total_bytes=1024**2)
    assert sum(decompressed) <= 1024**2 + 2 * zip_ingest._CHUNK < 8 * 1024**2  # aborted, not fully inflated
    assert snapshot(intake) == {}


def test_forged_small_declared_size_does_not_write_more(tmp_path: Path, intake: Path) -> None:
    """A central directory that understates the size passes the declared check but is still refused."""
    zf = make_zip(tmp_path / "bomb.zip", ("c/bomb.mp4", bytes(4 * 1024**2)), compression=zipfile.ZIP_DEFLATED)
    patch_headers(zf, file_size=1000)
    with pytest.raises((ArchiveInvalidError, ArchiveTooLargeError)):
        ingest_zip(zf, intake, max_total_bytes=1024**2)
    assert snapshot(intake) == {}


def test_all_collisions_reported_together_and_nothing_written(tmp_path: Path, intake: Path) -> None:
    (intake / "c" / "S01").mkdir(parents=True)
    (intake / "c" / "S01" / "walk.mp4").write_bytes(b"existing")
    (intake / "c" / "S01" / "Run.mp4").write_bytes(b"existing")
    before = snapshot(intake)
    zf = make_zip(
        tmp_path / "a.zip",
        ("A/b.mp4", b"1"),
        ("a/B.mp4", b"2"),  # same file on a case-insensitive share
        ("n/Jos\u00e9.mp4", b"3"),
        ("n/Jose\u0301.mp4", b"4"),  # same name, NFC vs NFD (macOS)
        ("d/x.mp4", b"5"),
        ("d/x.mp4/y.mp4", b"6"),  # x.mp4 both a file and a folder
        ("C/S01/walk.mp4", b"7"),  # exists already (cohort C -> c)
        ("c/S01/run.mp4", b"8"),  # exists with another case
        ("c/S01/fine.mp4", b"9"),
    )
    with pytest.raises(CollisionError) as err:
        ingest_zip(zf, intake)
    collisions = err.value.collisions
    assert len(collisions) == 5, collisions
    for name in ["A/b.mp4", "a/B.mp4", "n/Jos\u00e9.mp4", "d/x.mp4/y.mp4", "C/S01/walk.mp4", "c/S01/run.mp4"]:
        assert any(repr(name) in c for c in collisions), name
    assert any("already exists" in c for c in collisions) and any("upper/lower case" in c for c in collisions)
    assert "overwrite=True" in str(err.value) and all(c in str(err.value) for c in collisions)
    assert snapshot(intake) == before
    assert pickle.loads(pickle.dumps(err.value)).collisions == collisions


def test_overwrite_replaces_existing_video(tmp_path: Path, intake: Path) -> None:
    (intake / "c").mkdir()
    (intake / "c" / "walk.mp4").write_bytes(b"old")
    zf = make_zip(tmp_path / "a.zip", ("c/walk.mp4", b"new"))
    with pytest.raises(CollisionError, match="already exists"):
        ingest_zip(zf, intake)
    result = ingest_zip(zf, intake, overwrite=True)
    assert result.placed == [intake / "c" / "walk.mp4"]
    assert snapshot(intake) == {"c": None, "c/walk.mp4": b"new"}


def fail_on_call(monkeypatch, n: int, on_first=None) -> None:
    """Make ``os.replace`` raise ``OSError`` on its ``n``-th call (calling ``on_first()`` at the first)."""
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == 1 and on_first:
            on_first()
        if len(calls) == n:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(zip_ingest.os, "replace", replace)


def test_failure_while_placing_removes_everything_placed(tmp_path: Path, intake: Path, monkeypatch) -> None:
    (intake / "c").mkdir()
    (intake / "c" / "keep.mp4").write_bytes(b"keep")
    before = snapshot(intake)
    visible_midway = []
    fail_on_call(monkeypatch, 2, on_first=lambda: visible_midway.extend(intake.rglob("*.mp4")))
    zf = make_zip(tmp_path / "a.zip", ("c/S01/a.mp4", b"a"), ("c/S02/b.mp4", b"b"), ("c/S03/c.mp4", b"c"))
    with pytest.raises(zip_ingest.ArchiveWriteError, match="the disk is full. Nothing was placed"):
        ingest_zip(zf, intake)
    assert visible_midway == [intake / "c" / "keep.mp4"]  # staged videos are never matched by a *.mp4 glob
    assert snapshot(intake) == before  # placed file and created folders removed, staging gone, c/ kept


def test_failure_while_placing_restores_overwritten_video(tmp_path: Path, intake: Path, monkeypatch) -> None:
    (intake / "c").mkdir()
    (intake / "c" / "a.mp4").write_bytes(b"old")
    before = snapshot(intake)
    fail_on_call(monkeypatch, 2)
    zf = make_zip(tmp_path / "a.zip", ("c/a.mp4", b"new"), ("c/b.mp4", b"b"))
    with pytest.raises(zip_ingest.ArchiveWriteError):
        ingest_zip(zf, intake, overwrite=True)
    assert snapshot(intake) == before


def test_success_leaves_only_the_videos(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(tmp_path / "a.zip", ("c/S01/a.mp4", b"a"), ("c/S01/b.m4v", b"b"), ("c/readme.txt", b"r"))
    result = ingest_zip(zf, intake)
    assert sorted(intake.rglob("*.mp4")) == [intake / "c" / "S01" / "a.mp4"]
    assert sorted(p for p in intake.rglob("*") if p.is_file()) == sorted(result.placed)
    assert not [p for p in intake.rglob(".*")]  # no .ingest-* staging, no .partial files


def test_what_the_intake_would_refuse_or_merge_is_refused_before_anything_is_placed(tmp_path):
    intake = tmp_path / "intake"
    (intake / "stroke").mkdir(parents=True)
    (intake / "stroke" / "walk_2.mp4").write_bytes(b"old")
    outside = tmp_path / "outside"
    outside.mkdir()
    (intake / "linked").symlink_to(outside)  # a folder link inside the intake
    archive = make_zip(
        tmp_path / "a.zip",
        ("stroke/walk 1.mp4", b"a"),
        ("stroke/walk_1.mp4", b"b"),
        ("stroke/Walk 2.mp4", b"c"),
        ("stroke/~trial.mp4", b"d"),
        ("linked/p1/walk.mp4", b"e"),
        ("stroke/ok.mp4", b"f"),
    )
    with pytest.raises(CollisionError) as err:
        ingest_zip(archive, intake)
    msg = str(err.value)
    assert "'stroke/walk 1.mp4' and 'stroke/walk_1.mp4' would become the same partition 'stroke-walk_1'" in msg
    assert "'stroke/Walk 2.mp4' and stroke/walk_2.mp4 (already in the intake folder)" in msg
    assert "'~trial.mp4' marks a temporary or hidden file" in msg
    assert "is a symbolic link; ingest does not write through links" in msg
    assert not (intake / "stroke" / "ok.mp4").exists() and not any(outside.rglob("*"))  # nothing placed anywhere


def test_marker_files_and_their_sidecars_are_placed_like_videos(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(
        tmp_path / "a.zip",
        ("lab/S01/walk.c3d", b"c"),
        ("lab/S01/walk.trc", b"t"),
        ("lab/S01/walk_grf.mot", b"g"),
        ("lab/markers.yaml", b"name: x"),
        ("lab/notes.txt", b"n"),
    )
    result = ingest_zip(zf, intake)
    placed = sorted(p.relative_to(intake).as_posix() for p in result.placed)
    assert placed == ["lab/S01/walk.c3d", "lab/S01/walk.trc", "lab/S01/walk_grf.mot", "lab/markers.yaml"]
    with pytest.raises(zip_ingest.ArchiveEmptyError):  # sidecars alone are not a recording
        ingest_zip(make_zip(tmp_path / "b.zip", ("lab/markers.yaml", b"name: x")), intake)


# ------------------------------------------------------------------------------------ hardening, second round


def test_a_member_that_inflates_like_a_bomb_is_refused_before_writing(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(
        tmp_path / "bomb.zip",
        ("c/a.mp4", os.urandom(1000)),
        ("c/bomb.mp4", bytes(24 * 1024**2)),
        compression=zipfile.ZIP_DEFLATED,
    )
    assert zf.stat().st_size < 100 * 1024
    with pytest.raises(ArchiveInvalidError, match=r"'c/bomb.mp4': inflates [\d,]+-fold .* a zip bomb"):
        ingest_zip(zf, intake)  # far below the 20 GiB size limit: the ratio decides
    assert snapshot(intake) == {}


def test_many_small_members_that_inflate_together_are_refused(tmp_path: Path, intake: Path) -> None:
    members = [(f"c/{i}.mp4", bytes(90 * 1024)) for i in range(40)]  # each under the grace size
    zf = make_zip(tmp_path / "bombs.zip", *members, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(ArchiveTooLargeError, match="inflate [\\d,]+-fold"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def test_an_archive_with_too_many_entries_is_refused_at_once(tmp_path: Path, intake: Path, monkeypatch) -> None:
    monkeypatch.setattr(zip_ingest, "MAX_MEMBERS", 50)
    zf = make_zip(tmp_path / "many.zip", *[(f"c/{i}.mp4", b"v") for i in range(51)])
    with pytest.raises(ArchiveInvalidError, match="51 entries, more than the 50"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def test_free_space_is_checked_before_extraction(tmp_path: Path, intake: Path, monkeypatch) -> None:
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(
        zip_ingest.shutil, "disk_usage", lambda p: usage(10 * 1024**3, 0, zip_ingest.FREE_SPACE_RESERVE)
    )
    zf = make_zip(tmp_path / "a.zip", ("c/a.mp4", b"video"))
    with pytest.raises(ArchiveTooLargeError, match="free"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def test_a_name_longer_than_the_file_system_allows_is_refused_cleanly(tmp_path: Path, intake: Path) -> None:
    zf = make_zip(tmp_path / "long.zip", (f"c/{'x' * 300}.mp4", b"v"), ("c/ok.mp4", b"v"))
    with pytest.raises(ArchiveInvalidError, match="longer than 255 bytes"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}


def _unflag_utf8(path: Path, old: bytes = b"", new: bytes = b"", *, clear: bool = True) -> None:
    """Clear the UTF-8 flag of every header (``clear``) and replace ``old`` by ``new`` (same length) in the names."""
    with zipfile.ZipFile(path) as zf:
        local, pos = [i.header_offset for i in zf.infolist()], zf.start_dir
    buf = bytearray(path.read_bytes().replace(old, new) if old else path.read_bytes())
    for off in local if clear else ():
        struct.pack_into("<H", buf, off + 6, struct.unpack_from("<H", buf, off + 6)[0] & ~0x800)
    for _ in local if clear else ():
        struct.pack_into("<H", buf, pos + 8, struct.unpack_from("<H", buf, pos + 8)[0] & ~0x800)
        n, m, k = struct.unpack_from("<HHH", buf, pos + 28)
        pos += 46 + n + m + k
    path.write_bytes(bytes(buf))


def test_names_that_are_not_utf8_are_refused_and_unflagged_utf8_is_read_as_utf8(tmp_path: Path, intake: Path):
    zf = make_zip(tmp_path / "legacy.zip", ("c/José.mp4", b"v"))
    _unflag_utf8(zf, "é".encode(), b"\xe9\xe9")  # a Latin-1 name ("Joséé"): not UTF-8, no flag
    with pytest.raises(ArchiveInvalidError, match="not UTF-8"):
        ingest_zip(zf, intake)
    assert snapshot(intake) == {}
    zf = make_zip(tmp_path / "unflagged.zip", ("c/José.mp4", b"v"))
    _unflag_utf8(zf)  # UTF-8 bytes without the flag (zipfile would read them as CP437: "Jos├⌐")
    assert ingest_zip(zf, intake).placed == [intake / "c" / "José.mp4"]
    zf = make_zip(tmp_path / "lying.zip", ("c/Zoé.mp4", b"v"))
    _unflag_utf8(zf, "é".encode(), b"\xe9\xe9", clear=False)  # flagged UTF-8, but it is not
    with pytest.raises(ArchiveInvalidError, match="not a readable zip archive"):
        ingest_zip(zf, intake)


def test_an_existing_cohort_folder_is_used_under_its_own_spelling(tmp_path: Path, intake: Path) -> None:
    (intake / "Jane_Doe_2026").mkdir()
    zf = make_zip(tmp_path / "a.zip", ("S01/a.mp4", b"a"))
    assert ingest_zip(zf, intake, cohort="jane doe 2026").placed == [intake / "Jane_Doe_2026" / "S01" / "a.mp4"]
    zf = make_zip(tmp_path / "b.zip", ("JANE DOE 2026/S01/b.mp4", b"b"))  # the archive's own folder
    assert ingest_zip(zf, intake).placed == [intake / "Jane_Doe_2026" / "S01" / "b.mp4"]
    assert sorted(p.name for p in intake.iterdir()) == ["Jane_Doe_2026"]


def test_companions_are_written_with_the_videos_and_undone_with_them(tmp_path: Path, intake: Path, monkeypatch):
    (intake / "c").mkdir()
    (intake / "c" / "protocol.yaml").write_text("task: gait\n")
    before = snapshot(intake)
    zf = make_zip(tmp_path / "a.zip", ("c/a.mp4", b"a"), ("c/b.mp4", b"b"))
    fail_on_call(monkeypatch, 2)  # the second video cannot be placed
    with pytest.raises(zip_ingest.ArchiveWriteError):
        ingest_zip(zf, intake, companions=lambda targets: {intake / "c" / "protocol.yaml": b"task: squat\n"})
    assert snapshot(intake) == before  # the protocol is restored with the videos removed
    monkeypatch.undo()
    seen = []
    res = ingest_zip(
        zf,
        intake,
        companions=lambda targets: seen.extend(targets) or {intake / "c" / "protocol.yaml": b"task: squat\n"},
    )
    assert seen == res.placed and (intake / "c" / "protocol.yaml").read_text() == "task: squat\n"
