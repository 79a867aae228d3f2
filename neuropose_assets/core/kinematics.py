"""Clinical-joint trajectories, joint angles and velocities of one person (the ``features`` table).

From the ``poses`` table (native joints of any model) we take the subject's rows (or any track's), map the native
joints onto the clinical joint set (:mod:`.skeletons`) and compute, per decoded frame:

* conditioning (:class:`FeaturesConfig`): gaps up to ``max_gap_s`` are filled linearly (longer gaps stay null and are
  counted), then a zero-phase Butterworth low-pass (``lowpass_hz``; order ``lowpass_order`` per pass, forward and
  backward: effective order 8 and −6 dB at the cut-off by default, :func:`.signal.filter_description`) is applied to 3D
  and 2D trajectories.  Both use the true frame times: with a variable frame rate, gaps are interpolated in time and
  the filter runs on a uniform resampling at the median interval, mapped back to the frame times
  (:func:`.signal.lowpass_times`);
* ``root_{x,y,z}_mm``: the pelvis in the model's 3D frame (all zeros for BlazePose, whose origin *is* the hip
  midpoint; absolute camera coordinates for MeTRAbs);
* ``{joint}_{x,y,z}_mm``: every clinical joint **root-centred** (pelvis subtracted), in the ``frame`` chosen:
  ``camera`` (x image-right, y down, z away from the camera) or ``body`` — the ISB-style body-fixed frame of each
  frame (x anterior, y superior = pelvis→neck, z to the subject's right; Wu et al., J Biomech 2002/2005);
* ``{joint}_{x,y,z}_norm`` (only with ``scale_segment``): the same divided by the subject's median length of that
  segment (dimensionless), so body size drops out;
* ``{joint}_{u,v}_px``: the clinical joints in the image, px;
* ``{joint}_speed_mm_s``: 3D speed (:func:`joint_speeds`: central differences over ``time_s``), mm/s;
* angles in **degrees** (:data:`ANGLE_COLUMNS`): 3D included-angle flexions (unsigned), shoulder elevation, ankle
  dorsiflexion, signed sagittal-plane hip/knee/ankle angles in the body frame, trunk inclination.

Frames without the person stay in the table with ``subject_present = false``; values that could not be filled are
null: gaps are explicit, never silently invented beyond ``max_gap_s``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from neuropose_assets.core.models import STRICT
from neuropose_assets.core.signal import fill_gaps, lowpass_times
from neuropose_assets.core.skeletons import CLINICAL_JOINTS, Skeleton

#: Included-angle flexions: name -> (proximal, vertex, distal); value = 180° − ∠(proximal, vertex, distal), so a
#: straight limb is 0° and flexion is positive.  3D and unsigned: hyperextension also reads as a small positive value.
ANGLES: dict[str, tuple[str, str, str]] = {
    "left_knee_flexion_deg": ("left_hip", "left_knee", "left_ankle"),
    "right_knee_flexion_deg": ("right_hip", "right_knee", "right_ankle"),
    "left_hip_flexion_deg": ("left_shoulder", "left_hip", "left_knee"),
    "right_hip_flexion_deg": ("right_shoulder", "right_hip", "right_knee"),
    "left_elbow_flexion_deg": ("left_shoulder", "left_elbow", "left_wrist"),
    "right_elbow_flexion_deg": ("right_shoulder", "right_elbow", "right_wrist"),
}
#: Every angle column, degrees.  Sign conventions:
#:  * ``*_shoulder_elevation_deg``: angle between the trunk (neck→pelvis) and the upper arm (shoulder→elbow); 0° arm
#:    hanging, 90° horizontal, 180° overhead (any plane).
#:  * ``*_ankle_dorsiflexion_deg``: 90° − ∠(ankle→knee, heel→toe); 0° foot perpendicular to the shank, positive =
#:    dorsiflexion (toes up), negative = plantarflexion.
#:  * ``*_sagittal_deg``: signed angles in the body frame's sagittal plane (x anterior, y superior).  A segment's
#:    sagittal orientation is measured from the downward vertical, positive anteriorly; hip = thigh − trunk
#:    (positive = flexion), knee = thigh − shank (positive = flexion, negative = hyperextension), ankle =
#:    foot − shank − 90° (positive = dorsiflexion).
#:  * ``trunk_inclination_deg``: angle between pelvis→neck and the camera's vertical (relative to the camera, so a
#:    tilted camera adds its tilt).
ANGLE_COLUMNS: tuple[str, ...] = (
    *ANGLES,
    "left_shoulder_elevation_deg",
    "right_shoulder_elevation_deg",
    "left_ankle_dorsiflexion_deg",
    "right_ankle_dorsiflexion_deg",
    "left_hip_flexion_sagittal_deg",
    "right_hip_flexion_sagittal_deg",
    "left_knee_flexion_sagittal_deg",
    "right_knee_flexion_sagittal_deg",
    "left_ankle_dorsiflexion_sagittal_deg",
    "right_ankle_dorsiflexion_sagittal_deg",
    "trunk_inclination_deg",
)
SEGMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "thigh": (("left_hip", "left_knee"), ("right_hip", "right_knee")),
    "shank": (("left_knee", "left_ankle"), ("right_knee", "right_ankle")),
    "trunk": (("pelvis", "neck"),),
}


class FeaturesConfig(BaseModel):
    """How the ``features`` table is derived; stored in its provenance.

    Attributes:
        track: person track to use (``None`` = the subject chosen in ``poses``).
        max_gap_s: longest gap filled by linear interpolation, s (0 = none).
        lowpass_hz: Butterworth cut-off, Hz (``None`` = unfiltered).  6 Hz is usual for gait kinematics.
        lowpass_order: Butterworth order per pass; the filter runs forward and backward, so the effective order is
            twice this (4 → 8; set 2 to match tools that halve the order before filtfilt, e.g. Pose2Sim).
        frame: ``camera`` or ``body`` axes for the root-centred coordinates.
        scale_segment: add ``*_norm`` columns scaled by this segment's median length (``thigh``, ``shank``,
            ``trunk``), or ``None``.
    """

    model_config = STRICT

    track: int | None = None
    max_gap_s: float = Field(default=0.25, ge=0)
    lowpass_hz: float | None = Field(default=6.0, gt=0)
    lowpass_order: int = Field(default=4, ge=1, le=8)
    frame: Literal["camera", "body"] = "camera"
    scale_segment: Literal["thigh", "shank", "trunk"] | None = None


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


def person_arrays(
    poses: pl.DataFrame, skeleton: Skeleton, track: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One person's trajectory on the clinical joint set, one entry per decoded frame.

    Args:
        track: track id in the ``poses`` table; ``None`` = the rows marked ``is_subject``.
    Returns:
        ``frames`` int ``(F,)``, ``times`` float ``(F,)`` s, ``xyz`` float64 ``(F, C, 3)`` mm (model frame, not
        centred), ``uv`` float64 ``(F, C, 2)`` px; NaN where the person is absent.  ``C = len(CLINICAL_JOINTS)``.
    Raises:
        KeyError: ``track`` does not occur in the table.
    """
    frames_all = poses.select("frame", "time_s").unique("frame", keep="first").sort("frame")
    rows = poses.filter(pl.col("is_subject") if track is None else pl.col("track") == track)
    if track is not None and rows.height == 0:
        raise KeyError(f"track {track} does not occur; tracks: {sorted(poses['track'].drop_nulls().unique())}")
    sub = rows.unique("frame", keep="first").sort("frame")
    f_all = frames_all["frame"].to_numpy()
    idx = np.searchsorted(f_all, sub["frame"].to_numpy())
    nj = len(skeleton.joints)
    native = np.full((len(f_all), nj, 5), np.nan)
    cols = [f"{j}_{s}" for j in skeleton.joints for s in ("x_mm", "y_mm", "z_mm", "u_px", "v_px")]
    if sub.height:
        native[idx] = sub.select(cols).to_numpy().astype(np.float64).reshape(sub.height, nj, 5)
    clinical = skeleton.to_clinical(native)
    return f_all, frames_all["time_s"].to_numpy(), clinical[..., :3], clinical[..., 3:]


def _unit(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)


def body_axes(xyz: np.ndarray, *, level: bool = False) -> np.ndarray:
    """Per-frame body-fixed axes ``(F, 3, 3)`` (rows: anterior x, superior y, right z) from clinical joints ``xyz``
    ``(F, C, 3)`` in a camera-aligned frame (y down).

    Superior = pelvis→neck (where the neck is not seen — a lower-body marker set — the camera's vertical −y, which
    for marker-based capture is the lab's vertical); right = left_hip→right_hip made orthogonal to it; anterior =
    superior × right, so that (x, y, z) is right-handed (ISB: x anterior, y superior, z right).

    Args:
        level: superior = the camera's vertical in every frame, so the anterior axis is horizontal (the lab's
            anterior–posterior direction of Zeni et al. 2008) and does not tilt with the trunk; exact for
            marker-based capture, whose camera y is gravity (:func:`.frames.lab_to_camera`).
    """
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    up = _unit(xyz[:, ci["neck"]] - xyz[:, ci["pelvis"]])
    if level:
        up[:] = np.nan
    no_trunk = ~np.isfinite(up).all(axis=1)
    up[no_trunk] = (0.0, -1.0, 0.0)
    right = xyz[:, ci["right_hip"]] - xyz[:, ci["left_hip"]]
    right = _unit(right - np.einsum("fi,fi->f", right, up)[:, None] * up)
    anterior = np.cross(up, right)
    return np.stack([anterior, up, right], axis=1)


def sagittal_orientation_deg(v: np.ndarray) -> np.ndarray:
    """Orientation of body-frame vectors ``(..., 3)`` in the sagittal (x–y) plane: degrees from the downward
    vertical, positive anteriorly, in (−180, 180]."""
    return np.degrees(np.arctan2(v[..., 0], -v[..., 1]))


def _wrap(deg: np.ndarray) -> np.ndarray:
    return (deg + 180.0) % 360.0 - 180.0


def joint_speeds(xyz: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Speed of each joint, mm/s ``(F, C)``: the norm of the velocity of its position in the model's 3D frame (camera
    axes; for MeTRAbs absolute, for hip-centred BlazePose relative to the hips), by second-order central differences
    over the true frame times (:func:`numpy.gradient`; one-sided at the ends, so variable frame rates are exact).
    The only speed definition: the ``{joint}_speed_mm_s`` feature columns and the ``joint_speed`` segmentation
    signal both come from here.

    Args:
        xyz: ``(F, C, 3)`` positions, mm (NaN where absent); times: ``(F,)`` s.
    """
    if len(times) < 2:
        return np.full(xyz.shape[:2], np.nan)
    return np.linalg.norm(np.gradient(xyz, times, axis=0), axis=-1)


def segment_length_mm(xyz: np.ndarray, segment: str) -> float:
    """Median length (mm) of a named segment (:data:`SEGMENTS`, averaged over sides) over all frames."""
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    lengths = [np.linalg.norm(xyz[:, ci[b]] - xyz[:, ci[a]], axis=-1) for a, b in SEGMENTS[segment]]
    return float(np.nanmedian(np.concatenate(lengths)))


def compute_features(
    poses: pl.DataFrame, skeleton: Skeleton, config: FeaturesConfig = FeaturesConfig()
) -> tuple[pl.DataFrame, dict]:
    """Build the ``features`` table (see module docstring) from a ``poses`` table of ``skeleton``.

    Returns:
        ``(table, diagnostics)``; diagnostics: ``frames``, ``frames_with_person``, ``frames_filled`` (gap samples
        interpolated), ``frames_missing`` (frames still without the person), ``scale_segment_mm``.
    """
    frames, times, xyz, uv = person_arrays(poses, skeleton, config.track)
    present = ~np.isnan(xyz).all(axis=(1, 2))
    dt = float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    n = len(frames)
    if config.max_gap_s > 0:
        gap = int(round(config.max_gap_s / dt))
        xyz = fill_gaps(xyz.reshape(n, -1), gap, t=times).reshape(xyz.shape)
        uv = fill_gaps(uv.reshape(n, -1), gap, t=times).reshape(uv.shape)
    filled = ~np.isnan(xyz).all(axis=(1, 2))
    if config.lowpass_hz is not None:
        xyz = lowpass_times(xyz.reshape(n, -1), times, config.lowpass_hz, config.lowpass_order).reshape(xyz.shape)
        uv = lowpass_times(uv.reshape(n, -1), times, config.lowpass_hz, config.lowpass_order).reshape(uv.shape)
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    root = xyz[:, ci["pelvis"], :]
    centred = xyz - root[:, None, :]
    axes = body_axes(xyz)
    body = np.einsum("fij,fcj->fci", axes, centred)  # rows of `axes` are the body axes in camera coordinates
    coords = body if config.frame == "body" else centred
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
            add(f"{name}_{axis}_mm", coords[:, j, k])
    scale_mm = None
    if config.scale_segment is not None:
        scale_mm = segment_length_mm(xyz, config.scale_segment)
        for j, name in enumerate(CLINICAL_JOINTS):
            for k, axis in enumerate("xyz"):
                add(f"{name}_{axis}_norm", coords[:, j, k] / scale_mm)
    for j, name in enumerate(CLINICAL_JOINTS):
        for k, axis in enumerate("uv"):
            add(f"{name}_{axis}_px", uv[:, j, k])
    speeds = joint_speeds(xyz, times)
    for j, name in enumerate(CLINICAL_JOINTS):
        add(f"{name}_speed_mm_s", speeds[:, j])
    p = {j: xyz[:, ci[j]] for j in CLINICAL_JOINTS}
    for col, (a, b, c) in ANGLES.items():
        add(col, flexion_deg(p[a], p[b], p[c]))
    seg = {j: body[:, ci[j]] for j in CLINICAL_JOINTS}
    trunk = sagittal_orientation_deg(seg["pelvis"] - seg["neck"])
    for side in ("left", "right"):
        add(f"{side}_shoulder_elevation_deg",
            np.degrees(included_angle(p["pelvis"] - p["neck"] + p[f"{side}_shoulder"], p[f"{side}_shoulder"],
                                      p[f"{side}_elbow"])))  # fmt: skip
    for side in ("left", "right"):
        add(f"{side}_ankle_dorsiflexion_deg",
            90.0 - np.degrees(included_angle(p[f"{side}_knee"] - p[f"{side}_ankle"], np.zeros(3),
                                             p[f"{side}_toe"] - p[f"{side}_heel"])))  # fmt: skip
    thigh = {s: sagittal_orientation_deg(seg[f"{s}_knee"] - seg[f"{s}_hip"]) for s in ("left", "right")}
    shank = {s: sagittal_orientation_deg(seg[f"{s}_ankle"] - seg[f"{s}_knee"]) for s in ("left", "right")}
    foot = {s: sagittal_orientation_deg(seg[f"{s}_toe"] - seg[f"{s}_heel"]) for s in ("left", "right")}
    for s in ("left", "right"):
        add(f"{s}_hip_flexion_sagittal_deg", _wrap(thigh[s] - trunk))
    for s in ("left", "right"):
        add(f"{s}_knee_flexion_sagittal_deg", _wrap(thigh[s] - shank[s]))
    for s in ("left", "right"):
        add(f"{s}_ankle_dorsiflexion_sagittal_deg", _wrap(foot[s] - shank[s] - 90.0))
    add("trunk_inclination_deg", inclination_deg(p["pelvis"], p["neck"]))
    table = pl.DataFrame(data)
    assert tuple(c for c in table.columns if c.endswith("_deg")) == ANGLE_COLUMNS
    diagnostics = {
        "frames": n,
        "frames_with_person": int(present.sum()),
        "frames_filled": int((filled & ~present).sum()),
        "frames_missing": int((~filled).sum()),
        "scale_segment_mm": scale_mm,
    }
    return table, diagnostics


def summary_statistics(features: pl.DataFrame, columns: list[str], segments: pl.DataFrame | None = None) -> pl.DataFrame:
    """Mean, population standard deviation (ddof = 0), min, max, range and valid-sample count of ``columns``,
    over the whole table or per repetition ``[start_frame, end_frame)`` of ``segments`` (nulls are skipped).

    Returns:
        one row per (repetition, column); ``repetition`` is null for the whole-trial statistics.
    """
    parts = [(None, features)] if segments is None else [
        (r["repetition"], features.slice(r["start_frame"], r["end_frame"] - r["start_frame"]))
        for r in segments.iter_rows(named=True)
    ]  # fmt: skip
    rows = []
    for rep, part in parts:
        for c in columns:
            x = part[c].cast(pl.Float64).drop_nulls().drop_nans()
            n = x.len()
            mn, mx = (x.min(), x.max()) if n else (None, None)
            rows.append({"repetition": rep, "column": c, "n": n, "mean": x.mean() if n else None,
                         "std": x.std(ddof=0) if n else None, "min": mn, "max": mx,
                         "range": (mx - mn) if n else None})  # fmt: skip
    schema = {"repetition": pl.Int32, "column": pl.Utf8, "n": pl.Int64, "mean": pl.Float64, "std": pl.Float64,
              "min": pl.Float64, "max": pl.Float64, "range": pl.Float64}  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


#: joints whose left/right labels are compared frame to frame by :func:`left_right_swaps`
SWAP_JOINTS: tuple[str, ...] = ("hip", "knee", "ankle")


def left_right_swaps(uv: np.ndarray, *, ratio: float = 0.5, min_separation: float = 0.15) -> np.ndarray:
    """Frames at which the model's left/right labels of the legs flip (a frequent pose-model error when the subject
    turns or is seen from behind): between frames ``t-1`` and ``t`` the swapped assignment of the left and right hip,
    knee and ankle explains the motion much better than the labelled one.

    Args:
        uv: ``(F, C, 2)`` clinical joints in the image, px, unfiltered (NaN where absent).
        ratio: flag when cost(swapped) < ``ratio`` × cost(labelled); costs are summed joint displacements, px.
        min_separation: ignore frames where the legs are closer together than this fraction of the trunk length
            (legs crossing in a side view are ambiguous, not swapped).
    Returns:
        frame indices ``t`` (int array), possibly empty.
    """
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    left = uv[:, [ci[f"left_{j}"] for j in SWAP_JOINTS]]
    right = uv[:, [ci[f"right_{j}"] for j in SWAP_JOINTS]]
    trunks = np.linalg.norm(uv[:, ci["neck"]] - uv[:, ci["pelvis"]], axis=-1)
    if len(uv) < 2 or not np.isfinite(trunks).any() or np.nanmedian(trunks) <= 0:
        return np.zeros(0, int)
    trunk = np.nanmedian(trunks)

    def cost(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.linalg.norm(a - b, axis=-1).sum(axis=-1)

    same = cost(left[1:], left[:-1]) + cost(right[1:], right[:-1])
    swapped = cost(left[1:], right[:-1]) + cost(right[1:], left[:-1])
    separation = np.linalg.norm(left - right, axis=-1).mean(axis=-1)
    apart = np.minimum(separation[1:], separation[:-1]) > min_separation * trunk
    with np.errstate(invalid="ignore"):
        flip = (swapped < ratio * same) & apart
    return np.flatnonzero(flip) + 1
