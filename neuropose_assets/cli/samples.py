"""``neuropose-assets samples``: fetch the sample clips (SHA-256 verified)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.core.io.storage import (
    default_cache_dir,
)

HELP = "fetch the sample clips (SHA-256 verified)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets samples``."""
    p.add_argument("--cache", default=str(default_cache_dir() / "samples"))
    p.add_argument("--only", nargs="*", help="sample keys (default: all)")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets samples`` command: fetch the pinned sample clips (``--only``: some of them) into
    ``--cache``, SHA-256 verified, and print ``key<TAB>path`` per clip; returns the process exit code (0 ok, 2 when a
    clip cannot be fetched or verified, or ``--only`` names an unknown sample)."""
    from neuropose_assets.core.io.samples import SampleFetchError, fetch_samples

    try:
        clips = fetch_samples(Path(args.cache), args.only)
    except (SampleFetchError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for key, path in clips.items():
        print(f"{key}\t{path}")
    return 0
