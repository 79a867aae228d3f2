"""``data_contracts.validate`` (the contract checks' path): each family of pattern columns validated once, stacked —
the same verdict as pandera's full validation on real tables and on every kind of violation, and the full report
when it fails."""

import pandera.errors
import polars as pl
import pytest

from data_contracts import SCHEMAS, _passes_stacked, _stackable, validate
from neuropose_assets.dagster_defs.checks import PER_VIDEO_TABLES

pytestmark = pytest.mark.e2e


def _verdict(fn, df) -> str | None:
    try:
        fn(df)
    except pandera.errors.SchemaErrors as err:
        return str(err.failure_cases.sort(by=pl.all()))
    except Exception as err:  # noqa: BLE001 - pandera itself fails on some tables (a unique key dropped): the same
        return type(err).__name__
    return None


def _mutations(schema, df: pl.DataFrame):
    """(what, table) pairs: the real table, and the violations a stacked family could hide or invent."""
    yield "real", df
    named = [k for k, c in schema.columns.items() if not c.regex]
    for key, col in schema.columns.items():
        if not col.regex and key not in named[:2]:
            continue  # named columns keep pandera's own validation; two of them stand for the rest
        members = df.select(pl.col(col.selector)).columns if col.regex else [key] if key in df.columns else []
        for m in members[:1] if len(df) else []:
            s = df.get_column(m)
            if s.dtype.is_float():
                for value in (1e12, float("nan"), None):
                    yield f"{m}={value}", df.with_columns(s.scatter(len(df) // 2, value))
                other = pl.Float32 if s.dtype == pl.Float64 else pl.Float64
                yield f"{m} as {other}", df.with_columns(s.cast(other))
            elif s.dtype.is_integer():
                yield f"{m}=-5", df.with_columns(s.scatter(0, -5))
                yield f"{m}=null", df.with_columns(s.scatter(0, None))
            elif s.dtype == pl.Utf8:
                yield f"{m}=odd", df.with_columns(s.scatter(0, "not a known value"))
        if members:
            yield f"without {members[0]}", df.drop(members[0])
    yield "an extra column", df.with_columns(pl.lit(1.0).alias("zz_unknown"))
    yield "rows reversed", df.reverse()


@pytest.mark.parametrize("asset", PER_VIDEO_TABLES)
def test_the_stacked_validation_gives_pandera_s_verdict(world, asset):
    df = pl.read_parquet(world["layout"].asset_file(asset, "cam01"))
    schema = SCHEMAS[asset]
    if any(_stackable(c) for c in schema.columns.values()) and len(df):
        assert _passes_stacked(schema, df)  # a valid table takes the fast path
    seen = 0
    for what, table in _mutations(schema, df):
        full = _verdict(lambda d: schema.validate(d, lazy=True), table)
        # validate passes only where the stacked validation passed: equal verdicts = it never passes a violation
        assert _verdict(lambda d: validate(asset, d), table) == full, what
        seen += full is not None
    assert seen > 0 or not len(df)  # the mutations did produce violations
