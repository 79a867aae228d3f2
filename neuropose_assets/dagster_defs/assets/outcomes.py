"""``outcomes``: the measures researchers report, each with unit, definition and source or a null reason
(:func:`neuropose_assets.core.analysis.outcomes.compute_outcomes` with the measured camera view), and the video's
quality flags in the UI.
"""

import time

import dagster as dg
import polars as pl

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.assets.task import task_spec
from neuropose_assets.dagster_defs.common import provenance, since
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part


@part(
    kinds={"python", "parquet"},
    code_version="2",
    description="Clinical outcomes of the task (e.g. cadence, stance %, gait speed, 5×STS time, TUG time, squat "
    "depth, peak arm elevation): one row per measure with value, unit, definition and source; a value that cannot be "
    "computed honestly is null with the reason. Numeric outcomes are also float metadata (charted across partitions).",
)
def outcomes(
    context: dg.AssetExecutionContext,
    features: ProvenancedTable,
    events: ProvenancedTable,
    repetitions: ProvenancedTable,
    task: ProvenancedTable,
    storage: StorageResource,
) -> dg.Output[ProvenancedTable]:  # noqa: ARG001 - checks
    """Materialize ``outcomes``: :func:`~neuropose_assets.core.analysis.outcomes.compute_outcomes` with the measured
    camera view."""
    from neuropose_assets.core.analysis.outcomes import compute_outcomes
    from neuropose_assets.core.analysis.view import ViewMeasurement, contradiction, effective_view, measure_view
    from neuropose_assets.core.pose.base import MARKER_CAPTURE

    t0 = time.perf_counter()
    spec = task_spec(task)
    model = features.provenance.get("model", {})
    origin = model.get("origin", "hip_midpoint")
    frame = (features.provenance.get("configs", {}).get("features") or {}).get("frame", "camera")
    markers = model.get("name") == MARKER_CAPTURE  # a virtual camera: no view to measure or to contradict
    view = ViewMeasurement("unknown", None, None, 0) if markers or frame != "camera" else measure_view(features.df)
    contradicted = (events.provenance.get("task_check") or {}).get("contradiction")
    df = compute_outcomes(
        spec,
        events.df,
        repetitions.df,
        features.df,
        origin=origin,
        frame=frame,
        view=view,
        task_contradiction=contradicted,
    )
    prov = provenance("outcomes", events.provenance, {"origin": origin, "frame": frame})
    prov["camera_view"] = {
        "declared": spec.camera_view,
        "measured": view.as_dict(),
        "used": effective_view(spec.camera_view, view),
        "contradiction": contradiction(spec.camera_view, view),
        "applicable": not markers,
    }
    from neuropose_assets.core.analysis import summary
    from neuropose_assets.dagster_defs.assets.report import results_link

    flags = quality_flags(storage, context.partition_key, df, prov)
    values = {
        r["measure"]: summary.rounded(r["measure"], r["value"])
        for r in df.iter_rows(named=True)
        if r["value"] is not None
    }
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            # what a clinician reads first: the quality verdict, then the table (value at its precision, unit, n)
            "results_page": dg.MetadataValue.url(results_link(storage, context.partition_key)),
            "quality": dg.MetadataValue.md(
                "\n".join(f"- **{f.severity}** {f.message}" for f in flags) if flags else "no quality flag"
            ),
            "subject_session": _visit_label(task.df),
            "outcomes": dg.MetadataValue.md(summary.markdown_table(df)),
            # float entries are the outcomes only, so the charts across partitions show outcomes (units in the names)
            **{m: dg.MetadataValue.float(float(v)) for m, v in values.items()},
            "internal": dg.MetadataValue.json(
                {
                    "task": spec.task,
                    "compute_s": since(t0),
                    "camera_view": {"declared": spec.camera_view, "measured": view.view, "angle_deg": view.angle_deg},
                }
            ),
        },
    )


def quality_flags(storage: StorageResource, key: str, outcomes: pl.DataFrame, prov: dict) -> list:
    """Every quality flag of a video as the outcomes are written
    (:data:`~neuropose_assets.core.analysis.quality.CHECKS`): the checks of the upstream files as they are, and this
    step's own checks on the table and provenance not yet written — the same functions the asset checks run a moment
    later."""
    from neuropose_assets.core.analysis import quality

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
            from neuropose_assets.core.analysis.summary import shown, shown_interval

            v = shown(r["measure"], r["value"]) + ("" if r["unit"] == "count" else f" {r['unit']}")
            interval = shown_interval(r["measure"], r.get("ci_low"), r.get("ci_high"))
            v += f"  (95 % CI {interval})" if interval else ""
            lines.append(f"  {r['measure']:<32} {v}")
    for reason, names in undefined.items():
        lines.append(f"  not computed — {reason}: {', '.join(names)}")
    return "\n".join(lines)


def _visit_label(task: pl.DataFrame) -> str:
    """``P017 / 2026-03-01`` from the task table (``not declared`` without a subject)."""
    row = task.row(0, named=True)
    if not row.get("subject"):
        return "not declared"
    return row["subject"] + (f" / {row['session']}" if row.get("session") else "")
