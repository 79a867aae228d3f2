"""The task stages of the per-video chain: task → events + repetitions → outcomes.

``task`` holds what the video shows (declared by the cohort's protocol file or ``--task``; :mod:`..core.tasks`).  Its
data version is the declaration's fingerprint, so declaring another task (or other parameters) makes ``events``,
``repetitions``, ``outcomes`` and ``repetition_dtw`` stale in the UI, and re-running them is enough — poses are not
estimated again.
"""

import time

import dagster as dg
import polars as pl

from neuropose_assets import stages
from neuropose_assets.core.events import EventsConfig
from neuropose_assets.core.tables import ProvenancedTable
from neuropose_assets.core.tasks import TaskSpec
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import PER_VIDEO, fail, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import StorageResource

EventsAssetConfig = dagster_config(EventsConfig)
#: the assets whose result depends on the task (re-run these when only the task changed)
#: what a new task declaration materializes again (:data:`neuropose_assets.stages.STAGES`, ``redeclared``)
TASK_ASSETS = stages.assets(redeclared=True)


def task_spec(task: ProvenancedTable) -> TaskSpec:
    """The :class:`TaskSpec` stored in a ``task`` table."""
    return TaskSpec.model_validate_json(task.df["spec_json"][0])


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    code_version="1",
    description="The clinical task the video shows (gait, tug, sit_to_stand, squat, arm_raise, generic) and its "
    "parameters, as declared by the cohort's protocol.yaml or --task. Its data version is the declaration: declaring "
    "another task makes every task-dependent asset stale.",
    check_specs=check_specs("task", partitions_def=videos),
)
@checked("task")
def task(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[ProvenancedTable]:
    """Materialize ``task``: the partition's registered :class:`~neuropose_assets.core.tasks.TaskDeclaration` as a
    one-row table, its data version the spec's fingerprint."""
    key = context.partition_key
    try:
        entry = storage.registry.get(key)
    except (KeyError, ValueError) as err:
        raise fail(err, key) from None
    decl = entry.declaration
    spec = decl.spec
    df = pl.DataFrame(
        {
            "task": [spec.task],
            "side": pl.Series([spec.side], dtype=pl.Utf8),
            "expected_repetitions": pl.Series([spec.expected_repetitions], dtype=pl.Int32),
            "walkway_m": pl.Series([spec.walkway_m], dtype=pl.Float64),
            "camera_view": pl.Series([spec.camera_view], dtype=pl.Utf8),
            "height_m": pl.Series([spec.height_m], dtype=pl.Float64),
            "declared": [decl.declared],
            "declared_by": pl.Series([decl.source], dtype=pl.Utf8),
            "spec_json": [spec.model_dump_json()],
        }
    )
    if not decl.declared:
        context.log.warning(f"{key}: no task declared (protocol.yaml or --task); analysed as 'generic'")
    prov = {"stage": "task", "source": {"partition": key, "cohort": entry.cohort}, "task": decl.as_dict()}
    version = spec.fingerprint() + ("" if decl.declared else "-undeclared")
    return dg.Output(
        ProvenancedTable(df, prov),
        data_version=dg.DataVersion(version),
        metadata={
            "task": spec.task,
            "declared_by": decl.source or "nothing (analysed as generic)",
            "parameters": dg.MetadataValue.json(spec.model_dump(mode="json", exclude_none=True)),
        },
    )


@dg.multi_asset(
    outs={
        "events": dg.AssetOut(
            kinds={"scipy", "parquet"}, code_version="2",
            description="Named, sided events of the task (heel_strike, toe_off, seat_off, standing_reached, "
            "sit_start, seated, squat_bottom, arm_at_top, turn_start, ...) in frames and seconds, "
            "with the signal value, "
            "unit and confidence; placed only where the subject and the joints that define the event are observed.",
        ),  # fmt: skip
        "repetitions": dg.AssetOut(
            kinds={"scipy", "parquet"}, code_version="1",
            description="Repetitions / gait cycles of the task, both sides in one table: [start, peak, end) in frames "
            "and seconds, bounded by threshold crossings of each excursion (robust to plateaus).",
        ),  # fmt: skip
    },
    partitions_def=videos,
    group_name=PER_VIDEO,
    check_specs=check_specs("events", "repetitions", partitions_def=videos),
)
@checked("events", "repetitions")
def events_and_repetitions(context: dg.AssetExecutionContext, config: EventsAssetConfig, features: ProvenancedTable,
                           task: ProvenancedTable, storage: StorageResource):  # fmt: skip  # noqa: ARG001 - checks
    """Materialize ``events`` and ``repetitions``: :func:`..core.events.analyse_task` on the video's features."""
    from neuropose_assets.core.events import analyse_task
    from neuropose_assets.core.pose.base import MARKER_CAPTURE

    key = context.partition_key
    t0 = time.perf_counter()
    cfg = config_or_fail(config, "events")
    spec = task_spec(task)
    source = "markers" if features.provenance.get("model", {}).get("name") == MARKER_CAPTURE else "video"
    try:
        res = analyse_task(features.df, spec, cfg, source=source)
    except KeyError as err:  # e.g. a generic signal column that the features do not have
        raise fail(f"the {spec.task} analysis needs {err.args[0]}", key) from None
    prov = provenance("events", features.provenance, cfg.model_dump(mode="json"), task=task.provenance["task"])
    prov["unobserved_candidates"] = res.rejected
    if source == "video" and spec.task != "generic":
        from neuropose_assets.core.task_check import motion_evidence, task_contradiction

        evidence = motion_evidence(features.df)
        prov["task_check"] = {"declared": spec.task, "contradiction": task_contradiction(spec, evidence),
                              "evidence": {k: {"present": v[0], "found": v[1]} for k, v in evidence.items()}}
    if res.rejected:
        context.log.info(f"{key}: {len(res.rejected)} event candidate(s) not placed (the subject or the joints that "
                         f"define them were not observed): " + "; ".join(
                             f"{r['event']}{'/' + r['side'] if r['side'] else ''} "
                             f"at {r['time_s']:.2f} s — {r['reason']}"
                             for r in res.rejected[:5]))  # fmt: skip
    counts = res.events.group_by("event", "side").len().sort("event", "side")
    yield dg.Output(
        ProvenancedTable(res.events, prov),
        output_name="events",
        metadata={
            "task": spec.task,
            "events": dg.MetadataValue.json({f"{r['event']}{'/' + r['side'] if r['side'] else ''}": r["len"]
                                             for r in counts.iter_rows(named=True)}),  # fmt: skip
            "signals": dg.MetadataValue.json(res.signals),
            "unobserved_candidates": len(res.rejected),
            "compute_s": since(t0),
        },
    )
    reps = res.repetitions
    per_side = {str(s or "both"): n for s, n in reps.group_by("side").len().iter_rows()}
    yield dg.Output(
        ProvenancedTable(reps, {**prov, "stage": "repetitions"}),
        output_name="repetitions",
        metadata={
            "task": spec.task,
            "repetitions": reps.height,
            "per_side": dg.MetadataValue.json(per_side),
            "mean_duration_s": dg.MetadataValue.float(round(float(reps["duration_s"].mean()), 3))
            if reps.height else dg.MetadataValue.null(),
        },
    )  # fmt: skip


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    code_version="1",
    description="Clinical outcomes of the task (e.g. cadence, stance %, gait speed, 5×STS time, TUG time, squat "
    "depth, peak arm elevation): one row per measure with value, unit, definition and source; a value that cannot be "
    "computed honestly is null with the reason. Numeric outcomes are also float metadata (charted across partitions).",
    check_specs=check_specs("outcomes", partitions_def=videos),
)
@checked("outcomes")
def outcomes(context: dg.AssetExecutionContext, features: ProvenancedTable, events: ProvenancedTable,
             repetitions: ProvenancedTable, task: ProvenancedTable,
             storage: StorageResource) -> dg.Output[ProvenancedTable]:  # fmt: skip  # noqa: ARG001 - checks
    """Materialize ``outcomes``: :func:`..core.outcomes.compute_outcomes` with the measured camera view."""
    from neuropose_assets.core.outcomes import compute_outcomes
    from neuropose_assets.core.pose.base import MARKER_CAPTURE
    from neuropose_assets.core.view import ViewMeasurement, contradiction, effective_view, measure_view

    t0 = time.perf_counter()
    spec = task_spec(task)
    model = features.provenance.get("model", {})
    origin = model.get("origin", "hip_midpoint")
    frame = (features.provenance.get("configs", {}).get("features") or {}).get("frame", "camera")
    markers = model.get("name") == MARKER_CAPTURE  # a virtual camera: no view to measure or to contradict
    view = (ViewMeasurement("unknown", None, None, 0) if markers or frame != "camera" else measure_view(features.df))
    contradicted = (events.provenance.get("task_check") or {}).get("contradiction")
    df = compute_outcomes(spec, events.df, repetitions.df, features.df, origin=origin, frame=frame, view=view,
                          task_contradiction=contradicted)  # fmt: skip
    prov = provenance("outcomes", events.provenance, {"origin": origin, "frame": frame})
    prov["camera_view"] = {"declared": spec.camera_view, "measured": view.as_dict(),
                           "used": effective_view(spec.camera_view, view),
                           "contradiction": contradiction(spec.camera_view, view),
                           "applicable": not markers}  # fmt: skip
    from neuropose_assets.core import summary
    from neuropose_assets.dagster_defs.review import results_link

    flags = quality_flags(storage, context.partition_key, df, prov)
    values = {r["measure"]: summary.rounded(r["measure"], r["value"]) for r in df.iter_rows(named=True)
              if r["value"] is not None}  # fmt: skip
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            # what a clinician reads first: the quality verdict, then the table (value at its precision, unit, n)
            "results_page": dg.MetadataValue.url(results_link(storage, context.partition_key)),
            "quality": dg.MetadataValue.md("\n".join(f"- **{f.severity}** {f.message}" for f in flags)
                                           if flags else "no quality flag"),  # fmt: skip
            "outcomes": dg.MetadataValue.md(summary.markdown_table(df)),
            # float entries are the outcomes only, so the charts across partitions show outcomes (units in the names)
            **{m: dg.MetadataValue.float(float(v)) for m, v in values.items()},
            "internal": dg.MetadataValue.json({
                "task": spec.task, "compute_s": since(t0),
                "camera_view": {"declared": spec.camera_view, "measured": view.view, "angle_deg": view.angle_deg},
            }),  # fmt: skip
        },
    )


def quality_flags(storage: StorageResource, key: str, outcomes: pl.DataFrame, prov: dict) -> list:
    """Every quality flag of a video as the outcomes are written (:data:`..core.quality.CHECKS`): the checks of the
    upstream files as they are, and this step's own checks on the table and provenance not yet written — the same
    functions the asset checks run a moment later."""
    from neuropose_assets.core import quality

    upstream = tuple({c.asset for c in quality.CHECKS} - {"outcomes"})
    flags = [f for _, _, fl in quality.evaluate(storage.layout, key, upstream) for f in fl]
    flags += quality.camera_view(prov.get("camera_view"), key)[1] + quality.implausible_outcomes(outcomes, key)[1]
    flags += quality.check_tug_phases_plausible(storage.layout, key)[1]
    return flags


def outcome_summary(df: pl.DataFrame) -> str:
    """The computed measures, one per line (``name  value unit``), then the undefined ones grouped by reason."""
    lines, undefined = [], {}
    for r in df.iter_rows(named=True):
        if r["value"] is None:
            undefined.setdefault(r["null_reason"], []).append(r["measure"])
        else:
            from neuropose_assets.core.summary import shown

            v = shown(r["measure"], r["value"]) + ("" if r["unit"] == "count" else f" {r['unit']}")
            lines.append(f"  {r['measure']:<32} {v}")
    for reason, names in undefined.items():
        lines.append(f"  not computed — {reason}: {', '.join(names)}")
    return "\n".join(lines)
