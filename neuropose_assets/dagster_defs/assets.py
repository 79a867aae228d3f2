"""The video stages of the per-video chain: raw_video → poses → (kinematics, :mod:`.kinematics`) → features.

Each asset is a thin wrapper: read inputs, call a pure core function, attach provenance and UI metadata.  Bad input
becomes a :class:`dagster.Failure` carrying the clinician-facing message, failing only its own partition.
"""

import errno
import time
from pathlib import Path

import dagster as dg
import polars as pl

from neuropose_assets.core.errors import VideoError
from neuropose_assets.core.kinematics import FeaturesConfig
from neuropose_assets.core.pose.tracking import TrackingConfig
from neuropose_assets.core.storage import MARKER_EXTENSIONS
from neuropose_assets.core.tables import ProvenancedTable
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import PER_VIDEO, TRANSIENT_RETRY, fail, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.distributed import POSES_OP_TAGS, worker_name
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import PoseModelResource, StorageResource

PosesConfig = dagster_config(TrackingConfig)
#: ``raw_video.codec`` of marker files (:mod:`..core.mocap`)
MARKER_FORMATS = tuple(e.lstrip(".") for e in MARKER_EXTENSIONS)
#: file-system errors that a retry cannot fix
PERMANENT_ERRNOS = {errno.ENAMETOOLONG, errno.EACCES, errno.EPERM, errno.ENOENT, errno.ELOOP, errno.EISDIR,
                    errno.ENOTDIR, errno.EINVAL, errno.EROFS}  # fmt: skip
FeaturesAssetConfig = dagster_config(FeaturesConfig)


# ---------------------------------------------------------------------------------------------------------------- raw


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"video", "parquet"},
    retry_policy=TRANSIENT_RETRY,
    code_version="1",
    description="Registers the delivered video: SHA-256 (the data version), probe, immutable content-addressed copy.",
    check_specs=check_specs("raw_video", partitions_def=videos),
)
@checked("raw_video")
def raw_video(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[ProvenancedTable]:
    """Materialize ``raw_video``: :func:`..core.rawvideo.store_video` of the partition's registered file."""
    from neuropose_assets.core.rawvideo import claim_content, store_video

    key = context.partition_key
    t0 = time.perf_counter()
    try:
        entry = storage.registry.get(key)
        display = key if entry.pseudonymous else Path(entry.source).name
        stored = store_video(entry.source, storage.layout, display=display)
    except (VideoError, KeyError, ValueError) as err:
        raise fail(err, key) from None
    except OSError as err:  # the copy failed: say why (never the path, it may be identifying)
        cause = f"{err.strerror or type(err).__name__} ({errno.errorcode.get(err.errno, err.errno)})"
        raise dg.Failure(
            description=f"[{key}] the video could not be copied into the store: {cause}. "
            + ("Rename the file (shorter, plain name) and deliver it again." if err.errno == errno.ENAMETOOLONG else
               "Check the disk space and the permissions of the data root and the intake folder."),
            allow_retries=err.errno not in PERMANENT_ERRNOS,
        ) from None
    previous = storage.layout.asset_file("raw_video", key)  # the content this partition held before, if any
    previous_sha = pl.read_parquet(previous, columns=["sha256"])["sha256"][0] if previous.exists() else None
    duplicates = claim_content(storage.layout, stored.sha256, key, previous_sha)
    if duplicates:
        context.log.warning(f"{key}: the same recording (SHA-256 {stored.sha256[:12]}…) "
                            f"is also partition(s) {duplicates}")
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
    prov = provenance("raw_video",
                      {"source": {"partition": key, "cohort": entry.cohort, "sha256": stored.sha256}}, None)
    return dg.Output(
        ProvenancedTable(df, prov),
        data_version=dg.DataVersion(stored.sha256),
        metadata={
            "sha256": stored.sha256,
            "cohort": entry.cohort,
            "same_content_as": ", ".join(duplicates) or "none",
            **{k: v for k, v in p.as_dict().items() if v is not None},
            "compute_s": since(t0),
        },
    )


# -------------------------------------------------------------------------------------------------------------- poses


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    pool="pose_model",
    op_tags=POSES_OP_TAGS,  # on a dask cluster: one pose estimation per worker (distributed.py)
    retry_policy=TRANSIENT_RETRY,
    code_version="1",
    description="Per-frame 3D (mm) and 2D (px) native joints of every tracked person, with confidence; the subject "
    "is chosen by an explicit policy. Frames with nobody detected stay as gap rows. Marker-based capture (TRC / C3D) "
    "is read instead of estimated: clinical joints from its marker set, its lab frame verified and rotated into the "
    "camera frame.",
    check_specs=check_specs("poses", partitions_def=videos),
)
@checked("poses")
def poses(
    context: dg.AssetExecutionContext, config: PosesConfig, pose_model: PoseModelResource, storage: StorageResource,
    raw_video: ProvenancedTable,
) -> dg.Output[ProvenancedTable]:  # fmt: skip
    """Materialize ``poses``: :func:`..core.pose.estimate.estimate_video`, or :func:`marker_poses` for a marker file."""
    from neuropose_assets.core.pose.estimate import estimate_video
    from neuropose_assets.core.pose.metrabs_model import ModelAcquisitionError

    key = context.partition_key
    if raw_video.df["codec"][0] in MARKER_FORMATS:
        return marker_poses(context, storage, raw_video)
    try:
        backend, load_s = pose_model.get_backend()
    except ValueError as err:  # an unknown backend or invalid setting: a retry cannot fix it
        raise dg.Failure(description=f"pose model {pose_model.backend!r}: {err}", allow_retries=False) from err
    except (ModelAcquisitionError, RuntimeError) as err:  # download / load problems may be transient
        raise dg.Failure(description=f"pose model {pose_model.backend!r} unavailable: {err}") from err
    tracking = config_or_fail(config, "poses")
    row = raw_video.df.row(0, named=True)
    try:
        run = estimate_video(backend, row["stored_path"], tracking=tracking, display=key)
    except VideoError as err:
        raise fail(err, key) from None
    prov = provenance("poses", raw_video.provenance, tracking.model_dump(mode="json"))
    prov["model"] = backend.info.as_dict()
    prov["decoding"] = {"frames_announced": run.frames_announced, "frames_decoded": run.n_frames,
                        "frames_missing": run.frames_missing}  # fmt: skip
    s = run.summary()
    context.log.info(
        f"{key}: {s['n_frames']} frames, person in {s['frames_with_person']}, subject in {s['frames_with_subject']} "
        f"({100 * s['subject_coverage']:.1f} %), {s['n_tracks']} track(s); model load {load_s:.2f} s, "
        f"inference {run.timings['inference_s']:.2f} s"
    )
    slots = _pose_slots(context)
    prov["pose_slots"] = slots
    worker = worker_name()
    return dg.Output(
        ProvenancedTable(run.table, prov),
        metadata={
            **{k: v for k, v in s.items() if v is not None},
            "pose_slots": slots if slots is not None else "unlimited",
            **({"worker": worker} if worker else {}),
            "model": f"{backend.info.name}/{backend.info.variant}",
            "model_checksum": backend.info.checksum,
            "model_load_s": round(load_s, 3),
            **{k: round(v, 3) for k, v in run.timings.items()},
            "frames_per_s": round(run.n_frames / max(run.timings["decode_and_inference_s"], 1e-9), 2),
        },
    )


def _pose_slots(context: dg.AssetExecutionContext) -> int | None:
    """The ``pose_model`` pool's limit in this instance (how many estimations may run at once), for the record."""
    from neuropose_assets.core.concurrency import POSE_POOL

    storage = context.instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    return storage.get_concurrency_info(POSE_POOL).slot_count


def import_marker_file(key: str, storage: StorageResource, raw_video: ProvenancedTable):
    """The stored marker file of partition ``key`` imported (:func:`..core.mocap.import_markers`) with the
    ``markers.yaml`` and ground reaction ``.mot`` that lie next to the delivered file; returns ``(import,
    mapping_file, grf_file)``.

    Raises:
        dagster.Failure: the file, its mapping or its frame is not usable (the clinician-facing message).
    """
    from neuropose_assets.core.markersets import load_mapping
    from neuropose_assets.core.mocap import find_sidecars, import_markers

    try:
        entry = storage.registry.get(key)
        mapping_file, grf = find_sidecars(Path(entry.source))
        mapping = load_mapping(mapping_file) if mapping_file is not None else None
        return import_markers(raw_video.df["stored_path"][0], key, mapping=mapping, grf=grf), mapping_file, grf
    except (VideoError, KeyError) as err:
        raise fail(err, key) from None


def marker_poses(context: dg.AssetExecutionContext, storage: StorageResource,
                 raw_video: ProvenancedTable) -> dg.Output[ProvenancedTable]:  # fmt: skip
    """``poses`` of a marker file (:func:`import_marker_file`); no pose model is loaded."""
    from neuropose_assets.core.atomic import sha256_file

    key = context.partition_key
    t0 = time.perf_counter()
    row = raw_video.df.row(0, named=True)
    imp, mapping_file, grf = import_marker_file(key, storage, raw_video)
    info = imp.model_info(row["sha256"])
    info.settings.update({"mapping_file_sha256": sha256_file(mapping_file) if mapping_file else None,
                          "grf_file_sha256": sha256_file(grf) if grf else None})  # fmt: skip
    prov = provenance("poses", raw_video.provenance, {"source": "marker_capture"})
    prov["model"] = info.as_dict()
    t = imp.transform
    context.log.info(f"{key}: {imp.markers.n_frames} marker frames at {imp.markers.rate_hz:g} Hz, marker set "
                     f"{imp.mapping}, vertical {t.up}, walking direction from {t.heading.how}; "
                     f"{len(imp.events)} reference event(s)")  # fmt: skip
    return dg.Output(
        ProvenancedTable(imp.table, prov),
        metadata={
            "n_frames": imp.markers.n_frames,
            "rate_hz": imp.markers.rate_hz,
            "model": f"{info.name}/{info.variant}",
            "marker_set": imp.mapping,
            "mapping_file": "markers.yaml" if mapping_file else "none (built-in marker sets)",
            "lab_vertical": t.up,
            "walking_direction": t.heading.how,
            "mirrored_fraction": round(t.mirrored_fraction, 4),
            "joints": dg.MetadataValue.json(imp.joints),
            "reference_events": len(imp.events),
            "compute_s": since(t0),
        },
    )


# ----------------------------------------------------------------------------------------------------------- features


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    code_version="5",
    description="One person on the clinical joint set: gap-filled, low-pass filtered, root-centred 3D (mm), 2D (px), "
    "joint confidences (0–1, observed frames only), speeds (mm/s), time (s); "
    "joint angles (deg) of the fitted model (kinematics: OpenSim coordinates).",
    check_specs=check_specs("features", partitions_def=videos),
)
@checked("features")
def features(
    context: dg.AssetExecutionContext, config: FeaturesAssetConfig, poses: ProvenancedTable,
    kinematics: ProvenancedTable,
    storage: StorageResource,  # noqa: ARG001 - the checks read the written file through it
) -> dg.Output[ProvenancedTable]:
    """Materialize ``features``: :func:`..core.kinematics.compute_features` on ``poses`` and ``kinematics``."""
    from neuropose_assets.core.kinematics import ANGLE_COLUMNS, compute_features
    from neuropose_assets.core.skeletons import get_skeleton

    t0 = time.perf_counter()
    skeleton = get_skeleton(poses.provenance["model"]["skeleton"])
    core_cfg = config_or_fail(config, "features")
    fitted = (kinematics.provenance.get("configs", {}).get("kinematics") or {}).get("track")
    if fitted != core_cfg.track:
        context.log.warning(f"features of track {core_cfg.track}, "
                            f"but the model was fitted to track {fitted}: the angle "
                            "columns stay null (set the kinematics config's track to the same person)")  # fmt: skip
    try:
        df, diag = compute_features(poses.df, skeleton, core_cfg, kinematics.df if fitted == core_cfg.track else None)
    except KeyError as err:  # a track that does not occur: the config names a person who is not there
        raise fail(f"features: {err.args[0]}", context.partition_key) from None
    from neuropose_assets.core.signal import filter_description

    lowpass = filter_description(core_cfg.lowpass_hz, core_cfg.lowpass_order) if core_cfg.lowpass_hz else None
    prov = provenance("features", kinematics.provenance,
                      {**core_cfg.model_dump(), "skeleton": skeleton.name, "root": "pelvis", "lowpass_filter": lowpass,
                       "angles": "the kinematics stage's fitted model"})  # fmt: skip
    ranges = {
        f"{c}_range": f"{df[c].min():.1f}–{df[c].max():.1f}" for c in ANGLE_COLUMNS if df[c].null_count() < df.height
    }
    return dg.Output(
        ProvenancedTable(df, prov),
        metadata={**{k: v for k, v in diag.items() if v is not None}, **ranges, "compute_s": since(t0)},
    )


