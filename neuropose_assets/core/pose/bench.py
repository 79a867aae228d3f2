"""How fast is this on my machine, and are the numerics right?  The benchmark behind ``neuropose-assets benchmark``.

A benchmark runs the pose stage (:func:`.estimate.estimate_video`: decoding, inference, tracking) and the rest of the
per-video chain (features, events, outcomes: :mod:`..kinematics.features`, :mod:`..analysis.events`,
:mod:`..analysis.outcomes`) ``passes`` times on one video, in this process, as NeuroPose's ``benchmark`` did:

* the **first pass is a warm-up** (model graph compilation, caches, lazy imports) and is reported but not aggregated;
* **per-frame latency** is measured per frame — the wall time of the model call for that frame (a batch's time
  divided by its size when the backend batches, e.g. MeTRAbs) — and pooled over the measured passes: mean, p50, p95,
  p99 (``numpy.percentile``, linear interpolation) and SD (population);
* **throughput** = frames / wall time of the pose stage (decoding included, as a user experiences it), mean over the
  measured passes; the chain's throughput adds features, events and outcomes;
* **peak RSS** = the process's high-water mark (``getrusage``), which includes the model and the decoded frames;
* **device** and library **versions** (read from the installed distributions, nothing imported) come with it.

``--compare-cpu`` repeats the benchmark in a child process with every accelerator hidden (``CUDA_VISIBLE_DEVICES=-1``
and TensorFlow's visible GPUs cleared) and reports the speed-up and the largest element-wise difference of the 3D
joints between the two last passes (:func:`poses_divergence_mm`) — on a CPU-only machine both sides are CPU and the
difference is 0.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import polars as pl

#: distributions whose versions a benchmark and ``neuropose-assets version`` report
KEY_LIBRARIES = (
    "neuropose-assets",
    "dagster",
    "dagster-webserver",
    "mediapipe",
    "tensorflow",
    "numpy",
    "opencv-contrib-python",
    "opencv-python",
    "polars",
    "pyarrow",
    "pandera",
    "scipy",
    "tslearn",
    "ezc3d",
    "pingouin",
    "pydantic",
)
#: schema of the benchmark JSON
SCHEMA_VERSION = 1


def library_versions(names: tuple[str, ...] = KEY_LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (absent ones left out), from the distributions' metadata: nothing is imported."""
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine() -> dict:
    """Cores, memory (GiB), CPU model, GPUs (``nvidia-smi -L``; ``none`` without a driver) and the platform."""
    import shutil
    import subprocess

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpus = "none"
    if shutil.which("nvidia-smi"):
        proc = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        gpus = "; ".join(proc.stdout.split("\n")[:8]).strip("; ") or "none"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else None
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
        "cpu": cpu,
        "gpus": gpus,
        "platform": platform.platform(),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, MB (``getrusage``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def device(backend) -> str:
    """Where ``backend`` runs: MeTRAbs — TensorFlow's visible GPUs, else ``cpu``; BlazePose — the CPU
    (mediapipe's Python solutions run TFLite with XNNPACK on the CPU)."""
    if backend.info.name == "metrabs":
        import tensorflow as tf

        gpus = tf.config.list_logical_devices("GPU")
        return ", ".join(g.name for g in gpus) if gpus else "cpu (TensorFlow)"
    return "cpu (TFLite XNNPACK)"


def hide_accelerators() -> None:
    """Hide every GPU from this process before a backend is loaded (``--force-cpu``)."""
    os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    os.environ["MEDIAPIPE_DISABLE_GPU"] = "1"
    if "tensorflow" in sys.modules:  # already imported: clear its visible GPUs as well
        sys.modules["tensorflow"].config.set_visible_devices([], "GPU")


@dataclass
class PassResult:
    """One pass over the video.

    Attributes:
        frames: decoded frames; latencies_ms: per-frame inference latency ``(frames,)``, ms.
        pose_s: wall time of the pose stage (decode + inference + tracking + table), s.
        chain_s: wall time per later stage (``features``, ``events``, ``outcomes``), s.
        peak_rss_mb: the process's peak RSS after the pass, MB.
    """

    frames: int
    latencies_ms: list[float]
    pose_s: float
    chain_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0

    @property
    def pose_fps(self) -> float:
        """Throughput of the pose stage, frames/s (``frames / pose_s``; 0 when no time was measured)."""
        return self.frames / self.pose_s if self.pose_s > 0 else 0.0

    @property
    def chain_fps(self) -> float:
        """Throughput of the whole chain (pose stage plus every later stage), frames/s; 0 when no time was
        measured."""
        total = self.pose_s + sum(self.chain_s.values())
        return self.frames / total if total > 0 else 0.0


def run_pass(backend, video: Path, spec, display: str | None = None) -> tuple[PassResult, pl.DataFrame]:
    """One pass: pose stage, then features, events and outcomes of task ``spec`` (:class:`..analysis.tasks.TaskSpec`).

    Returns:
        the timings and the ``poses`` table (for :func:`poses_divergence_mm`).
    Raises:
        VideoError: the video cannot be decoded.
    """
    from neuropose_assets.core.analysis.events import analyse_task
    from neuropose_assets.core.analysis.outcomes import compute_outcomes
    from neuropose_assets.core.kinematics.features import compute_features
    from neuropose_assets.core.pose.estimate import estimate_video

    t0 = time.perf_counter()
    run = estimate_video(backend, video, display=display)
    t1 = time.perf_counter()
    features, _ = compute_features(run.table, backend.skeleton)
    t2 = time.perf_counter()
    analysis = analyse_task(features, spec)
    t3 = time.perf_counter()
    compute_outcomes(spec, analysis.events, analysis.repetitions, features, origin=backend.info.origin)
    t4 = time.perf_counter()
    res = PassResult(
        run.n_frames,
        list(run.frame_latencies_ms),
        t1 - t0,
        {"features": t2 - t1, "events": t3 - t2, "outcomes": t4 - t3},
        peak_rss_mb(),
    )
    return res, run.table


def aggregate(passes: list[PassResult]) -> dict:
    """Statistics over the measured passes (all but the first, the warm-up; module docstring).

    Raises:
        ValueError: fewer than two passes.
    """
    if len(passes) < 2:
        raise ValueError("a benchmark needs at least 2 passes: the first is a warm-up and is not counted")
    measured = passes[1:]
    lat = np.concatenate([np.asarray(p.latencies_ms, dtype=float) for p in measured])
    stages = {k: float(np.mean([p.chain_s[k] for p in measured])) for k in measured[0].chain_s}
    return {
        "passes_measured": len(measured),
        "frames_per_pass": measured[0].frames,
        "latency_ms": {
            "mean": float(lat.mean()),
            "p50": float(np.percentile(lat, 50)),
            "p95": float(np.percentile(lat, 95)),
            "p99": float(np.percentile(lat, 99)),
            "sd": float(lat.std()),
        }
        if len(lat)
        else None,
        "pose_fps": float(np.mean([p.pose_fps for p in measured])),
        "pose_s": float(np.mean([p.pose_s for p in measured])),
        "chain_fps": float(np.mean([p.chain_fps for p in measured])),
        "chain_stage_s": stages,
        "peak_rss_mb": float(max(p.peak_rss_mb for p in measured)),
        "warmup": {"pose_s": passes[0].pose_s, "pose_fps": passes[0].pose_fps},
    }


def poses_divergence_mm(a: pl.DataFrame, b: pl.DataFrame) -> tuple[float, int]:
    """Largest |difference| of the 3D joints (``*_mm`` columns, mm) between two ``poses`` tables of the same video,
    over the rows both have (same ``frame`` and ``track``), ignoring joints missing on either side; and the number of
    rows compared.  Rows with nobody detected on both sides count as compared with difference 0.

    Raises:
        ValueError: the tables hold different numbers of frames (not the same video or decoding).
    """
    if a["frame"].n_unique() != b["frame"].n_unique():
        raise ValueError(f"the two runs decoded {a['frame'].n_unique()} and {b['frame'].n_unique()} frames")
    cols = [c for c in a.columns if c.endswith("_mm") and c in b.columns]
    key = ["frame", "track"]
    joined = a.select(key + cols).join(b.select(key + cols), on=key, how="inner", suffix="_b", nulls_equal=True)
    if not cols or joined.height == 0:
        return 0.0, joined.height
    da = joined.select(cols).to_numpy().astype(np.float64)
    db = joined.select([f"{c}_b" for c in cols]).to_numpy().astype(np.float64)
    diff = np.abs(da - db)
    return (float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0), joined.height


def git_commit(repo: Path) -> str | None:
    """The commit of the checkout the package runs from (``None`` outside a git checkout)."""
    import subprocess

    try:
        proc = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=10,
    ).stdout.strip()
    return proc.stdout.strip() + ("-dirty" if dirty else "")


@dataclass
class BenchmarkResult:
    """What ``neuropose-assets benchmark`` reports (and writes with ``--json``)."""

    video: str
    video_sha256: str
    backend: str
    model: dict
    device: str
    model_load_s: float
    passes: list[dict]
    aggregate: dict
    machine: dict
    versions: dict
    commit: str | None
    date: str
    command: str
    compare_cpu: dict | None = None
    schema_version: int = SCHEMA_VERSION

    def as_dict(self) -> dict:
        """The result as a plain dict (nested dataclasses included): what ``--json`` writes and
        :func:`format_report` reads."""
        return asdict(self)


def format_report(r: dict) -> str:
    """The human-readable report of a :class:`BenchmarkResult` dict."""
    a = r["aggregate"]
    lat = a["latency_ms"] or {}
    m = r["machine"]
    lines = [
        f"benchmark of {r['video']} ({a['frames_per_pass']} frames), backend {r['backend']} "
        f"({r['model']['name']}/{r['model']['variant']}, sha256 {r['model']['checksum'][:12]}…) on {r['device']}",
        f"machine: {m['cores']} cores, {m['memory_gib']} GiB, {m['cpu']}; GPUs: {m['gpus']}",
        f"passes: {a['passes_measured'] + 1} (the first, {a['warmup']['pose_s']:.2f} s, is a warm-up and not "
        f"counted); model load {r['model_load_s']:.2f} s",
        "pose stage, per-frame inference latency (ms): "
        + ", ".join(f"{k} {lat[k]:.2f}" for k in ("mean", "p50", "p95", "p99", "sd") if k in lat),
        f"pose stage throughput: {a['pose_fps']:.1f} frames/s (decode + inference + tracking, {a['pose_s']:.2f} s per "
        "pass)",
        "whole chain (pose, features, events, outcomes): "
        f"{a['chain_fps']:.1f} frames/s; " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in a["chain_stage_s"].items()),
        f"peak RSS: {a['peak_rss_mb']:.0f} MB",
        "versions: " + ", ".join(f"{k} {v}" for k, v in r["versions"].items()),
    ]
    c = r.get("compare_cpu")
    if c:
        lines.append(
            f"CPU comparison (accelerators hidden, child process): {c['cpu_pose_fps']:.1f} frames/s on "
            f"{c['cpu_device']}; speed-up {c['speedup']:.2f}×; largest 3D joint difference "
            f"{c['max_abs_diff_mm']:.4f} mm over {c['rows_compared']} rows"
        )
    return "\n".join(lines)


def log_section(r: dict) -> str:
    """One append-only section of ``benchmarks/LOG.md`` for a benchmark result: date, machine, commit, command,
    figures."""
    a = r["aggregate"]
    lat = a["latency_ms"] or {}
    m = r["machine"]
    c = r.get("compare_cpu")
    rows = [
        ("video", f"{r['video']} ({a['frames_per_pass']} frames, sha256 {r['video_sha256'][:12]}…)"),
        (
            "backend / model",
            f"{r['backend']}: {r['model']['name']}/{r['model']['variant']} "
            f"(sha256 {r['model']['checksum'][:12]}…) on {r['device']}",
        ),
        ("passes", f"{a['passes_measured']} measured + 1 warm-up"),
        ("latency per frame, ms", ", ".join(f"{k} {lat[k]:.2f}" for k in ("mean", "p50", "p95", "p99") if k in lat)),
        ("pose stage", f"{a['pose_fps']:.1f} frames/s"),
        ("whole chain", f"{a['chain_fps']:.1f} frames/s"),
        ("peak RSS", f"{a['peak_rss_mb']:.0f} MB"),
        ("model load", f"{r['model_load_s']:.2f} s"),
    ]
    if c:
        rows.append(
            ("CPU comparison", f"speed-up {c['speedup']:.2f}×, largest 3D difference {c['max_abs_diff_mm']:.4f} mm")
        )
    versions = ", ".join(
        f"{k} {v}"
        for k, v in r["versions"].items()
        if k in ("python", "neuropose-assets", "mediapipe", "tensorflow", "numpy", "dagster")
    )
    return "\n".join(
        [
            f"## {r['date']} — {r['backend']} on {m['cores']} cores / {m['memory_gib']} GiB, GPUs: {m['gpus']}",
            "",
            f"- machine: {m['cpu']}; {m['platform']}",
            f"- commit: `{r['commit'] or 'not a git checkout'}`; versions: {versions}",
            f"- command: `{r['command']}`",
            "",
            "| figure | value |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in rows),
            "",
        ]
    )


def append_log(path: Path, section: str) -> None:
    """Append ``section`` to the log at ``path`` (created with a header if absent); earlier sections are never
    rewritten — the new file is the old bytes plus the section, replaced atomically."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    path = Path(path)
    old = (
        path.read_bytes()
        if path.exists()
        else (
            b"# Benchmark log\n\nAppend-only: one section per published run of `neuropose-assets benchmark ... --log "
            b"benchmarks/LOG.md`. Quote speeds from here, with the machine they were measured on.\n\n"
        )
    )
    atomic_write_bytes(path, old + section.encode() + b"\n")
