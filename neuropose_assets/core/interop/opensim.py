"""Export to OpenSim: marker trajectories (``.trc``), joint angles (``.mot``) and a flat CSV of both.

Biomechanists continue in OpenSim (Delp et al., IEEE TBME 2007; Seth et al., PLoS Comput Biol 2018) — scaling,
inverse kinematics, muscle models — as they do with the exports of Sports2D, Pose2Sim and OpenCap.

* **positions** (``.trc``): the clinical joints of the ``features`` table as markers, in metres, in OpenSim's ground
  frame — X forward (the walking direction, or where the feet / hips face when the subject does not walk), Y up, Z to
  the subject's right (:func:`..kinematics.frames.camera_to_opensim`: a rotation about the camera's vertical plus the y
  flip, so lengths and angles are unchanged).  Positions are the model's own (``root`` + root-centred joint): absolute
  for models with absolute coordinates (MeTRAbs, marker-based capture), hip-centred for BlazePose (the pelvis stays near
  the origin: fine for scaling and IK of the joint angles, no translation).  Marker names follow Pose2Sim's OpenSim
  markers (:data:`MARKER_NAMES`: ``RHip``, ``LKnee``, ``RBigToe``, ``Neck`` …; the clinical pelvis, the hip midpoint, is
  ``Hip``), so Pose2Sim's OpenSim models and IK setups fit and the file re-imports with the ``pose2sim`` marker set.
* **gaps**: a frame with no joint at all is left out (OpenSim's IK stops at a row without markers); a single missing
  joint is an empty field, which OpenSim's IK skips for that frame.  Nothing is invented beyond the features' own gap
  filling (``max_gap_s``).
* **coordinates** (``.mot``, ``inDegrees=yes``): the fitted model's OpenSim coordinates (:mod:`..kinematics.biomech`:
  ``hip_flexion_r``, ``knee_angle_l``, ``ankle_angle_r``, ``lumbar_extension``, ``arm_flex_r``, ``elbow_flex_l`` …,
  deg, with OpenSim's names, signs and zero pose, so the file drives a Rajagopal / LaiUhlrich-family model without
  renaming), plus the pelvis's ``pelvis_tilt/list/rotation`` (deg) and ``pelvis_tx/ty/tz`` (m) when the
  ``kinematics`` table is given (relative to the fit's ground frame: the image's up and the subject's mean facing
  direction).  OpenSim's ``Storage`` (the GUI's motion loader) stops reading at the first ``NaN`` (tested with
  OpenSim 4.6), so coordinates that are never defined are left out, and a row where a remaining one is undefined is
  left out too (:attr:`Export.mot_rows` says which were kept).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from neuropose_assets.core.interop.mocap import write_mot, write_trc
from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.kinematics.frames import FrameTransform, camera_to_opensim
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS

#: clinical joint → marker name of the export (Pose2Sim's OpenSim marker names)
MARKER_NAMES: dict[str, str] = {
    "pelvis": "Hip",
    "neck": "Neck",
    "head": "Head",
    **{
        f"{side}_{j}": f"{s}{name}"
        for side, s in (("left", "L"), ("right", "R"))
        for j, name in (
            ("hip", "Hip"),
            ("knee", "Knee"),
            ("ankle", "Ankle"),
            ("heel", "Heel"),
            ("toe", "BigToe"),
            ("shoulder", "Shoulder"),
            ("elbow", "Elbow"),
            ("wrist", "Wrist"),
        )
    },
}
FORMATS = ("trc", "mot", "csv")


class ExportError(VideoError):
    """The features cannot be exported; the message says why and what to do."""


@dataclass
class Export:
    """What :func:`opensim_tables` produced.

    Attributes:
        labels: marker names ``(M,)`` (:data:`MARKER_NAMES`).
        xyz_m: ``(F', M, 3)`` positions, m, OpenSim ground frame; NaN = missing joint.
        times_s: ``(F',)`` s; frames: ``(F',)`` 0-based frames of the features that were kept.
        angles: ``{column: (F',) deg}``.
        transform: the camera → OpenSim rotation.
        omitted: frames left out (no joint at all).
        absolute: positions are absolute (else hip-centred).
    """

    labels: list[str]
    xyz_m: np.ndarray
    times_s: np.ndarray
    frames: np.ndarray
    angles: dict[str, np.ndarray]
    transform: FrameTransform
    omitted: int
    absolute: bool

    def mot_columns(self) -> list[str]:
        """Angle columns of the ``.mot``: those defined in at least one frame."""
        return [c for c, v in self.angles.items() if np.isfinite(v).any()]

    def mot_rows(self) -> np.ndarray:
        """Rows (of the kept frames) of the ``.mot``: every angle of :meth:`mot_columns` defined."""
        cols = self.mot_columns()
        if not cols:
            return np.zeros(len(self.times_s), bool)
        return np.all([np.isfinite(self.angles[c]) for c in cols], axis=0)

    def rate_hz(self) -> float:
        """Frame rate of the kept frames, Hz: 1 / the median time step (1.0 with fewer than two frames)."""
        return float(1.0 / np.median(np.diff(self.times_s))) if len(self.times_s) > 1 else 1.0


def opensim_tables(
    features: pl.DataFrame, *, frame: str = "camera", absolute: bool = True, kinematics: pl.DataFrame | None = None
) -> Export:
    """Positions (OpenSim frame, m) and model coordinates of a ``features`` table (module docstring).

    Args:
        features: the ``features`` table (:mod:`..kinematics.features`).
        kinematics: the ``kinematics`` table of the same frames (adds the pelvis's coordinates), or ``None``.
        frame: its coordinate frame (``FeaturesConfig.frame``); only ``camera`` has fixed axes.
        absolute: the model's 3D is absolute (``ModelInfo.origin == "camera"``); recorded, the positions are
            ``root + joint`` either way.
    Raises:
        ExportError: body-frame features, no joint in any frame, or no direction for X.
    """
    if frame != "camera":
        raise ExportError(
            "the features were computed in the body frame, whose axes turn with the subject; export "
            "needs features in the camera frame "
            "(FeaturesConfig.frame = 'camera', the default)"
        )
    joints = [j for j in CLINICAL_JOINTS if f"{j}_x_mm" in features.columns]
    xyz = np.stack(
        [np.stack([features[f"{j}_{a}_mm"].to_numpy().astype(np.float64) for a in "xyz"], axis=1) for j in joints],
        axis=1,
    )
    xyz = xyz + np.stack([features[f"root_{a}_mm"].to_numpy().astype(np.float64) for a in "xyz"], axis=1)[:, None]
    keep = np.isfinite(xyz).all(axis=2).any(axis=1)
    if not keep.any():
        raise ExportError("no joint was seen in any frame: nothing to export")
    try:
        transform = camera_to_opensim(xyz[keep])
    except VideoError as err:
        raise ExportError(f"no forward direction for OpenSim's X axis: {err}") from None
    out = transform.apply(xyz[keep]) / 1000.0
    from neuropose_assets.core.kinematics.features import FITTED_ANGLES
    from neuropose_assets.core.kinematics.fit import column

    angles = {
        c: features[f"{c}_deg"].to_numpy().astype(np.float64)[keep]
        for c in FITTED_ANGLES
        if f"{c}_deg" in features.columns
    }
    if kinematics is not None:
        by_frame = dict(zip(kinematics["frame"].to_list(), range(kinematics.height)))
        rows = np.array([by_frame.get(int(f), -1) for f in features["frame"].to_numpy()[keep]])
        for c in ("pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz"):
            v = kinematics[column(c)].cast(pl.Float64).fill_null(np.nan).to_numpy()
            angles[c] = np.where(rows >= 0, v[np.maximum(rows, 0)], np.nan)
    return Export(
        [MARKER_NAMES[j] for j in joints],
        out,
        features["time_s"].to_numpy()[keep],
        features["frame"].to_numpy()[keep],
        angles,
        transform,
        int((~keep).sum()),
        absolute,
    )


def write_export(exp: Export, path: Path, fmt: str) -> Path:
    """Write ``exp`` as ``fmt`` (``trc`` | ``mot`` | ``csv``) to ``path``, atomically.

    * ``trc``: ``Frame#`` = features frame + 1 (1-based), ``Time`` = the frame's time, s;
    * ``mot``: ``time`` and the model coordinates (rotations deg, translations m; :meth:`Export.mot_columns`,
      :meth:`Export.mot_rows`);
    * ``csv``: ``frame``, ``time_s``, ``<marker>_{x,y,z}_m`` (OpenSim frame) and the angle columns, deg; empty = NaN.

    Raises:
        ValueError: unknown format.
    """
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    path = Path(path)
    if fmt == "trc":
        write_trc(path, exp.labels, exp.xyz_m, exp.times_s, exp.frames + 1, exp.rate_hz())
    elif fmt == "mot":
        names, rows = exp.mot_columns(), exp.mot_rows()
        values = np.stack([exp.angles[c] for c in names], axis=1) if names else np.zeros((len(rows), 0))
        write_mot(path, names, values[rows], exp.times_s[rows])
    elif fmt == "csv":
        cols: dict[str, np.ndarray] = {"frame": exp.frames, "time_s": exp.times_s}
        for m, label in enumerate(exp.labels):
            for k, a in enumerate("xyz"):
                cols[f"{label}_{a}_m"] = exp.xyz_m[:, m, k]
        cols.update(exp.angles)
        df = pl.DataFrame(cols).with_columns(pl.selectors.float().fill_nan(None))
        atomic_write_bytes(path, df.write_csv(float_precision=9).encode())
    else:
        raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return path


def round_trip(features: pl.DataFrame, directory: Path) -> dict[str, float]:
    """Export ``features`` as TRC into ``directory``, import the file as marker-based capture
    (:func:`.mocap.import_markers`) and compute its features again without extra filtering or gap filling; returns, per
    speed column and per three-point angle of the markers (:data:`..kinematics.features.THREE_POINT_ANGLES`, the
    markers' own geometry) defined in ``features``, the largest |difference| divided by the largest |value| — the
    export's fidelity (rotation-invariant quantities: the import rotates into its own camera frame).  The fitted angles
    are not compared: the imported markers would be fitted again, without the image."""
    from neuropose_assets.core.interop.mocap import import_markers
    from neuropose_assets.core.kinematics.features import (
        THREE_POINT_ANGLES,
        FeaturesConfig,
        compute_features,
        flexion_deg,
    )
    from neuropose_assets.core.kinematics.skeletons import get_skeleton

    path = write_export(opensim_tables(features), Path(directory) / "round_trip.trc", "trc")
    again, _ = compute_features(
        import_markers(path).table, get_skeleton("clinical_19"), FeaturesConfig(lowpass_hz=None, max_gap_s=0)
    )

    def values(table: pl.DataFrame) -> dict[str, np.ndarray]:
        def p(j: str) -> np.ndarray:
            return np.stack([table[f"{j}_{a}_mm"].cast(pl.Float64).fill_null(np.nan).to_numpy() for a in "xyz"], 1)

        out = {
            c: table[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
            for c in table.columns
            if c.endswith("_speed_mm_s")
        }
        out.update({name: flexion_deg(p(a), p(b), p(c)) for name, (a, b, c) in THREE_POINT_ANGLES.items()})
        return out

    before, after = values(features), values(again)
    out = {}
    for c, a in before.items():
        if np.isfinite(a).any():
            b = after[c]
            lost = np.isnan(b) & ~np.isnan(a)  # a value the round trip lost counts as an infinite difference
            out[c] = float("inf") if lost.any() else float(np.nanmax(np.abs(a - b)) / np.nanmax(np.abs(a)))
    return out
