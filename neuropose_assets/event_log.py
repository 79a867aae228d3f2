"""One change of order to Dagster's event log, for the SQLite and the PostgreSQL instance alike: a run's failure sets
the run's status to ``FAILURE`` before the failure event is stored.

Dagster 1.13 (``DagsterInstance.handle_new_event``) stores a run-status event first and updates the run's status in
the run storage after.  Its run-retry daemon (``EventLogConsumerDaemon``, every 5 s) reads each new failure event,
then the run, and retries only a run whose status is ``FAILURE`` (``should_retry``), never looking at that event
again: a run read in between, still ``STARTED``, is never retried.  Seen here: a warm worker killed mid-run under
load, its run failed and was never retried (``neuropose_assets_tests/cli/test_daemon.py``).  With the status set
first, a reader that finds the event finds the run failed; Dagster's own update, right after, writes the same status
again (one more run-storage write per failed run).

Imported by the daemon and the webserver (through the instance's storage classes): it imports only Dagster.
"""

from __future__ import annotations

from datetime import datetime, timezone

from dagster import DagsterEventType, EventLogEntry


class FailureStatusFirst:
    """Mixed in before a Dagster event log storage class (module docstring); ``self`` is that storage."""

    def store_event(self, event: EventLogEntry) -> None:
        """A run failure: the run's status set to ``FAILURE`` first (module docstring); then the storage's own
        ``store_event``."""
        if self.has_instance and event.is_dagster_event and event.dagster_event_type == DagsterEventType.RUN_FAILURE:
            when = datetime.fromtimestamp(event.timestamp, tz=timezone.utc)
            self._instance.run_storage.handle_run_event(event.run_id, event.get_dagster_event(), when)
        super().store_event(event)
