"""Change between sessions: the verdict needs both the published threshold and the sessions' own intervals."""

import polars as pl
import pytest

from neuropose_assets.core.analysis import change as C
from neuropose_assets.core.analysis.uncertainty import Z95


def cohort(rows: list[dict]) -> pl.DataFrame:
    """A cohort table with the given videos (``measure: (value, half-width of the 95 % interval or None)``)."""
    out = []
    for i, r in enumerate(rows):
        row = {"partition": f"v{i}", "task": r.get("task", "gait"), "declared": True, "subject": r["subject"]}
        row |= {"session": r["session"], "age_years": None, "sex": None, "population": r.get("population")}
        row["group"] = None
        for m, (value, half) in r["values"].items():
            row |= {m: value, m + "_ci_low": None if half is None else value - half}
            row[m + "_ci_high"] = None if half is None else value + half
        out.append(row)
    return pl.DataFrame(out)


def one(df: pl.DataFrame, **where) -> dict:
    sel = df
    for k, v in where.items():
        sel = sel.filter(pl.col(k) == v)
    assert sel.height == 1, sel
    return sel.row(0, named=True)


def test_a_change_above_the_mdc_that_the_intervals_resolve_exceeds():
    df = C.subject_changes(
        cohort(
            [
                {"subject": "P1", "session": "1", "population": "stroke", "values": {"gait_speed_m_s": (0.50, 0.02)}},
                {"subject": "P1", "session": "2", "population": "stroke", "values": {"gait_speed_m_s": (0.70, 0.02)}},
            ]
        )
    )
    r = one(df, measure="gait_speed_m_s")
    assert r["change"] == pytest.approx(0.20) and r["threshold"] == 0.11  # the 0.4–0.8 m/s band of the earlier value
    half = Z95 * ((0.02 / Z95) ** 2 * 2) ** 0.5
    assert r["change_ci_low"] == pytest.approx(0.20 - half) and r["change_ci_high"] == pytest.approx(0.20 + half)
    assert r["verdict"] == "exceeds" and r["threshold_statistic"] == "MDC" and "Hosoi" in r["threshold_source"]
    assert (r["comparison"], r["session_from"], r["session_to"], r["unit"]) == ("consecutive", "1", "2", "m/s")


@pytest.mark.parametrize(
    "before, after, half, verdict",
    [
        (0.50, 0.55, 0.02, "resolved by the sessions' intervals but below the MDC"),
        (0.50, 0.70, 0.30, "above the MDC but not resolved by the sessions' intervals"),
        (0.50, 0.52, 0.10, "within"),
    ],
)
def test_each_way_a_change_can_fall_short(before, after, half, verdict):
    rows = [
        {"subject": "P1", "session": s, "population": "stroke", "values": {"gait_speed_m_s": (v, half)}}
        for s, v in (("1", before), ("2", after))
    ]
    assert one(C.subject_changes(cohort(rows)), measure="gait_speed_m_s")["verdict"] == verdict


def test_no_population_no_threshold_or_no_interval_give_no_verdict_but_the_reason():
    rows = [
        {"subject": "P1", "session": "1", "values": {"gait_speed_m_s": (0.5, 0.02), "cadence_steps_min": (100, 2)}},
        {"subject": "P1", "session": "2", "values": {"gait_speed_m_s": (0.7, None), "cadence_steps_min": (110, 2)}},
    ]
    df = C.subject_changes(cohort(rows))
    assert one(df, measure="gait_speed_m_s")["verdict_null_reason"].startswith("no population declared")
    df = C.subject_changes(cohort([{**r, "population": "stroke"} for r in rows]))
    cad = one(df, measure="cadence_steps_min")
    assert cad["verdict"] is None and "no published threshold for cadence_steps_min" in cad["verdict_null_reason"]
    assert cad["change_ci_low"] < 10 < cad["change_ci_high"]  # the interval is there even without a threshold
    speed = one(df, measure="gait_speed_m_s")
    assert speed["verdict"] is None and "no confidence interval" in speed["verdict_null_reason"]
    assert speed["change_ci_low"] is None


def test_baseline_and_consecutive_in_session_order_with_averaged_videos():
    def tug(session: str, value: float) -> dict:
        return {
            "subject": "P2",
            "session": session,
            "population": "parkinson",
            "task": "tug",
            "values": {"tug_time_s": (value, 0.2)},
        }

    rows = [tug("S10", 10.0), tug("S2", 15.0), tug("S3", 12.0), tug("S3", 13.0)]  # S3 twice: averaged to 12.5
    df = C.subject_changes(cohort(rows)).filter(pl.col("measure") == "tug_time_s")
    assert [(r["session_from"], r["session_to"], r["comparison"]) for r in df.iter_rows(named=True)] == [
        ("S2", "S3", "consecutive"),
        ("S3", "S10", "consecutive"),
        ("S2", "S10", "baseline"),
    ]
    base = one(df, comparison="baseline")
    assert base["change"] == pytest.approx(-5.0) and base["threshold"] == 3.5  # Huang 2011: MDC 3.5 s
    assert base["verdict"] == "exceeds" and "Huang" in base["threshold_source"]
    first = one(df, session_to="S3")
    assert first["value_to"] == pytest.approx(12.5)
    assert first["verdict"] == "resolved by the sessions' intervals but below the MDC"


def test_a_relative_threshold_is_a_percentage_of_the_earlier_value_within_its_range():
    t = C.Threshold("tug_time_s", "x", "SRD", 20.0, True, 10.0, None, "test")
    assert t.amount(15.0) == pytest.approx(3.0) and t.applies(10.0) and not t.applies(9.9)


def test_one_session_gives_an_empty_table_with_the_contract_columns():
    from data_contracts import SCHEMAS

    df = C.subject_changes(cohort([{"subject": "P1", "session": "1", "values": {"gait_speed_m_s": (0.5, 0.02)}}]))
    assert df.height == 0 and df.columns == list(SCHEMAS["subject_changes"].columns)


def test_every_threshold_has_a_statistic_and_a_source():
    assert C.thresholds() and all(t.statistic and t.source and t.value > 0 for t in C.thresholds())


def test_contradicting_declarations_give_no_change_or_no_verdict_and_are_named():
    """Sessions that mix dates and ordinals have no order: no change. Two populations for one subject: no verdict.
    visit_problems names both (the cohort's visits_consistent check)."""
    from neuropose_assets.core.analysis.tasks import visit_problems

    speed = {"gait_speed_m_s": (0.5, 0.02)}
    rows = [
        {"subject": "P1", "session": "2026-03-01", "population": "stroke", "values": speed},
        {"subject": "P1", "session": "S2", "population": "stroke", "values": {"gait_speed_m_s": (0.8, 0.02)}},
        {"subject": "P2", "session": "1", "population": "stroke", "values": speed},
        {"subject": "P2", "session": "2", "population": "parkinson", "values": {"gait_speed_m_s": (0.8, 0.02)}},
        {"subject": "P3", "session": "1", "population": "stroke", "values": speed},
        {"subject": "P3", "session": "2", "population": "stroke", "values": {"gait_speed_m_s": (0.8, 0.02)}},
    ]
    df = C.subject_changes(cohort(rows))
    assert "P1" not in df["subject"].to_list()
    p2 = one(df, subject="P2")
    assert p2["verdict"] is None and p2["population"] is None and p2["change"] == pytest.approx(0.3)
    assert "population differs between videos: 'parkinson' (1 video), 'stroke' (1 video)" in p2["verdict_null_reason"]
    assert one(df, subject="P3")["verdict"] == "exceeds"  # the others are judged as before
    problems = visit_problems(cohort(rows))
    assert sorted(problems) == ["P1", "P2"]
    assert problems["P1"][0].startswith("mixed sessions: 2026-03-01, S2 mix dates and ordinals")
    old = cohort([{"subject": "P4", "session": "1", "population": "older_adult", "values": speed}])
    assert "a mistyped age" in visit_problems(old.with_columns(age_years=pl.lit(45.0)))["P4"][0]
