"""Procrustes alignment of 3D point sets (Kabsch algorithm with reflection guard, optional scale).

Kabsch, "A solution for the best rotation to relate two sets of vectors", Acta Cryst. A32 (1976); with scale:
Umeyama, "Least-squares estimation of transformation parameters between two point patterns", IEEE TPAMI 13 (1991).
Given source points ``S`` and target points ``T`` (``(N, 3)``), find rotation ``R`` (det +1), scale ``s`` and
translation ``t`` minimising ``Σ‖s R S_i + t − T_i‖²``.  NaN points are left out of the fit (and stay NaN in the
output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

ProcrustesMode = Literal["per_sequence", "per_frame"]


@dataclass(frozen=True)
class AlignmentDiagnostics:
    """How much alignment changed the source.

    Attributes:
        mode: ``"per_sequence"`` (one transform for all frames) or ``"per_frame"``.
        rotation_deg: rotation angle of ``R`` in degrees (per-frame mode: mean over frames).
        rotation_deg_max: largest per-frame rotation (equals ``rotation_deg`` per sequence).
        translation_mm: ‖t‖ in the input unit, normally mm (per-frame mode: mean).
        translation_mm_max: largest per-frame ‖t‖.
        scale: fitted scale (1.0 without scaling; per-frame mode: mean).
        residual_mm: RMS distance between aligned source and target points after alignment.
    """

    mode: str
    rotation_deg: float
    rotation_deg_max: float
    translation_mm: float
    translation_mm_max: float
    scale: float
    residual_mm: float


def kabsch(source: np.ndarray, target: np.ndarray, *, scale: bool = False) -> tuple[np.ndarray, float, np.ndarray]:
    """Best ``(R (3, 3), s, t (3,))`` mapping ``source`` ``(N, 3)`` onto ``target`` ``(N, 3)``; NaN rows are ignored.

    Raises:
        ValueError: shapes differ, the last axis is not 3, or fewer than 3 valid point pairs remain.
    """
    source, target = np.asarray(source, float), np.asarray(target, float)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 3:
        raise ValueError(f"expected two (N, 3) arrays of the same shape, got {source.shape} and {target.shape}")
    ok = np.isfinite(source).all(axis=1) & np.isfinite(target).all(axis=1)
    if ok.sum() < 3:
        raise ValueError("Procrustes needs at least 3 valid point pairs")
    a, b = source[ok], target[ok]
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    a0, b0 = a - ca, b - cb
    u, sig, vt = np.linalg.svd(a0.T @ b0)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0  # reflection guard
    diag = np.array([1.0, 1.0, d])
    r = vt.T @ np.diag(diag) @ u.T
    var = (a0**2).sum()
    s = float((sig * diag).sum() / var) if scale and var > 0 else 1.0
    t = cb - s * r @ ca
    return r, s, t


def _angle_deg(r: np.ndarray) -> float:
    """Rotation angle of ``r``, degrees: atan2(sin, cos) from the axis-angle form, accurate near 0° (arccos is not)."""
    w = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return float(np.degrees(np.arctan2(np.linalg.norm(w) / 2.0, (np.trace(r) - 1.0) / 2.0)))


def procrustes_align(
    source: np.ndarray, target: np.ndarray, *, mode: ProcrustesMode = "per_sequence", scale: bool = False
) -> tuple[np.ndarray, AlignmentDiagnostics]:
    """Align a pose sequence ``source`` ``(F, J, 3)`` to ``target`` ``(F, J, 3)``; ``target`` is unchanged.

    Returns:
        the aligned source ``(F, J, 3)`` and :class:`AlignmentDiagnostics`.
    Raises:
        ValueError: shapes differ, the last axis is not 3, or an unknown mode.
    """
    source, target = np.asarray(source, float), np.asarray(target, float)
    if source.shape != target.shape or source.ndim != 3 or source.shape[2] != 3:
        raise ValueError(f"expected two (F, J, 3) arrays of the same shape, got {source.shape} and {target.shape}")
    if mode == "per_sequence":
        r, s, t = kabsch(source.reshape(-1, 3), target.reshape(-1, 3), scale=scale)
        out = s * source @ r.T + t
        rots, trans, scales = [_angle_deg(r)], [float(np.linalg.norm(t))], [s]
    elif mode == "per_frame":
        out = np.full_like(source, np.nan)
        rots, trans, scales = [], [], []
        for f in range(source.shape[0]):
            try:
                r, s, t = kabsch(source[f], target[f], scale=scale)
            except ValueError:  # too few valid joints in this frame: leave it NaN
                continue
            out[f] = s * source[f] @ r.T + t
            rots.append(_angle_deg(r))
            trans.append(float(np.linalg.norm(t)))
            scales.append(s)
        if not rots:
            raise ValueError("no frame has 3 valid joint pairs to align")
    else:
        raise ValueError(f"unknown Procrustes mode {mode!r}; use 'per_sequence' or 'per_frame'")
    resid = np.sqrt(np.nanmean(np.sum((out - target) ** 2, axis=-1)))
    diag = AlignmentDiagnostics(
        mode=mode,
        rotation_deg=float(np.mean(rots)),
        rotation_deg_max=float(np.max(rots)),
        translation_mm=float(np.mean(trans)),
        translation_mm_max=float(np.max(trans)),
        scale=float(np.mean(scales)),
        residual_mm=float(resid),
    )
    return out, diag
