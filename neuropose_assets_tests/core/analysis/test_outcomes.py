"""Outcome formulas with known answers, and nulls with reasons where a value cannot be computed honestly."""

import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.analysis.events import analyse_task
from neuropose_assets.core.analysis.outcomes import CATALOGUE, MIN_STRIDES_FOR_CV, compute_outcomes, wide
from neuropose_assets.core.analysis.tasks import TASKS, TaskSpec
from neuropose_assets_tests import synthetic as S
from neuropose_assets_tests.core.analysis.test_events import _tug

FPS = 60.0


def _outcomes(feats: pl.DataFrame, spec: TaskSpec, **kw) -> pl.DataFrame:
    res = analyse_task(feats, spec)
    return compute_outcomes(spec, res.events, res.repetitions, feats, **kw)


def _value(out: pl.DataFrame, measure: str):
    return out.filter(pl.col("measure") == measure)["value"][0]


def _reason(out: pl.DataFrame, measure: str) -> str:
    return out.filter(pl.col("measure") == measure)["null_reason"][0]


def test_gait_temporal_parameters():
    feats, _ = S.walk(fps=FPS, stride_s=1.1, stance=0.6)
    out = _outcomes(feats, TaskSpec(task="gait"))
    frame_pct = 100 / (1.1 * FPS)  # one frame as % of the stride
    assert _value(out, "cadence_steps_min") == pytest.approx(120 / 1.1, abs=0.2)  # 109.1 steps/min
    assert _value(out, "stride_time_s") == pytest.approx(1.1, abs=1e-9)
    assert _value(out, "step_time_s") == pytest.approx(0.55, abs=1 / FPS)
    for side in ("left", "right"):
        assert _value(out, f"{side}_stance_pct") == pytest.approx(60, abs=frame_pct)
        assert _value(out, f"{side}_swing_pct") == pytest.approx(40, abs=frame_pct)
    assert _value(out, "double_support_pct") == pytest.approx(2 * (60 - 50), abs=2 * frame_pct)
    assert _value(out, "step_time_symmetry_pct") == pytest.approx(100, abs=1)
    assert _value(out, "stride_time_cv_pct") == pytest.approx(0, abs=1e-6)
    for m in out["measure"]:
        assert m.replace("left_", "{side}_").replace("right_", "{side}_") in CATALOGUE


def test_gait_spatial_parameters_need_a_metric_scale():
    feats, _ = S.walk(fps=FPS, stride_s=1.1, speed_mm_s=1200)
    side = _outcomes(feats, TaskSpec(task="gait", camera_view="side"))
    assert _value(side, "gait_speed_m_s") == pytest.approx(1.2, rel=0.01)
    assert _value(side, "left_stride_length_m") == pytest.approx(1.32, rel=0.01)  # speed × stride time
    # step length: heel-to-heel distance at heel strike = the two heels' ±300 mm swing (each heel 50 mm behind it)
    assert _value(side, "left_step_length_m") == pytest.approx(0.6, abs=0.01)
    # the view is measured: undeclared, the side view is found and used
    undeclared = _outcomes(feats, TaskSpec(task="gait"))
    assert _value(undeclared, "gait_speed_m_s") == pytest.approx(1.2, rel=0.01)
    assert _value(undeclared, "camera_view_angle_deg") == pytest.approx(90, abs=1)
    # a declaration the measurement contradicts nulls what rests on it, naming both views
    front = _outcomes(feats, TaskSpec(task="gait", camera_view="front"))
    assert _value(front, "gait_speed_m_s") is None
    assert "declared camera_view 'front'" in _reason(front, "gait_speed_m_s")
    assert "measured at 90°" in _reason(front, "gait_speed_m_s")
    # the case: an oblique walk (40° off the side view: body at 50° to the image plane) declared side
    oblique, _ = S.walk(fps=FPS, stride_s=1.1, speed_mm_s=1200, yaw_deg=40)
    declared_side = _outcomes(oblique, TaskSpec(task="gait", camera_view="side"))
    assert _value(declared_side, "camera_view_angle_deg") == pytest.approx(50, abs=1)
    for m in ("gait_speed_m_s", "left_step_length_m", "right_stride_length_m"):
        assert _value(declared_side, m) is None and "declared camera_view 'side'" in _reason(declared_side, m)
    assert _value(declared_side, "cadence_steps_min") is not None  # temporal parameters do not rest on the view
    # a walk seen from the front (not side): hip-centred 3D has no scale
    facing, _ = S.walk(fps=FPS, stride_s=1.1, speed_mm_s=1200, yaw_deg=90)
    front_ok = _outcomes(facing, TaskSpec(task="gait", camera_view="front"))
    assert _value(front_ok, "camera_view_angle_deg") == pytest.approx(0, abs=1)
    assert "hip-centred" in _reason(front_ok, "gait_speed_m_s")


def test_too_few_cycles_give_null_with_a_reason_not_zero():
    feats, _ = S.walk(fps=FPS, strides=2.2)
    out = _outcomes(feats, TaskSpec(task="gait"))
    n = out.filter(pl.col("measure") == "stride_time_cv_pct")["n"][0]
    assert n < MIN_STRIDES_FOR_CV and _value(out, "stride_time_cv_pct") is None
    assert f"needs at least {MIN_STRIDES_FOR_CV}" in _reason(out, "stride_time_cv_pct")
    still = S.features_from_bodies(np.array([S.body()] * 120), FPS)
    none = _outcomes(still, TaskSpec(task="gait"))
    assert _value(none, "cadence_steps_min") is None and "no complete gait cycle" in _reason(none, "cadence_steps_min")


def test_five_times_sit_to_stand():
    feats, truth = S.sit_to_stand(fps=FPS, reps=5, period_s=2.6)
    out = _outcomes(feats, TaskSpec(task="sit_to_stand"))
    assert _value(out, "repetitions") == 5
    # each repetition: 10 % up at t0 + 0.081 s, 10 % down at t0 + 1.6 − 0.081 s; 5th starts at 1 + 4 × 2.6 s
    assert _value(out, "five_sts_time_s") == pytest.approx((1 + 4 * 2.6 + 1.6 - 0.081) - (1 + 0.081), abs=2 / FPS)
    assert _value(out, "mean_repetition_time_s") == pytest.approx(1.6 - 2 * 0.081, abs=2 / FPS)
    assert _value(out, "chair_stands_30s") is None and "30 s" in _reason(out, "chair_stands_30s")
    three = _outcomes(S.sit_to_stand(fps=FPS, reps=3)[0], TaskSpec(task="sit_to_stand"))
    assert _value(three, "five_sts_time_s") is None and "3 complete" in _reason(three, "five_sts_time_s")


def test_thirty_second_chair_stand_counts_stands_within_30_s():
    feats, _ = S.sit_to_stand(fps=30.0, reps=14, period_s=2.5)  # 14 stands; onset ≈ 1.08 s, the 13th ≈ 31.3 s
    out = _outcomes(feats, TaskSpec(task="sit_to_stand"))
    assert _value(out, "chair_stands_30s") == 12


def test_squat_depth_and_arm_elevation():
    t = np.arange(0, 6, 1 / FPS)
    sit = 80 * (
        S.smooth_step(t, 1, 1.6) - S.smooth_step(t, 2.2, 2.8) + S.smooth_step(t, 3.5, 4.1) - S.smooth_step(t, 4.7, 5.3)
    )
    out = _outcomes(S.features_from_bodies(np.array([S.body(sit_deg=a) for a in sit]), FPS), TaskSpec(task="squat"))
    assert _value(out, "repetitions") == 2
    assert _value(out, "depth_knee_flexion_deg") == pytest.approx(80, abs=0.5)
    elev = 10 + 140 * (S.smooth_step(t, 1, 2) - S.smooth_step(t, 3, 4))
    feats = S.features_from_bodies(np.array([S.body(elevation=(e, e / 2)) for e in elev]), FPS)
    arms = _outcomes(feats, TaskSpec(task="arm_raise"))
    assert _value(arms, "left_peak_elevation_deg") == pytest.approx(150, abs=0.5)
    assert _value(arms, "right_peak_elevation_deg") == pytest.approx(75, abs=0.5)
    assert _value(arms, "elevation_difference_deg") == pytest.approx(75, abs=1)


def test_tug_time_and_phases():
    feats, _ = _tug()
    out = _outcomes(feats, TaskSpec(task="tug"))
    assert 9.9 < _value(out, "tug_time_s") < 10.5  # seat-off ≈ 1.1 s → seated ≈ 11.4 s
    assert 3.0 < _value(out, "walk_out_s") < 4.0 and 1.0 < _value(out, "turn_s") < 1.6
    assert 2.8 < _value(out, "walk_back_s") < 3.6 and 1.5 < _value(out, "turn_and_sit_s") < 2.2
    assert 10 <= _value(out, "steps") <= 16


def test_every_task_has_outcomes_and_the_catalogue_documents_them():
    assert {t for d in CATALOGUE.values() for t in d.tasks} == set(TASKS)
    from neuropose_assets.docs import outcomes_md

    md = outcomes_md()
    for d in CATALOGUE.values():  # every measure, for each of its tasks, with its definition
        assert md.count(f"| {d.definition.replace('|', chr(92) + '|')} |") == len(d.tasks), d.name
    feats, _ = S.walk(fps=FPS)
    assert set(wide(_outcomes(feats, TaskSpec(task="gait")))) >= {"cadence_steps_min", "gait_speed_m_s"}


def test_implausible_values_are_null_with_the_reason_and_a_warning():
    from neuropose_assets.core.analysis.outcomes import PLAUSIBLE, implausible
    from neuropose_assets.core.analysis.quality import implausible_outcomes

    assert implausible("left_step_length_m", [0.6, -0.46], "m").startswith("implausible: 1 of 2 values (-0.46 m)")
    assert implausible("step_length_m", [0.0], "m")  # a step length of 0 is not a step (exclusive bound)
    assert implausible("stride_time_s", [1.1, 1.2], "s") is None
    assert implausible("elevation_difference_deg", [500.0], "deg") is None  # no gate: no claim
    # a 4 m/s "walk" (e.g. a wrong scale): speed and stride lengths are null, the temporal values stand
    feats, _ = S.walk(fps=FPS, stride_s=1.1, speed_mm_s=4000)
    out = _outcomes(feats, TaskSpec(task="gait", camera_view="side"))
    for m in ("gait_speed_m_s", "left_stride_length_m", "right_stride_length_m"):
        assert _value(out, m) is None and _reason(out, m).startswith("implausible")
    assert "Bohannon" in _reason(out, "gait_speed_m_s") and str(PLAUSIBLE["gait_speed_m_s"][1]) in _reason(
        out, "gait_speed_m_s"
    )
    assert _value(out, "cadence_steps_min") == pytest.approx(109.1, abs=0.2)
    numbers, flags = implausible_outcomes(out, "walk")
    assert numbers["implausible"] == 3 and flags[0].severity == "WARN" and "gait_speed_m_s" in flags[0].message


def test_the_declared_task_is_checked_against_the_movement():
    from neuropose_assets.core.analysis.task_check import motion_evidence, task_contradiction

    walk, _ = S.walk(fps=FPS)
    sts, _ = S.sit_to_stand(fps=FPS, reps=3)
    ev_walk, ev_sts = motion_evidence(walk), motion_evidence(sts)
    assert ev_walk["walking"][0] and not ev_walk["sit_to_stand"][0] and not ev_walk["squat"][0]
    assert ev_sts["sit_to_stand"][0] and not ev_sts["walking"][0] and not ev_sts["squat"][0]
    assert task_contradiction(TaskSpec(task="gait"), ev_walk) is None
    assert task_contradiction(TaskSpec(task="sit_to_stand"), ev_sts) is None
    why = task_contradiction(TaskSpec(task="sit_to_stand"), ev_walk)
    assert why.startswith("declared task 'sit_to_stand', but the movement looks like gait")
    assert "squat" in task_contradiction(TaskSpec(task="squat"), ev_sts) and "sit_to_stand" in task_contradiction(
        TaskSpec(task="squat"), ev_sts
    )
    assert task_contradiction(TaskSpec(task="generic"), ev_walk) is None  # generic makes no claim
    # a contradicted task gives no outcome built on it
    res = analyse_task(walk, TaskSpec(task="sit_to_stand"))
    out = compute_outcomes(TaskSpec(task="sit_to_stand"), res.events, res.repetitions, walk, task_contradiction=why)
    rest = out.filter(pl.col("measure") != "camera_view_angle_deg")
    assert rest["value"].is_null().all() and rest["null_reason"].str.contains("declared task").all()


def test_tug_phases_are_checked_and_missing_steps_are_null():
    from neuropose_assets.core.analysis.outcomes import tug_phase_problems

    feats, _ = _tug()
    res = analyse_task(feats, TaskSpec(task="tug"))
    assert tug_phase_problems(res.events) == []
    # no heel strike seen (feet hidden): steps null with the reason, never 0
    no_steps = res.events.filter(pl.col("event") != "heel_strike")
    out = compute_outcomes(TaskSpec(task="tug"), no_steps, res.repetitions, feats)
    assert _value(out, "steps") is None and "unknown, not 0" in _reason(out, "steps")
    assert "no heel strike while walking" in tug_phase_problems(no_steps)
    # a sit that "starts" while walking out, before the second turn
    early = res.events.with_columns(
        pl.when(pl.col("event") == "sit_start").then(2.0).otherwise(pl.col("time_s")).alias("time_s")
    )
    assert any("before the second turn" in p for p in tug_phase_problems(early))
    # a turn longer than both walks
    slow = res.events.with_columns(
        pl.when(pl.col("event") == "turn_end").then(pl.col("time_s") + 2.5).otherwise(pl.col("time_s")).alias("time_s")
    )
    assert any("longer than both walks" in p for p in tug_phase_problems(slow.sort("time_s")))
