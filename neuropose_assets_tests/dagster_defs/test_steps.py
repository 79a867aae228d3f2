"""Fused steps (:mod:`neuropose_assets.dagster_defs.steps`): a per-video run is three Dagster steps, every asset keeps
its own materialization and checks, a subset reads its inputs from the data root and gives the same tables as the
whole step (which passes them in memory), and a failing stage stops only what depends on it.  On a real marker file
(C3D of a Parkinson's gait trial: the whole chain from the model fit on, without a pose model's cost)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from neuropose_assets import stages
from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
from neuropose_assets.core.io.samples import fetch_mocap_samples
from neuropose_assets.core.io.storage import Layout, Registry, default_cache_dir
from neuropose_assets.core.io.tables import read_provenance

KEY = "pd-c3d"
PER_VIDEO = stages.assets("per_video_job")


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    from neuropose_assets.definitions import build_defs

    src = fetch_mocap_samples(default_cache_dir() / "samples", ["gaitkit_parkinson"])["gaitkit_parkinson"]
    tmp = tmp_path_factory.mktemp("steps")
    layout = Layout(tmp / "data")
    registry = Registry(layout)
    defs = build_defs(str(layout.root))
    job = defs.resolve_job_def("per_video_job")
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("videos", [KEY])

        def run(task: TaskSpec, selection: list[str] | None = None, run_config: dict | None = None):
            registry.register(KEY, src, "c", task=TaskDeclaration(task, "test"))
            return job.execute_in_process(
                partition_key=KEY,
                instance=inst,
                raise_on_error=False,
                asset_selection=[dg.AssetKey(a) for a in selection] if selection else None,
                run_config=run_config,
            )

        yield {"layout": layout, "run": run, "instance": inst, "first": run(TaskSpec(task="gait"))}


def _tables(layout: Layout, assets) -> dict[str, tuple[pl.DataFrame, dict]]:
    return {
        a: (pl.read_parquet(layout.asset_file(a, KEY)), read_provenance(layout.asset_file(a, KEY)))
        for a in assets
        if stages.stage(a).contract
    }


def _steps(result) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"]


def test_a_run_is_three_steps_and_every_asset_keeps_its_materialization_and_checks(trial):
    res = trial["first"]
    assert res.success
    assert _steps(res) == ["intake", "poses", "analysis"]
    materialized = [e.asset_key.path[-1] for e in res.get_asset_materialization_events()]
    assert sorted(materialized) == sorted(PER_VIDEO)  # each once
    checked = {e.asset_key.path[-1] for e in res.get_asset_check_evaluations()}
    assert checked == set(PER_VIDEO)
    # no input is loaded through the IO manager: a fused step reads what it needs itself (fewer event-log writes)
    assert not [e for e in res.all_events if e.event_type_value == "LOADED_INPUT" and e.step_key != "poses"]
    meta = {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata
        for e in res.get_asset_materialization_events()
    }
    assert "compute_s" in meta["kinematics"] and "dagster/partition_row_count" in meta["features"]


def test_a_subset_reads_its_inputs_from_the_data_root_and_gives_the_same_tables(trial):
    """The whole step passes each table to the next stage in memory; a subset reads them from their files: the same
    tables and provenance either way."""
    layout, run = trial["layout"], trial["run"]
    downstream = ["features", "events", "repetitions", "outcomes", "repetition_dtw"]
    before = _tables(layout, downstream)
    res = run(TaskSpec(task="gait"), selection=downstream)
    assert res.success and _steps(res) == ["analysis"]
    assert sorted(e.asset_key.path[-1] for e in res.get_asset_materialization_events()) == sorted(downstream)
    assert {e.asset_key.path[-1] for e in res.get_asset_check_evaluations()} == set(downstream)
    after = _tables(layout, downstream)
    for a in downstream:
        assert_frame_equal(after[a][0], before[a][0], check_exact=True)
        assert after[a][1] == before[a][1], a


def test_a_failing_stage_stops_only_what_depends_on_it(trial):
    run = trial["run"]
    res = run(TaskSpec(task="generic", segmentation={"signal": {"column": "no_such_signal_deg"}}))
    assert not res.success
    from neuropose_assets.service.runs import failure_message

    msg = failure_message(res)
    assert "generic analysis needs" in msg and "no_such_signal_deg" in msg
    done = {e.asset_key.path[-1] for e in res.get_asset_materialization_events()}
    # events failed: outcomes and the repetition DTW depend on it; the fit, features and the OpenSim export do not
    assert {"raw_video", "task", "kinematics", "features", "opensim_export"} <= done
    assert not done & {"events", "repetitions", "outcomes", "repetition_dtw"}
    failures = [e for e in res.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["analysis"]
    assert run(TaskSpec(task="gait")).success  # and a good declaration runs again


def test_a_failed_blocking_check_stops_the_stages_after_it(trial, monkeypatch):
    """A table that violates its contract is not read by the stages that depend on it."""
    from neuropose_assets.dagster_defs import checks

    def broken(storage, key):
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, description="broken on purpose")

    patched = tuple(
        checks.Check(c.asset, c.name, c.description, broken, c.blocking) if c.name == "features_contract" else c
        for c in checks.CHECKS
    )
    monkeypatch.setattr(checks, "CHECKS", patched)
    res = trial["run"](TaskSpec(task="gait"))
    assert not res.success
    done = {e.asset_key.path[-1] for e in res.get_asset_materialization_events()}
    assert {"kinematics", "features"} <= done
    assert not done & {"events", "repetitions", "outcomes", "repetition_dtw", "opensim_export"}
    from neuropose_assets.service.runs import failure_message

    assert failure_message(res) == "check features_contract failed: broken on purpose"


def test_a_stage_that_fails_unexpectedly_leaves_the_independent_stages_running(trial, monkeypatch):
    """The OpenSim export runs before the event detection in the step, but the events, outcomes and DTW do not depend
    on it: they are still materialized, and the step fails with the export's error."""
    from neuropose_assets.core.interop import opensim

    def broken(*args, **kwargs):
        raise RuntimeError("the export's disk is full")

    monkeypatch.setattr(opensim, "opensim_tables", broken)
    res = trial["run"](TaskSpec(task="gait"))
    assert not res.success
    done = {e.asset_key.path[-1] for e in res.get_asset_materialization_events()}
    assert {"kinematics", "features", "events", "repetitions", "outcomes", "repetition_dtw"} <= done
    assert "opensim_export" not in done
    failure = next(e for e in res.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the export's disk is full" in failure.event_specific_data.error.to_string()


def test_a_check_selected_alone_judges_the_written_file_without_materializing(trial):
    """The UI's "Execute" on one check of a fused step's asset: the check runs on the asset's file as it is."""
    from neuropose_assets.definitions import build_defs

    job = build_defs(str(trial["layout"].root)).resolve_job_def("per_video_job")
    assert trial["run"](TaskSpec(task="gait")).success
    check = dg.AssetCheckKey(dg.AssetKey("outcomes"), "outcomes_contract")
    res = job.get_subset(asset_selection=set(), asset_check_selection={check}).execute_in_process(
        partition_key=KEY, instance=trial["instance"], raise_on_error=False
    )
    assert res.success and not res.get_asset_materialization_events()
    [evaluation] = res.get_asset_check_evaluations()
    assert (evaluation.asset_key, evaluation.check_name, evaluation.passed) == (check.asset_key, check.name, True)
