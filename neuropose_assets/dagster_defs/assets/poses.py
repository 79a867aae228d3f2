"""``poses``: the pose model's 2D and 3D joints per frame and tracked person, and the subject
(:func:`neuropose_assets.core.pose.estimate.estimate_video`); for a marker file, its markers as clinical joints
(:func:`marker_poses`).
"""

import time
from pathlib import Path

import dagster as dg

from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.core.pose.tracking import TrackingConfig
from neuropose_assets.dagster_defs.checks import check_specs, checked
from neuropose_assets.dagster_defs.common import MARKER_FORMATS, PER_VIDEO, TRANSIENT_RETRY, fail, provenance, since
from neuropose_assets.dagster_defs.config import config_or_fail, dagster_config
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import PoseModelResource, StorageResource
from neuropose_assets.run_launcher import worker_name

PosesConfig = dagster_config(TrackingConfig)


@dg.asset(
    partitions_def=videos,
    group_name=PER_VIDEO,
    kinds={"python", "parquet"},
    pool="pose_model",
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
    context: dg.AssetExecutionContext,
    config: PosesConfig,
    pose_model: PoseModelResource,
    storage: StorageResource,
    raw_video: ProvenancedTable,
) -> dg.Output[ProvenancedTable]:
    """Materialize ``poses``: :func:`~neuropose_assets.core.pose.estimate.estimate_video`, or :func:`marker_poses` for a
    marker file."""
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
    prov["decoding"] = {
        "frames_announced": run.frames_announced,
        "frames_decoded": run.n_frames,
        "frames_missing": run.frames_missing,
    }
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
    from neuropose_assets.core.io.concurrency import POSE_POOL

    storage = context.instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    return storage.get_concurrency_info(POSE_POOL).slot_count


def import_marker_file(key: str, storage: StorageResource, raw_video: ProvenancedTable):
    """The stored marker file of partition ``key`` imported
    (:func:`~neuropose_assets.core.interop.mocap.import_markers`) with the ``markers.yaml`` and ground reaction ``.mot``
    that lie next to the delivered file; returns ``(import, mapping_file, grf_file)``.

    Raises:
        dagster.Failure: the file, its mapping or its frame is not usable (the clinician-facing message).
    """
    from neuropose_assets.core.interop.mocap import find_sidecars, import_markers
    from neuropose_assets.core.kinematics.markersets import load_mapping

    try:
        entry = storage.registry.get(key)
        mapping_file, grf = find_sidecars(Path(entry.source))
        mapping = load_mapping(mapping_file) if mapping_file is not None else None
        return import_markers(raw_video.df["stored_path"][0], key, mapping=mapping, grf=grf), mapping_file, grf
    except (VideoError, KeyError) as err:
        raise fail(err, key) from None


def marker_poses(
    context: dg.AssetExecutionContext, storage: StorageResource, raw_video: ProvenancedTable
) -> dg.Output[ProvenancedTable]:
    """``poses`` of a marker file (:func:`import_marker_file`); no pose model is loaded."""
    from neuropose_assets.core.io.atomic import sha256_file

    key = context.partition_key
    t0 = time.perf_counter()
    row = raw_video.df.row(0, named=True)
    imp, mapping_file, grf = import_marker_file(key, storage, raw_video)
    info = imp.model_info(row["sha256"])
    info.settings.update(
        {
            "mapping_file_sha256": sha256_file(mapping_file) if mapping_file else None,
            "grf_file_sha256": sha256_file(grf) if grf else None,
        }
    )
    prov = provenance("poses", raw_video.provenance, {"source": "marker_capture"})
    prov["model"] = info.as_dict()
    t = imp.transform
    context.log.info(
        f"{key}: {imp.markers.n_frames} marker frames at {imp.markers.rate_hz:g} Hz, marker set "
        f"{imp.mapping}, vertical {t.up}, walking direction from {t.heading.how}; "
        f"{len(imp.events)} reference event(s)"
    )
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
