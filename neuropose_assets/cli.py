"""Command line: neuropose-assets {samples,demo,run,report,outcomes,list,export,agreement,benchmark,version,health,
register,ingest,backfill,model,ui,worker}.

  samples   fetch the pinned sample clips (SHA-256 verified) into the cache and print their paths
  demo      fetch the samples, register them as partitions of one Dagster instance under the data root,
            materialize every asset for every sample and the cohort tables, print a summary and the outcomes
  run       analyse video files with a declared task through the same instance and data root; print outcomes
  report    write a video's report (self-contained HTML: outcomes, figures, quality flags, provenance)
  outcomes  a cohort's main outcomes per task, one row per video, units in the header, quality flags; --csv FILE
            (-o) writes every measure, rounded, with a reason column beside every null
  list      cohorts and their videos: partition key, task, status, quality flags
  export    a video's poses and joint angles for OpenSim (.trc markers in m, .mot angles in deg, or .csv)
  agreement event timing (median / max, Bland–Altman) and outcome differences against the events recorded with
            marker-based capture, or against the markers of the same session (ICC across several sessions)
  benchmark per-frame latency percentiles, throughput and peak RSS of the pose stage and the whole chain (N passes,
            the first a warm-up); --compare-cpu: speed-up and 3D difference with accelerators hidden; --log appends
            to benchmarks/LOG.md
  version   package, pose models with their checksums, key library versions (--json)
  health    data root, intake, instance, daemon heartbeat, pose model checksum, disk space, webserver binding,
            dask cluster; exit code 1 when a check fails (--json)
  register  register a video or marker file (.trc / .c3d) as a partition (and cohort) of the instance
  ingest    place a zip archive's videos into the intake folder (traversal, bombs, collisions guarded)
  backfill  re-run a cohort (all videos, or only failed/missing ones) as a Dagster asset backfill
  model     pre-fetch (verified download) or install (local archive / directory) the MeTRAbs model
  ui        the Dagster UI (guarded webserver), daemon and code server on the same instance (binds 127.0.0.1);
            --dask-scheduler ADDR sends per-video runs to a dask cluster
  worker    join a dask cluster as a worker host (one process per pose slot, pose model preloaded)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from neuropose_assets import stages
from neuropose_assets.core.io.storage import (
    SIDECAR_EXTENSIONS,
    Layout,
    default_cache_dir,
    default_data_root,
    sanitize_key,
    source_stem,
    unsupported_format,
)
from neuropose_assets.core.pose import BACKENDS, DEFAULT_BACKEND
from neuropose_assets.core.pose.metrabs_model import DEFAULT_VARIANT
from neuropose_assets.settings import settings

REPO = Path(__file__).resolve().parents[1]


def _layout(args: argparse.Namespace) -> Layout:
    from neuropose_assets.core.io.storage import secure_data_root

    root = Path(args.data_root).expanduser().resolve() if args.data_root else default_data_root()
    os.environ["NEUROPOSE_DATA_ROOT"] = str(root)  # the code location (dagster dev) reads the same root
    if not root.exists():  # it will hold patient data: owner-only from the start (`health` checks it)
        root.mkdir(parents=True, mode=0o700)
    layout = Layout(root)
    secure_data_root(layout)  # privacy mode: owner-only files, also for the processes started from here
    return layout


# --------------------------------------------------------------------------------------------- argument validation
# every value from the command line is checked where argparse reads it: a bad one is a one-line usage error (exit 2)


def _key_arg(text: str) -> str:
    """A partition key named on the command line (``--key``, ``report KEY``): ``[a-z0-9][a-z0-9_-]*``, ≤ 128."""
    from neuropose_assets.core.io.storage import check_key

    try:
        return check_key(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _cohort_arg(text: str) -> str:
    """A cohort as typed; it needs letters or digits to give a key (:func:`cohort_key` maps it later)."""
    try:
        sanitize_key(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"cohort {text!r} has no letters or digits to name a cohort") from None
    return text


def _bounded(kind, low=None, high=None):
    """An argparse type: ``kind`` (int or float), finite, within ``[low, high]``."""
    import math

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if (kind is float and not math.isfinite(value)) or (low is not None and value < low) or (
                high is not None and value > high):  # fmt: skip
            bounds = f"from {low:g}" if low is not None else ""
            bounds += f" to {high:g}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"{text!r} is out of range (a finite value {bounds.strip()})")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


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


def cmd_samples(args: argparse.Namespace) -> int:
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


def _instance(layout: Layout):
    from dagster import DagsterInstance

    from neuropose_assets.instance import apply_pose_slots, ensure_dagster_home

    ensure_dagster_home(layout)
    instance = DagsterInstance.get()
    try:
        apply_pose_slots(instance)
    except ValueError as err:  # a bad $NEUROPOSE_POSE_SLOTS
        raise SystemExit(f"error: {err}") from None
    return instance


def register_videos(instance, layout: Layout, videos: dict[str, Path], cohort: str,
                    tasks: dict[str, object] | None = None, *, pseudonymous: bool = False) -> None:  # fmt: skip
    """Write registry entries (with each video's :class:`~.core.analysis.tasks.TaskDeclaration` from ``tasks``, if given)
    and add the ``videos`` / ``cohorts`` dynamic partitions (idempotent)."""
    from neuropose_assets.core.io.storage import Registry

    reg = Registry(layout)
    for key, path in videos.items():
        reg.register(key, path, cohort, task=(tasks or {}).get(key), pseudonymous=pseudonymous)
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


def _declaration(task: str | None, params: list[str] | None, how: str):
    """The task declared on the command line (``None`` when ``--task`` was not given)."""
    from neuropose_assets.core.analysis.tasks import TaskDeclaration, make_spec, parse_params

    if task is None:
        if params:
            raise ValueError("--param needs --task")
        return None
    return TaskDeclaration(make_spec({"task": task, **parse_params(params or [])}, "--task/--param"), how)


def cmd_register(args: argparse.Namespace) -> int:
    """The ``neuropose-assets register`` command: register a video or marker file as a partition of ``--cohort``
    (with the task of ``--task`` / ``--param``, if given) without running anything; returns the process exit code (0 ok,
    2 when the path is not a file, its format is not supported, or the task or a parameter is invalid)."""
    from neuropose_assets.core.analysis.tasks import ProtocolError

    layout = _layout(args)
    path = Path(args.video).expanduser().resolve()
    if not path.is_file():
        print(f"error: {path} is not a file", file=sys.stderr)
        return 2
    if unsupported_format(path):
        print(f"error: {unsupported_format(path)}", file=sys.stderr)
        return 2
    try:
        decl = _declaration(args.task, args.param, "--task (neuropose-assets register)")
    except (ProtocolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    cohort = cohort_key(layout, args.cohort)
    (key,), pseudonymous = command_line_keys(layout, [path], cohort, args.key)
    register_videos(_instance(layout), layout, {key: path}, cohort, {key: decl}, pseudonymous=pseudonymous)
    task = f"task {decl.spec.task!r}" if decl else "no task declared (analysed as 'generic')"
    print(f"registered {path.name} as partition {key!r} in cohort {cohort!r}, {task}; materialize it from the UI "
          f"(per_video_job, partition {key}) "
          f"or analyse it now with `neuropose-assets run {path} --task ...`")  # fmt: skip
    return 0


def _asset_meta(result, asset: str) -> dict:
    from dagster import AssetKey

    for ev in result.get_asset_materialization_events():
        mat = ev.event_specific_data.materialization
        if mat.asset_key == AssetKey(asset):
            return {k: v.value for k, v in mat.metadata.items()}
    return {}


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


#: Dagster's console logger silenced: the headless commands print progress and their own summary; every event is
#: still in the instance's event log (the UI), and ``--verbose`` shows them on the terminal
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
VERBOSE = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


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


def _progress(i: int, n: int, key: str, row: dict | None) -> None:
    if row is None:
        print(f"[{i}/{n}] {key} …", flush=True)
        return
    if row["ok"]:
        ev, rep = row["meta"]["events"].get("events"), row["meta"]["repetitions"].get("repetitions")
        n_ev = sum(ev.values()) if isinstance(ev, dict) else ev
        print(f"[{i}/{n}] {key}: ok — task {row['meta']['events'].get('task', '?')}, {plural(n_ev or 0, 'event')}, "
              f"{plural(rep or 0, 'repetition')} ({row['wall_s']:.1f} s"
              f"{', poses reused' if row['reused_poses'] else ''})", flush=True)  # fmt: skip
        for w in row.get("warnings", []):
            print(f"        {w}", flush=True)
    else:
        print(f"[{i}/{n}] {key}: FAILED — {row['error']}", flush=True)


def _is_analysed(layout: Layout, key: str, path: Path) -> bool:
    """The partition's stored video has the same content as ``path`` and its poses exist, so a changed task only
    needs the task-dependent assets."""
    import polars as pl

    from neuropose_assets.core.io.atomic import sha256_file

    raw, features = layout.asset_file("raw_video", key), layout.asset_file("features", key)
    if not (raw.exists() and features.exists()):
        return False
    return pl.read_parquet(raw, columns=["sha256"])["sha256"][0] == sha256_file(path)


def run_videos(layout: Layout, videos: dict[str, Path], cohort: str, tasks: dict[str, object], *,
               reuse: bool = True, pseudonymous: bool = False, review: bool = False, verbose: bool = False,
               progress=_progress) -> dict:  # fmt: skip
    """Register ``videos`` with their tasks, materialize each partition (only the task-dependent assets when the
    video was analysed before with the same content and ``reuse``), then (``review``) its review video and report,
    then the cohort tables.  ``progress(i, n, key, row)`` is called before (``row`` None) and after each video.

    Returns:
        ``{"rows": [per-video dict], "cohort": cohort_outcomes metadata, "cohort_ok": bool, "timing": {...}}``; each
        row holds ``video``, ``ok``, ``error``, ``outcomes`` (DataFrame or None), the step metadata and timings.
    """
    import polars as pl
    from dagster import AssetKey

    from neuropose_assets.dagster_defs.assets.task import TASK_ASSETS
    from neuropose_assets.definitions import build_defs
    from neuropose_assets.run_launcher import process_tags

    instance = _instance(layout)
    register_videos(instance, layout, videos, cohort, tasks, pseudonymous=pseudonymous)
    defs = build_defs(str(layout.root))
    job = defs.resolve_job_def("per_video_job")
    run_config = VERBOSE if verbose else QUIET
    rows, timing = [], {"model_load_s": 0.0, "inference_s": 0.0, "analysis_s": 0.0, "review_s": 0.0,
                        "dagster_overhead_s": 0.0}  # fmt: skip
    for i, (key, path) in enumerate(videos.items(), 1):
        progress(i, len(videos), key, None)
        subset = [AssetKey(a) for a in TASK_ASSETS] if reuse and _is_analysed(layout, key, path) else None
        t = time.perf_counter()
        res = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False, run_config=run_config,
                                     asset_selection=subset, tags={"cohort": cohort, **process_tags()})  # fmt: skip
        wall = time.perf_counter() - t
        meta = {a: _asset_meta(res, a) for a in stages.assets("per_video_job")}
        pm = meta["poses"]
        load, pose_s = pm.get("model_load_s", 0.0), pm.get("decode_and_inference_s", 0.0)
        analysis = sum(m.get("compute_s") or (m.get("internal") or {}).get("compute_s", 0.0) for m in meta.values())
        analysis += pm.get("tracking_and_table_s", 0.0)
        timing["model_load_s"] += load
        timing["inference_s"] += pose_s
        timing["analysis_s"] += analysis
        timing["dagster_overhead_s"] += max(0.0, wall - load - pose_s - analysis)
        out_path = layout.asset_file("outcomes", key)
        row = {
            "video": key, "ok": res.success, "error": None if res.success else failure_message(res),
            "reused_poses": subset is not None, "meta": meta, "wall_s": round(wall, 2),
            "outcomes": pl.read_parquet(out_path) if res.success and out_path.exists() else None, "report": None,
            # the failed checks, as the UI shows them: severity, check name, message (core.analysis.quality: one source)
            "warnings": [f"{e.severity.value} {e.check_name}: {e.description}"
                         for e in res.get_asset_check_evaluations()
                         if not e.passed and e.description],
        }  # fmt: skip
        if review and res.success:
            t = time.perf_counter()
            rres = defs.resolve_job_def("review_job").execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False, run_config=run_config,
                tags=process_tags())  # fmt: skip
            timing["review_s"] += time.perf_counter() - t
            row["review"] = _asset_meta(rres, "review_video")
            row["report"] = _asset_meta(rres, "report").get("report")
            if not rres.success:
                row["review_error"] = failure_message(rres)
        rows.append(row)
        progress(i, len(videos), key, row)
    t = time.perf_counter()
    cres = defs.resolve_job_def("cohort_job").execute_in_process(partition_key=cohort, instance=instance,
                                                                 raise_on_error=False, run_config=run_config,
                                                                 tags=process_tags())  # fmt: skip
    cm = {**_asset_meta(cres, "cohort_dtw"), **{f"outcomes_{k}": v for k, v in _asset_meta(cres, "cohort_outcomes")
                                                 .items()}}  # fmt: skip
    timing["analysis_s"] += cm.get("compute_s", 0.0) + cm.get("outcomes_compute_s", 0.0)
    timing["dagster_overhead_s"] += max(0.0, time.perf_counter() - t - cm.get("compute_s", 0.0))
    return {"rows": rows, "cohort": cm, "cohort_ok": cres.success, "timing": timing,
            "cohort_error": None if cres.success else failure_message(cres)}


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


def run_demo(layout: Layout, cache: Path, only: list[str] | None = None, out=print, *, verbose: bool = False) -> dict:
    """Fetch samples, register them with their declared tasks, materialize everything, return a summary dict (also
    printed through ``out``)."""
    import psutil

    t_start = time.perf_counter()
    # the interpreter and the modules imported before this function ran count as imports too
    before = max(0.0, time.time() - psutil.Process().create_time())
    import polars as pl  # noqa: F401  (imported here so that its import time counts in imports_s)

    from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
    from neuropose_assets.core.io.samples import SAMPLE_CLIPS, fetch_samples

    t_imports = before + time.perf_counter() - t_start
    t = time.perf_counter()
    clips = fetch_samples(cache, only)
    t_fetch = time.perf_counter() - t
    cohort = "samples"
    specs = {c.key: TaskDeclaration(TaskSpec(**dict(c.task)), "demo (neuropose_assets.core.io.samples)")
             for c in SAMPLE_CLIPS}  # fmt: skip
    with native_stderr_to(None if verbose else layout.root / "logs" / "neuropose-assets.log"):
        summary = run_videos(layout, clips, cohort, {k: specs[k] for k in clips}, reuse=False, review=True,
                             verbose=verbose)  # fmt: skip
    timing = {"imports_s": t_imports, "fetch_s": t_fetch, **summary["timing"]}
    timing["total_s"] = time.perf_counter() - t_start + before
    summary["timing"] = timing
    from neuropose_assets.core.analysis import summary as fmt

    rows = [[r["video"], "ok" if r["ok"] else "FAILED", r["meta"]["events"].get("task") or "?",
             str(r["meta"]["poses"].get("n_frames")), str(r["meta"]["poses"].get("frames_with_subject")),
             str(r["meta"]["repetitions"].get("repetitions")), f"{r['wall_s']:.1f}"]
            for r in summary["rows"]]  # fmt: skip
    out(f"\nneuropose-assets demo — data root {layout.root}\n")
    out(fmt.text_table(rows, ["video", "status", "task", "frames", "with subject", "repetitions", "wall [s]"],
                       right={3, 4, 5, 6}))  # fmt: skip
    print_outcomes(summary["rows"], out)
    # the clinical clips' outcomes next to their reference values (motion capture, hand counts)
    refs = []
    for clip in SAMPLE_CLIPS:
        row = next((r for r in summary["rows"] if r["video"] == clip.key and r["ok"]), None)
        if row is None or not clip.reference or row["outcomes"] is None:
            continue
        values = dict(zip(row["outcomes"]["measure"], row["outcomes"]["value"], strict=True))
        for measure, ref, source in clip.reference:
            refs.append([clip.key, measure, fmt.shown(measure, values.get(measure)), fmt.shown(measure, ref),
                         fmt.unit_label(measure), source])  # fmt: skip
    if refs:
        out("\nclinical clips against their reference values:")
        out(fmt.text_table(refs, ["video", "measure", "computed", "reference", "unit", "reference from"],
                           right={2, 3}))  # fmt: skip
    cm = summary["cohort"]
    n = cm.get("sequences", 0)
    out(f"\ncohort '{cohort}': outcome table {cm.get('outcomes_videos', 0)} videos "
        f"({layout.asset_file('cohort_outcomes', cohort)}); DTW matrix {n} x {n} on mean repetitions "
        f"({cm.get('pairs', 0)} pairs; left out: {cm.get('missing_members', '?')})")  # fmt: skip
    out("time: " + ", ".join(f"{k} {v:.1f}" for k, v in timing.items()))
    reports = [r["report"] for r in summary["rows"] if r.get("report")]
    if reports:
        out(f"reports (HTML, open in a browser): {layout.reports}/<video>.html, e.g. {reports[0]}; review videos: "
            f"{layout.review}/<video>.mp4")  # fmt: skip
    out(
        f"\nBrowse runs, lineage and metadata in the Dagster UI:\n"
        f"  .venv/bin/neuropose-assets ui --data-root {layout.root}\n"
        f"  then open http://127.0.0.1:3000  (Assets → Lineage; per_video_job partitions)\n"
        f"Analyse your own video: .venv/bin/neuropose-assets run VIDEO --task gait|tug|sit_to_stand|squat|arm_raise\n"
        f"Read the tables from a notebook: polars.read_parquet('{layout.assets}/outcomes/*.parquet')"
    )
    return summary


def cmd_demo(args: argparse.Namespace) -> int:
    """The ``neuropose-assets demo`` command: :func:`run_demo` on the data root; returns the process exit code (0 ok,
    1 when a sample's run or the cohort tables failed)."""
    summary = run_demo(_layout(args), Path(args.cache), args.only, verbose=args.verbose)
    ok = all(r["ok"] for r in summary["rows"]) and summary["cohort_ok"]
    return 0 if ok else 1


def cmd_run(args: argparse.Namespace) -> int:
    """The ``neuropose-assets run`` command: analyse video files with the declared task (:func:`run_videos`) and
    print their outcomes, reports and where the tables are; returns the process exit code (0 ok; 1 when a video's run
    or the cohort tables failed, each failure printed; 2 for an invalid task or parameter, a path that is not a file or
    not a supported format, ``--key`` with several videos, or files that would share a partition key)."""
    from neuropose_assets.core.analysis.tasks import ProtocolError

    layout = _layout(args)
    try:
        decl = _declaration(args.task, args.param, "--task (neuropose-assets run)")
    except (ProtocolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = [Path(v).expanduser().resolve() for v in args.videos]
    bad = [str(p) for p in paths if not p.is_file()]
    if bad:
        print(f"error: not a file: {', '.join(bad)}", file=sys.stderr)
        return 2
    refused = [unsupported_format(p) for p in paths if unsupported_format(p)]
    if refused:
        print("error: " + "\nerror: ".join(refused), file=sys.stderr)
        return 2
    if args.key and len(paths) > 1:
        print("error: --key names one video; omit it to derive keys from the file names", file=sys.stderr)
        return 2
    cohort = cohort_key(layout, args.cohort)
    try:
        keys, pseudonymous = command_line_keys(layout, paths, cohort, args.key)
    except ValueError as err:
        print(f"error: {err}; pass --key", file=sys.stderr)
        return 2
    if len(set(keys)) < len(keys):
        print(f"error: several files would become the same partition key: {keys}", file=sys.stderr)
        return 2
    with native_stderr_to(None if args.verbose else layout.root / "logs" / "neuropose-assets.log"):
        summary = run_videos(layout, dict(zip(keys, paths, strict=True)), cohort, dict.fromkeys(keys, decl),
                             reuse=not args.no_reuse, pseudonymous=pseudonymous, review=not args.no_review,
                             verbose=args.verbose)  # fmt: skip
    print_outcomes(summary["rows"])
    reports = [r["report"] for r in summary["rows"] if r.get("report")]
    if reports:
        print(f"\nreports: {', '.join(reports)}")
    print(f"\noutputs: {layout.assets}/<asset>/<video>.parquet; cohort table: "
          f"{layout.asset_file('cohort_outcomes', cohort)} "
          f"(`neuropose-assets outcomes {cohort} --csv FILE`)")  # fmt: skip
    # every failed step, with its message (exit code 1 never comes without a reason on the screen)
    for r in summary["rows"]:
        if not r["ok"]:
            print(f"error: {r['video']}: {r.get('error') or 'failed'}", file=sys.stderr)
        if r.get("review_error"):
            print(f"error: {r['video']}: review video / report: {r['review_error']}", file=sys.stderr)
    if not summary["cohort_ok"]:
        print(f"error: cohort tables of {cohort!r}: {summary.get('cohort_error') or 'failed'}", file=sys.stderr)
    return 0 if all(r["ok"] for r in summary["rows"]) and summary["cohort_ok"] else 1


def cmd_report(args: argparse.Namespace) -> int:
    """The ``neuropose-assets report`` command: write the partition's self-contained HTML report to ``--out``
    (default ``./<partition>.html``); returns the process exit code (0 ok, 2 when the partition is unknown or has no
    outcomes yet, or the report cannot be built from its files)."""
    from neuropose_assets.core.review.report import write_report

    layout = _layout(args)
    if _analysed(layout, args.partition, "outcomes") is None:
        return 2
    out = Path(args.out).expanduser() if args.out else Path.cwd() / f"{args.partition}.html"
    try:
        path, rep = write_report(layout, args.partition, out)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    flags = f"; {plural(len(rep.flags), 'quality flag')}" if rep.flags else ""
    print(f"wrote {path} ({plural(len(rep.figures), 'figure')}{flags}) — open it in a browser")
    return 0


def cmd_outcomes(args: argparse.Namespace) -> int:
    """The ``neuropose-assets outcomes`` command: print a cohort's main outcomes per task, one row per video with
    its quality flags, or with ``--csv FILE`` write every measure (rounded, a null-reason column beside every measure
    that is null somewhere); returns the process exit code (0 ok, 2 when the cohort has no outcome table)."""
    import polars as pl

    layout = _layout(args)
    cohort = cohort_key(layout, args.cohort)
    path = layout.asset_file("cohort_outcomes", cohort)
    if not path.exists():
        print(f"error: no outcome table for cohort {cohort!r} under {layout.root}; run its videos first (intake "
              "folder, `neuropose-assets run`, or cohort_job in the UI)", file=sys.stderr)  # fmt: skip
        return 2
    from neuropose_assets.core.analysis import summary

    df = pl.read_parquet(path)
    per_video = {k: pl.read_parquet(layout.asset_file("outcomes", k)) for k in df["partition"]
                 if layout.asset_file("outcomes", k).exists()}  # fmt: skip
    if args.csv:
        from neuropose_assets.core.io.atomic import atomic_write_bytes

        reasons = {k: {r["measure"]: r["null_reason"] for r in o.iter_rows(named=True) if r["value"] is None}
                   for k, o in per_video.items()}  # fmt: skip
        out = summary.cohort_csv(df, reasons)
        atomic_write_bytes(Path(args.csv).expanduser(), out.write_csv().encode())
        print(f"wrote {plural(out.height, 'row')} × {plural(out.width, 'column')} to {args.csv} (values rounded to "
              "their precision; <measure>_null_reason beside every measure that is null somewhere)")  # fmt: skip
        return 0
    print(f"cohort {cohort!r}: {plural(df.height, 'video')} (all measures: --csv FILE)")
    for task, group in df.group_by("task", maintain_order=True):
        measures = [m for m in summary.MAIN_OUTCOMES.get(task[0], ()) if m in group.columns]
        rows = []
        for r in group.iter_rows(named=True):
            flags = _flag_names(layout, r["partition"])
            rows.append([r["partition"], *(summary.shown(m, r[m]) for m in measures), flags or "ok"])
        print(f"\n{task[0]}:")
        print(summary.text_table(rows, ["video", *(summary.header(m) for m in measures), "flags"],
                                 right=set(range(1, len(measures) + 1))))  # fmt: skip
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """The ``neuropose-assets list`` command: print the cohorts (or only the one named) and their videos with
    partition key, task, status and quality flags; returns the process exit code (always 0, also when nothing is
    registered)."""
    from neuropose_assets.core.analysis.summary import text_table
    from neuropose_assets.core.io.storage import Registry

    layout = _layout(args)
    entries = Registry(layout).all()
    if args.cohort:
        cohort = cohort_key(layout, args.cohort)
        entries = [e for e in entries if e.cohort == cohort]
    if not entries:
        print(f"no videos registered under {layout.root}" + (f" in cohort {args.cohort!r}" if args.cohort else "")
              + " — drop videos into the intake folder or use `neuropose-assets run VIDEO --task …`")  # fmt: skip
        return 0
    cohorts = sorted({e.cohort for e in entries})
    print(f"{plural(len(cohorts), 'cohort')}, {plural(len(entries), 'video')} under {layout.root}")
    for cohort in cohorts:
        rows = []
        for e in (x for x in entries if x.cohort == cohort):
            task = (e.task or {}).get("spec", {}).get("task") or "generic (undeclared)"
            if layout.asset_file("outcomes", e.partition).exists():
                status, flags = "analysed", _flag_names(layout, e.partition) or "ok"
            elif layout.asset_file("raw_video", e.partition).exists():
                status, flags = "incomplete (a step failed: see the UI)", ""
            else:
                status, flags = "registered, not analysed", ""
            rows.append([e.partition, task, status, flags])
        print(f"\n{cohort}:")
        print(text_table(rows, ["video", "task", "status", "flags"]))
    return 0


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 repetition"``, ``"2 repetitions"``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _flag_names(layout: Layout, key: str) -> str:
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
    return (f"no {what} {key!r} under {layout.root} ({plural(len(known), 'video')} registered: "
            "`neuropose-assets list` shows them)")


def _analysed(layout: Layout, key: str, asset: str = "features") -> Path | None:
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
    print(f"error: partition {key!r} has no {asset} table under {layout.root}; analyse it first (intake folder, "
          f"`neuropose-assets run`, or per_video_job in the UI)", file=sys.stderr)  # fmt: skip
    return None


def cmd_export(args: argparse.Namespace) -> int:
    """The ``neuropose-assets export`` command: write the partition's poses and joint angles for OpenSim
    (``--format`` ``trc``: markers in m, ``mot``: angles in deg, or ``csv``) to ``--out``; returns the process exit code
    (0 ok, 2 when the partition is unknown or has no ``features`` table, or its data cannot be exported)."""
    import polars as pl

    from neuropose_assets.core.interop.opensim import opensim_tables, write_export
    from neuropose_assets.core.io.errors import VideoError
    from neuropose_assets.core.io.tables import read_provenance

    layout = _layout(args)
    path = _analysed(layout, args.partition)
    if path is None:
        return 2
    prov = read_provenance(path)
    frame = (prov.get("configs", {}).get("features") or {}).get("frame", "camera")
    try:
        kin = layout.asset_file("kinematics", args.partition)
        exp = opensim_tables(pl.read_parquet(path), frame=frame, absolute=prov["model"]["origin"] == "camera",
                             kinematics=pl.read_parquet(kin) if kin.exists() else None)  # fmt: skip
    except VideoError as err:
        print(f"error: {args.partition}: {err}", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser() if args.out else Path(f"{args.partition}.{args.format}")
    write_export(exp, out, args.format)
    rows = int(exp.mot_rows().sum()) if args.format == "mot" else len(exp.times_s)
    print(f"wrote {out}: {rows} frame(s) at {exp.rate_hz():g} Hz"
          + (f", {exp.omitted} frame(s) without any joint left out" if exp.omitted else "")
          + f"; OpenSim axes X forward ({exp.transform.heading.how}), Y up, Z right"
          + ("" if exp.absolute else "; positions hip-centred (the pose model has no translation)"))  # fmt: skip
    return 0


def cmd_agreement(args: argparse.Namespace) -> int:
    """The ``neuropose-assets agreement`` command: print (and with ``--csv`` write) the event timing agreement
    of each test partition with its reference (its own recorded events, or ``--reference``'s markers), the outcome
    differences and, with two or more pairs, the ICC of each outcome; returns the process exit code (0 ok, 2 when no
    partition is named, a pair is malformed, or a partition lacks a table it needs)."""
    import polars as pl

    from neuropose_assets.core.comparison.agreement import (
        event_agreement,
        outcome_agreement,
        outcome_icc,
        reference_problems,
    )

    layout = _layout(args)
    pairs = [p.split(":", 1) for p in args.pair or []]
    if args.partition:
        pairs.insert(0, [args.partition, args.reference])
    if not pairs or any(len(p) != 2 for p in pairs[1:]):
        print("error: name a partition (and optionally --reference), or pairs with --pair TEST:REFERENCE",
              file=sys.stderr)  # fmt: skip
        return 2
    events, outcomes = [], []
    for test, ref in pairs:
        paths = [_analysed(layout, k, a) for k, a in ((test, "events"), (test, "outcomes"))]
        if ref is not None:
            paths += [_analysed(layout, ref, a) for a in ("events", "outcomes", "reference_events")]
        else:
            paths += [_analysed(layout, test, "reference_events")]
        if any(p is None for p in paths):
            return 2
        detected = pl.read_parquet(paths[0])
        if ref is None:  # markers against the events recorded with them (C3D events, force plates)
            reference = pl.read_parquet(paths[2])
        else:  # e.g. video against markers: the markers' detected events, and what was recorded with them
            reference = pl.concat([pl.read_parquet(paths[2]).select("event", "side", "time_s",
                                                                    pl.lit(f"{ref} (detected)").alias("source")),
                                   pl.read_parquet(paths[4]).select("event", "side", "time_s", "source")])  # fmt: skip
        for problem in reference_problems(reference):
            print(f"WARNING: the reference of {test} may itself be wrong — {problem}; its agreement then measures the "
                  "reference, not the detector.", file=sys.stderr)  # fmt: skip
        table = event_agreement(detected, reference, tolerance_s=args.tolerance_s, offset_s=args.offset_s)
        events.append(table.with_columns(pl.lit(test).alias("test")))
        if ref is not None:
            o = outcome_agreement(pl.read_parquet(paths[1]), pl.read_parquet(paths[3]))
            outcomes.append(o.with_columns(pl.lit(f"{test}:{ref}").alias("pair")))
    ev = pl.concat(events).select("test", pl.exclude("test"))
    with pl.Config(tbl_rows=200, tbl_cols=-1, tbl_width_chars=220, float_precision=1):
        print("events: detected − reference, ms (negative = detected early); bias and 95 % limits of agreement "
              "(Bland–Altman)")  # fmt: skip
        print(ev)
    tables = {"events": ev}
    if outcomes:
        oc = pl.concat(outcomes).select("pair", pl.exclude("pair"))
        tables["outcomes"] = oc
        with pl.Config(tbl_rows=200, tbl_cols=-1, tbl_width_chars=220, float_precision=3):
            print("\noutcomes: test − reference")
            print(oc)
            if len(outcomes) > 1:
                tables["icc"] = outcome_icc(oc)
                print("\nacross the session pairs: ICC(A,1) with 95 % CI (pingouin), Bland–Altman bias and limits")
                print(tables["icc"])
    if args.csv:
        from neuropose_assets.core.io.atomic import atomic_write_bytes

        base = Path(args.csv).expanduser()
        for name, df in tables.items():
            target = base if name == "events" else base.with_name(f"{base.stem}_{name}{base.suffix or '.csv'}")
            atomic_write_bytes(target, df.write_csv().encode())
            print(f"wrote {target}")
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    """The ``neuropose-assets benchmark`` command: the benchmark of :func:`_benchmark`, with native libraries'
    log lines sent to the cache's ``logs/benchmark.log`` unless ``--verbose``; returns the process exit code (0 ok, 2
    when the video is not a file or cannot be decoded, ``--passes`` is below 2, or the ``--compare-cpu`` run failed)."""
    with native_stderr_to(None if args.verbose else default_cache_dir() / "logs" / "benchmark.log"):
        return _benchmark(args)


def _benchmark(args: argparse.Namespace) -> int:
    import json
    import tempfile
    from datetime import datetime, timezone

    from neuropose_assets.core.analysis.tasks import make_spec, parse_params
    from neuropose_assets.core.io.atomic import atomic_write_bytes, sha256_file
    from neuropose_assets.core.io.errors import VideoError
    from neuropose_assets.core.pose import bench
    from neuropose_assets.dagster_defs.resources import PoseModelResource

    if args.force_cpu:
        bench.hide_accelerators()
    video = Path(args.video).expanduser().resolve()
    if not video.is_file():
        print(f"error: {video} is not a file", file=sys.stderr)
        return 2
    if args.passes < 2:
        print("error: --passes must be at least 2 (the first pass is a warm-up and is not counted)", file=sys.stderr)
        return 2
    spec = make_spec({"task": args.task, **parse_params(args.param or [])}, "--task/--param")
    from neuropose_assets.core.pose import load_backend

    t0 = time.perf_counter()
    backend = load_backend(args.backend, **PoseModelResource(backend=args.backend).settings())
    load_s = time.perf_counter() - t0
    passes, table = [], None
    for i in range(args.passes):
        try:
            res, table = bench.run_pass(backend, video, spec, display=video.name)
        except VideoError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        passes.append(res)
        if not args.quiet:
            print(f"pass {i + 1}/{args.passes}{' (warm-up)' if i == 0 else ''}: {res.frames} frames, pose "
                  f"{res.pose_fps:.1f} frames/s, chain {res.chain_fps:.1f} frames/s", file=sys.stderr)  # fmt: skip
    command = "neuropose-assets benchmark " + " ".join(
        [video.name, f"--backend {args.backend}", f"--passes {args.passes}", f"--task {args.task}"]
        + [f"--param {p}" for p in args.param or []] + (["--compare-cpu"] if args.compare_cpu else []))
    result = bench.BenchmarkResult(
        video=video.name, video_sha256=sha256_file(video), backend=args.backend, model=backend.info.as_dict(),
        device=bench.device(backend), model_load_s=load_s, passes=[p.__dict__ for p in passes],
        aggregate=bench.aggregate(passes), machine=bench.machine(), versions=bench.library_versions(),
        commit=bench.git_commit(REPO), date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        command=command).as_dict()  # fmt: skip
    if args.poses_out:
        table.write_parquet(args.poses_out)
    if args.compare_cpu:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "neuropose_assets.cli", "benchmark", str(video), "--backend", args.backend,
                   "--passes", str(args.passes), "--task", args.task, *(f"--param={p}" for p in args.param or []),
                   "--force-cpu", "--quiet", "--json", f"{tmp}/cpu.json", "--poses-out", f"{tmp}/cpu.parquet"]
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": "-1", "MEDIAPIPE_DISABLE_GPU": "1"}
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)  # fmt: skip
            if proc.returncode != 0:
                print(f"error: the CPU comparison run failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}",
                      file=sys.stderr)  # fmt: skip
                return 2
            import polars as pl

            cpu = json.loads(Path(f"{tmp}/cpu.json").read_text())
            diff, rows = bench.poses_divergence_mm(table, pl.read_parquet(f"{tmp}/cpu.parquet"))
        cpu_fps = cpu["aggregate"]["pose_fps"]
        result["compare_cpu"] = {"cpu_device": cpu["device"], "cpu_pose_fps": cpu_fps,
                                 "speedup": result["aggregate"]["pose_fps"] / cpu_fps if cpu_fps else 0.0,
                                 "max_abs_diff_mm": diff, "rows_compared": rows}  # fmt: skip
    if not args.quiet:
        print(bench.format_report(result))
    if args.json:
        atomic_write_bytes(Path(args.json).expanduser(), json.dumps(result, indent=1).encode())
    if args.log:
        bench.append_log(Path(args.log).expanduser(), bench.log_section(result))
        if not args.quiet:
            print(f"appended to {args.log}")
    return 0


def cmd_version(args: argparse.Namespace) -> int:
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
        print(f"  model {m['name']}/{m['variant']}: sha256 {m['sha256']} "
              f"{'(verified)' if m['verified'] else '(NOT the pinned checksum)'} — {m['location']}")  # fmt: skip
    print("  " + ", ".join(f"{k} {v}" for k, v in info["libraries"].items()))
    return 0


def cmd_health(args: argparse.Namespace) -> int:
    """The ``neuropose-assets health`` command: run :func:`~neuropose_assets.health.health_checks` on the data root
    and intake folder and print each check (``--json``: as JSON); returns the process exit code (0 ok, also with
    warnings, 1 when a check fails)."""
    import json

    from neuropose_assets.dagster_defs.sensors import intake_root
    from neuropose_assets.health import health_checks

    layout = _layout(args)
    checks = health_checks(layout, intake_root(layout))
    failed = any(c.status == "fail" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=1))
    else:
        for c in checks:
            print(f"{c.status:4s}  {c.name:11s} {c.detail}")
    return 1 if failed else 0


def cmd_model(args: argparse.Namespace) -> int:
    """The ``neuropose-assets model install`` command: obtain the MeTRAbs model (verified download, local archive
    ``--tarball`` or directory ``--dir``) into ``--cache``, with ``--load`` also load it into TensorFlow, and print
    where it is; returns the process exit code (0 ok, 2 when it cannot be obtained or verified, or does not load)."""
    from neuropose_assets.core.pose.metrabs_model import ModelAcquisitionError, acquire

    try:
        loc = acquire(args.cache, variant=args.variant, sha256=args.sha256, url=args.url, tarball=args.tarball,
                      directory=args.dir)  # fmt: skip
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


def cmd_ingest(args: argparse.Namespace) -> int:
    """The ``neuropose-assets ingest`` command: place the videos of a zip archive into the intake folder
    (:func:`~neuropose_assets.core.io.zip_ingest.ingest_zip`; with ``--task``, declared in each cohort's ``protocol.yaml``)
    for the intake sensor to pick up; returns the process exit code (0 ok, 2 for an invalid task or parameter, an intake
    folder that cannot be created, or an archive that is missing or refused — unsafe paths, bombs, collisions)."""
    from neuropose_assets.core.analysis.tasks import ProtocolError
    from neuropose_assets.core.io.intake import Pseudonymiser, derive_key
    from neuropose_assets.core.io.storage import privacy_mode
    from neuropose_assets.core.io.zip_ingest import IngestError, ingest_zip
    from neuropose_assets.dagster_defs.sensors import intake_root

    try:
        decl = _declaration(args.task, args.param, "--task (neuropose-assets ingest)")
    except (ProtocolError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    layout = _layout(args)
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
        res = ingest_zip(args.archive, intake, cohort=args.cohort, overwrite=args.overwrite, key_of=key_of,
                         companions=None if decl is None else lambda targets: protocol_updates(intake, targets, decl,
                                                                                               comment))  # fmt: skip
    except (IngestError, FileNotFoundError) as err:  # CollisionError lists every collision in its message
        if made_intake:
            with contextlib.suppress(OSError):
                intake.rmdir()  # a failed ingest leaves nothing behind, not even the folder it would have filled
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"placed {len(res.placed)} video(s), {res.total_bytes / 1e6:.1f} MB, into {intake} (cohorts: "
          f"{', '.join(res.cohorts)}); {len(res.skipped)} other member(s) skipped")  # fmt: skip
    for name in res.skipped:
        if not name.endswith("/") and unsupported_format(name) and not name.lower().endswith(SIDECAR_EXTENSIONS):
            print(f"  skipped: {unsupported_format(name)}")
    for p in res.placed:
        print(f"  {p.relative_to(intake)}")
    if decl is not None:
        for folder in res.cohorts:
            n = sum(p.relative_to(intake).parts[0] == folder for p in res.placed)
            print(f"declared task {decl.spec.task!r} for {n} video(s) in {intake / folder / 'protocol.yaml'}")
    print("the intake sensor picks them up once they are stable (about a minute)")
    return 0


def protocol_updates(intake: Path, placed: list[Path], decl, comment: str) -> dict[Path, bytes]:
    """The new content of each cohort's ``protocol.yaml``: its current text plus one YAML document that declares
    ``decl`` for exactly the ``placed`` files (appended documents override earlier rules; the user's own text and
    comments are kept).  ``placed`` are absolute paths below ``intake`` (absolute)."""
    from neuropose_assets.core.analysis.tasks import PROTOCOL_FILE, protocol_rule_document

    by_cohort: dict[str, dict[str, dict]] = {}
    params = decl.spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    params["task"] = decl.spec.task
    for p in placed:
        folder, inner = p.relative_to(intake).as_posix().split("/", 1)
        by_cohort.setdefault(folder, {})[inner] = params
    out = {}
    for folder, rules in by_cohort.items():
        path = intake / folder / PROTOCOL_FILE
        old = path.read_bytes() if path.exists() else b""
        out[path] = old + (b"\n" if old else b"") + protocol_rule_document(rules, comment).encode("utf-8")
    return out


def backfill_partitions(layout: Layout, cohort: str, *, missing_only: bool) -> list[str]:
    """Partitions of ``cohort`` (registry), or only those where any per-video table is missing (failed or never
    run)."""
    from neuropose_assets.core.io.storage import Registry
    from neuropose_assets.dagster_defs.checks import PER_VIDEO_TABLES

    keys = [e.partition for e in Registry(layout).members(cohort)]
    if missing_only:
        keys = [k for k in keys if not all(layout.asset_file(a, k).exists() for a in PER_VIDEO_TABLES)]
    return keys


def cmd_backfill(args: argparse.Namespace) -> int:
    """The ``neuropose-assets backfill`` command: re-run a cohort's videos (``--missing-only``: those with a
    per-video table missing) as an asset backfill that the daemon runs (:func:`submit_asset_backfill`), or with
    ``--in-process`` here and now, then the cohort tables; returns the process exit code (0 ok, also when there is
    nothing to backfill; 1 when the backfill was refused or, in process, a video's run failed)."""
    from neuropose_assets.core.io.storage import Registry

    layout = _layout(args)
    cohort = cohort_key(layout, args.cohort)
    keys = backfill_partitions(layout, cohort, missing_only=args.missing_only)
    instance = _instance(layout)
    # every registered video of the cohort is a partition of this instance, also one that needs no run (e.g. a new
    # PostgreSQL instance over an existing data root: its outputs stay valid)
    registered = [e.partition for e in Registry(layout).members(cohort)]
    missing = [k for k in registered if not instance.has_dynamic_partition("videos", k)]
    if missing:
        instance.add_dynamic_partitions("videos", missing)
    if registered and not instance.has_dynamic_partition("cohorts", cohort):
        instance.add_dynamic_partitions("cohorts", [cohort])
    if not keys:
        print(f"nothing to backfill in cohort {cohort!r}"
              + (f"; {len(missing)} registered video(s) added to the instance as partitions" if missing else ""))
        return 0
    if args.in_process:
        from neuropose_assets.definitions import build_defs
        from neuropose_assets.run_launcher import process_tags

        defs = build_defs(str(layout.root))
        ok = True
        for k in keys:
            res = defs.resolve_job_def("per_video_job").execute_in_process(
                partition_key=k, instance=instance, tags={"cohort": cohort, **process_tags()}, raise_on_error=False,
                run_config=QUIET)  # fmt: skip
            ok &= res.success
            print(f"  {k}: {'ok' if res.success else 'FAILED — ' + failure_message(res)}")
        defs.resolve_job_def("cohort_job").execute_in_process(partition_key=cohort, instance=instance,
                                                              raise_on_error=False, run_config=QUIET,
                                                              tags=process_tags())  # fmt: skip
        return 0 if ok else 1
    try:
        backfill_id = submit_asset_backfill(instance, keys, {"cohort": cohort}, f"cohort {cohort}")
    except RuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"submitted backfill {backfill_id} of {len(keys)} partition(s) of cohort {cohort!r}; the daemon "
          "(`neuropose-assets ui`, or dagster-daemon) runs it — see Overview → Backfills; crashed runs are retried; "
          "the cohort tables refresh afterwards")  # fmt: skip
    return 0


LAUNCH_BACKFILL = """
mutation($p: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $p) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
  }
}
"""


def submit_asset_backfill(instance, partitions: list[str], tags: dict[str, str], title: str) -> str:
    """Submit an **asset** backfill of every per-video asset for ``partitions`` — what the UI's "Launch backfill"
    does, through the same GraphQL mutation, executed in process.  Unlike a job backfill from ``dagster job
    backfill`` (which is marked complete as soon as its runs are submitted, so the run-retry daemon then refuses to
    retry its crashed runs), an asset backfill waits for retried runs.

    Raises:
        RuntimeError: the mutation was refused (message included).
    """
    from dagster_graphql.test.utils import execute_dagster_graphql

    from neuropose_assets.dagster_private import ModuleTarget, WorkspaceProcessContext

    keys = sorted(stages.assets("per_video_job"))
    params = {"partitionNames": partitions, "assetSelection": [{"path": [k]} for k in keys], "title": title,
              "tags": [{"key": k, "value": v} for k, v in tags.items()]}  # fmt: skip
    target = ModuleTarget(module_name="neuropose_assets.definitions", attribute=None, working_directory=None,
                          location_name="neuropose_assets")  # the installed package, no checkout needed
    with WorkspaceProcessContext(instance, workspace_load_target=target) as pctx:
        res = execute_dagster_graphql(pctx.create_request_context(), LAUNCH_BACKFILL, {"p": params})
    out = (res.data or {}).get("launchPartitionBackfill") or {}
    if out.get("__typename") != "LaunchBackfillSuccess":
        raise RuntimeError(f"the backfill was refused: {out or res.errors}")
    return out["backfillId"]


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _stop_tree(*procs: subprocess.Popen, grace_s: float = 10.0) -> None:
    """Stop processes started in their own sessions and everything they started: SIGTERM to every group at once,
    then SIGKILL to what is left after ``grace_s`` (``dagster dev``-style servers do not always pass SIGTERM on)."""
    import signal

    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.time() + grace_s
    while time.time() < deadline and any(_group_alive(p.pid) for p in procs):
        time.sleep(0.2)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_code_server(port: int, proc: subprocess.Popen, timeout_s: float = 180.0) -> bool:
    from neuropose_assets.dagster_private import DagsterGrpcClient

    client = DagsterGrpcClient(port=port, host="127.0.0.1")
    deadline = time.time() + timeout_s
    while time.time() < deadline and proc.poll() is None:
        try:
            client.ping("ready?")
            return True
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.5)
    return False


def _die_with_parent() -> None:
    """``preexec_fn`` of the UI's children: the kernel sends them SIGTERM when the UI process dies, even by SIGKILL
    (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere the next ``ui`` stops the orphans, :func:`stop_orphans`)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG


def stop_orphans(home: Path, out=print) -> int:
    """Stop what a ``neuropose-assets ui`` that died (SIGKILL, a crash) left running on the instance in ``home``
    (:func:`.health.ui_orphans`: its code server with the run workers it started, daemon, webserver): SIGTERM to each
    process group, SIGKILL after 10 s.  Returns how many processes were stopped."""
    import json
    import signal

    import psutil

    from neuropose_assets.health import UI_FILE, ui_orphans

    try:
        record = json.loads((home / UI_FILE).read_text())
    except (OSError, ValueError):
        return 0
    stopped = 0
    for pgid, procs in ui_orphans(home, record).items():
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            _, alive = psutil.wait_procs(procs, timeout=10)
            if not alive:
                break
        stopped += len(procs)
    if stopped:
        out(f"stopped {stopped} process(es) left running by a UI that died (pid {record.get('pid')}): its code server, "
            "daemon, webserver and run workers; run monitoring fails and retries the runs they held")  # fmt: skip
    return stopped


def port_free(host: str, port: int) -> bool:
    """Whether ``host:port`` can be bound now (as uvicorn binds it, with ``SO_REUSEADDR``)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


#: a child that stops is started again at most this many times within :data:`RESTART_WINDOW_S`, then the UI stops
MAX_RESTARTS = 3
RESTART_WINDOW_S = 600.0


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI and daemon, as ``dagster dev`` runs them, but with the webserver behind
    :class:`~neuropose_assets.webserver.SameOriginGuard`: a code server (loads the definitions once, launches the
    run workers), the daemon (sensors, run queue, monitoring, retries) and the guarded webserver, each in its own
    process group so that SIGTERM / Ctrl-C stops everything they started.

    Supervision: one UI per data root (a lock under the instance); the children die with the UI even when it is
    killed (:func:`_die_with_parent`), and a new UI first stops whatever a dead one left running
    (:func:`stop_orphans`); a child that stops is restarted (at most :data:`MAX_RESTARTS` times in
    :data:`RESTART_WINDOW_S`), so a killed daemon does not stall the intake; the web port is checked before anything
    is started or rewritten."""
    import json

    from filelock import FileLock, Timeout

    layout = _layout(args)
    from neuropose_assets.health import UI_FILE
    from neuropose_assets.instance import ensure_dagster_home

    if args.dask_scheduler:
        from neuropose_assets.dagster_defs.distributed import SCHEDULER_ENV

        os.environ[SCHEDULER_ENV] = args.dask_scheduler  # the code server and its run workers read it
    home = ensure_dagster_home(layout)
    lock = FileLock(str(home / "ui.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            rec = json.loads((home / UI_FILE).read_text())
            where = f" (pid {rec['pid']}, http://{rec['host']}:{rec['port']})"
        except (OSError, ValueError, KeyError):
            where = ""
        print(f"error: a neuropose-assets ui is already running on this data root{where}; stop it first (Ctrl-C or "
              "kill its pid), or use it", file=sys.stderr)  # fmt: skip
        return 2
    try:
        return _serve_ui(args, layout, home)
    finally:
        lock.release()


def _serve_ui(args: argparse.Namespace, layout: Layout, home: Path) -> int:
    import json
    import signal

    from dagster import DagsterInstance

    from neuropose_assets.core.io.atomic import atomic_write_bytes
    from neuropose_assets.health import UI_FILE
    from neuropose_assets.instance import apply_pose_slots

    stop_orphans(home)  # what a UI that died (kill -9, a crash) left behind holds the ports and the pose slots
    if not port_free(args.host, args.port):
        print(f"error: {args.host}:{args.port} is in use by another program; stop it or choose another --port",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        with DagsterInstance.get() as instance:
            slots, why = apply_pose_slots(instance)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"pose estimations at once (pool pose_model): {slots} — {why}")
    if settings().dask_scheduler:
        print(f"per-video runs go to the dask scheduler {settings().dask_scheduler}: its workers' POSE "
              "resource limits pose estimation there (start them with `neuropose-assets worker`)")  # fmt: skip
    if args.host not in LOOPBACK:
        print(f"WARNING: the Dagster UI has no authentication. Bound to {args.host}, anyone who can reach port "
              f"{args.port} can read every output and start or stop runs. Keep the default 127.0.0.1 and reach it "
              "through an SSH tunnel (ssh -L 3000:127.0.0.1:3000 server), or put it behind a reverse proxy that "
              "authenticates (e.g. nginx with SSO or basic auth; pass its name with --allowed-host).",
              file=sys.stderr)  # fmt: skip
    grpc_port = _free_port()
    workspace = home / "ui_workspace.yaml"
    atomic_write_bytes(workspace, (f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
                                   "      location_name: neuropose_assets\n").encode())  # fmt: skip
    py = sys.executable
    commands = {
        "code server": [py, "-m", "dagster", "code-server", "start", "-m", "neuropose_assets.definitions", "-h",
                        "127.0.0.1", "-p", str(grpc_port), "--location-name", "neuropose_assets", "--log-level",
                        "warning"],
        "daemon": [py, "-m", "dagster._daemon", "run", "-w", str(workspace)],
        "webserver": [py, "-m", "neuropose_assets.webserver", "--workspace", str(workspace), "--host", args.host,
                      "--port", str(args.port), *(f"--allowed-host={h}" for h in args.allowed_host or [])],
    }  # fmt: skip
    print(f"DAGSTER_HOME={settings().dagster_home} NEUROPOSE_DATA_ROOT={layout.root}")
    procs: dict[str, subprocess.Popen] = {}
    restarts: list[float] = []
    started = time.time()

    def start(name: str) -> None:
        procs[name] = subprocess.Popen(commands[name], cwd=home, start_new_session=True, preexec_fn=_die_with_parent)

    def record() -> None:  # where the UI listens and its process groups: `health` and the next UI read it
        atomic_write_bytes(home / UI_FILE, json.dumps({
            "host": args.host, "port": args.port, "pid": os.getpid(), "started": started,
            "children": {n: {"pid": p.pid, "pgid": p.pid} for n, p in procs.items()}}).encode())  # fmt: skip

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # SIGINT too: a background start may ignore it
        signal.signal(sig, stop)
    try:
        start("code server")
        record()
        if not _wait_for_code_server(grpc_port, procs["code server"]):
            print("error: the code server did not start (see its output above)", file=sys.stderr)
            return 1
        for name in ("daemon", "webserver"):
            start(name)
        record()
        print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops the UI, the daemon and the code server)")
        while True:
            for name, proc in list(procs.items()):
                if proc.poll() is None:
                    continue
                now = time.time()
                restarts[:] = [t for t in restarts if now - t < RESTART_WINDOW_S]
                if len(restarts) >= MAX_RESTARTS:
                    print(f"the {name} stopped (exit code {proc.returncode}) after {MAX_RESTARTS} restarts in "
                          f"{RESTART_WINDOW_S / 60:.0f} min; stopping the others", file=sys.stderr)  # fmt: skip
                    return proc.returncode or 1
                restarts.append(now)
                print(f"the {name} stopped (exit code {proc.returncode}); starting it again", file=sys.stderr)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # what it started (a code server's run workers) goes too
                start(name)
                if name == "code server" and not _wait_for_code_server(grpc_port, procs[name]):
                    print("error: the code server did not start again", file=sys.stderr)
                    return 1
                record()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping the UI, the daemon, the code server and their runs ...", file=sys.stderr)
        return 0
    finally:
        _stop_tree(*procs.values())
        with contextlib.suppress(FileNotFoundError):
            (home / UI_FILE).unlink()


def cmd_worker(args: argparse.Namespace) -> int:
    """Join a dask cluster as a worker host for per-video runs (``dagster_defs/distributed.py``): as many one-thread
    worker processes as this host has pose slots, each preloading the code location and the pose model, until
    SIGTERM / Ctrl-C."""
    import signal

    layout = _layout(args)
    from neuropose_assets.dagster_defs.distributed import worker_plan

    # no ensure_dagster_home here: steps open the instance from the run's reference, and rewriting the shared
    # dagster.yaml from this host's environment could switch the UI host's instance (e.g. back to SQLite)
    env = settings()
    backend = env.pose_backend
    try:
        plan = worker_plan(args.scheduler, backend=backend, nworkers=args.nworkers, name=args.name,
                           visible_devices=env.cuda_visible_devices)  # fmt: skip
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if env.postgres_url is None:
        print("warning: the instance is SQLite under the data root; with workers on several hosts use PostgreSQL "
              "($NEUROPOSE_POSTGRES_URL, set on every host)", file=sys.stderr)  # fmt: skip

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    procs = []
    try:
        for env, cmd in plan:
            n = cmd[cmd.index("--nworkers") + 1]
            print(f"dask worker ({n} process(es), {backend}"
                  f"{', GPU ' + env['CUDA_VISIBLE_DEVICES'] if 'CUDA_VISIBLE_DEVICES' in env else ''}) "
                  f"→ {args.scheduler}; data root {layout.root}", flush=True)  # fmt: skip
            procs.append(subprocess.Popen(cmd, env={**os.environ, **env}, start_new_session=True))
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        bad = next(p for p in procs if p.poll() is not None)
        print(f"a dask worker stopped (exit code {bad.returncode}); stopping the others", file=sys.stderr)
        return bad.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop_tree(*procs, grace_s=20)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``neuropose-assets run: error: argument --key: … (--help: usage)``, exit 2."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help: usage)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``neuropose-assets`` argument parser: one subcommand per ``cmd_*`` function (stored as ``fn``), every
    value validated as it is read (one-line usage errors, exit code 2)."""
    p = _Parser(prog="neuropose-assets", formatter_class=argparse.RawDescriptionHelpFormatter, description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-root", help="data root outside the repository (default: $NEUROPOSE_DATA_ROOT or "
                        "~/.local/share/neuropose-assets)")  # fmt: skip

    s = sub.add_parser("samples", help="fetch the sample clips (SHA-256 verified)")
    s.add_argument("--cache", default=str(default_cache_dir() / "samples"))
    s.add_argument("--only", nargs="*", help="sample keys (default: all)")
    s.set_defaults(fn=cmd_samples)

    d = sub.add_parser("demo", help="fetch samples and materialize every asset for every sample")
    common(d)
    d.add_argument("--cache", default=str(default_cache_dir() / "samples"))
    d.add_argument("--only", nargs="*", help="sample keys (default: all)")
    d.add_argument("--verbose", action="store_true", help="show Dagster's event log and native library output")
    d.set_defaults(fn=cmd_demo)

    def task_args(sp: argparse.ArgumentParser, required: bool = False) -> None:
        from neuropose_assets.core.analysis.tasks import TASKS

        sp.add_argument("--task", choices=TASKS, required=required, help="the clinical task the video(s) show")
        sp.add_argument("--param", action="append", metavar="NAME=VALUE", help="task parameter, repeatable: "
                        "expected_repetitions=5, side=left (arm_raise), walkway_m=3, camera_view=side|front|oblique, "
                        "height_m=1.72 (scales the fitted model); generic: segmentation.signal.column=knee_angle_l_deg "
                        "...")  # fmt: skip

    rn = sub.add_parser("run", help="analyse video files with a declared task, without the UI; prints outcomes")
    common(rn)
    rn.add_argument("videos", nargs="+", metavar="VIDEO")
    task_args(rn, required=True)
    rn.add_argument("--cohort", default="runs", type=_cohort_arg, help="cohort of these videos (default: runs)")
    rn.add_argument("--key", type=_key_arg, help="partition key for a single video (default: sanitised file name)")
    rn.add_argument("--no-reuse", action="store_true", help="estimate poses again even when the same video was "
                    "analysed before (by default a changed task re-runs only the task-dependent assets)")  # fmt: skip
    rn.add_argument("--no-review", action="store_true", help="skip the review video and report")
    rn.add_argument("--verbose", action="store_true", help="show Dagster's event log and native library output")
    rn.set_defaults(fn=cmd_run)

    rp = sub.add_parser("report", help="write a video's report (self-contained HTML) where you ask")
    common(rp)
    rp.add_argument("partition", type=_key_arg)
    rp.add_argument("-o", "--out", metavar="FILE", help="where to write it (default: ./<partition>.html)")
    rp.set_defaults(fn=cmd_report)

    o = sub.add_parser("outcomes", help="a cohort's outcome table, one row per video (--csv for R / SPSS / Excel)")
    common(o)
    o.add_argument("cohort", type=_cohort_arg)
    o.add_argument("-o", "--csv", metavar="FILE", help="write the table as CSV to FILE (rounded values, a reason "
                   "column beside every measure that is null somewhere)")
    o.set_defaults(fn=cmd_outcomes)

    ex = sub.add_parser("export", help="a video's poses and angles for OpenSim: .trc (markers, m), .mot (angles, "
                        "deg) or .csv")  # fmt: skip
    common(ex)
    ex.add_argument("partition", type=_key_arg)
    ex.add_argument("--format", choices=["trc", "mot", "csv"], default="trc")
    ex.add_argument("-o", "--out", metavar="FILE", help="where to write it (default: ./<partition>.<format>)")
    ex.set_defaults(fn=cmd_export)

    ag = sub.add_parser("agreement", help="event timing and outcome agreement: markers vs their C3D events / force "
                        "plates, or a video vs the markers of the same session")  # fmt: skip
    common(ag)
    ag.add_argument("partition", nargs="?", type=_key_arg, help="the partition under test (a video, or a marker file)")
    ag.add_argument("--reference", type=_key_arg, help="the reference partition (markers of the same session); "
                    "default: the events recorded in the partition's own marker file")  # fmt: skip
    ag.add_argument("--pair", action="append", metavar="TEST:REFERENCE", help="more session pairs (repeat); with two "
                    "or more pairs the ICC of each outcome is reported")  # fmt: skip
    ag.add_argument("--offset-s", type=_bounded(float, -3600, 3600), default=0.0,
                    help="added to the reference times (synchronisation), s")
    ag.add_argument("--tolerance-s", type=_bounded(float, 0.001, 10), default=0.25,
                    help="furthest detection that counts as a match, s")
    ag.add_argument("--csv", metavar="FILE", help="write the tables as CSV (FILE, FILE_outcomes, FILE_icc)")
    ag.set_defaults(fn=cmd_agreement)

    bm = sub.add_parser("benchmark", help="how fast is this machine: per-frame latency percentiles, throughput, peak "
                        "RSS of the pose stage and the whole chain (N passes, the first a warm-up)")  # fmt: skip
    bm.add_argument("video")
    bm.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    bm.add_argument("--passes", type=_bounded(int, 2, 1000), default=5,
                    help="passes over the video; the first is a warm-up (default 5)")
    bm.add_argument("--task", default="generic", help="task for the events and outcomes stages (default: generic)")
    bm.add_argument("--param", action="append", metavar="KEY=VALUE", help="task parameter (repeat)")
    bm.add_argument("--compare-cpu", action="store_true", help="repeat with every accelerator hidden in a child "
                    "process: speed-up and the largest 3D joint difference in mm")  # fmt: skip
    bm.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    bm.add_argument("--log", metavar="FILE", help="append a section to an append-only log (benchmarks/LOG.md)")
    bm.add_argument("--verbose", action="store_true", help="show native library output (MediaPipe, TensorFlow)")
    bm.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    bm.add_argument("--force-cpu", action="store_true", help=argparse.SUPPRESS)
    bm.add_argument("--poses-out", help=argparse.SUPPRESS)
    bm.set_defaults(fn=cmd_benchmark)

    ls = sub.add_parser("list", help="cohorts and their videos: partition key, task, status and quality flags")
    ls.add_argument("cohort", nargs="?", type=_cohort_arg, help="only this cohort")
    common(ls)
    ls.set_defaults(fn=cmd_list)

    vs = sub.add_parser("version", help="package, pose models (checksums) and key library versions")
    vs.add_argument("--json", action="store_true")
    vs.set_defaults(fn=cmd_version)

    hl = sub.add_parser("health", help="is the installation sound: data root, intake, instance, daemon, pose model, "
                        "disk, webserver; exit code 1 when a check fails")  # fmt: skip
    common(hl)
    hl.add_argument("--json", action="store_true")
    hl.set_defaults(fn=cmd_health)

    r = sub.add_parser("register", help="register a video file as a partition")
    common(r)
    r.add_argument("video")
    r.add_argument("--cohort", required=True, type=_cohort_arg)
    r.add_argument("--key", type=_key_arg, help="partition key (default: sanitised file name)")
    task_args(r)
    r.set_defaults(fn=cmd_register)

    m = sub.add_parser("model", help="pre-fetch or install the MeTRAbs model and print where it is")
    m.add_argument("action", choices=["install"], help="install: download (verified) or unpack a local archive")
    m.add_argument("--cache", default=settings().model_cache or str(default_cache_dir() / "models"))
    m.add_argument("--variant", default=DEFAULT_VARIANT)
    m.add_argument("--sha256", help="archive SHA-256 (required for variants without a pinned checksum)")
    m.add_argument("--url", help="download URL (default: the authors' server)")
    m.add_argument("--tarball", help="a local copy of the archive (air-gapped servers)")
    m.add_argument("--dir", help="an already-extracted SavedModel directory (used in place)")
    m.add_argument("--load", action="store_true", help="also load it into TensorFlow and check its interface")
    m.set_defaults(fn=cmd_model)

    i = sub.add_parser("ingest", help="place the videos of a zip archive into the intake folder, safely")
    common(i)
    i.add_argument("archive")
    i.add_argument("--cohort", type=_cohort_arg,
                   help="cohort for all videos (default: the archive's top-level folders)")
    i.add_argument("--intake", help="intake folder (default: $NEUROPOSE_INTAKE or <data root>/intake)")
    i.add_argument("--overwrite", action="store_true", help="replace videos that already exist in the intake")
    task_args(i)
    i.set_defaults(fn=cmd_ingest)

    b = sub.add_parser("backfill", help="(re)run every video of a cohort, or only the failed/missing ones")
    common(b)
    b.add_argument("cohort", type=_cohort_arg)
    b.add_argument("--missing-only", action="store_true", help="only videos without features (failed or never run)")
    b.add_argument("--in-process", action="store_true", help="run now in this process instead of submitting a "
                   "backfill to the daemon")  # fmt: skip
    b.set_defaults(fn=cmd_backfill)

    u = sub.add_parser("ui", help="start the Dagster UI and daemon on the instance under the data root")
    common(u)
    u.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    u.add_argument("--port", type=_bounded(int, 1, 65535), default=3000)
    u.add_argument("--allowed-host", action="append", metavar="NAME", help="another host name the UI is reached by "
                   "(e.g. behind a reverse proxy); requests for any other Host are refused")  # fmt: skip
    u.add_argument("--dask-scheduler", metavar="ADDRESS", help="run per-video runs on this dask scheduler's workers "
                   "(e.g. tcp://10.0.0.5:8786; same as $NEUROPOSE_DASK_SCHEDULER; start workers with "
                   "`neuropose-assets worker`)")  # fmt: skip
    u.set_defaults(fn=cmd_ui)

    w = sub.add_parser("worker", help="join a dask cluster as a worker host for per-video runs (many machines)")
    common(w)
    w.add_argument("scheduler", help="the dask scheduler's address, e.g. tcp://10.0.0.5:8786")
    w.add_argument("--nworkers", type=_bounded(int, 1, 256), help="worker processes (default: the host's pose slots: "
                   "one per core for BlazePose, one per GPU for MeTRAbs)")  # fmt: skip
    w.add_argument("--name", help="worker name prefix, shown in the poses metadata (default: dask's)")
    w.set_defaults(fn=cmd_worker)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``neuropose-assets``: parse ``argv`` (default: the command line) and run its subcommand;
    returns the subcommand's exit code."""
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
