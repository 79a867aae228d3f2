"""``neuropose-assets ingest``: place the videos of a zip archive into the intake folder, safely."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    cohort_arg,
    data_root_option,
    open_layout,
    task_options,
)
from neuropose_assets.core.io.storage import (
    SIDECAR_EXTENSIONS,
    unsupported_format,
)
from neuropose_assets.service.ingest import protocol_updates
from neuropose_assets.service.runs import (
    declaration,
)

HELP = "place the videos of a zip archive into the intake folder, safely"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets ingest``."""
    data_root_option(p)
    p.add_argument("archive")
    p.add_argument("--cohort", type=cohort_arg, help="cohort for all videos (default: the archive's top-level folders)")
    p.add_argument("--intake", help="intake folder (default: $NEUROPOSE_INTAKE or <data root>/intake)")
    p.add_argument("--overwrite", action="store_true", help="replace videos that already exist in the intake")
    task_options(p)


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets ingest`` command: place the videos of a zip archive into the intake folder
    (:func:`~neuropose_assets.core.io.zip_ingest.ingest_zip`; with ``--task``, declared in each cohort's
    ``protocol.yaml``)
    for the intake sensor to pick up; returns the process exit code (0 ok, 2 for an invalid task or parameter, an intake
    folder that cannot be created, or an archive that is missing or refused — unsafe paths, bombs, collisions)."""
    from neuropose_assets.core.analysis.tasks import ProtocolError
    from neuropose_assets.core.io.intake import Pseudonymiser, derive_key
    from neuropose_assets.core.io.storage import privacy_mode
    from neuropose_assets.core.io.zip_ingest import IngestError, ingest_zip
    from neuropose_assets.dagster_defs.sensors import intake_root

    try:
        decl = declaration(args.task, args.param, "--task (neuropose-assets ingest)", args.subject, args.session)
    except (ProtocolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    layout = open_layout(args)
    intake = Path(args.intake).expanduser().resolve() if args.intake else intake_root(layout)
    made_intake = not intake.exists()
    try:
        intake.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"error: cannot create the intake folder {intake} ({err.strerror})", file=sys.stderr)
        return 2
    mode = privacy_mode()
    pseud = Pseudonymiser(layout.private, cohorts=mode == "all") if mode else None

    def key_of(cohort: str, rel: str) -> str:  # the key the intake sensor will give the file
        return pseud.alias(rel) if pseud is not None else derive_key(cohort, rel)

    comment = f"added by neuropose-assets ingest {Path(args.archive).name}"
    try:
        res = ingest_zip(
            args.archive,
            intake,
            cohort=args.cohort,
            overwrite=args.overwrite,
            key_of=key_of,
            companions=None if decl is None else lambda targets: protocol_updates(intake, targets, decl, comment),
        )
    except (IngestError, FileNotFoundError) as err:  # CollisionError lists every collision in its message
        if made_intake:
            with contextlib.suppress(OSError):
                intake.rmdir()  # a failed ingest leaves nothing behind, not even the folder it would have filled
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"placed {len(res.placed)} video(s), {res.total_bytes / 1e6:.1f} MB, into {intake} (cohorts: "
        f"{', '.join(res.cohorts)}); {len(res.skipped)} other member(s) skipped"
    )
    for name in res.skipped:
        if not name.endswith("/") and unsupported_format(name) and not name.lower().endswith(SIDECAR_EXTENSIONS):
            print(f"  skipped: {unsupported_format(name)}")
    for p in res.placed:
        print(f"  {p.relative_to(intake)}")
    if decl is not None:
        for folder in res.cohorts:
            n = sum(p.relative_to(intake).parts[0] == folder for p in res.placed)
            what = f"task {decl.spec.task!r}" if decl.declared else "no task"
            if decl.visit is not None:
                what += f", subject {decl.visit.subject!r}" + (
                    f", session {decl.visit.session!r}" if decl.visit.session else ""
                )
            print(f"declared {what} for {n} video(s) in {intake / folder / 'protocol.yaml'}")
    print("the intake sensor picks them up once they are stable (about a minute)")
    return 0
