"""Every use of Dagster's private API, in one module.  Each comes with the reason no public API serves.

Dagster is pinned to one patch version for the whole family (``requirements.lock``), and
``neuropose_assets_tests/test_dagster_private.py`` exercises every name below, so an upgrade that moves or changes
one fails there, naming it, before anything else breaks.  Importing this module imports only Dagster itself.

* ``CheckRunHealthResult``, ``WorkerStatus`` — :mod:`.run_launcher`: run monitoring asks the launcher about a run's
  worker process; the result types are not exported.
* ``WorkspaceProcessContext``, ``ModuleTarget``, ``WorkspaceFileTarget`` — :mod:`.cli` (``backfill``: the GraphQL
  mutation the UI's "Launch backfill" sends, run in this process) and :mod:`.webserver` (the guarded webserver app):
  Dagster has no public API for a workspace in-process.
* ``DagsterGrpcClient`` — :mod:`.cli` (``ui``): wait until the code server answers before starting the daemon and
  the webserver.
* ``InstigatorType``, ``TickStatus`` — :mod:`.health`: the last tick of each sensor (the instance API returns these
  types).
* ``DagsterSqliteEventLogStorage``, ``SQLITE_BUSY_TIMEOUT_SECONDS`` — :mod:`.sqlite_storage`:
  Dagster's SQLite event log, subclassed to keep its engines; its ``_connect`` (the one place it makes connections,
  with ``_db_lock`` and ``_initdb`` / ``_initialized_dbs``) is overridden.  Dagster exports the class only from a
  private module and has no setting for its connection pool.
* ``EventLogStorage._instance`` (an attribute, no import) — :mod:`.event_log`: a storage reaches the instance's run
  storage through it to set a failed run's status before storing the failure; the storage API has no public accessor.
"""

from __future__ import annotations

from dagster._core.definitions.run_request import InstigatorType
from dagster._core.launcher.base import CheckRunHealthResult, WorkerStatus
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SqliteEventLogStorage as DagsterSqliteEventLogStorage,
)
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import ModuleTarget, WorkspaceFileTarget
from dagster._grpc.client import DagsterGrpcClient

__all__ = [
    "SQLITE_BUSY_TIMEOUT_SECONDS",
    "CheckRunHealthResult",
    "DagsterSqliteEventLogStorage",
    "DagsterGrpcClient",
    "InstigatorType",
    "ModuleTarget",
    "TickStatus",
    "WorkerStatus",
    "WorkspaceFileTarget",
    "WorkspaceProcessContext",
]
