"""The shape every table computed from a cohort's ``cohort_outcomes`` shares (``subject_changes``,
``normative_comparison``, ``group_comparison``): a cohort-partitioned asset that reads ``cohort_outcomes``, calls one
core function, records its provenance (with the reference data it used) and runs its contract checks."""

import time
from collections.abc import Callable
from typing import Any

import dagster as dg
import polars as pl

from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import COHORT, since, versions
from neuropose_assets.dagster_defs.partitions import cohorts
from neuropose_assets.dagster_defs.resources import StorageResource


def cohort_table_asset(
    name: str,
    *,
    description: str,
    compute: Callable[[pl.DataFrame], pl.DataFrame],
    reference: Callable[[], dict[str, Any]],
    metadata: Callable[[pl.DataFrame], dict[str, Any]],
    kinds: set[str] | None = None,
    packages: tuple[str, ...] = (),
    code_version: str = "1",
) -> dg.AssetsDefinition:
    """The asset ``name``: ``compute(cohort_outcomes)`` for a cohort partition, its provenance holding ``reference()``
    (the thresholds, norms … it used) and the versions of ``packages``, its UI metadata ``metadata(table)`` plus the
    compute time; checked against the contract ``name``."""

    @dg.asset(
        name=name,
        partitions_def=cohorts,
        group_name=COHORT,
        kinds=kinds or {"polars", "parquet"},
        code_version=code_version,
        description=description,
        check_specs=check_specs(name, partitions_def=cohorts),
    )
    @checked(name)
    def _asset(
        context: dg.AssetExecutionContext,
        cohort_outcomes: ProvenancedTable,
        storage: StorageResource,  # noqa: ARG001 - checks
    ) -> dg.Output[ProvenancedTable]:
        t0 = time.perf_counter()
        df = compute(cohort_outcomes.df)
        prov = {
            "stage": name,
            "cohort": context.partition_key,
            "configs": {},
            "versions": versions(*packages),
            **reference(),
        }
        return dg.Output(ProvenancedTable(df, prov), metadata={**metadata(df), "compute_s": since(t0)})

    _asset.__doc__ = f"Materialize ``{name}`` from the cohort's ``cohort_outcomes`` table."
    return _asset
