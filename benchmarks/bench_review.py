"""Review stage cost next to pose estimation, on the Sports2D sample (1768×994, 230 frames), in one process.

* pose:    ``estimate_video`` with BlazePose (decode + inference + tracking + table) — the pose stage
* render:  ``render_review_video`` (decode, draw skeletons and events, H.264 encode at ≤ 960 px) — the review video
* report:  figures + self-contained HTML for one video (``build_report``, after a first warm-up build)

Rounds alternate pose and render; the figure of merit is render frames/s ÷ pose frames/s (target ≥ 2, so that
rendering never becomes the bottleneck), and the report's seconds (target ≤ 1 s).

    .venv/bin/python benchmarks/bench_review.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from neuropose_assets.core.analysis.events import analyse_task
from neuropose_assets.core.analysis.outcomes import compute_outcomes
from neuropose_assets.core.analysis.tasks import TaskSpec
from neuropose_assets.core.io.samples import fetch_samples
from neuropose_assets.core.io.storage import Layout, default_cache_dir
from neuropose_assets.core.io.tables import write_table
from neuropose_assets.core.kinematics.features import compute_features
from neuropose_assets.core.kinematics.skeletons import BLAZEPOSE_33
from neuropose_assets.core.pose.blazepose import BlazePoseBackend
from neuropose_assets.core.pose.estimate import estimate_video
from neuropose_assets.core.review.render import render_review_video
from neuropose_assets.core.review.report import build_report

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def main() -> int:
    clip = fetch_samples(default_cache_dir() / "samples", ["sports2d_demo"])["sports2d_demo"]
    backend = BlazePoseBackend()
    pose_fps, render_fps = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for _ in range(ROUNDS):
            t = time.perf_counter()
            run = estimate_video(backend, clip)
            pose_fps.append(run.n_frames / (time.perf_counter() - t))
            feats, _ = compute_features(run.table, BLAZEPOSE_33)
            spec = TaskSpec(task="generic")
            res = analyse_task(feats, spec)
            r = render_review_video(clip, run.table, res.events, tmp / "review.mp4", skeleton=BLAZEPOSE_33)
            render_fps.append(r.frames_per_s)
        # a data root with this video's tables, for the report
        layout = Layout(tmp / "data")
        from neuropose_assets.core.comparison.dtw import DTWConfig, pairwise, repetition_sequences
        from neuropose_assets.dagster_defs.assets.task import task as _task  # noqa: F401  (the task table's layout)

        prov = {
            "source": {"partition": "s", "sha256": "0" * 64},
            "model": backend.info.as_dict(),
            "configs": {},
            "versions": {},
        }
        import polars as pl

        tables = {
            "poses": run.table,
            "features": feats,
            "events": res.events,
            "repetitions": res.repetitions,
            "outcomes": compute_outcomes(spec, res.events, res.repetitions, feats),
            "repetition_dtw": pl.concat(
                [
                    pairwise(s, DTWConfig())[0]
                    for s in repetition_sequences(feats, res.repetitions, DTWConfig()).values()
                ]
            ),
            "task": pl.DataFrame(
                {
                    "task": ["generic"],
                    "side": pl.Series([None], dtype=pl.Utf8),
                    "expected_repetitions": pl.Series([None], dtype=pl.Int32),
                    "walkway_m": pl.Series([None], dtype=pl.Float64),
                    "camera_view": ["side"],
                    "declared": [True],
                    "declared_by": ["benchmark"],
                    "spec_json": [spec.model_dump_json()],
                }
            ),
        }
        for name, df in tables.items():
            write_table(df, layout.asset_file(name, "s"), prov)
        build_report(layout, "s")  # warm-up: matplotlib import, font cache
        report_s = statistics.median(build_report(layout, "s").seconds for _ in range(3))
    p, r = statistics.median(pose_fps), statistics.median(render_fps)
    print(f"Sports2D, {run.n_frames} frames {run.width_px}x{run.height_px}, {ROUNDS} alternating rounds (median):")
    print(f"  pose stage (BlazePose, estimate_video)   {p:6.1f} frames/s")
    print(f"  review video (render + H.264, 960 px)    {r:6.1f} frames/s   = {r / p:.2f}x the pose stage (target >= 2)")
    print(f"  figures + report for one video           {report_s:6.2f} s (target <= 1 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
