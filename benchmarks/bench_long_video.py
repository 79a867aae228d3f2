"""Peak memory of one run against video length: the whole per-video chain (`neuropose-assets run`, headless, one
process) on 1080p videos of increasing length (30 fps), made from the Pose2Sim single-person clip (forwards,
backwards, repeated).

    .venv/bin/python benchmarks/bench_long_video.py [MINUTES ...]      # default: 1 10

Reports per length: frames, wall time, the run process's peak RSS (getrusage of the child), and the size of the
stored poses table.  Target (scaling issue): report the 10-minute figure, and keep it flat in video length — frames
are decoded and estimated one at a time (streaming); only the per-frame results, O(frames × joints), accumulate.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from scratch import scratch_dir

from neuropose_assets.core.io.samples import fetch_samples
from neuropose_assets.core.io.storage import Layout, default_cache_dir
from neuropose_assets_tests import media


def make_video(minutes: float, out: Path) -> int:
    """``minutes`` of 1080×1920 (portrait 1080p) H.264 at 30 fps: the Pose2Sim single-person clip forwards and
    backwards, repeated (:func:`media.long_video`), so one person stays in view; returns the frame count."""
    src = fetch_samples(default_cache_dir() / "samples", ["pose2sim_single_cam01"])["pose2sim_single_cam01"]
    media.long_video(src, out, 60 * minutes, vf="fps=30")
    import cv2

    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    return n


def run_once(video: Path, root: Path) -> dict:
    """`neuropose-assets run` on ``video`` in a child process; its wall time and peak RSS."""
    cli = Path(sys.executable).parent / "neuropose-assets"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    res = subprocess.run(
        [str(cli), "run", str(video), "--task", "gait", "--no-review", "--data-root", str(root)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if res.returncode != 0:
        raise SystemExit(f"run failed: {res.stdout[-2000:]} {res.stderr[-2000:]}")
    if peak_kb <= before:  # RUSAGE_CHILDREN is the maximum over all children so far: run the lengths ascending
        print(f"  (peak RSS not above an earlier child's {before / 1024:.0f} MB)")
    poses = next(Layout(root).assets.glob("poses/*.parquet"))
    return {"wall_s": wall, "peak_rss_mb": peak_kb / 1024, "poses_mb": poses.stat().st_size / 2**20}


def main() -> None:
    minutes = [float(a) for a in sys.argv[1:]] or [1.0, 10.0]
    tmp = scratch_dir("np-long-")
    print(f"{os.cpu_count()} cores; 1080×1920 Pose2Sim clip repeated; `neuropose-assets run --task gait --no-review`")
    for m in sorted(minutes):
        video = tmp / f"loop_{m:g}min.mp4"
        n = make_video(m, video)
        r = run_once(video, tmp / f"data_{m:g}")
        print(
            f"{m:g} min = {n} frames: wall {r['wall_s']:.0f} s ({n / r['wall_s']:.1f} frames/s), peak RSS "
            f"{r['peak_rss_mb']:.0f} MB, poses table {r['poses_mb']:.1f} MB",
            flush=True,
        )


if __name__ == "__main__":
    main()
