"""``neuropose-assets benchmark``: how fast is this machine: per-frame latency percentiles, throughput, peak RSS of the
pose stage and the whole chain (N passes, the first a warm-up)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from neuropose_assets.cli.options import (
    bounded,
)
from neuropose_assets.core.io.storage import (
    default_cache_dir,
)
from neuropose_assets.core.pose import BACKENDS, DEFAULT_BACKEND
from neuropose_assets.service.runs import (
    native_stderr_to,
)

#: the checkout the package runs from (its commit is recorded with each benchmark; none when installed)
REPO = Path(__file__).resolve().parents[2]

HELP = (
    "how fast is this machine: per-frame latency percentiles, throughput, peak RSS of the pose stage and "
    "the whole chain (N passes, the first a warm-up)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets benchmark``."""
    p.add_argument("video")
    p.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    p.add_argument(
        "--passes",
        type=bounded(int, 2, 1000),
        default=5,
        help="passes over the video; the first is a warm-up (default 5)",
    )
    p.add_argument("--task", default="generic", help="task for the events and outcomes stages (default: generic)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter (repeat)")
    p.add_argument(
        "--compare-cpu",
        action="store_true",
        help="repeat with every accelerator hidden in a child "
        "process: speed-up and the largest 3D joint difference in mm",
    )
    p.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    p.add_argument("--log", metavar="FILE", help="append a section to an append-only log (benchmarks/LOG.md)")
    p.add_argument("--verbose", action="store_true", help="show native library output (MediaPipe, TensorFlow)")
    p.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--force-cpu", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--poses-out", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets benchmark`` command: the benchmark of :func:`_benchmark`, with native libraries'
    log lines sent to the cache's ``logs/benchmark.log`` unless ``--verbose``; returns the process exit code (0 ok, 2
    when the video is not a file or cannot be decoded, ``--passes`` is below 2, or the ``--compare-cpu`` run failed)."""
    with native_stderr_to(None if args.verbose else default_cache_dir() / "logs" / "benchmark.log"):
        return _benchmark(args)


def _benchmark(args: argparse.Namespace) -> int:
    import json
    import tempfile
    from datetime import datetime, timezone

    from neuropose_assets.core.analysis.tasks import make_spec, parse_params
    from neuropose_assets.core.io.atomic import atomic_write_bytes, sha256_file
    from neuropose_assets.core.io.errors import VideoError
    from neuropose_assets.core.pose import bench
    from neuropose_assets.dagster_defs.resources import PoseModelResource

    if args.force_cpu:
        bench.hide_accelerators()
    video = Path(args.video).expanduser().resolve()
    if not video.is_file():
        print(f"error: {video} is not a file", file=sys.stderr)
        return 2
    if args.passes < 2:
        print("error: --passes must be at least 2 (the first pass is a warm-up and is not counted)", file=sys.stderr)
        return 2
    spec = make_spec({"task": args.task, **parse_params(args.param or [])}, "--task/--param")
    from neuropose_assets.core.pose import load_backend

    t0 = time.perf_counter()
    backend = load_backend(args.backend, **PoseModelResource(backend=args.backend).settings())
    load_s = time.perf_counter() - t0
    passes, table = [], None
    for i in range(args.passes):
        try:
            res, table = bench.run_pass(backend, video, spec, display=video.name)
        except VideoError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        passes.append(res)
        if not args.quiet:
            print(
                f"pass {i + 1}/{args.passes}{' (warm-up)' if i == 0 else ''}: {res.frames} frames, pose "
                f"{res.pose_fps:.1f} frames/s, chain {res.chain_fps:.1f} frames/s",
                file=sys.stderr,
            )
    command = "neuropose-assets benchmark " + " ".join(
        [video.name, f"--backend {args.backend}", f"--passes {args.passes}", f"--task {args.task}"]
        + [f"--param {p}" for p in args.param or []]
        + (["--compare-cpu"] if args.compare_cpu else [])
    )
    result = bench.BenchmarkResult(
        video=video.name,
        video_sha256=sha256_file(video),
        backend=args.backend,
        model=backend.info.as_dict(),
        device=bench.device(backend),
        model_load_s=load_s,
        passes=[p.__dict__ for p in passes],
        aggregate=bench.aggregate(passes),
        machine=bench.machine(),
        versions=bench.library_versions(),
        commit=bench.git_commit(REPO),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        command=command,
    ).as_dict()
    if args.poses_out:
        table.write_parquet(args.poses_out)
    if args.compare_cpu:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [
                sys.executable,
                "-m",
                "neuropose_assets.cli",
                "benchmark",
                str(video),
                "--backend",
                args.backend,
                "--passes",
                str(args.passes),
                "--task",
                args.task,
                *(f"--param={p}" for p in args.param or []),
                "--force-cpu",
                "--quiet",
                "--json",
                f"{tmp}/cpu.json",
                "--poses-out",
                f"{tmp}/cpu.parquet",
            ]
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "MEDIAPIPE_DISABLE_GPU": "1"}
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if proc.returncode != 0:
                print(
                    f"error: the CPU comparison run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
                    file=sys.stderr,
                )
                return 2
            import polars as pl

            cpu = json.loads(Path(f"{tmp}/cpu.json").read_text())
            diff, rows = bench.poses_divergence_mm(table, pl.read_parquet(f"{tmp}/cpu.parquet"))
        cpu_fps = cpu["aggregate"]["pose_fps"]
        result["compare_cpu"] = {
            "cpu_device": cpu["device"],
            "cpu_pose_fps": cpu_fps,
            "speedup": result["aggregate"]["pose_fps"] / cpu_fps if cpu_fps else 0.0,
            "max_abs_diff_mm": diff,
            "rows_compared": rows,
        }
    if not args.quiet:
        print(bench.format_report(result))
    if args.json:
        atomic_write_bytes(Path(args.json).expanduser(), json.dumps(result, indent=1).encode())
    if args.log:
        bench.append_log(Path(args.log).expanduser(), bench.log_section(result))
        if not args.quiet:
            print(f"appended to {args.log}")
    return 0
