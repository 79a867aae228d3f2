"""The ``neuropose-assets`` command line, one module per command.

neuropose-assets {samples,demo,run,report,outcomes,list,export,agreement,benchmark,version,health,
register,ingest,backfill,model,ui,worker}.

  samples   fetch the pinned sample clips (SHA-256 verified) into the cache and print their paths
  demo      fetch the samples, register them as partitions of one Dagster instance under the data root,
            materialize every asset for every sample and the cohort tables, print a summary and the outcomes
  run       analyse video files with a declared task through the same instance and data root; print outcomes
  report    write a video's report (self-contained HTML: outcomes, figures, quality flags, provenance)
  outcomes  a cohort's main outcomes per task, one row per video, units in the header, quality flags; --csv FILE
            (-o) writes every measure, rounded, with a reason column beside every null
  list      cohorts and their videos: partition key, task, status, quality flags
  export    a video's poses and joint angles for OpenSim (.trc markers in m, .mot angles in deg, or .csv)
  agreement event timing (median / max, Bland–Altman) and outcome differences against the events recorded with
            marker-based capture, or against the markers of the same session (ICC across several sessions)
  benchmark per-frame latency percentiles, throughput and peak RSS of the pose stage and the whole chain (N passes,
            the first a warm-up); --compare-cpu: speed-up and 3D difference with accelerators hidden; --log appends
            to benchmarks/LOG.md
  version   package, pose models with their checksums, key library versions (--json)
  health    data root, intake, instance, daemon heartbeat, pose model checksum, disk space, webserver binding,
            warm run workers; exit code 1 when a check fails (--json)
  register  register a video or marker file (.trc / .c3d) as a partition (and cohort) of the instance
  ingest    place a zip archive's videos into the intake folder (traversal, bombs, collisions guarded)
  backfill  re-run a cohort (all videos, or only failed/missing ones) as a Dagster asset backfill
  model     pre-fetch (verified download) or install (local archive / directory) the MeTRAbs model
  ui        the Dagster UI (guarded webserver), daemon and code server on the same instance (binds 127.0.0.1);
            with NEUROPOSE_RUN_WORKERS=warm also the warm run workers
  worker    warm run workers on another host, taking runs from the instance's queue (one per pose slot, pose model
            loaded once)
"""

from __future__ import annotations

import argparse
import importlib

from neuropose_assets.cli.options import Parser

#: one module per command under ``neuropose_assets/cli/``, in the order ``--help`` lists them; each has ``HELP``,
#: ``add_arguments(parser)`` and ``run(args) -> exit code`` (the work itself is in :mod:`neuropose_assets.service`)
COMMANDS = (
    "samples",
    "demo",
    "run",
    "report",
    "outcomes",
    "export",
    "agreement",
    "benchmark",
    "list",
    "version",
    "health",
    "register",
    "model",
    "ingest",
    "backfill",
    "ui",
    "worker",
)


def build_parser() -> argparse.ArgumentParser:
    """The ``neuropose-assets`` argument parser: one subcommand per module of :data:`COMMANDS` (its ``run`` stored as
    ``fn``), every value validated as it is read (one-line usage errors, exit code 2)."""
    p = Parser(
        prog="neuropose-assets",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=__doc__.split("\n\n", 1)[1],
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in COMMANDS:
        command = importlib.import_module(f"neuropose_assets.cli.{name}")
        sp = sub.add_parser(name, help=command.HELP)
        command.add_arguments(sp)
        sp.set_defaults(fn=command.run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``neuropose-assets``: parse ``argv`` (default: the command line) and run its subcommand;
    returns the subcommand's exit code."""
    args = build_parser().parse_args(argv)
    return args.fn(args)
