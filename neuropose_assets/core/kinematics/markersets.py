"""Marker sets of marker-based motion capture and how their markers define our clinical joints.

Every clinical joint (:data:`.skeletons.CLINICAL_JOINTS`) is defined by a list of *alternatives*; the first whose
markers are all in the file wins, and the joint is the mean of its markers (e.g. the knee = midpoint of the lateral
and medial epicondyle markers, or the lateral marker alone).  Marker names match case-insensitively, with a
``Subject:`` prefix (Vicon Nexus) removed.  Three joints have fixed definitions, as for the video models
(:mod:`.skeletons`), so that both sources mean the same thing:

* ``left_hip`` / ``right_hip``: a hip joint centre marker when the file has one (``LHJC``), otherwise the hip joint
  centre predicted from the pelvis markers by Harrington's regression (Harrington, Nicol, Duncan, Jones, Wilkinson,
  Theologis, "Prediction of the hip joint centre in adults, children, and patients with cerebral palsy based on
  magnetic resonance imaging", J Biomech 40:595–602, 2007): in the pelvis frame (origin mid-ASIS; z from the left to
  the right ASIS; x anterior, in the plane of the ASIS and the mid-PSIS / sacrum; y = z × x, superior), with pelvis
  width PW (inter-ASIS distance) and depth PD (mid-ASIS to mid-PSIS), mm:
  x = −0.24 PD − 9.9, y = −0.30 PW − 10.9, z = ±(0.33 PW + 7.3) (+ right, − left);
* ``pelvis``: the midpoint of the two hip joint centres (BlazePose: of the two hip landmarks);
* ``neck``: the midpoint of the two shoulders (Plug-in Gait without shoulder markers: of C7 and CLAV, the
  jugular notch).

Known sets (:data:`MARKER_SETS`): ``clinical`` (our own names, e.g. a TRC we exported), ``plug_in_gait`` (Vicon
Plug-in Gait lower / full body, also the Rajagopal 2016 OpenSim model's names: LASI, LPSI / SACR, LKNE [+ LKNM /
LMKNE], LANK [+ LMED / LMMA], LHEE, LTOE, LSHO, LELB, LWRA / LWRB, LFHD …), ``opensim_gait2392`` (OpenSim gait2354 /
gait2392 example names: L.ASIS, V.Sacral, L.Knee.Lat, L.Ankle.Lat, L.Heel, L.Toe.Tip, L.Acromium …), ``opencap``
(OpenCap's ``*_study`` markers) and ``pose2sim`` (Pose2Sim / OpenPose body names: LHip, LKnee, LAnkle, LHeel,
LBigToe …).  Anything else: a mapping file ``markers.yaml`` (:class:`MarkerMapping`) in the cohort's intake folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS
from neuropose_assets.core.models import STRICT

#: joints whose definition is fixed (module docstring), not taken from a marker list unless the set names them
DERIVED = ("pelvis", "neck")


class HipMarkers(BaseModel):
    """The pelvis markers of Harrington's hip joint centre regression; ``sacrum`` stands in for the two PSIS."""

    model_config = STRICT

    left_asis: str
    right_asis: str
    left_psis: str | None = None
    right_psis: str | None = None
    sacrum: str | None = None


class MarkerMapping(BaseModel):
    """A marker set: for each clinical joint, alternatives (lists of marker names whose mean defines the joint),
    tried in order; plus the pelvis markers for the hip joint centres.

    ``markers.yaml``::

        name: my_lab
        joints:
          left_heel: [[LCAL]]
          left_knee: [[LKNL, LKNM], [LKNL]]     # both epicondyles, else the lateral one
        hip_markers: [{left_asis: LASI, right_asis: RASI, sacrum: SACR}]   # one or more sets, first complete one
    """

    model_config = STRICT

    name: str
    joints: dict[str, list[list[str]]] = Field(default_factory=dict)
    hip_markers: list[HipMarkers] = Field(default_factory=list)

    def resolve(self, labels: list[str]) -> tuple[dict[str, list[int]], HipMarkers | None]:
        """For the file's ``labels``: the marker indices defining each joint (joints with no complete alternative
        are absent) and the first complete set of hip markers (or ``None``)."""
        index = {normalise(lab): i for i, lab in enumerate(labels)}
        found: dict[str, list[int]] = {}
        for joint, alternatives in self.joints.items():
            for alt in alternatives:
                if alt and all(normalise(m) in index for m in alt):
                    found[joint] = [index[normalise(m)] for m in alt]
                    break
        hips = None
        for h in self.hip_markers:
            have = {k: v for k, v in h.model_dump().items() if v is not None and normalise(v) in index}
            if {"left_asis", "right_asis"} <= set(have) and (
                {"left_psis", "right_psis"} <= set(have) or "sacrum" in have
            ):
                hips = h
                break
        return found, hips


def normalise(label: str) -> str:
    """Marker name for matching: without a ``Subject:`` prefix, stripped, lower case."""
    return label.rsplit(":", 1)[-1].strip().lower()


def _sided(templates: dict[str, list[list[str]]], letters: dict[str, str]) -> dict[str, list[list[str]]]:
    """Expand ``{s}`` in templates of ``left_*`` joints into both sides (``letters``: side → the set's prefix)."""
    out: dict[str, list[list[str]]] = {}
    for joint, alts in templates.items():
        for side, letter in letters.items():
            out[f"{side}_{joint}"] = [[m.format(s=letter) for m in alt] for alt in alts]
    return out


_LR = {"left": "L", "right": "R"}
MARKER_SETS: dict[str, MarkerMapping] = {
    m.name: m
    for m in (
        MarkerMapping(name="clinical", joints={j: [[j]] for j in CLINICAL_JOINTS}),
        MarkerMapping(
            name="plug_in_gait",
            joints={
                **_sided(
                    {
                        "hip": [["{s}HJC"]],
                        "knee": [
                            ["{s}KJC"],
                            ["{s}KNE", "{s}KNM"],
                            ["{s}KNE", "{s}MKNE"],
                            ["{s}KNE", "{s}KNEM"],
                            ["{s}KNE"],
                        ],
                        "ankle": [
                            ["{s}AJC"],
                            ["{s}ANK", "{s}MED"],
                            ["{s}ANK", "{s}MMA"],
                            ["{s}ANK", "{s}ANKM"],
                            ["{s}ANK"],
                        ],
                        "heel": [["{s}HEE"], ["{s}CAL"]],
                        "toe": [["{s}TOE"]],
                        "shoulder": [["{s}SJC"], ["{s}SHO"], ["{s}ACR"]],
                        "elbow": [["{s}EJC"], ["{s}ELB", "{s}MEL"], ["{s}ELB"]],
                        "wrist": [["{s}WJC"], ["{s}WRA", "{s}WRB"], ["{s}WRA"], ["{s}WRB"]],
                    },
                    _LR,
                ),
                "head": [["LFHD", "RFHD", "LBHD", "RBHD"], ["LFHD", "RFHD"]],
                # no shoulder markers (lower-body + trunk sets): the thorax's C7 / jugular notch midpoint
                "neck": [["LSHO", "RSHO"], ["C7", "CLAV"]],
            },
            hip_markers=[
                HipMarkers(left_asis="LASI", right_asis="RASI", left_psis="LPSI", right_psis="RPSI", sacrum="SACR")
            ],
        ),
        MarkerMapping(
            name="opensim_gait2392",
            joints={
                **_sided(
                    {
                        "knee": [["{s}.Knee.Lat", "{s}.Knee.Med"], ["{s}.Knee.Lat"]],
                        "ankle": [["{s}.Ankle.Lat", "{s}.Ankle.Med"], ["{s}.Ankle.Lat"]],
                        "heel": [["{s}.Heel"]],
                        "toe": [["{s}.Toe.Tip"], ["{s}.Toe"]],
                        "shoulder": [["{s}.Acromium"], ["{s}.Shoulder"]],
                        "elbow": [["{s}.Elbow"]],
                        "wrist": [["{s}.Wrist.Med", "{s}.Wrist.Lat"], ["{s}.Wrist"]],
                    },
                    _LR,
                ),
                "head": [["Top.Head"]],
            },
            hip_markers=[
                HipMarkers(
                    left_asis="L.ASIS", right_asis="R.ASIS", left_psis="L.PSIS", right_psis="R.PSIS", sacrum="V.Sacral"
                )
            ],
        ),
        MarkerMapping(
            name="opencap",
            joints={
                **_sided(
                    {
                        "hip": [["{s}HJC_study"]],
                        "knee": [["{s}_knee_study", "{s}_mknee_study"], ["{s}_knee_study"]],
                        "ankle": [["{s}_ankle_study", "{s}_mankle_study"], ["{s}_ankle_study"]],
                        "heel": [["{s}_calc_study"]],
                        "toe": [["{s}_toe_study"]],
                        "shoulder": [["{s}_shoulder_study"]],
                        "elbow": [["{s}_lelbow_study", "{s}_melbow_study"]],
                        "wrist": [["{s}_lwrist_study", "{s}_mwrist_study"]],
                    },
                    _LR,
                ),
            },
            hip_markers=[
                HipMarkers(
                    left_asis="L.ASIS_study",
                    right_asis="r.ASIS_study",
                    left_psis="L.PSIS_study",
                    right_psis="r.PSIS_study",
                )
            ],
        ),
        MarkerMapping(
            name="pose2sim",
            joints={
                **_sided(
                    {
                        "hip": [["{s}Hip"]],
                        "knee": [["{s}Knee"]],
                        "ankle": [["{s}Ankle"]],
                        "heel": [["{s}Heel"]],
                        "toe": [["{s}BigToe"]],
                        "shoulder": [["{s}Shoulder"]],
                        "elbow": [["{s}Elbow"]],
                        "wrist": [["{s}Wrist"]],
                    },
                    _LR,
                ),
                "head": [["Head"], ["Nose"]],
                "neck": [["Neck"]],  # HALPE / OpenPose keypoints, and our export (else: the shoulders' midpoint)
                "pelvis": [["Hip"]],  # HALPE's hip centre, and our export's pelvis (else: the hips' midpoint)
            },
        ),
    )
}


def load_mapping(path: Path) -> MarkerMapping:
    """Read a ``markers.yaml`` mapping file.

    Raises:
        VideoError: the file is not valid YAML or not a mapping of the documented form (message says what).
    """
    import yaml
    from pydantic import ValidationError

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        mapping = MarkerMapping(**(data or {}))
    except (yaml.YAMLError, ValidationError, TypeError) as err:
        raise VideoError(f"the marker mapping {path.name} is not valid: {err}") from None
    unknown = sorted(set(mapping.joints) - set(CLINICAL_JOINTS))
    if unknown:
        raise VideoError(
            f"the marker mapping {path.name} names unknown joints {unknown}; "
            f"the clinical joints are {list(CLINICAL_JOINTS)}"
        )
    return mapping


def harrington_hip_centres(markers: np.ndarray, index: dict[str, int], hips: HipMarkers) -> tuple[np.ndarray, ...]:
    """Left and right hip joint centres ``(F, 3)`` each, in the markers' frame and unit (mm), by Harrington et al.
    2007 (module docstring).  NaN in frames where a pelvis marker is missing.

    Args:
        markers: ``(F, M, 3)`` marker positions, mm.
        index: normalised marker name → column of ``markers``.
        hips: which markers are the ASIS / PSIS / sacrum.
    """

    def m(name: str | None) -> np.ndarray | None:
        return markers[:, index[normalise(name)]] if name is not None and normalise(name) in index else None

    lasi, rasi = m(hips.left_asis), m(hips.right_asis)
    lpsi, rpsi = m(hips.left_psis), m(hips.right_psis)
    back = 0.5 * (lpsi + rpsi) if lpsi is not None and rpsi is not None else m(hips.sacrum)
    mid = 0.5 * (lasi + rasi)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = rasi - lasi
        pw = np.linalg.norm(z, axis=1)
        z = z / pw[:, None]
        a = mid - back
        pd = np.linalg.norm(a, axis=1)
        x = a - np.einsum("fi,fi->f", a, z)[:, None] * z
        x = x / np.linalg.norm(x, axis=1)[:, None]
        y = np.cross(z, x)
    dx, dy, dz = -0.24 * pd - 9.9, -0.30 * pw - 10.9, 0.33 * pw + 7.3
    left = mid + dx[:, None] * x + dy[:, None] * y - dz[:, None] * z
    right = mid + dx[:, None] * x + dy[:, None] * y + dz[:, None] * z
    return left, right


def clinical_from_markers(
    markers: np.ndarray, labels: list[str], mapping: MarkerMapping
) -> tuple[np.ndarray, dict[str, str]]:
    """Clinical joints ``(F, C, 3)`` (unit of ``markers``; NaN where undefined) from marker positions ``(F, M, 3)``
    named ``labels``, and how each joint was defined (``{"left_knee": "mean(LKNE, LKNM)", …}``; absent = not
    defined by this file)."""
    found, hips = mapping.resolve(labels)
    n = markers.shape[0]
    out = np.full((n, len(CLINICAL_JOINTS), 3), np.nan)
    how: dict[str, str] = {}
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    for joint, idx in found.items():
        out[:, ci[joint]] = markers[:, idx].mean(axis=1)
        how[joint] = labels[idx[0]] if len(idx) == 1 else f"mean({', '.join(labels[i] for i in idx)})"
    if hips is not None and not ({"left_hip", "right_hip"} <= set(found)):
        index = {normalise(lab): i for i, lab in enumerate(labels)}
        left, right = harrington_hip_centres(markers, index, hips)
        names = ", ".join(v for v in hips.model_dump().values() if v is not None and normalise(v) in index)
        for side, centre in (("left", left), ("right", right)):
            if f"{side}_hip" not in found:
                out[:, ci[f"{side}_hip"]] = centre
                how[f"{side}_hip"] = f"hip joint centre, Harrington 2007 regression from {names}"
    for joint, (a, b) in {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder")}.items():
        if joint not in found and a in how and b in how:
            out[:, ci[joint]] = 0.5 * (out[:, ci[a]] + out[:, ci[b]])
            how[joint] = f"midpoint of {a} and {b}"
    return out, how


def choose_mapping(labels: list[str], custom: MarkerMapping | None = None) -> tuple[MarkerMapping, int]:
    """The mapping to use for a file's ``labels``: ``custom`` when given, else the known set defining the most
    clinical joints (ties: the order of :data:`MARKER_SETS`); with the number of joints it defines."""
    candidates = [custom] if custom is not None else list(MARKER_SETS.values())
    scored = []
    for m in candidates:
        found, hips = m.resolve(labels)
        n = len(found) + (2 if hips is not None and not {"left_hip", "right_hip"} <= set(found) else 0)
        scored.append((n, m))
    best = max(scored, key=lambda s: s[0])
    return best[1], best[0]
