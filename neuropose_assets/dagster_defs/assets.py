"""The per-video chain (raw_video → poses → features → segmentation → repetition_dtw) and the cohort DTW matrix.

Each asset is a thin wrapper: read inputs, call a pure core function, attach provenance and UI metadata.  Bad input
becomes a :class:`dagster.Failure` carrying the clinician-facing message, failing only its own partition.
"""


import json
import platform
import time
import warnings
from pathlib import Path
from functools import cache
from importlib import metadata as importlib_metadata
from typing import Any, Literal

import dagster as dg
import polars as pl

from neuropose_assets.core.tables import ProvenancedTable
from neuropose_assets.core.errors import VideoError
from neuropose_assets.dagster_defs.partitions import cohorts, videos
from neuropose_assets.dagster_defs.resources import PoseModelResource, StorageResource

PER_VIDEO = "per_video"

# Output(data_version=...) is "beta" in Dagster 1.13; the content hash as data version is the documented pattern.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*data_version.*")


@cache
def _versions(*packages: str) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in ("neuropose-assets", "numpy", "polars", "scipy", *packages):
        try:
            out[p] = importlib_metadata.version(p)
        except importlib_metadata.PackageNotFoundError:  # pragma: no cover
            out[p] = "unknown"
    return out


def _provenance(stage: str, upstream: dict[str, Any], config: dict[str, Any] | None, *pkgs: str) -> dict[str, Any]:
    prov = json.loads(json.dumps(upstream))  # deep copy
    prov["stage"] = stage
    prov.setdefault("configs", {})[stage] = config
    prov["versions"] = {**prov.get("versions", {}), **_versions(*pkgs)}
    return prov


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def _fail(err: Exception, partition: str) -> dg.Failure:
    return dg.Failure(
        description=f"[{partition}] {err}", metadata={"partition": partition, "error": type(err).__name__},
        allow_retries=False,
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------------------------- raw


# Transient failures (network storage hiccups, GPU out of memory) are retried; bad input raises
# Failure(allow_retries=False) and fails once, with its message.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"video", "parquet"},
    retry_policy=TRANSIENT_RETRY,
    code_version="1",
    description="Registers the delivered video: SHA-256 (the data version), probe, immutable content-addressed copy.",
)
def raw_video(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[ProvenancedTable]:
    from neuropose_assets.core.rawvideo import claim_content, store_video

    key = context.partition_key
    t0 = time.perf_counter()
    try:
        entry = storage.registry.get(key)
        stored = store_video(entry.source, storage.layout)
    except (VideoError, KeyError) as err:
        raise _fail(err, key) from None
    duplicates = claim_content(storage.layout, stored.sha256, key)
    if duplicates:
        context.log.warning(f"{key}: the same recording (SHA-256 {stored.sha256[:12]}…) is also partition(s) {duplicates}")
    p = stored.probe
    df = pl.DataFrame(
        {
            "partition": [key],
            "cohort": [entry.cohort],
            "sha256": [stored.sha256],
            "size_bytes": [stored.size_bytes],
            # a pseudonymised delivery keeps its (possibly identifying) file name out of every output
            "source_name": [f"{key}{Path(entry.source).suffix}" if entry.pseudonymous else Path(entry.source).name],
            "stored_path": [str(stored.stored_path)],
            "fps": [p.fps],
            "frame_count": [p.frame_count],
            "duration_s": [p.duration_s],
            "width_px": pl.Series([p.width_px], dtype=pl.Int32),
            "height_px": pl.Series([p.height_px], dtype=pl.Int32),
            "rotation_deg": pl.Series([p.rotation_deg], dtype=pl.Int32),
            "codec": [p.codec],
        },
        schema_overrides={"size_bytes": pl.Int64, "frame_count": pl.Int64},
    )
    prov = _provenance("raw_video", {"source": {"partition": key, "cohort": entry.cohort, "sha256": stored.sha256}}, None)
    return dg.Output(
        ProvenancedTable(df, prov),
        data_version=dg.DataVersion(stored.sha256),
        metadata={
            "sha256": stored.sha256,
            "cohort": entry.cohort,
            "same_content_as": ", ".join(duplicates) or "none",
            **p.as_dict(),
            "compute_s": _since(t0),
        },
    )


# -------------------------------------------------------------------------------------------------------------- poses


class PosesConfig(dg.Config):
    """Subject selection among tracked persons (see ``core.pose.tracking``)."""

    subject_policy: Literal["longest_track", "largest_box", "most_central"] = "longest_track"
    iou_threshold: float = 0.3
    max_gap_frames: int = 15


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    pool="pose_model",
    retry_policy=TRANSIENT_RETRY,
    code_version="1",
    description="Per-frame 3D (mm) and 2D (px) native joints of every tracked person, with confidence; the subject "
    "is chosen by an explicit policy. Frames with nobody detected stay as gap rows.",
)
def poses(
    context: dg.AssetExecutionContext, config: PosesConfig, pose_model: PoseModelResource, raw_video: ProvenancedTable
) -> dg.Output[ProvenancedTable]:
    from neuropose_assets.core.pose.estimate import estimate_video
    from neuropose_assets.core.pose.tracking import TrackingConfig

    from neuropose_assets.core.pose.metrabs_model import ModelAcquisitionError

    key = context.partition_key
    try:
        backend, load_s = pose_model.get_backend()
    except (ModelAcquisitionError, ValueError, RuntimeError) as err:  # ModelLoadError is a RuntimeError
        raise dg.Failure(description=f"pose model {pose_model.backend!r} unavailable: {err}") from err
    row = raw_video.df.row(0, named=True)
    try:
        run = estimate_video(
            backend,
            row["stored_path"],
            subject_policy=config.subject_policy,
            tracking=TrackingConfig(config.iou_threshold, config.max_gap_frames),
        )
    except VideoError as err:
        raise _fail(err, key) from None
    prov = _provenance("poses", raw_video.provenance, config.model_dump())
    prov["model"] = backend.info.as_dict()
    s = run.summary()
    context.log.info(
        f"{key}: {s['n_frames']} frames, person in {s['frames_with_person']}, subject in {s['frames_with_subject']} "
        f"({100 * s['subject_coverage']:.1f} %), {s['n_tracks']} track(s); model load {load_s:.2f} s, "
        f"inference {run.timings['inference_s']:.2f} s"
    )
    return dg.Output(
        ProvenancedTable(run.table, prov),
        metadata={
            **{k: v for k, v in s.items() if v is not None},
            "model": f"{backend.info.name}/{backend.info.variant}",
            "model_checksum": backend.info.checksum,
            "model_load_s": round(load_s, 3),
            **{k: round(v, 3) for k, v in run.timings.items()},
            "frames_per_s": round(run.n_frames / max(run.timings["decode_and_inference_s"], 1e-9), 2),
        },
    )


# ----------------------------------------------------------------------------------------------------------- features


class FeaturesAssetConfig(dg.Config):
    """Feature derivation (``core.kinematics.FeaturesConfig``): person ``track`` (None = subject), gap filling up to
    ``max_gap_s`` (s), Butterworth ``lowpass_hz`` (Hz, None = off), coordinate ``frame`` (camera | body) and
    ``scale_segment`` (thigh | shank | trunk | None) for dimensionless ``*_norm`` columns."""

    track: int | None = None
    max_gap_s: float = 0.25
    lowpass_hz: float | None = 6.0
    frame: str = "camera"
    scale_segment: str | None = None


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    code_version="2",
    description="One person on the clinical joint set: gap-filled, low-pass filtered, root-centred 3D (mm), 2D (px), "
    "speeds (mm/s), joint angles (deg), time (s).",
)
def features(
    context: dg.AssetExecutionContext, config: FeaturesAssetConfig, poses: ProvenancedTable
) -> dg.Output[ProvenancedTable]:
    from pydantic import ValidationError

    from neuropose_assets.core.kinematics import ANGLE_COLUMNS, FeaturesConfig, compute_features
    from neuropose_assets.core.skeletons import get_skeleton

    t0 = time.perf_counter()
    skeleton = get_skeleton(poses.provenance["model"]["skeleton"])
    try:
        core_cfg = FeaturesConfig(**config.model_dump())
        df, diag = compute_features(poses.df, skeleton, core_cfg)
    except (ValidationError, KeyError) as err:
        raise dg.Failure(description=f"features config is invalid: {err}", allow_retries=False) from None
    prov = _provenance("features", poses.provenance, {**core_cfg.model_dump(), "skeleton": skeleton.name,
                                                      "root": "pelvis"})  # fmt: skip
    ranges = {
        f"{c}_range": f"{df[c].min():.1f}–{df[c].max():.1f}" for c in ANGLE_COLUMNS if df[c].null_count() < df.height
    }
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={**{k: v for k, v in diag.items() if v is not None}, **ranges, "compute_s": _since(t0)},
    )


# ------------------------------------------------------------------------------------------------------- segmentation


class SegmentationAssetConfig(dg.Config):
    """Repetition segmentation (``core.segmentation``): the signal, then find_peaks constraints in s / signal units.

    ``preset`` (gait_left | gait_right | sit_to_stand | arm_raise_left | arm_raise_right) replaces every other field.
    ``signal_kind``: ``column`` (uses ``column``), ``joint_axis`` (``joint`` + ``axis`` x/y/z mm or u/v px),
    ``joint_distance`` (``joint`` + ``other_joint``, mm), ``joint_speed`` (``joint``, mm/s) or ``joint_body_axis``
    (``joint`` − ``other_joint`` (default pelvis) along the body ``axis`` anterior/superior/right, mm).
    ``method``: valley_to_valley_v1 | peak_to_peak.  ``normalize`` makes prominence/height fractions of the range.
    """

    preset: str | None = None
    signal_kind: str = "column"
    column: str | None = "right_knee_flexion_deg"
    joint: str | None = None
    other_joint: str | None = None
    axis: str | None = None  # x, y, z (mm, root-centred) or u, v (px)
    invert: bool = False
    min_distance_s: float | None = 0.4
    min_prominence: float | None = 15.0
    min_height: float | None = None
    pad_s: float = 0.0
    lowpass_hz: float | None = 6.0
    normalize: bool = False
    method: str = "valley_to_valley_v1"

    def to_core(self):  # -> core.segmentation.SegmentationConfig
        from neuropose_assets.core.segmentation import SegmentationConfig, SignalSpec

        if self.preset:
            return SegmentationConfig.preset(self.preset)
        signal = SignalSpec(
            kind=self.signal_kind,
            column=self.column if self.signal_kind == "column" else None,
            joint=self.joint,
            other_joint=self.other_joint,
            axis=self.axis,
            invert=self.invert,
        )
        return SegmentationConfig(
            signal=signal,
            min_distance_s=self.min_distance_s,
            min_prominence=self.min_prominence,
            min_height=self.min_height,
            pad_s=self.pad_s,
            lowpass_hz=self.lowpass_hz,
            normalize=self.normalize,
            method=self.method,
        )


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"scipy", "parquet"},
    code_version="2",
    description="Repetition windows [start, peak, end) in frames and s around peaks of a configurable 1-D signal "
    "(scipy.signal.find_peaks; valley-to-valley or peak-to-peak, presets for gait, sit-to-stand, arm raise); the "
    "config is stored with the result.",
)
def segmentation(
    context: dg.AssetExecutionContext, config: SegmentationAssetConfig, features: ProvenancedTable
) -> dg.Output[ProvenancedTable]:
    from neuropose_assets.core.segmentation import segment_features

    t0 = time.perf_counter()
    try:
        core_cfg = config.to_core()
        df = segment_features(features.df, core_cfg)
    except (ValueError, KeyError) as err:
        raise dg.Failure(description=f"segmentation config is invalid: {err}", allow_retries=False) from None
    cfg = core_cfg.model_dump(mode="json")
    prov = _provenance("segmentation", features.provenance, cfg)
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={
            "repetitions": df.height,
            "config": dg.MetadataValue.json(cfg),
            "peak_value_unit": "fraction of the signal range" if core_cfg.normalize else core_cfg.signal.unit,
            "mean_duration_s": round(float(df["duration_s"].mean()), 3) if df.height else 0.0,
            "compute_s": _since(t0),
        },
    )


# ---------------------------------------------------------------------------------------------------------------- DTW


class DTWAssetConfig(dg.Config):
    """Exact DTW (``core.dtw.DTWConfig``).  ``representation``: angles | coords | relation; ``columns`` (angles, default
    all angle columns), ``joints`` (coords, default all clinical joints), ``pair`` (relation, two joints);
    ``per_joint``; ``align``: none | procrustes_per_sequence | procrustes_per_frame (coords); ``convention``: tslearn
    (sqrt of summed squared frame distances) | sum_euclidean (sum of Euclidean frame distances, the NeuroPose
    convention); ``sakoe_chiba_radius`` in frames (None = unconstrained); ``nan_policy``: interpolate | drop |
    propagate."""

    representation: str = "angles"
    columns: list[str] | None = None
    joints: list[str] | None = None
    pair: list[str] | None = None
    per_joint: bool = False
    align: str = "none"
    convention: str = "tslearn"
    sakoe_chiba_radius: int | None = None
    nan_policy: str = "interpolate"

    def to_core(self):  # -> core.dtw.DTWConfig
        from neuropose_assets.core.dtw import DTWConfig

        kw = {k: v for k, v in self.model_dump().items() if v is not None and k in DTWConfig.model_fields}
        for k in ("columns", "joints", "pair"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return DTWConfig(**kw)


def _dtw_metadata(df: pl.DataFrame, cfg: dict[str, Any]) -> dict[str, Any]:
    off = df.filter(pl.col("a") != pl.col("b"))
    conv = cfg.get("convention", "tslearn")
    return {
        "sequences": df["a"].n_unique(),
        "pairs": off.select("a", "b").unique().height // 2,
        "mean_distance": round(float(off["distance"].mean()), 3) if off.height else 0.0,
        "config": dg.MetadataValue.json(cfg),
        "cost_convention": "sqrt of summed squared frame distances along the path (tslearn)" if conv == "tslearn"
        else "sum of Euclidean frame distances along the path (NeuroPose convention)",
    }


def _dtw_config_or_fail(config: "DTWAssetConfig"):
    from pydantic import ValidationError

    try:
        return config.to_core()
    except ValidationError as err:
        raise dg.Failure(description=f"DTW config is invalid: {err}", allow_retries=False) from None


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"tslearn", "parquet"},
    code_version="2",
    description="Exact DTW between every pair of repetitions of one video (long table a, b, distance).",
)
def repetition_dtw(
    context: dg.AssetExecutionContext,
    config: DTWAssetConfig,
    features: ProvenancedTable,
    segmentation: ProvenancedTable,
) -> dg.Output[ProvenancedTable]:
    from neuropose_assets.core.dtw import config_json, enable_numba_cache, pairwise, repetition_sequences
    from neuropose_assets.core.storage import default_cache_dir

    t0 = time.perf_counter()
    core_cfg = _dtw_config_or_fail(config)
    seqs = repetition_sequences(features.df, segmentation.df, core_cfg)
    if len(seqs) > 1:
        enable_numba_cache(default_cache_dir() / "numba")
    try:
        df, _ = pairwise(seqs, core_cfg)
    except (ValueError, KeyError) as err:
        raise dg.Failure(description=f"[{context.partition_key}] repetition DTW failed: {err}") from None
    cfg = config_json(core_cfg)
    prov = _provenance("repetition_dtw", segmentation.provenance, cfg, "tslearn")
    return dg.Output(ProvenancedTable(df, prov), metadata={**_dtw_metadata(df, cfg), "compute_s": _since(t0)})


class CohortDTWConfig(DTWAssetConfig):
    """As :class:`DTWAssetConfig`; ``allow_mixed_models`` permits comparing outputs of different pose models."""

    allow_mixed_models: bool = False


@dg.asset(
    partitions_def=cohorts,
    deps=[dg.AssetDep("features", partition_mapping=dg.AllPartitionMapping())],
    group_name="cohort",
    kinds={"tslearn", "parquet"},
    pool="dtw",
    code_version="2",
    description="Exact DTW between the whole-trial feature sequences of every video in the cohort. Members whose "
    "features are missing (failed or not yet processed) are skipped and listed in the metadata.",
)
def cohort_dtw(
    context: dg.AssetExecutionContext, config: CohortDTWConfig, storage: StorageResource
) -> dg.Output[ProvenancedTable]:
    from neuropose_assets.core.atomic import sha256_file
    from neuropose_assets.core.dtw import (
        config_json,
        enable_numba_cache,
        extract_units,
        has_data,
        pairwise,
        reusable_pairs,
    )
    from neuropose_assets.core.storage import default_cache_dir
    from neuropose_assets.core.tables import read_provenance

    t0 = time.perf_counter()
    cohort = context.partition_key
    core_cfg = _dtw_config_or_fail(config)
    layout = storage.layout
    seqs, missing, models, sources, fingerprints = {}, [], {}, {}, {}
    for entry in storage.registry.members(cohort):
        path = layout.asset_file("features", entry.partition)
        if not path.exists():
            missing.append(entry.partition)
            continue
        prov = read_provenance(path)
        units = extract_units(pl.read_parquet(path), core_cfg)
        if not has_data(units):
            missing.append(entry.partition)
            continue
        seqs[entry.partition] = units
        fingerprints[entry.partition] = sha256_file(path)  # features bytes are deterministic: any change shows
        m = prov.get("model", {})
        models[entry.partition] = f"{m.get('name')}/{m.get('variant')}/{m.get('checksum', '')[:12]}"
        sources[entry.partition] = prov.get("source", {}).get("sha256")
    if len(set(models.values())) > 1 and not config.allow_mixed_models:
        raise dg.Failure(
            description=f"cohort {cohort!r} mixes pose models {sorted(set(models.values()))}; DTW distances between "
            "different models are not comparable. Re-run the odd videos with one model, or set allow_mixed_models.",
            allow_retries=False,
        )
    if missing:
        context.log.warning(f"cohort {cohort}: no usable features for {missing}; they are left out of the matrix")
    previous_path = layout.asset_file("cohort_dtw", cohort)
    previous = pl.read_parquet(previous_path) if previous_path.exists() else None
    previous_meta = read_provenance(previous_path) if previous_path.exists() else {}
    reuse = reusable_pairs(previous, previous_meta, fingerprints, core_cfg)
    if len(seqs) > 1:
        enable_numba_cache(default_cache_dir() / "numba")
    try:
        df, computed = pairwise(seqs, core_cfg, reuse=reuse)
    except (ValueError, KeyError) as err:
        raise dg.Failure(description=f"cohort {cohort!r}: DTW failed: {err}") from None
    df = df.filter(pl.col("a").is_in(list(seqs)) & pl.col("b").is_in(list(seqs)))
    cfg = config_json(core_cfg)
    prov = {
        "stage": "cohort_dtw",
        "cohort": cohort,
        "members": sources,
        "member_fingerprints": fingerprints,
        "dtw_config": core_cfg.fingerprint(),
        "models": models,
        "configs": {"cohort_dtw": cfg},
        "versions": _versions("tslearn"),
    }
    context.log.info(f"cohort {cohort}: {len(seqs)} members, {computed} pair(s) computed, others reused")
    return dg.Output(
        ProvenancedTable(df, prov), metadata={
            **_dtw_metadata(df, cfg),
            "missing_members": ", ".join(missing) or "none",
            "pairs_computed": computed,
            "compute_s": _since(t0),
        },
    )
