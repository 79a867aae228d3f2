"""Parquet IO manager: ``<base_dir>/<asset>/<partition>.parquet`` on the **local file system** (a local disk or a
mounted share), written atomically (temporary file + rename), with provenance.  It builds on Dagster's
``UPathIOManager`` for the path layout, but the atomic write and the provenance reader need a local path: object
storage (s3://, gs://) is not supported yet.

Assets return a :class:`~neuropose_assets.core.tables.ProvenancedTable` (a polars DataFrame plus its provenance
document) or a bare ``polars.DataFrame``.  Inputs annotated ``ProvenancedTable`` get the provenance back; inputs
annotated ``polars.DataFrame`` get just the data.  The row count, path and column schema — with each column's
description from its data contract (``data_contracts.describe``: units, frames, conventions) — show in the UI.
"""


from typing import Any, ClassVar

import dagster as dg
import polars as pl
from pydantic import PrivateAttr
from upath import UPath

from neuropose_assets.core.tables import ProvenancedTable, read_provenance, write_table


class ParquetIOManager(dg.ConfigurableIOManager, dg.UPathIOManager):
    """Stores polars tables as zstd Parquet under ``base_dir`` (see module docstring)."""

    base_dir: str
    extension: ClassVar[str] = ".parquet"
    _base_path: UPath = PrivateAttr()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Resolve ``base_dir``, refusing storage that is not a local path.

        Raises:
            ValueError: ``base_dir`` is object storage (s3://, gs://, ...).
        """
        self._base_path = UPath(self.base_dir)
        if self._base_path.protocol not in ("", "file", "local"):
            raise ValueError(f"the Parquet IO manager writes to the local file system (or a mounted share) only; "
                             f"{self.base_dir!r} is {self._base_path.protocol!r} storage. Mount it, or use a local "
                             "data root.")  # fmt: skip

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        """Write the table to ``path`` atomically (:func:`..core.tables.write_table`), with the provenance of a
        :class:`ProvenancedTable`.

        Raises:
            TypeError: ``obj`` is neither a :class:`ProvenancedTable` nor a polars DataFrame.
        """
        if isinstance(obj, ProvenancedTable):
            write_table(obj.df, str(path), obj.provenance)
        elif isinstance(obj, pl.DataFrame):
            write_table(obj, str(path))
        else:
            raise TypeError(f"ParquetIOManager stores polars tables, got {type(obj).__name__}")

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        """The table at ``path``: a :class:`ProvenancedTable` (with its provenance) for an input annotated so,
        else the polars DataFrame."""
        df = pl.read_parquet(str(path))
        if context.dagster_type.typing_type is ProvenancedTable:
            return ProvenancedTable(df, read_provenance(str(path)))
        return df

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, Any]:
        """The row count (per partition, when partitioned) and the column schema, each column described by its
        data contract (``data_contracts.describe``)."""
        from data_contracts import describe

        df = obj.df if isinstance(obj, ProvenancedTable) else obj
        asset = context.asset_key.path[-1] if context.has_asset_key else ""
        schema = dg.TableSchema(columns=[dg.TableColumn(n, str(t), description=describe(asset, n))
                                         for n, t in df.schema.items()])  # fmt: skip
        key = "dagster/partition_row_count" if context.has_asset_partitions else "dagster/row_count"
        return {key: df.height, "dagster/column_schema": schema}
