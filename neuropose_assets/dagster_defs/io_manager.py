"""Parquet IO manager: every table at :meth:`..core.io.storage.Layout.asset_file` of the data root —
``<data root>/assets/<asset>/<partition>.parquet`` — on the **local file system** (a local disk or a mounted share),
written atomically (temporary file + rename), with provenance.  The path is built in one place, the ``Layout``, which
the CLI, the report, the results page and the checks use too; object storage (s3://, gs://) is refused, since the
atomic write and the provenance reader need a local path.

Assets return a :class:`~neuropose_assets.core.io.tables.ProvenancedTable` (a polars DataFrame plus its provenance
document) or a bare ``polars.DataFrame``.  Inputs annotated ``ProvenancedTable`` get the provenance back; inputs
annotated ``polars.DataFrame`` get just the data; an input of several partitions gets ``{partition: table}``.  The
path, row count and column schema — with each column's description from its data contract
(``data_contracts.describe``: units, frames, conventions) — show in the UI.
"""

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from neuropose_assets.core.io.storage import Layout
from neuropose_assets.core.io.tables import ProvenancedTable, read_table, write_table


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores polars tables as zstd Parquet under the data root ``data_root`` (see module docstring)."""

    data_root: str

    def _layout(self) -> Layout:
        if "://" in self.data_root:
            scheme = self.data_root.split("://", 1)[0]
            raise ValueError(
                f"the Parquet IO manager writes to the local file system (or a mounted share) only; "
                f"{self.data_root!r} is {scheme!r} storage. Mount it, or use a local data root."
            )
        return Layout(Path(self.data_root))

    def _path(self, context: dg.OutputContext | dg.InputContext, partition: str | None) -> Path:
        return self._layout().asset_file(context.asset_key.path[-1], partition)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Refuse a data root that is not a local path.

        Raises:
            ValueError: ``data_root`` is object storage (s3://, gs://, ...).
        """
        self._layout()

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        """Write the table atomically to its :meth:`Layout.asset_file` (:func:`..core.io.tables.write_table`), with the
        provenance of a :class:`ProvenancedTable`; its path, row count and column schema become metadata.

        Raises:
            TypeError: ``obj`` is neither a :class:`ProvenancedTable` nor a polars DataFrame.
            ValueError: one output for several partitions (a single-run backfill; use a multi-run one).
        """
        if context.has_asset_partitions:
            keys = context.asset_partition_keys
            if len(keys) != 1:
                raise ValueError(
                    f"one output for {len(keys)} partitions: launch the backfill with a multi-run "
                    "backfill policy (one run per video)"
                )
            path = self._path(context, keys[0])
        else:
            path = self._path(context, None)
        if isinstance(obj, ProvenancedTable):
            write_table(obj.df, str(path), obj.provenance)
        elif isinstance(obj, pl.DataFrame):
            write_table(obj, str(path))
        else:
            raise TypeError(f"ParquetIOManager stores polars tables, got {type(obj).__name__}")
        context.add_output_metadata({"path": dg.MetadataValue.path(str(path)), **self.get_metadata(context, obj)})

    def load_input(self, context: dg.InputContext) -> Any:
        """The upstream table (a :class:`ProvenancedTable` for an input annotated so, else the polars DataFrame); for
        several partitions ``{partition: table}``."""
        if context.has_asset_partitions:
            keys = context.asset_partition_keys
            tables = {k: self._read(context, self._path(context, k)) for k in keys}
            return tables[keys[0]] if len(keys) == 1 else tables
        return self._read(context, self._path(context, None))

    @staticmethod
    def _read(context: dg.InputContext, path: Path) -> Any:
        if context.dagster_type.typing_type is ProvenancedTable:
            return read_table(path)
        return pl.read_parquet(path)

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        """The row count (per partition, when partitioned) and the column schema, each column described by its
        data contract (``data_contracts.describe``)."""
        from data_contracts import describe

        df = obj.df if isinstance(obj, ProvenancedTable) else obj
        asset = context.asset_key.path[-1] if context.has_asset_key else ""
        schema = dg.TableSchema(
            columns=[dg.TableColumn(n, str(t), description=describe(asset, n)) for n, t in df.schema.items()]
        )
        key = "dagster/partition_row_count" if context.has_asset_partitions else "dagster/row_count"
        return {key: df.height, "dagster/column_schema": schema}
