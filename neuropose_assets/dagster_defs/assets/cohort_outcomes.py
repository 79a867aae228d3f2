"""``cohort_outcomes``: one row per video of a cohort with its task and every outcome."""

import time

import dagster as dg
import polars as pl

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import COHORT, since, versions
from neuropose_assets.dagster_defs.partitions import cohorts
from neuropose_assets.dagster_defs.resources import StorageResource


@dg.asset(
    partitions_def=cohorts,
    deps=[dg.AssetDep(a, partition_mapping=dg.AllPartitionMapping()) for a in ("outcomes", "task")],
    group_name=COHORT,
    kinds={"polars", "parquet"},
    code_version="2",
    description="One row per video of the cohort: partition, task, whether it was declared, and every outcome with "
    "the bounds of its 95 % confidence interval (<measure>_ci_low / _ci_high; null where it does not apply or could "
    "not be computed; the reason is in the video's outcomes table). For notebooks; "
    "`neuropose-assets outcomes COHORT --csv FILE` writes it for R / SPSS / Excel.",
    check_specs=check_specs("cohort_outcomes", partitions_def=cohorts),
)
@checked("cohort_outcomes")
def cohort_outcomes(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[ProvenancedTable]:
    """Materialize ``cohort_outcomes``: :func:`~neuropose_assets.core.analysis.outcomes.cohort_table` of the members'
    ``outcomes`` and ``task``."""
    from neuropose_assets.core.analysis.outcomes import cohort_table, wide_with_intervals
    from neuropose_assets.core.analysis.tasks import VISIT_COLUMNS

    t0 = time.perf_counter()
    cohort = context.partition_key
    layout = storage.layout
    rows, missing = [], []
    for entry in storage.registry.members(cohort):
        out_path, task_path = layout.asset_file("outcomes", entry.partition), layout.asset_file("task", entry.partition)
        if not (out_path.exists() and task_path.exists()):
            missing.append(entry.partition)
            continue
        task = pl.read_parquet(task_path).row(0, named=True)
        values = wide_with_intervals(pl.read_parquet(out_path))
        visit = {k: task.get(k) for k in VISIT_COLUMNS}
        rows.append(
            {"partition": entry.partition, "task": task["task"], "declared": task["declared"], **visit, **values}
        )
    df = cohort_table(rows)
    if missing:
        context.log.warning(f"cohort {cohort}: no outcomes yet for {missing} (failed or not processed)")
    prov = {"stage": "cohort_outcomes", "cohort": cohort, "configs": {}, "versions": versions()}
    from neuropose_assets.core.review.plots import cohort_charts, md_image

    charts = "\n\n".join(
        f"**{task}**\n\n{md_image(fig, f'{task}: main outcomes per video')}" for task, fig in cohort_charts(df).items()
    )

    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "chart": dg.MetadataValue.md(charts or "no outcomes yet"),
            "videos": df.height,
            "tasks": dg.MetadataValue.json({t: n for t, n in df.group_by("task").len().iter_rows()}),
            "missing_members": ", ".join(missing) or "none",
            "compute_s": since(t0),
        },
    )
