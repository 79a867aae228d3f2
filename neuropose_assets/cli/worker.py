"""``neuropose-assets worker``: a worker host for per-video runs (many machines): warm run workers (``--warm``) or a
dask cluster's workers."""

from __future__ import annotations

import argparse

from neuropose_assets.cli.options import (
    bounded,
    data_root_option,
    open_layout,
)
from neuropose_assets.service.supervise import run_warm_workers, run_workers

HELP = "take per-video runs on this host: warm run workers (--warm) or a dask cluster's workers (many machines)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets worker``."""
    data_root_option(p)
    p.add_argument(
        "scheduler", nargs="?", help="the dask scheduler's address, e.g. tcp://10.0.0.5:8786 (not with --warm)"
    )
    p.add_argument(
        "--warm",
        action="store_true",
        help="warm run workers taking runs from the instance's queue (NEUROPOSE_RUN_WORKERS=warm on the UI host)",
    )
    p.add_argument(
        "--nworkers",
        type=bounded(int, 1, 256),
        help="worker processes (default: the host's pose slots: one per core for BlazePose, one per GPU for MeTRAbs)",
    )
    p.add_argument("--name", help="worker name prefix (default: the host name; dask: dask's)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets worker`` command: :func:`~neuropose_assets.service.supervise.run_workers` on the data
    root; returns its exit code."""
    if args.warm == bool(args.scheduler):
        raise SystemExit("error: give a dask scheduler's address or --warm (one of them)")
    if args.warm:
        return run_warm_workers(open_layout(args), nworkers=args.nworkers, name=args.name)
    return run_workers(open_layout(args), args.scheduler, nworkers=args.nworkers, name=args.name)
