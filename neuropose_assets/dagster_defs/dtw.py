"""DTW stages: between the repetitions of one video, and across the videos of a cohort (same task only)."""

import hashlib
import json
import time
from typing import Any

import dagster as dg
import polars as pl

from neuropose_assets.core.dtw import CohortDTWConfig, DTWConfig, RepetitionDTWConfig
from neuropose_assets.core.tables import ProvenancedTable
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import COHORT, PER_VIDEO, fail, mean_or_null, provenance, since, versions
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.partitions import cohorts, videos
from neuropose_assets.dagster_defs.resources import StorageResource

DTWAssetConfig = dagster_config(RepetitionDTWConfig)
CohortDTWAssetConfig = dagster_config(CohortDTWConfig)


def _dtw_metadata(df: pl.DataFrame, cfg: dict[str, Any]) -> dict[str, Any]:
    off = df.filter(pl.col("a") != pl.col("b"))
    conv = cfg.get("convention", "tslearn")
    return {
        "sequences": df["a"].n_unique(),
        "pairs": off.select("a", "b").unique().height // 2,
        # no pair → undefined, not 0 (0 would read as "identical")
        "mean_distance": mean_or_null(off["distance"].to_list()),
        "config": dg.MetadataValue.json(cfg),
        "cost_convention": "sqrt of summed squared frame distances along the path (tslearn)" if conv == "tslearn"
        else "sum of Euclidean frame distances along the path (NeuroPose convention)",
    }  # fmt: skip



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

@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"tslearn", "parquet"},
    code_version="3",
    description="Exact DTW between every pair of repetitions (gait cycles) of one video, within each side "
    "(long table a, b, distance).",
    check_specs=check_specs("repetition_dtw", partitions_def=videos),
)
@checked("repetition_dtw")
def repetition_dtw(context: dg.AssetExecutionContext, config: DTWAssetConfig, features: ProvenancedTable,
                   repetitions: ProvenancedTable,
                   storage: StorageResource) -> dg.Output[ProvenancedTable]:  # fmt: skip  # noqa: ARG001 - checks
    """Materialize ``repetition_dtw``: :func:`..core.dtw.pairwise` on each side's repetition sequences."""
    from neuropose_assets.core.dtw import (
        config_json,
        enable_numba_cache,
        pairwise,
        repetition_sequences,
        result_schema,
    )
    from neuropose_assets.core.storage import default_cache_dir

    t0 = time.perf_counter()
    core_cfg = config_or_fail(config, "DTW")
    try:
        groups = repetition_sequences(features.df, repetitions.df, core_cfg, core_cfg.max_repetitions_per_side)
        if any(len(g) > 1 for g in groups.values()):
            enable_numba_cache(default_cache_dir() / "numba")
        parts = [pairwise(seqs, core_cfg)[0] for seqs in groups.values()]
    except (ValueError, KeyError) as err:  # a column the config names is missing, or NaN under 'propagate'
        raise fail(f"repetition DTW: {err.args[0] if isinstance(err, KeyError) else err}", context.partition_key
                   ) from None  # fmt: skip
    df = pl.concat(parts) if parts else pl.DataFrame(schema=result_schema())
    cfg = config_json(core_cfg)
    prov = provenance("repetition_dtw", repetitions.provenance, cfg, "tslearn")
    found = repetitions.df.filter(pl.col("end_frame") > pl.col("start_frame")).group_by("side").len()
    compared = {str(side or "both"): f"{len(groups.get(side, {}))} of {n}" for side, n in found.iter_rows()}
    prov["repetitions_compared"] = compared
    return dg.Output(ProvenancedTable(df, prov),
                     metadata={**_dtw_metadata(df, cfg), "compute_s": since(t0),
                               "repetitions_compared": dg.MetadataValue.json(compared)})  # fmt: skip


@dg.asset(
    partitions_def=cohorts,
    deps=[dg.AssetDep(a, partition_mapping=dg.AllPartitionMapping()) for a in ("features", "repetitions", "task")],
    group_name=COHORT,
    kinds={"tslearn", "parquet"},
    pool="dtw",
    code_version="3",
    description="Exact DTW between the videos of a cohort that show the same task, on each video's time-normalised "
    "mean repetition (for gait: mean gait cycle per foot, 0–100 %). Members without repetitions, or whose outputs are "
    "missing, are skipped and listed in the metadata.",
    check_specs=check_specs("cohort_dtw", partitions_def=cohorts),
)
@checked("cohort_dtw")
def cohort_dtw(context: dg.AssetExecutionContext, config: CohortDTWAssetConfig,
               storage: StorageResource) -> dg.Output[ProvenancedTable]:  # fmt: skip
    """Materialize ``cohort_dtw``: :func:`..core.dtw.pairwise` on the members' mean repetitions, per task."""
    from neuropose_assets.core.atomic import sha256_file
    from neuropose_assets.core.dtw import (
        config_json,
        enable_numba_cache,
        has_data,
        mean_repetition,
        pairwise,
        result_schema,
        reusable_pairs,
    )
    from neuropose_assets.core.storage import default_cache_dir
    from neuropose_assets.core.tables import read_provenance

    t0 = time.perf_counter()
    cohort = context.partition_key
    cfg_all = config_or_fail(config, "cohort DTW")
    core_cfg = cfg_all.dtw()
    layout = storage.layout
    by_task: dict[str, dict[str, dict]] = {}
    skipped, models, sources, fingerprints, tasks = {}, {}, {}, {}, {}
    for entry in storage.registry.members(cohort):
        key = entry.partition
        paths = {a: layout.asset_file(a, key) for a in ("features", "repetitions", "task")}
        if not all(p.exists() for p in paths.values()):
            skipped[key] = "not processed (or failed)"
            continue
        prov = read_provenance(paths["features"])
        models[key] = pose_source_identity(prov.get("model", {}))
        task = pl.read_parquet(paths["task"])["task"][0]
        units = mean_repetition(pl.read_parquet(paths["features"]), pl.read_parquet(paths["repetitions"]), core_cfg,
                                cfg_all.samples)  # fmt: skip
        if not units or not has_data(units):
            skipped[key] = "no repetition / gait cycle"
            continue
        by_task.setdefault(task, {})[key] = units
        tasks[key] = task
        fingerprints[key] = "".join(sha256_file(p)[:16] for p in paths.values())
        sources[key] = prov.get("source", {}).get("sha256")
    if len(set(models.values())) > 1 and not cfg_all.allow_mixed_models:
        raise dg.Failure(
            description=f"cohort {cohort!r} mixes pose models {sorted(set(models.values()))}; DTW distances between "
            "different models are not comparable. Re-run the odd videos with one model, or set allow_mixed_models.",
            allow_retries=False,
        )
    if skipped:
        context.log.warning(f"cohort {cohort}: left out of the matrix: {skipped}")
    previous_path = layout.asset_file("cohort_dtw", cohort)
    previous = pl.read_parquet(previous_path) if previous_path.exists() else None
    previous_meta = read_provenance(previous_path) if previous_path.exists() else {}
    fingerprint_cfg = DTWConfig(**core_cfg.model_dump())
    if previous_meta.get("samples") != cfg_all.samples:
        previous = None
    reuse = reusable_pairs(previous.drop("task") if previous is not None and "task" in previous.columns else previous,
                           previous_meta, fingerprints, fingerprint_cfg)  # fmt: skip
    if any(len(g) > 1 for g in by_task.values()):
        enable_numba_cache(default_cache_dir() / "numba")
    parts, computed = [], 0
    try:
        for task, seqs in sorted(by_task.items()):
            df, n = pairwise(seqs, core_cfg, reuse=reuse)
            parts.append(df.with_columns(pl.lit(task).alias("task")))
            computed += n
    except (ValueError, KeyError) as err:
        why = err.args[0] if isinstance(err, KeyError) else err
        raise dg.Failure(description=f"cohort {cohort!r}: DTW failed: {why}", allow_retries=False) from None
    df = pl.concat(parts) if parts else pl.DataFrame(schema=result_schema()).with_columns(pl.lit("").alias("task"))
    df = df.select("task", *result_schema())
    cfg = config_json(cfg_all)
    prov = {
        "stage": "cohort_dtw",
        "cohort": cohort,
        "members": sources,
        "member_fingerprints": fingerprints,
        "member_tasks": tasks,
        "dtw_config": fingerprint_cfg.fingerprint(),
        "samples": cfg_all.samples,
        "models": models,
        "configs": {"cohort_dtw": cfg},
        "versions": versions("tslearn"),
    }
    context.log.info(f"cohort {cohort}: {len(tasks)} members in {len(by_task)} task group(s), {computed} pair(s) "
                     "computed, others reused")  # fmt: skip
    from neuropose_assets.core.plots import dtw_heatmap, md_image

    heatmaps = "\n\n".join(md_image(dtw_heatmap(df.filter(pl.col("task") == t), f"cohort {cohort}: {t}"), t)
                             for t in sorted(by_task))  # fmt: skip
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "heatmaps": dg.MetadataValue.md(heatmaps.strip() or "fewer than two comparable videos per task"),
            **_dtw_metadata(df, cfg),
            "tasks": dg.MetadataValue.json({t: len(s) for t, s in by_task.items()}),
            "missing_members": ", ".join(f"{k} ({why})" for k, why in skipped.items()) or "none",
            "pairs_computed": computed,
            "compute_s": since(t0),
        },
    )
