"""Sensors: the intake folder → partitions and runs; finished features → the cohort DTW matrix.

``intake_sensor`` (running by default) scans ``$NEUROPOSE_INTAKE`` (default ``<data_root>/intake``) with
:func:`neuropose_assets.core.io.intake.scan_settled`.  For each stable new or changed video it writes the registry
entry, adds the ``videos`` (and ``cohorts``) partition and requests one ``per_video_job`` run whose ``run_key``
contains the file fingerprint: re-delivery of an unchanged file does not run again, a changed file does.  A file whose
fingerprint changed but whose size did not is hashed (within a per-tick byte budget) and compared with the SHA-256
the ``raw_video`` asset recorded, so a plain ``cp`` of the same recording does not re-run either.  Unsupported files,
files outside a cohort folder, key collisions and removed sources are logged once, never every tick.  Nothing is
ever deleted: a removed source keeps its partition, outputs and content-addressed copy.

The task of each video comes from ``<intake>/<cohort>/protocol.yaml`` (:mod:`neuropose_assets.core.analysis.tasks`) and
is stored in the registry; when only the declared task of an unchanged file changes (the protocol was edited), the
sensor requests a run of the task-dependent assets only.  A protocol that cannot be read is reported once and the
cohort's new videos wait until it is fixed (never analysed with a wrong task).

``cohort_sensor`` (running by default) watches ``outcomes`` materializations and requests one ``cohort_job`` run
(cohort outcomes and DTW) per affected cohort per tick, so a burst of finished videos coalesces into one refresh.  A
failed member does not materialize ``outcomes`` and is simply left out, so it never blocks the cohort.  (Declarative
automation was not used here: with one ``videos`` partitions definition every cohort depends on every video through
``AllPartitionMapping``, so ``eager()`` would refresh *all* cohorts whenever any video changes.)
"""

import hashlib
import json
import os
import time
from pathlib import Path

import dagster as dg
import polars as pl

from neuropose_assets.core.analysis.tasks import UNDECLARED, Protocol, ProtocolError, TaskDeclaration, load_protocol
from neuropose_assets.core.io.atomic import CHUNK, atomic_write_bytes, sweep_orphans
from neuropose_assets.core.io.intake import Pseudonymiser, scan_settled
from neuropose_assets.core.io.storage import Layout, Registry, privacy_mode, unsupported_format
from neuropose_assets.dagster_defs.assets.task import TASK_ASSETS
from neuropose_assets.dagster_defs.partitions import cohorts, videos
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.settings import settings

UNDECLARED_FP = "undeclared"
REHASH_BUDGET_BYTES = 2 << 30  # at most 2 GiB hashed per tick (≈ 5 s here), the rest waits for the next tick


def intake_root(layout: Layout) -> Path:
    """``$NEUROPOSE_INTAKE``, else ``<data_root>/intake``."""
    env = settings().intake
    return Path(env).expanduser().resolve() if env else layout.root / "intake"


def _state_path(layout: Layout) -> Path:
    return layout.private / "intake_state.json"


def load_intake_state(layout: Layout) -> dict:
    """The intake sensor's state, kept in ``private/`` (it holds file names): ``index`` (rel → key, fingerprint,
    size, cohort, task), ``pending`` (rel → fingerprint of files still settling), ``reported`` (problems already
    logged).  The Dagster cursor holds only a digest of it, so no file name enters the instance."""
    path = _state_path(layout)
    if path.exists():
        return json.loads(path.read_text())
    legacy = layout.root / "registry" / "intake_index.json"  # before the state moved to private/
    return {"index": json.loads(legacy.read_text()) if legacy.exists() else {}, "pending": {}, "reported": []}


def report_tag(text: str) -> str:
    """What the state remembers of a logged problem: a digest, so it holds no file name."""
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:20]


def _save_state(layout: Layout, state: dict) -> str:
    data = json.dumps(state, sort_keys=True).encode()
    layout.private.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_bytes(_state_path(layout), data)
    os.chmod(_state_path(layout), 0o600)
    legacy = layout.root / "registry" / "intake_index.json"
    if legacy.exists():
        legacy.unlink()
    return hashlib.sha256(data).hexdigest()[:16]


def _recorded_sha(layout: Layout, key: str) -> str | None:
    path = layout.asset_file("raw_video", key)
    if not path.exists():
        return None
    return pl.read_parquet(path, columns=["sha256"])["sha256"][0]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def evaluate_intake(
    context: dg.SensorEvaluationContext,
    layout: Layout,
    *,
    stable_seconds: float,
    pseudonymise: bool,
    settle_within_s: float = 0.0,
) -> dg.SensorResult | dg.SkipReason:
    """One intake tick (the sensor body, separate so tests can call it with their own settings); with
    ``settle_within_s`` > 0 it takes the second look at new files itself when they can be ready that soon
    (:func:`~neuropose_assets.core.io.intake.scan_settled`)."""
    t0 = time.perf_counter()
    state = load_intake_state(layout)
    pending: dict[str, str] = state["pending"]
    reported: set[str] = set(state["reported"])
    index: dict[str, dict] = state["index"]
    previous = {**{rel: v["fp"] for rel, v in index.items()}, **pending}
    mode = privacy_mode() if pseudonymise else ""
    pseud = Pseudonymiser(layout.private, cohorts=mode == "all") if pseudonymise else None
    root = intake_root(layout)
    link_roots = tuple(Path(p) for p in settings().intake_link_roots.split(os.pathsep) if p)
    scan = scan_settled(
        root,
        previous=previous,
        stable_seconds=stable_seconds,
        settle_within_s=settle_within_s,
        pseudonymiser=pseud,
        link_roots=link_roots,
    )
    for d in (layout.cas, layout.assets):  # temporary files of killed runs
        sweep_orphans(d, recursive=True)

    def shown(rel: str) -> str:
        """A path as it may appear in the log: itself, or its pseudonym."""
        return pseud.shown(rel) if pseud is not None else rel

    def report_once(tag: str, message: str) -> None:
        tag = report_tag(tag)
        if tag not in reported:
            reported.add(tag)
            context.log.warning(message)

    for rel in scan.unsupported:
        report_once(
            f"unsupported:{rel}", f"intake: {shown(rel)} is ignored — " + unsupported_format(rel).split(" is ", 1)[1]
        )
    for rel in scan.bad_names:
        report_once(
            f"name:{rel}",
            f"intake: the name of {shown(rel)} gives no partition key (no letters or digits, "
            "or not valid text): rename the file",
        )
    for rel in scan.ignored:
        report_once(
            f"ignored:{rel}",
            f"intake: {shown(rel)} starts with '~', which marks temporary files (office "
            "lock files): it is ignored; rename it to analyse it",
        )
    for rel in scan.links:
        report_once(
            f"link:{rel}",
            f"intake: {shown(rel)} is a symbolic link and is not followed (links could reach "
            "outside the intake folder); copy the video itself, or allow its folder with "
            "NEUROPOSE_INTAKE_LINK_ROOTS",
        )
    for rel, why in scan.unreadable.items():
        report_once(
            f"unreadable:{rel}:{why}",
            f"intake: {shown(rel) if rel != '.' else 'the intake folder'} cannot "
            f"be read ({why}); everything else is still picked up",
        )
    for rel, kind in scan.special.items():
        report_once(
            f"special:{rel}",
            f"intake: {shown(rel)} is {kind}, not a file: it is never read (it could block "
            "the intake); copy the recording itself into the folder",
        )
    for rel in scan.outside_cohort:
        report_once(f"outside:{rel}", f"intake: {shown(rel)} is not inside a cohort folder; move it into one")
    for key, rels in scan.collisions.items():
        report_once(
            f"collision:{key}:{'|'.join(rels)}",
            f"intake: {[shown(r) for r in rels]} would all become "
            f"partition {key!r}; none of them is processed until they are renamed",
        )

    protocols: dict[str, Protocol | ProtocolError] = {}

    def declaration(f) -> TaskDeclaration | None:
        """The file's task from its cohort's protocol; ``None`` while the protocol is broken (reported once)."""
        folder, inner = f.rel.split("/", 1)
        path = scan.protocols.get(folder)
        if path is None:
            return UNDECLARED
        if folder not in protocols:
            try:
                protocols[folder] = load_protocol(path, redact=pseud is not None)
            except ProtocolError as err:
                protocols[folder] = err
        proto = protocols[folder]
        try:
            if isinstance(proto, ProtocolError):
                raise proto
            decl = proto.resolve(inner, redact=pseud is not None)
            if pseud is not None and decl.visit is not None:  # a folder name may be a name, a session a date
                decl = decl.with_visit(pseud.private_visit(decl.visit))
            return decl
        except ProtocolError as err:
            try:
                version = path.stat().st_mtime_ns
            except OSError:  # removed meanwhile: report it again once it is back
                version = 0
            where = f"the protocol.yaml of cohort {f.cohort!r}"
            report_once(
                f"protocol:{folder}:{version}",
                f"intake: {str(err).replace(str(path), where)} — the videos "
                f"of cohort {f.cohort!r} wait until the protocol is fixed",
            )
            return None

    registry = Registry(layout)
    known_keys = set(context.instance.get_dynamic_partitions(videos.name))
    known_cohorts = set(context.instance.get_dynamic_partitions(cohorts.name))
    new_keys, new_cohorts, runs = [], [], []
    budget = REHASH_BUDGET_BYTES
    seen = {f.rel for f in scan.ready} | set(scan.pending) | {r for rs in scan.collisions.values() for r in rs}
    for f in scan.ready:
        decl = declaration(f)
        if decl is None:
            continue
        task_fp = decl.fingerprint() if decl.declared or decl.visit is not None else UNDECLARED_FP
        entry = index.get(f.rel)
        same_content = bool(entry) and entry["fp"] == f.fingerprint
        if entry and not same_content and entry.get("size") == f.size and entry["key"] == f.key:
            if budget < f.size:
                continue  # over this tick's hashing budget: decide next tick (the fingerprint stays unrecorded)
            budget -= f.size
            try:
                digest = _sha256(f.path)
            except OSError:  # gone or unreadable since the scan: next tick
                continue
            if _recorded_sha(layout, f.key) == digest:
                same_content = True
                index[f.rel] = {**entry, "fp": f.fingerprint}
                context.log.info(f"intake: {f.key} was delivered again with identical content; not re-run")
        if same_content:
            if entry.get("task", UNDECLARED_FP) == task_fp:
                continue
            # only the declared task changed: re-run the task-dependent assets, not the pose estimation
            registry.register(f.key, f.path, f.cohort, pseudonymous=pseud is not None, task=decl)
            runs.append(
                dg.RunRequest(
                    partition_key=f.key,
                    run_key=f"{f.key}:{f.fingerprint}:{task_fp}",
                    asset_selection=[dg.AssetKey(a) for a in TASK_ASSETS],
                    tags={"cohort": f.cohort, "neuropose/task": decl.spec.task},
                )
            )
            index[f.rel] = {**index[f.rel], "task": task_fp}
            context.log.info(f"intake: {f.key}: task now {decl.spec.task!r}; re-running the task-dependent assets")
            continue
        registry.register(f.key, f.path, f.cohort, pseudonymous=pseud is not None, task=decl)
        if f.key not in known_keys:
            new_keys.append(f.key)
            known_keys.add(f.key)
        if f.cohort not in known_cohorts:
            new_cohorts.append(f.cohort)
            known_cohorts.add(f.cohort)
        runs.append(
            dg.RunRequest(
                partition_key=f.key,
                run_key=f"{f.key}:{f.fingerprint}:{task_fp}",
                tags={"cohort": f.cohort, "neuropose/task": decl.spec.task},
            )
        )
        index[f.rel] = {"key": f.key, "fp": f.fingerprint, "size": f.size, "cohort": f.cohort, "task": task_fp}
    for rel in sorted(set(index) - seen):
        if root.is_dir():
            report_once(
                f"removed:{rel}:{index[rel]['fp']}",
                f"intake: {shown(rel)} (partition {index[rel]['key']}) "
                "was removed from the intake folder; its outputs and stored copy are kept",
            )
    state = {"index": index, "pending": scan.pending, "reported": sorted(reported)}
    new_cursor = _save_state(layout, state)
    context.log.info(f"intake tick: {scan.n_files} files, {len(runs)} runs, {time.perf_counter() - t0:.3f} s")
    if not runs and not new_keys:
        context.update_cursor(new_cursor)
        return dg.SkipReason(f"no new or changed videos ({scan.n_files} files, {len(scan.pending)} settling)")
    requests = [videos.build_add_request(new_keys)] if new_keys else []
    if new_cohorts:
        requests.append(cohorts.build_add_request(new_cohorts))
    return dg.SensorResult(run_requests=runs, dynamic_partitions_requests=requests, cursor=new_cursor)


def build_intake_sensor(job) -> dg.SensorDefinition:
    """The ``intake_sensor`` (running by default): :func:`evaluate_intake` of the intake folder, requesting runs
    of ``job``."""

    @dg.sensor(
        job=job,
        minimum_interval_seconds=settings().intake_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Turns stable new or changed videos in the intake folder into partitions and per-video runs.",
    )
    def intake_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        return evaluate_intake(
            context,
            storage.layout,
            stable_seconds=settings().intake_stable_seconds,
            pseudonymise=bool(privacy_mode()),
            settle_within_s=settings().intake_settle_seconds,
        )

    return intake_sensor


def new_materializations(context: dg.SensorEvaluationContext, asset: str) -> list:
    """Materialization records of ``asset`` since the sensor's cursor (a storage id), oldest first."""
    after = int(context.cursor) if context.cursor else None
    return context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), after_storage_id=after), limit=5000, ascending=True
    ).records


def up_to_date(instance, asset: str, partition: str, since) -> bool:
    """``asset`` of ``partition`` was materialized by a run that *started* after the materialization record ``since``
    was written, so it read it (e.g. a report rendered by ``run`` or the demo after the outcomes it shows, before the
    sensor first looked) — nothing to redo.  A run that started earlier and finished later (a cohort table built
    while one more video's outcomes arrived) is not: its table lacks that video.  A materialization reported without
    a run (an instant) counts when it is later; a run whose start is unknown does not (redo rather than miss)."""
    recs = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1, ascending=False
    ).records
    if not recs or recs[0].storage_id <= since.storage_id:
        return False
    if not recs[0].run_id:
        return True
    run = instance.get_run_record_by_id(recs[0].run_id)
    return bool(run and run.start_time and run.start_time > since.timestamp)


def build_cohort_sensor(job) -> dg.SensorDefinition:
    """The ``cohort_sensor`` (running by default): one run of ``job`` per cohort with new ``outcomes``, unless
    one is already queued or its ``cohort_outcomes`` is newer."""

    @dg.sensor(
        job=job,
        minimum_interval_seconds=settings().cohort_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Refreshes a cohort's outcome table and DTW matrix when outcomes of one of its videos were "
        "materialized; skips a cohort whose table is already newer.",
    )
    def cohort_sensor(context: dg.SensorEvaluationContext, storage: StorageResource):
        recs = new_materializations(context, "outcomes")
        if not recs:
            return dg.SkipReason("no new outcomes materializations")
        registry = Registry(storage.layout)
        by_cohort: dict[str, object] = {}  # cohort -> its newest outcomes record (recs are oldest first)
        for r in recs:
            try:
                by_cohort[registry.get(r.partition_key).cohort] = r
            except (KeyError, ValueError):
                continue
        # a cohort run that has not started yet will read the newest features anyway: do not queue a second one
        waiting = context.instance.get_runs(
            filters=dg.RunsFilter(
                job_name=job.name, statuses=[dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED]
            )
        )
        queued = {r.tags.get("cohort") for r in waiting}
        # a cohort whose table is newer than every outcome it reads is up to date (e.g. built by `run` or the demo)
        runs = [
            dg.RunRequest(partition_key=c, run_key=f"{c}:{rec.storage_id}", tags={"cohort": c})
            for c, rec in by_cohort.items()
            if c not in queued and not up_to_date(context.instance, "cohort_outcomes", c, rec)
        ]
        return dg.SensorResult(run_requests=runs, cursor=str(recs[-1].storage_id))

    return cohort_sensor


def build_review_sensor(job) -> dg.SensorDefinition:
    """The ``review_sensor`` (running by default): one run of ``job`` per video with new ``outcomes``, unless
    its ``report`` is newer."""

    @dg.sensor(
        job=job,
        minimum_interval_seconds=settings().cohort_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Renders the review video and report of every video whose outcomes were materialized (one run "
        "per video, after the main chain, in the `render` pool); skips a video whose report is already newer.",
    )
    def review_sensor(context: dg.SensorEvaluationContext):
        recs = new_materializations(context, "outcomes")
        if not recs:
            return dg.SkipReason("no new outcomes materializations")
        latest = {r.partition_key: r for r in recs if r.partition_key}  # oldest first: the newest record wins
        # a report rendered after these outcomes (by `run`, the demo, or an earlier review run) is up to date
        runs = [
            dg.RunRequest(partition_key=k, run_key=f"review:{k}:{rec.storage_id}")
            for k, rec in latest.items()
            if not up_to_date(context.instance, "report", k, rec)
        ]
        return dg.SensorResult(run_requests=runs, cursor=str(recs[-1].storage_id))

    return review_sensor
