"""``neuropose-assets outcomes``: a cohort's outcome table, one row per video (--csv for R / SPSS / Excel)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    cohort_arg,
    data_root_option,
    flag_names,
    open_layout,
    plural,
)
from neuropose_assets.service.runs import (
    cohort_key,
)

HELP = "a cohort's outcome table, one row per video (--csv for R / SPSS / Excel)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets outcomes``."""
    data_root_option(p)
    p.add_argument("cohort", type=cohort_arg)
    p.add_argument(
        "-o",
        "--csv",
        metavar="FILE",
        help="write the table as CSV to FILE (rounded values, a reason "
        "column beside every measure that is null somewhere)",
    )


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets outcomes`` command: print a cohort's main outcomes per task, one row per video with
    its quality flags, or with ``--csv FILE`` write every measure (rounded, a null-reason column beside every measure
    that is null somewhere); returns the process exit code (0 ok, 2 when the cohort has no outcome table)."""
    import polars as pl

    layout = open_layout(args)
    cohort = cohort_key(layout, args.cohort)
    path = layout.asset_file("cohort_outcomes", cohort)
    if not path.exists():
        print(
            f"error: no outcome table for cohort {cohort!r} under {layout.root}; run its videos first (intake "
            "folder, `neuropose-assets run`, or cohort_job in the UI)",
            file=sys.stderr,
        )
        return 2
    from neuropose_assets.core.analysis import summary

    df = pl.read_parquet(path)
    per_video = {
        k: pl.read_parquet(layout.asset_file("outcomes", k))
        for k in df["partition"]
        if layout.asset_file("outcomes", k).exists()
    }
    if args.csv:
        from neuropose_assets.core.io.atomic import atomic_write_bytes

        reasons = {
            k: {r["measure"]: r["null_reason"] for r in o.iter_rows(named=True) if r["value"] is None}
            for k, o in per_video.items()
        }
        out = summary.cohort_csv(df, reasons)
        atomic_write_bytes(Path(args.csv).expanduser(), out.write_csv().encode())
        print(
            f"wrote {plural(out.height, 'row')} × {plural(out.width, 'column')} to {args.csv} (values rounded to "
            "their precision; <measure>_null_reason beside every measure that is null somewhere)"
        )
        return 0
    print(f"cohort {cohort!r}: {plural(df.height, 'video')} (all measures: --csv FILE)")
    for task, group in df.group_by("task", maintain_order=True):
        measures = [m for m in summary.MAIN_OUTCOMES.get(task[0], ()) if m in group.columns]
        rows = []
        for r in group.iter_rows(named=True):
            flags = flag_names(layout, r["partition"])
            cells = [summary.with_interval(m, r[m], r.get(m + "_ci_low"), r.get(m + "_ci_high")) for m in measures]
            rows.append([r["partition"], *cells, flags or "ok"])
        print(f"\n{task[0]}:")
        print(
            summary.text_table(
                rows, ["video", *(summary.header(m) for m in measures), "flags"], right=set(range(1, len(measures) + 1))
            )
        )
    return 0
