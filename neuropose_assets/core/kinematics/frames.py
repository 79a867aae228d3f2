"""Coordinate frames of every pose source, verified from the data: the vertical, the walking direction and the
handedness (left / right), and the transforms between our camera frame, a motion-capture lab frame and OpenSim.

Frames:
    * **camera** (every ``poses`` / ``features`` table): mm, x to the image right, y down, z away from the camera
      (:mod:`..pose.base`).  Marker-based capture is brought into a *virtual side-view camera* of this form: x along
      the walking direction, y down (= −gravity up), z = x × y (to the subject's left), so that a camera on the
      subject's right filming a walk to the image right has the same axes.
    * **lab**: the axes of a motion-capture file (TRC / C3D), any of X / Y / Z up, any walking direction.
    * **OpenSim**: X forward (walking direction), Y up, Z = X × Y (to the subject's right); metres
      (Delp et al., IEEE TBME 2007; the OpenSim gait models' ground frame).

Checks (all on clinical joints, :data:`.skeletons.CLINICAL_JOINTS`):
    * **vertical**: the hips lie above the feet (median of pelvis − mean of heels / ankles / toes), which holds for
      every standing task; for lab data it must lie within :data:`MAX_AXIS_DEVIATION_DEG` of one of the file's axes.
    * **handedness**: the body's right, computed as anterior × superior from the *named* left and right joints, must
      agree with the anterior direction of the feet (heel → toe).  A mirrored frame (one axis flipped, e.g. "y
      down" written over a Y-up lab) or swapped left / right labels makes them disagree in every frame; the source is
      refused with a message naming the axis to fix, never analysed with left and right exchanged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS

#: how far the body's vertical may deviate from the nearest axis of a lab file, degrees (labs align an axis with
#: gravity; a larger deviation means the axes are not what the file says, or the subject is not upright)
MAX_AXIS_DEVIATION_DEG = 30.0
#: shortest pelvis progression (mm) that defines a walking direction; shorter = walking on the spot / treadmill
MIN_PROGRESSION_MM = 300.0
#: camera-frame "up" (y points down)
CAMERA_UP = np.array([0.0, -1.0, 0.0])
AXES = "XYZ"
_CI = {j: i for i, j in enumerate(CLINICAL_JOINTS)}


class CoordinateError(VideoError):
    """The coordinates' axes cannot be trusted (mirrored, unknown vertical).  ``str(err)`` says which axis to fix."""


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, v / n, np.nan)


def _mean(xyz: np.ndarray, joints: tuple[str, ...]) -> np.ndarray:
    """Mean over the joints that are present, per frame ``(F, 3)`` (NaN where none is)."""
    stack = np.stack([xyz[:, _CI[j]] for j in joints])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "mean of empty slice" where no joint is seen
        return np.nanmean(stack, axis=0)


def _median_vector(v: np.ndarray) -> np.ndarray:
    ok = np.isfinite(v).all(axis=1)
    return np.median(v[ok], axis=0) if ok.any() else np.full(3, np.nan)


def _horizontal(v: np.ndarray, up: np.ndarray) -> np.ndarray:
    return v - np.einsum("...i,i->...", v, up)[..., None] * up


FEET = ("left_heel", "right_heel", "left_ankle", "right_ankle", "left_toe", "right_toe")
HIPS = ("pelvis", "left_hip", "right_hip")


def body_vertical(xyz: np.ndarray) -> np.ndarray:
    """Unit vector from the feet to the hips, the median over frames ``(3,)`` (NaN if never seen): the body's "up"
    in the frame of ``xyz`` ``(F, C, 3)``."""
    return _unit(_median_vector(_mean(xyz, HIPS) - _mean(xyz, FEET)))


def lab_vertical(xyz: np.ndarray) -> tuple[np.ndarray, str]:
    """The lab's up axis ``(3,)`` (a signed unit axis) and its name (``"+Z"``, ``"-Y"`` …) from clinical joints
    ``xyz`` ``(F, C, 3)`` in the lab frame.

    Raises:
        CoordinateError: the hips or feet were never seen, or the body's vertical is more than
            :data:`MAX_AXIS_DEVIATION_DEG` from every axis (the axes are not X / Y / Z of an upright lab).
    """
    up = body_vertical(xyz)
    if not np.isfinite(up).all():
        raise CoordinateError(
            "the hips and the feet are never seen together, so the vertical axis cannot be "
            "verified; the marker set needs at least hip (or pelvis) and heel / ankle / toe markers"
        )
    k = int(np.argmax(np.abs(up)))
    deviation = float(np.degrees(np.arccos(min(1.0, abs(up[k])))))
    if deviation > MAX_AXIS_DEVIATION_DEG:
        raise CoordinateError(
            f"unknown axis order: the body's vertical (feet → hips) points along ({up[0]:+.2f}, {up[1]:+.2f}, "
            f"{up[2]:+.2f}) in the file's X/Y/Z, {deviation:.0f}° away from the nearest axis ({AXES[k]}). Labs align "
            "one axis with gravity: export the file in the lab's own axes (or rotate it so that one axis is up)."
        )
    axis = np.zeros(3)
    axis[k] = np.sign(up[k])
    return axis, f"{'+' if up[k] > 0 else '-'}{AXES[k]}"


@dataclass(frozen=True)
class Heading:
    """The walking direction: a horizontal unit vector ``direction`` ``(3,)`` and how it was found (``how``)."""

    direction: np.ndarray
    how: str


def walking_direction(xyz: np.ndarray, up: np.ndarray) -> Heading:
    """The horizontal direction the subject walks or faces, in the frame of ``xyz`` ``(F, C, 3)`` mm with vertical
    ``up`` ``(3,)``: the pelvis progression from its first to its last position when it is at least
    :data:`MIN_PROGRESSION_MM`; otherwise (treadmill, standing tasks) the median foot direction heel → toe;
    otherwise the median facing direction superior × right of the hips.

    Raises:
        CoordinateError: none of the three can be computed.
    """
    pelvis = xyz[:, _CI["pelvis"]]
    ok = np.flatnonzero(np.isfinite(pelvis).all(axis=1))
    if len(ok) >= 2:
        disp = _horizontal(pelvis[ok[-1]] - pelvis[ok[0]], up)
        if np.linalg.norm(disp) >= MIN_PROGRESSION_MM:
            return Heading(_unit(disp), f"pelvis progression ({np.linalg.norm(disp) / 1000:.2f} m)")
    feet = [xyz[:, _CI[f"{s}_toe"]] - xyz[:, _CI[f"{s}_heel"]] for s in ("left", "right")]
    foot = _horizontal(_median_vector(np.concatenate(feet)), up)
    if np.isfinite(foot).all() and np.linalg.norm(foot) > 1e-6:
        return Heading(_unit(foot), "median foot direction (heel → toe)")
    right = _horizontal(_median_vector(xyz[:, _CI["right_hip"]] - xyz[:, _CI["left_hip"]]), up)
    facing = np.cross(up, right)
    if np.isfinite(facing).all() and np.linalg.norm(facing) > 1e-6:
        return Heading(_unit(facing), "median facing direction of the hips")
    raise CoordinateError("neither the pelvis, the feet nor the hips were seen: no walking direction")


def handedness(xyz: np.ndarray, up: np.ndarray) -> tuple[float, int]:
    """Agreement of the named left/right joints with the feet's anterior direction, for every frame where the hips
    and a foot are seen: ``(fraction_mirrored, frames)``.

    Per frame, right = right_hip − left_hip (plus knees and ankles when seen) and anterior = heel → toe of both
    feet, both made horizontal with ``up``.  ISB axes (x anterior, y superior, z right; Wu et al., J Biomech 2002)
    are right-handed, so superior × right = anterior; a mirrored frame (one axis flipped) or swapped left / right
    labels flips that cross product, which then points backwards: the frame counts as mirrored when
    (up × right) · anterior < 0.
    """
    right = sum(np.nan_to_num(xyz[:, _CI[f"right_{j}"]] - xyz[:, _CI[f"left_{j}"]]) for j in ("hip", "knee", "ankle"))
    foot = sum(np.nan_to_num(xyz[:, _CI[f"{s}_toe"]] - xyz[:, _CI[f"{s}_heel"]]) for s in ("left", "right"))
    right, foot = _horizontal(right, up), _horizontal(foot, up)
    score = np.einsum("fi,fi->f", np.cross(up, right), foot)
    seen = (np.linalg.norm(right, axis=1) > 0) & (np.linalg.norm(foot, axis=1) > 0)
    n = int(seen.sum())
    return (float((score[seen] < 0).mean()) if n else float("nan")), n


@dataclass(frozen=True)
class FrameTransform:
    """A verified rotation between two frames: ``p_target = rotation @ p_source`` (``rotation`` ``(3, 3)``, rows =
    the target's axes in source coordinates, a proper rotation: det = +1).

    Attributes:
        up: the source's vertical (e.g. ``"+Z"`` for a lab file, ``"-y"`` for the camera).
        heading: the walking direction in the source frame and how it was found.
        mirrored_fraction: fraction of frames whose named left/right joints disagree with the feet (:func:`handedness`).
    """

    rotation: np.ndarray
    up: str
    heading: Heading
    mirrored_fraction: float

    def apply(self, xyz: np.ndarray) -> np.ndarray:
        """Rotate points ``(..., 3)``."""
        return np.einsum("ij,...j->...i", self.rotation, xyz)

    def as_dict(self) -> dict:
        """The transform as JSON-ready provenance: ``rotation`` ``(3, 3)`` as nested lists, ``up``, ``heading`` (how the
        walking direction was found) and ``mirrored_fraction``."""
        return {
            "rotation": np.round(self.rotation, 9).tolist(),
            "up": self.up,
            "heading": self.heading.how,
            "mirrored_fraction": round(self.mirrored_fraction, 4),
        }


def _axis_name(v: np.ndarray) -> str:
    k = int(np.argmax(np.abs(v)))
    return AXES[k]


def check_handedness(xyz: np.ndarray, up: np.ndarray, up_name: str, heading: Heading, name: str) -> float:
    """Refuse a mirrored source; return its mirrored fraction (:func:`handedness`).

    Raises:
        CoordinateError: left and right cannot be verified, or more than half of the frames are mirrored; the
            message names the axis to flip (a vertical pointing down the file's axis suggests that axis was
            flipped, otherwise the medio-lateral axis or swapped left / right marker names).
    """
    frac, n = handedness(xyz, up)
    if n == 0:
        raise CoordinateError(
            f"{name}: left and right cannot be verified: the hips (or knees, ankles) of both sides "
            "and the heels and toes must be seen together in at least one frame"
        )
    if frac <= 0.5:
        return frac
    lateral = _axis_name(np.cross(heading.direction, up))
    if up_name.startswith("-"):
        fix = (
            f"the vertical runs along {up_name} (down the {up_name[1]} axis): if the file's {up_name[1]} axis was "
            f"flipped (e.g. to point down), flip it back"
        )
    else:
        fix = (
            f"flip the medio-lateral axis ({lateral}) back, or correct the marker names if left and right were swapped"
        )
    raise CoordinateError(
        f"{name}: the coordinates are mirrored — in {100 * frac:.0f} % of {n} frames the joints named 'right' lie on "
        f"the subject's left (checked against the feet's heel → toe direction). A reflection turns every heel strike "
        f"of one side into the other's, so nothing was analysed: {fix}."
    )


def lab_to_camera(xyz: np.ndarray, name: str = "the file") -> FrameTransform:
    """The verified transform from a lab frame to the virtual side-view camera (module docstring): x = walking
    direction, y = down, z = x × y.

    Args:
        xyz: clinical joints ``(F, C, 3)`` in the lab frame, any length unit; NaN where not seen.
        name: the source's name in messages.
    Raises:
        CoordinateError: unknown vertical (:func:`lab_vertical`), no walking direction, or a mirrored frame
            (:func:`check_handedness`).
    """
    try:
        up, up_name = lab_vertical(xyz)
        heading = walking_direction(xyz, up)
    except CoordinateError as err:
        raise CoordinateError(f"{name}: {err}") from None
    frac = check_handedness(xyz, up, up_name, heading, name)
    x = heading.direction
    y = -up
    return FrameTransform(np.stack([x, y, np.cross(x, y)]), up_name, heading, frac)


def camera_to_opensim(xyz: np.ndarray) -> FrameTransform:
    """The transform from the camera frame to OpenSim's ground frame: Y up = the camera's −y, X = the walking
    direction (:func:`walking_direction`, horizontal in the camera's x–z plane), Z = X × Y (the subject's right);
    a rotation about the camera's vertical plus the y flip, so lengths and angles are unchanged.

    Args:
        xyz: clinical joints ``(F, C, 3)`` mm in the camera frame (absolute or root-centred).
    Raises:
        CoordinateError: no walking or facing direction can be found.
    """
    heading = walking_direction(xyz, CAMERA_UP)
    x = heading.direction
    frac, _ = handedness(xyz, CAMERA_UP)
    return FrameTransform(np.stack([x, CAMERA_UP, np.cross(x, CAMERA_UP)]), "-y", heading, frac)
