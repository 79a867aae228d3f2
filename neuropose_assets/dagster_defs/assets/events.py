"""``events`` and ``repetitions`` (one multi-asset): the task's named, sided events and its repetitions or gait
cycles (:func:`neuropose_assets.core.analysis.events.analyse_task` on the video's features).
"""

import time

import dagster as dg

from neuropose_assets.core.analysis.events import EventsConfig
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.assets.task import task_spec
from neuropose_assets.dagster_defs.common import fail, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part

EventsAssetConfig = dagster_config(EventsConfig)


@part(
    outs={
        "events": dg.AssetOut(
            kinds={"scipy", "parquet"},
            code_version="2",
            description="Named, sided events of the task (heel_strike, toe_off, seat_off, standing_reached, "
            "sit_start, seated, squat_bottom, arm_at_top, turn_start, ...) in frames and seconds, "
            "with the signal value, "
            "unit and confidence; placed only where the subject and the joints that define the event are observed.",
        ),
        "repetitions": dg.AssetOut(
            kinds={"scipy", "parquet"},
            code_version="1",
            description="Repetitions / gait cycles of the task, both sides in one table: [start, peak, end) in frames "
            "and seconds, bounded by threshold crossings of each excursion (robust to plateaus).",
        ),
    },
)
def events_and_repetitions(
    context: dg.AssetExecutionContext,
    config: EventsAssetConfig,
    features: ProvenancedTable,
    task: ProvenancedTable,
    storage: StorageResource,
):  # noqa: ARG001 - checks
    """Materialize ``events`` and ``repetitions``: :func:`~neuropose_assets.core.analysis.events.analyse_task` on the
    video's features."""
    from neuropose_assets.core.analysis.events import analyse_task
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
        from neuropose_assets.core.analysis.task_check import motion_evidence, task_contradiction

        evidence = motion_evidence(features.df)
        prov["task_check"] = {
            "declared": spec.task,
            "contradiction": task_contradiction(spec, evidence),
            "evidence": {k: {"present": v[0], "found": v[1]} for k, v in evidence.items()},
        }
    if res.rejected:
        context.log.info(
            f"{key}: {len(res.rejected)} event candidate(s) not placed (the subject or the joints that "
            f"define them were not observed): "
            + "; ".join(
                f"{r['event']}{'/' + r['side'] if r['side'] else ''} at {r['time_s']:.2f} s — {r['reason']}"
                for r in res.rejected[:5]
            )
        )
    counts = res.events.group_by("event", "side").len().sort("event", "side")
    yield dg.Output(
        ProvenancedTable(res.events, prov),
        output_name="events",
        metadata={
            "task": spec.task,
            "events": dg.MetadataValue.json(
                {f"{r['event']}{'/' + r['side'] if r['side'] else ''}": r["len"] for r in counts.iter_rows(named=True)}
            ),
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
            if reps.height
            else dg.MetadataValue.null(),
        },
    )
