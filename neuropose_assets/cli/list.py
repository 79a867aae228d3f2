"""``neuropose-assets list``: cohorts and their videos: partition key, task, status and quality flags."""

from __future__ import annotations

import argparse

from neuropose_assets.cli.options import (
    cohort_arg,
    data_root_option,
    flag_names,
    open_layout,
    plural,
)
from neuropose_assets.service.runs import (
    cohort_key,
)

HELP = "cohorts and their videos: partition key, task, status and quality flags"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets list``."""
    p.add_argument("cohort", nargs="?", type=cohort_arg, help="only this cohort")
    data_root_option(p)


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets list`` command: print the cohorts (or only the one named) and their videos with
    partition key, task, status and quality flags; returns the process exit code (always 0, also when nothing is
    registered)."""
    from neuropose_assets.core.analysis.summary import text_table
    from neuropose_assets.core.io.storage import Registry

    layout = open_layout(args)
    entries = Registry(layout).all()
    if args.cohort:
        cohort = cohort_key(layout, args.cohort)
        entries = [e for e in entries if e.cohort == cohort]
    if not entries:
        print(
            f"no videos registered under {layout.root}"
            + (f" in cohort {args.cohort!r}" if args.cohort else "")
            + " — drop videos into the intake folder or use `neuropose-assets run VIDEO --task …`"
        )
        return 0
    cohorts = sorted({e.cohort for e in entries})
    print(f"{plural(len(cohorts), 'cohort')}, {plural(len(entries), 'video')} under {layout.root}")
    for cohort in cohorts:
        rows = []
        for e in (x for x in entries if x.cohort == cohort):
            decl = e.declaration
            task = decl.spec.task if decl.declared else "generic (undeclared)"
            visit = decl.visit
            who = "" if visit is None else visit.subject + (f" / {visit.session}" if visit.session else "")
            if layout.asset_file("outcomes", e.partition).exists():
                status, flags = "analysed", flag_names(layout, e.partition) or "ok"
            elif layout.asset_file("raw_video", e.partition).exists():
                status, flags = "incomplete (a step failed: see the UI)", ""
            else:
                status, flags = "registered, not analysed", ""
            rows.append([e.partition, task, who, status, flags])
        print(f"\n{cohort}:")
        print(text_table(rows, ["video", "task", "subject / session", "status", "flags"]))
    return 0
