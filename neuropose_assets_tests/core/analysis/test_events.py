"""Task events and repetitions on synthetic movements with known answers (real code path: poses → features)."""

import numpy as np
import polars as pl
import pytest

from neuropose_assets.core.analysis.events import EventsConfig, analyse_task
from neuropose_assets.core.analysis.tasks import TaskSpec
from neuropose_assets_tests import synthetic as S

FPS = 60.0
FRAME = 1 / FPS


def _times(events: pl.DataFrame, name: str, side: str | None = None) -> list[float]:
    sel = events.filter(pl.col("event") == name)
    if side is not None:
        sel = sel.filter(pl.col("side") == side)
    return sel.sort("time_s")["time_s"].to_list()


def test_gait_heel_strikes_and_toe_offs_of_both_feet_and_cycles_per_side():
    feats, truth = S.walk(fps=FPS)
    res = analyse_task(feats, TaskSpec(task="gait"))
    for event in ("heel_strike", "toe_off"):
        for side in ("left", "right"):
            np.testing.assert_allclose(_times(res.events, event, side), truth[event][side], atol=FRAME)
    cycles = res.repetitions
    assert set(cycles["kind"]) == {"gait_cycle"}
    for side in ("left", "right"):
        c = cycles.filter(pl.col("side") == side)
        assert c.height == len(truth["heel_strike"][side]) - 1  # between consecutive heel strikes
        np.testing.assert_allclose(c["duration_s"].to_numpy(), 1.1, atol=FRAME)
        np.testing.assert_allclose((c["peak_s"] - c["start_s"]).to_numpy(), 0.66, atol=FRAME)  # toe-off inside
        assert c["repetition"].to_list() == list(range(c.height))


def test_a_single_heel_strike_near_the_end_is_an_event_not_a_silence():
    feats, _ = S.walk(fps=FPS, strides=0.45, first_hs_s=0.3)  # one heel strike per foot at most
    res = analyse_task(feats, TaskSpec(task="gait"))
    assert res.events.filter(pl.col("event") == "heel_strike").height >= 1
    assert res.repetitions.height == 0


def test_sit_to_stand_phases_at_the_pelvis_excursion_crossings():
    feats, truth = S.sit_to_stand(fps=FPS)
    res = analyse_task(feats, TaskSpec(task="sit_to_stand"))
    assert res.repetitions.height == 5
    # pelvis height above the ankles = 420 + 450 cos(sit); 10 % of the rise ↔ cos = 0.1, 90 % ↔ cos = 0.9
    t, sit = truth["t"], np.radians(truth["sit_deg"])
    h = 420 + 450 * np.cos(sit)
    lo, hi = 420 + 0.1 * 450, 420 + 0.9 * 450
    up = np.flatnonzero((h[1:] >= lo) & (h[:-1] < lo)) + 1
    down = np.flatnonzero((h[1:] < lo) & (h[:-1] >= lo)) + 1
    np.testing.assert_allclose(_times(res.events, "seat_off"), t[up], atol=FRAME)
    np.testing.assert_allclose(_times(res.events, "seated"), t[down], atol=FRAME)
    reached = np.flatnonzero((h[1:] >= hi) & (h[:-1] < hi)) + 1
    np.testing.assert_allclose(_times(res.events, "standing_reached"), t[reached], atol=FRAME)
    reps = res.repetitions
    np.testing.assert_allclose(reps["start_s"].to_numpy(), t[up], atol=FRAME)
    np.testing.assert_allclose(reps["end_s"].to_numpy(), t[down], atol=FRAME)


def test_squat_bottom_is_the_deepest_point():
    t = np.arange(0, 9, FRAME)
    sit = np.zeros(len(t))
    for t0 in (1.0, 4.0, 7.0):  # three squats to 70° with a 0.4 s pause at the bottom
        sit += 70 * (S.smooth_step(t, t0, t0 + 0.6) - S.smooth_step(t, t0 + 1.0, t0 + 1.6))
    sit += 2 * np.sin(2 * np.pi * 7 * t)  # a ripple of the estimate
    feats = S.features_from_bodies(np.array([S.body(sit_deg=a) for a in sit]), FPS)
    res = analyse_task(feats, TaskSpec(task="squat"))
    assert res.repetitions.height == 3
    bottoms = _times(res.events, "squat_bottom")
    assert all(t0 + 0.55 <= b <= t0 + 1.05 for b, t0 in zip(bottoms, (1.0, 4.0, 7.0), strict=True))


def test_arm_raise_one_side_only_and_repetitions_per_side():
    t = np.arange(0, 10, FRAME)
    left = 10 + 150 * sum(S.smooth_step(t, a, a + 0.8) - S.smooth_step(t, a + 1.2, a + 2.0) for a in (1, 4, 7))
    right = 10 + 90 * sum(S.smooth_step(t, a, a + 0.8) - S.smooth_step(t, a + 1.2, a + 2.0) for a in (1.5, 5))
    feats = S.features_from_bodies(np.array([S.body(elevation=(a, b)) for a, b in zip(left, right)]), FPS)
    both = analyse_task(feats, TaskSpec(task="arm_raise"))
    counts = both.repetitions.group_by("side").len().sort("side")
    assert counts["len"].to_list() == [3, 2]
    top = both.events.filter(pl.col("event") == "arm_at_top").sort("side")
    np.testing.assert_allclose(top.filter(pl.col("side") == "left")["value"].to_numpy(), 160, atol=1)
    np.testing.assert_allclose(top.filter(pl.col("side") == "right")["value"].to_numpy(), 100, atol=1)
    only_left = analyse_task(feats, TaskSpec(task="arm_raise", side="left"))
    assert set(only_left.repetitions["side"]) == {"left"}


def _tug(fps: float = FPS, knee_deg: float = 0.0, turn_s: float = 1.5):
    """Seated 1 s; rise 1.0–1.8 s; walk 1.8–5 s; turn 180° from 5 s (``turn_s`` long); walk back; turn 180° from 9.5 s
    while sitting down 10.5–11.5 s; seated until 12.5 s.  Steps: heel strikes every 0.55 s while walking, the swing
    knee flexing by up to ``knee_deg`` (real walking: ~60°)."""
    t = np.arange(0, 12.5, 1 / fps)
    sit = 90 * (1 - S.smooth_step(t, 1.0, 1.8) + S.smooth_step(t, 10.5, 11.5))
    yaw = 180 * (S.smooth_step(t, 5.0, 5.0 + turn_s) + S.smooth_step(t, 9.5, 9.5 + turn_s))
    walking = (t > 1.9) & (t < 9.4)
    phase = 2 * np.pi * (t - 2.0) / 1.1
    local = []
    for k in range(len(t)):
        sw, kn = (0.0, 0.0), (0.0, 0.0)
        if walking[k]:
            sw = (250 * np.cos(phase[k]), 250 * np.cos(phase[k] + np.pi))
            kn = tuple(knee_deg * max(0.0, np.sin(p)) ** 2 for p in (phase[k] + np.pi / 2, phase[k] - np.pi / 2))
        local.append(S.body(sit_deg=sit[k], swing=sw, knee=kn))
    return S.features_from_bodies(np.array(local), fps, yaw_deg=yaw), t


def test_tug_phases_and_turns():
    feats, _ = _tug()
    res = analyse_task(feats, TaskSpec(task="tug"))
    ev = res.events
    (seat_off,), (standing,), (seated,) = _times(ev, "seat_off"), _times(ev, "standing_reached"), _times(ev, "seated")
    assert 1.0 < seat_off < 1.3 and 1.4 < standing < 1.8 and 11.2 < seated < 11.5
    starts, ends = _times(ev, "turn_start"), _times(ev, "turn_end")
    assert len(starts) == len(ends) == 2
    assert 4.9 < starts[0] < 5.4 and 6.1 < ends[0] < 6.6 and 9.4 < starts[1] < 9.9
    assert len(_times(ev, "heel_strike")) >= 10
    assert res.repetitions.height == 1 and res.repetitions["kind"][0] == "tug"


def test_generic_task_uses_the_declared_signal_and_nothing_is_invented():
    feats, _ = S.sit_to_stand(fps=FPS, reps=3)
    spec = TaskSpec(task="generic", segmentation={"signal": {"column": "knee_angle_l_deg"}, "min_prominence": 30})
    res = analyse_task(feats, spec)
    # knee flexion humps are the seated phases: the first and last are cut off by the trial, two lie in between
    assert res.repetitions.height == 2
    assert res.events.filter(pl.col("event") == "peak").height == 2
    still = S.features_from_bodies(np.array([S.body()] * 120), FPS)
    for task in ("gait", "sit_to_stand", "squat", "arm_raise", "tug", "generic"):
        res = analyse_task(still, TaskSpec(task=task))
        assert res.events.height == 0 and res.repetitions.height == 0, task


def test_events_config_round_trips():
    cfg = EventsConfig(gait={"min_prominence_mm": 30})
    assert EventsConfig.model_validate_json(cfg.model_dump_json()) == cfg
    with pytest.raises(ValueError):
        EventsConfig(squat={"min_prominence": -1})


def test_event_agreement_matches_one_to_one_within_the_tolerance():
    from neuropose_assets.core.comparison.agreement import match_events

    a = match_events([1.02, 2.0, 2.05, 9.0], [1.0, 2.03, 5.0], tolerance_s=0.1)
    assert a.errors_s == pytest.approx([0.02, 0.02]) and a.missed == 1 and a.extra == 2
    assert a.median_abs_ms == pytest.approx(20) and a.mean_ms == pytest.approx(20)
    assert (a + match_events([], [1.0])).missed == 2
    assert match_events([], []).median_abs_ms is None


def test_left_right_label_flips_are_found_but_crossing_legs_are_not():
    from neuropose_assets.core.kinematics.features import left_right_swaps
    from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS

    feats, _ = S.walk(fps=FPS, strides=3)  # side view: the ankles cross each other every step
    uv = np.stack([np.stack([feats[f"{j}_{a}_px"].to_numpy() for a in "uv"], axis=-1) for j in CLINICAL_JOINTS], axis=1)
    assert len(left_right_swaps(uv)) == 0
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    front = uv.copy()
    for j in ("hip", "knee", "ankle"):  # seen from the front, the legs are apart; labels flip from frame 50 on
        front[:, ci[f"left_{j}"], 0] += 60
        front[:, ci[f"right_{j}"], 0] -= 60
    flipped = front.copy()
    for j in ("hip", "knee", "ankle"):
        flipped[50:, [ci[f"left_{j}"], ci[f"right_{j}"]]] = front[50:, [ci[f"right_{j}"], ci[f"left_{j}"]]]
    assert list(left_right_swaps(flipped)) == [50]
    assert len(left_right_swaps(front)) == 0


def _hide(feats: pl.DataFrame, t0: float, t1: float, joints: tuple[str, ...] | None = None) -> pl.DataFrame:
    """The features with the subject (or only ``joints``) unobserved between ``t0`` and ``t1`` s: ``subject_present``
    false and confidences null there, positions kept (as after gap filling)."""
    inside = (pl.col("time_s") >= t0) & (pl.col("time_s") <= t1)
    cols = [c for c in feats.columns if c.endswith("_conf") and (joints is None or c.removesuffix("_conf") in joints)]
    out = feats.with_columns(pl.when(inside).then(None).otherwise(pl.col(c)).alias(c) for c in cols)
    if joints is None:
        out = out.with_columns(
            pl.when(inside).then(False).otherwise(pl.col("subject_present")).alias("subject_present")
        )
    return out


def test_no_event_where_the_subject_or_the_defining_joints_are_not_observed():
    feats, truth = S.walk(fps=FPS, stride_s=1.1)
    hs = truth["heel_strike"]["left"]
    res = analyse_task(_hide(feats, hs[2] - 0.1, hs[2] + 0.1), TaskSpec(task="gait"))
    placed = _times(res.events, "heel_strike", "left")
    assert not any(abs(x - hs[2]) < 0.15 for x in placed)  # the walker was not seen: no heel strike there
    assert len(placed) == len(hs) - 1
    assert any(r["event"] == "heel_strike" and "not detected" in r["reason"] for r in res.rejected)
    # no gait cycle spans the unseen heel strike (it would be a 2.2 s "stride")
    cycles = res.repetitions.filter(pl.col("side") == "left")
    assert cycles["duration_s"].max() == pytest.approx(1.1, abs=0.05)
    assert res.events["confidence"].min() >= EventsConfig().min_confidence
    # a low-confidence heel (hidden foot): the subject is there, the heel is not observed
    low = feats.with_columns(
        pl.when((pl.col("time_s") - hs[1]).abs() < 0.1)
        .then(0.2)
        .otherwise(pl.col("left_heel_conf"))
        .alias("left_heel_conf")
    )
    res = analyse_task(low, TaskSpec(task="gait"))
    assert not any(abs(x - hs[1]) < 0.15 for x in _times(res.events, "heel_strike", "left"))
    assert any("confidence 0.20" in r["reason"] for r in res.rejected)


def test_incomplete_repetitions_are_listed_but_not_counted():
    from neuropose_assets.core.analysis.outcomes import compute_outcomes

    feats, _ = S.sit_to_stand(fps=FPS, reps=5, period_s=2.6)
    # the recording stops while the subject sits down after the 5th rise, half-way down
    seat_5 = 1 + 4 * 2.6 + 1.6 - 0.5 * 0.6
    cut = feats.filter(pl.col("time_s") <= seat_5)
    res = analyse_task(cut, TaskSpec(task="sit_to_stand"))
    assert res.repetitions.height == 5 and res.repetitions["complete"].to_list() == [True] * 4 + [False]
    out = compute_outcomes(TaskSpec(task="sit_to_stand"), res.events, res.repetitions, cut)
    value = dict(zip(out["measure"], out["value"], strict=True))
    assert value["repetitions"] == 4 and value["excluded_repetitions"] == 1
    assert value["five_sts_time_s"] is None
    full = analyse_task(feats, TaskSpec(task="sit_to_stand"))
    assert full.repetitions["complete"].all()


def test_tug_walking_with_bent_knees_is_not_a_sit():
    """Real walking bends the swing knee ~60°: the stand and sit events must come from the whole upright phase,
    not from a swing phase (the false ``sit_start`` while walking out)."""
    feats, _ = _tug(knee_deg=60.0, turn_s=0.8)
    assert feats["knee_angle_l_deg"].max() > 50  # the swing knee really bends
    ev = analyse_task(feats, TaskSpec(task="tug")).events
    (standing,), (sit_start,) = _times(ev, "standing_reached"), _times(ev, "sit_start")
    assert 1.4 < standing < 1.9 and 10.4 < sit_start < 11.0, (standing, sit_start)
    starts = _times(ev, "turn_start")
    assert len(starts) == 2 and 4.9 < starts[0] < 5.3


def test_a_heel_peak_behind_the_other_foot_is_not_a_heel_strike():
    """A jitter of the trailing heel at the other foot's heel strike (a pose-model artefact) makes a local maximum of
    its anterior position; the heel is far behind the other foot there, so it is not a step."""
    feats, truth = S.walk(fps=FPS, stride_s=1.1)
    t = feats["time_s"].to_numpy()
    hs_right = truth["heel_strike"]["right"][2]
    bump = 120 * np.exp(-0.5 * ((t - hs_right) / 0.04) ** 2)  # a 120 mm blip of the left heel, 0.04 s wide
    feats = feats.with_columns(
        *(pl.Series(f"left_heel_{a}_mm", feats[f"left_heel_{a}_mm"].to_numpy() + bump * u) for a, u in (("x", 1.0),))
    )
    res = analyse_task(feats, TaskSpec(task="gait"))
    left = _times(res.events, "heel_strike", "left")
    assert not any(abs(x - hs_right) < 0.1 for x in left)
    assert any(r["side"] == "left" and "behind the other heel" in r["reason"] for r in res.rejected)
    assert len(left) == len(truth["heel_strike"]["left"])  # the true ones all stay
