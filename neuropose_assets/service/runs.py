"""The work behind the commands, without a command line: open the instance of a data root, register videos as
partitions (with their declared task), run the per-video, review and cohort jobs in process and collect what each
run produced.  Used by the CLI (``run``, ``demo``, ``register``), the tests and the benchmarks; it prints nothing."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

from neuropose_assets import stages
from neuropose_assets.core.io.storage import (
    Layout,
    sanitize_key,
    source_stem,
)

#: Dagster's console logger silenced: the headless commands print progress and their own summary; every event is
#: still in the instance's event log (the UI), and ``--verbose`` shows them on the terminal
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


VERBOSE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


def open_instance(layout: Layout):
    """The Dagster instance of the data root (``<data root>/dagster_home``, created on first use) with its
    ``pose_model`` pool limited to this machine's pose slots.

    Raises:
        SystemExit: ``$NEUROPOSE_POSE_SLOTS`` is invalid (the message says why)."""
    from dagster import DagsterInstance

    from neuropose_assets.instance import apply_pose_slots, ensure_dagster_home

    ensure_dagster_home(layout)
    instance = DagsterInstance.get()
    try:
        apply_pose_slots(instance)
    except ValueError as err:  # a bad $NEUROPOSE_POSE_SLOTS
        raise SystemExit(f"error: {err}") from None
    return instance


def register_videos(
    instance,
    layout: Layout,
    videos: dict[str, Path],
    cohort: str,
    tasks: dict[str, object] | None = None,
    *,
    pseudonymous: bool = False,
) -> None:
    """Write registry entries (with each video's :class:`~neuropose_assets.core.analysis.tasks.TaskDeclaration` from
    ``tasks``, if given; ``pseudonymous``: a session date shifted, :meth:`..core.io.intake.Pseudonymiser.private_visit`)
    and add the ``videos`` / ``cohorts`` dynamic partitions (idempotent)."""
    from neuropose_assets.core.io.intake import Pseudonymiser
    from neuropose_assets.core.io.storage import Registry

    reg = Registry(layout)
    pseud = Pseudonymiser(layout.private) if pseudonymous else None
    for key, path in videos.items():
        decl = (tasks or {}).get(key)
        if pseud is not None and decl is not None and decl.visit is not None:  # privacy mode: no calendar dates
            decl = decl.with_visit(pseud.private_visit(decl.visit, alias_subject=False))
        reg.register(key, path, cohort, task=decl, pseudonymous=pseudonymous)
    new = [k for k in videos if not instance.has_dynamic_partition("videos", k)]
    if new:
        instance.add_dynamic_partitions("videos", new)
    if not instance.has_dynamic_partition("cohorts", cohort):
        instance.add_dynamic_partitions("cohorts", [cohort])


def command_line_keys(layout: Layout, paths: list[Path], cohort: str, key: str | None) -> tuple[list[str], bool]:
    """Partition keys for videos named on the command line: ``--key``, the sanitised file name, or — in privacy mode
    (``NEUROPOSE_PSEUDONYMISE``) — ``<cohort>-<HMAC of the absolute path>`` recorded in ``private/pseudonyms.json``.
    Returns ``(keys, pseudonymous)``."""
    from neuropose_assets.core.io.intake import Pseudonymiser
    from neuropose_assets.core.io.storage import privacy_mode

    if key is not None:
        return [key], bool(privacy_mode())
    if not privacy_mode():
        return [sanitize_key(source_stem(p.name)) for p in paths], False
    pseud = Pseudonymiser(layout.private)
    keys = [pseud.key(cohort, str(p)) for p in paths]
    pseud.save()
    return keys, True


def cohort_key(layout: Layout, name: str) -> str:
    """The cohort key of a cohort named on the command line: sanitised, or — when cohort names are pseudonymised
    (``NEUROPOSE_PSEUDONYMISE=all``) — its pseudonym, the same one its intake folder gets (a pseudonymous key such
    as ``c3f9a…`` is accepted as it is)."""
    from neuropose_assets.core.io.intake import Pseudonymiser
    from neuropose_assets.core.io.storage import privacy_mode

    if privacy_mode() != "all":
        return sanitize_key(name)
    pseud = Pseudonymiser(layout.private, cohorts=True)
    if pseud.is_cohort_key(name):
        return name
    key = pseud.cohort(name)
    pseud.save()
    return key


def declaration(
    task: str | None, params: list[str] | None, how: str, subject: str | None = None, session: str | None = None
):
    """The task (and subject and session) declared on the command line: a
    :class:`~neuropose_assets.core.analysis.tasks.TaskDeclaration`, or ``None`` when neither ``--task`` nor
    ``--subject`` was given.

    Raises:
        ValueError: ``--param`` without ``--task``.
        ProtocolError: an invalid task parameter, subject ID or session.
    """
    from neuropose_assets.core.analysis.tasks import UNDECLARED, TaskDeclaration, make_spec, parse_params, visit_of

    visit = visit_of(subject, session, where="--subject/--session")
    if task is None:
        if params:
            raise ValueError("--param needs --task")
        return None if visit is None else UNDECLARED.with_visit(visit)
    spec = make_spec({"task": task, **parse_params(params or [])}, "--task/--param")
    return TaskDeclaration(spec, how).with_visit(visit)


def asset_meta(result, asset: str) -> dict:
    """The metadata values of ``asset``'s materialization in a run's result (``{}`` when it was not materialized)."""
    from dagster import AssetKey

    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        if mat.asset_key == AssetKey(asset):
            return {k: v.value for k, v in mat.metadata.items()}
    return {}


def checks_seconds(result) -> float:
    """The seconds a run's asset checks took (their ``check_s`` metadata: reading the written files and judging them,
    :func:`neuropose_assets.dagster_defs.checks.run_checks`)."""
    total = 0.0
    for e in result.get_asset_check_evaluations():
        value = e.metadata.get("check_s")
        total += float(value.value) if value is not None else 0.0
    return total


def failure_message(result) -> str:
    """The clinician-facing reason a run failed: a failed blocking check's description, else the step failure."""
    for ev in result.all_events:
        if ev.event_type_value == "ASSET_CHECK_EVALUATION":
            data = ev.event_specific_data
            if not data.passed and data.severity.value == "ERROR":
                return f"check {data.check_name} failed: {data.description}"
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            data = ev.event_specific_data
            if data.user_failure_data is not None and data.user_failure_data.description:
                return data.user_failure_data.description
            return data.error.message.strip().splitlines()[-1] if data.error else "step failed"
    return "run failed"


@contextlib.contextmanager
def native_stderr_to(log_path: Path | None):
    """Send what native libraries write to file descriptor 2 (MediaPipe's and FFmpeg's C++ log lines, which a user
    cannot act on) to ``log_path``, while Python's ``sys.stderr`` — our own messages — still reaches the terminal.
    ``None``: change nothing (``--verbose``)."""
    if log_path is None:
        yield
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 2)
    python_stderr = sys.stderr
    sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def is_analysed(layout: Layout, key: str, path: Path) -> bool:
    """The partition's stored video has the same content as ``path`` and its poses exist, so a changed task only
    needs the task-dependent assets."""
    import polars as pl

    from neuropose_assets.core.io.atomic import sha256_file

    raw, features = layout.asset_file("raw_video", key), layout.asset_file("features", key)
    if not (raw.exists() and features.exists()):
        return False
    return pl.read_parquet(raw, columns=["sha256"])["sha256"][0] == sha256_file(path)


def run_videos(
    layout: Layout,
    videos: dict[str, Path],
    cohort: str,
    tasks: dict[str, object],
    *,
    reuse: bool = True,
    pseudonymous: bool = False,
    review: bool = False,
    verbose: bool = False,
    progress=None,
) -> dict:
    """Register ``videos`` with their tasks, materialize each partition (only the task-dependent assets when the
    video was analysed before with the same content and ``reuse``), then (``review``) its review video and report,
    then the cohort tables.  ``progress(i, n, key, row)``, if given, is called before (``row`` None) and after each
    video.

    Returns:
        ``{"rows": [per-video dict], "cohort": cohort_outcomes metadata, "cohort_ok": bool, "timing": {...}}``; each
        row holds ``video``, ``ok``, ``error``, ``outcomes`` (DataFrame or None), the step metadata and timings.
    """
    import polars as pl
    from dagster import AssetKey

    from neuropose_assets.dagster_defs.assets.task import TASK_ASSETS
    from neuropose_assets.definitions import build_defs
    from neuropose_assets.run_launcher import process_tags

    instance = open_instance(layout)
    register_videos(instance, layout, videos, cohort, tasks, pseudonymous=pseudonymous)
    defs = build_defs(str(layout.root))
    job = defs.resolve_job_def("per_video_job")
    run_config = VERBOSE if verbose else QUIET
    rows, timing = (
        [],
        {
            "model_load_s": 0.0,
            "inference_s": 0.0,
            "analysis_s": 0.0,
            "checks_s": 0.0,
            "review_s": 0.0,
            "dagster_overhead_s": 0.0,
        },
    )
    for i, (key, path) in enumerate(videos.items(), 1):
        if progress:
            progress(i, len(videos), key, None)
        subset = [AssetKey(a) for a in TASK_ASSETS] if reuse and is_analysed(layout, key, path) else None
        t = time.perf_counter()
        res = job.execute_in_process(
            partition_key=key,
            instance=instance,
            raise_on_error=False,
            run_config=run_config,
            asset_selection=subset,
            tags={"cohort": cohort, **process_tags()},
        )
        wall = time.perf_counter() - t
        meta = {a: asset_meta(res, a) for a in stages.assets("per_video_job")}
        pm = meta["poses"]
        load, pose_s = pm.get("model_load_s", 0.0), pm.get("decode_and_inference_s", 0.0)
        analysis = sum(m.get("compute_s") or (m.get("internal") or {}).get("compute_s", 0.0) for m in meta.values())
        analysis += pm.get("tracking_and_table_s", 0.0)
        checks = checks_seconds(res)
        timing["model_load_s"] += load
        timing["inference_s"] += pose_s
        timing["analysis_s"] += analysis
        timing["checks_s"] += checks
        timing["dagster_overhead_s"] += max(0.0, wall - load - pose_s - analysis - checks)
        out_path = layout.asset_file("outcomes", key)
        row = {
            "video": key,
            "ok": res.success,
            "error": None if res.success else failure_message(res),
            "reused_poses": subset is not None,
            "meta": meta,
            "wall_s": round(wall, 2),
            "outcomes": pl.read_parquet(out_path) if res.success and out_path.exists() else None,
            "report": None,
            # the failed checks, as the UI shows them: severity, check name, message (core.analysis.quality: one source)
            "warnings": [
                f"{e.severity.value} {e.check_name}: {e.description}"
                for e in res.get_asset_check_evaluations()
                if not e.passed and e.description
            ],
        }
        if review and res.success:
            t = time.perf_counter()
            rres = defs.resolve_job_def("review_job").execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False, run_config=run_config, tags=process_tags()
            )
            timing["review_s"] += time.perf_counter() - t
            row["review"] = asset_meta(rres, "review_video")
            row["report"] = asset_meta(rres, "report").get("report")
            if not rres.success:
                row["review_error"] = failure_message(rres)
        rows.append(row)
        if progress:
            progress(i, len(videos), key, row)
    t = time.perf_counter()
    cres = defs.resolve_job_def("cohort_job").execute_in_process(
        partition_key=cohort, instance=instance, raise_on_error=False, run_config=run_config, tags=process_tags()
    )
    cm = {
        **asset_meta(cres, "cohort_dtw"),
        **{f"outcomes_{k}": v for k, v in asset_meta(cres, "cohort_outcomes").items()},
    }
    cohort_analysis = cm.get("compute_s", 0.0) + cm.get("outcomes_compute_s", 0.0)
    checks = checks_seconds(cres)
    timing["analysis_s"] += cohort_analysis
    timing["checks_s"] += checks
    timing["dagster_overhead_s"] += max(0.0, time.perf_counter() - t - cohort_analysis - checks)
    return {
        "rows": rows,
        "cohort": cm,
        "cohort_ok": cres.success,
        "timing": timing,
        "cohort_error": None if cres.success else failure_message(cres),
    }
