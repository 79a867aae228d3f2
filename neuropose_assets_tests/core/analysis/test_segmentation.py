import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from neuropose_assets.core.analysis.segmentation import (
    SegmentationConfig,
    SignalSpec,
    extract_signal,
    find_humps,
    find_peaks_with_edges,
    segment_features,
    valley_to_valley,
)
from neuropose_assets.core.kinematics.signal import fill_gaps, lowpass


def humps(n: int, samples: int = 300) -> np.ndarray:
    t = np.linspace(0, n * 2 * np.pi, samples)
    return np.maximum(0, np.sin(t)) ** 2


@pytest.mark.parametrize("n", [3, 5])
def test_n_humps_give_n_repetitions_that_tile_the_signal(n):
    wins = valley_to_valley(humps(n), min_prominence=0.1)
    assert len(wins) == n
    assert wins[0][0] == 0 and wins[-1][2] == 300
    for (s, p, e), nxt in zip(wins, wins[1:] + [None]):
        assert s <= p < e
        if nxt is not None:
            assert nxt[0] >= e - 1  # neighbours share at most their boundary valley frame


def test_flat_signal_and_bad_input():
    assert valley_to_valley(np.zeros(100)) == []
    with pytest.raises(ValueError, match="1-D"):
        valley_to_valley(np.zeros((10, 2)))
    with pytest.raises(ValueError, match="pad"):
        valley_to_valley(humps(3), pad=-1)


def test_min_distance_suppresses_close_peaks_and_pad_is_clamped():
    s = np.zeros(100)
    s[[20, 25, 70]] = 1.0
    assert len(valley_to_valley(s, min_distance=30)) < len(valley_to_valley(s))
    wins = valley_to_valley(humps(3), min_prominence=0.1, pad=10_000)
    assert all(w[0] == 0 and w[2] == 300 for w in wins)


def test_fill_gaps():
    x = np.array([np.nan, 1, np.nan, 3, np.nan])
    np.testing.assert_allclose(fill_gaps(x, hold_ends=True), [1, 1, 2, 3, 3])
    np.testing.assert_allclose(fill_gaps(x), [np.nan, 1, 2, 3, np.nan])
    assert np.isnan(fill_gaps(np.full(3, np.nan))).all()
    long = np.array([0.0, np.nan, np.nan, np.nan, 4.0, np.nan, 6.0])
    np.testing.assert_allclose(fill_gaps(long, max_gap=2), [0, np.nan, np.nan, np.nan, 4, 5, 6])
    two = np.stack([long, long * 2], axis=1)
    np.testing.assert_allclose(fill_gaps(two, max_gap=3)[:, 1], [0, 2, 4, 6, 8, 10, 12])


def test_lowpass_leaves_gaps_and_short_segments_alone():
    x = np.concatenate([np.sin(np.arange(100) / 5), [np.nan], np.ones(5)])
    out = lowpass(x, 2.0, 30.0)
    assert np.isnan(out[100]) and np.array_equal(out[101:], np.ones(5))


def test_lowpass_removes_jitter_but_keeps_slow_movement():
    fs = 60.0
    t = np.arange(0, 5, 1 / fs)
    slow = np.sin(2 * np.pi * 0.5 * t)
    jitter = 0.3 * np.sin(2 * np.pi * 20 * t)
    out = lowpass(slow + jitter, 6.0, fs)
    assert np.max(np.abs(out - slow)[30:-30]) < 0.02


def _features(signal: np.ndarray, fps: float = 30.0) -> pl.DataFrame:
    n = len(signal)
    return pl.DataFrame(
        {
            "frame": np.arange(n, dtype=np.int32),
            "time_s": np.arange(n) / fps,
            "knee_angle_r_deg": signal,
            "pelvis_v_px": -signal,
        }
    )


def test_segment_features_in_seconds_with_noise_and_gaps():
    rng = np.random.default_rng(1)
    sig = 60 * humps(5, 300) + rng.normal(0, 2.0, 300)
    sig[100:104] = np.nan
    df = segment_features(_features(sig), SegmentationConfig(min_prominence=20, min_distance_s=0.5))
    assert df.height == 5
    assert (df["end_s"] - df["start_s"] - df["duration_s"]).abs().max() < 1e-12
    assert df["peak_s"].to_list() == pytest.approx((df["peak_frame"] / 30.0).to_list())


def test_inverted_image_height_signal():
    cfg = SegmentationConfig(signal=SignalSpec(kind="column", column="pelvis_v_px", invert=True), min_prominence=0.3)
    assert segment_features(_features(humps(4)), cfg).height == 4


def test_config_validates_and_round_trips():
    with pytest.raises(ValidationError, match="needs"):
        SignalSpec(kind="joint_axis", joint="right_heel")
    with pytest.raises(ValidationError, match="unknown clinical joint"):
        SignalSpec(kind="joint_speed", joint="rhee")
    cfg = SegmentationConfig(signal=SignalSpec(kind="joint_axis", joint="right_heel", axis="y"), pad_s=0.1)
    assert SegmentationConfig.model_validate_json(cfg.model_dump_json()) == cfg


def test_signal_extractors():
    n = 4
    df = pl.DataFrame(
        {
            "time_s": np.arange(n) / 10.0,
            **{f"left_wrist_{a}_mm": np.array([0.0, 1, 3, 6]) if a == "x" else np.zeros(n) for a in "xyz"},
            **{f"left_shoulder_{a}_mm": np.full(n, 3.0) if a == "y" else np.zeros(n) for a in "xyz"},
        }
    )
    from neuropose_assets.core.kinematics.features import joint_speeds

    x = np.array([0.0, 1, 3, 6])
    xyz = np.stack([x, np.zeros(n), np.zeros(n)], axis=1)[:, None, :]
    expected = joint_speeds(xyz, df["time_s"].to_numpy())[:, 0]
    np.testing.assert_allclose(expected, [10, 15, 25, 30])  # central differences, one-sided at the ends
    df = df.with_columns(left_wrist_speed_mm_s=expected)
    speed = extract_signal(df, SignalSpec(kind="joint_speed", joint="left_wrist"))
    np.testing.assert_allclose(speed, expected)  # one definition: the features' speed column
    dist = extract_signal(df, SignalSpec(kind="joint_distance", joint="left_wrist", other_joint="left_shoulder"))
    np.testing.assert_allclose(dist, np.hypot([0, 1, 3, 6], 3))
    with pytest.raises(KeyError):
        extract_signal(df, SignalSpec(kind="column", column="nope"))


def test_threshold_windows_ignore_a_ripple_on_the_plateau():
    """A standing ripple cut a 1.8 s sit-to-stand to 0.7 s with valley-to-valley windows; crossings keep 1.8 s."""
    fps = 60.0
    t = np.arange(0, 6, 1 / fps)
    s = np.clip(np.minimum((t - 1) / 0.3, (2.8 - t) / 0.3), 0, 1)  # 1 s seated, rise 0.3, stand, sit by 2.8 s
    s = s - 0.08 * np.exp(-(((t - 1.9) / 0.05) ** 2))  # a small dip while standing
    f = pl.DataFrame({"time_s": t, "knee_angle_r_deg": 60 * s})
    cfg = dict(min_prominence=20, lowpass_hz=None)
    robust = segment_features(f, SegmentationConfig(**cfg))
    assert robust.height == 1
    assert robust["duration_s"][0] == pytest.approx(1.8 - 0.06 + 1 / fps, abs=2 / fps)  # 10 % up → 10 % down
    fragile = segment_features(f, SegmentationConfig(**cfg, method="valley_to_valley_v1"))
    assert fragile["duration_s"].max() < 1.2  # the old method's failure, kept for NeuroPose comparisons


def test_find_humps_crossings_and_edges():
    s = np.concatenate(
        [
            np.zeros(20),
            np.linspace(0, 1, 11),
            np.ones(20),
            np.linspace(1, 0, 11),
            np.zeros(20),
            np.linspace(0, 1, 11),
            np.ones(5),
        ]
    )  # the second hump is cut by the end
    first, second = find_humps(s, min_prominence=0.5)
    # ramps of 0.1 per sample: 0.1 at 21 (first ≥ 10 %), 0.9 at 29; down: 0.8 at 53 (first < 90 %), 0.0 at 61
    assert (first.onset, first.top_reached, first.top_left, first.offset) == (21, 29, 53, 61)
    assert (second.onset, second.top_reached, second.top_left, second.offset) == (83, 91, None, None)
    assert find_humps(np.zeros(50), min_prominence=0.1) == []
    with pytest.raises(ValueError):
        find_humps(s, min_prominence=0.5, low_frac=0.9, high_frac=0.5)


def test_peaks_near_the_edges_are_kept_unless_inside_the_edge_margin():
    s = np.concatenate([np.linspace(0.8, 1, 4), np.linspace(1, 0, 30), np.linspace(0, 1, 30), np.linspace(1, 0, 30)])
    assert list(find_peaks_with_edges(s, min_prominence=0.5)) == [3, 63]  # one-sided prominence at the start
    assert list(find_peaks_with_edges(s, min_prominence=0.5, edge=5)) == [63]
    # inside the margin, a peak the recorded signal supports (it fell 0.2 towards the start) is kept
    assert list(find_peaks_with_edges(s, min_prominence=0.5, edge=5, edge_drop=0.1)) == [3, 63]
    assert list(find_peaks_with_edges(s, min_prominence=0.5, edge=5, edge_drop=0.3)) == [63]
    rising = np.linspace(0, 1, 20)
    assert list(find_peaks_with_edges(rising, min_prominence=0.1, edge=5, edge_drop=0.0)) == []  # never the last one
    assert list(find_peaks_with_edges(np.linspace(0, 1, 20), min_prominence=0.1)) == []  # still rising at the end


def test_signal_units_follow_the_column_suffix():
    assert SignalSpec(column="knee_angle_r_deg").unit == "deg"
    assert SignalSpec(column="left_wrist_speed_mm_s").unit == "mm/s"
    assert SignalSpec(column="left_wrist_y_norm").unit.startswith("dimensionless")
    assert SignalSpec(column="pelvis_v_px").unit == "px"


def test_segmentation_of_another_person_than_the_subject():
    from neuropose_assets.core.kinematics.features import FeaturesConfig, compute_features
    from neuropose_assets.core.kinematics.skeletons import BLAZEPOSE_33
    from neuropose_assets.core.pose.base import FramePoses
    from neuropose_assets.core.pose.estimate import build_poses_table

    nj = len(BLAZEPOSE_33.joints)
    idx = {n: i for i, n in enumerate(BLAZEPOSE_33.joints)}
    frames = []
    for i in range(300):
        still = np.zeros((nj, 3), np.float32)
        mover = still.copy()
        mover[idx["right_hip"]] = [-100, 0, 0]
        mover[idx["right_knee"]] = [-100, 450, 0]
        bend = np.radians(60 * max(0.0, np.sin(i / 300 * 3 * 2 * np.pi)))
        mover[idx["right_ankle"]] = [-100, 450 + 400 * np.cos(bend), 400 * np.sin(bend)]
        poses3d = np.stack([still, mover])
        frames.append(
            FramePoses(
                np.array([[0, 0, 50, 50, 0.9], [100, 0, 10, 10, 0.9]], np.float32),
                poses3d,
                poses3d[..., :2],
                np.ones((2, nj), np.float32),
            )
        )
    table = build_poses_table(frames, [np.array([0, 1])] * 300, 0, np.arange(300) / 30, BLAZEPOSE_33.joints)
    ankle = SegmentationConfig(signal=SignalSpec(column="right_ankle_z_mm"), min_prominence=100)
    other, _ = compute_features(table, BLAZEPOSE_33, FeaturesConfig(track=1))
    assert segment_features(other, ankle).height == 3
    subject, _ = compute_features(table, BLAZEPOSE_33)
    assert segment_features(subject, ankle).height == 0


def test_neuropose_segmentation_expectations():
    """NeuroPose analyzer tests (§19) under our seconds-based config (low-pass off to match their raw signal)."""
    t = np.linspace(0, 4 * np.pi, 401)
    assert len(valley_to_valley(np.sin(t))) == 2
    sig = 1000 * humps(3)
    f = pl.DataFrame({"time_s": np.arange(300) / 30.0, "left_wrist_y_mm": sig})
    base = dict(
        signal=SignalSpec(kind="joint_axis", joint="left_wrist", axis="y"), lowpass_hz=None, min_distance_s=None
    )
    three = segment_features(f, SegmentationConfig(**base, min_prominence=50))
    assert three.height == 3
    assert segment_features(f, SegmentationConfig(**{**base, "min_distance_s": 5.0}, min_prominence=50)).height <= 2
    padded = segment_features(f, SegmentationConfig(**base, min_prominence=50, pad_s=0.2))
    assert (padded["start_frame"] <= three["start_frame"]).all() and (padded["end_frame"] >= three["end_frame"]).all()
    assert (padded["duration_s"] > three["duration_s"]).any()
    cfg = SegmentationConfig(**base, min_prominence=50)
    assert SegmentationConfig.model_validate_json(cfg.model_dump_json()) == cfg


def test_padding_applies_to_every_window_method():
    f = _features(60 * humps(4), fps=30.0)
    for method in ("threshold", "valley_to_valley_v1", "peak_to_peak"):
        base = segment_features(f, SegmentationConfig(min_prominence=20, method=method, lowpass_hz=None))
        padded = segment_features(f, SegmentationConfig(min_prominence=20, method=method, lowpass_hz=None, pad_s=0.2))
        assert base.height > 0, method
        assert ((padded["end_frame"] - padded["start_frame"]) > (base["end_frame"] - base["start_frame"])).any(), method
