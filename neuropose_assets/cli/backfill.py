"""``neuropose-assets backfill``: (re)run every video of a cohort, or only the failed/missing ones."""

from __future__ import annotations

import argparse
import sys

from neuropose_assets.cli.options import (
    cohort_arg,
    data_root_option,
    open_layout,
)
from neuropose_assets.service.backfill import (
    add_cohort_partitions,
    backfill_in_process,
    backfill_partitions,
    submit_asset_backfill,
)
from neuropose_assets.service.runs import (
    cohort_key,
    open_instance,
)

HELP = "(re)run every video of a cohort, or only the failed/missing ones"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets backfill``."""
    data_root_option(p)
    p.add_argument("cohort", type=cohort_arg)
    p.add_argument("--missing-only", action="store_true", help="only videos without features (failed or never run)")
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run now in this process instead of submitting a backfill to the daemon",
    )


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets backfill`` command: re-run a cohort's videos (``--missing-only``: those with a
    per-video table missing) as an asset backfill that the daemon runs (:func:`submit_asset_backfill`), or with
    ``--in-process`` here and now, then the cohort tables; returns the process exit code (0 ok, also when there is
    nothing to backfill; 1 when the backfill was refused or, in process, a video's run failed)."""
    layout = open_layout(args)
    cohort = cohort_key(layout, args.cohort)
    keys = backfill_partitions(layout, cohort, missing_only=args.missing_only)
    instance = open_instance(layout)
    missing = add_cohort_partitions(instance, layout, cohort)
    if not keys:
        print(
            f"nothing to backfill in cohort {cohort!r}"
            + (f"; {len(missing)} registered video(s) added to the instance as partitions" if missing else "")
        )
        return 0
    if args.in_process:
        ok = True
        for k, message in backfill_in_process(layout, instance, keys, cohort):
            ok &= message is None
            print(f"  {k}: {'ok' if message is None else 'FAILED — ' + message}")
        return 0 if ok else 1
    try:
        backfill_id = submit_asset_backfill(instance, keys, {"cohort": cohort}, f"cohort {cohort}")
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"submitted backfill {backfill_id} of {len(keys)} partition(s) of cohort {cohort!r}; the daemon "
        "(`neuropose-assets ui`, or dagster-daemon) runs it — see Overview → Backfills; crashed runs are retried; "
        "the cohort tables refresh afterwards"
    )
    return 0
