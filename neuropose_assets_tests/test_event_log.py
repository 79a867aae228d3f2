"""The instance's event log stores a run's failure only after the run's status is FAILURE
(neuropose_assets/event_log.py), on SQLite and on a real PostgreSQL server alike: Dagster's run-retry daemon reads a
new failure event, then the run, and never retries a run it found still STARTED."""

import dagster as dg
import pytest


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_run_failure_is_stored_after_the_runs_status(backend, tmp_path, monkeypatch, request):
    from dagster import DagsterRunStatus

    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import ensure_dagster_home

    if backend == "postgres":
        monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", request.getfixturevalue("postgres_url"))
    else:
        monkeypatch.delenv("NEUROPOSE_POSTGRES_URL", raising=False)
    home = ensure_dagster_home(Layout(tmp_path / "data"))
    with dg.DagsterInstance.from_config(str(home)) as inst:
        storage = inst.event_log_storage
        assert type(storage).__module__ == f"neuropose_assets.{backend}_storage"
        dagster_class = type(storage).__mro__[2]  # after ours and the mixin: Dagster's own, which makes it visible
        run = inst.add_run(dg.DagsterRun(job_name="j", status=DagsterRunStatus.STARTED))
        seen = []
        store = dagster_class.store_event

        def watched(self, event):
            if event.is_dagster_event and event.dagster_event_type == dg.DagsterEventType.RUN_FAILURE:
                seen.append(inst.get_run_by_id(run.run_id).status)  # what the retry daemon's reader would find
            return store(self, event)

        monkeypatch.setattr(dagster_class, "store_event", watched)
        inst.report_run_failed(run, "its worker process is gone")
        assert seen == [DagsterRunStatus.FAILURE]
        assert inst.get_run_by_id(run.run_id).tags["dagster/will_retry"] == "true"  # Dagster's own tagging, after
        assert [e.dagster_event.event_type_value for e in inst.all_logs(run.run_id)] == ["PIPELINE_FAILURE"]
