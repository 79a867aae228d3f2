"""``neuropose-assets version``: package, pose models (checksums) and key library versions."""

from __future__ import annotations

import argparse

HELP = "package, pose models (checksums) and key library versions"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets version``."""
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets version`` command: print the package version and commit, the pose models with their
    checksums (verified or not) and the key library versions, or all of it as JSON (``--json``); returns the process
    exit code (always 0)."""
    import json

    from neuropose_assets.health import version_info

    info = version_info()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"neuropose-assets {info['version']}" + (f" (commit {info['commit']})" if info["commit"] else ""))
    for m in info["models"]:
        if not m["present"]:
            print(f"  model {m['name']}: not available ({m['detail']})")
            continue
        print(
            f"  model {m['name']}/{m['variant']}: sha256 {m['sha256']} "
            f"{'(verified)' if m['verified'] else '(NOT the pinned checksum)'} — {m['location']}"
        )
    print("  " + ", ".join(f"{k} {v}" for k, v in info["libraries"].items()))
    return 0
