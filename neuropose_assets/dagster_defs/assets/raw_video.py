"""``raw_video``: the analysed file of a video partition — its SHA-256 (the data version), its probe and its
content-addressed copy (:func:`neuropose_assets.core.io.rawvideo.store_video`).

Each asset module of the Dagster layer is a thin wrapper: read inputs, call a pure core function, attach provenance and
UI metadata.  Bad input becomes a :class:`dagster.Failure` carrying the clinician-facing message, failing only its own
partition.
"""

import errno
import time
from pathlib import Path

import dagster as dg
import polars as pl

from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.io.tables import ProvenancedTable
from neuropose_assets.dagster_defs.common import fail, provenance, since
from neuropose_assets.dagster_defs.resources import StorageResource
from neuropose_assets.dagster_defs.steps import part

#: file-system errors that a retry cannot fix
PERMANENT_ERRNOS = {
    errno.ENAMETOOLONG,
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.ELOOP,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EINVAL,
    errno.EROFS,
}


@part(
    kinds={"video", "parquet"},
    code_version="1",
    description="Registers the delivered video: SHA-256 (the data version), probe, immutable content-addressed copy.",
)
def raw_video(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[ProvenancedTable]:
    """Materialize ``raw_video``: :func:`~neuropose_assets.core.io.rawvideo.store_video` of the partition's registered
    file."""
    from neuropose_assets.core.io.rawvideo import claim_content, store_video

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
            + (
                "Rename the file (shorter, plain name) and deliver it again."
                if err.errno == errno.ENAMETOOLONG
                else "Check the disk space and the permissions of the data root and the intake folder."
            ),
            allow_retries=err.errno not in PERMANENT_ERRNOS,
        ) from None
    previous = storage.layout.asset_file("raw_video", key)  # the content this partition held before, if any
    previous_sha = pl.read_parquet(previous, columns=["sha256"])["sha256"][0] if previous.exists() else None
    duplicates = claim_content(storage.layout, stored.sha256, key, previous_sha)
    if duplicates:
        context.log.warning(
            f"{key}: the same recording (SHA-256 {stored.sha256[:12]}…) is also partition(s) {duplicates}"
        )
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
    prov = provenance(
        "raw_video", {"source": {"partition": key, "cohort": entry.cohort, "sha256": stored.sha256}}, None
    )
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
