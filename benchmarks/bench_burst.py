"""A burst of N short videos dropped into the intake folder of a running `neuropose-assets ui` (dagster dev).

Measures the wall time from the drop until every per-video run finished and the cohort matrix was refreshed, and
counts how many pose-estimation steps overlapped (pool ``pose_model``: one per core for BlazePose).  Clips: the first
30 frames of the Pose2Sim cam01 sample at 540x960, each with a different brightness so that every clip has distinct
content.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from daemon_ui import finished_runs, poses_span, running_ui  # noqa: E402
from scratch import scratch_dir  # noqa: E402

from neuropose_assets.core.io.samples import fetch_samples  # noqa: E402
from neuropose_assets.core.io.storage import default_cache_dir  # noqa: E402
from neuropose_assets_tests import media  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20


def main() -> None:
    from dagster import DagsterInstance, DagsterRunStatus

    cam01 = fetch_samples(default_cache_dir() / "samples", ["pose2sim_single_cam01"])["pose2sim_single_cam01"]
    tmp = scratch_dir("np-burst-")
    staging, intake, data = tmp / "staging", tmp / "intake", tmp / "data"
    staging.mkdir()
    (intake / "burst").mkdir(parents=True)
    t = time.perf_counter()
    for i in range(N):
        media.ffmpeg(
            "-i",
            str(cam01),
            "-frames:v",
            "30",
            "-vf",
            f"scale=540:960,eq=brightness={i / (4 * N):.4f}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(staging / f"trial_{i:03d}.mp4"),
        )
    print(f"made {N} clips in {time.perf_counter() - t:.1f} s", flush=True)
    with running_ui(data, intake, 3444, NEUROPOSE_COHORT_INTERVAL_SECONDS="10"):
        t_drop = time.time()
        for f in sorted(staging.iterdir()):
            os.replace(f, intake / "burst" / f.name)
        os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
        inst = DagsterInstance.get()
        done = [r.dagster_run for r in finished_runs(inst, N, poll_s=5)]
        t_runs = time.time()
        while not any(
            r.dagster_run.job_name == "cohort_job"
            and r.dagster_run.status == DagsterRunStatus.SUCCESS
            and (r.end_time or 0) > t_runs
            for r in inst.get_run_records(limit=20)
        ):
            time.sleep(2)
        t_cohort = time.time()
        spans = sorted(s for s in (poses_span(inst, r.run_id) for r in done) if s)
        overlaps = sum(b[0] < a[1] for a, b in zip(spans, spans[1:]))
        ok = sum(r.status == DagsterRunStatus.SUCCESS for r in done)
        busy = sum(e - s for s, e in spans)
        print(f"{N} videos: {ok} runs succeeded, {len(done) - ok} failed")
        print(f"  drop → all runs finished: {t_runs - t_drop:.0f} s ({(t_runs - t_drop) / N:.1f} s/video)")
        cohort_runs = [r for r in inst.get_runs(limit=10 * N) if r.job_name == "cohort_job"]
        print(f"  drop → cohort matrix refreshed: {t_cohort - t_drop:.0f} s ({len(cohort_runs)} cohort runs in all)")
        print(
            f"  pose steps: {len(spans)}, overlapping pairs: {overlaps}, pose-step busy time {busy:.0f} s "
            f"({100 * busy / (t_runs - t_drop):.0f} % of the wall time)"
        )


if __name__ == "__main__":
    main()
