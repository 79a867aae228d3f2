"""Helpers shared by the asset modules: provenance, failures that reach the clinician, timing."""

import json
import platform
import time
import warnings
from functools import cache
from importlib import metadata as importlib_metadata
from typing import Any

import dagster as dg

from neuropose_assets.core.io.storage import MARKER_EXTENSIONS

#: asset groups, one per job
PER_VIDEO = "per_video"
REVIEW = "review"
COHORT = "cohort"

# Output(data_version=...) is "beta" in Dagster 1.13; the content hash as data version is the documented pattern.
warnings.filterwarnings("ignore", category=dg.BetaWarning, message=".*data_version.*")

# Transient failures (network storage hiccups, GPU out of memory) are retried; bad input raises
# Failure(allow_retries=False) and fails once, with its message.
TRANSIENT_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


@cache
def versions(*packages: str) -> dict[str, str]:
    """Versions of Python, neuropose-assets, numpy, polars, scipy and ``packages`` (``"unknown"`` when not
    installed), for provenance; cached per process."""
    out = {"python": platform.python_version()}
    for p in ("neuropose-assets", "numpy", "polars", "scipy", *packages):
        try:
            out[p] = importlib_metadata.version(p)
        except importlib_metadata.PackageNotFoundError:  # pragma: no cover
            out[p] = "unknown"
    return out


def provenance(
    stage: str, upstream: dict[str, Any], config: dict[str, Any] | None, *pkgs: str, **extra: Any
) -> dict[str, Any]:
    """A copy of ``upstream``'s provenance with this stage's config, library versions and ``extra`` keys added."""
    prov = json.loads(json.dumps(upstream))  # deep copy
    prov["stage"] = stage
    prov.setdefault("configs", {})[stage] = config
    prov["versions"] = {**prov.get("versions", {}), **versions(*pkgs)}
    prov.update(json.loads(json.dumps(extra)))
    return prov


def since(t0: float) -> float:
    """Seconds since ``t0`` (a :func:`time.perf_counter` value), rounded to ms."""
    return round(time.perf_counter() - t0, 3)


def fail(err: Exception | str, partition: str) -> dg.Failure:
    """A non-retried failure whose description is the clinician-facing message, prefixed with the partition."""
    return dg.Failure(
        description=f"[{partition}] {err}",
        metadata={"partition": partition, "error": type(err).__name__ if isinstance(err, Exception) else "input"},
        allow_retries=False,
    )


def mean_or_null(values) -> dg.MetadataValue:
    """Metadata for a mean that may be undefined: a float, or null (never 0) when there is nothing to average."""
    values = [v for v in values if v is not None]
    return dg.MetadataValue.float(round(sum(values) / len(values), 3)) if values else dg.MetadataValue.null()


#: ``raw_video.codec`` of marker files (:mod:`..core.interop.mocap`)
MARKER_FORMATS = tuple(e.lstrip(".") for e in MARKER_EXTENSIONS)
