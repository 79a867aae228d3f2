"""Validate gait events on real marker-based motion capture, and the OpenSim export round trip.

Runs the pinned marker trials (:data:`neuropose_assets.core.io.samples.MOCAP_SAMPLES`: gaitkit's healthy, Parkinson's
and stroke overground trials with annotated heel strikes / toe-offs, and gaitalytics' treadmill trial with annotated
events and two force plates) through the pipeline as marker partitions (``neuropose-assets run --task gait``, one
fresh data root), then prints per trial and event type the agreement with the events recorded in the file (C3D
``EVENT`` annotations, force-plate contacts): counts (matched, missed, extra), median / max |error| in frames and ms,
Bland–Altman bias and limits; then the export → import round trip of every trial's features.

    .venv/bin/python benchmarks/validate_mocap.py [--data-root DIR] [--json OUT]

Targets (issue "Biomechanics interop"): every annotated heel strike found, median |error| ≤ 1 frame, no false
events; the round trip reproduces the features to 1e-6.

The healthy trial's annotations are partly inconsistent with its own markers (left heel strikes at frames 163 and
177, 93 ms apart; right toe-offs at 125, 279 and 287, while the right heel and toe are still on the floor): they are
reported as they are, not filtered.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import polars as pl

from neuropose_assets.core.comparison.agreement import event_agreement
from neuropose_assets.core.interop.opensim import round_trip
from neuropose_assets.core.io.samples import fetch_mocap_samples
from neuropose_assets.core.io.storage import Layout, default_cache_dir


def validate(layout: Layout) -> dict:
    from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
    from neuropose_assets.service.runs import run_videos

    files = fetch_mocap_samples(default_cache_dir() / "samples")
    keys = {f"{k}-c3d": p for k, p in files.items()}
    decl = TaskDeclaration(TaskSpec(task="gait"), "validate_mocap")
    summary = run_videos(layout, keys, "mocap", {k: decl for k in keys}, progress=lambda *a: None)
    report: dict = {}
    tables = []
    with tempfile.TemporaryDirectory() as tmp:
        for row in summary["rows"]:
            key = row["video"]
            rate = pl.read_parquet(layout.asset_file("raw_video", key))["fps"][0]
            entry = {"ok": row["ok"], "error": row["error"], "rate_hz": rate}
            if row["ok"]:
                events = pl.read_parquet(layout.asset_file("events", key))
                ref = pl.read_parquet(layout.asset_file("reference_events", key))
                if ref.height:
                    tables.append(
                        event_agreement(events, ref, tolerance_s=0.25).with_columns(
                            pl.lit(key).alias("trial"), pl.lit(rate).alias("rate_hz")
                        )
                    )
                diffs = round_trip(pl.read_parquet(layout.asset_file("features", key)), Path(tmp))
                entry["round_trip_rel"] = max(diffs.values())
                out = pl.read_parquet(layout.asset_file("outcomes", key))
                entry["cadence_steps_min"] = out.filter(pl.col("measure") == "cadence_steps_min")["value"][0]
            report[key] = entry
    report["_events"] = pl.concat(tables).to_dicts() if tables else []
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", help="fresh data root (default: a temporary folder)")
    ap.add_argument("--json", help="write the report as JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(Path(args.data_root) if args.data_root else Path(tmp) / "data")
        report = validate(layout)
    events = pl.DataFrame(report["_events"])
    print(
        "trial                          rate  reference   event       side   ref  det  miss extra  median |e|"
        "       max |e|          bias (LoA) ms"
    )
    for r in events.sort("trial", "reference", "event", "side").iter_rows(named=True):
        fr = 1000.0 / r["rate_hz"]
        med = "—" if r["median_abs_ms"] is None else f"{r['median_abs_ms'] / fr:4.1f} fr {r['median_abs_ms']:5.1f} ms"
        mx = "—" if r["max_abs_ms"] is None else f"{r['max_abs_ms'] / fr:4.1f} fr {r['max_abs_ms']:5.1f} ms"
        loa = "" if r["loa_low_ms"] is None else f" ({r['loa_low_ms']:.0f} … {r['loa_high_ms']:.0f})"
        bias = "—" if r["bias_ms"] is None else f"{r['bias_ms']:+.1f}{loa}"
        print(
            f"{r['trial']:30s} {r['rate_hz']:4.0f}  {r['reference'][:11]:11s} "
            f"{r['event']:11s} {r['side']:5s} {r['n_reference']:4d} {r['n_detected']:4d} {r['missed']:4d} "
            f"{r['extra']:4d}  {med:16s} {mx:16s} {bias}"
        )
    print()
    for key, e in report.items():
        if not key.startswith("_"):
            print(
                f"{key:30s} ok={e['ok']} cadence={e.get('cadence_steps_min')} "
                f"round trip max rel. difference={e.get('round_trip_rel', float('nan')):.1e}"
                + (f" error={e['error']}" if e["error"] else "")
            )
    hs = events.filter(
        (pl.col("event") == "heel_strike") & (pl.col("side") != "both") & (pl.col("reference") == "c3d_event")
    )
    for label, sel in (
        ("all trials", hs),
        ("without gaitkit_healthy", hs.filter(pl.col("trial") != "gaitkit_healthy-c3d")),
    ):
        frames = [e * r / 1000.0 for e, r in zip(sel["median_abs_ms"].to_list(), sel["rate_hz"].to_list())]
        print(
            f"heel strikes vs annotated events ({label}): {int(sel['n_reference'].sum())} annotated, "
            f"{int(sel['matched'].sum())} matched, {int(sel['missed'].sum())} missed, "
            f"{int(sel['extra'].sum())} extra; "
            f"median |error| per trial and side {', '.join(f'{f:.1f}' for f in frames)} frames"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
