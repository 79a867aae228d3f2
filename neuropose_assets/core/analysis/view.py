"""The camera view measured from the movement, and whether it agrees with the declared one.

A recording's view is the angle between the subject's frontal plane and the image plane, **0° = the camera looks at
the front (or back) of the body, 90° = a side (sagittal) view**.  It is measured per frame from the ``features`` table
in two independent ways and averaged:

* **3D**: the body's anterior axis — ``(left→right hip + left→right shoulder) × (pelvis→neck)`` in the pose model's
  camera-aligned 3D (x right, y down, z away) — projected on the camera's horizontal x–z plane; the view angle is
  its angle to the optical axis, folded to 0–90° (facing the camera or away from it are the same view);
* **2D foreshortening**: the hip and shoulder widths seen in the image, relative to the trunk length seen in the
  image, divided by the same ratio in 3D, is ``|cos(view angle)|`` (widths shrink as the body turns sideways, the
  trunk's length does not).

The recording's view angle is the median over frames where the subject's hips, shoulders and neck are seen
(:func:`measure_view`), and the view is ``front`` below :data:`FRONT_MAX_DEG`, ``side`` from :data:`SIDE_MIN_DEG`,
``oblique`` between.  On the development clips (ground truth from the clip descriptions): front arm raise 4°,
front-oblique sit-to-stand and squat (30–45° off frontal) 29° and 30°, oblique walks 37° and 29°, side squat 72°
(IQR 70–77; BlazePose compresses depth, so a true side view reads 70–80°, hence the side threshold below 90°).

A declared view **contradicts** the measurement when it is outside that view's tolerance band
(:func:`contradiction`): a declared side view measured below :data:`SIDE_CONTRADICTED_BELOW_DEG`, a front view above
:data:`FRONT_CONTRADICTED_ABOVE_DEG`, an oblique one below 5° or above 80° — bands wider than the classification so
that borderline recordings are not flagged.  Outcomes that assume the declared view (the image-based metric scale of
a side view, :func:`.outcomes.forward_positions`) are then null with the reason, and the ``camera_view_consistent``
check fails with ERROR naming both views.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

#: below this view angle, deg, the camera sees the front (or back) of the body
FRONT_MAX_DEG = 15.0
#: from this view angle, deg, the camera sees the side of the body (BlazePose reads a true side view as 70–80°)
SIDE_MIN_DEG = 60.0
#: a declared side view is contradicted below this measured angle, deg: at 55° the walking direction is 35° off the
#: image plane, and image-based lengths along it are already 1 − sin(55°) ≈ 18 % short
SIDE_CONTRADICTED_BELOW_DEG = 55.0
#: a declared front view is contradicted above this measured angle, deg
FRONT_CONTRADICTED_ABOVE_DEG = 30.0
#: a declared oblique view is contradicted outside this measured range, deg
OBLIQUE_RANGE_DEG = (5.0, 80.0)
#: fewest frames with hips, shoulders and neck seen for a measurement
MIN_FRAMES = 10


@dataclass(frozen=True)
class ViewMeasurement:
    """The measured view of one recording.

    Attributes:
        view: ``front``, ``oblique``, ``side``, or ``unknown`` (too few frames with the trunk seen).
        angle_deg: median view angle, deg (0 front/back, 90 side); ``None`` when unknown.
        iqr_deg: its interquartile range over frames, deg ``(q25, q75)`` — wide when the subject turns.
        frames: frames the median is over.
        angle_3d_deg, angle_2d_deg: the medians of the two methods alone, deg (module docstring).
    """

    view: str
    angle_deg: float | None
    iqr_deg: tuple[float, float] | None
    frames: int
    angle_3d_deg: float | None = None
    angle_2d_deg: float | None = None

    def as_dict(self) -> dict:
        """Every field as a dict (the ``measured`` entry of the ``outcomes`` provenance's ``camera_view``)."""
        return asdict(self)


def _col(features: pl.DataFrame, name: str) -> np.ndarray:
    if name not in features.columns:
        return np.full(features.height, np.nan)
    return features[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


def _xyz(features: pl.DataFrame, joint: str) -> np.ndarray:
    return np.stack([_col(features, f"{joint}_{a}_mm") for a in "xyz"], axis=1)


def _uv(features: pl.DataFrame, joint: str) -> np.ndarray:
    return np.stack([_col(features, f"{joint}_{a}_px") for a in "uv"], axis=1)


def view_angles(features: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame view angles ``(3D, 2D)``, deg ``(F,)`` each, 0–90; NaN where the trunk is not seen (module
    docstring).  Needs the features in the camera frame (``FeaturesConfig.frame == "camera"``)."""
    lr = (
        _xyz(features, "right_hip")
        - _xyz(features, "left_hip")
        + _xyz(features, "right_shoulder")
        - _xyz(features, "left_shoulder")
    )
    up = _xyz(features, "neck") - _xyz(features, "pelvis")
    anterior = np.cross(lr, up)
    with np.errstate(invalid="ignore"):
        a3 = np.degrees(np.arctan2(np.abs(anterior[:, 0]), np.abs(anterior[:, 2])))
        w2 = np.linalg.norm(_uv(features, "right_shoulder") - _uv(features, "left_shoulder"), axis=1) + np.linalg.norm(
            _uv(features, "right_hip") - _uv(features, "left_hip"), axis=1
        )
        t2 = np.linalg.norm(_uv(features, "neck") - _uv(features, "pelvis"), axis=1)
        w3 = np.linalg.norm(
            _xyz(features, "right_shoulder") - _xyz(features, "left_shoulder"), axis=1
        ) + np.linalg.norm(_xyz(features, "right_hip") - _xyz(features, "left_hip"), axis=1)
        t3 = np.linalg.norm(up, axis=1)
        cos = (w2 / t2) / (w3 / t3)
        a2 = np.degrees(np.arccos(np.clip(cos, 0.0, 1.0)))
    a3[~np.isfinite(a3)] = np.nan
    a2[~np.isfinite(a2)] = np.nan
    return a3, a2


def classify(angle_deg: float | None) -> str:
    """``front`` / ``oblique`` / ``side`` of a view angle, deg (``unknown`` for ``None``)."""
    if angle_deg is None:
        return "unknown"
    if angle_deg < FRONT_MAX_DEG:
        return "front"
    return "side" if angle_deg >= SIDE_MIN_DEG else "oblique"


def measure_view(features: pl.DataFrame) -> ViewMeasurement:
    """The recording's view (module docstring) from a ``features`` table (camera frame).

    Returns:
        :class:`ViewMeasurement`; ``view == "unknown"`` when fewer than :data:`MIN_FRAMES` frames show the trunk
        (marker sets without shoulders, a subject barely seen).
    """
    a3, a2 = view_angles(features)
    both = np.where(np.isfinite(a3) & np.isfinite(a2), 0.5 * (a3 + a2), np.nan)
    ok = np.isfinite(both)
    if ok.sum() < MIN_FRAMES:
        return ViewMeasurement("unknown", None, None, int(ok.sum()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        angle = float(np.median(both[ok]))
        q25, q75 = (float(x) for x in np.percentile(both[ok], [25, 75]))
        return ViewMeasurement(
            classify(angle),
            round(angle, 1),
            (round(q25, 1), round(q75, 1)),
            int(ok.sum()),
            round(float(np.nanmedian(a3)), 1),
            round(float(np.nanmedian(a2)), 1),
        )


def contradiction(declared: str, measured: ViewMeasurement) -> str | None:
    """Why the ``declared`` view (``side`` / ``front`` / ``oblique``; ``unknown`` = not declared) contradicts the
    measurement, or ``None`` when it does not (or either is unknown)."""
    a = measured.angle_deg
    if declared == "unknown" or a is None:
        return None
    lo, hi = OBLIQUE_RANGE_DEG
    bad = (
        (declared == "side" and a < SIDE_CONTRADICTED_BELOW_DEG)
        or (declared == "front" and a > FRONT_CONTRADICTED_ABOVE_DEG)
        or (declared == "oblique" and not lo <= a <= hi)
    )
    if not bad:
        return None
    return (
        f"declared camera_view '{declared}', but the body is measured at {a:.0f}° to the image plane "
        f"({measured.view}; 0° = facing the camera, 90° = side-on; median over {measured.frames} frames)"
    )


def effective_view(declared: str, measured: ViewMeasurement) -> str:
    """The view the analysis uses: the declared one unless it is ``unknown`` (not declared) — then the measured one.
    A contradicted declaration is still returned (the caller nulls what depends on it, :func:`contradiction`)."""
    return measured.view if declared == "unknown" else declared
