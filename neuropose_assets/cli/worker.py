"""``neuropose-assets worker``: join a dask cluster as a worker host for per-video runs (many machines)."""

from __future__ import annotations

import argparse

from neuropose_assets.cli.options import (
    bounded,
    data_root_option,
    open_layout,
)
from neuropose_assets.service.supervise import run_workers

HELP = "join a dask cluster as a worker host for per-video runs (many machines)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets worker``."""
    data_root_option(p)
    p.add_argument("scheduler", help="the dask scheduler's address, e.g. tcp://10.0.0.5:8786")
    p.add_argument(
        "--nworkers",
        type=bounded(int, 1, 256),
        help="worker processes (default: the host's pose slots: one per core for BlazePose, one per GPU for MeTRAbs)",
    )
    p.add_argument("--name", help="worker name prefix, shown in the poses metadata (default: dask's)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets worker`` command: :func:`~neuropose_assets.service.supervise.run_workers` on the data
    root; returns its exit code."""
    return run_workers(open_layout(args), args.scheduler, nworkers=args.nworkers, name=args.name)
