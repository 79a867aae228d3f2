"""Task events and repetitions: what happened when, per side, for the task a video shows (:mod:`.tasks`).

Every task is analysed on the ``features`` table (one person, clinical joints, angles; :mod:`..kinematics.features`):

================  ===========================================  ===============================================
task              signal                                       events (per repetition)
================  ===========================================  ===============================================
``gait``          heel / toe position along the body's         ``heel_strike`` = most anterior heel relative to
                  anterior axis relative to the pelvis, mm     the pelvis, ``toe_off`` = most posterior toe
                  (body frame: ``features.body_axes``)         (Zeni, Richards & Higginson, Gait Posture 2008)
``sit_to_stand``  pelvis height above the ankles in the        ``seat_off`` (10 % of the rise),
                  image, fraction of its standing value        ``standing_reached`` (90 %), ``sit_start`` (90 %
                  (:func:`pelvis_height`)                       of the fall), ``seated`` (10 %)
``squat``         the same, inverted (depth)                   ``squat_start``, ``squat_bottom``, ``squat_end``
``arm_raise``     shoulder elevation, deg, per side            ``raise_start``, ``arm_up`` (90 %),
                                                               ``arm_at_top`` (middle of the hold above 90 %),
                                                               ``arm_down``, ``arm_lowered``
``tug``           uprightness = −(hip + knee flexion) of the   ``seat_off``, ``standing_reached``, ``turn_start``,
                  less flexed leg, deg; body yaw from the hip  ``turn_end`` (each 180° turn), ``sit_start``,
                  and shoulder lines; heel / toe as for gait   ``seated``; ``heel_strike``/``toe_off`` while
                                                               walking
``generic``       a configurable signal (:mod:`.segmentation`)  ``start``, ``peak``, ``end``
================  ===========================================  ===============================================

Phase boundaries are threshold crossings of a fixed fraction of each hump's rise and fall
(:func:`.segmentation.find_humps`), the convention of motion-capture phase detection (e.g. seat-off as the pelvis
rising through 10 % of its excursion); they do not move with ripples on a plateau.  Events near the trial's edges are
kept when the recorded side of their hump is large enough.

**Complete repetitions.**  Every repetition row carries ``complete``: its start and end are inside the recording and
observed, and both its rise and its fall reach ``complete_frac`` (70 %) of the trial's typical excursion (the median
over its repetitions).  Incomplete ones — cut off by the recording's edge, stopped half-way, or bounded by an unseen
event — are listed, and the outcomes leave them out of counts and means and say how many they excluded.

**Events only where the subject is observed.**  Every event carries a ``confidence``: the lowest confidence, at its
frame, of the joints whose positions define it (:data:`EVENT_JOINTS`; the features' ``{joint}_conf``, e.g. the heel
and both hips for a heel strike).  No event is placed at a frame where the subject was not detected, where one of its
joints was not observed (gap-filled or absent) or where that confidence is below ``EventsConfig.min_confidence``;
such candidates are listed in :attr:`TaskAnalysis.rejected` with the reason, and a repetition or gait cycle needs all
of its bounding events observed.  (Gaps are still bridged to *locate* maxima, so a gap cannot split one movement in
two; it only cannot host an event.)

Output tables (the ``events`` and ``repetitions`` contracts, ``data_contracts.polars_schema``): events in frames
(0-based decoded frame) and seconds (``time_s`` of that frame), with the signal value, its unit and the confidence;
repetitions ``[start, peak, end)`` in frames and seconds, ``end`` exclusive, one table for both sides (``side`` null
for bilateral tasks).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from neuropose_assets.core.analysis.segmentation import (
    SignalSpec,
    extract_signal,
    find_humps,
    find_peaks_with_edges,
    segment_features,
)
from neuropose_assets.core.analysis.tasks import TaskSpec
from neuropose_assets.core.kinematics.features import angle_column
from neuropose_assets.core.kinematics.signal import fill_gaps, lowpass_times
from neuropose_assets.core.models import STRICT

SIDES = ("left", "right")
#: the shortest time between heel strikes of the two feet, s (the lower step-time bound of the plausibility gates,
#: :data:`.outcomes.PLAUSIBLE`: half of Mobilise-D's shortest stride)
PLAUSIBLE_STEP_S = 0.1
#: every event name any task emits
EVENT_NAMES: tuple[str, ...] = (
    "heel_strike",
    "toe_off",
    "seat_off",
    "standing_reached",
    "standing_peak",
    "sit_start",
    "seated",
    "squat_start",
    "squat_bottom",
    "squat_end",
    "raise_start",
    "arm_up",
    "arm_at_top",
    "arm_down",
    "arm_lowered",
    "turn_start",
    "turn_end",
    "start",
    "peak",
    "end",
)


class HumpConfig(BaseModel):
    """Hump detection for a repetitive task (:func:`.segmentation.find_humps`).

    Attributes:
        min_prominence: smallest rise and fall that counts as a repetition, in the task signal's unit.
        min_distance_s: smallest time between two repetitions' peaks, s.
        lowpass_hz: extra zero-phase Butterworth low-pass of the task signal, Hz (``None`` = the features' own
            filtering only).
        low_frac: fraction of the rise / fall that marks the start / end of a repetition.
        high_frac: fraction that marks reaching / leaving the top (e.g. standing reached).
        complete_frac: a repetition is ``complete`` when its start and end are inside the recording and observed and
            both its rise and its fall reach this fraction of the trial's typical excursion (the median over its
            repetitions, :func:`typical_excursion`): a squat stopped at 58 % of the usual depth, or cut off by the
            end of the recording, is listed with ``complete = false`` and left out of counts and means.
    """

    model_config = STRICT

    min_prominence: float = Field(gt=0)
    min_distance_s: float = Field(default=1.0, ge=0)
    lowpass_hz: float | None = Field(default=None, gt=0)
    low_frac: float = Field(default=0.1, gt=0, lt=0.5)
    high_frac: float = Field(default=0.9, gt=0.5, lt=1)
    complete_frac: float = Field(default=0.7, gt=0, le=1)


class GaitConfig(BaseModel):
    """Gait event detection (Zeni et al. 2008).

    Attributes:
        min_prominence_mm: smallest heel (toe) excursion along the anterior axis that counts as a step, mm.
        min_distance_s: smallest time between two heel strikes (toe-offs) of the same foot, s.
        max_stride_s: longest heel strike → heel strike of one foot that is one gait cycle, s (longer = a stop).
        edge_s: an event closer than this to the trial's first or last frame, s, needs the support of the recorded
            signal (``edge_drop_mm``): the motion before / after the recording is unseen, so a maximum there may
            still be rising (and the low-pass filter has edge transients).
        edge_drop_mm: an event within ``edge_s`` of an end is reported when its heel (toe) signal falls by at
            least this much between the event and that end, mm — a maximum that was recorded on both sides
            (``None``: never).
        edge_drop_sources: which pose sources this applies to: ``markers`` (marker-based capture only, default:
            its first and last frames are as accurate as the others; a video's are not — the detector has no track
            yet, the subject may be entering, and on the development clips a start-of-clip left/right confusion
            produced a false heel strike) or ``all``.
        lowpass_hz: extra low-pass of the heel / toe signals, Hz (``None`` = the features' own filtering only).
        max_heel_behind_mm: a heel-strike candidate whose heel is more than this far *behind* the other heel along
            the anterior axis is not placed (listed as rejected): at a heel strike of forward walking the striking
            foot is ahead, or beside the other in a step-to gait (≈ 0 mm), mm.
    """

    model_config = STRICT

    min_prominence_mm: float = Field(default=50.0, gt=0)
    min_distance_s: float = Field(default=0.5, ge=0)
    max_stride_s: float = Field(default=2.5, gt=0)
    edge_s: float = Field(default=0.1, ge=0)
    edge_drop_mm: float | None = Field(default=3.0, gt=0)
    edge_drop_sources: Literal["markers", "all"] = "markers"
    lowpass_hz: float | None = Field(default=None, gt=0)
    max_heel_behind_mm: float = Field(default=100.0, ge=0)


class TugConfig(BaseModel):
    """Timed Up and Go: the upright phase (stand → walk → turn → walk → sit) and the turns.

    Attributes:
        upright: hump of the uprightness signal −(hip + knee flexion, mean of both sides), deg.
        min_turn_deg: smallest change of body yaw that counts as a turn, deg.
        turn_lowpass_hz: low-pass of the yaw rate before turns are located, Hz.
        turn_frac: a turn starts / ends where the yaw rate crosses this fraction of its peak.
    """

    model_config = STRICT

    upright: HumpConfig = HumpConfig(min_prominence=50.0, min_distance_s=3.0)
    min_turn_deg: float = Field(default=120.0, gt=0)
    turn_lowpass_hz: float = Field(default=1.5, gt=0)
    turn_frac: float = Field(default=0.2, gt=0, lt=1)


class EventsConfig(BaseModel):
    """Event detection settings per task; stored in the provenance of the ``events`` table.

    Attributes:
        min_confidence: an event is placed only where every joint that defines it is observed with at least this
            confidence (0–1; BlazePose visibility: a foot hidden behind the other leg in a side view still scores
            0.7–0.8 on the development clips, an elbow hidden behind the trunk 0.02).
        gait: heel strikes and toe-offs (also used for the steps of the TUG).
        sit_to_stand: humps of the pelvis height, in fractions of the standing pelvis height above the ankles.
        squat: humps of the squat depth (1 − pelvis height), same unit.
        arm_raise: humps of the shoulder elevation, deg.
        tug: the upright phase and the turns of the Timed Up and Go.
    """

    model_config = STRICT

    min_confidence: float = Field(default=0.5, ge=0, le=1)
    gait: GaitConfig = GaitConfig()
    sit_to_stand: HumpConfig = HumpConfig(min_prominence=0.2, min_distance_s=1.0)
    squat: HumpConfig = HumpConfig(min_prominence=0.15, min_distance_s=1.0)
    arm_raise: HumpConfig = HumpConfig(min_prominence=30.0, min_distance_s=1.0)
    tug: TugConfig = TugConfig()


@dataclass
class TaskAnalysis:
    """Result of :func:`analyse_task`: the ``events`` and ``repetitions`` tables and the signals used
    (name → description with unit), for metadata."""

    events: pl.DataFrame
    repetitions: pl.DataFrame
    signals: dict[str, str] = field(default_factory=dict)
    #: event candidates that were not placed: ``{event, side, frame, time_s, reason}``
    rejected: list[dict] = field(default_factory=list)


#: the clinical joints whose positions define each event (``{side}``: the event's side); the event's confidence is the
#: lowest of theirs at its frame
EVENT_JOINTS: dict[str, tuple[str, ...]] = {
    "heel_strike": ("{side}_heel", "left_hip", "right_hip"),
    "toe_off": ("{side}_toe", "left_hip", "right_hip"),
    **{
        e: ("pelvis", "left_ankle", "right_ankle")
        for e in (
            "seat_off",
            "standing_reached",
            "standing_peak",
            "sit_start",
            "seated",
            "squat_start",
            "squat_bottom",
            "squat_end",
        )
    },
    **{
        e: ("{side}_shoulder", "{side}_elbow")
        for e in ("raise_start", "arm_up", "arm_at_top", "arm_down", "arm_lowered")
    },
    **{e: ("left_hip", "right_hip", "left_shoulder", "right_shoulder") for e in ("turn_start", "turn_end")},
}
#: the TUG's stand and sit events come from hip and knee angles (:func:`uprightness`), not the pelvis height
TUG_UPRIGHT_JOINTS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


# ------------------------------------------------------------------------------------------------------- signals


def _clean(x: np.ndarray, lowpass_hz: float | None, t: np.ndarray) -> np.ndarray:
    """Gaps bridged (in time, ends held) and the optional extra low-pass on the true frame times."""
    s = fill_gaps(x, hold_ends=True, t=t)
    if lowpass_hz is not None and np.isfinite(s).all() and len(s) > 1:
        s = lowpass_times(s, t, lowpass_hz)
    return s


def _col(features: pl.DataFrame, name: str) -> np.ndarray:
    return extract_signal(features, SignalSpec(kind="column", column=name))


def pelvis_height(features: pl.DataFrame) -> np.ndarray:
    """Pelvis height above the ankles in the image, as a fraction of its 95th percentile (≈ standing), ``(F,)``.

    ``(mean(left_ankle_v, right_ankle_v) − pelvis_v) / P95`` with image rows ``v`` in px (downwards), so camera
    pan and the subject's size drop out; NaN where the subject is absent.  Works for hip-centred 3D models
    (BlazePose) because it uses the 2D image only.
    """
    h = 0.5 * (_col(features, "left_ankle_v_px") + _col(features, "right_ankle_v_px")) - _col(features, "pelvis_v_px")
    ref = np.nanpercentile(h, 95) if np.isfinite(h).any() else np.nan
    return h / ref if np.isfinite(ref) and ref > 0 else np.full_like(h, np.nan)


def uprightness(features: pl.DataFrame) -> np.ndarray:
    """−(hip flexion + knee flexion) of the less flexed leg, deg ``(F,)``: ≈ 0 standing and walking, ≈ −180 seated.
    From the fitted model's joint angles (``hip_flexion``, ``knee_angle``), so it does not depend on the camera's view
    or the subject's distance.  The less flexed leg is the stance leg while walking: the swing leg's hip and knee
    flexion (≈ 30° + 60°) would otherwise read as the start of sitting down; seated and while rising both legs flex
    alike.  A leg whose angles are undetermined is left out (NaN only when both are)."""
    if not len(features):
        return np.zeros(0)
    sides = np.stack(
        [_col(features, angle_column("hip_flexion", s)) + _col(features, angle_column("knee_angle", s)) for s in SIDES]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames stay NaN
        return -np.nanmin(sides, axis=0)


def anterior_mm(features: pl.DataFrame, joint: str, level: bool = False) -> np.ndarray:
    """Position of ``joint`` relative to the pelvis along the body's anterior axis, mm ``(F,)`` (Zeni 2008);
    ``level``: the horizontal anterior axis (Zeni's lab anterior–posterior direction), for marker-based capture."""
    return extract_signal(features, SignalSpec(kind="joint_body_axis", joint=joint, axis="anterior", level=level))


def body_yaw_deg(features: pl.DataFrame) -> np.ndarray:
    """Unwrapped heading of the body about the camera's vertical, deg ``(F,)``: the angle in the camera's x–z plane
    of the mean of the left→right hip and shoulder lines (camera-frame coordinates; x right, z away)."""
    v = np.zeros((len(features), 2))
    for a, b in (("left_hip", "right_hip"), ("left_shoulder", "right_shoulder")):
        for k, axis in enumerate("xz"):
            v[:, k] += _col(features, f"{b}_{axis}_mm") - _col(features, f"{a}_{axis}_mm")
    yaw = np.degrees(np.arctan2(v[:, 1], v[:, 0]))
    ok = np.isfinite(yaw)
    out = np.full(len(yaw), np.nan)
    if ok.any():
        out[ok] = np.degrees(np.unwrap(np.radians(yaw[ok])))
    return out


# ------------------------------------------------------------------------------------------------------- builders


class _Builder:
    """Collects event and repetition rows against one time base; places an event only where it is observed."""

    def __init__(self, times: np.ndarray, features: pl.DataFrame | None = None, min_confidence: float = 0.0) -> None:
        self.t = times
        self.features = features
        self.min_confidence = min_confidence
        self.events: list[dict] = []
        self.reps: list[dict] = []
        self.rejected: list[dict] = []
        self._conf: dict[str, np.ndarray] = {}
        present = None if features is None or "subject_present" not in features.columns else features["subject_present"]
        self.present = np.ones(len(times), bool) if present is None else present.fill_null(False).to_numpy()

    def confidence(self, joints: tuple[str, ...], frame: int) -> float | None:
        """Lowest confidence of ``joints`` at ``frame`` (NaN: a joint not observed); ``None`` without joints."""
        if not joints or self.features is None:
            return None
        if not any(f"{j}_conf" in self.features.columns for j in joints):
            return None  # a features table without confidences (written before they existed): presence only
        vals = []
        for j in joints:
            if j not in self._conf:
                col = f"{j}_conf"
                self._conf[j] = (
                    _col(self.features, col) if col in self.features.columns else np.full(len(self.t), np.nan)
                )
            vals.append(self._conf[j][frame])
        return float(np.min(vals))

    def observed(
        self, name: str, side: str | None, frame: int, joints: tuple[str, ...] | None = None
    ) -> tuple[bool, float | None]:
        """Whether an event may be placed at ``frame`` and its confidence; a refusal is recorded with the reason."""
        if joints is None:
            joints = tuple(j.format(side=side) for j in EVENT_JOINTS.get(name, ()))
        conf = self.confidence(joints, frame)
        reason = None
        if not self.present[frame]:
            reason = "the subject was not detected in this frame"
        elif conf is not None and not np.isfinite(conf):
            reason = f"not all of {', '.join(joints)} were observed in this frame"
        elif conf is not None and conf < self.min_confidence:
            reason = f"confidence {conf:.2f} of {', '.join(joints)} is below {self.min_confidence:g}"
        if reason:
            self.rejected.append(
                {"event": name, "side": side, "frame": int(frame), "time_s": float(self.t[frame]), "reason": reason}
            )
            return False, conf
        return True, conf

    def event(
        self,
        name: str,
        side: str | None,
        frame: int | None,
        value: float,
        unit: str,
        repetition: int | None,
        joints: tuple[str, ...] | None = None,
    ) -> bool:
        """Add the event if it is observed (:meth:`observed`); returns whether it was added."""
        if frame is None:
            return False
        ok, conf = self.observed(name, side, int(frame), joints)
        if not ok:
            return False
        value = float(value) if value is not None and np.isfinite(value) else None
        self.events.append(
            {
                "event": name,
                "side": side,
                "frame": int(frame),
                "time_s": float(self.t[frame]),
                "value": value,
                "unit": unit,
                "repetition": repetition,
                "confidence": conf,
            }
        )
        return True

    def repetition(
        self,
        side: str | None,
        n: int,
        kind: str,
        start: int,
        end: int,
        peak: int | None,
        peak_event: str | None,
        peak_value: float | None,
        unit: str,
        complete: bool = True,
    ) -> None:
        self.reps.append(
            {
                "complete": bool(complete),
                "side": side,
                "repetition": n,
                "kind": kind,
                "start_frame": start,
                "end_frame": end,
                "peak_frame": peak,
                "start_s": float(self.t[start]),
                "end_s": float(self.t[end]),
                "peak_s": None if peak is None else float(self.t[peak]),
                "duration_s": float(self.t[end] - self.t[start]),
                "peak_event": peak_event if peak is not None else None,
                "peak_value": None if peak is None else float(peak_value),
                "peak_unit": unit,
            }
        )

    def tables(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        from data_contracts import polars_schema  # the contracts are the one schema source

        ev = pl.DataFrame(self.events, schema=polars_schema("events")).sort("frame", "event", "side", nulls_last=True)
        reps = pl.DataFrame(self.reps, schema=polars_schema("repetitions")).sort("side", "repetition", nulls_last=True)
        return ev, reps


def _frames(seconds: float, dt: float) -> int:
    return max(1, int(round(seconds / dt)))


def _humps_task(
    b: _Builder,
    s: np.ndarray,
    cfg: HumpConfig,
    dt: float,
    side: str | None,
    kind: str,
    names: tuple[str, str, str, str, str],
    unit: str,
    *,
    top: str = "peak",
) -> None:
    """Events (``names`` = onset, top reached, top, top left, offset; empty = not reported) and repetitions
    ``[onset, offset)`` of every hump of ``s``.  The top event is the extreme (``top="peak"``) or the middle of the
    hold above ``high_frac`` (``top="hold"``: for movements held at the top, where the maximum is arbitrary); the
    repetition's peak is always the extreme."""
    s = _clean(s, cfg.lowpass_hz, b.t)
    if not np.isfinite(s).all() or len(s) < 3:
        return
    humps = find_humps(
        s,
        min_prominence=cfg.min_prominence,
        min_distance=_frames(cfg.min_distance_s, dt),
        low_frac=cfg.low_frac,
        high_frac=cfg.high_frac,
    )
    typical = typical_excursion(humps)
    for n, h in enumerate(humps):
        mid = h.peak
        if top == "hold" and h.top_reached is not None and h.top_left is not None:
            mid = (h.top_reached + h.top_left - 1) // 2
        placed = {}
        for name, frame in zip(names, (h.onset, h.top_reached, mid, h.top_left, h.offset), strict=True):
            if name:
                placed[name] = b.event(name, side, frame, s[frame] if frame is not None else np.nan, unit, n)
        peak_event = names[2] if top == "peak" else "maximum"
        complete = bool(
            placed[names[0]]
            and placed[names[4]]  # start and end inside the recording and observed
            and min(h.rise, h.fall) >= cfg.complete_frac * typical
        )
        start = h.onset if h.onset is not None else 0
        end = h.offset if h.offset is not None else len(s) - 1
        b.repetition(side, n, kind, start, end, h.peak, peak_event, h.peak_value, unit, complete)


def typical_excursion(humps: list) -> float:
    """The task's typical excursion in this trial: the median over its humps of the larger of rise and fall (signal
    units); 0 without humps.  A repetition is complete when both its rise and its fall reach
    ``HumpConfig.complete_frac`` of it."""
    return float(np.median([max(h.rise, h.fall) for h in humps])) if humps else 0.0


def _renumber(b: _Builder) -> None:
    """Number repetitions 0, 1, ... per side in time order (humps cut off by the trial's edge get none)."""
    complete = {}
    for side in {r["side"] for r in b.reps}:
        for n, r in enumerate(sorted((r for r in b.reps if r["side"] == side), key=lambda r: r["start_frame"])):
            complete[(side, r["repetition"])] = n
            r["repetition"] = n
    for e in b.events:
        e["repetition"] = complete.get((e["side"], e["repetition"]))


def gait_events(
    b: _Builder,
    features: pl.DataFrame,
    cfg: GaitConfig,
    dt: float,
    window: tuple[int, int] | None = None,
    cycles: bool = True,
    source: str = "video",
) -> None:
    """Heel strikes and toe-offs of both feet (Zeni et al. 2008) within ``window`` ``[a, b)`` frames (default: the
    whole trial), and one gait cycle per pair of consecutive heel strikes of a foot (``peak`` = its toe-off).
    ``source`` (``video`` | ``markers``) selects the edge rule (:class:`GaitConfig`) and, for markers, the level
    (horizontal) anterior axis of Zeni's definition; a video's camera may be tilted, so there the axis follows the
    trunk."""
    a, z = window or (0, len(features))
    dist, edge = _frames(cfg.min_distance_s, dt), _frames(cfg.edge_s, dt)
    level = source == "markers"  # the lab's vertical is known: Zeni's horizontal anterior–posterior axis
    sig: dict[str, dict[str, np.ndarray]] = {}
    for side in SIDES:
        sig[side] = {
            j: _clean(anterior_mm(features, f"{side}_{j}", level), cfg.lowpass_hz, b.t)[a:z] for j in ("heel", "toe")
        }
    peaks = {
        "min_prominence": cfg.min_prominence_mm,
        "min_distance": dist,
        "edge": edge,
        "edge_drop": cfg.edge_drop_mm if cfg.edge_drop_sources == "all" or source == "markers" else None,
    }
    # heel-strike candidates, and how far the striking heel is ahead of the other heel there (mm)
    cand: dict[str, list[tuple[int, float]]] = {}
    for side in SIDES:
        heel, toe = sig[side]["heel"], sig[side]["toe"]
        if not (np.isfinite(heel).all() and np.isfinite(toe).all()):
            continue
        other = sig["right" if side == "left" else "left"]["heel"]
        cand[side] = [(int(f), float(heel[f - a] - other[f - a])) for f in find_peaks_with_edges(heel, **peaks) + a]

    def reject(side: str, f: int, reason: str) -> None:
        b.rejected.append({"event": "heel_strike", "side": side, "frame": f, "time_s": float(b.t[f]), "reason": reason})

    # a forward step lands ahead of the other foot (or beside it in a step-to gait): a candidate well behind is not
    # one; and the two feet cannot strike within one shortest step of each other — of such a pair, the foot behind
    # did not strike (the other foot's strike moved it relative to the pelvis)
    min_step = _frames(PLAUSIBLE_STEP_S, dt)
    keep: dict[str, list[int]] = {}
    for side, items in cand.items():
        keep[side] = []
        rivals = cand.get("right" if side == "left" else "left", [])
        for f, ahead in items:
            if np.isfinite(ahead) and -ahead > cfg.max_heel_behind_mm:
                reject(side, f, f"the striking heel is {-ahead:.0f} mm behind the other heel: not a forward step")
            elif any(abs(g - f) < min_step and g_ahead > ahead for g, g_ahead in rivals):
                reject(side, f, "the other foot strikes at the same moment, further ahead: not a step of this foot")
            else:
                keep[side].append(f)
    for side in cand:
        heel, toe = sig[side]["heel"], sig[side]["toe"]
        # only observed events are placed, and only they bound gait cycles
        hs = np.array([f for f in keep[side] if b.event("heel_strike", side, f, heel[f - a], "mm", None)], dtype=int)
        to = np.array(
            [
                f
                for f in find_peaks_with_edges(-toe, **peaks) + a
                if b.event("toe_off", side, f, toe[f - a], "mm", None)
            ],
            dtype=int,
        )
        if not cycles:
            continue
        # a cycle never spans a heel strike that was detected but not placed (it would be two strides)
        unseen = np.array([r["frame"] for r in b.rejected if r["event"] == "heel_strike" and r["side"] == side], int)
        pairs = [
            (int(x), int(y))
            for x, y in zip(hs[:-1], hs[1:])
            if b.t[y] - b.t[x] <= cfg.max_stride_s and not ((unseen > x) & (unseen < y)).any()
        ]
        for n, (s0, s1) in enumerate(pairs):
            inside = to[(to > s0) & (to < s1)]
            peak = int(inside[0]) if len(inside) else None
            b.repetition(
                side, n, "gait_cycle", s0, s1, peak, "toe_off", toe[peak - a] if peak is not None else None, "mm"
            )
            for e in b.events:
                if e["side"] == side and e["frame"] == s0 and e["event"] == "heel_strike":
                    e["repetition"] = n


def turns(yaw: np.ndarray, t: np.ndarray, cfg: TugConfig) -> list[tuple[int, int, float]]:
    """Turns ``(start, end, degrees)`` of an unwrapped yaw ``(F,)`` deg at times ``t`` s: humps of the low-passed
    absolute yaw rate, bounded where the rate crosses ``turn_frac`` of its peak, kept when the heading changes by
    ≥ ``min_turn_deg``."""
    y = fill_gaps(yaw, hold_ends=True, t=t)
    if len(y) < 3 or not np.isfinite(y).all():
        return []
    dt = float(np.median(np.diff(t)))
    rate = np.abs(lowpass_times(np.gradient(y, t), t, cfg.turn_lowpass_hz))
    humps = find_humps(
        rate,
        min_prominence=cfg.min_turn_deg / 4,
        min_distance=_frames(1.0, dt),
        low_frac=cfg.turn_frac,
        high_frac=max(cfg.turn_frac + 0.01, 0.9),
    )
    out = []
    for h in humps:
        start = h.onset if h.onset is not None else 0
        end = h.offset if h.offset is not None else len(y) - 1
        change = float(y[end] - y[start])
        if abs(change) >= cfg.min_turn_deg:
            out.append((start, end, change))
    return out


def tug_events(b: _Builder, features: pl.DataFrame, cfg: EventsConfig, dt: float, source: str = "video") -> None:
    """Timed Up and Go: seat-off, standing, turns, sit start, seated from the longest upright phase; heel strikes and
    toe-offs between standing and sit start."""
    up = _clean(uprightness(features), cfg.tug.upright.lowpass_hz, b.t)
    if len(up) < 3 or not np.isfinite(up).all():
        return
    u = cfg.tug.upright
    humps = find_humps(
        up,
        min_prominence=u.min_prominence,
        min_distance=_frames(u.min_distance_s, dt),
        low_frac=u.low_frac,
        high_frac=u.high_frac,
    )
    if not humps:
        return

    # the test is the longest upright phase (walking dips stay above its low threshold)
    def span(h) -> int:
        return (h.offset if h.offset is not None else len(up)) - (h.onset if h.onset is not None else 0)

    h = max(humps, key=span)
    placed = {}
    for name, frame in (
        ("seat_off", h.onset),
        ("standing_reached", h.top_reached),
        ("sit_start", h.top_left),
        ("seated", h.offset),
    ):
        placed[name] = b.event(
            name, None, frame, up[frame] if frame is not None else np.nan, "deg", 0, TUG_UPRIGHT_JOINTS
        )
    lo = h.top_reached if h.top_reached is not None else (h.onset or 0)
    hi = h.top_left if h.top_left is not None else (h.offset if h.offset is not None else len(up))
    yaw = body_yaw_deg(features)
    for k, (s0, s1, change) in enumerate(t for t in turns(yaw, b.t, cfg.tug) if t[1] > lo):
        b.event("turn_start", None, s0, change, "deg", 0)
        b.event("turn_end", None, s1, change, "deg", 0)
    if hi - lo > 2:
        gait_events(b, features, cfg.gait, dt, window=(lo, hi), cycles=False, source=source)
    first_turn = next((e["frame"] for e in b.events if e["event"] == "turn_start"), None)
    b.repetition(
        None,
        0,
        "tug",
        h.onset if h.onset is not None else 0,
        h.offset if h.offset is not None else len(up) - 1,
        first_turn,
        "turn_start",
        0.0 if first_turn is not None else None,
        "deg",
        placed["seat_off"] and placed["seated"],
    )


def analyse_task(
    features: pl.DataFrame, spec: TaskSpec, config: EventsConfig = EventsConfig(), *, source: str = "video"
) -> TaskAnalysis:
    """Events and repetitions of ``spec.task`` in a ``features`` table (module docstring).

    Args:
        source: ``video`` or ``markers`` (marker-based capture, :mod:`..interop.mocap`): where the poses came from;
            selects the edge rule of gait events (:class:`GaitConfig`).

    Returns:
        :class:`TaskAnalysis`; tables may have zero rows (nothing found), never invented events.
    Raises:
        KeyError: a column the task needs is missing from ``features`` (e.g. a generic signal column).
    """
    t = features["time_s"].to_numpy().astype(np.float64)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    b = _Builder(t, features, config.min_confidence)
    signals: dict[str, str] = {}
    task = spec.task
    if task == "gait":
        gait_events(b, features, config.gait, dt, source=source)
        signals["heel_strike"] = "heel position along the body's anterior axis relative to the pelvis, mm (max)"
        signals["toe_off"] = "toe position along the body's anterior axis relative to the pelvis, mm (min)"
    elif task in ("sit_to_stand", "squat"):
        h = pelvis_height(features)
        if task == "sit_to_stand":
            _humps_task(
                b,
                h,
                config.sit_to_stand,
                dt,
                None,
                "sit_to_stand",
                ("seat_off", "standing_reached", "standing_peak", "sit_start", "seated"),
                "fraction",
            )
        else:
            _humps_task(
                b,
                1.0 - h,
                config.squat,
                dt,
                None,
                "squat",
                ("squat_start", "", "squat_bottom", "", "squat_end"),
                "fraction",
            )
        signals[task] = "pelvis height above the ankles in the image, fraction of its 95th percentile (standing)" + (
            "; squat depth = 1 − height" if task == "squat" else ""
        )
    elif task == "arm_raise":
        for side in spec.sides:
            _humps_task(
                b,
                _col(features, angle_column("shoulder_elevation", side)),
                config.arm_raise,
                dt,
                side,
                "arm_raise",
                ("raise_start", "arm_up", "arm_at_top", "arm_down", "arm_lowered"),
                "deg",
                top="hold",
            )
        signals["arm_raise"] = "shoulder elevation (trunk vs upper arm), deg, per side"
    elif task == "tug":
        tug_events(b, features, config, dt, source)
        signals["tug"] = "uprightness −(hip + knee flexion, mean of sides), deg; body yaw, deg; heel/toe as gait"
    else:
        seg = spec.generic_segmentation
        reps = segment_features(features, seg)
        unit = "fraction of the signal range" if seg.normalize else seg.signal.unit
        joints = tuple(j for j in (seg.signal.joint, seg.signal.other_joint) if j)
        for n, r in enumerate(reps.iter_rows(named=True)):
            end = min(r["end_frame"], len(t) - 1)
            started = b.event("start", None, r["start_frame"], np.nan, unit, n, joints)
            b.event("peak", None, r["peak_frame"], r["peak_value"], unit, n, joints)
            ended = b.event("end", None, end, np.nan, unit, n, joints)
            b.repetition(
                None,
                n,
                "repetition",
                r["start_frame"],
                end,
                r["peak_frame"],
                "peak",
                r["peak_value"],
                unit,
                started and ended,
            )
        signals["generic"] = f"{seg.signal.model_dump(exclude_none=True)} ({unit})"
    if task != "gait":
        _renumber(b)
    events, reps = b.tables()
    return TaskAnalysis(events, reps, signals, b.rejected)
