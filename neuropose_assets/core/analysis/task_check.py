r"""The declared task checked against the movement: what the video shows, inferred from the motion itself.

A wrong declaration gives confident wrong numbers (a walk analysed as sit-to-stand finds no repetition, a
sit-to-stand analysed as squats counts "squats").  :func:`motion_evidence` looks for the signature of each task in
the ``features`` table, re-using the task analyses of :mod:`.events` (so the evidence is what that task's own
detector finds):

============  ==================================================================================================
evidence      signature
============  ==================================================================================================
walking       heel strikes that alternate between the feet (≥ 75 % of consecutive pairs), the striking heel
              ≥ 150 mm ahead of the other (a step) at ≥ 75 % of them, and either the pelvis travelling ≥ 0.5 leg
              lengths across the image or ≥ :data:`MIN_STEPS` heel strikes (a treadmill)
sit_to_stand  a complete rise of the pelvis height (≥ 0.2 of standing) and the subject seated at the start or the
              end of the recording (pelvis < 0.8 of standing in the first / last 0.3 s); in place *
squat         a complete lowering of the pelvis (≥ 0.15 of standing) and the subject standing at both the start
              and the end (pelvis ≥ 0.9 of standing); in place *
arm_raise     a complete shoulder elevation of ≥ 30° reaching ≥ 70°, with no sit-to-stand or squat movement; in
              place *
turning       a change of body heading of ≥ 120° (:func:`.events.turns`)
============  ==================================================================================================

\* in place: the pelvis ends less than half a leg length (in the image) from where it started
(:func:`progression_legs`) — these tests are done on the spot.

The declared task is **contradicted** (:func:`task_contradiction`) when its own signature is absent and another
task's is present — then the ``task_matches_motion`` check warns, naming both and the evidence.  A TUG needs rising,
walking and turning; ``generic`` is never contradicted.  No peer checks this; the rules are this project's and were
checked on the development clips (each clip's true task is recognised, every wrong declaration among gait,
sit-to-stand, squat and arm raise is flagged: ``benchmarks/validate_outcomes.py --wrong``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from neuropose_assets.core.analysis.tasks import TaskSpec

#: fewest alternating heel strikes that count as walking on the spot (a treadmill); with progression across the
#: image two suffice
MIN_STEPS = 6
#: at a heel strike of walking, the striking heel is at least this far ahead of the other, mm (a step; shifting weight
#: or lifting a foot while standing does not do this)
STEP_MM = 150.0


def progression_legs(features: pl.DataFrame) -> float:
    """How far the pelvis moves in the image from the first to the last frame it is seen, in leg lengths (the median
    hip → ankle distance in the image): ≈ 0 for movements on the spot, > 1 for a walk across or towards the camera."""

    def col(name: str) -> np.ndarray:
        return features[name].cast(pl.Float64).fill_null(np.nan).to_numpy()

    u, v = col("pelvis_u_px"), col("pelvis_v_px")
    ok = np.isfinite(u) & np.isfinite(v)
    legs = [
        np.hypot(col(f"{s}_hip_u_px") - col(f"{s}_ankle_u_px"), col(f"{s}_hip_v_px") - col(f"{s}_ankle_v_px"))
        for s in ("left", "right")
    ]
    leg = np.concatenate(legs)
    leg = leg[np.isfinite(leg)]
    if ok.sum() < 2 or not len(leg) or np.median(leg) <= 0:
        return 0.0
    return float(np.hypot(u[ok][-1] - u[ok][0], v[ok][-1] - v[ok][0]) / np.median(leg))


def _at_ends(h: np.ndarray, t: np.ndarray, seconds: float = 0.3) -> tuple[float, float]:
    """Median of ``h`` over the first and the last ``seconds`` of the recording (NaN where nothing is seen)."""
    ok = np.isfinite(h)
    if not ok.any():
        return np.nan, np.nan
    first, last = t[ok][0], t[ok][-1]
    return (float(np.nanmedian(h[ok & (t <= first + seconds)])), float(np.nanmedian(h[ok & (t >= last - seconds)])))


def motion_evidence(features: pl.DataFrame) -> dict[str, tuple[bool, str]]:
    """``{evidence: (present, what was found)}`` for ``walking``, ``sit_to_stand``, ``squat``, ``arm_raise`` and
    ``turning`` (module docstring), from a ``features`` table (camera frame)."""
    from neuropose_assets.core.analysis.events import (
        EventsConfig,
        analyse_task,
        anterior_mm,
        body_yaw_deg,
        pelvis_height,
        turns,
    )

    t = features["time_s"].to_numpy().astype(np.float64)
    out: dict[str, tuple[bool, str]] = {}
    h = pelvis_height(features)
    start, end = _at_ends(h, t)

    gait = analyse_task(features, TaskSpec(task="gait")).events.filter(pl.col("event") == "heel_strike").sort("frame")
    sides = gait["side"].to_list()
    alternating = sum(a != b for a, b in zip(sides, sides[1:])) / max(len(sides) - 1, 1)
    heel = {s: anterior_mm(features, f"{s}_heel") for s in ("left", "right")}
    ahead = [
        heel[s][f] - heel["right" if s == "left" else "left"][f] >= STEP_MM
        for s, f in zip(sides, gait["frame"].to_list())
    ]
    stepping = float(np.mean(ahead)) if ahead else 0.0
    travel = progression_legs(features)
    walking = (
        len(sides) >= 2 and alternating >= 0.75 and stepping >= 0.75 and (travel >= 0.5 or len(sides) >= MIN_STEPS)
    )
    out["walking"] = (
        walking,
        f"{len(sides)} heel strikes, {100 * alternating:.0f} % alternating, the striking heel "
        f"≥ {STEP_MM:.0f} mm ahead of the other at {100 * stepping:.0f} %, the pelvis travels "
        f"{travel:.1f} leg lengths in the image",
    )

    sts = analyse_task(features, TaskSpec(task="sit_to_stand")).repetitions.filter(pl.col("complete"))
    seated_at_end = min(start, end) < 0.8 if np.isfinite([start, end]).any() else False
    in_place = travel < 0.5
    where = "" if in_place else f"; but the pelvis travels {travel:.1f} leg lengths across the image"
    out["sit_to_stand"] = (
        sts.height >= 1 and bool(seated_at_end) and in_place,
        f"{sts.height} complete rise(s) of the pelvis; pelvis at {start:.2f} / {end:.2f} "
        "of standing height at the start / end" + where,
    )

    squat = analyse_task(features, TaskSpec(task="squat")).repetitions.filter(pl.col("complete"))
    standing_at_ends = bool(np.isfinite([start, end]).all() and min(start, end) >= 0.9)
    out["squat"] = (
        squat.height >= 1 and standing_at_ends and in_place,
        f"{squat.height} complete lowering(s) of the pelvis; pelvis at {start:.2f} / {end:.2f} of standing "
        "height at the start / end" + where,
    )

    arms = analyse_task(features, TaskSpec(task="arm_raise", side="both")).repetitions.filter(pl.col("complete"))
    high = arms.filter(pl.col("peak_value") >= 70)
    body_moves = sts.height >= 1 or squat.height >= 1
    out["arm_raise"] = (
        high.height >= 1 and not body_moves and in_place,
        f"{high.height} complete arm raise(s) reaching ≥ 70°"
        + ("; the pelvis rises and falls too" if body_moves else "")
        + where,
    )

    k = turns(body_yaw_deg(features), t, EventsConfig().tug)
    out["turning"] = (len(k) >= 1, f"{len(k)} turn(s) of ≥ 120°")
    return out


#: which evidence each declared task needs (all of them)
NEEDS: dict[str, tuple[str, ...]] = {
    "gait": ("walking",),
    "sit_to_stand": ("sit_to_stand",),
    "squat": ("squat",),
    "arm_raise": ("arm_raise",),
    "tug": ("sit_to_stand", "walking", "turning"),
}
#: evidence that names another task, in the order the message names them
OTHERS = ("walking", "sit_to_stand", "squat", "arm_raise")


def task_contradiction(spec: TaskSpec, evidence: dict[str, tuple[bool, str]]) -> str | None:
    """Why the movement contradicts the declared task, or ``None`` (module docstring)."""
    needs = NEEDS.get(spec.task)
    if not needs:
        return None
    missing = [e for e in needs if not evidence[e][0]]
    if not missing:
        return None
    seen = [e for e in OTHERS if evidence[e][0] and e not in needs]
    if spec.task == "tug":  # partial TUG evidence is still a TUG; contradicted only by a clear other task alone
        seen = [e for e in seen if e in ("squat", "arm_raise")]
    if not seen:
        return None
    name = {"walking": "gait"}
    return (
        f"declared task '{spec.task}', but the movement looks like {' or '.join(name.get(e, e) for e in seen)}: "
        + "; ".join(f"{e}: {evidence[e][1]}" for e in (*missing, *seen))
    )
