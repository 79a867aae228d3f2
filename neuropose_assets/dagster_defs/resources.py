"""Resources: where data lives, and the pose model (loaded once per process)."""


import time
from typing import Any

import dagster as dg

from neuropose_assets.core.storage import Layout, Registry

# Process-wide cache: a Dagster run (or the demo, which runs many) loads each configured model once.
_LOADED: dict[tuple, tuple[Any, float]] = {}


class StorageResource(dg.ConfigurableResource):
    """The data root (outside the repository) and the video registry under it."""

    data_root: str

    @property
    def layout(self) -> Layout:
        from pathlib import Path

        return Layout(Path(self.data_root))

    @property
    def registry(self) -> Registry:
        return Registry(self.layout)


class PoseModelResource(dg.ConfigurableResource):
    """The pose model behind the :class:`~neuropose_assets.core.pose.base.PoseBackend` interface.

    ``backend`` selects the implementation (env ``NEUROPOSE_POSE_BACKEND``; default ``blazepose``).  The model is
    loaded on first use and cached for the life of the process.
    """

    backend: str = "blazepose"
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5

    def _settings(self) -> dict[str, Any]:
        return {
            "min_detection_confidence": self.min_detection_confidence,
            "min_tracking_confidence": self.min_tracking_confidence,
        }

    def get_backend(self) -> tuple[Any, float]:
        """``(backend, load_seconds)``; ``load_seconds`` is 0 when the model was already loaded in this process."""
        from neuropose_assets.core.pose import load_backend

        key = (self.backend, tuple(sorted(self._settings().items())))
        if key in _LOADED:
            return _LOADED[key][0], 0.0
        t = time.perf_counter()
        model = load_backend(self.backend, **self._settings())
        _LOADED[key] = (model, time.perf_counter() - t)
        return _LOADED[key]
