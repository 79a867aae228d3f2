"""Each private Dagster name the project uses (:mod:`neuropose_assets.dagster_private`) still exists and behaves as
used; no other module imports Dagster's private API."""

import ast
import inspect

from neuropose_assets_tests import REPO

PACKAGE = REPO / "neuropose_assets"


def test_no_private_dagster_import_outside_the_one_module():
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "dagster_private.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in getattr(node, "names", [])]
                if isinstance(node, ast.Import)
                else []
            )
            if isinstance(node, ast.ImportFrom) and node.module == "dagster":
                names += [f"dagster.{a.name}" for a in node.names]
            if any(n.startswith("dagster._") for n in names):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert found == []


def test_each_private_name_behaves_as_used(tmp_path):
    from neuropose_assets import dagster_private as P

    # run_launcher: a health result from a status and a message
    r = P.CheckRunHealthResult(P.WorkerStatus.FAILED, "gone")
    assert r.status == P.WorkerStatus.FAILED and r.msg == "gone" and P.WorkerStatus.RUNNING
    # backfill and webserver: load targets and the process context's signature
    target = P.ModuleTarget(
        module_name="neuropose_assets.definitions",
        attribute=None,
        working_directory=None,
        location_name="neuropose_assets",
    )
    assert target.create_origins()[0].location_name == "neuropose_assets"
    (tmp_path / "w.yaml").write_text("load_from:\n  - python_module: neuropose_assets.definitions\n")
    assert len(P.WorkspaceFileTarget(paths=[str(tmp_path / "w.yaml")]).create_origins()) == 1
    assert {"instance", "workspace_load_target", "version", "read_only"} <= set(
        inspect.signature(P.WorkspaceProcessContext).parameters
    )
    # ui: a client that pings a code server
    assert callable(P.DagsterGrpcClient(port=1, host="127.0.0.1").ping)
    # health: the sensor instigator type and the failed tick status
    assert P.InstigatorType.SENSOR and P.TickStatus.FAILURE
    # sqlite_storage: the event log's one connection maker, and what it uses, are as the override replicates them
    connect = inspect.getsource(P.DagsterSqliteEventLogStorage._connect)
    for part in ("self._db_lock", "self.conn_string_for_shard(shard)", "self._initdb(engine)", "_initialized_dbs"):
        assert part in connect, part
    assert P.SQLITE_BUSY_TIMEOUT_SECONDS > 0
    storage = P.DagsterSqliteEventLogStorage(str(tmp_path / "runs"))
    assert isinstance(storage._initialized_dbs, set) and hasattr(storage._db_lock, "acquire")
    assert storage.has_table("event_logs")
    # event_log: a storage registered with an instance reaches it (and its run storage) through ``_instance``
    import dagster as dg

    with dg.instance_for_test() as inst:
        assert inst.event_log_storage.has_instance and inst.event_log_storage._instance is inst
        assert callable(inst.event_log_storage._instance.run_storage.handle_run_event)
