"""``neuropose-assets health``: is the installation sound: data root, intake, instance, daemon, pose model, disk,
webserver; exit code 1 when a check fails."""

from __future__ import annotations

import argparse

from neuropose_assets.cli.options import (
    data_root_option,
    open_layout,
)

HELP = (
    "is the installation sound: data root, intake, instance, daemon, pose model, disk, webserver; exit "
    "code 1 when a check fails"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets health``."""
    data_root_option(p)
    p.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets health`` command: run :func:`~neuropose_assets.health.health_checks` on the data root
    and intake folder and print each check (``--json``: as JSON); returns the process exit code (0 ok, also with
    warnings, 1 when a check fails)."""
    import json

    from neuropose_assets.dagster_defs.sensors import intake_root
    from neuropose_assets.health import health_checks

    layout = open_layout(args)
    checks = health_checks(layout, intake_root(layout))
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=1))
    else:
        for c in checks:
            print(f"{c.status:4s}  {c.name:11s} {c.detail}")
    return 1 if failed else 0
