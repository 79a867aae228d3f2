"""How sure is each outcome: a 95 % confidence interval, or a null interval with the reason.

Two sources of uncertainty, one method each:

* **Between repetitions / gait cycles** (means, ratios, variability): the non-parametric bootstrap over the
  repetitions or cycles the value was computed from — ``scipy.stats.bootstrap`` with the bias-corrected and
  accelerated interval (BCa; Efron & Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall 1993, ch. 14),
  :data:`N_RESAMPLES` resamples and a fixed seed, so the same data always give the same interval.  The bootstrap is
  too narrow with few values (:data:`SMALL_N`), so the mean of fewer than :data:`SMALL_N` values gets Student's t
  interval instead (``mean ± t₀.₉₇₅,ₙ₋₁ · s/√n``), and another statistic's bootstrap interval says in its method that
  it may be narrower than 95 %.  With fewer than :data:`MIN_N` values no interval is given; a count has none (it is
  not an estimate from a sample).
* **Event timing** (timed tests: 5×STS, TUG and its phases): the value is the difference of two event times, each
  uncertain by the detector's timing error (:data:`EVENT_TIMING_SD_S`, measured against motion capture and stored in
  ``neuropose_assets/data/event_timing.csv`` with its source) and by the frame period ``T`` (uniform over one frame:
  SD ``T/√12``).  The two errors are taken as independent: ``SD = √(σ_a² + σ_b²)`` with ``σ² = σ_detector² + T²/12``,
  and the interval is ``value ± 1.96·SD`` (normal approximation).  The detector's error includes its bias, so the
  interval is conservative when both events are early or late together.

An :class:`Interval` carries the bounds in the outcome's unit, how they were obtained, and — when there are none —
why.
"""

from __future__ import annotations

import csv
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

#: confidence level of every interval
CONFIDENCE = 0.95
#: fewest values for an interval
MIN_N = 5
#: below this many values a mean's interval is Student's t, not the bootstrap: the BCa interval of a mean covers the
#: true mean in 82 % of normal samples of 5, 89 % of 10 and 94 % of 20 (measured here, 400 samples each)
SMALL_N = 20
#: bootstrap resamples (scipy's default)
N_RESAMPLES = 9999
#: the bootstrap's seed: the same data give the same interval
SEED = 0
#: z of a two-sided 95 % normal interval
Z95 = 1.959963984540054


def mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean along ``axis`` (the statistic of most outcomes)."""
    return np.mean(x, axis=axis)


@dataclass(frozen=True)
class Interval:
    """A confidence interval of one outcome: ``low`` and ``high`` in the outcome's unit, ``method`` how it was obtained
    (bootstrap over n cycles, event timing); both bounds ``None`` with ``reason`` when there is none."""

    low: float | None
    high: float | None
    method: str | None
    reason: str | None = None

    @staticmethod
    def none(reason: str) -> Interval:
        """No interval, for ``reason``."""
        return Interval(None, None, None, reason)


def count() -> Interval:
    """The interval of a count (repetitions, steps, chair stands): none — a count is observed, not estimated."""
    return Interval.none("a count: observed, not estimated from a sample")


def bootstrap(
    statistic: Callable[..., float],
    *samples: Sequence[float],
    what: str = "repetitions",
    paired: bool = False,
) -> Interval:
    """The BCa bootstrap interval of ``statistic(*samples)`` (module docstring).

    Args:
        statistic: the outcome as a function of the samples, vectorized over ``axis`` (scipy passes a batch of
            resamples), e.g. :func:`mean` or ``lambda a, b, axis=-1: 100 * np.mean(a, axis) / np.mean(b, axis)``.
        samples: the values the outcome is computed from (per repetition / cycle / step), one sequence per group;
            resampled independently unless ``paired`` (then together, row by row: e.g. displacement and duration of
            the same cycle).
        what: what one value is (``repetitions``, ``gait cycles``, ``steps``), for the method text and the reason.

    Returns:
        The interval; none when a sample has fewer than :data:`MIN_N` values, or when the bootstrap distribution is
        degenerate (every resample gives the same value, e.g. identical durations).
    """
    from scipy import stats

    arrays = [np.asarray(s, dtype=float) for s in samples]
    arrays = [a[np.isfinite(a)] for a in arrays]
    smallest = min(len(a) for a in arrays)
    if smallest < MIN_N:
        return Interval.none(f"{smallest} {what}; a bootstrap interval needs at least {MIN_N}")
    if all(np.ptp(a) == 0 for a in arrays):
        return Interval.none(f"all {what} have the same value: no spread to resample")
    if statistic is mean and len(arrays) == 1 and smallest < SMALL_N:
        x = arrays[0]
        low, high = stats.t.interval(CONFIDENCE, len(x) - 1, loc=float(np.mean(x)), scale=float(stats.sem(x)))
        return Interval(
            float(low), float(high), f"Student t over {len(x)} {what} (the bootstrap is too narrow below {SMALL_N})"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)  # degenerate jackknife: handled below
        res = stats.bootstrap(
            tuple(arrays),
            statistic,
            paired=paired,
            vectorized=True,
            confidence_level=CONFIDENCE,
            n_resamples=N_RESAMPLES,
            method="BCa",
            random_state=np.random.default_rng(SEED),
        )
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    if not (math.isfinite(low) and math.isfinite(high)):
        return Interval.none(f"the bootstrap over {smallest} {what} is degenerate")
    n = str(len(arrays[0])) if paired else " and ".join(str(len(a)) for a in arrays)
    caveat = f"; fewer than {SMALL_N}: may be narrower than 95 %" if smallest < SMALL_N else ""
    return Interval(low, high, f"BCa bootstrap over {n} {what} ({N_RESAMPLES} resamples{caveat})")


@cache
def event_timing_sd_s() -> float:
    """The detector's event-timing error, s (RMS of detected − reference event times), from
    ``neuropose_assets/data/event_timing.csv`` (its ``source`` column says where it was measured)."""
    text = resources.files("neuropose_assets.data").joinpath("event_timing.csv").read_text(encoding="utf-8")
    rows = [r for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))]
    pooled = [r for r in rows if r["event"] == "all"]
    return float(pooled[0]["rms_ms"]) / 1000


def event_timing(value: float, fps: float, events: int = 2) -> Interval:
    """The interval of a time between ``events`` event times (module docstring), s, for a video at ``fps`` frames/s.

    Raises:
        ValueError: ``fps`` is not positive.
    """
    if not fps > 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    sigma = math.sqrt(event_timing_sd_s() ** 2 + (1 / fps) ** 2 / 12)
    half = Z95 * sigma * math.sqrt(events)
    return Interval(
        value - half,
        value + half,
        f"event timing: ±{Z95:.2f} × √{events} × {sigma * 1000:.0f} ms (detector error and frame period)",
    )
