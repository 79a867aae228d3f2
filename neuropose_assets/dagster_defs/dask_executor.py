"""``dagster-dask``'s executor on a shared, long-lived dask cluster, with two fixes (imported only when
``$NEUROPOSE_DASK_SCHEDULER`` is set: it imports dask.distributed).

``dagster_dask.DaskExecutor`` (0.29.27) is written for a cluster per run.  On one scheduler shared by concurrent
runs — our case: one run per video — it fails twice, both reproduced by ``test_distributed.py``:

1. its dask task key is ``"<job>.<step>"``, the same for every run of ``per_video_job``; dask treats equal keys as one
   task, so concurrent runs share (and cancel) each other's steps (``FutureCancelledError``).  Here the key carries
   the run id.
2. with dask ≥ 2024.11 (task spec), ``Client.submit`` walks tuple arguments, and Dagster's ``@record`` objects
   (the run, the instance ref, the reconstructable job) are tuples that forbid iteration.  Here they travel inside
   one plain object.

Everything else is dagster-dask's own: ``query_on_dask_worker`` executes the step on the worker, and the op tag
``dagster-dask/resource_requirements`` becomes the task's dask worker resources.
"""

from __future__ import annotations

import dagster as dg
import dask.distributed
from dagster_dask.executor import DaskExecutor, get_dask_resource_requirements, query_on_dask_worker

from neuropose_assets.dagster_private import DagsterEvent, check, iterate_with_context, raise_execution_interrupts


class _StepCall:
    """The arguments of ``query_on_dask_worker`` as one opaque (pickled, never walked) object."""

    def __init__(self, *args) -> None:
        self.args = args


def _run_step(dependencies, call: _StepCall):  # noqa: ARG001 - dependencies only order the tasks
    return query_on_dask_worker(None, *call.args)


class SharedClusterDaskExecutor(DaskExecutor):
    """Steps of a run as dask tasks on the existing scheduler at ``address``; one task key per run and step."""

    def __init__(self, address: str) -> None:
        super().__init__("existing", {"address": address})

    def execute(self, plan_context, execution_plan):
        """Submit every step of the plan as a dask task keyed ``<run id>.<step key>``, after its upstream steps,
        and yield the steps' Dagster events as they complete."""
        check.invariant(plan_context.instance.is_persistent, "Dask execution requires a persistent DagsterInstance")
        run = plan_context.dagster_run
        futures, by_step = [], {}
        with dask.distributed.Client(self.cluster_configuration["address"]) as client:
            for level in execution_plan.get_steps_to_execute_by_level():
                for step in level:
                    deps = [by_step[k] for inp in step.step_inputs for k in inp.dependency_keys]
                    call = _StepCall(
                        plan_context.reconstructable_job,
                        run,
                        plan_context.run_config,
                        [step.key],
                        plan_context.instance.get_ref(),
                        execution_plan.known_state,
                    )
                    fut = client.submit(
                        _run_step,
                        deps,
                        call,
                        key=f"{run.run_id}.{step.key}",
                        pure=False,
                        resources=get_dask_resource_requirements(step.tags),
                    )
                    futures.append(fut)
                    by_step[step.key] = fut
            completed = dask.distributed.as_completed(futures, with_results=True)
            for _, result in iterate_with_context(raise_execution_interrupts, completed):
                for event in result:
                    yield check.inst(event, DagsterEvent)


@dg.executor(
    name="dask",
    requirements=dg.multiple_process_executor_requirements(),
    config_schema={"address": dg.Field(dg.StringSource, description="the dask scheduler, e.g. tcp://10.0.0.5:8786")},
)
def shared_dask_executor(init_context) -> SharedClusterDaskExecutor:
    """Per-video runs on a shared dask cluster (:class:`SharedClusterDaskExecutor`)."""
    return SharedClusterDaskExecutor(init_context.executor_config["address"])
