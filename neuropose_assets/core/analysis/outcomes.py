"""Clinical outcomes per task: the measures researchers report, each with a unit, a definition and a source.

Computed from the ``events`` and ``repetitions`` tables (:mod:`.events`) and, for depths, elevations and spatial gait
parameters, the ``features`` table.  The result is a long table (the ``outcomes`` contract), one row per measure; a
measure that cannot be computed honestly (too few cycles, no metric scale, an event missing) has ``value`` null and
a ``null_reason`` — never 0 and never a guess.  Measure names carry their unit (``_s``, ``_pct``, ``_m``, ``_m_s``,
``_deg``, ``_steps_min``; counts have none).  :data:`CATALOGUE` holds every definition; ``docs/outcomes.md`` is
generated from it (:func:`neuropose_assets.docs.outcomes_md`).

**Metric scale for spatial gait parameters** (gait speed, stride and step length):

* models with absolute camera coordinates (MeTRAbs, ``origin == "camera"``): positions in mm, projected on the walking
  direction (the pelvis displacement in the plane perpendicular to the body's median vertical axis);
* hip-centred models (BlazePose, ``origin == "hip_midpoint"``) have no translation: only in a side view (camera
  perpendicular to the walkway, static) is forward progression taken from the image — pelvis / heel ``u`` px, scaled
  by the median ratio of the leg segments' 3D length (mm, the model's metric estimate) to their 2D length (px).  The
  view is **measured** (:mod:`.view`): a declared ``camera_view`` that the measurement contradicts nulls these values
  with both views in the reason; without a declaration the measured view is used;
* otherwise the spatial values are null, with the reason.

Every task's table also holds ``camera_view_angle_deg``, the measured view (0° facing the camera, 90° side-on).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

from neuropose_assets.core.analysis import uncertainty as ci
from neuropose_assets.core.analysis.tasks import TaskSpec
from neuropose_assets.core.analysis.uncertainty import Interval
from neuropose_assets.core.analysis.view import ViewMeasurement, contradiction, effective_view, measure_view
from neuropose_assets.core.kinematics.features import angle_column

#: fewest strides (both feet pooled) for a variability estimate
MIN_STRIDES_FOR_CV = 6

ZENI = "events: Zeni, Richards & Higginson, Gait Posture 27:710 (2008)"
SPATIOTEMPORAL = (
    "Hollman et al., Gait Posture 34:111 (2011); computed as in OpenCap's gait_analysis.py (Uhlrich et "
    "al., PLoS Comput Biol 19:e1011462, 2023)"
)
STS = "Duncan, Leddy & Earhart, Arch Phys Med Rehabil 92:1431 (2011); phases by pelvis excursion (this project)"
TUG = "Podsiadlo & Richardson, J Am Geriatr Soc 39:142 (1991); phases: this project (docs/user-guide.md)"
OWN = "this project (neuropose_assets.core.analysis.outcomes)"
ONSET = (
    "movement onset = first seat-off (pelvis 10 % up): a video has no 'Go', so the reaction time and the trunk "
    "lean before seat-off are not included"
)


MOBILISE_D = (
    "Mobilise-D stride selection (Kluge et al., PLoS One 16:e0256541, 2021; Micó-Amigo et al., J NeuroEng "
    "Rehabil 20:78, 2023; mobgap StrideSelection)"
)
#: Plausibility gates for gait values: ``measure → (low, high, source)``, per stride / step where the measure is a
#: mean (every constituent must pass), else on the value.  Outside its range a value is null with the reason
#: (``implausible: …``) and the ``outcomes_plausible`` check warns: such values mean false or missed events, swapped
#: feet or a wrong scale, not a patient.
PLAUSIBLE: dict[str, tuple[float, float, str]] = {
    "stride_time_s": (0.2, 3.0, MOBILISE_D),
    "step_time_s": (0.1, 1.5, "half the stride-time bounds of " + MOBILISE_D),
    "stride_length_m": (0.15, 2.5, f"lower: {MOBILISE_D}; upper: this project (no walking stride is longer)"),
    "step_length_m": (
        0.0,
        1.25,
        "lower: the definition (the striking heel is ahead of the other); upper: half the stride-length bound",
    ),
    "gait_speed_m_s": (
        0.05,
        2.6,
        "upper: maximal walking speed of healthy adults, men 20–29 y 2.53 m/s (Bohannon, "
        "Age Ageing 26:15, 1997); lower: this project (slower is standing, not walking)",
    ),
    "cadence_steps_min": (
        30.0,
        200.0,
        "this project: encloses walking cadences from severe hemiparesis to race "
        "walking; the stride-time bounds already exclude most detector failures",
    ),
    "stride_time_cv_pct": (
        0.0,
        20.0,
        "about three times the highest group means reported in neurological gait "
        "(Huntington's, Parkinson's fallers ≈ 5–7 %; Hausdorff, J NeuroEng Rehabil 2:19, 2005)",
    ),
}


def implausible(measure: str, values: list[float], unit: str) -> str | None:
    """Why ``values`` (the constituents of ``measure``, or the value itself) fail :data:`PLAUSIBLE`, else ``None``.
    ``measure`` may carry a side prefix (``left_step_length_m``).  The step-length lower bound is exclusive."""
    key = measure.removeprefix("left_").removeprefix("right_")
    if key not in PLAUSIBLE or not values:
        return None
    lo, hi, source = PLAUSIBLE[key]
    bad = [v for v in values if not (lo < v <= hi if key == "step_length_m" else lo <= v <= hi)]
    if not bad:
        return None
    what = f"{len(bad)} of {len(values)} values" if len(values) > 1 else "the value"
    shown = ", ".join(f"{v:.3g}" for v in bad[:4])
    return (
        f"implausible: {what} ({shown} {unit}) outside {lo:g}–{hi:g} {unit} ({source}) — false or missed "
        "events, swapped feet or a wrong scale, not a measurement"
    )


@dataclass(frozen=True)
class OutcomeDef:
    """A measure: ``name`` (may contain ``{side}``), ``unit``, ``definition``, ``source``, ``tasks`` it belongs to."""

    name: str
    unit: str
    definition: str
    source: str
    tasks: tuple[str, ...]


def _d(name, unit, definition, source, *tasks) -> OutcomeDef:
    return OutcomeDef(name, unit, definition, source, tasks)


CATALOGUE: dict[str, OutcomeDef] = {
    d.name: d
    for d in (
        # gait (also the walking part of the TUG for step counts)
        _d("cadence_steps_min", "steps/min", "120 / mean stride time (both feet pooled)", SPATIOTEMPORAL, "gait"),
        _d(
            "stride_time_s",
            "s",
            "mean time between consecutive heel strikes of the same foot, both feet pooled",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "{side}_stride_time_s",
            "s",
            "mean stride time of this foot (heel strike → next heel strike)",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "step_time_s",
            "s",
            "mean time from a heel strike to the next heel strike of the other foot",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d("{side}_step_time_s", "s", "mean step time ending with a heel strike of this foot", SPATIOTEMPORAL, "gait"),
        _d(
            "{side}_stance_pct",
            "% of the stride",
            "heel strike → toe-off of the same foot, / stride time × 100, mean over strides with a toe-off",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "{side}_swing_pct",
            "% of the stride",
            "toe-off → next heel strike of the same foot, / stride time × 100",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "double_support_pct",
            "% of the stride",
            "time both feet are on the ground per stride, / stride time × 100 "
            "(initial + terminal double support: contralateral toe-off − heel strike + ipsilateral toe-off − "
            "contralateral heel strike), mean over strides with all four events",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "step_time_symmetry_pct",
            "%",
            "mean right step time / mean left step time × 100 (100 = symmetric)",
            "Patterson et al., Gait Posture 31:241 (2010)",
            "gait",
        ),
        _d(
            "stance_symmetry_pct",
            "%",
            "mean right stance time / mean left stance time × 100 (100 = symmetric)",
            "Patterson et al., Gait Posture 31:241 (2010)",
            "gait",
        ),
        _d(
            "stride_time_cv_pct",
            "%",
            f"coefficient of variation of stride time (SD, ddof 1, / mean × 100), both feet "
            f"pooled; needs at least {MIN_STRIDES_FOR_CV} strides",
            "Hausdorff, J NeuroEng Rehabil 2:19 (2005)",
            "gait",
        ),
        _d(
            "gait_speed_m_s",
            "m/s",
            "forward displacement of the pelvis from the first to the last heel strike / the time "
            "between them (metric scale: module docstring)",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "{side}_stride_length_m",
            "m",
            "forward displacement of this heel between consecutive heel strikes of this foot, mean",
            SPATIOTEMPORAL,
            "gait",
        ),
        _d(
            "{side}_step_length_m",
            "m",
            "forward distance from the other heel to this heel at this foot's heel strike, mean",
            SPATIOTEMPORAL,
            "gait",
        ),
        # sit to stand
        _d(
            "repetitions",
            "count",
            "complete repetitions (start and end both inside the recording)",
            OWN,
            "sit_to_stand",
            "squat",
            "generic",
        ),
        _d(
            "five_sts_time_s",
            "s",
            f"5× sit-to-stand time: seated after the 5th rise − movement onset ({ONSET}); null "
            "with fewer than 5 complete repetitions",
            STS,
            "sit_to_stand",
        ),
        _d(
            "total_time_s",
            "s",
            f"seated after the last complete repetition − movement onset ({ONSET})",
            STS,
            "sit_to_stand",
        ),
        _d(
            "chair_stands_30s",
            "count",
            "30-s chair stand: rises reaching standing within 30 s of movement onset; null "
            "when the recording ends earlier",
            "Jones, Rikli & Beam, Res Q Exerc Sport 70:113 (1999)",
            "sit_to_stand",
        ),
        _d("mean_repetition_time_s", "s", "seat-off → seated, mean over complete repetitions", STS, "sit_to_stand"),
        _d(
            "mean_rise_time_s",
            "s",
            "seat-off (10 % of the pelvis rise) → standing reached (90 %), mean",
            STS,
            "sit_to_stand",
        ),
        _d("mean_sit_time_s", "s", "sit start (pelvis 90 % of its fall) → seated (10 %), mean", STS, "sit_to_stand"),
        # squat
        _d(
            "mean_duration_s", "s", "start → end of a repetition (10 % of the excursion), mean", OWN, "squat", "generic"
        ),
        _d(
            "depth_knee_flexion_deg",
            "deg",
            "peak knee flexion (the fitted model's knee_angle, mean of both knees) per squat, mean over squats",
            OWN,
            "squat",
        ),
        _d(
            "{side}_depth_knee_flexion_deg",
            "deg",
            "peak knee flexion of this knee per squat, mean over squats",
            OWN,
            "squat",
        ),
        # arm raise
        _d("{side}_repetitions", "count", "complete raises of this arm", OWN, "arm_raise"),
        _d(
            "{side}_peak_elevation_deg",
            "deg",
            "peak shoulder elevation (trunk vs upper arm, 0° hanging, 180° overhead) per raise, mean over raises",
            OWN,
            "arm_raise",
        ),
        _d("{side}_mean_duration_s", "s", "raise start → arm lowered (10 % of the excursion), mean", OWN, "arm_raise"),
        _d("elevation_difference_deg", "deg", "left − right peak elevation (mean over raises)", OWN, "arm_raise"),
        # TUG
        _d("tug_time_s", "s", f"seated − movement onset ({ONSET})", TUG, "tug"),
        _d("rise_s", "s", "seat-off → standing reached", TUG, "tug"),
        _d("walk_out_s", "s", "standing reached → start of the first turn", TUG, "tug"),
        _d("turn_s", "s", "first turn: start → end (body yaw rate above 20 % of its peak)", TUG, "tug"),
        _d("walk_back_s", "s", "end of the first turn → start of the second (turn to sit)", TUG, "tug"),
        _d("turn_and_sit_s", "s", "start of the second turn → seated", TUG, "tug"),
        _d(
            "steps",
            "count",
            "heel strikes of both feet between standing reached and sit start (Zeni events)",
            TUG,
            "tug",
        ),
        # every task
        _d(
            "excluded_repetitions",
            "count",
            "repetitions / gait cycles listed in the repetitions table as incomplete "
            "(cut off by the recording's edge, stopped before 70 % of the trial's typical excursion, or bounded "
            "by an unseen event) and left out of every count and mean here",
            OWN,
            "gait",
            "tug",
            "sit_to_stand",
            "squat",
            "arm_raise",
            "generic",
        ),
        _d(
            "camera_view_angle_deg",
            "deg",
            "measured camera view: angle between the subject's frontal plane and the image "
            "plane, median over the frames with the trunk seen (0° = facing the camera or away from it, 90° = side-on; "
            "3D body axes and 2D foreshortening averaged; < 15° front, ≥ 60° side)",
            "this project (neuropose_assets.core.analysis.view)",
            "gait",
            "tug",
            "sit_to_stand",
            "squat",
            "arm_raise",
            "generic",
        ),
        # generic
        _d("mean_peak_value", "signal unit", "signal value at the peak of each repetition, mean", OWN, "generic"),
    )
}


def definition(name: str) -> OutcomeDef:
    """The catalogue entry of a measure name (``left_stride_time_s`` → ``{side}_stride_time_s``).

    Raises:
        KeyError: no such measure.
    """
    return _def(name)


def _def(name: str) -> OutcomeDef:
    if name in CATALOGUE:
        return CATALOGUE[name]
    for side in ("left", "right"):
        if name.startswith(side + "_") and "{side}" + name[len(side) :] in CATALOGUE:
            return CATALOGUE["{side}" + name[len(side) :]]
    raise KeyError(f"no outcome definition for {name!r}")


class _Table:
    def __init__(self, fps: float | None = None) -> None:
        self.rows: list[dict] = []
        self.fps = fps  # frame rate of the video, frames/s (event-timing intervals)

    def mean(self, name: str, values: list[float], reason: str, *, what: str, side: str | None = None) -> None:
        """One row whose value is the mean of ``values`` (one per repetition / cycle / step: their count is ``n``),
        the values checked against :data:`PLAUSIBLE` and the mean's BCa bootstrap interval over them."""
        interval = ci.bootstrap(ci.mean, values, what=what)
        self.add(name, _mean(values), len(values), reason, side=side, values=values, interval=interval)

    def timing(self, value: float | None, events: int = 2) -> Interval:
        """The event-timing interval of a time between ``events`` event times (:func:`.uncertainty.event_timing`)."""
        if value is None:
            return Interval.none("the value is null")
        if not self.fps:
            return Interval.none("the frame rate is unknown (fewer than two frames)")
        return ci.event_timing(value, self.fps, events)

    def add(
        self,
        name: str,
        value: float | None,
        n: int,
        reason: str | None = None,
        *,
        side: str | None = None,
        unit: str | None = None,
        values: list[float] | None = None,
        interval: Interval | None = None,
    ) -> None:
        """One row; ``values`` are the constituents the value was computed from (per stride / step), checked
        against :data:`PLAUSIBLE` together with the value itself; ``interval`` its 95 % confidence interval
        (:mod:`.uncertainty`; none without one, or when the value is null)."""
        d = _def(name)
        ok = value is not None and np.isfinite(value)
        if ok:
            why = implausible(name, list(values or []), unit or d.unit) or implausible(
                name, [float(value)], unit or d.unit
            )
            if why:
                value, ok, reason = None, False, why
        if not ok:
            interval = Interval.none("the value is null")
        elif interval is None:
            interval = Interval.none("no uncertainty model for this measure")
        self.rows.append(
            {
                "measure": name,
                "value": float(value) if ok else None,
                "unit": unit or d.unit,
                "side": side,
                "n": int(n),
                "ci_low": interval.low,
                "ci_high": interval.high,
                "ci_method": interval.method,
                "ci_null_reason": interval.reason,
                "definition": d.definition,
                "source": d.source,
                "null_reason": None if ok else (reason or "not computable"),
            }
        )

    def table(self) -> pl.DataFrame:
        from data_contracts import polars_schema  # the contracts are the one schema source

        return pl.DataFrame(self.rows, schema=polars_schema("outcomes"))


def _ratio_pct(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    """``100 × mean(a) / mean(b)`` along ``axis`` (symmetry ratios)."""
    return 100 * np.mean(a, axis=axis) / np.mean(b, axis=axis)


def _cv_pct(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Coefficient of variation along ``axis``, % (sample SD)."""
    return 100 * np.std(x, ddof=1, axis=axis) / np.mean(x, axis=axis)


def _mean(x: list[float]) -> float | None:
    return float(np.mean(x)) if x else None


def _times(events: pl.DataFrame, name: str, side: str | None = None) -> np.ndarray:
    sel = events.filter(pl.col("event") == name)
    if side is not None:
        sel = sel.filter(pl.col("side") == side)
    return np.sort(sel["time_s"].to_numpy())


def _frames(events: pl.DataFrame, name: str, side: str) -> np.ndarray:
    return np.sort(events.filter((pl.col("event") == name) & (pl.col("side") == side))["frame"].to_numpy())


# --------------------------------------------------------------------------------------------------- metric scale


def _col(features: pl.DataFrame, name: str) -> np.ndarray:
    return features[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


def _xyz(features: pl.DataFrame, joint: str) -> np.ndarray:
    return np.stack([_col(features, f"{joint}_{a}_mm") for a in "xyz"], axis=1)


def forward_positions(
    features: pl.DataFrame, *, origin: str, camera_view: str, frame: str = "camera"
) -> tuple[dict[str, np.ndarray] | None, str]:
    """Forward positions along the walking direction, mm ``(F,)``, of ``pelvis``, ``left_heel``, ``right_heel``
    (module docstring), and how the scale was obtained — or ``(None, reason)`` when there is no defensible scale.

    Args:
        origin: ``ModelInfo.origin`` of the pose model (``camera`` | ``hip_midpoint``).
        camera_view: the task's declared view.
        frame: the features' coordinate frame (absolute positions need ``camera``).
    """
    joints = ("pelvis", "left_heel", "right_heel")
    if origin == "camera":
        if frame != "camera":
            return None, "features were computed in the body frame; absolute positions need frame 'camera'"
        root = np.stack([_col(features, f"root_{a}_mm") for a in "xyz"], axis=1)
        pos = {j: root + (_xyz(features, j) if j != "pelvis" else 0.0) for j in joints}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: no trunk
            up = np.nanmedian(_xyz(features, "neck") - _xyz(features, "pelvis"), axis=0)
        if not np.isfinite(up).all() or np.linalg.norm(up) == 0:
            # no trunk (e.g. lower-body marker sets): the camera's vertical, which is gravity's for marker-based
            # capture (verified at import, :func:`..kinematics.frames.lab_to_camera`) and for a level camera
            up = np.array([0.0, -1.0, 0.0])
        up /= np.linalg.norm(up)
        ok = np.isfinite(pos["pelvis"]).all(axis=1)
        if ok.sum() < 2:
            return None, "the pelvis was not seen in two frames"
        disp = pos["pelvis"][ok][-1] - pos["pelvis"][ok][0]
        disp -= disp.dot(up) * up
        if np.linalg.norm(disp) < 300:
            return None, (
                "the pelvis progresses less than 0.3 m: no walking direction (walking on the spot, or a treadmill?)"
            )
        d = disp / np.linalg.norm(disp)
        return {j: p @ d for j, p in pos.items()}, "absolute 3D camera coordinates (model origin 'camera')"
    if camera_view != "side":
        return None, (
            "the pose model's 3D is hip-centred (no translation); spatial parameters need a side view "
            "(declare camera_view: side) or a model with absolute coordinates (MeTRAbs)"
        )
    ratios = []
    for side in ("left", "right"):
        for a, b in ((f"{side}_hip", f"{side}_knee"), (f"{side}_knee", f"{side}_ankle")):
            l3 = np.linalg.norm(_xyz(features, b) - _xyz(features, a), axis=1)
            l2 = np.hypot(
                _col(features, f"{b}_u_px") - _col(features, f"{a}_u_px"),
                _col(features, f"{b}_v_px") - _col(features, f"{a}_v_px"),
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                ratios.append(l3 / l2)
    r = np.concatenate(ratios)
    r = r[np.isfinite(r) & (r > 0)]
    if len(r) == 0:
        return None, "no leg segment was seen in both 3D and 2D: no image scale"
    mm_per_px = float(np.median(r))
    u = {j: _col(features, f"{j}_u_px") for j in joints}
    ok = np.isfinite(u["pelvis"])
    if ok.sum() < 2:
        return None, "the pelvis was not seen in two frames"
    du = u["pelvis"][ok][-1] - u["pelvis"][ok][0]
    if abs(du) * mm_per_px < 300:
        return None, "the pelvis moves less than 0.3 m across the image: not a side view of walking"
    sign = np.sign(du)
    return (
        {j: sign * x * mm_per_px for j, x in u.items()},
        f"side view: image px scaled by the leg segments' 3D/2D length ratio ({mm_per_px:.3f} mm/px)",
    )


# ------------------------------------------------------------------------------------------------------------ gait


def gait_outcomes(
    out: _Table,
    events: pl.DataFrame,
    repetitions: pl.DataFrame,
    features: pl.DataFrame,
    spec: TaskSpec,
    origin: str,
    frame: str,
    view: ViewMeasurement,
) -> None:
    """Add the gait measures to ``out``: cadence, stride and step times (pooled and per side), stance, swing and
    double support (% of the stride), symmetry, stride-time CV and, when :func:`forward_positions` gives a metric scale
    that the measured ``view`` does not contradict, gait speed (m/s) and stride and step lengths (m); ``repetitions``
    are the complete gait cycles."""
    cycles = repetitions.filter(pl.col("kind") == "gait_cycle")
    t = features["time_s"].to_numpy()
    strides: dict[str, list[float]] = {}
    stance: dict[str, list[float]] = {}
    stance_s: dict[str, list[float]] = {}
    for side in ("left", "right"):
        c = cycles.filter(pl.col("side") == side)
        strides[side] = c["duration_s"].to_list()
        with_to = c.filter(pl.col("peak_s").is_not_null())
        stance_s[side] = (with_to["peak_s"] - with_to["start_s"]).to_list()
        stance[side] = (100 * (with_to["peak_s"] - with_to["start_s"]) / with_to["duration_s"]).to_list()
    pooled = strides["left"] + strides["right"]
    none = "no complete gait cycle (two heel strikes of one foot) was found"
    mean_stride = _mean(pooled)
    bad_strides = implausible("stride_time_s", pooled, "s")
    out.add(
        "cadence_steps_min",
        120.0 / mean_stride if mean_stride and not bad_strides else None,
        len(pooled),
        bad_strides or none,
        interval=ci.bootstrap(lambda x, axis=-1: 120.0 / np.mean(x, axis=axis), pooled, what="strides"),
    )
    out.mean("stride_time_s", pooled, none, what="strides")
    for side in ("left", "right"):
        out.mean(f"{side}_stride_time_s", strides[side], f"no complete {side} gait cycle", what="strides", side=side)
    # steps: heel strike of one foot after the other foot's previous heel strike
    hs = {s: _times(events, "heel_strike", s) for s in ("left", "right")}
    steps: dict[str, list[float]] = {"left": [], "right": []}
    max_step = 0.5 * float(np.max(pooled)) if pooled else 1.5
    for side, other in (("left", "right"), ("right", "left")):
        for x in hs[side]:
            prev = hs[other][hs[other] < x]
            if len(prev) and x - prev[-1] <= max(max_step * 1.5, 0.2):
                steps[side].append(float(x - prev[-1]))
    all_steps = steps["left"] + steps["right"]
    out.mean("step_time_s", all_steps, "no heel strike followed one of the other foot", what="steps")
    for side in ("left", "right"):
        out.mean(f"{side}_step_time_s", steps[side], f"no {side} step", what="steps", side=side)
    for side in ("left", "right"):
        reason = f"no {side} gait cycle with a toe-off inside"
        out.mean(f"{side}_stance_pct", stance[side], reason, what="gait cycles", side=side)
        out.add(
            f"{side}_swing_pct",
            100 - _mean(stance[side]) if stance[side] else None,
            len(stance[side]),
            reason,
            side=side,
            interval=ci.bootstrap(lambda x, axis=-1: 100 - np.mean(x, axis=axis), stance[side], what="gait cycles"),
        )
    ds = []
    for side, other in (("left", "right"), ("right", "left")):
        c_to, c_hs, i_to = (_times(events, "toe_off", other), hs[other], _times(events, "toe_off", side))
        for r in cycles.filter(pl.col("side") == side).iter_rows(named=True):
            a, b = r["start_s"], r["end_s"]
            cto = c_to[(c_to > a) & (c_to < b)]
            chs = c_hs[(c_hs > (cto[0] if len(cto) else b)) & (c_hs < b)]
            ito = i_to[(i_to > (chs[0] if len(chs) else b)) & (i_to < b)]
            if len(cto) and len(chs) and len(ito):
                ds.append(100 * ((cto[0] - a) + (ito[0] - chs[0])) / (b - a))
    out.mean("double_support_pct", ds, "no gait cycle with both feet's toe-offs and heel strikes", what="gait cycles")
    both = "needs steps of both feet"
    out.add(
        "step_time_symmetry_pct",
        100 * np.mean(steps["right"]) / np.mean(steps["left"]) if steps["left"] and steps["right"] else None,
        len(all_steps),
        both,
        interval=ci.bootstrap(_ratio_pct, steps["right"], steps["left"], what="steps")
        if steps["left"] and steps["right"]
        else None,
    )
    out.add(
        "stance_symmetry_pct",
        100 * np.mean(stance_s["right"]) / np.mean(stance_s["left"])
        if stance_s["left"] and stance_s["right"]
        else None,
        len(stance_s["left"]) + len(stance_s["right"]),
        "needs a stance phase of both feet",
        interval=ci.bootstrap(_ratio_pct, stance_s["right"], stance_s["left"], what="stance phases")
        if stance_s["left"] and stance_s["right"]
        else None,
    )
    out.add(
        "stride_time_cv_pct",
        100 * np.std(pooled, ddof=1) / np.mean(pooled)
        if len(pooled) >= MIN_STRIDES_FOR_CV and not bad_strides
        else None,
        len(pooled),
        bad_strides or f"{len(pooled)} stride(s); variability needs at least {MIN_STRIDES_FOR_CV}",
        interval=ci.bootstrap(_cv_pct, pooled, what="strides"),
    )
    conflict = contradiction(spec.camera_view, view)
    if conflict and origin != "camera":  # the image-based scale rests on the view; camera coordinates do not
        pos, how = None, f"{conflict}: spatial parameters from the image need a true side view"
    else:
        pos, how = forward_positions(
            features, origin=origin, camera_view=effective_view(spec.camera_view, view), frame=frame
        )
    spatial = ["gait_speed_m_s", *(f"{s}_{m}" for s in ("left", "right") for m in ("stride_length_m", "step_length_m"))]
    if pos is None:
        for m in spatial:
            out.add(m, None, 0, how, side=m.split("_")[0] if m.startswith(("left", "right")) else None)
        return
    all_hs = np.sort(np.concatenate([_frames(events, "heel_strike", s) for s in ("left", "right")]))
    pel = pos["pelvis"]
    if len(all_hs) >= 2 and np.isfinite(pel[[all_hs[0], all_hs[-1]]]).all():
        a, b = all_hs[0], all_hs[-1]
        # the speed over each interval between consecutive heel strikes, resampled as (displacement, time) pairs
        seen = np.isfinite(pel[all_hs])
        hs_seen = all_hs[seen]
        disp, dt = np.diff(pel[hs_seen]) / 1000, np.diff(t[hs_seen])
        out.add(
            "gait_speed_m_s",
            (pel[b] - pel[a]) / 1000 / (t[b] - t[a]),
            len(all_hs) - 1,
            how,
            interval=ci.bootstrap(
                lambda d, s, axis=-1: np.sum(d, axis=axis) / np.sum(s, axis=axis),
                disp,
                dt,
                what="steps (heel strike to heel strike)",
                paired=True,
            ),
        )
    else:
        out.add("gait_speed_m_s", None, 0, "needs two heel strikes with the pelvis in view")
    for side, other in (("left", "right"), ("right", "left")):
        heel, oheel = pos[f"{side}_heel"], pos[f"{other}_heel"]
        f = _frames(events, "heel_strike", side)
        c = cycles.filter(pl.col("side") == side)
        lengths = [(heel[r["end_frame"]] - heel[r["start_frame"]]) / 1000 for r in c.iter_rows(named=True)]
        lengths = [x for x in lengths if np.isfinite(x)]
        out.mean(f"{side}_stride_length_m", lengths, f"no complete {side} gait cycle", what="gait cycles", side=side)
        sl = [(heel[x] - oheel[x]) / 1000 for x in f if np.isfinite(heel[x] - oheel[x])]
        out.mean(f"{side}_step_length_m", sl, f"no {side} heel strike", what="steps", side=side)


# ------------------------------------------------------------------------------------------------- other tasks


def _by_rep(events: pl.DataFrame, name: str, reps: pl.DataFrame | None = None) -> dict[int, float]:
    """``{repetition: time_s}`` of event ``name``; with ``reps``, only repetitions listed there (the complete ones)."""
    sel = events.filter((pl.col("event") == name) & pl.col("repetition").is_not_null())
    if reps is not None:
        sel = sel.filter(pl.col("repetition").is_in(reps["repetition"].to_list()))
    return dict(zip(sel["repetition"].to_list(), sel["time_s"].to_list(), strict=True))


def sit_to_stand_outcomes(out: _Table, events: pl.DataFrame, reps: pl.DataFrame, features: pl.DataFrame) -> None:
    """Add the sit-to-stand measures to ``out`` from the complete repetitions ``reps``: repetitions, 5×STS and
    total time from movement onset, 30-s chair stands (null when the recording is shorter), and the mean repetition,
    rise and sit times (s)."""
    reps = reps.sort("start_frame")
    n = reps.height
    out.add("repetitions", n, n, interval=ci.count())
    onset = float(reps["start_s"][0]) if n else None
    none = "no complete sit-to-stand repetition was found"
    five = float(reps["end_s"][4]) - onset if n >= 5 else None
    out.add("five_sts_time_s", five, min(n, 5), f"{n} complete repetition(s); 5×STS needs 5", interval=out.timing(five))
    total = float(reps["end_s"][-1]) - onset if n else None
    out.add("total_time_s", total, n, none, interval=out.timing(total))
    t_end = float(features["time_s"][-1]) if features.height else 0.0
    stands = _times(events, "standing_reached")
    first = _times(events, "seat_off")
    start = onset if onset is not None else (float(first[0]) if len(first) else None)
    if start is None:
        out.add("chair_stands_30s", None, 0, "no seat-off was found", interval=ci.count())
    elif t_end - start < 30:
        out.add(
            "chair_stands_30s",
            None,
            len(stands),
            f"the recording ends {t_end - start:.1f} s after movement onset (the test takes 30 s)",
        )
    else:
        k = int(np.sum((stands >= start) & (stands <= start + 30)))
        out.add("chair_stands_30s", k, k, interval=ci.count())
    durations = reps["duration_s"].to_list()
    out.mean("mean_repetition_time_s", durations, none, what="repetitions")
    seat_off, standing = _by_rep(events, "seat_off", reps), _by_rep(events, "standing_reached", reps)
    sit, seated = _by_rep(events, "sit_start", reps), _by_rep(events, "seated", reps)
    rise = [standing[k] - seat_off[k] for k in seat_off if k in standing]
    down = [seated[k] - sit[k] for k in sit if k in seated]
    out.mean("mean_rise_time_s", rise, none, what="repetitions")
    out.mean("mean_sit_time_s", down, none, what="repetitions")


def _peak_in_windows(features: pl.DataFrame, column: str, reps: pl.DataFrame) -> list[float]:
    x = _col(features, column)
    vals = [
        np.nanmax(x[r["start_frame"] : r["end_frame"]])
        for r in reps.iter_rows(named=True)
        if np.isfinite(x[r["start_frame"] : r["end_frame"]]).any()
    ]
    return [float(v) for v in vals]


def squat_outcomes(out: _Table, reps: pl.DataFrame, features: pl.DataFrame) -> None:
    """Add the squat measures to ``out`` from the complete repetitions ``reps``: repetitions, mean duration (s) and
    depth — the peak knee flexion (deg) per squat, of the mean of both knees and of each knee, averaged over
    squats."""
    n = reps.height
    none = "no complete squat was found"
    out.add("repetitions", n, n, interval=ci.count())
    durations = reps["duration_s"].to_list()
    out.mean("mean_duration_s", durations, none, what="squats")
    knees = {s: _col(features, angle_column("knee_angle", s)) for s in ("left", "right")}
    mean_knee = np.nanmean(np.stack(list(knees.values())), axis=0) if features.height else np.zeros(0)
    depth = [
        float(np.nanmax(mean_knee[r["start_frame"] : r["end_frame"]]))
        for r in reps.iter_rows(named=True)
        if np.isfinite(mean_knee[r["start_frame"] : r["end_frame"]]).any()
    ]
    out.mean("depth_knee_flexion_deg", depth, none, what="squats")
    for side in ("left", "right"):
        v = _peak_in_windows(features, angle_column("knee_angle", side), reps)
        out.mean(f"{side}_depth_knee_flexion_deg", v, none, what="squats", side=side)


def arm_raise_outcomes(out: _Table, reps: pl.DataFrame, spec: TaskSpec) -> None:
    """Add the arm-raise measures to ``out`` for each side of ``spec.sides``: complete raises, mean peak shoulder
    elevation (deg) and mean duration (s); with both arms, the left − right difference of the peak elevations (deg)."""
    peaks = {}
    for side in spec.sides:
        r = reps.filter(pl.col("side") == side)
        none = f"no complete raise of the {side} arm was found"
        out.add(f"{side}_repetitions", r.height, r.height, side=side, interval=ci.count())
        peaks[side] = r["peak_value"].drop_nulls().to_list()
        out.mean(f"{side}_peak_elevation_deg", peaks[side], none, what="raises", side=side)
        durations = r["duration_s"].to_list()
        out.mean(f"{side}_mean_duration_s", durations, none, what="raises", side=side)
    if len(spec.sides) == 2:
        ok = peaks["left"] and peaks["right"]
        out.add(
            "elevation_difference_deg",
            np.mean(peaks["left"]) - np.mean(peaks["right"]) if ok else None,
            len(peaks["left"]) + len(peaks["right"]),
            "needs a complete raise of both arms",
            interval=ci.bootstrap(
                lambda a, b, axis=-1: np.mean(a, axis=axis) - np.mean(b, axis=axis),
                peaks["left"],
                peaks["right"],
                what="raises",
            )
            if ok
            else None,
        )


def tug_phases(
    events: pl.DataFrame,
) -> tuple[float | None, float | None, float | None, float | None, list[tuple[float, float]]]:
    """The TUG's phase times from its events, s: ``(seat_off, standing_reached, sit_start, seated, turns)`` (the
    first of each; ``None`` when missing), ``turns`` = ``(start, end)`` of every turn ending after standing."""

    def one(name: str) -> float | None:
        x = _times(events, name)
        return float(x[0]) if len(x) else None

    seat_off, standing, sit, seated = one("seat_off"), one("standing_reached"), one("sit_start"), one("seated")
    starts, ends = _times(events, "turn_start"), _times(events, "turn_end")
    turns = [(a, b) for a, b in zip(starts, ends, strict=False) if standing is None or b > standing]
    return seat_off, standing, sit, seated, turns


def tug_outcomes(out: _Table, events: pl.DataFrame) -> None:
    """Add the TUG measures to ``out`` from the phase times of :func:`tug_phases`: total time, rise, walk out,
    turn, walk back, turn and sit (s), and the steps between standing and sitting (null, not 0, when no heel strike was
    seen)."""
    seat_off, standing, sit, seated, turns = tug_phases(events)
    t1 = turns[0] if turns else None
    t2 = turns[-1] if len(turns) >= 2 else None

    def between(a: float | None, b: float | None) -> float | None:
        return b - a if a is not None and b is not None else None

    def timed(name: str, value: float | None, reason: str) -> None:
        out.add(name, value, 1, reason, interval=out.timing(value))

    timed("tug_time_s", between(seat_off, seated), "needs seat-off and seated (the stand and the final sit)")
    timed("rise_s", between(seat_off, standing), "needs seat-off and standing reached")
    no_turn = "no turn of at least the configured angle was found (body yaw)"
    timed("walk_out_s", between(standing, t1[0] if t1 else None), no_turn)
    timed("turn_s", between(*t1) if t1 else None, no_turn)
    no_second = "no second turn (turn to sit) was found after the first"
    timed("walk_back_s", between(t1[1], t2[0]) if t1 and t2 else None, no_second)
    timed("turn_and_sit_s", between(t2[0], seated) if t2 else None, no_second)
    hs = _times(events, "heel_strike")
    if standing is not None and sit is not None:
        k = int(np.sum((hs >= standing) & (hs <= sit)))
        out.add(
            "steps",
            k if k else None,
            k,
            "no heel strike was observed between standing up and sitting down (the "
            "feet were hidden or out of view): the step count is unknown, not 0",
            interval=ci.count(),
        )
    else:
        out.add("steps", None, 0, "needs standing reached and sit start")


def tug_phase_problems(events: pl.DataFrame) -> list[str]:
    """Why the TUG's phases look wrong (empty when they do not): no turn, a turn longer than both walks, the sit
    starting before the second turn, steps missing, phases out of order.  Each is a reason to look at the video
    before trusting the phase times (the ``tug_phases_plausible`` check)."""
    seat_off, standing, sit, seated, turns = tug_phases(events)
    out = []
    if seat_off is None or seated is None:
        out.append("the stand or the final sit was not found")
    if not turns:
        out.append("no turn of ≥ 120° was found")
    if len(turns) >= 1 and standing is not None:
        t1 = turns[0]
        walk_out = t1[0] - standing
        walk_back = (turns[1][0] - t1[1]) if len(turns) >= 2 else None
        turn = t1[1] - t1[0]
        if walk_out <= 0:
            out.append(f"the first turn starts {-walk_out:.2f} s before standing is reached")
        if walk_back is not None and turn > max(walk_out, walk_back):
            out.append(
                f"the turn ({turn:.2f} s) is longer than both walks ({walk_out:.2f} s out, {walk_back:.2f} s back)"
            )
    if len(turns) >= 2 and sit is not None and sit < turns[1][0]:
        out.append(f"sitting starts ({sit:.2f} s) before the second turn ({turns[1][0]:.2f} s)")
    hs = _times(events, "heel_strike")
    if standing is not None and sit is not None and not np.sum((hs >= standing) & (hs <= sit)):
        out.append("no heel strike while walking")
    return out


def compute_outcomes(
    spec: TaskSpec,
    events: pl.DataFrame,
    repetitions: pl.DataFrame,
    features: pl.DataFrame,
    *,
    origin: str = "hip_midpoint",
    frame: str = "camera",
    view: ViewMeasurement | None = None,
    task_contradiction: str | None = None,
) -> pl.DataFrame:
    """The outcome table (the ``outcomes`` contract) of one video.

    Args:
        spec: the video's task.
        events, repetitions: the tables of :func:`.events.analyse_task`.
        features: the ``features`` table (depths, elevations, spatial scale).
        origin: the pose model's 3D origin (``ModelInfo.origin``); frame: the features' coordinate frame.
        view: the measured camera view (:func:`.view.measure_view`; measured here when not given).
        task_contradiction: why the movement contradicts the declared task (:func:`.task_check.task_contradiction`);
            then every task outcome is null with that reason — they would be built on the wrong task (the measured
            view is kept).
    """
    times = features["time_s"].to_numpy() if features.height else np.zeros(0)
    out = _Table(fps=1 / float(np.median(np.diff(times))) if len(times) > 1 else None)
    if view is None:
        view = measure_view(features) if frame == "camera" else ViewMeasurement("unknown", None, None, 0)
    listed = repetitions
    if "complete" in repetitions.columns:  # incomplete repetitions are listed, never counted (module docstring)
        repetitions = repetitions.filter(pl.col("complete"))
    if spec.task == "gait":
        gait_outcomes(out, events, repetitions, features, spec, origin, frame, view)
    elif spec.task == "sit_to_stand":
        sit_to_stand_outcomes(out, events, repetitions, features)
    elif spec.task == "squat":
        squat_outcomes(out, repetitions, features)
    elif spec.task == "arm_raise":
        arm_raise_outcomes(out, repetitions, spec)
    elif spec.task == "tug":
        tug_outcomes(out, events)
    else:
        n = repetitions.height
        out.add("repetitions", n, n, interval=ci.count())
        durations = repetitions["duration_s"].to_list()
        out.mean("mean_duration_s", durations, "no complete repetition", what="repetitions")
        unit = repetitions["peak_unit"][0] if n else (events["unit"][0] if events.height else "")
        peaks = repetitions["peak_value"].drop_nulls().to_list()
        out.add(
            "mean_peak_value",
            _mean(peaks),
            n,
            "no complete repetition",
            unit=unit or "signal unit",
            interval=ci.bootstrap(ci.mean, peaks),
        )
    excluded = listed.height - repetitions.height
    out.add("excluded_repetitions", excluded, listed.height, interval=ci.count())
    if task_contradiction:
        for row in out.rows:
            row["value"], row["null_reason"] = None, f"{task_contradiction} — not computed for the declared task"
            row.update(ci_low=None, ci_high=None, ci_method=None, ci_null_reason="the value is null")
    out.add(
        "camera_view_angle_deg",
        view.angle_deg,
        view.frames,
        "the trunk (hips, shoulders, neck) was seen in too few frames to measure the view"
        if frame == "camera"
        else "features in the body frame: the camera's view is not in them",
        interval=Interval.none("a property of the recording (where the camera stood), not of the movement"),
    )
    return out.table()


def wide(outcomes: pl.DataFrame) -> dict[str, float | None]:
    """``{measure: value}`` of an outcome table, in table order."""
    return dict(zip(outcomes["measure"].to_list(), outcomes["value"].to_list(), strict=True))


#: measures of the recording, not of the patient's movement: never compared between sessions or groups
RECORDING_MEASURES = ("camera_view_angle_deg", "excluded_repetitions")
#: suffixes of an outcome's interval bounds in the cohort table
CI_SUFFIXES = ("_ci_low", "_ci_high")


def wide_with_intervals(outcomes: pl.DataFrame) -> dict[str, float | None]:
    """One row of the cohort table: ``{measure: value, measure_ci_low: …, measure_ci_high: …}`` of an outcome table
    (bounds null where the measure has no interval)."""
    row: dict[str, float | None] = {}
    for r in outcomes.iter_rows(named=True):
        row[r["measure"]] = r["value"]
        row[r["measure"] + "_ci_low"] = r.get("ci_low")
        row[r["measure"] + "_ci_high"] = r.get("ci_high")
    return row


def measure_order(names: set[str]) -> list[str]:
    """``names`` (measures) in :data:`CATALOGUE` order, sides left before right; unknown names last, sorted."""
    order = []
    for name in CATALOGUE:
        variants = [name.replace("{side}", s) for s in ("left", "right")] if "{side}" in name else [name]
        order += [v for v in variants if v in names]
    return order + sorted(names - set(order))


def cohort_table(rows: list[dict]) -> pl.DataFrame:
    """The ``cohort_outcomes`` table: one row per video (``rows``: ``partition``, ``task``, ``declared``, the
    :data:`.tasks.VISIT_COLUMNS` and the video's :func:`wide_with_intervals`), columns ``partition``, ``task``,
    ``declared``, the subject and session, then per measure in :func:`measure_order` its value and the bounds of its
    95 % interval (Float64, null where it does not apply, could not be computed or has no interval), sorted by
    partition."""
    from neuropose_assets.core.analysis.tasks import VISIT_COLUMNS

    meta = {"partition": pl.Utf8, "task": pl.Utf8, "declared": pl.Boolean}
    meta |= {c: pl.Float64 if c == "age_years" else pl.Utf8 for c in VISIT_COLUMNS}
    names = {k for r in rows for k in r if k not in meta and not k.endswith(CI_SUFFIXES)}
    columns = [c for m in measure_order(names) for c in (m, m + "_ci_low", m + "_ci_high")]
    schema = {**meta, **{c: pl.Float64 for c in columns}}
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema, orient="row").sort("partition")
