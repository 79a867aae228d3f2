"""The instance's SQLite event log (neuropose_assets/sqlite_storage.py): what it stores and reads is Dagster's; only
how it connects differs — kept engines and connections, synchronous=NORMAL, a run's database file touched after every
event (the UI's live view watches that file) and closed after its last (the order of a run's failure:
test_event_log.py)."""

import os

import dagster as dg
import pytest
import yaml


@dg.asset(partitions_def=dg.DynamicPartitionsDefinition(name="clips"), check_specs=[dg.AssetCheckSpec("ok", asset="a")])
def a(context: dg.AssetExecutionContext):
    context.log.info(f"materializing {context.partition_key}")
    yield dg.Output(1)
    yield dg.AssetCheckResult(passed=True)


def _instance(tmp_path, monkeypatch):
    from neuropose_assets.core.io.storage import Layout
    from neuropose_assets.instance import ensure_dagster_home

    monkeypatch.delenv("NEUROPOSE_POSTGRES_URL", raising=False)
    home = ensure_dagster_home(Layout(tmp_path / "data"))
    return home, dg.DagsterInstance.from_config(str(home))


def _materialize(inst, key: str) -> dg.ExecuteInProcessResult:
    inst.add_dynamic_partitions("clips", [key])
    return dg.materialize([a], instance=inst, partition_key=key, resources={"io_manager": dg.mem_io_manager})


def test_events_round_trip_through_the_kept_engines(tmp_path, monkeypatch):
    from neuropose_assets.sqlite_storage import SqliteEventLogStorage

    home, inst = _instance(tmp_path, monkeypatch)
    with inst:
        storage = inst.event_log_storage
        assert isinstance(storage, SqliteEventLogStorage)
        assert storage._base_dir == str(home.resolve() / "history" / "runs")  # where Dagster's default keeps them
        runs = [_materialize(inst, k) for k in ("v1", "v2")]
        assert all(r.success for r in runs)
        # everything Dagster stores and reads back: runs' logs, the asset's partitions, checks, dynamic partitions
        for r in runs:
            types = {e.dagster_event.event_type_value for e in inst.all_logs(r.run_id) if e.is_dagster_event}
            assert {"ASSET_MATERIALIZATION", "ASSET_CHECK_EVALUATION", "PIPELINE_SUCCESS"} <= types
        assert inst.get_materialized_partitions(dg.AssetKey("a")) == {"v1", "v2"}
        check = inst.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("a"), "ok")]
        )
        assert check[dg.AssetCheckKey(dg.AssetKey("a"), "ok")].status.value == "SUCCEEDED"
        assert inst.has_dynamic_partition("clips", "v2") and not inst.has_dynamic_partition("clips", "v3")
        # the index's engine is kept and its connection pooled; every connection runs with synchronous=NORMAL (1)
        index = storage._engine("index")
        assert storage._engine("index") is index and index.pool.__class__.__name__ == "QueuePool"
        with storage.index_connection() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with storage.run_connection(runs[0].run_id) as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
        assert storage._engine(runs[0].run_id).pool.__class__.__name__ == "QueuePool"


def test_the_live_run_view_sees_every_event_another_process_writes(tmp_path, monkeypatch):
    """The UI's live run view is Dagster's watchdog on ``<run_id>.db`` (``SqliteEventLogStorage.watch``), in the
    webserver, while a run worker writes through its kept connection, i.e. into the write-ahead log: every event must
    still reach the watcher (the file is touched), and the run's last event closes the connection (checkpointed)."""
    import threading
    import time

    home, writer = _instance(tmp_path, monkeypatch)
    with writer, dg.DagsterInstance.from_config(str(home)) as reader:
        run_id = _materialize(writer, "v1").run_id  # ends with RUN_SUCCESS: its connections closed
        db = writer.event_log_storage.path_for_shard(run_id)
        assert run_id not in writer.event_log_storage._engines
        assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0
        seen, arrived = [], threading.Event()

        def on_event(entry, _cursor):
            message = entry.dagster_event.message if entry.dagster_event else entry.user_message
            if message in ("first", "second", "third"):
                seen.append(message)
            if message == "third":
                arrived.set()

        reader.event_log_storage.watch(run_id, None, on_event)  # from the run's first event
        try:
            run = writer.get_run_by_id(run_id)
            for message in ("first", "second", "third"):
                writer.report_engine_event(message, run)
                time.sleep(0.3)
            assert arrived.wait(10), seen
        finally:
            reader.event_log_storage.end_watch(run_id, on_event)
        assert seen == ["first", "second", "third"]
        assert run_id in writer.event_log_storage._engines  # kept: an engine event does not end the run


def test_wipe_and_a_forked_child_start_from_fresh_connections(tmp_path, monkeypatch):
    _, inst = _instance(tmp_path, monkeypatch)
    with inst:
        assert _materialize(inst, "v1").success
        storage = inst.event_log_storage
        assert storage._engines
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child inherits no engine and reads through connections of its own
            try:
                os.write(write, repr(_child_engines(storage)).encode())
            finally:
                os._exit(0)
        os.close(write)
        assert os.read(read, 100).decode() == "(0, True)"
        os.waitpid(pid, 0)
        inst.wipe()  # the runs' engines closed before their files go; the index reopened to empty it
        assert list(storage._engines) == ["index"]
        assert _materialize(inst, "v2").success
        assert inst.get_materialized_partitions(dg.AssetKey("a")) == {"v2"}


def _child_engines(storage) -> tuple[int, bool]:
    n = len(storage._engines)
    with storage.index_connection() as conn:
        ok = conn.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() > 0
    return n, ok


def test_the_instance_yaml_selects_it_only_for_sqlite(tmp_path, monkeypatch):
    from neuropose_assets.instance import instance_yaml
    from neuropose_assets.sqlite_storage import SqliteEventLogStorage

    monkeypatch.delenv("NEUROPOSE_POSTGRES_URL", raising=False)
    cfg = yaml.safe_load(instance_yaml(tmp_path))
    assert cfg["event_log_storage"]["config"]["base_dir"] == str(tmp_path.resolve() / "history" / "runs")
    assert "event_log_storage" not in yaml.safe_load(instance_yaml())  # no home: the package's file as it is
    monkeypatch.setenv("NEUROPOSE_POSTGRES_URL", "postgresql://u:p@db:5432/np")
    pg = yaml.safe_load(instance_yaml(tmp_path))
    assert "storage" not in pg and pg["event_log_storage"]["class"] == "PostgresEventLogStorage"
    assert {
        pg[k]["config"]["postgres_url"]["env"] for k in ("run_storage", "event_log_storage", "schedule_storage")
    } == {"NEUROPOSE_POSTGRES_URL"}
    # a data root that moved since its dagster.yaml was written: a clear error, no directories made at the old place
    gone = tmp_path / "moved" / "dagster_home" / "history" / "runs"
    with pytest.raises(FileNotFoundError, match="moved"):
        SqliteEventLogStorage(str(gone))
    assert not (tmp_path / "moved").exists()
