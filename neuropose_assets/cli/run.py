"""``neuropose-assets run``: analyse video files with a declared task, without the UI; prints outcomes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    cohort_arg,
    data_root_option,
    key_arg,
    open_layout,
    print_outcomes,
    progress,
    task_options,
)
from neuropose_assets.core.io.storage import (
    unsupported_format,
)
from neuropose_assets.service.runs import (
    cohort_key,
    command_line_keys,
    declaration,
    native_stderr_to,
    run_videos,
)

HELP = "analyse video files with a declared task, without the UI; prints outcomes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets run``."""
    data_root_option(p)
    p.add_argument("videos", nargs="+", metavar="VIDEO")
    task_options(p, required=True)
    p.add_argument("--cohort", default="runs", type=cohort_arg, help="cohort of these videos (default: runs)")
    p.add_argument("--key", type=key_arg, help="partition key for a single video (default: sanitised file name)")
    p.add_argument(
        "--no-reuse",
        action="store_true",
        help="estimate poses again even when the same video was "
        "analysed before (by default a changed task re-runs only the task-dependent assets)",
    )
    p.add_argument("--no-review", action="store_true", help="skip the review video and report")
    p.add_argument("--verbose", action="store_true", help="show Dagster's event log and native library output")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets run`` command: analyse video files with the declared task (:func:`run_videos`) and
    print their outcomes, reports and where the tables are; returns the process exit code (0 ok; 1 when a video's run
    or the cohort tables failed, each failure printed; 2 for an invalid task or parameter, a path that is not a file or
    not a supported format, ``--key`` with several videos, or files that would share a partition key)."""
    from neuropose_assets.core.analysis.tasks import ProtocolError

    layout = open_layout(args)
    try:
        decl = declaration(args.task, args.param, "--task (neuropose-assets run)", args.subject, args.session)
    except (ProtocolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = [Path(v).expanduser().resolve() for v in args.videos]
    bad = [str(p) for p in paths if not p.is_file()]
    if bad:
        print(f"error: not a file: {', '.join(bad)}", file=sys.stderr)
        return 2
    refused = [unsupported_format(p) for p in paths if unsupported_format(p)]
    if refused:
        print("error: " + "\nerror: ".join(refused), file=sys.stderr)
        return 2
    if args.key and len(paths) > 1:
        print("error: --key names one video; omit it to derive keys from the file names", file=sys.stderr)
        return 2
    cohort = cohort_key(layout, args.cohort)
    try:
        keys, pseudonymous = command_line_keys(layout, paths, cohort, args.key)
    except ValueError as err:
        print(f"error: {err}; pass --key", file=sys.stderr)
        return 2
    if len(set(keys)) < len(keys):
        print(f"error: several files would become the same partition key: {keys}", file=sys.stderr)
        return 2
    with native_stderr_to(None if args.verbose else layout.root / "logs" / "neuropose-assets.log"):
        summary = run_videos(
            layout,
            dict(zip(keys, paths, strict=True)),
            cohort,
            dict.fromkeys(keys, decl),
            reuse=not args.no_reuse,
            pseudonymous=pseudonymous,
            review=not args.no_review,
            verbose=args.verbose,
            progress=progress,
        )
    print_outcomes(summary["rows"])
    reports = [r["report"] for r in summary["rows"] if r.get("report")]
    if reports:
        print(f"\nreports: {', '.join(reports)}")
    print(
        f"\noutputs: {layout.assets}/<asset>/<video>.parquet; cohort table: "
        f"{layout.asset_file('cohort_outcomes', cohort)} "
        f"(`neuropose-assets outcomes {cohort} --csv FILE`)"
    )
    # every failed step, with its message (exit code 1 never comes without a reason on the screen)
    for r in summary["rows"]:
        if not r["ok"]:
            print(f"error: {r['video']}: {r.get('error') or 'failed'}", file=sys.stderr)
        if r.get("review_error"):
            print(f"error: {r['video']}: review video / report: {r['review_error']}", file=sys.stderr)
    if not summary["cohort_ok"]:
        print(f"error: cohort tables of {cohort!r}: {summary.get('cohort_error') or 'failed'}", file=sys.stderr)
    return 0 if all(r["ok"] for r in summary["rows"]) and summary["cohort_ok"] else 1
