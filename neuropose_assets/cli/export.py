"""``neuropose-assets export``: a video's poses and angles for OpenSim: .trc (markers, m), .mot (angles, deg) or
.csv."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    analysed,
    data_root_option,
    key_arg,
    open_layout,
)

HELP = "a video's poses and angles for OpenSim: .trc (markers, m), .mot (angles, deg) or .csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets export``."""
    data_root_option(p)
    p.add_argument("partition", type=key_arg)
    p.add_argument("--format", choices=["trc", "mot", "csv"], default="trc")
    p.add_argument("-o", "--out", metavar="FILE", help="where to write it (default: ./<partition>.<format>)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets export`` command: write the partition's poses and joint angles for OpenSim
    (``--format`` ``trc``: markers in m, ``mot``: angles in deg, or ``csv``) to ``--out``; returns the process exit code
    (0 ok, 2 when the partition is unknown or has no ``features`` table, or its data cannot be exported)."""
    import polars as pl

    from neuropose_assets.core.interop.opensim import opensim_tables, write_export
    from neuropose_assets.core.io.errors import VideoError
    from neuropose_assets.core.io.tables import read_provenance

    layout = open_layout(args)
    path = analysed(layout, args.partition)
    if path is None:
        return 2
    prov = read_provenance(path)
    frame = (prov.get("configs", {}).get("features") or {}).get("frame", "camera")
    try:
        kin = layout.asset_file("kinematics", args.partition)
        exp = opensim_tables(
            pl.read_parquet(path),
            frame=frame,
            absolute=prov["model"]["origin"] == "camera",
            kinematics=pl.read_parquet(kin) if kin.exists() else None,
        )
    except VideoError as err:
        print(f"error: {args.partition}: {err}", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser() if args.out else Path(f"{args.partition}.{args.format}")
    write_export(exp, out, args.format)
    rows = int(exp.mot_rows().sum()) if args.format == "mot" else len(exp.times_s)
    print(
        f"wrote {out}: {rows} frame(s) at {exp.rate_hz():g} Hz"
        + (f", {exp.omitted} frame(s) without any joint left out" if exp.omitted else "")
        + f"; OpenSim axes X forward ({exp.transform.heading.how}), Y up, Z right"
        + ("" if exp.absolute else "; positions hip-centred (the pose model has no translation)")
    )
    return 0
