"""Clinical-joint trajectories and joint angles of the subject (the ``features`` table).

From the ``poses`` table (native joints of any model) we take the subject's rows, map the native joints onto the
clinical joint set (:mod:`.skeletons`), and compute:

* ``root_{x,y,z}_mm``: the pelvis in the model's 3D frame (all zeros for BlazePose, whose origin *is* the hip
  midpoint; absolute camera coordinates for MeTRAbs);
* ``{joint}_{x,y,z}_mm``: every clinical joint **root-centred** (pelvis subtracted), camera-aligned axes
  (x right, y down, z away from the camera), mm;
* ``{joint}_{u,v}_px``: the clinical joints in the image, px (image-space signals such as pelvis height for
  sit-to-stand with a hip-centred model);
* joint angles in **degrees** (see :data:`ANGLES`), and ``trunk_inclination_deg``.

Frames in which the subject was not detected stay in the table with ``subject_present = false`` and null values:
gaps are explicit, never silently filled.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from neuropose_assets.core.skeletons import CLINICAL_JOINTS, Skeleton

#: Included-angle definitions: name -> (proximal, vertex, distal).  Value = 180° − ∠(proximal, vertex, distal),
#: so a straight limb is 0° and flexion is positive.  These are 3D (unsigned) angles: hyperextension also reads as
#: a small positive value.
ANGLES: dict[str, tuple[str, str, str]] = {
    "left_knee_flexion_deg": ("left_hip", "left_knee", "left_ankle"),
    "right_knee_flexion_deg": ("right_hip", "right_knee", "right_ankle"),
    "left_hip_flexion_deg": ("left_shoulder", "left_hip", "left_knee"),
    "right_hip_flexion_deg": ("right_shoulder", "right_hip", "right_knee"),
    "left_elbow_flexion_deg": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_elbow_flexion_deg": ("right_shoulder", "right_elbow", "right_wrist"),
}
ANGLE_COLUMNS: tuple[str, ...] = (*ANGLES, "trunk_inclination_deg")


def included_angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle at ``b`` between the segments ``b→a`` and ``b→c``, radians in ``[0, π]``.

    Args:
        a, b, c: ``(..., 3)`` points (any length unit).
    Returns:
        ``(...)`` angles in rad; NaN where a segment has zero length or a point is NaN.
    """
    u, v = a - b, c - b
    nu, nv = np.linalg.norm(u, axis=-1), np.linalg.norm(v, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.einsum("...i,...i->...", u, v) / (nu * nv)
    cos = np.where((nu > 0) & (nv > 0), cos, np.nan)
    return np.arccos(np.clip(cos, -1.0, 1.0))


def flexion_deg(proximal: np.ndarray, vertex: np.ndarray, distal: np.ndarray) -> np.ndarray:
    """Flexion = 180° − included angle at ``vertex``, degrees (0° = straight limb)."""
    return 180.0 - np.degrees(included_angle(proximal, vertex, distal))


def inclination_deg(lower: np.ndarray, upper: np.ndarray, up: np.ndarray = np.array([0.0, -1.0, 0.0])) -> np.ndarray:
    """Angle between the segment ``lower→upper`` and the ``up`` direction, degrees in ``[0, 180]``.

    The default ``up`` is −y, the camera's vertical in the camera-aligned frame (y points down).
    """
    return np.degrees(included_angle(upper, lower, lower + up))


def subject_arrays(poses: pl.DataFrame, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Subject trajectory on the clinical joint set, one entry per decoded frame.

    Returns:
        ``frames`` int ``(F,)``, ``times`` float ``(F,)`` s, ``xyz`` float64 ``(F, C, 3)`` mm (model frame, not
        centred), ``uv`` float64 ``(F, C, 2)`` px; NaN where the subject is absent.  ``C = len(CLINICAL_JOINTS)``.
    """
    frames_all = poses.select("frame", "time_s").unique("frame", keep="first").sort("frame")
    sub = poses.filter(pl.col("is_subject")).unique("frame", keep="first").sort("frame")
    f_all = frames_all["frame"].to_numpy()
    idx = np.searchsorted(f_all, sub["frame"].to_numpy())
    nj = len(skeleton.joints)
    native = np.full((len(f_all), nj, 5), np.nan)
    cols = [f"{j}_{s}" for j in skeleton.joints for s in ("x_mm", "y_mm", "z_mm", "u_px", "v_px")]
    if sub.height:
        native[idx] = sub.select(cols).to_numpy().astype(np.float64).reshape(sub.height, nj, 5)
    m = skeleton.clinical_matrix()  # (C, J)
    clinical = np.einsum("cj,fjk->fck", m, native)
    return f_all, frames_all["time_s"].to_numpy(), clinical[..., :3], clinical[..., 3:]


def compute_features(poses: pl.DataFrame, skeleton: Skeleton) -> pl.DataFrame:
    """Build the ``features`` table (see module docstring) from a ``poses`` table of ``skeleton``."""
    frames, times, xyz, uv = subject_arrays(poses, skeleton)
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    root = xyz[:, ci["pelvis"], :]
    centred = xyz - root[:, None, :]
    present = ~np.isnan(xyz).all(axis=(1, 2))
    data: dict[str, pl.Series] = {
        "frame": pl.Series("frame", frames, pl.Int32),
        "time_s": pl.Series("time_s", times, pl.Float64),
        "subject_present": pl.Series("subject_present", present),
    }

    def add(name: str, values: np.ndarray) -> None:
        data[name] = pl.Series(name, values, pl.Float64, nan_to_null=True)

    for k, axis in enumerate("xyz"):
        add(f"root_{axis}_mm", root[:, k])
    for j, name in enumerate(CLINICAL_JOINTS):
        for k, axis in enumerate("xyz"):
            add(f"{name}_{axis}_mm", centred[:, j, k])
    for j, name in enumerate(CLINICAL_JOINTS):
        for k, axis in enumerate("uv"):
            add(f"{name}_{axis}_px", uv[:, j, k])
    for col, (a, b, c) in ANGLES.items():
        add(col, flexion_deg(xyz[:, ci[a]], xyz[:, ci[b]], xyz[:, ci[c]]))
    add("trunk_inclination_deg", inclination_deg(xyz[:, ci["pelvis"]], xyz[:, ci["neck"]]))
    return pl.DataFrame(data)
