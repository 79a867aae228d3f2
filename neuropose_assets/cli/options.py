"""What the commands share: the data root and task options, argument types that validate as argparse reads them
(a bad value is a one-line usage error, exit code 2), and how results are printed (outcomes, progress, messages for
unknown partitions)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from neuropose_assets.core.io.storage import (
    Layout,
    default_data_root,
    sanitize_key,
)


def open_layout(args: argparse.Namespace) -> Layout:
    """The data root of ``--data-root`` (default: ``$NEUROPOSE_DATA_ROOT`` or the user data directory) as a
    :class:`Layout`: created owner-only when new, secured for privacy mode, and exported as ``NEUROPOSE_DATA_ROOT`` so
    that the processes started from here use the same root."""
    from neuropose_assets.core.io.storage import secure_data_root

    root = Path(args.data_root).expanduser().resolve() if args.data_root else default_data_root()
    os.environ["NEUROPOSE_DATA_ROOT"] = str(root)  # the code location (dagster dev) reads the same root
    if not root.exists():  # it will hold patient data: owner-only from the start (`health` checks it)
        root.mkdir(parents=True, mode=0o700)
    layout = Layout(root)
    secure_data_root(layout)  # privacy mode: owner-only files, also for the processes started from here
    return layout


def key_arg(text: str) -> str:
    """A partition key named on the command line (``--key``, ``report KEY``): ``[a-z0-9][a-z0-9_-]*``, ≤ 128."""
    from neuropose_assets.core.io.storage import check_key

    try:
        return check_key(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def cohort_arg(text: str) -> str:
    """A cohort as typed; it needs letters or digits to give a key (:func:`cohort_key` maps it later)."""
    try:
        sanitize_key(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"cohort {text!r} has no letters or digits to name a cohort") from None
    return text


def bounded(kind, low=None, high=None):
    """An argparse type: ``kind`` (int or float), finite, within ``[low, high]``."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if (
            (kind is float and not math.isfinite(value))
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            bounds = f"from {low:g}" if low is not None else ""
            bounds += f" to {high:g}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"{text!r} is out of range (a finite value {bounds.strip()})")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``neuropose-assets run: error: argument --key: … (--help: usage)``, exit 2."""

    def error(self, message: str):
        """Print the one-line usage error and exit with code 2."""
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help: usage)\n")


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 repetition"``, ``"2 repetitions"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def flag_names(layout: Layout, key: str) -> str:
    """The names of the quality checks that flagged partition ``key`` (comma-separated; empty when none)."""
    from neuropose_assets.core.analysis.quality import failed_checks

    return failed_checks(layout, key)


def unknown_key(layout: Layout, key: str, what: str = "partition") -> str:
    """The message for a key that is not registered: close matches first ("did you mean …"), else how to list them."""
    import difflib

    from neuropose_assets.core.io.storage import Registry

    known = [e.partition for e in Registry(layout).all()]
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    if close:
        return f"no {what} {key!r} under {layout.root}; did you mean {' or '.join(repr(c) for c in close)}?"
    return (
        f"no {what} {key!r} under {layout.root} ({plural(len(known), 'video')} registered: "
        "`neuropose-assets list` shows them)"
    )


def analysed(layout: Layout, key: str, asset: str = "features") -> Path | None:
    """The stored ``asset`` table of partition ``key``, or ``None`` (with a message on stderr) when it does not exist
    or ``key`` is not a partition key."""
    from neuropose_assets.core.io.storage import check_key

    try:
        check_key(key)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    path = layout.asset_file(asset, key)
    if path.exists():
        return path
    if not (layout.registry / f"{key}.json").exists():
        print(f"error: {unknown_key(layout, key)}", file=sys.stderr)
        return None
    print(
        f"error: partition {key!r} has no {asset} table under {layout.root}; analyse it first (intake folder, "
        f"`neuropose-assets run`, or per_video_job in the UI)",
        file=sys.stderr,
    )
    return None


def print_outcomes(rows: list[dict], out=print) -> None:
    """Print the outcomes of each row of :func:`run_videos` through ``out``: the video and its task, then
    :func:`~neuropose_assets.dagster_defs.assets.outcomes.outcome_summary` — or why it failed."""
    from neuropose_assets.dagster_defs.assets.outcomes import outcome_summary

    for r in rows:
        if r["outcomes"] is None:
            out(f"\n{r['video']}: FAILED — {r['error']}")
            continue
        task = r["meta"]["events"].get("task", "?")
        out(f"\n{r['video']} ({task}{', poses reused' if r['reused_poses'] else ''}):")
        out(outcome_summary(r["outcomes"]))


def progress(i: int, n: int, key: str, row: dict | None) -> None:
    """Print a video's progress line for :func:`~neuropose_assets.service.runs.run_videos`: ``[i/n] key …`` before
    its run (``row`` None), then ok with its task, events and repetitions (and its warnings), or FAILED with the
    reason."""
    if row is None:
        print(f"[{i}/{n}] {key} …", flush=True)
        return
    if row["ok"]:
        ev, rep = row["meta"]["events"].get("events"), row["meta"]["repetitions"].get("repetitions")
        n_ev = sum(ev.values()) if isinstance(ev, dict) else ev
        print(
            f"[{i}/{n}] {key}: ok — task {row['meta']['events'].get('task', '?')}, {plural(n_ev or 0, 'event')}, "
            f"{plural(rep or 0, 'repetition')} ({row['wall_s']:.1f} s"
            f"{', poses reused' if row['reused_poses'] else ''})",
            flush=True,
        )
        for w in row.get("warnings", []):
            print(f"        {w}", flush=True)
    else:
        print(f"[{i}/{n}] {key}: FAILED — {row['error']}", flush=True)


def data_root_option(p: argparse.ArgumentParser) -> None:
    """``--data-root``, shared by every command that reads or writes a data root (read with :func:`open_layout`)."""
    p.add_argument(
        "--data-root",
        help="data root outside the repository (default: $NEUROPOSE_DATA_ROOT or ~/.local/share/neuropose-assets)",
    )


def task_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    """``--task``, ``--param NAME=VALUE``, ``--subject`` and ``--session``, shared by the commands that declare a task
    (read with
    :func:`neuropose_assets.service.runs.declaration`)."""
    from neuropose_assets.core.analysis.tasks import TASKS

    p.add_argument("--task", choices=TASKS, required=required, help="the clinical task the video(s) show")
    p.add_argument(
        "--subject",
        help="pseudonymous subject ID (letters, digits, _ . -; never a name) the video(s) belong to",
    )
    p.add_argument("--session", help="session of the subject: an ISO date (2026-03-01) or an ordinal (2, S02, V3)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="task parameter, repeatable: "
        "expected_repetitions=5, side=left (arm_raise), walkway_m=3, camera_view=side|front|oblique, "
        "height_m=1.72 (scales the fitted model); generic: segmentation.signal.column=knee_angle_l_deg "
        "...",
    )
