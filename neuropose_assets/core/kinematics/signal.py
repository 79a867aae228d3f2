"""Signal conditioning shared by features, segmentation and DTW: gap filling and zero-phase low-pass filtering.

Arrays are ``(F,)`` or ``(F, K)`` (frames first); NaN marks a missing sample.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfiltfilt

#: points of a time-normalised repetition or gait cycle: 0, 1, …, 100 % (the convention of gait-analysis curves)
CYCLE_POINTS = 101


def fill_gaps(
    x: np.ndarray, max_gap: int | None = None, *, hold_ends: bool = False, t: np.ndarray | None = None
) -> np.ndarray:
    """Linear interpolation over runs of NaN along axis 0.

    Args:
        x: ``(F,)`` or ``(F, K)``.
        max_gap: longest run (frames) that is filled; longer runs stay NaN.  ``None`` = no limit.
        hold_ends: also fill leading/trailing runs with the nearest valid value (within ``max_gap``).
        t: ``(F,)`` sample times, s: interpolate in time rather than by index (variable frame rate video).
    Returns:
        a float64 copy; a column without any valid sample stays all-NaN.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(len(out), -1)
    idx = np.arange(len(out)) if t is None else np.asarray(t, dtype=np.float64)
    limit = np.inf if max_gap is None else max_gap
    for k in range(flat.shape[1]):
        col = flat[:, k]
        bad = ~np.isfinite(col)
        if not bad.any() or bad.all():
            continue
        good = ~bad
        filled = np.interp(idx, idx[good], col[good])
        # length of the NaN run each sample belongs to, and whether that run touches an end
        edges = np.flatnonzero(np.diff(np.concatenate(([0], bad.view(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2]):
            at_end = start == 0 or stop == len(col)
            if stop - start <= limit and (hold_ends or not at_end):
                col[start:stop] = filled[start:stop]
    return out


def filter_description(cutoff_hz: float, order: int = 4) -> dict:
    """What :func:`lowpass` applies, stated exactly (for provenance and methods sections): a Butterworth design of
    ``order`` run forward and backward, i.e. zero phase, effective order ``2 × order`` and −6.02 dB (half amplitude)
    at the cut-off — the −3 dB point of each pass.  Papers saying "4th-order Butterworth, 6 Hz, zero-lag" mean either
    order 4 per pass (this default) or order 2 per pass (Pose2Sim halves the order before filtfilt)."""
    return {
        "design": "Butterworth low-pass (scipy.signal.butter, second-order sections)",
        "cutoff_hz": cutoff_hz,
        "order_per_pass": order,
        "passes": "2 (forward and backward, scipy.signal.sosfiltfilt)",
        "effective_order": 2 * order,
        "phase": "zero",
        "gain_at_cutoff_db": -6.02,
    }


def lowpass(x: np.ndarray, cutoff_hz: float, fs_hz: float, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass along axis 0: a Butterworth filter of ``order`` (per pass;
    :func:`scipy.signal.butter`) applied forward and backward (:func:`scipy.signal.sosfiltfilt`), so the effective
    order is ``2 × order`` and the cut-off is the −6 dB point (:func:`filter_description`).

    NaN runs split a column into segments that are filtered separately; a segment too short for the filter's
    padding (``3·(2·sections + 1)`` samples), or a cut-off at or above Nyquist, is returned unfiltered.

    Args:
        x: ``(F,)`` or ``(F, K)``; cutoff_hz: cut-off frequency, Hz; fs_hz: sampling rate, Hz.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    if cutoff_hz >= fs_hz / 2:
        return out
    sos = butter(order, cutoff_hz, btype="low", fs=fs_hz, output="sos")
    padlen = 3 * (2 * len(sos) + 1)
    flat = out.reshape(len(out), -1)
    for k in range(flat.shape[1]):
        col = flat[:, k]
        good = np.isfinite(col)
        edges = np.flatnonzero(np.diff(np.concatenate(([0], good.view(np.int8), [0]))))
        for start, stop in zip(edges[::2], edges[1::2]):
            if stop - start > padlen:
                col[start:stop] = sosfiltfilt(sos, col[start:stop])
    return out


def is_uniform(t: np.ndarray, rtol: float = 0.01) -> bool:
    """Whether sample times ``t`` ``(F,)`` are equally spaced (within ``rtol`` of the median interval)."""
    if len(t) < 3:
        return True
    d = np.diff(t)
    return bool(np.all(np.abs(d - np.median(d)) <= rtol * np.median(d)))


def lowpass_times(x: np.ndarray, t: np.ndarray, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """:func:`lowpass` for samples at times ``t`` ``(F,)`` s.  Equally spaced samples are filtered directly; otherwise
    (variable frame rate video) each column is resampled linearly to a uniform grid at the median interval, filtered
    there, and interpolated back to ``t`` — a digital filter assumes a constant sampling rate.  NaN samples stay NaN.
    """
    out = np.array(x, dtype=np.float64, copy=True)
    if len(t) < 2:
        return out
    dt = float(np.median(np.diff(t)))
    if is_uniform(t):
        return lowpass(out, cutoff_hz, 1.0 / dt, order)
    grid = t[0] + dt * np.arange(int(np.floor((t[-1] - t[0]) / dt)) + 1)
    flat = out.reshape(len(out), -1)
    for k in range(flat.shape[1]):
        col = flat[:, k]
        good = np.isfinite(col)
        if good.sum() < 2:
            continue
        on_grid = np.interp(grid, t[good], col[good])
        # grid points inside a run of missing samples stay missing (the filter then treats it as a gap)
        nearest = np.clip(np.searchsorted(t, grid), 1, len(t) - 1)
        missing = ~good[nearest] | ~good[nearest - 1]
        on_grid[missing] = np.nan
        filtered = lowpass(on_grid, cutoff_hz, 1.0 / dt, order)
        ok = np.isfinite(filtered)
        if ok.sum() >= 2:
            col[good] = np.interp(t[good], grid[ok], filtered[ok])
    return out
