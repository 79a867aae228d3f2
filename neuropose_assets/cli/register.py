"""``neuropose-assets register``: register a video file as a partition."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neuropose_assets.cli.options import (
    cohort_arg,
    data_root_option,
    key_arg,
    open_layout,
    task_options,
)
from neuropose_assets.core.io.storage import (
    unsupported_format,
)
from neuropose_assets.service.runs import (
    cohort_key,
    command_line_keys,
    declaration,
    open_instance,
    register_videos,
)

HELP = "register a video file as a partition"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``neuropose-assets register``."""
    data_root_option(p)
    p.add_argument("video")
    p.add_argument("--cohort", required=True, type=cohort_arg)
    p.add_argument("--key", type=key_arg, help="partition key (default: sanitised file name)")
    task_options(p)


def run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets register`` command: register a video or marker file as a partition of ``--cohort``
    (with the task of ``--task`` / ``--param``, if given) without running anything; returns the process exit code (0 ok,
    2 when the path is not a file, its format is not supported, or the task or a parameter is invalid)."""
    from neuropose_assets.core.analysis.tasks import ProtocolError

    layout = open_layout(args)
    path = Path(args.video).expanduser().resolve()
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    if unsupported_format(path):
        print(f"error: {unsupported_format(path)}", file=sys.stderr)
        return 2
    try:
        decl = declaration(args.task, args.param, "--task (neuropose-assets register)", args.subject, args.session)
    except (ProtocolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cohort = cohort_key(layout, args.cohort)
    (key,), pseudonymous = command_line_keys(layout, [path], cohort, args.key)
    register_videos(open_instance(layout), layout, {key: path}, cohort, {key: decl}, pseudonymous=pseudonymous)
    task = f"task {decl.spec.task!r}" if decl and decl.declared else "no task declared (analysed as 'generic')"
    if decl and decl.visit is not None:
        task += f", subject {decl.visit.subject!r}" + (
            f", session {decl.visit.session!r}" if decl.visit.session else ""
        )
    print(
        f"registered {path.name} as partition {key!r} in cohort {cohort!r}, {task}; materialize it from the UI "
        f"(per_video_job, partition {key}) "
        f"or analyse it now with `neuropose-assets run {path} --task ...`"
    )
    return 0
