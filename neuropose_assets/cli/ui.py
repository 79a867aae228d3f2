"""``neuropose-assets ui``: start the Dagster UI and daemon on the instance under the data root."""

from __future__ import annotations

import argparse

from neuropose_assets.cli.options import (
    bounded,
    data_root_option,
    open_layout,
)
from neuropose_assets.service.supervise import run_ui

HELP = "start the Dagster UI and daemon on the instance under the data root"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets ui``."""
    data_root_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=bounded(int, 1, 65535), default=3000)
    p.add_argument(
        "--allowed-host",
        action="append",
        metavar="NAME",
        help="another host name the UI is reached by "
        "(e.g. behind a reverse proxy); requests for any other Host are refused",
    )


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets ui`` command: :func:`~neuropose_assets.service.supervise.run_ui` on the data root;
    returns its exit code."""
    return run_ui(
        open_layout(args),
        host=args.host,
        port=args.port,
        allowed_hosts=args.allowed_host or [],
    )
