"""``neuropose-assets model``: pre-fetch or install the MeTRAbs model and print where it is."""

from __future__ import annotations

import argparse
import sys

from neuropose_assets.core.io.storage import (
    default_cache_dir,
)
from neuropose_assets.core.pose.metrabs_model import DEFAULT_VARIANT
from neuropose_assets.settings import settings

HELP = "pre-fetch or install the MeTRAbs model and print where it is"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets model``."""
    p.add_argument("action", choices=["install"], help="install: download (verified) or unpack a local archive")
    p.add_argument("--cache", default=settings().model_cache or str(default_cache_dir() / "models"))
    p.add_argument("--variant", default=DEFAULT_VARIANT)
    p.add_argument("--sha256", help="archive SHA-256 (required for variants without a pinned checksum)")
    p.add_argument("--url", help="download URL (default: the authors' server)")
    p.add_argument("--tarball", help="a local copy of the archive (air-gapped servers)")
    p.add_argument("--dir", help="an already-extracted SavedModel directory (used in place)")
    p.add_argument("--load", action="store_true", help="also load it into TensorFlow and check its interface")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets model install`` command: obtain the MeTRAbs model (verified download, local archive
    ``--tarball`` or directory ``--dir``) into ``--cache``, with ``--load`` also load it into TensorFlow, and print
    where it is; returns the process exit code (0 ok, 2 when it cannot be obtained or verified, or does not load)."""
    from neuropose_assets.core.pose.metrabs_model import ModelAcquisitionError, acquire

    try:
        loc = acquire(
            args.cache, variant=args.variant, sha256=args.sha256, url=args.url, tarball=args.tarball, directory=args.dir
        )
        if args.load:
            from neuropose_assets.core.pose.metrabs import MetrabsBackend, ModelLoadError

            try:
                backend = MetrabsBackend(loc, num_aug=1)
            except ModelLoadError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
            print(f"loaded in {backend.load_s:.1f} s on {backend.device}")
    except ModelAcquisitionError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"MeTRAbs {loc.variant} ready at {loc.path}\n  checksum {loc.checksum}\n  source {loc.source}")
    print(f"use it: NEUROPOSE_POSE_BACKEND=metrabs (cache {args.cache})")
    return 0
