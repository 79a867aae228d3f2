"""The PostgreSQL instance's event log (selected by :func:`neuropose_assets.instance.instance_yaml` when
``$NEUROPOSE_POSTGRES_URL`` is set): Dagster's ``dagster_postgres.PostgresEventLogStorage``, the same tables and
configuration, with a run's failure stored after the run's status is set (:mod:`neuropose_assets.event_log`).
Imported by the daemon and the webserver: it imports only Dagster and dagster-postgres.
"""

from __future__ import annotations

from dagster_postgres import PostgresEventLogStorage as DagsterPostgresEventLogStorage
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config

from neuropose_assets.event_log import FailureStatusFirst


class PostgresEventLogStorage(FailureStatusFirst, DagsterPostgresEventLogStorage):
    """Dagster's PostgreSQL event log with the run-failure order of
    :class:`~neuropose_assets.event_log.FailureStatusFirst`; configured like Dagster's (``postgres_url`` or
    ``postgres_db``, ``should_autocreate_tables``)."""

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PostgresEventLogStorage:
        """This class (Dagster's own returns its base class, whatever the configured class)."""
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )
