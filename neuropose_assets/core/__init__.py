"""Pure, Dagster-free science and I/O core of neuropose-assets, grouped by stage.

========================  ====================================================================================
``core.pose``             pose models behind one interface (BlazePose, MeTRAbs), decoding, tracking, the subject
``core.kinematics``       the skeletal model fitted to each video (``fit``), clinical features, filters, frames
``core.analysis``         tasks, events, repetitions and gait cycles, outcomes, camera view, quality flags
``core.comparison``       DTW between repetitions and videos, Procrustes alignment, agreement with references
``core.interop``          marker-based capture (TRC, C3D, MOT) in, OpenSim files out
``core.review``           the review video, figures and the per-video report
``core.io``               data root layout, atomic writes, Parquet tables, video probing, intake, samples
``core.models``           the one strict pydantic base of every configuration model
========================  ====================================================================================

Each group exports its public functions and classes (``from neuropose_assets.core.analysis import
compute_outcomes``); importing a group imports none of its modules until a name is used, so heavy libraries stay
lazy.  The modules themselves stay importable by full path.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_api(package: str, api: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a group package (PEP 562): ``api`` maps each public name to the module of
    ``package`` that defines it; the module is imported on first access.

    Raises (from ``__getattr__``):
        AttributeError: ``name`` is not part of the group's public API.
    """

    def __getattr__(name: str) -> object:
        if name not in api:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{api[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(api)

    return __getattr__, __dir__
