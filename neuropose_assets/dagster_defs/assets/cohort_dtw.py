"""``cohort_dtw``: DTW between the mean repetitions of a cohort's videos that show the same task and come from
the same pose source (:func:`neuropose_assets.core.comparison.dtw.pairwise`).
"""

import time

import dagster as dg
import polars as pl

from neuropose_assets.core.comparison.dtw import CohortDTWConfig, DTWConfig
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.assets.repetition_dtw import dtw_metadata, pose_source_identity
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import COHORT, since, versions
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.partitions import cohorts
from neuropose_assets.dagster_defs.resources import StorageResource

CohortDTWAssetConfig = dagster_config(CohortDTWConfig)


@dg.asset(
    partitions_def=cohorts,
    deps=[dg.AssetDep(a, partition_mapping=dg.AllPartitionMapping()) for a in ("features", "repetitions", "task")],
    group_name=COHORT,
    kinds={"tslearn", "parquet"},
    pool="dtw",
    code_version="4",
    description="Exact DTW between the videos of a cohort that show the same task, on each video's time-normalised "
    "mean repetition (for gait: mean gait cycle per foot, 0–100 %). Members without repetitions, or whose outputs are "
    "missing, are skipped and listed in the metadata.",
    check_specs=check_specs("cohort_dtw", partitions_def=cohorts),
)
@checked("cohort_dtw")
def cohort_dtw(
    context: dg.AssetExecutionContext, config: CohortDTWAssetConfig, storage: StorageResource
) -> dg.Output[ProvenancedTable]:
    """Materialize ``cohort_dtw``: :func:`~neuropose_assets.core.comparison.dtw.pairwise` on the members' mean
    repetitions, per task."""
    from neuropose_assets.core.comparison.dtw import (
        config_json,
        enable_numba_cache,
        has_data,
        mean_repetition,
        pairwise,
        result_schema,
        reusable_pairs,
    )
    from neuropose_assets.core.io.atomic import sha256_file
    from neuropose_assets.core.io.storage import default_cache_dir
    from neuropose_assets.core.io.tables import read_provenance

    t0 = time.perf_counter()
    cohort = context.partition_key
    cfg_all = config_or_fail(config, "cohort DTW")
    core_cfg = cfg_all.dtw()
    layout = storage.layout
    by_task: dict[str, dict[str, dict]] = {}
    skipped, models, sources, fingerprints, tasks, visits = {}, {}, {}, {}, {}, {}
    for entry in storage.registry.members(cohort):
        key = entry.partition
        visit = entry.declaration.visit
        visits[key] = (visit.subject, visit.session) if visit else (None, None)
        paths = {a: layout.asset_file(a, key) for a in ("features", "repetitions", "task")}
        if not all(p.exists() for p in paths.values()):
            skipped[key] = "not processed (or failed)"
            continue
        prov = read_provenance(paths["features"])
        models[key] = pose_source_identity(prov.get("model", {}))
        task = pl.read_parquet(paths["task"])["task"][0]
        units = mean_repetition(
            pl.read_parquet(paths["features"]), pl.read_parquet(paths["repetitions"]), core_cfg, cfg_all.samples
        )
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
    reuse = reusable_pairs(
        previous.select(*result_schema()) if previous is not None else previous,
        previous_meta,
        fingerprints,
        fingerprint_cfg,
    )
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
    for side in ("a", "b"):  # who each sequence belongs to: subject and session (null: not declared)
        df = df.with_columns(
            pl.col(side)
            .replace_strict({k: v[0] for k, v in visits.items()}, default=None, return_dtype=pl.Utf8)
            .alias(f"subject_{side}"),
            pl.col(side)
            .replace_strict({k: v[1] for k, v in visits.items()}, default=None, return_dtype=pl.Utf8)
            .alias(f"session_{side}"),
        )
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
    context.log.info(
        f"cohort {cohort}: {len(tasks)} members in {len(by_task)} task group(s), {computed} pair(s) "
        "computed, others reused"
    )
    from neuropose_assets.core.review.plots import dtw_heatmap, md_image

    heatmaps = "\n\n".join(
        md_image(dtw_heatmap(df.filter(pl.col("task") == t), f"cohort {cohort}: {t}"), t) for t in sorted(by_task)
    )
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "heatmaps": dg.MetadataValue.md(heatmaps.strip() or "fewer than two comparable videos per task"),
            **dtw_metadata(df, cfg),
            "tasks": dg.MetadataValue.json({t: len(s) for t, s in by_task.items()}),
            "missing_members": ", ".join(f"{k} ({why})" for k, why in skipped.items()) or "none",
            "pairs_computed": computed,
            "compute_s": since(t0),
        },
    )
