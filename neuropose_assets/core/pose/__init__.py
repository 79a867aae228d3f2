"""Pose backends behind one small interface (:class:`~neuropose_assets.core.pose.base.PoseBackend`).

:func:`load_backend` builds a backend by name; heavy libraries (MediaPipe, TensorFlow) are imported only then.
"""

from __future__ import annotations

from typing import Any

#: the pose backends, the default first (BlazePose: its model ships inside the mediapipe wheel, so it runs offline)
BACKENDS = ("blazepose", "metrabs")
DEFAULT_BACKEND = BACKENDS[0]
_ACQUIRE_KEYS = ("cache", "variant", "sha256", "url", "tarball", "directory")


def load_backend(name: str, **settings: Any):  # -> PoseBackend
    """Construct the named backend with its settings.

    ``"blazepose"``: settings of :class:`~.blazepose.BlazePoseBackend`.
    ``"metrabs"``: model acquisition settings (``cache``, ``variant``, ``sha256``, ``url``, ``tarball``,
    ``directory``; see :func:`.metrabs_model.acquire`) plus inference settings of :class:`~.metrabs.MetrabsBackend`.

    Raises:
        ValueError: unknown backend name.
        ModelAcquisitionError / ModelLoadError: MeTRAbs could not be obtained or loaded (actionable message).
    """
    if name == "blazepose":
        from neuropose_assets.core.pose.blazepose import BlazePoseBackend

        return BlazePoseBackend(**settings)
    if name == "metrabs":
        from neuropose_assets.core.pose.metrabs import MetrabsBackend
        from neuropose_assets.core.pose.metrabs_model import acquire

        acq = {k: settings.pop(k) for k in _ACQUIRE_KEYS if k in settings}
        cache = acq.pop("cache")
        return MetrabsBackend(acquire(cache, **{k: v for k, v in acq.items() if v is not None}), **settings)
    raise ValueError(f"unknown pose backend {name!r}; available: {', '.join(BACKENDS)}")
