"""Parquet tables with provenance, written atomically.

Every table this project writes carries a JSON document in the Parquet key-value metadata under the key
``neuropose_assets`` (model, configuration, source hash, library versions).  Nothing time-dependent goes in it, so
re-running the same video with the same configuration and model gives byte-identical files.

Read the data with ``polars.read_parquet(path)``; read the provenance with :func:`read_provenance`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from neuropose_assets.core.io.atomic import atomic_path

PROVENANCE_KEY = b"neuropose_assets"


def write_table(df: pl.DataFrame, path: str | Path, provenance: dict[str, Any] | None = None) -> Path:
    """Write ``df`` to ``path`` (zstd Parquet) atomically, with ``provenance`` as key-value metadata."""
    path = Path(path)
    table = df.to_arrow()
    meta = dict(table.schema.metadata or {})
    if provenance is not None:
        meta[PROVENANCE_KEY] = _encode(provenance)
    table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)
    return path


def _encode(provenance: dict[str, Any]) -> bytes:
    return json.dumps(provenance, sort_keys=True, default=str).encode()


def as_stored(provenance: dict[str, Any]) -> dict[str, Any]:
    """``provenance`` as :func:`read_provenance` returns it once written (JSON: tuples become lists, other values
    their ``str``)."""
    return json.loads(_encode(provenance))


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance document stored by :func:`write_table` (``{}`` if the file has none)."""
    meta = pq.read_schema(path).metadata or {}
    raw = meta.get(PROVENANCE_KEY)
    return json.loads(raw) if raw else {}


class ProvenancedTable:
    """A polars DataFrame together with the provenance document stored next to it in Parquet."""

    __slots__ = ("df", "provenance")

    def __init__(self, df: pl.DataFrame, provenance: dict[str, Any]) -> None:
        self.df = df
        self.provenance = provenance

    def __repr__(self) -> str:
        return f"ProvenancedTable(shape={self.df.shape}, provenance_keys={sorted(self.provenance)})"


def read_table(path: str | Path) -> ProvenancedTable:
    """The table at ``path`` with the provenance :func:`write_table` stored in it."""
    return ProvenancedTable(pl.read_parquet(path), read_provenance(path))
