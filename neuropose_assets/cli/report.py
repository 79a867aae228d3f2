"""``neuropose-assets report``: write a video's report (self-contained HTML) where you ask."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    analysed,
    data_root_option,
    key_arg,
    open_layout,
    plural,
)

HELP = "write a video's report (self-contained HTML) where you ask"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets report``."""
    data_root_option(p)
    p.add_argument("partition", type=key_arg)
    p.add_argument("-o", "--out", metavar="FILE", help="where to write it (default: ./<partition>.html)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets report`` command: write the partition's self-contained HTML report to ``--out``
    (default ``./<partition>.html``); returns the process exit code (0 ok, 2 when the partition is unknown or has no
    outcomes yet, or the report cannot be built from its files)."""
    from neuropose_assets.core.review.report import write_report

    layout = open_layout(args)
    if analysed(layout, args.partition, "outcomes") is None:
        return 2
    out = Path(args.out).expanduser() if args.out else Path.cwd() / f"{args.partition}.html"
    try:
        path, rep = write_report(layout, args.partition, out)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    flags = f"; {plural(len(rep.flags), 'quality flag')}" if rep.flags else ""
    print(f"wrote {path} ({plural(len(rep.figures), 'figure')}{flags}) — open it in a browser")
    return 0
