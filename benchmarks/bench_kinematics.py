"""Cost of the model fit (the ``kinematics`` stage) against the pose stage, and its memory against video length.

In one process, on one clip: BlazePose over every frame (decoding included, as the ``poses`` step runs it), then the
fit of the skeletal model to those keypoints; prints both in frames/s and the fit's share of the pose stage's time
per frame (target: ≤ 25 %).  Then the fit alone on the same keypoints repeated 1×, 4× and 16× (forward and backward,
so the movement stays continuous): its time per frame and its peak memory (``tracemalloc``: numpy's allocations),
which must stay flat in the video's length (frames are solved in chunks of
:data:`neuropose_assets.core.kinematics.fit.CHUNK_FRAMES`).

    .venv/bin/python benchmarks/bench_kinematics.py [VIDEO]   (default: the dev set's 5× sit-to-stand, 798 frames)
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

DEFAULT = (
    Path(__file__).resolve().parents[2] / "shared" / "dev_data" / "clips" / "opencap_sit_to_stand_5x_frontoblique.mp4"
)


def main(argv: list[str]) -> int:
    from neuropose_assets.core.kinematics.fit import FitConfig, Observations, fit_model, observations_from_poses
    from neuropose_assets.core.kinematics.skeletons import BLAZEPOSE_33
    from neuropose_assets.core.pose import load_backend
    from neuropose_assets.core.pose.estimate import estimate_video

    video = Path(argv[0]) if argv else DEFAULT
    backend = load_backend("blazepose")
    t0 = time.perf_counter()
    run = estimate_video(backend, video)
    pose_s = time.perf_counter() - t0
    frames, obs = observations_from_poses(run.table, BLAZEPOSE_33, run.width_px, run.height_px)
    fit_model(obs.take(np.arange(min(60, len(frames)))), FitConfig())  # warm-up (imports, first allocations)
    t0 = time.perf_counter()
    fit = fit_model(obs, FitConfig())
    fit_s = time.perf_counter() - t0
    n = len(frames)
    print(f"{video.name}: {n} frames, {run.width_px}×{run.height_px}")
    print(
        f"  pose stage (decode + BlazePose): {pose_s:6.2f} s = {n / pose_s:6.1f} frames/s "
        f"({1000 * pose_s / n:.1f} ms/frame)"
    )
    print(
        f"  model fit:                       {fit_s:6.2f} s = {n / fit_s:6.1f} frames/s "
        f"({1000 * fit_s / n:.1f} ms/frame; "
        f"dimensions {fit.timings['dimensions_s']:.2f} s, frames {fit.timings['frames_s']:.2f} s)"
    )
    print(f"  fit / pose stage per frame: {100 * fit_s / pose_s:.0f} %  (target ≤ 25 %)")
    print("  fit alone on longer recordings (the keypoints played forwards and backwards):")
    for k in (1, 4, 16):
        idx = np.concatenate([np.arange(n) if i % 2 == 0 else np.arange(n)[::-1] for i in range(k)])
        dt = float(np.median(np.diff(obs.times)))
        long = Observations(np.arange(len(idx)) * dt, obs.uv[idx], obs.xyz[idx], obs.conf[idx], obs.width, obs.height)
        tracemalloc.start()
        t0 = time.perf_counter()
        fit_model(long, FitConfig())
        secs = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"    {len(idx):6d} frames ({len(idx) * dt / 60:5.1f} min): {1000 * secs / len(idx):5.1f} ms/frame, peak "
            f"{peak / 2**20:6.0f} MiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
