"""``neuropose-assets agreement``: event timing and outcome agreement: markers vs their C3D events / force plates, or a
video vs the markers of the same session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    analysed,
    bounded,
    data_root_option,
    key_arg,
    open_layout,
)

HELP = (
    "event timing and outcome agreement: markers vs their C3D events / force plates, or a video vs the "
    "markers of the same session"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets agreement``."""
    data_root_option(p)
    p.add_argument("partition", nargs="?", type=key_arg, help="the partition under test (a video, or a marker file)")
    p.add_argument(
        "--reference",
        type=key_arg,
        help="the reference partition (markers of the same session); "
        "default: the events recorded in the partition's own marker file",
    )
    p.add_argument(
        "--pair",
        action="append",
        metavar="TEST:REFERENCE",
        help="more session pairs (repeat); with two or more pairs the ICC of each outcome is reported",
    )
    p.add_argument(
        "--offset-s",
        type=bounded(float, -3600, 3600),
        default=0.0,
        help="added to the reference times (synchronisation), s",
    )
    p.add_argument(
        "--tolerance-s",
        type=bounded(float, 0.001, 10),
        default=0.25,
        help="furthest detection that counts as a match, s",
    )
    p.add_argument("--csv", metavar="FILE", help="write the tables as CSV (FILE, FILE_outcomes, FILE_icc)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets agreement`` command: print (and with ``--csv`` write) the event timing agreement
    of each test partition with its reference (its own recorded events, or ``--reference``'s markers), the outcome
    differences and, with two or more pairs, the ICC of each outcome; returns the process exit code (0 ok, 2 when no
    partition is named, a pair is malformed, or a partition lacks a table it needs)."""
    import polars as pl

    from neuropose_assets.core.comparison.agreement import (
        event_agreement,
        outcome_agreement,
        outcome_icc,
        reference_problems,
    )

    layout = open_layout(args)
    pairs = [p.split(":", 1) for p in args.pair or []]
    if args.partition:
        pairs.insert(0, [args.partition, args.reference])
    if not pairs or any(len(p) != 2 for p in pairs[1:]):
        print(
            "error: name a partition (and optionally --reference), or pairs with --pair TEST:REFERENCE", file=sys.stderr
        )
        return 2
    events, outcomes = [], []
    for test, ref in pairs:
        paths = [analysed(layout, k, a) for k, a in ((test, "events"), (test, "outcomes"))]
        if ref is not None:
            paths += [analysed(layout, ref, a) for a in ("events", "outcomes", "reference_events")]
        else:
            paths += [analysed(layout, test, "reference_events")]
        if any(p is None for p in paths):
            return 2
        detected = pl.read_parquet(paths[0])
        if ref is None:  # markers against the events recorded with them (C3D events, force plates)
            reference = pl.read_parquet(paths[2])
        else:  # e.g. video against markers: the markers' detected events, and what was recorded with them
            reference = pl.concat(
                [
                    pl.read_parquet(paths[2]).select(
                        "event", "side", "time_s", pl.lit(f"{ref} (detected)").alias("source")
                    ),
                    pl.read_parquet(paths[4]).select("event", "side", "time_s", "source"),
                ]
            )
        for problem in reference_problems(reference):
            print(
                f"WARNING: the reference of {test} may itself be wrong — {problem}; its agreement then measures the "
                "reference, not the detector.",
                file=sys.stderr,
            )
        table = event_agreement(detected, reference, tolerance_s=args.tolerance_s, offset_s=args.offset_s)
        events.append(table.with_columns(pl.lit(test).alias("test")))
        if ref is not None:
            o = outcome_agreement(pl.read_parquet(paths[1]), pl.read_parquet(paths[3]))
            outcomes.append(o.with_columns(pl.lit(f"{test}:{ref}").alias("pair")))
    ev = pl.concat(events).select("test", pl.exclude("test"))
    with pl.Config(tbl_rows=200, tbl_cols=-1, tbl_width_chars=220, float_precision=1):
        print(
            "events: detected − reference, ms (negative = detected early); bias and 95 % limits of agreement "
            "(Bland–Altman)"
        )
        print(ev)
    tables = {"events": ev}
    if outcomes:
        oc = pl.concat(outcomes).select("pair", pl.exclude("pair"))
        tables["outcomes"] = oc
        with pl.Config(tbl_rows=200, tbl_cols=-1, tbl_width_chars=220, float_precision=3):
            print("\noutcomes: test − reference")
            print(oc)
            if len(outcomes) > 1:
                tables["icc"] = outcome_icc(oc)
                print("\nacross the session pairs: ICC(A,1) with 95 % CI (pingouin), Bland–Altman bias and limits")
                print(tables["icc"])
    if args.csv:
        from neuropose_assets.core.io.atomic import atomic_write_bytes

        base = Path(args.csv).expanduser()
        for name, df in tables.items():
            target = base if name == "events" else base.with_name(f"{base.stem}_{name}{base.suffix or '.csv'}")
            atomic_write_bytes(target, df.write_csv().encode())
            print(f"wrote {target}")
    return 0
