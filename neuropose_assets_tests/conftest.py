"""Shared fixtures: synthetic videos, the real sample clips (fetched and verified on first use), a data root."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from neuropose_assets.core.storage import Layout, default_cache_dir


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """Write BGR uint8 frames to an MPEG-4 Part 2 ``.mp4`` with OpenCV."""
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert vw.isOpened()
    for f in frames:
        vw.write(f)
    vw.release()
    return path


@pytest.fixture
def gradient_video(tmp_path: Path) -> Path:
    """A 2 s, 64x48, 25 fps video of moving gradients: decodable, nobody in it."""
    frames = []
    for i in range(50):
        x = np.linspace(0, 255, 64, dtype=np.float32)[None, :] + 4 * i
        img = np.repeat(np.mod(x, 256), 48, axis=0).astype(np.uint8)
        frames.append(np.dstack([img, img[::-1], np.full_like(img, 80)]))
    return write_video(tmp_path / "empty_room.mp4", frames, fps=25.0)


@pytest.fixture(scope="session")
def sample_cache() -> Path:
    return default_cache_dir() / "samples"


@pytest.fixture(scope="session")
def cam01(sample_cache: Path) -> Path:
    """Pose2Sim single-person camera 1 (1080x1920, 60 fps, 100 frames), SHA-256 verified."""
    from neuropose_assets.core.samples import fetch_samples

    return fetch_samples(sample_cache, ["pose2sim_single_cam01"])["pose2sim_single_cam01"]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "data")
