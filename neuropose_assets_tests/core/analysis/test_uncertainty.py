"""95 % confidence intervals of outcomes: the bootstrap against analytic cases, event timing by hand, the data file."""

import csv
import math
from importlib import resources

import numpy as np
import pytest
from scipy import stats

from neuropose_assets.core.analysis import uncertainty as u


def test_the_bootstrap_interval_of_a_mean_matches_the_t_interval_for_normal_data():
    x = np.random.default_rng(3).normal(1.10, 0.05, 60)  # 60 strides of ~1.1 s
    iv = u.bootstrap(u.mean, x, what="strides")
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert iv.low < x.mean() < iv.high
    assert iv.low == pytest.approx(lo, abs=0.15 * (hi - lo)) and iv.high == pytest.approx(hi, abs=0.15 * (hi - lo))
    assert iv.method == f"BCa bootstrap over 60 strides ({u.N_RESAMPLES} resamples)" and iv.reason is None


def test_the_bootstrap_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):
        iv = u.bootstrap(u.mean, rng.normal(10.0, 2.0, 20))
        hits += iv.low <= 10.0 <= iv.high
    assert 0.88 <= hits / 200 <= 0.99  # BCa with n = 20: close to nominal (slightly below is known)


def test_the_mean_of_few_values_gets_students_t_which_keeps_its_coverage():
    x = [1.0, 1.2, 0.9, 1.1, 1.05]
    lo, hi = stats.t.interval(0.95, 4, loc=np.mean(x), scale=stats.sem(x))
    iv = u.bootstrap(u.mean, x, what="strides")
    assert (iv.low, iv.high) == pytest.approx((lo, hi)) and iv.method.startswith("Student t over 5 strides")
    rng = np.random.default_rng(11)
    hits = sum((iv := u.bootstrap(u.mean, rng.normal(10.0, 2.0, 5))).low <= 10.0 <= iv.high for _ in range(400))
    assert 0.92 <= hits / 400 <= 0.98  # the BCa interval covered 82 % here
    ratio = u.bootstrap(lambda a, axis=-1: 100 / np.mean(a, axis=axis), x)  # another statistic: BCa, with the caveat
    assert ratio.method.endswith("fewer than 20: may be narrower than 95 %)")


def test_the_same_data_give_the_same_interval():
    x = [1.0, 1.2, 0.9, 1.1, 1.05, 0.98]
    assert u.bootstrap(u.mean, x) == u.bootstrap(u.mean, x)


def test_too_few_values_identical_values_and_counts_have_no_interval_but_a_reason():
    assert u.bootstrap(u.mean, [1.0, 1.1, 1.2, 1.3]) == u.Interval.none(
        "4 repetitions; a bootstrap interval needs at least 5"
    )
    assert u.bootstrap(u.mean, [1.0] * 8).reason == "all repetitions have the same value: no spread to resample"
    assert u.count().low is None and "count" in u.count().reason
    assert u.bootstrap(u.mean, [1, 2, 3, np.nan, np.nan, 4]).reason.startswith("4 repetitions")  # NaN are not values


def test_two_sample_and_paired_statistics():
    rng = np.random.default_rng(1)
    right, left = rng.normal(0.55, 0.02, 12), rng.normal(0.50, 0.02, 12)
    iv = u.bootstrap(lambda r, lft, axis=-1: 100 * np.mean(r, axis) / np.mean(lft, axis), right, left, what="steps")
    assert iv.low < 100 * right.mean() / left.mean() < iv.high and iv.low > 100  # the asymmetry is resolved
    assert iv.method.startswith("BCa bootstrap over 12 and 12 steps")
    disp, dt = rng.normal(0.6, 0.05, 9), rng.normal(0.5, 0.02, 9)  # m and s per step: speed = sum / sum
    speed = u.bootstrap(lambda d, t, axis=-1: np.sum(d, axis) / np.sum(t, axis), disp, dt, paired=True, what="steps")
    assert speed.low < disp.sum() / dt.sum() < speed.high and speed.method.startswith("BCa bootstrap over 9 steps")


def test_event_timing_interval_by_hand():
    sd = u.event_timing_sd_s()
    sigma = math.sqrt(sd**2 + (1 / 30) ** 2 / 12)  # detector error and a 30-fps frame period
    iv = u.event_timing(12.0, 30.0)
    assert iv.high - 12.0 == pytest.approx(1.959964 * math.sqrt(2) * sigma, rel=1e-6)
    assert 12.0 - iv.low == pytest.approx(iv.high - 12.0)
    assert u.event_timing(12.0, 120.0).high < iv.high  # a faster camera, a narrower interval
    with pytest.raises(ValueError, match="frame rate"):
        u.event_timing(1.0, 0.0)


def test_the_event_timing_data_file_is_consistent_and_cited():
    text = resources.files("neuropose_assets.data").joinpath("event_timing.csv").read_text()
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    per_event = [r for r in rows if r["event"] != "all"]
    pooled = next(r for r in rows if r["event"] == "all")
    n = sum(int(r["n"]) for r in per_event)
    rms = math.sqrt(sum(int(r["n"]) * float(r["rms_ms"]) ** 2 for r in per_event) / n)
    assert int(pooled["n"]) == n and float(pooled["rms_ms"]) == pytest.approx(rms, abs=0.2)
    assert all(r["source"] for r in rows) and u.event_timing_sd_s() == float(pooled["rms_ms"]) / 1000
