"""``task``: what the video shows, declared by the cohort's protocol file or ``--task``
(:mod:`neuropose_assets.core.analysis.tasks`).

Its data version is the declaration's fingerprint, so declaring another task (or other parameters) makes the
task-dependent assets (:data:`TASK_ASSETS`) stale in the UI, and re-running them is enough — poses are not estimated
again.
"""

import dagster as dg
import polars as pl

from neuropose_assets import stages
from neuropose_assets.core.analysis.tasks import TaskSpec, visit_row
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.common import fail
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part

#: the assets whose result depends on the task (re-run these when only the task changed)
#: what a new task declaration materializes again (:data:`neuropose_assets.stages.STAGES`, ``redeclared``)
TASK_ASSETS = stages.assets(redeclared=True)


def task_spec(task: ProvenancedTable) -> TaskSpec:
    """The :class:`TaskSpec` stored in a ``task`` table."""
    return TaskSpec.model_validate_json(task.df["spec_json"][0])


@part(
    kinds={"python", "parquet"},
    code_version="2",
    description="The clinical task the video shows (gait, tug, sit_to_stand, squat, arm_raise, generic) and its "
    "parameters, as declared by the cohort's protocol.yaml or --task. Its data version is the declaration: declaring "
    "another task makes every task-dependent asset stale.",
)
def task(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[ProvenancedTable]:
    """Materialize ``task``: the partition's registered :class:`~neuropose_assets.core.analysis.tasks.TaskDeclaration`
    as a one-row table, its data version the spec's fingerprint."""
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
            **{k: [v] for k, v in visit_row(decl.visit).items()},
        },
        schema_overrides={
            "subject": pl.Utf8,
            "session": pl.Utf8,
            "age_years": pl.Float64,
            "sex": pl.Utf8,
            "population": pl.Utf8,
            "group": pl.Utf8,
        },
    )
    if not decl.declared:
        context.log.warning(f"{key}: no task declared (protocol.yaml or --task); analysed as 'generic'")
    prov = {"stage": "task", "source": {"partition": key, "cohort": entry.cohort}, "task": decl.as_dict()}
    version = decl.fingerprint()
    return dg.Output(
        ProvenancedTable(df, prov),
        data_version=dg.DataVersion(version),
        metadata={
            "task": spec.task,
            "declared_by": decl.source or "nothing (analysed as generic)",
            "parameters": dg.MetadataValue.json(spec.model_dump(mode="json", exclude_none=True)),
            "subject": decl.visit.subject if decl.visit else "not declared",
            "session": (decl.visit.session or "not declared") if decl.visit else "not declared",
        },
    )
