"""``repetition_dtw``: exact DTW between the repetitions (gait cycles) of one video, within each side
(:func:`neuropose_assets.core.comparison.dtw.pairwise`).
"""

import hashlib
import json
import time
from typing import Any

import dagster as dg
import polars as pl

from neuropose_assets.core.comparison.dtw import RepetitionDTWConfig
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.common import fail, mean_or_null, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part

DTWAssetConfig = dagster_config(RepetitionDTWConfig)


def dtw_metadata(df: pl.DataFrame, cfg: dict[str, Any]) -> dict[str, Any]:
    """UI metadata of a DTW table (long form ``a, b, distance``): how many sequences and distinct pairs, the mean
    distance between different sequences (null, never 0, when there is no pair), the config and the cost convention."""
    off = df.filter(pl.col("a") != pl.col("b"))
    conv = cfg.get("convention", "tslearn")
    return {
        "sequences": df["a"].n_unique(),
        "pairs": off.select("a", "b").unique().height // 2,
        # no pair → undefined, not 0 (0 would read as "identical")
        "mean_distance": mean_or_null(off["distance"].to_list()),
        "config": dg.MetadataValue.json(cfg),
        "cost_convention": "sqrt of summed squared frame distances along the path (tslearn)"
        if conv == "tslearn"
        else "sum of Euclidean frame distances along the path (NeuroPose convention)",
    }


def pose_source_identity(model: dict) -> str:
    """What makes two videos' joints comparable in DTW: the pose model (name, variant, weights checksum) — or, for
    marker-based capture, whose checksum is the file's own, the marker protocol (marker set and how each clinical
    joint is defined), so a cohort of marker files of one protocol is one source."""
    from neuropose_assets.core.pose.base import MARKER_CAPTURE

    if model.get("name") == MARKER_CAPTURE:
        settings = model.get("settings") or {}
        joints = json.dumps(settings.get("joints") or {}, sort_keys=True)
        return f"{MARKER_CAPTURE}/{settings.get('marker_set')}/{hashlib.sha256(joints.encode()).hexdigest()[:12]}"
    return f"{model.get('name')}/{model.get('variant')}/{model.get('checksum', '')[:12]}"


@part(
    kinds={"tslearn", "parquet"},
    code_version="3",
    description="Exact DTW between every pair of repetitions (gait cycles) of one video, within each side "
    "(long table a, b, distance).",
)
def repetition_dtw(
    context: dg.AssetExecutionContext,
    config: DTWAssetConfig,
    features: ProvenancedTable,
    repetitions: ProvenancedTable,
    storage: StorageResource,
) -> dg.Output[ProvenancedTable]:  # noqa: ARG001 - checks
    """Materialize ``repetition_dtw``: :func:`~neuropose_assets.core.comparison.dtw.pairwise` on each side's repetition
    sequences."""
    from neuropose_assets.core.comparison.dtw import (
        config_json,
        enable_numba_cache,
        pairwise,
        repetition_sequences,
        result_schema,
    )
    from neuropose_assets.core.io.storage import default_cache_dir

    t0 = time.perf_counter()
    core_cfg = config_or_fail(config, "DTW")
    try:
        groups = repetition_sequences(features.df, repetitions.df, core_cfg, core_cfg.max_repetitions_per_side)
        if any(len(g) > 1 for g in groups.values()):
            enable_numba_cache(default_cache_dir() / "numba")
        parts = [pairwise(seqs, core_cfg)[0] for seqs in groups.values()]
    except (ValueError, KeyError) as err:  # a column the config names is missing, or NaN under 'propagate'
        raise fail(
            f"repetition DTW: {err.args[0] if isinstance(err, KeyError) else err}", context.partition_key
        ) from None
    df = pl.concat(parts) if parts else pl.DataFrame(schema=result_schema())
    cfg = config_json(core_cfg)
    prov = provenance("repetition_dtw", repetitions.provenance, cfg, "tslearn")
    found = repetitions.df.filter(pl.col("end_frame") > pl.col("start_frame")).group_by("side").len()
    compared = {str(side or "both"): f"{len(groups.get(side, {}))} of {n}" for side, n in found.iter_rows()}
    prov["repetitions_compared"] = compared
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            **dtw_metadata(df, cfg),
            "compute_s": since(t0),
            "repetitions_compared": dg.MetadataValue.json(compared),
        },
    )
