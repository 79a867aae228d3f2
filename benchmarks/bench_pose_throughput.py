"""Pose-stage throughput on the Sports2D clip next to a bare MediaPipe loop over the same clip, in one process.

* bare:      cv2 decode → BGR→RGB → ``Pose.process`` → nothing kept (the floor any pipeline must pay)
* core:      ``estimate_video`` (threaded decode, landmark conversion, tracking, table) + atomic Parquet write
* step:      the ``poses`` step inside a Dagster run (compute + IO-manager Parquet write; Dagster's step duration)
* run:       the whole Dagster run that materializes ``poses`` (adds the fixed per-run cost: run start, resource
             init, the blocking contract / subject checks)

Rounds alternate the three so that machine noise hits all of them alike; the figure of merit is the ratio of median
frames/s (pipeline / bare), target ≥ 0.95.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import cv2
from scratch import scratch_dir

from neuropose_assets.core.io.samples import fetch_samples
from neuropose_assets.core.io.storage import Layout, default_cache_dir
from neuropose_assets.core.io.tables import write_table
from neuropose_assets.core.pose.blazepose import BlazePoseBackend, import_mediapipe
from neuropose_assets.core.pose.estimate import estimate_video


def bare_loop(path: Path, kwargs: dict) -> int:
    mp = import_mediapipe()
    cap = cv2.VideoCapture(str(path))
    n = 0
    with mp.solutions.pose.Pose(**kwargs) as pose:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            pose.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            n += 1
    cap.release()
    return n


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3  # read here: other benchmarks import this module
    import dagster as dg

    from neuropose_assets.definitions import build_defs
    from neuropose_assets.service.runs import register_videos

    clip = fetch_samples(default_cache_dir() / "samples", ["sports2d_demo"])["sports2d_demo"]
    backend = BlazePoseBackend()
    kwargs = {**backend.info.settings, "enable_segmentation": False}
    tmp = scratch_dir("np-bench-")
    layout = Layout(tmp / "data")
    fps: dict[str, list[float]] = {"bare": [], "core": [], "step": [], "run": []}
    with dg.instance_for_test() as instance:
        register_videos(instance, layout, {"sports2d_demo": clip}, "bench")
        defs = build_defs(str(layout.root))
        job = defs.resolve_job_def("per_video_job")
        job.execute_in_process(
            partition_key="sports2d_demo",
            instance=instance,
            op_selection=None,
            asset_selection=[dg.AssetKey("raw_video")],
        )
        estimate_video(backend, clip)  # warm-up (graph init, caches)
        for r in range(rounds):
            t = time.perf_counter()
            n = bare_loop(clip, kwargs)
            fps["bare"].append(n / (time.perf_counter() - t))

            t = time.perf_counter()
            run = estimate_video(backend, clip)
            write_table(run.table, tmp / "poses.parquet", {"x": 1})
            fps["core"].append(run.n_frames / (time.perf_counter() - t))

            t = time.perf_counter()
            res = job.execute_in_process(
                partition_key="sports2d_demo", instance=instance, asset_selection=[dg.AssetKey("poses")]
            )
            wall = time.perf_counter() - t
            assert res.success
            step_ms = next(
                e.event_specific_data.duration_ms for e in res.get_step_success_events() if e.step_key == "poses"
            )
            fps["step"].append(run.n_frames / (step_ms / 1000))
            fps["run"].append(run.n_frames / wall)
            print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} fps" for k, v in fps.items()), flush=True)
    med = {k: statistics.median(v) for k, v in fps.items()}
    print(f"\nSports2D demo ({n} frames), median of {rounds} rounds:")
    for k, v in med.items():
        print(f"  {k:8s} {v:6.1f} frames/s   ratio to bare {v / med['bare']:.3f}")
    fixed = n / med["run"] - n / med["step"]
    print(f"  fixed per-run Dagster cost (run - step): {fixed:.2f} s per video, independent of its length")


if __name__ == "__main__":
    main()
