"""Real clinical clips with hand-counted ground truth and motion capture (``shared/dev_data``): counts and event
times through the whole pipeline (``neuropose-assets run``), against the targets of the outcomes issue."""

import json
import os
from pathlib import Path

import polars as pl
import pytest

from neuropose_assets.core.io.storage import Layout
from neuropose_assets_tests import REPO

pytestmark = pytest.mark.e2e

CANDIDATES = [os.environ.get("NEUROPOSE_DEV_DATA"), REPO.parent / "shared" / "dev_data", "/work/shared/dev_data"]
DEV = next((Path(c) for c in CANDIDATES if c and (Path(c) / "ground_truth.json").exists()), None)


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    if DEV is None:
        pytest.skip("the development clips (shared/dev_data) are not on this machine; set NEUROPOSE_DEV_DATA")
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    import validate_outcomes as v

    names = ("opencap_sit_to_stand_5x_frontoblique", "opencap_walking_oblique", "onelegstance_armraise_front")
    v.CLIPS = {n: v.CLIPS[n] for n in names}
    layout = Layout(tmp_path_factory.mktemp("dev") / "data")
    return v.validate(DEV, layout), layout


def test_counts_are_exact_on_real_clips(validated):
    report, _ = validated
    for name, r in report.items():
        if not name.startswith("_"):
            assert r["count_detected"] == r["count_truth"], name


def test_event_times_agree_with_motion_capture_within_50_ms(validated):
    report, _ = validated
    assert report["_overall"]["median_abs_ms"] <= 50
    sts = report["opencap_sit_to_stand_5x_frontoblique"]["events"]
    assert all(e["matched"] == 5 and e["max_abs_ms"] <= 120 for e in sts.values())


def test_five_times_sit_to_stand_time_matches_motion_capture(validated):
    _, layout = validated
    out = pl.read_parquet(layout.asset_file("outcomes", "opencap_sit_to_stand_5x_frontoblique"))
    value = out.filter(pl.col("measure") == "five_sts_time_s")["value"][0]
    truth = json.loads((DEV / "ground_truth.json").read_text())["clips"][0]["events_mocap"]
    mocap = truth["seated_s_pelvis_10pct_down"][4] - truth["seat_off_s_pelvis_10pct_up"][0]  # 12.28 s
    assert abs(value - mocap) <= 0.1
