import os
import stat

import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.io.atomic import atomic_path, sha256_file
from neuropose_assets.core.io.rawvideo import store_video
from neuropose_assets.core.io.storage import Registry, check_key, sanitize_key
from neuropose_assets.core.io.tables import read_provenance, write_table
from neuropose_assets.core.io.video import VideoError, iter_frames, probe_video


def test_probe_and_decode_synthetic_video(gradient_video):
    p = probe_video(gradient_video)
    assert (p.fps, p.frame_count, p.width_px, p.height_px, p.rotation_deg) == (25.0, 50, 64, 48, 0)
    assert p.duration_s == pytest.approx(2.0)
    frames = list(iter_frames(gradient_video))
    assert len(frames) == 50 and frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    t = np.array([f.time_s for f in frames])
    np.testing.assert_allclose(t, np.arange(50) / 25.0, atol=1e-6)


def test_unusable_files_give_actionable_errors(tmp_path):
    empty = tmp_path / "walk.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError, match="empty.*Copy the original recording again"):
        probe_video(empty)
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n" * 100)
    with pytest.raises(VideoError, match="could not be opened as a video|no picture"):
        probe_video(fake)
    with pytest.raises(VideoError, match="does not exist"):
        probe_video(tmp_path / "gone.mp4")


def test_sanitize_and_check_keys():
    assert sanitize_key("Session 2026-04-15 / Trial @1") == "session_2026-04-15_trial_1"
    assert sanitize_key("Müller Gang") == "muller_gang"
    with pytest.raises(ValueError):
        sanitize_key("!!!")
    for bad in ("a/b", "a,b", "a|b", "..", "A"):
        with pytest.raises(ValueError):
            check_key(bad)


def test_registry_round_trip_and_missing_partition(layout, gradient_video):
    reg = Registry(layout)
    reg.register("v1", gradient_video, "cohort_a")
    reg.register("v2", gradient_video, "cohort_b")
    assert reg.get("v1").cohort == "cohort_a"
    assert [e.partition for e in reg.members("cohort_b")] == ["v2"]
    with pytest.raises(KeyError, match="not registered"):
        reg.get("v3")


def test_store_video_is_content_addressed_read_only_and_rejects_non_video(layout, gradient_video, tmp_path):
    s1 = store_video(gradient_video, layout)
    assert s1.sha256 == sha256_file(gradient_video)
    assert s1.stored_path == layout.cas_file(s1.sha256, ".mp4")
    assert not os.stat(s1.stored_path).st_mode & stat.S_IWUSR
    copy = tmp_path / "same content, other name.mp4"
    copy.write_bytes(gradient_video.read_bytes())
    assert store_video(copy, layout).stored_path == s1.stored_path
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(VideoError, match="bad.mp4"):
        store_video(bad, layout)
    stored = sorted(p.name for p in layout.cas.rglob("*") if p.is_file())
    assert stored == [s1.stored_path.name]  # nothing of the bad file, no partial files


def test_atomic_write_leaves_target_untouched_on_failure(tmp_path):
    target = tmp_path / "t.parquet"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]


def test_tables_carry_provenance_and_are_byte_identical_on_rewrite(tmp_path):
    df = pl.DataFrame({"frame": pl.Series([0, 1], dtype=pl.Int32), "x_mm": [1.5, None]})
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_table(df, a, {"model": {"name": "m"}, "configs": {"x": 1}})
    write_table(df, b, {"configs": {"x": 1}, "model": {"name": "m"}})
    assert a.read_bytes() == b.read_bytes()
    assert read_provenance(a)["model"]["name"] == "m"
    assert pl.read_parquet(a).equals(df)


def test_impossible_timing_is_refused(tmp_path):
    import numpy as np
    import pytest

    from neuropose_assets.core.io.video import VideoError, VideoProbe, probe_video, verify_decoding
    from neuropose_assets_tests.conftest import write_video

    frames = [np.full((48, 64, 3), i * 20, np.uint8) for i in range(5)]
    liar = write_video(tmp_path / "liar.mp4", frames, fps=15360.0)  # a header claiming 15360 frames per second
    with pytest.raises(VideoError, match="claims 15360 frames per second"):
        probe_video(liar)
    probe = VideoProbe(
        fps=30.0, frame_count=100, duration_s=3.33, width_px=64, height_px=48, rotation_deg=0, codec="h264"
    )
    assert verify_decoding(probe, np.arange(100) / 30.0, "ok.mp4") == 0  # consistent: no error
    assert verify_decoding(probe, np.arange(97) / 30.0, "cut.mp4") == 3  # counted (a WARN), not refused
    with pytest.raises(VideoError, match="is a single picture, not a video"):
        verify_decoding(probe, np.zeros(1), "still.mp4")
    with pytest.raises(VideoError, match="Only 31 of the 100 frames .* truncated"):
        verify_decoding(probe, np.arange(31) / 30.0, "cut.mp4")
    gap = np.arange(100) / 30.0
    gap[50:] += 3600
    with pytest.raises(VideoError, match="jump by 3600 s"):
        verify_decoding(probe, gap, "gap.mp4")
    with pytest.raises(VideoError, match="jump by 260416 s"):  # the reported case: one frame at 260416 s
        verify_decoding(VideoProbe(30.0, 1, 0.03, 64, 48, 0, "h264"), np.array([0.0, 260416.0]), "lie.mp4")
    with pytest.raises(VideoError, match="span 9 s although the file announces 3.3 s"):
        verify_decoding(probe, np.arange(100) * 0.09, "slow.mp4")


def test_still_pictures_renamed_as_videos_are_refused(tmp_path):
    import cv2
    import numpy as np
    import pytest

    from neuropose_assets.core.io.video import VideoError, probe_video, still_image_format

    frame = np.full((48, 64, 3), 100, np.uint8)
    for ext, name in ((".jpg", "JPEG"), (".png", "PNG"), (".bmp", "BMP"), (".tiff", "TIFF"), (".webp", "WebP")):
        cv2.imwrite(str(tmp_path / f"p{ext}"), frame)
        (tmp_path / f"p{ext}").rename(tmp_path / f"{name}.mp4")
        with pytest.raises(VideoError, match=f"is a {name} picture, not a video"):
            probe_video(tmp_path / f"{name}.mp4")
    assert still_image_format(b"\x00\x00\x00\x18ftypheic") == "HEIC"
    assert still_image_format(b"\x00\x00\x00\x18ftypisom") is None  # an MP4


def test_orphaned_temporary_files_of_killed_writers_are_swept(tmp_path):
    import os
    import subprocess
    import time

    from neuropose_assets.core.io.atomic import sweep_orphans, temp_name

    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = tmp_path / f".incoming.{dead.pid}.0123abcd.partial"  # a staging copy whose process is gone
    orphan.write_bytes(b"x" * 100)
    mine = tmp_path / temp_name("incoming")  # a write in progress (this process)
    mine.write_bytes(b"y")
    other = tmp_path / ".notes.partial"  # not one of ours: never touched
    other.write_bytes(b"z")
    old = time.time() - 3600
    for p in (orphan, mine, other):
        os.utime(p, (old, old))
    assert sweep_orphans(tmp_path) == [orphan]
    assert mine.exists() and other.exists()
    fresh = tmp_path / f".incoming.{dead.pid}.89abcdef.partial"  # too recent: maybe a slow NFS write
    fresh.write_bytes(b"x")
    assert sweep_orphans(tmp_path) == [] and fresh.exists()


def test_a_replaced_video_withdraws_its_claim_on_the_old_content(tmp_path):
    from neuropose_assets.core.io.rawvideo import claim_content, claimants
    from neuropose_assets.core.io.storage import Layout

    layout = Layout(tmp_path / "data")
    old, new = "a" * 64, "b" * 64
    assert claim_content(layout, old, "p1") == []
    assert claim_content(layout, old, "p2") == ["p1"]  # the same recording under two names
    assert claim_content(layout, new, "p1", previous_sha256=old) == []  # p1 was replaced by another recording
    assert claimants(layout, old) == {"p2"}  # p2 is no longer "the same as p1"
    assert claim_content(layout, new, "p1", previous_sha256=new) == [] and claimants(layout, new) == {"p1"}
