"""Exact dynamic time warping (DTW) between multivariate sequences, via tslearn.

Cost convention (tslearn, :func:`tslearn.metrics.dtw_path`): the frame cost is the squared Euclidean distance
between frames, and the DTW distance is the **square root of the summed squared frame distances along the optimal
warping path**; its unit is the unit of the features (degrees for joint angles, mm for coordinates).  We also report
the path length (steps) and ``distance / sqrt(path_length)`` — the root-mean-square frame distance along the path —
which is comparable between pairs of different lengths.  An optional Sakoe-Chiba band limits the warping to
``radius`` frames off the diagonal (Sakoe & Chiba, IEEE TASSP 1978).

tslearn (numba) is imported lazily inside the functions: importing it costs seconds and JIT compilation more.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from neuropose_assets.core.kinematics import ANGLE_COLUMNS
from neuropose_assets.core.signal import fill_gaps


class DTWConfig(BaseModel):
    """Which feature columns form the DTW sequences, and the warping constraints.

    Attributes:
        columns: feature columns (default: the joint angles, degrees — model-independent).
        sakoe_chiba_radius: band half-width in frames; ``None`` = unconstrained.
        nan_policy: ``"interpolate"`` fills gaps linearly per column (ends held); ``"drop"`` removes frames with any
            NaN.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: tuple[str, ...] = ANGLE_COLUMNS
    sakoe_chiba_radius: int | None = Field(default=None, ge=0)
    nan_policy: str = Field(default="interpolate", pattern="^(interpolate|drop)$")


def prepare_sequence(features: pl.DataFrame, config: DTWConfig) -> np.ndarray:
    """Feature matrix ``(T, D)`` float64 from ``features`` rows, NaN handled by ``config.nan_policy``.

    Returns an array with ``T = 0`` when no usable frame remains.

    Raises:
        KeyError: a configured column is missing.
    """
    missing = [c for c in config.columns if c not in features.columns]
    if missing:
        raise KeyError(f"features has no column(s) {missing}")
    x = features.select(config.columns).cast(pl.Float64).fill_null(np.nan).to_numpy()
    if config.nan_policy == "drop":
        return x[np.isfinite(x).all(axis=1)]
    if (~np.isfinite(x)).all(axis=0).any():  # a column with no valid sample cannot be interpolated
        return np.zeros((0, x.shape[1]))
    return fill_gaps(x, hold_ends=True)


def dtw_distance(a: np.ndarray, b: np.ndarray, *, sakoe_chiba_radius: int | None = None) -> tuple[float, int]:
    """Exact DTW between ``a`` ``(Ta, D)`` and ``b`` ``(Tb, D)``.

    Returns:
        ``(distance, path_length)`` — distance in feature units (tslearn convention, see module docstring).
    Raises:
        ValueError: empty sequences or different feature dimensions.
    """
    from tslearn.metrics import dtw_path

    if len(a) == 0 or len(b) == 0:
        raise ValueError("DTW needs two non-empty sequences")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    kw = {}
    if sakoe_chiba_radius is not None:
        kw = {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": int(sakoe_chiba_radius)}
    path, dist = dtw_path(a, b, **kw)
    return float(dist), len(path)


def pairwise_dtw(sequences: dict[str, np.ndarray], *, sakoe_chiba_radius: int | None = None) -> pl.DataFrame:
    """All-pairs DTW as a long table with one row per ordered pair ``(a, b)`` including the diagonal.

    Columns: ``a``, ``b`` (sequence labels), ``distance``, ``path_length``, ``rms_distance``.  The matrix is
    symmetric; each unordered pair is computed once.
    """
    labels = list(sequences)
    res: dict[tuple[str, str], tuple[float, int]] = {}
    for x in labels:
        res[(x, x)] = (0.0, len(sequences[x]))
    for x, y in itertools.combinations(labels, 2):
        res[(x, y)] = res[(y, x)] = dtw_distance(sequences[x], sequences[y], sakoe_chiba_radius=sakoe_chiba_radius)
    rows = [(x, y, *res[(x, y)]) for x in labels for y in labels]
    df = pl.DataFrame(rows, schema={"a": pl.Utf8, "b": pl.Utf8, "distance": pl.Float64, "path_length": pl.Int32},
                      orient="row")  # fmt: skip
    return df.with_columns(rms_distance=pl.col("distance") / pl.col("path_length").cast(pl.Float64).sqrt())


def repetition_sequences(
    features: pl.DataFrame, segments: pl.DataFrame, config: DTWConfig
) -> dict[str, np.ndarray]:
    """One DTW sequence per repetition ``[start_frame, end_frame)`` of ``segments``, labelled ``rep_<n>``."""
    full = prepare_sequence(features, config.model_copy(update={"nan_policy": "interpolate"}))
    out = {}
    for row in segments.iter_rows(named=True):
        seq = full[row["start_frame"] : row["end_frame"]]
        if len(seq):
            out[f"rep_{row['repetition']}"] = seq
    return out
