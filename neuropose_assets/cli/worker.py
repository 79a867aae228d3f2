"""``neuropose-assets worker``: warm run workers on this host taking per-video runs from the instance's queue (many
machines; :mod:`neuropose_assets.warm`)."""

from __future__ import annotations

import argparse

from neuropose_assets.cli.options import (
    bounded,
    data_root_option,
    open_layout,
)
from neuropose_assets.service.supervise import run_warm_workers

HELP = "take per-video runs on this host: warm run workers on the instance's queue (many machines)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets worker``."""
    data_root_option(p)
    p.add_argument(
        "--nworkers",
        type=bounded(int, 1, 256),
        help="worker processes (default: the host's pose slots: one per core for BlazePose, one per GPU for MeTRAbs)",
    )
    p.add_argument("--name", help="worker name prefix (default: the host name)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets worker`` command: :func:`~neuropose_assets.service.supervise.run_warm_workers` on the
    data root; returns its exit code."""
    return run_warm_workers(open_layout(args), nworkers=args.nworkers, name=args.name)
