"""Repetition segmentation: windows around the peaks (humps) of a 1-D signal.

A repetition (a sit-to-stand, a squat, an arm raise) shows as one hump of a suitable signal — pelvis height, knee
flexion, shoulder elevation.  Peaks are found with :func:`scipy.signal.find_peaks` (minimum distance, prominence,
height).  Window boundaries (``SegmentationConfig.method``):

* ``threshold`` (default): **prominence-bounded threshold crossings** — the window starts where the signal rises
  through ``low_frac`` (10 %) of the hump's rise above the minimum before it and ends where it falls back below
  ``low_frac`` of its fall to the minimum after it (the minima are taken between neighbouring peaks).  Plateaus and
  small ripples inside a hump do not move the boundaries — the convention of motion-capture event detection by
  percentage of excursion (e.g. sit-to-stand phases from pelvis height; Millor et al., J NeuroEng Rehabil 2014).
  See :func:`find_humps`.
* ``valley_to_valley_v1``: from the last local minimum before a peak to the first after it (the NeuroPose
  analyzer's method; any ripple is a local minimum, so durations are fragile).
* ``peak_to_peak``: from one peak to the next.

Windows are ``[start, peak, end)`` with ``end`` exclusive.  Signals are extracted from the ``features`` table by name
(:class:`SignalSpec`), never by joint index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field, model_validator
from scipy.signal import find_peaks

from neuropose_assets.core.kinematics.signal import fill_gaps, lowpass_times
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS
from neuropose_assets.core.models import STRICT

Axis = Literal["x", "y", "z", "u", "v", "anterior", "superior", "right"]
BODY_AXES = ("anterior", "superior", "right")


#: column-name suffix -> unit, longest first (``_mm_s`` before ``_s``)
_UNIT_SUFFIXES = (
    ("_speed_mm_s", "mm/s"),
    ("_norm", "dimensionless (segment lengths)"),
    ("_deg", "deg"),
    ("_mm", "mm"),
    ("_px", "px"),
    ("_s", "s"),
)


def column_unit(column: str) -> str:
    """The unit a ``features`` column name states (``knee_angle_r_deg`` → ``deg``); ``""`` when none."""
    return next((unit for suffix, unit in _UNIT_SUFFIXES if column.endswith(suffix)), "")


class SignalSpec(BaseModel):
    """Which 1-D signal to segment, from the ``features`` table.

    ``kind``:
        * ``"column"``: a feature column as is (e.g. ``knee_angle_r_deg``).
        * ``"joint_axis"``: one coordinate of a clinical joint; axes x/y/z are root-centred mm, u/v image px.
        * ``"joint_distance"``: distance between two clinical joints, mm.
        * ``"joint_speed"``: speed of a clinical joint, mm/s: the features' ``{joint}_speed_mm_s`` column (one
          definition, :func:`..kinematics.features.joint_speeds`).
        * ``"joint_body_axis"``: ``joint − other_joint`` (default ``pelvis``) projected on a body axis (``axis``:
          ``anterior``, ``superior`` or ``right``; body frame of :func:`..kinematics.features.body_axes`), mm —
          independent of the camera's orientation; ``level`` keeps the body frame level (superior = the camera's
          vertical), for sources whose vertical is known (marker-based capture).
    ``invert`` negates the signal (e.g. pelvis height from ``v`` px, which grows downwards).
    """

    model_config = STRICT

    kind: Literal["column", "joint_axis", "joint_distance", "joint_speed", "joint_body_axis"] = "column"
    column: str | None = None
    joint: str | None = None
    other_joint: str | None = None
    axis: Axis | None = None
    level: bool = False
    invert: bool = False

    @model_validator(mode="after")
    def _check(self) -> SignalSpec:
        need = {
            "column": ("column",),
            "joint_axis": ("joint", "axis"),
            "joint_distance": ("joint", "other_joint"),
            "joint_speed": ("joint",),
            "joint_body_axis": ("joint", "axis"),
        }[self.kind]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"signal kind {self.kind!r} needs {missing}")
        for j in (self.joint, self.other_joint):
            if j is not None and j not in CLINICAL_JOINTS:
                raise ValueError(f"unknown clinical joint {j!r}; known: {list(CLINICAL_JOINTS)}")
        if (self.kind == "joint_body_axis") != (self.axis in BODY_AXES):
            raise ValueError(f"body axes {BODY_AXES} go with kind 'joint_body_axis' only (and it needs one)")
        return self

    @property
    def unit(self) -> str:
        """The signal's unit: a column's stated unit (:func:`column_unit`), ``px`` for the image axes ``u`` / ``v``,
        ``mm`` for 3D and body axes and distances, ``mm/s`` for speeds."""
        if self.kind == "column":
            assert self.column is not None
            return column_unit(self.column)
        if self.kind in ("joint_axis", "joint_body_axis"):
            return "px" if self.axis in ("u", "v") else "mm"
        return "mm" if self.kind == "joint_distance" else "mm/s"


class SegmentationConfig(BaseModel):
    """Segmentation parameters; stored with every result so that it can be reproduced.

    Attributes:
        signal: the signal to segment.
        min_distance_s: minimum time between peaks, s (``None`` = no constraint).
        min_prominence: minimum peak prominence, in signal units.
        min_height: minimum peak height, in signal units.
        pad_s: widen each window by this much on both sides, s (clamped to the video).
        normalize: rescale the signal so that its 5th–95th percentile range is 0–1 before peak detection; then
            ``min_prominence`` / ``min_height`` are fractions of that range (useful for px signals).
        method: ``threshold`` — prominence-bounded crossings of ``low_frac`` of the rise and fall (module docstring);
            ``valley_to_valley_v1`` — from the last local minimum before a peak to the first after it;
            ``peak_to_peak`` — from one peak to the next, whose ``peak_frame`` is the signal minimum in between.
        low_frac: ``threshold`` only: fraction of the hump's rise / fall at which it starts / ends (0–0.5).
        lowpass_hz: cut-off of the zero-phase Butterworth low-pass applied to the signal before peak detection
            (:func:`..kinematics.signal.lowpass_times`: order 4 per pass, forward and backward), Hz (``None`` = raw
            signal).  Removes frame-to-frame jitter that would otherwise create spurious peaks.
    """

    model_config = STRICT

    signal: SignalSpec = SignalSpec(kind="column", column="knee_angle_r_deg")
    min_distance_s: float | None = Field(default=0.4, ge=0)
    min_prominence: float | None = 15.0
    min_height: float | None = None
    pad_s: float = Field(default=0.0, ge=0)
    lowpass_hz: float | None = Field(default=6.0, gt=0)
    normalize: bool = False
    method: Literal["threshold", "valley_to_valley_v1", "peak_to_peak"] = "threshold"
    low_frac: float = Field(default=0.1, gt=0, lt=0.5)


def extract_signal(features: pl.DataFrame, spec: SignalSpec) -> np.ndarray:
    """The signal ``(F,)`` float64 for ``spec``; NaN where the subject is absent.

    Raises:
        KeyError: the column does not exist in ``features``.
    """

    def col(name: str) -> np.ndarray:
        if name not in features.columns:
            raise KeyError(f"features has no column {name!r}")
        return features[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def xyz(j: str) -> np.ndarray:
        return np.stack([col(f"{j}_{a}_mm") for a in "xyz"], axis=1)

    if spec.kind == "column":
        s = col(spec.column)  # type: ignore[arg-type]
    elif spec.kind == "joint_axis":
        unit = "px" if spec.axis in ("u", "v") else "mm"
        s = col(f"{spec.joint}_{spec.axis}_{unit}")
    elif spec.kind == "joint_distance":
        s = np.linalg.norm(xyz(spec.joint) - xyz(spec.other_joint), axis=1)  # type: ignore[arg-type]
    elif spec.kind == "joint_body_axis":
        from neuropose_assets.core.kinematics.features import body_axes

        clinical = np.stack([xyz(j) for j in CLINICAL_JOINTS], axis=1)  # (F, C, 3), any orthonormal frame
        axes = body_axes(clinical, level=spec.level)[:, BODY_AXES.index(spec.axis)]  # type: ignore[arg-type]
        rel = xyz(spec.joint) - xyz(spec.other_joint or "pelvis")  # type: ignore[arg-type]
        s = np.einsum("fi,fi->f", rel, axes)
    else:
        s = col(f"{spec.joint}_speed_mm_s")
    return -s if spec.invert else s


def _find_peaks(signal, min_distance, min_prominence, min_height) -> tuple[np.ndarray, np.ndarray]:
    """``(signal as float64, peak indices)`` via :func:`scipy.signal.find_peaks`; constraints that are ``None`` (or a
    distance below 1 frame) are not applied; no peaks for signals shorter than 3 or containing NaN."""
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"signal must be 1-D, got shape {s.shape}")
    if len(s) < 3 or not np.isfinite(s).all():
        return s, np.zeros(0, int)
    kw: dict = {}
    if min_distance is not None and min_distance >= 1:
        kw["distance"] = int(min_distance)
    if min_prominence is not None:
        kw["prominence"] = float(min_prominence)
    if min_height is not None:
        kw["height"] = float(min_height)
    return s, find_peaks(s, **kw)[0]


def valley_to_valley(
    signal: np.ndarray,
    *,
    min_distance: int | None = None,
    min_prominence: float | None = None,
    min_height: float | None = None,
    pad: int = 0,
) -> list[tuple[int, int, int]]:
    """Windows ``(start, peak, end)`` in frames (``end`` exclusive) around the peaks of ``signal`` ``(F,)``.

    Peaks: :func:`scipy.signal.find_peaks` with the given constraints (``min_distance`` in frames, ≥ 1).
    Valleys: every local minimum.  ``start`` = last valley before the peak (else 0); ``end`` = first valley after
    it + 1 (else F); both widened by ``pad`` frames and clamped to ``[0, F]``.

    Raises:
        ValueError: ``signal`` is not 1-D, or ``pad < 0``.
    """
    if pad < 0:
        raise ValueError("pad must be >= 0")
    s, peaks = _find_peaks(signal, min_distance, min_prominence, min_height)
    if len(peaks) == 0:
        return []
    valleys, _ = find_peaks(-s)
    n = len(s)
    out = []
    for p in peaks:
        before = valleys[valleys < p]
        after = valleys[valleys > p]
        start = int(before[-1]) if len(before) else 0
        end = int(after[0]) + 1 if len(after) else n
        out.append((max(0, start - pad), int(p), min(n, end + pad)))
    return out


def peak_to_peak(
    signal: np.ndarray,
    *,
    min_distance: int | None = None,
    min_prominence: float | None = None,
    min_height: float | None = None,
) -> list[tuple[int, int, int]]:
    """Windows ``(start, low, end)`` from each peak to the next (``end`` exclusive = the next peak, so windows tile),
    ``low`` = the signal minimum in between; peaks as in :func:`valley_to_valley`."""
    s, peaks = _find_peaks(signal, min_distance, min_prominence, min_height)
    return [(int(a), int(a + np.argmin(s[a:b])), int(b)) for a, b in zip(peaks[:-1], peaks[1:])]


@dataclass(frozen=True)
class Hump:
    """One excursion of a signal, frames (``None`` where the trial's edge cuts the hump off).

    ``onset`` first frame at or above ``low`` of the rise; ``top_reached`` first frame at or above ``high`` of the
    rise; ``peak`` the maximum; ``top_left`` first frame below ``high`` of the fall; ``offset`` first frame below
    ``low`` of the fall.  ``rise`` / ``fall`` are the excursions above the minimum before / after the peak (signal
    units).
    """

    peak: int
    peak_value: float
    onset: int | None
    top_reached: int | None
    top_left: int | None
    offset: int | None
    rise: float
    fall: float


def find_peaks_with_edges(
    signal: np.ndarray,
    *,
    min_prominence: float | None = None,
    min_distance: int | None = None,
    edge: int = 1,
    edge_drop: float | None = None,
) -> np.ndarray:
    """Peak indices of ``signal`` ``(F,)`` (no NaN) via :func:`scipy.signal.find_peaks`, where the unseen signal
    beyond the trial's ends counts as low: a peak near an edge is measured by its prominence on the side that was
    recorded, so it is not lost just because the trial started or stopped shortly before / after it.  Neighbouring
    peaks that the signal does not dip by ``min_prominence`` between (a ripple on a plateau) count as one, the
    higher.  Peaks within
    ``edge`` samples of either end are dropped (a maximum there may still be rising, or be the filter's edge
    transient) — unless ``edge_drop`` is given and the recorded signal supports the peak: it falls by at least
    ``edge_drop`` between the peak and that end (the peak is then a maximum that was seen, not a rise cut off by the
    recording).  The first and last samples are never peaks.

    Args:
        min_prominence: signal units (``None`` = any); min_distance: frames (``None`` or < 1 = any); edge: frames
            (≥ 1); edge_drop: signal units (``None`` = drop every peak within ``edge``).
    """
    s = np.asarray(signal, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"signal must be 1-D, got shape {s.shape}")
    if len(s) < 3 or not np.isfinite(s).all():
        return np.zeros(0, int)
    floor = s.min() - abs(min_prominence or 0.0) - 1.0
    kw: dict = {"prominence": 0.0 if min_prominence is None else float(min_prominence)}
    if min_distance is not None and min_distance >= 1:
        kw["distance"] = int(min_distance)
    peaks = find_peaks(np.concatenate(([floor], s, [floor])), **kw)[0] - 1
    # two peaks are separate only if the signal dips by the prominence between them (a ripple on a plateau splits
    # it into equally high peaks, each with full prominence): keep the higher one of a pair that is not separated
    merged: list[int] = []
    for p in peaks:
        q = merged[-1] if merged else None
        if q is not None and min(s[q], s[p]) - s[q : p + 1].min() < (min_prominence or 0.0):
            if s[p] > s[q]:
                merged[-1] = int(p)
        else:
            merged.append(int(p))
    # the unseen outside counts as low, but the recorded signal must still rise or fall by the prominence
    need = min_prominence or 0.0
    out = np.asarray([p for p in merged if max(_excursions(s, p)) >= need and max(_excursions(s, p)) > 0], dtype=int)
    edge = max(1, int(edge))
    inside = (out >= edge) & (out <= len(s) - 1 - edge)
    if edge_drop is not None:
        n = len(s)
        supported = np.asarray(
            [0 < p < n - 1 and s[p] - (s[: p + 1].min() if p < edge else s[p:].min()) >= edge_drop for p in out],
            dtype=bool,
        )
        inside |= supported
    return out[inside]


def _excursions(s: np.ndarray, p: int) -> tuple[float, float]:
    """One-sided prominences of the peak at ``p``: the drop to the lowest sample before (after) it, up to the
    nearest higher sample or the edge."""
    higher = np.flatnonzero(s > s[p])
    a = higher[higher < p]
    b = higher[higher > p]
    left = s[(a[-1] if len(a) else 0) : p + 1].min()
    right = s[p : (b[0] + 1 if len(b) else len(s))].min()
    return float(s[p] - left), float(s[p] - right)


def find_humps(
    signal: np.ndarray,
    *,
    min_prominence: float,
    min_distance: int | None = None,
    low_frac: float = 0.1,
    high_frac: float = 0.9,
) -> list[Hump]:
    """Humps of ``signal`` ``(F,)`` (no NaN) with prominence-bounded threshold crossings (module docstring).

    Peaks: :func:`find_peaks_with_edges`.  For each peak the rise is measured from the minimum between the previous
    peak (or the trial's start) and this one, the fall to the minimum before the next peak (or the end); the
    crossings of ``low_frac`` and ``high_frac`` of each are located from the peak outwards so that ripples on a
    plateau do not move them.  A side whose excursion is below ``min_prominence`` (the trial cuts the hump off) has
    its events set to ``None``.

    Raises:
        ValueError: ``signal`` not 1-D, or fractions not ``0 < low_frac < high_frac < 1``.
    """
    if not 0 < low_frac < high_frac < 1:
        raise ValueError("need 0 < low_frac < high_frac < 1")
    s = np.asarray(signal, dtype=np.float64)
    peaks = find_peaks_with_edges(s, min_prominence=min_prominence, min_distance=min_distance)
    out = []
    for k, p in enumerate(peaks):
        a = int(peaks[k - 1]) if k > 0 else 0
        b = int(peaks[k + 1]) if k + 1 < len(peaks) else len(s) - 1
        top = s[p]
        rise, fall = top - s[a : p + 1].min(), top - s[p : b + 1].min()
        onset = reached = left = offset = None
        if rise >= min_prominence:
            lo, hi = top - (1 - low_frac) * rise, top - (1 - high_frac) * rise
            onset = a + int(np.flatnonzero(s[a : p + 1] < lo)[-1]) + 1
            reached = onset + int(np.argmax(s[onset : p + 1] >= hi))
        if fall >= min_prominence:
            lo, hi = top - (1 - low_frac) * fall, top - (1 - high_frac) * fall
            offset = p + int(np.argmax(s[p : b + 1] < lo))
            left = p + int(np.argmax(s[p : offset + 1] < hi))
        out.append(Hump(int(p), float(top), onset, reached, left, offset, float(rise), float(fall)))
    return out


def normalize_signal(signal: np.ndarray) -> np.ndarray:
    """Rescale so that the 5th–95th percentile range maps to 0–1 (robust to outliers); flat signals become 0."""
    lo, hi = np.nanpercentile(signal, [5, 95])
    return (signal - lo) / (hi - lo) if hi > lo else np.zeros_like(signal)


SEGMENT_SCHEMA = {
    "repetition": pl.Int32,
    "start_frame": pl.Int32,
    "peak_frame": pl.Int32,
    "end_frame": pl.Int32,
    "start_s": pl.Float64,
    "peak_s": pl.Float64,
    "end_s": pl.Float64,
    "duration_s": pl.Float64,
    "peak_value": pl.Float64,
}


def segment_features(features: pl.DataFrame, config: SegmentationConfig) -> pl.DataFrame:
    """Segment a ``features`` table into repetitions.

    Gaps (subject absent) are bridged by linear interpolation for peak detection only, then the optional low-pass
    filter is applied.  Seconds are converted to frames with the median frame interval of ``time_s``.  ``peak_value``
    is the (filtered) signal at the peak.  ``end_s`` is the time of the frame *after* the window (or
    the last frame time + one interval), so ``duration_s = end_s - start_s``.

    Returns:
        table with columns :data:`SEGMENT_SCHEMA`, one row per repetition (possibly zero rows).
    """
    raw = extract_signal(features, config.signal)
    t = features["time_s"].to_numpy()
    s = fill_gaps(raw, hold_ends=True, t=t)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    if config.lowpass_hz is not None and np.isfinite(s).all() and len(s) > 1:
        s = lowpass_times(s, t, config.lowpass_hz)
    if config.normalize and np.isfinite(s).any():
        s = normalize_signal(s)
    to_frames = lambda sec: None if sec is None else max(1, int(round(sec / dt)))  # noqa: E731
    peaks = {
        "min_distance": to_frames(config.min_distance_s),
        "min_prominence": config.min_prominence,
        "min_height": config.min_height,
    }
    pad = int(round(config.pad_s / dt))
    if config.method == "peak_to_peak":
        wins = peak_to_peak(s, **peaks)
    elif config.method == "threshold":
        humps = find_humps(
            s, min_prominence=config.min_prominence or 0.0, min_distance=peaks["min_distance"], low_frac=config.low_frac
        )
        wins = [
            (h.onset, h.peak, h.offset)
            for h in humps
            if h.onset is not None
            and h.offset is not None
            and (config.min_height is None or h.peak_value >= config.min_height)
        ]
    else:
        wins = valley_to_valley(s, **peaks, pad=0)
    n = len(s)
    wins = [(max(0, a - pad), p, min(n, b + pad)) for a, p, b in wins]
    t_end = np.append(t, t[-1] + dt) if len(t) else t
    rows = {k: [] for k in SEGMENT_SCHEMA}
    for i, (a, p, b) in enumerate(wins):
        rows["repetition"].append(i)
        rows["start_frame"].append(a)
        rows["peak_frame"].append(p)
        rows["end_frame"].append(b)
        rows["start_s"].append(float(t[a]))
        rows["peak_s"].append(float(t[p]))
        rows["end_s"].append(float(t_end[b]))
        rows["duration_s"].append(float(t_end[b] - t[a]))
        rows["peak_value"].append(float(s[p]))
    return pl.DataFrame(rows, schema=SEGMENT_SCHEMA)
