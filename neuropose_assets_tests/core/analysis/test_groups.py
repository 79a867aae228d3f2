"""Group comparison: one value per subject (first session), Welch's test against scipy, Holm across outcomes."""

import json

import numpy as np
import polars as pl
import pytest
from scipy import stats

from neuropose_assets.core.analysis.groups import group_comparison


def cohort(values: dict[str, list[tuple[str, str, float, float]]]) -> pl.DataFrame:
    """``group → [(subject, session, gait speed, cadence)]``."""
    rows = []
    for group, items in values.items():
        for i, (subject, session, speed, cadence) in enumerate(items):
            rows.append(
                {
                    "partition": f"{group}{i}",
                    "task": "gait",
                    "declared": True,
                    "subject": subject,
                    "session": session,
                    "age_years": None,
                    "sex": None,
                    "population": None,
                    "group": group,
                    "gait_speed_m_s": speed,
                    "gait_speed_m_s_ci_low": None,
                    "gait_speed_m_s_ci_high": None,
                    "cadence_steps_min": cadence,
                    "camera_view_angle_deg": 80.0,
                }
            )
    return pl.DataFrame(rows)


def test_two_groups_welch_t_test_cohens_d_with_ci_and_holm():
    a = [0.62, 0.70, 0.55, 0.66, 0.59]
    b = [0.95, 1.02, 0.88, 1.10]
    df = group_comparison(
        cohort(
            {
                "control": [(f"C{i}", "1", v, 100 + i) for i, v in enumerate(b)],
                "stroke": [(f"S{i}", "1", v, 90 + i) for i, v in enumerate(a)]
                + [("S0", "2", 2.0, 200)],  # a later session of S0: not used (first session only)
            }
        )
    )
    speed = df.filter(pl.col("measure") == "gait_speed_m_s").row(0, named=True)
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert speed["test"] == "Welch t-test" and speed["statistic"] == pytest.approx(ref.statistic, rel=1e-6)
    assert speed["p_value"] == pytest.approx(ref.pvalue, rel=1e-6)
    assert speed["effect_kind"] == "Cohen's d (control − stroke)" and speed["effect_ci_low"] < speed["effect_size"]
    per = json.loads(speed["per_group"])
    assert per["stroke"]["n"] == 5 and per["stroke"]["mean"] == pytest.approx(np.mean(a))
    p = sorted(df["p_value"].to_list())
    assert sorted(df["p_holm"].to_list()) == pytest.approx([min(1, 2 * p[0]), max(min(1, 2 * p[0]), p[1])])
    assert "camera_view_angle_deg" not in df["measure"].to_list()  # a property of the recording, not compared


def test_small_groups_no_test_and_three_groups_welch_anova():
    small = group_comparison(
        cohort({"a": [("A1", "1", 1.0, 100), ("A2", "1", 1.1, 101)], "b": [("B1", "1", 0.9, 99)] * 3})
    )  # noqa: E501
    assert small["test"].is_null().all() and small["null_reason"][0].startswith("fewer than 3 subjects in group(s) a")
    three = {
        g: [(f"{g}{i}", "1", base + 0.01 * i, 100 + i) for i in range(4)]
        for g, base in (("a", 1), ("b", 1.2), ("c", 0.8))
    }  # noqa: E501
    row = group_comparison(cohort(three)).filter(pl.col("measure") == "gait_speed_m_s").row(0, named=True)
    assert row["test"] == "Welch ANOVA" and row["p_value"] < 0.001 and row["effect_ci_low"] is None
    assert group_comparison(cohort({"a": [("A1", "1", 1.0, 100)]})).height == 0  # one group: nothing to compare
