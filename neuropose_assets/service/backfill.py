"""Backfills: which partitions of a cohort need a run, and the Dagster asset backfill that the daemon runs
(submitted through the same GraphQL mutation as the UI's "Launch backfill")."""

from __future__ import annotations

from neuropose_assets import stages
from neuropose_assets.core.io.storage import (
    Layout,
)
from neuropose_assets.service.runs import QUIET, failure_message


def backfill_partitions(layout: Layout, cohort: str, *, missing_only: bool) -> list[str]:
    """Partitions of ``cohort`` (registry), or only those where any per-video table is missing (failed or never
    run)."""
    from neuropose_assets.core.io.storage import Registry
    from neuropose_assets.dagster_defs.checks import PER_VIDEO_TABLES

    keys = [e.partition for e in Registry(layout).members(cohort)]
    if missing_only:
        keys = [k for k in keys if not all(layout.asset_file(a, k).exists() for a in PER_VIDEO_TABLES)]
    return keys


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
    params = {
        "partitionNames": partitions,
        "assetSelection": [{"path": [k]} for k in keys],
        "title": title,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    target = ModuleTarget(
        module_name="neuropose_assets.definitions",
        attribute=None,
        working_directory=None,
        location_name="neuropose_assets",
    )  # the installed package, no checkout needed
    with WorkspaceProcessContext(instance, workspace_load_target=target) as pctx:
        res = execute_dagster_graphql(pctx.create_request_context(), LAUNCH_BACKFILL, {"p": params})
    out = (res.data or {}).get("launchPartitionBackfill") or {}
    if out.get("__typename") != "LaunchBackfillSuccess":
        raise RuntimeError(f"the backfill was refused: {out or res.errors}")
    return out["backfillId"]


def add_cohort_partitions(instance, layout: Layout, cohort: str) -> list[str]:
    """Make every registered video of ``cohort`` a partition of ``instance`` (and the cohort one), also a video that
    needs no run — e.g. a new PostgreSQL instance over an existing data root, whose outputs stay valid.  Returns the
    video keys that were added."""
    from neuropose_assets.core.io.storage import Registry

    registered = [e.partition for e in Registry(layout).members(cohort)]
    missing = [k for k in registered if not instance.has_dynamic_partition("videos", k)]
    if missing:
        instance.add_dynamic_partitions("videos", missing)
    if registered and not instance.has_dynamic_partition("cohorts", cohort):
        instance.add_dynamic_partitions("cohorts", [cohort])
    return missing


def backfill_in_process(layout: Layout, instance, keys: list[str], cohort: str):
    """Run ``per_video_job`` for each of ``keys`` in this process, then ``cohort_job`` for ``cohort``; yields
    ``(key, None)`` for a run that succeeded and ``(key, message)`` (:func:`.runs.failure_message`) for one that
    failed, as each run ends."""
    from neuropose_assets.definitions import build_defs
    from neuropose_assets.run_launcher import process_tags

    defs = build_defs(str(layout.root))
    for k in keys:
        res = defs.resolve_job_def("per_video_job").execute_in_process(
            partition_key=k,
            instance=instance,
            tags={"cohort": cohort, **process_tags()},
            raise_on_error=False,
            run_config=QUIET,
        )
        yield k, None if res.success else failure_message(res)
    defs.resolve_job_def("cohort_job").execute_in_process(
        partition_key=cohort, instance=instance, raise_on_error=False, run_config=QUIET, tags=process_tags()
    )
