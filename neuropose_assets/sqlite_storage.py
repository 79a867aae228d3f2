"""Dagster's SQLite event log, without its per-operation setup cost: the instance's event log storage on one
workstation (selected in the instance's ``dagster.yaml`` by :func:`neuropose_assets.instance.instance_yaml`).

Every stored event (a step's start, an input loaded, an output, a check's result: about 180 per video) is one or more
SQLite transactions.  Dagster 1.13's :class:`~dagster._core.storage.event_log.SqliteEventLogStorage` builds a new
SQLAlchemy engine for each of them (the dialect set up again), opens and closes the database file each time (closing
the last connection of a WAL database checkpoints and fsyncs it), and checks that the partitions table exists before
every dynamic-partition lookup (several per step).  Measured on four demo clips run in-process, Dagster's overhead
(the run's wall time minus model load, inference and the assets' own compute) fell from 15.5 s to 10.1 s
(``neuropose-assets demo``'s ``dagster_overhead_s`` on its clinical_walk, clinical_arm_raise and two pose2sim clips),
and to 7.2–7.8 s (against 9.2–9.9 s in the same session) once runs' databases kept their connections too.

This subclass changes how connections are made, not what is stored or read, and one order:

* one engine per shard (the index, each run's database), kept for the process's life (an LRU of
  :data:`ENGINES_KEPT`) instead of one built per operation, and its connection kept open (a pool of one, SQLAlchemy's
  default for SQLite files; Dagster uses ``NullPool``).  Operations stay serialized by Dagster's own lock, an idle
  connection holds no lock (SQLite locks per transaction), a forked child starts with no engines, and :meth:`wipe`
  closes them before it deletes files;
* a run's database file touched after every event it stores: the UI's live run view (Dagster's watchdog on
  ``<run_id>.db``) reacts to changes of that file, and an event written through a kept connection stays in the
  write-ahead log until a checkpoint (Dagster's own storage closes the database after each event, which checkpoints
  it).  The run's last event closes its connections, so a finished run's log is checkpointed into its file;
* ``PRAGMA synchronous=NORMAL`` on every connection.  Dagster opens its databases in WAL mode; in WAL mode ``NORMAL``
  keeps the database consistent through any crash (SQLite documentation, "PRAGMA synchronous"): a power loss can
  lose the last transactions, never corrupt the file;
* ``has_table`` remembers the tables it has seen (no table of the event log is dropped while it runs);
* one change of order, as on PostgreSQL: a run's failure event sets the run's status before it is stored, not after
  — Dagster's run-retry daemon, reading a failure event before the run's status changed, never retried the run
  (:mod:`neuropose_assets.event_log`).

Runs and schedules use Dagster's own storage unchanged; a PostgreSQL instance's event log is
:mod:`neuropose_assets.postgres_storage`.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from dagster import DagsterEventType, EventLogEntry, Field, StringSource
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from neuropose_assets.dagster_private import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    DagsterSqliteEventLogStorage,
)
from neuropose_assets.event_log import FailureStatusFirst

#: a run's last events: its database's connections are closed after them
RUN_ENDS = frozenset({DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED})
#: engines kept per process: the index shard and the most recent runs' shards (one run touches one shard)
ENGINES_KEPT = 64


class SqliteEventLogStorage(FailureStatusFirst, DagsterSqliteEventLogStorage):
    """Dagster's SQLite event log storage with one engine per shard, ``synchronous=NORMAL`` and remembered tables
    (module docstring).  Configured like Dagster's: ``base_dir``, the directory of the per-run databases
    (``<dagster_home>/history/runs``, where Dagster's default puts them, so an instance keeps its history).

    Raises:
        FileNotFoundError: ``base_dir``'s instance directory does not exist (a data root moved since its
            ``dagster.yaml`` was written: ``neuropose-assets ui``, ``run`` or ``demo`` rewrites it).
    """

    def __init__(self, base_dir: str, inst_data=None):
        home = os.path.dirname(os.path.dirname(os.path.abspath(base_dir)))
        if not os.path.isdir(home):
            raise FileNotFoundError(
                f"the instance's event log directory {base_dir} is not under an existing instance ({home} does not "
                "exist): the data root moved since its dagster.yaml was written; run `neuropose-assets ui` (or run, "
                "demo) on the data root once to rewrite it"
            )
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._tables: set[str] = set()
        _STORAGES.add(self)
        super().__init__(base_dir, inst_data)

    @classmethod
    def config_type(cls):
        """``base_dir``: the directory of the per-run databases, as in Dagster's storage."""
        return {"base_dir": Field(StringSource)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> SqliteEventLogStorage:
        """This class (Dagster's own returns its base class, whatever the configured class)."""
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                    poolclass=QueuePool,
                    pool_size=1,
                    max_overflow=2,
                )
                event.listen(engine, "connect", _synchronous_normal)
                self._engines[shard] = engine
                while len(self._engines) > ENGINES_KEPT:
                    self._engines.popitem(last=False)[1].dispose()
            else:
                self._engines.move_to_end(shard)
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's own _connect, with the engine kept instead of built and disposed on every call
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event(self, event: EventLogEntry) -> None:
        """Dagster's ``store_event``; then the run's database file is touched (its modification time set to now),
        because the UI's live run view (Dagster's watchdog on ``<run_id>.db``) reacts to changes of that file and the
        event, written through a kept connection, is in the write-ahead log until the next checkpoint.  The run's
        last event (success, failure, cancellation) closes its connections, which checkpoints the log into the file.

        A run's failure is stored after the run's status is set
        (:class:`~neuropose_assets.event_log.FailureStatusFirst`).
        """
        super().store_event(event)
        with suppress(FileNotFoundError):
            os.utime(self.path_for_shard(event.run_id))
        if event.is_dagster_event and event.dagster_event_type in RUN_ENDS:
            self._drop_engine(event.run_id)

    def _drop_engine(self, shard: str) -> None:
        # under Dagster's lock, as every operation: no other thread of this process is using the connection
        with self._db_lock, self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is not None:
                engine.dispose()

    def _drop_engines(self, close: bool = True) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose(close=close)
            self._engines.clear()

    def wipe(self) -> None:
        """Dagster's wipe (the runs' databases deleted, the index emptied), the kept connections closed first."""
        self._drop_engines()
        super().wipe()

    def dispose(self) -> None:
        """Close the kept connections, then Dagster's dispose (its file watcher)."""
        self._drop_engines()
        super().dispose()

    def has_table(self, table_name: str) -> bool:
        """Whether the index has ``table_name``; a table once seen is not looked up again."""
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found


#: every storage of this process, so that a forked child drops the connections it inherited (SQLAlchemy: "Using
#: Connection Pools with Multiprocessing or os.fork()")
_STORAGES: weakref.WeakSet[SqliteEventLogStorage] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for storage in list(_STORAGES):
        storage._engines_lock = threading.Lock()  # a lock held by another thread at the fork stays held in the child
        storage._db_lock = threading.Lock()
        storage._drop_engines(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _synchronous_normal(dbapi_connection, _record) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
