"""Pose backends behind one small interface (:class:`~neuropose_assets.core.pose.base.PoseBackend`).

:func:`load_backend` builds a backend by name; heavy libraries are imported only then.
"""

from __future__ import annotations

from typing import Any

BACKENDS = ("blazepose",)


def load_backend(name: str, **settings: Any):  # -> PoseBackend
    """Construct the named backend (``"blazepose"``) with its settings.

    Raises:
        ValueError: unknown backend name.
    """
    if name == "blazepose":
        from neuropose_assets.core.pose.blazepose import BlazePoseBackend

        return BlazePoseBackend(**settings)
    raise ValueError(f"unknown pose backend {name!r}; available: {', '.join(BACKENDS)}")
