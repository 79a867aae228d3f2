"""``neuropose-assets demo``: fetch samples and materialize every asset for every sample."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from neuropose_assets.cli.options import (
    data_root_option,
    open_layout,
    print_outcomes,
    progress,
)
from neuropose_assets.core.io.storage import (
    Layout,
    default_cache_dir,
)
from neuropose_assets.service.runs import (
    native_stderr_to,
    run_videos,
)

HELP = "fetch samples and materialize every asset for every sample"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets demo``."""
    data_root_option(p)
    p.add_argument("--cache", default=str(default_cache_dir() / "samples"))
    p.add_argument("--only", nargs="*", help="sample keys (default: all)")
    p.add_argument("--verbose", action="store_true", help="show Dagster's event log and native library output")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets demo`` command: :func:`run_demo` on the data root; returns the process exit code (0 ok,
    1 when a sample's run or the cohort tables failed)."""
    summary = run_demo(open_layout(args), Path(args.cache), args.only, verbose=args.verbose)
    ok = all(r["ok"] for r in summary["rows"]) and summary["cohort_ok"]
    return 0 if ok else 1


def run_demo(layout: Layout, cache: Path, only: list[str] | None = None, out=print, *, verbose: bool = False) -> dict:
    """Fetch samples, register them with their declared tasks, materialize everything, return a summary dict (also
    printed through ``out``)."""
    import psutil

    t_start = time.perf_counter()
    # the interpreter and the modules imported before this function ran count as imports too
    before = max(0.0, time.time() - psutil.Process().create_time())
    import polars as pl  # noqa: F401  (imported here so that its import time counts in imports_s)

    from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec, visit_of
    from neuropose_assets.core.io.samples import SAMPLE_CLIPS, fetch_samples

    t_imports = before + time.perf_counter() - t_start
    t = time.perf_counter()
    clips = fetch_samples(cache, only)
    t_fetch = time.perf_counter() - t
    cohort = "samples"
    specs = {
        c.key: TaskDeclaration(TaskSpec(**dict(c.task)), "demo (neuropose_assets.core.io.samples)").with_visit(
            visit_of(**dict(c.visit), where="demo") if c.visit else None
        )
        for c in SAMPLE_CLIPS
    }
    with native_stderr_to(None if verbose else layout.root / "logs" / "neuropose-assets.log"):
        summary = run_videos(
            layout,
            clips,
            cohort,
            {k: specs[k] for k in clips},
            reuse=False,
            review=True,
            verbose=verbose,
            progress=progress,
        )
    timing = {"imports_s": t_imports, "fetch_s": t_fetch, **summary["timing"]}
    timing["total_s"] = time.perf_counter() - t_start + before
    summary["timing"] = timing
    from neuropose_assets.core.analysis import summary as fmt

    rows = [
        [
            r["video"],
            "ok" if r["ok"] else "FAILED",
            r["meta"]["events"].get("task") or "?",
            str(r["meta"]["poses"].get("n_frames")),
            str(r["meta"]["poses"].get("frames_with_subject")),
            str(r["meta"]["repetitions"].get("repetitions")),
            f"{r['wall_s']:.1f}",
        ]
        for r in summary["rows"]
    ]
    out(f"\nneuropose-assets demo — data root {layout.root}\n")
    out(
        fmt.text_table(
            rows, ["video", "status", "task", "frames", "with subject", "repetitions", "wall [s]"], right={3, 4, 5, 6}
        )
    )
    print_outcomes(summary["rows"], out)
    # the clinical clips' outcomes next to their reference values (motion capture, hand counts)
    refs = []
    for clip in SAMPLE_CLIPS:
        row = next((r for r in summary["rows"] if r["video"] == clip.key and r["ok"]), None)
        if row is None or not clip.reference or row["outcomes"] is None:
            continue
        values = dict(zip(row["outcomes"]["measure"], row["outcomes"]["value"], strict=True))
        for measure, ref, source in clip.reference:
            refs.append(
                [
                    clip.key,
                    measure,
                    fmt.shown(measure, values.get(measure)),
                    fmt.shown(measure, ref),
                    fmt.unit_label(measure),
                    source,
                ]
            )
    if refs:
        out("\nclinical clips against their reference values:")
        out(fmt.text_table(refs, ["video", "measure", "computed", "reference", "unit", "reference from"], right={2, 3}))
    cm = summary["cohort"]
    n = cm.get("sequences", 0)
    out(
        f"\ncohort '{cohort}': outcome table {cm.get('outcomes_videos', 0)} videos "
        f"({layout.asset_file('cohort_outcomes', cohort)}); DTW matrix {n} x {n} on mean repetitions "
        f"({cm.get('pairs', 0)} pairs; left out: {cm.get('missing_members', '?')})"
    )
    print_changes(layout, cohort, out)
    out("time: " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items()))
    reports = [r["report"] for r in summary["rows"] if r.get("report")]
    if reports:
        out(
            f"reports (HTML, open in a browser): {layout.reports}/<video>.html, e.g. {reports[0]}; review videos: "
            f"{layout.review}/<video>.mp4"
        )
    out(
        f"\nBrowse runs, lineage and metadata in the Dagster UI:\n"
        f"  .venv/bin/neuropose-assets ui --data-root {layout.root}\n"
        f"  then open http://127.0.0.1:3000  (Assets → Lineage; per_video_job partitions)\n"
        f"Analyse your own video: .venv/bin/neuropose-assets run VIDEO --task gait|tug|sit_to_stand|squat|arm_raise\n"
        f"Read the tables from a notebook: polars.read_parquet('{layout.assets}/outcomes/*.parquet')"
    )
    return summary


def print_changes(layout, cohort: str, out=print) -> None:
    """Print the cohort's ``subject_changes`` (:mod:`neuropose_assets.core.analysis.change`) through ``out``: per
    subject and outcome the change between sessions with its 95 % interval and the verdict, or why there is none."""
    import polars as pl

    from neuropose_assets.core.analysis import summary as fmt

    path = layout.asset_file("subject_changes", cohort)
    if not path.exists():
        return
    df = pl.read_parquet(path)
    if not df.height:
        out("\nsubject changes: no subject has two sessions")
        return
    rows = [
        [
            r["subject"],
            r["measure"],
            f"{r['session_from']} → {r['session_to']}",
            fmt.with_interval(r["measure"], r["change"], r["change_ci_low"], r["change_ci_high"]),
            fmt.unit_label(r["measure"]),
            r["verdict"] or f"— {r['verdict_null_reason']}",
        ]
        for r in df.iter_rows(named=True)
    ]
    out(f"\nsubject changes ({path}; the demo's two squat recordings stand in for two sessions of one subject):")
    out(fmt.text_table(rows, ["subject", "measure", "sessions", "change (95 % CI)", "unit", "verdict"], right={3}))
