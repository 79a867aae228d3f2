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
* ``{joint}_conf``: the pose model's confidence that the joint is seen, 0–1 (BlazePose: landmark visibility; the mean
  over a clinical joint's native joints; marker capture: 1 where the marker was tracked); null where the joint was not
  observed, including gap-filled frames — events (:mod:`..analysis.events`) are only placed where it is observed;
* ``{joint}_speed_mm_s``: 3D speed (:func:`joint_speeds`: central differences over ``time_s``), mm/s;
* angles in **degrees** (:data:`ANGLE_COLUMNS`): the OpenSim model coordinates fitted by the ``kinematics`` stage
  (:mod:`.fit`, :mod:`.biomech`: ``hip_flexion_r_deg``, ``knee_angle_l_deg``, ``ankle_angle_r_deg``,
  ``lumbar_extension_deg``, ``arm_flex_r_deg``, … with OpenSim's signs and zero pose), gaps up to ``max_gap_s``
  filled, plus ``shoulder_elevation_{r,l}_deg`` (the angle between the humerus and the torso's long axis: 0° arm
  hanging, 90° horizontal, 180° overhead, in any plane) from the fitted arm angles.

Frames without the person stay in the table with ``subject_present = false``; values that could not be filled are
null: gaps are explicit, never silently invented beyond ``max_gap_s``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from neuropose_assets.core.kinematics.biomech import COORDINATES
from neuropose_assets.core.kinematics.signal import fill_gaps, lowpass_times
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS, Skeleton
from neuropose_assets.core.models import STRICT

#: Three-point included-angle flexions (the pre-model definition, kept for comparison: ``benchmarks/
#: validate_kinematics.py``): name -> (proximal, vertex, distal); value = 180° − ∠(proximal, vertex, distal).
THREE_POINT_ANGLES: dict[str, tuple[str, str, str]] = {
    "left_knee_flexion_deg": ("left_hip", "left_knee", "left_ankle"),
    "right_knee_flexion_deg": ("right_hip", "right_knee", "right_ankle"),
    "left_hip_flexion_deg": ("left_shoulder", "left_hip", "left_knee"),
    "right_hip_flexion_deg": ("right_shoulder", "right_hip", "right_knee"),
}
#: The fitted model coordinates in the features table (rotations, deg; the pelvis's orientation, which is relative to
#: the camera, is left in ``kinematics``) and the shoulder elevations derived from them.
FITTED_ANGLES: tuple[str, ...] = tuple(c for c in COORDINATES if not c.startswith("pelvis_"))
#: Every angle column of the features table, deg (signs: :mod:`.biomech`).
ANGLE_COLUMNS: tuple[str, ...] = (
    *(f"{c}_deg" for c in FITTED_ANGLES),
    "shoulder_elevation_r_deg",
    "shoulder_elevation_l_deg",
)
#: The angles DTW compares by default (:class:`..comparison.dtw.DTWConfig`): the limbs' main angles and the lumbar
#: spine's flexion
DTW_ANGLES: tuple[str, ...] = tuple(
    f"{c}_deg"
    for c in (
        "hip_flexion_r",
        "hip_adduction_r",
        "knee_angle_r",
        "ankle_angle_r",
        "hip_flexion_l",
        "hip_adduction_l",
        "knee_angle_l",
        "ankle_angle_l",
        "lumbar_extension",
        "arm_flex_r",
        "elbow_flex_r",
        "arm_flex_l",
        "elbow_flex_l",
    )
)
#: OpenSim's side suffix of a coordinate
SIDE_SUFFIX = {"left": "l", "right": "r"}


def angle_column(name: str, side: str) -> str:
    """The features column of angle ``name`` (e.g. ``knee_angle``, ``hip_flexion``, ``shoulder_elevation``) on
    ``side`` (``left`` / ``right``): ``knee_angle_l_deg``."""
    return f"{name}_{SIDE_SUFFIX[side]}_deg"


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


def person_arrays(
    poses: pl.DataFrame, skeleton: Skeleton, track: int | None = None, *, confidence: bool = False
) -> tuple[np.ndarray, ...]:
    """One person's trajectory on the clinical joint set, one entry per decoded frame.

    Args:
        track: track id in the ``poses`` table; ``None`` = the rows marked ``is_subject``.
        confidence: also return the joints' confidences.
    Returns:
        ``frames`` int ``(F,)``, ``times`` float ``(F,)`` s, ``xyz`` float64 ``(F, C, 3)`` mm (model frame, not
        centred), ``uv`` float64 ``(F, C, 2)`` px; NaN where the person is absent.  ``C = len(CLINICAL_JOINTS)``.
        With ``confidence``, a fifth array ``(F, C)`` in [0, 1] (the mean over a clinical joint's native joints; NaN
        where the person is absent or the model gives none).
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
    fields = ("x_mm", "y_mm", "z_mm", "u_px", "v_px", *(("conf",) if confidence else ()))
    native = np.full((len(f_all), nj, len(fields)), np.nan)
    cols = [f"{j}_{s}" for j in skeleton.joints for s in fields]
    if sub.height:
        native[idx] = sub.select(cols).to_numpy().astype(np.float64).reshape(sub.height, nj, len(fields))
    clinical = skeleton.to_clinical(native)
    out = (f_all, frames_all["time_s"].to_numpy(), clinical[..., :3], clinical[..., 3:5])
    return (*out, clinical[..., 5]) if confidence else out


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
    poses: pl.DataFrame,
    skeleton: Skeleton,
    config: FeaturesConfig = FeaturesConfig(),
    kinematics: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict]:
    """Build the ``features`` table (see module docstring) from a ``poses`` table of ``skeleton`` and the fitted model
    coordinates of the same frames (the ``kinematics`` table, :func:`.fit.kinematics_table`; without it the
    angle columns are null).

    Returns:
        ``(table, diagnostics)``; diagnostics: ``frames``, ``frames_with_person``, ``frames_filled`` (gap samples
        interpolated), ``frames_missing`` (frames still without the person), ``scale_segment_mm``.
    """
    frames, times, xyz, uv, conf = person_arrays(poses, skeleton, config.track, confidence=True)
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
    for j, name in enumerate(CLINICAL_JOINTS):
        add(f"{name}_conf", conf[:, j])  # observed frames only: gap-filled frames have none
    speeds = joint_speeds(xyz, times)
    for j, name in enumerate(CLINICAL_JOINTS):
        add(f"{name}_speed_mm_s", speeds[:, j])
    angles = _fitted_angles(frames, times, kinematics, config.max_gap_s)
    for name in FITTED_ANGLES:
        add(f"{name}_deg", angles[name])
    for side in ("r", "l"):
        flex, add_ = np.radians(angles[f"arm_flex_{side}"]), np.radians(angles[f"arm_add_{side}"])
        add(f"shoulder_elevation_{side}_deg", np.degrees(np.arccos(np.clip(np.cos(flex) * np.cos(add_), -1, 1))))
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


def _fitted_angles(
    frames: np.ndarray, times: np.ndarray, kinematics: pl.DataFrame | None, max_gap_s: float
) -> dict[str, np.ndarray]:
    """:data:`FITTED_ANGLES` (deg) on ``frames``, gaps up to ``max_gap_s`` filled linearly in time (NaN otherwise)."""
    out = {name: np.full(len(frames), np.nan) for name in FITTED_ANGLES}
    if kinematics is None or kinematics.height == 0:
        return out
    idx = np.searchsorted(frames, kinematics["frame"].to_numpy())
    ok = (idx < len(frames)) & (frames[np.minimum(idx, len(frames) - 1)] == kinematics["frame"].to_numpy())
    values = np.full((len(frames), len(FITTED_ANGLES)), np.nan)
    values[idx[ok]] = kinematics.select([f"{c}_deg" for c in FITTED_ANGLES]).to_numpy().astype(np.float64)[ok]
    if max_gap_s > 0 and len(times) > 1:
        gap = int(round(max_gap_s / float(np.median(np.diff(times)))))
        values = fill_gaps(values, gap, t=times)
    return {name: values[:, i] for i, name in enumerate(FITTED_ANGLES)}


def summary_statistics(
    features: pl.DataFrame, columns: list[str], segments: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Mean, population standard deviation (ddof = 0), min, max, range and valid-sample count of ``columns``,
    over the whole table or per repetition ``[start_frame, end_frame)`` of ``segments`` (nulls are skipped).

    Returns:
        one row per (repetition, column); ``repetition`` is null for the whole-trial statistics.
    """
    parts = (
        [(None, features)]
        if segments is None
        else [
            (r["repetition"], features.slice(r["start_frame"], r["end_frame"] - r["start_frame"]))
            for r in segments.iter_rows(named=True)
        ]
    )
    rows = []
    for rep, part in parts:
        for c in columns:
            x = part[c].cast(pl.Float64).drop_nulls().drop_nans()
            n = x.len()
            mn, mx = (x.min(), x.max()) if n else (None, None)
            rows.append(
                {
                    "repetition": rep,
                    "column": c,
                    "n": n,
                    "mean": x.mean() if n else None,
                    "std": x.std(ddof=0) if n else None,
                    "min": mn,
                    "max": mx,
                    "range": (mx - mn) if n else None,
                }
            )
    schema = {
        "repetition": pl.Int32,
        "column": pl.Utf8,
        "n": pl.Int64,
        "mean": pl.Float64,
        "std": pl.Float64,
        "min": pl.Float64,
        "max": pl.Float64,
        "range": pl.Float64,
    }
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
