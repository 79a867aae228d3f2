"""Validate task events and counts on the real development clips against their ground truth.

Runs every clip of ``shared/dev_data`` (see its README: hand-counted repetitions, hand-annotated event times and,
for the four OpenCap clips, events from marker-based motion capture) through the pipeline — ``neuropose-assets run``
with the clip's task, one fresh data root — then prints per clip the repetition count (detected vs truth) and, per
event type, the one-to-one matched event-time errors (median / max |error|, signed mean = bias, missed, extra).

    .venv/bin/python benchmarks/validate_outcomes.py [--dev-data ../shared/dev_data] [--data-root DIR] [--json OUT]

Targets (issue "Clinical outcomes per task"): exact counts; event times median |error| ≤ 50 ms.

Per clip it also prints the excluded (incomplete) repetitions, the measured against the declared camera view and every
quality check's verdict (``core.analysis.quality.CHECKS``, the same the UI and the report show).  With ``--wrong`` every
clip is run again (another partition) with a deliberately wrong view and a wrong task (:data:`WRONG`); each must then
fail a check (``camera_view_consistent`` ERROR, ``task_matches_motion`` WARN) and have no metric outcome built on the
wrong assumption (the outcomes that rest on it null)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import polars as pl

from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
from neuropose_assets.core.comparison.agreement import Agreement, match_events
from neuropose_assets.core.io.storage import Layout, sanitize_key

DEFAULT_DEV_DATA = Path(__file__).resolve().parents[2] / "shared" / "dev_data"
SIDE = {"L": "left", "R": "right"}

#: the task each clip shows, and which ground-truth lists the events are compared with: (our event, side, times)
CLIPS = {
    "opencap_sit_to_stand_5x_frontoblique": TaskSpec(task="sit_to_stand", expected_repetitions=5),
    "opencap_squat_5x_frontoblique": TaskSpec(task="squat", expected_repetitions=5),
    "opencap_walking_oblique": TaskSpec(task="gait", camera_view="oblique"),
    "opencap_walking_trunksway_oblique": TaskSpec(task="gait", camera_view="oblique"),
    "dumbbell_squat_2x_side": TaskSpec(task="squat", expected_repetitions=2, camera_view="side"),
    "onelegstance_armraise_front": TaskSpec(task="arm_raise", expected_repetitions=1, camera_view="front"),
}


#: deliberately wrong declarations: clip → (wrong view, wrong task)
WRONG = {
    "opencap_sit_to_stand_5x_frontoblique": ("side", "squat"),
    "opencap_squat_5x_frontoblique": ("side", "sit_to_stand"),
    "opencap_walking_oblique": ("side", "sit_to_stand"),
    "opencap_walking_trunksway_oblique": ("side", "squat"),
    "dumbbell_squat_2x_side": ("front", "gait"),
    "onelegstance_armraise_front": ("side", "squat"),
}
#: outcomes that rest on the declared view (hip-centred BlazePose: the image-based metric scale of a side view)
VIEW_OUTCOMES = (
    "gait_speed_m_s",
    "left_step_length_m",
    "right_step_length_m",
    "left_stride_length_m",
    "right_stride_length_m",
)


def reference_events(clip: dict) -> tuple[str, list[tuple[str, str | None, list[float]]]]:
    """``(source, [(event, side, times)])`` from a ground-truth entry: motion capture where it exists."""
    name = Path(clip["file"]).stem
    mocap, visual = clip.get("events_mocap", {}), clip.get("events_visual", {})
    if name == "opencap_sit_to_stand_5x_frontoblique":
        return "mocap", [
            ("seat_off", None, mocap["seat_off_s_pelvis_10pct_up"]),
            ("standing_reached", None, mocap["standing_reached_s_pelvis_90pct_up"]),
            ("sit_start", None, mocap["stand_to_sit_start_s_pelvis_90pct_down"]),
            ("seated", None, mocap["seated_s_pelvis_10pct_down"]),
        ]
    if name == "opencap_squat_5x_frontoblique":
        return "mocap", [
            ("squat_start", None, mocap["descent_start_s_pelvis_90pct_down"]),
            ("squat_bottom", None, mocap["pelvis_height_min_s"]),
            ("squat_end", None, mocap["back_to_standing_s_pelvis_90pct_up"]),
        ]
    if name.startswith("opencap_walking"):
        out = []
        for kind, event in (("HS", "heel_strike"), ("TO", "toe_off")):
            for s in ("L", "R"):
                out.append(
                    (event, SIDE[s], [e["t_s"] for e in mocap["events"] if e["type"] == kind and e["side"] == s])
                )
        return "mocap", out
    if name == "dumbbell_squat_2x_side":
        return "visual", [
            ("squat_start", None, visual["descent_start_s"]),
            ("squat_bottom", None, visual["bottom_center_s"]),
            ("squat_end", None, visual["back_upright_s"]),
        ]
    if name == "onelegstance_armraise_front":
        top = [visual["arm_raise_top_center_s"]]
        return "visual", [("arm_at_top", "left", top), ("arm_at_top", "right", top)]
    raise KeyError(name)


def reference_count(clip: dict, spec: TaskSpec) -> dict[str, int]:
    """Expected repetitions per side (``both`` for bilateral tasks); heel strikes for the short walks."""
    if spec.task == "gait":
        return {"heel_strikes": clip["steps_heel_strikes_in_clip"]}
    if spec.task == "arm_raise":
        return {s: clip["rep_count"] for s in spec.sides}
    return {"both": clip["rep_count"]}


def detected_count(events: pl.DataFrame, reps: pl.DataFrame, spec: TaskSpec) -> dict[str, int]:
    if spec.task == "gait":
        return {"heel_strikes": events.filter(pl.col("event") == "heel_strike").height}
    if spec.task == "arm_raise":
        return {s: reps.filter(pl.col("side") == s).height for s in spec.sides}
    return {"both": reps.height}


def checks_of(layout: Layout, key: str) -> dict[str, str]:
    """Every quality check's verdict on a partition: ``ok`` or ``WARN: …`` / ``ERROR: …``."""
    from neuropose_assets.core.analysis.quality import evaluate

    return {
        c.name: (f"{max(f.severity for f in flags)}: " + " ".join(f.message for f in flags)) if flags else "ok"
        for c, _, flags in evaluate(layout, key)
    }


def clip_state(layout: Layout, key: str) -> dict:
    """Excluded repetitions, the camera view (declared / measured) and the check verdicts of one partition."""
    from neuropose_assets.core.io.tables import read_provenance

    reps = pl.read_parquet(layout.asset_file("repetitions", key))
    view = read_provenance(layout.asset_file("outcomes", key)).get("camera_view", {})
    out = pl.read_parquet(layout.asset_file("outcomes", key))
    return {
        "excluded_repetitions": int((~reps["complete"]).sum()),
        "view_declared": view.get("declared"),
        "view_measured": view.get("measured", {}).get("view"),
        "view_angle_deg": view.get("measured", {}).get("angle_deg"),
        "checks": checks_of(layout, key),
        "outcomes": dict(zip(out["measure"].to_list(), out["value"].to_list(), strict=True)),
        "null_reasons": dict(zip(out["measure"].to_list(), out["null_reason"].to_list(), strict=True)),
    }


def validate_wrong(dev_data: Path, layout: Layout) -> dict:
    """Each clip with a wrong view and with a wrong task (:data:`WRONG`): which check caught it, and whether any
    outcome that rests on the wrong assumption still has a value."""
    from neuropose_assets.service.runs import run_videos

    truth = {Path(c["file"]).stem: c for c in json.loads((dev_data / "ground_truth.json").read_text())["clips"]}
    videos, decls, what = {}, {}, {}
    for name, (view, task) in WRONG.items():
        right = CLIPS[name]
        for kind, spec in (
            ("view", right.model_copy(update={"camera_view": view})),
            ("task", TaskSpec(task=task, camera_view=right.camera_view)),
        ):
            key = sanitize_key(f"{name}_wrong_{kind}")
            videos[key] = dev_data / truth[name]["file"]
            decls[key] = TaskDeclaration(spec, "benchmarks/validate_outcomes.py --wrong")
            what[key] = (name, kind, view if kind == "view" else task)
    summary = run_videos(layout, videos, "dev_data", decls, reuse=True)
    ok = {r["video"]: r for r in summary["rows"]}
    report = {}
    for key, (name, kind, declared) in what.items():
        if not ok[key]["ok"]:
            report[key] = {"clip": name, "wrong": kind, "declared": declared, "error": ok[key]["error"]}
            continue
        state = clip_state(layout, key)
        check = "camera_view_consistent" if kind == "view" else "task_matches_motion"
        values = state["outcomes"]
        if kind == "view":
            leaked = [m for m in VIEW_OUTCOMES if values.get(m) is not None]
        else:
            leaked = [m for m, v in values.items() if v is not None and m != "camera_view_angle_deg"]
        report[key] = {
            "clip": name,
            "wrong": kind,
            "declared": declared,
            "check": check,
            "verdict": state["checks"].get(check, "not run"),
            "leaked_outcomes": leaked,
            "view_measured": state["view_measured"],
            "view_angle_deg": state["view_angle_deg"],
        }
    return report


def validate(dev_data: Path, layout: Layout) -> dict:
    from neuropose_assets.service.runs import run_videos

    truth = {Path(c["file"]).stem: c for c in json.loads((dev_data / "ground_truth.json").read_text())["clips"]}
    videos = {sanitize_key(name): dev_data / truth[name]["file"] for name in CLIPS}
    decls = {sanitize_key(n): TaskDeclaration(spec, "benchmarks/validate_outcomes.py") for n, spec in CLIPS.items()}
    summary = run_videos(layout, videos, "dev_data", decls, reuse=True)
    ok = {r["video"]: r for r in summary["rows"]}
    report, overall = {}, Agreement()
    for name, spec in CLIPS.items():
        key = sanitize_key(name)
        if not ok[key]["ok"]:
            report[name] = {"error": ok[key]["error"]}
            continue
        events = pl.read_parquet(layout.asset_file("events", key))
        reps = pl.read_parquet(layout.asset_file("repetitions", key)).filter(pl.col("complete"))
        source, refs = reference_events(truth[name])
        per_event = {}
        for event, side, times in refs:
            sel = events.filter(pl.col("event") == event)
            if side is not None:
                sel = sel.filter(pl.col("side") == side)
            a = match_events(sel["time_s"].to_list(), times)
            per_event[f"{event}{'/' + side if side else ''}"] = a
            overall = overall + a
        clip_all = sum(per_event.values(), Agreement())
        report[name] = {
            "task": spec.task,
            "source": source,
            "count_detected": detected_count(events, reps, spec),
            "count_truth": reference_count(truth[name], spec),
            "events": {
                k: {
                    "median_abs_ms": a.median_abs_ms,
                    "max_abs_ms": a.max_abs_ms,
                    "bias_ms": a.mean_ms,
                    "matched": len(a.errors_s),
                    "missed": a.missed,
                    "extra": a.extra,
                }
                for k, a in per_event.items()
            },
            "median_abs_ms": clip_all.median_abs_ms,
            "max_abs_ms": clip_all.max_abs_ms,
            **{k: v for k, v in clip_state(layout, key).items() if k not in ("outcomes", "null_reasons")},
        }
    report["_overall"] = {
        "median_abs_ms": overall.median_abs_ms,
        "max_abs_ms": overall.max_abs_ms,
        "bias_ms": overall.mean_ms,
        "matched": len(overall.errors_s),
        "missed": overall.missed,
        "extra": overall.extra,
    }
    return report


def _ms(x: float | None) -> str:
    return "—" if x is None else f"{x:.0f}"


def print_report(report: dict) -> None:
    print(f"\n{'clip':<40} {'task':<13} {'count det/truth':<22} {'median':>7} {'max':>6}  (|event time error|, ms)")
    for name, r in report.items():
        if name.startswith("_"):
            continue
        if "error" in r:
            print(f"{name:<40} FAILED: {r['error']}")
            continue
        det, tru = r["count_detected"], r["count_truth"]
        counts = ", ".join(f"{k} {det[k]}/{tru[k]}" for k in tru)
        exact = "" if det == tru else "  ✗"
        print(
            f"{name:<40} {r['task']:<13} {counts + exact:<22} {_ms(r['median_abs_ms']):>7} {_ms(r['max_abs_ms']):>6}"
            f"  vs {r['source']}"
        )
        for ev, e in r["events"].items():
            print(
                f"    {ev:<26} median {_ms(e['median_abs_ms']):>4}  max {_ms(e['max_abs_ms']):>4}  bias "
                f"{_ms(e['bias_ms']):>5}  matched {e['matched']}  "
                f"missed {e['missed']}  extra {e['extra']}"
            )
        print(
            f"    excluded (incomplete) repetitions {r['excluded_repetitions']}; view declared {r['view_declared']}, "
            f"measured {r['view_measured']} ({r['view_angle_deg']}°)"
        )
        for name_, verdict in r["checks"].items():
            print(f"    check {name_:<24} {verdict[:150]}")
    o = report["_overall"]
    exact = sum(
        1 for n, r in report.items() if not n.startswith("_") and r.get("count_detected") == r.get("count_truth")
    )
    print(
        f"\noverall: exact counts {exact}/{len(CLIPS)}; event times median |error| {_ms(o['median_abs_ms'])} ms, max "
        f"{_ms(o['max_abs_ms'])} ms, bias {_ms(o['bias_ms'])} ms; {o['matched']} matched, {o['missed']} missed, "
        f"{o['extra']} extra"
    )


def print_wrong(report: dict) -> None:
    print(f"\n{'clip (wrong declaration)':<52} {'caught by':<24} {'verdict':<6} leaked outcomes")
    caught = clean = 0
    for r in report.values():
        if "error" in r:
            print(f"{r['clip'] + ' ' + r['wrong'] + '=' + r['declared']:<52} FAILED: {r['error']}")
            continue
        verdict = r["verdict"].split(":")[0]
        caught += verdict in ("WARN", "ERROR")
        clean += not r["leaked_outcomes"]
        print(
            f"{r['clip'] + ' ' + r['wrong'] + '=' + r['declared']:<52} {r['check']:<24} {verdict:<6} "
            f"{', '.join(r['leaked_outcomes']) or 'none'}"
        )
    print(
        f"\nwrong declarations: {caught}/{len(report)} caught by a WARN or ERROR check; {clean}/{len(report)} "
        "with no outcome built on the wrong assumption"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev-data", type=Path, default=DEFAULT_DEV_DATA)
    ap.add_argument("--data-root", type=Path, help="data root to use (default: a fresh temporary one)")
    ap.add_argument("--json", type=Path, help="also write the report as JSON")
    ap.add_argument("--wrong", action="store_true", help="also run every clip with a wrong view and a wrong task")
    args = ap.parse_args(argv)
    if not (args.dev_data / "ground_truth.json").exists():
        print(f"error: no ground_truth.json under {args.dev_data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        layout = Layout(args.data_root or Path(tmp) / "data")
        report = validate(args.dev_data, layout)
        wrong = validate_wrong(args.dev_data, layout) if args.wrong else None
    print_report(report)
    if wrong is not None:
        print_wrong(wrong)
        report["_wrong"] = wrong
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
