"""Resources: where data lives, and the pose model (loaded once per process)."""

import time
from typing import Any

import dagster as dg

from neuropose_assets.core.io.storage import Layout, Registry
from neuropose_assets.core.pose import DEFAULT_BACKEND
from neuropose_assets.core.pose.metrabs_model import DEFAULT_NUM_AUG, DEFAULT_VARIANT

# Process-wide cache: a Dagster run (or the demo, which runs many) loads each configured model once.
_LOADED: dict[tuple, tuple[Any, float]] = {}


class StorageResource(dg.ConfigurableResource):
    """The data root (outside the repository) and the video registry under it."""

    data_root: str

    @property
    def layout(self) -> Layout:
        """The :class:`~neuropose_assets.core.io.storage.Layout` of ``data_root``."""
        from pathlib import Path

        return Layout(Path(self.data_root))

    @property
    def registry(self) -> Registry:
        """The video :class:`~neuropose_assets.core.io.storage.Registry` under ``data_root``."""
        return Registry(self.layout)


class PoseModelResource(dg.ConfigurableResource):
    """The pose model behind the :class:`~neuropose_assets.core.pose.base.PoseBackend` interface.

    ``backend`` selects the implementation (``blazepose`` or ``metrabs``; env ``NEUROPOSE_POSE_BACKEND``).  The model
    is loaded on first use and cached for the life of the process.  Every setting that changes results is recorded
    in the outputs' provenance.

    MeTRAbs acquisition: ``metrabs_dir`` (an extracted SavedModel), else ``metrabs_tarball`` (a local archive), else a
    verified download of ``metrabs_variant`` (pinned SHA-256, or ``metrabs_sha256`` for other variants) into
    ``model_cache``.  Inference: ``batch_size`` frames per call, ``num_aug`` test-time augmentations,
    ``detector_threshold``, ``internal_batch_size``, and camera intrinsics from ``fov_degrees`` (along the larger
    image side) or a row-major 3×3 ``intrinsic_matrix`` in px.
    """

    backend: str = DEFAULT_BACKEND
    # BlazePose
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    # MeTRAbs
    model_cache: str | None = None
    metrabs_variant: str = DEFAULT_VARIANT
    metrabs_sha256: str | None = None
    metrabs_url: str | None = None
    metrabs_tarball: str | None = None
    metrabs_dir: str | None = None
    skeleton: str = "berkeley_mhad_43"
    batch_size: int = 8
    num_aug: int = DEFAULT_NUM_AUG
    detector_threshold: float = 0.3
    internal_batch_size: int = 64
    fov_degrees: float = 55.0
    intrinsic_matrix: list[float] | None = None

    def settings(self) -> dict[str, Any]:
        """The backend's constructor settings (see ``core.pose.load_backend``)."""
        if self.backend == "blazepose":
            return {
                "min_detection_confidence": self.min_detection_confidence,
                "min_tracking_confidence": self.min_tracking_confidence,
            }
        from neuropose_assets.core.io.storage import default_cache_dir

        return {
            "cache": self.model_cache or str(default_cache_dir() / "models"),
            "variant": self.metrabs_variant,
            "sha256": self.metrabs_sha256,
            "url": self.metrabs_url,
            "tarball": self.metrabs_tarball,
            "directory": self.metrabs_dir,
            "skeleton": self.skeleton,
            "batch_size": self.batch_size,
            "num_aug": self.num_aug,
            "detector_threshold": self.detector_threshold,
            "internal_batch_size": self.internal_batch_size,
            "fov_degrees": self.fov_degrees,
            "intrinsic_matrix": self.intrinsic_matrix,
        }

    def get_backend(self) -> tuple[Any, float]:
        """``(backend, load_seconds)``; ``load_seconds`` is 0 when the model was already loaded in this process."""
        from neuropose_assets.core.pose import load_backend

        settings = self.settings()
        key = (self.backend, repr(sorted(settings.items())))
        if key in _LOADED:
            return _LOADED[key][0], 0.0
        t = time.perf_counter()
        model = load_backend(self.backend, **settings)
        _LOADED[key] = (model, time.perf_counter() - t)
        return _LOADED[key]
