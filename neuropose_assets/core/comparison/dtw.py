"""Exact dynamic time warping (DTW) between feature sequences, via tslearn.

Cost conventions (``DTWConfig.convention``):
    * ``"tslearn"`` (default): local cost = squared Euclidean distance between frames; distance = **square root of the
      summed squared frame distances along the optimal path** (:func:`tslearn.metrics.dtw_path`).
      ``normalized_distance = distance / sqrt(path_length)`` = RMS frame distance along the path.
    * ``"sum_euclidean"``: local cost = Euclidean distance; distance = **sum of Euclidean frame distances along the
      optimal path** (:func:`tslearn.metrics.dtw_path_from_metric` on a :func:`scipy.spatial.distance.cdist` cost
      matrix), the convention of the NeuroPose analyzer (which
      approximated it with fastdtw; this is the exact value).  ``normalized_distance = distance / path_length``.
Units are those of the features (deg for angles, mm for coordinates).  Both are exact (full dynamic programming;
Sakoe & Chiba, IEEE TASSP 1978), optionally restricted to a Sakoe-Chiba band of ``sakoe_chiba_radius`` frames.

Representations: joint ``angles`` (feature columns), root-centred ``coords`` of clinical joints (optionally Procrustes
aligned to the other sequence first — also for sequences of different lengths), the ``relation`` (displacement
vector) between two joints, each either over all units at once or ``per_joint`` (one DTW per joint or angle).

tslearn (numba) is imported lazily; :func:`enable_numba_cache` makes its JIT compilation persistent across processes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import uuid
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field, model_validator

from neuropose_assets.core.comparison.alignment import procrustes_align
from neuropose_assets.core.kinematics.features import DTW_ANGLES
from neuropose_assets.core.kinematics.signal import CYCLE_POINTS, fill_gaps
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS
from neuropose_assets.core.models import STRICT


def result_schema() -> dict:
    """The schema of a DTW table (the ``repetition_dtw`` contract: ``a, b, unit, distance, path_length,
    normalized_distance``)."""
    from data_contracts import polars_schema  # the contracts are the one schema source

    return polars_schema("repetition_dtw")


class DTWConfig(BaseModel):
    """What is compared and how.

    Attributes:
        representation: ``angles`` (``columns``), ``coords`` (``joints``' root-centred x/y/z, mm) or ``relation``
            (``pair[1] − pair[0]``, mm).
        columns: angle (or any feature) columns for ``angles``; default: every angle column.
        joints: clinical joints for ``coords`` (default: all).
        pair: two clinical joints for ``relation``.
        per_joint: one DTW per joint (coords) or per column (angles) instead of one over all.
        align: Procrustes alignment of ``a`` onto ``b`` before DTW (coords only).
        convention: cost convention (module docstring).
        sakoe_chiba_radius: band half-width, frames (``None`` = unconstrained).
        nan_policy: ``propagate`` (a NaN makes the comparison fail), ``interpolate`` (linear, ends held), ``drop``
            (frames with any NaN are removed).
    """

    model_config = STRICT

    representation: Literal["angles", "coords", "relation"] = "angles"
    columns: tuple[str, ...] = DTW_ANGLES
    joints: tuple[str, ...] = CLINICAL_JOINTS
    pair: tuple[str, str] | None = None
    per_joint: bool = False
    align: Literal["none", "procrustes_per_sequence", "procrustes_per_frame"] = "none"
    convention: Literal["tslearn", "sum_euclidean"] = "tslearn"
    sakoe_chiba_radius: int | None = Field(default=None, ge=0)
    nan_policy: Literal["propagate", "interpolate", "drop"] = "interpolate"

    @model_validator(mode="after")
    def _check(self) -> DTWConfig:
        unknown = [j for j in (*self.joints, *(self.pair or ())) if j not in CLINICAL_JOINTS]
        if unknown:
            raise ValueError(f"unknown clinical joint(s) {unknown}")
        if self.representation == "relation" and (self.pair is None or self.pair[0] == self.pair[1]):
            raise ValueError("representation 'relation' needs pair=(joint_a, joint_b) with two different joints")
        if self.align != "none" and self.representation != "coords":
            raise ValueError("Procrustes alignment applies to representation 'coords' only")
        if self.align == "procrustes_per_frame" and self.per_joint:
            raise ValueError(
                "per-frame Procrustes needs several joints per frame; it cannot run per_joint (one joint "
                "has no rotation to fit): "
                "use align 'procrustes_per_sequence' or per_joint false"
            )
        return self

    def fingerprint(self) -> str:
        """SHA-256 (16 hex) of the config's canonical JSON: a previous cohort matrix is reused only under the same
        fingerprint (:func:`reusable_pairs`)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class RepetitionDTWConfig(DTWConfig):
    """DTW between the repetitions (gait cycles) of one video.

    Attributes:
        max_repetitions_per_side: compare at most this many repetitions per side, evenly spaced over the recording
            (first and last included; :func:`spread`). All pairs cost O(n²) DTWs: a 10-minute walk has ~700 cycles
            per side, i.e. ~250 000 pairs, where 100 cycles (4 950 pairs) already describe the consistency of the
            gait. ``None`` compares every repetition. The selection is recorded (metadata, provenance).
    """

    max_repetitions_per_side: int | None = Field(default=100, ge=2)


def spread(n: int, k: int | None) -> list[int]:
    """``min(n, k)`` indices into ``range(n)``, evenly spaced, first and last included (all when ``k`` is None)."""
    if k is None or n <= k:
        return list(range(n))
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, k)})


class CohortDTWConfig(DTWConfig):
    """DTW across the videos of a cohort.

    Attributes:
        allow_mixed_models: compare outputs of different pose models (their distances are not comparable).
        samples: points per time-normalised mean repetition / gait cycle (0–100 %).
    """

    allow_mixed_models: bool = False
    samples: int = Field(default=CYCLE_POINTS, ge=2)

    def dtw(self) -> DTWConfig:
        """The DTW settings alone (what the distances depend on, apart from ``samples``)."""
        return DTWConfig(**self.model_dump(exclude={"allow_mixed_models", "samples"}))


def enable_numba_cache(cache_dir: str | os.PathLike | None = None) -> None:
    """Persist tslearn's numba compilations on disk (``$NUMBA_CACHE_DIR`` or ``cache_dir``), so only the first process
    on a machine pays the JIT cost.  Call before the first DTW; safe to call repeatedly."""
    if cache_dir is not None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache_dir))
    import tslearn.metrics  # noqa: F401  (imports the jitted modules)
    from numba.core.registry import CPUDispatcher

    dispatchers = {}
    for name, mod in list(sys.modules.items()):
        if name.startswith("tslearn") and mod is not None:
            for obj in list(vars(mod).values()):
                if isinstance(obj, CPUDispatcher) and not getattr(obj, "_np_cache_enabled", False):
                    dispatchers[id(obj)] = obj
    names = [f"{d.py_func.__module__}.{d.py_func.__qualname__}" for d in dispatchers.values()]
    for d, name in zip(dispatchers.values(), names):
        # tslearn's DTW kernels are closures over other jitted functions, and numba keys a closure's cache entry by
        # the pickled closure cells — which hold each dispatcher's random per-process UUID. So the cache never hit:
        # every process compiled dtw_path again (~2 s). A UUID derived from the function's name is the same in every
        # process; it is only set when unset, and only when the name is unique (it also identifies the dispatcher
        # when unpickled, which is what the name does too).
        if names.count(name) == 1 and d._MemoMixin__uuid is None:  # noqa: SLF001
            d._set_uuid(str(uuid.uuid5(uuid.NAMESPACE_URL, f"neuropose-assets:numba:{name}")))  # noqa: SLF001
        d.enable_caching()
        d._np_cache_enabled = True


def warm_up(cache_dir: str | os.PathLike | None = None) -> None:
    """Import tslearn and compile its DTW kernels in this process (from the numba cache of :func:`enable_numba_cache`
    when it has them), for both conventions and with a Sakoe–Chiba band, so that a long-lived worker's first video
    does not pay it (the ``repetition_dtw`` step in warm runs: 0.96 → 0.13 s, benchmarks/bench_cohort_throughput.py)."""
    enable_numba_cache(cache_dir)
    a, b = np.linspace(0.0, 1.0, 12).reshape(4, 3), np.linspace(1.0, 0.0, 15).reshape(5, 3)
    for convention in ("tslearn", "sum_euclidean"):
        dtw_distance(a, b, convention=convention)
        dtw_distance(a, b, convention=convention, sakoe_chiba_radius=2)


def _values(features: pl.DataFrame, names: list[str]) -> np.ndarray:
    missing = [c for c in names if c not in features.columns]
    if missing:
        raise KeyError(f"features has no column(s) {missing}")
    return features.select(names).cast(pl.Float64).fill_null(np.nan).to_numpy()


def extract_units(features: pl.DataFrame, config: DTWConfig) -> dict[str, np.ndarray]:
    """The sequences to compare for one video (or repetition): ``{unit: (T, D)}``, or ``(T, C, 3)`` for coords.

    Units: ``"all"`` unless ``per_joint`` (then one per joint / column).  Coordinates keep their joint axis so they can
    be Procrustes-aligned; they are flattened just before DTW.
    """
    if config.representation == "angles":
        x = _values(features, list(config.columns))
        return {c: x[:, [i]] for i, c in enumerate(config.columns)} if config.per_joint else {"all": x}
    if config.representation == "relation":
        a, b = config.pair  # type: ignore[misc]
        pa = _values(features, [f"{a}_{k}_mm" for k in "xyz"])
        pb = _values(features, [f"{b}_{k}_mm" for k in "xyz"])
        return {f"{a}->{b}": pb - pa}
    x = _values(features, [f"{j}_{k}_mm" for j in config.joints for k in "xyz"]).reshape(-1, len(config.joints), 3)
    return {j: x[:, [c]] for c, j in enumerate(config.joints)} if config.per_joint else {"all": x}


def has_data(units: dict[str, np.ndarray]) -> bool:
    """Whether at least one unit has a finite sample (a video where nobody was seen has none)."""
    return any(np.isfinite(x).any() for x in units.values())


def _nan_policy(x: np.ndarray, policy: str) -> np.ndarray:
    if policy == "propagate":
        if not np.isfinite(x).all():
            raise ValueError("sequence contains NaN (missing frames); use nan_policy 'interpolate' or 'drop'")
        return x
    if policy == "drop":
        return x[np.isfinite(x.reshape(len(x), -1)).all(axis=1)]
    flat = x.reshape(len(x), -1)
    if (~np.isfinite(flat)).all(axis=0).any():
        return x[:0]  # a unit never observed: nothing to compare
    return fill_gaps(flat, hold_ends=True).reshape(x.shape)


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    """Linear resampling of ``(T, ...)`` to ``n`` frames over normalised time."""
    if len(x) == n:
        return x
    src = np.linspace(0.0, 1.0, len(x))
    dst = np.linspace(0.0, 1.0, n)
    flat = x.reshape(len(x), -1)
    return np.stack([np.interp(dst, src, flat[:, k]) for k in range(flat.shape[1])], axis=1).reshape(n, *x.shape[1:])


def align_to(a: np.ndarray, b: np.ndarray, mode: str) -> np.ndarray:
    """Procrustes-align coordinate sequence ``a`` ``(Ta, C, 3)`` onto ``b`` ``(Tb, C, 3)`` (rotation + translation).

    Sequences of different lengths are matched over normalised time: per sequence, one transform is fitted on both
    resampled to a common length and applied to the original ``a``; per frame, each frame of ``a`` is aligned to ``b``
    interpolated at the same normalised time.
    """
    if mode == "procrustes_per_sequence":
        n = max(len(a), len(b))
        from neuropose_assets.core.comparison.alignment import kabsch

        r, s, t = kabsch(_resample(a, n).reshape(-1, 3), _resample(b, n).reshape(-1, 3))
        return s * a @ r.T + t
    out, _ = procrustes_align(a, _resample(b, len(a)), mode="per_frame")
    return out


def dtw_distance(
    a: np.ndarray, b: np.ndarray, *, convention: str = "tslearn", sakoe_chiba_radius: int | None = None
) -> tuple[float, int]:
    """Exact DTW between ``a`` ``(Ta, D)`` and ``b`` ``(Tb, D)``: ``(distance, path_length)`` (module docstring).

    Raises:
        ValueError: empty sequences or different feature dimensions.
    """
    from tslearn.metrics import dtw_path, dtw_path_from_metric

    if len(a) == 0 or len(b) == 0:
        raise ValueError("DTW needs two non-empty sequences")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    # be="numpy": without it tslearn picks its backend from str(array) — a full text rendering of both sequences on
    # every call, which took ~90 % of the time of a video's all-pairs repetition DTW (tslearn 0.10)
    kw: dict = {"be": "numpy"}
    # C order: numba compiles its kernels for each memory layout, and a column selection of a polars table is
    # Fortran-ordered — every worker compiled a second set (~1.3 s) that warm_up and the numba cache did not hold
    a, b = np.ascontiguousarray(a, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)
    if sakoe_chiba_radius is not None:
        kw |= {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": int(sakoe_chiba_radius)}
    if convention == "sum_euclidean":
        from scipy.spatial.distance import cdist

        # scipy's cdist evaluates ‖a_i − b_j‖ directly (sklearn's pairwise form has ~1e-8 round-off at 0)
        path, dist = dtw_path_from_metric(cdist(a, b, "euclidean"), metric="precomputed", **kw)
    else:
        path, dist = dtw_path(a, b, **kw)
    return float(dist), len(path)


def _normalized(distance: float, length: int, convention: str) -> float:
    return distance / length if convention == "sum_euclidean" else distance / float(np.sqrt(length))


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray], config: DTWConfig) -> list[tuple[str, float, int]]:
    """DTW of every unit of ``a`` against the same unit of ``b``: ``[(unit, distance, path_length)]``.

    A unit with no usable frame on either side is skipped.  Raises ``ValueError`` under ``nan_policy='propagate'``
    when a sequence has NaN.
    """
    out = []
    for unit in a:
        if unit not in b:  # e.g. a side with no gait cycle in one of the two videos
            continue
        x, y = _nan_policy(a[unit], config.nan_policy), _nan_policy(b[unit], config.nan_policy)
        if len(x) == 0 or len(y) == 0:
            continue
        if config.align != "none":  # fitted on the unit's joints (all joints, or the one joint per_joint)
            x = align_to(x, y, config.align)
        d, n = dtw_distance(
            x.reshape(len(x), -1),
            y.reshape(len(y), -1),
            convention=config.convention,
            sakoe_chiba_radius=config.sakoe_chiba_radius,
        )
        out.append((unit, d, n))
    return out


def pairwise(
    sequences: dict[str, dict[str, np.ndarray]],
    config: DTWConfig,
    *,
    reuse: dict[tuple[str, str, str], tuple[float, int]] | None = None,
) -> tuple[pl.DataFrame, int]:
    """All-pairs DTW (each unordered pair once, diagonal 0) as a long table (:func:`result_schema`), one row per
    ordered pair and unit.  Pairs found in ``reuse`` (``(a, b, unit) -> (distance, path_length)``) are not recomputed.

    Returns:
        ``(table, computed)`` — ``computed`` = number of unordered pairs actually run through DTW.
    """
    reuse = reuse or {}
    labels = list(sequences)
    res: dict[tuple[str, str, str], tuple[float, int]] = {}
    computed = 0
    for x in labels:
        for unit, seq in sequences[x].items():
            res[(x, x, unit)] = (0.0, len(seq))
    for x, y in itertools.combinations(labels, 2):
        units = list(sequences[x])
        if all((x, y, u) in reuse for u in units):
            got = [(u, *reuse[(x, y, u)]) for u in units]
        else:
            got = compare(sequences[x], sequences[y], config)
            computed += 1
        for unit, d, n in got:
            res[(x, y, unit)] = res[(y, x, unit)] = (d, n)
    rows = [(a, b, u, d, n, _normalized(d, n, config.convention)) for (a, b, u), (d, n) in res.items()]
    df = pl.DataFrame(rows, schema=result_schema(), orient="row").sort("a", "b", "unit")
    return df, computed


def complete_only(repetitions: pl.DataFrame) -> pl.DataFrame:
    """The complete repetitions (:mod:`..analysis.events`: incomplete ones are listed but never compared or
    averaged)."""
    return repetitions.filter(pl.col("complete")) if "complete" in repetitions.columns else repetitions


def repetition_sequences(
    features: pl.DataFrame, repetitions: pl.DataFrame, config: DTWConfig, max_per_side: int | None = None
) -> dict[str | None, dict[str, dict[str, np.ndarray]]]:
    """Units of every complete repetition ``[start_frame, end_frame)``, grouped by side (``None`` for bilateral tasks)
    so that only repetitions of the same side are compared: ``{side: {label: units}}``, labels ``left_0``, ``rep_3``.
    With ``max_per_side``, at most that many per side, evenly spaced in time (:func:`spread`)."""
    units = extract_units(features, config)
    out: dict[str | None, dict[str, dict[str, np.ndarray]]] = {}
    for r in complete_only(repetitions).iter_rows(named=True):
        if r["end_frame"] > r["start_frame"]:
            label = f"{r.get('side') or 'rep'}_{r['repetition']}"
            out.setdefault(r.get("side"), {})[label] = {
                u: x[r["start_frame"] : r["end_frame"]] for u, x in units.items()
            }
    for side, seqs in out.items():
        labels = list(seqs)  # in recording order
        out[side] = {labels[i]: seqs[labels[i]] for i in spread(len(labels), max_per_side)}
    return out


def mean_repetition(
    features: pl.DataFrame, repetitions: pl.DataFrame, config: DTWConfig, samples: int = CYCLE_POINTS
) -> dict[str, np.ndarray]:
    """The time-normalised mean repetition of a video, per side: each repetition (gait cycle) is resampled to
    ``samples`` points over 0–100 % of its duration (linear interpolation, after ``config.nan_policy``) and the
    repetitions are averaged point by point.  Units are ``"<unit>"`` for bilateral tasks and ``"<unit>@<side>"``
    otherwise, so that a left cycle is only ever compared with a left cycle.

    Returns:
        ``{unit: (samples, ...)}``; empty when the video has no repetition.
    """
    units = extract_units(features, config)
    groups: dict[str, list[np.ndarray]] = {}
    for r in complete_only(repetitions).iter_rows(named=True):
        if r["end_frame"] - r["start_frame"] < 2:
            continue
        for u, x in units.items():
            seg = _nan_policy(x[r["start_frame"] : r["end_frame"]], config.nan_policy)
            if len(seg) >= 2:
                key = u if r.get("side") is None else f"{u}@{r['side']}"
                groups.setdefault(key, []).append(_resample(seg, samples))
    return {k: np.mean(np.stack(v), axis=0) for k, v in groups.items()}


def reusable_pairs(
    previous: pl.DataFrame | None, previous_meta: dict, fingerprints: dict[str, str], config: DTWConfig
) -> dict[tuple[str, str, str], tuple[float, int]]:
    """Rows of a previous cohort matrix that are still valid: same DTW config and both members unchanged."""
    if previous is None or previous_meta.get("dtw_config") != config.fingerprint():
        return {}
    old = previous_meta.get("member_fingerprints", {})
    same = {k for k, fp in fingerprints.items() if old.get(k) == fp}
    return {
        (r["a"], r["b"], r["unit"]): (r["distance"], r["path_length"])
        for r in previous.iter_rows(named=True)
        if r["a"] in same and r["b"] in same
    }


def config_json(config: DTWConfig) -> dict:
    """``config`` as a JSON-compatible dict (provenance and UI metadata)."""
    return json.loads(config.model_dump_json())
