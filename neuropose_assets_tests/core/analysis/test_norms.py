"""Norms and cut-offs on tabulated values: the published boundaries, by age (and sex), with their sources."""

import polars as pl
import pytest

from neuropose_assets.core.analysis import norms as N


def cohort(**videos) -> pl.DataFrame:
    rows = []
    for key, (age, sex, population, values) in videos.items():
        rows.append(
            {"partition": key, "subject": key.upper(), "age_years": age, "sex": sex, "population": population, **values}
        )  # noqa: E501
    return pl.DataFrame(rows)


@pytest.mark.parametrize(
    "age, tug, result",
    [
        (65, 9.5, "worse than average"),  # 60-69: 8.1 (7.1-9.0) s, Bohannon 2006
        (65, 8.0, "within the average"),
        (65, 6.9, "better than average"),
        (75, 9.5, "within the average"),  # 70-79: 9.2 (8.2-10.2) s
        (85, 13.0, "worse than average"),  # 80-99: 11.3 (10.0-12.7) s
    ],
)
def test_tug_against_bohannon_2006_by_age(age, tug, result):
    df = N.normative_comparison(cohort(a=(age, "female", None, {"tug_time_s": tug})))
    row = df.filter(pl.col("kind") == "norm").row(0, named=True)
    assert row["result"] == result and "Bohannon" in row["source"]
    assert row["pct_of_reference"] == pytest.approx(100 * tug / row["reference"])


def test_five_sts_boundaries_and_the_fall_risk_cutoff():
    df = N.normative_comparison(cohort(a=(72, "male", None, {"five_sts_time_s": 15.2})))
    norm = df.filter(pl.col("kind") == "norm").row(0, named=True)
    assert (norm["boundary"], norm["result"], norm["reference"]) == (12.6, "worse than average", None)
    cut = df.filter(pl.col("kind") == "cutoff").row(0, named=True)
    assert cut["result"].startswith(">= 15: raised risk of recurrent falls") and "Buatois" in cut["source"]
    pd = N.normative_comparison(cohort(a=(72, "male", "parkinson", {"five_sts_time_s": 15.2})))
    assert pd.filter(pl.col("kind") == "cutoff").height == 2  # the Parkinson's cut-off applies too, not met
    assert "not > 16" in pd.filter(pl.col("kind") == "cutoff")["result"].to_list()


def test_the_tug_fall_risk_cutoff_of_13_5_s_with_its_pooled_accuracy():
    df = N.normative_comparison(
        cohort(a=(None, None, None, {"tug_time_s": 13.5}), b=(None, None, None, {"tug_time_s": 13.4}))
    )
    cuts = {r["partition"]: r for r in df.filter(pl.col("kind") == "cutoff").iter_rows(named=True)}
    assert cuts["a"]["result"].startswith(">= 13.5: raised fall risk") and "Shumway-Cook" in cuts["a"]["source"]
    assert "not >= 13.5" in cuts["b"]["result"] and "Barry" in cuts["b"]["source"]


def test_no_age_or_an_age_outside_the_norms_gives_the_reason():
    df = N.normative_comparison(
        cohort(a=(None, None, None, {"tug_time_s": 9.0}), b=(40, None, None, {"tug_time_s": 9.0}))
    )
    norms = df.filter(pl.col("kind") == "norm")  # the TUG cut-off applies at any age: its rows have a result
    reasons = dict(zip(norms["partition"], norms["null_reason"], strict=True))
    assert reasons["a"].startswith("no age declared") and reasons["b"].startswith("no published norm for age 40")
    assert norms["result"].is_null().all() and df.filter(pl.col("kind") == "cutoff")["result"].is_not_null().all()


def test_the_data_files_have_sources_and_consistent_numbers():
    assert all(n.source and n.age_min <= n.age_max for n in N.norms())
    assert all(n.low <= n.mean <= n.high for n in N.norms() if n.mean is not None)
    assert all(c.source and c.op in (">=", ">", "<=", "<") for c in N.cutoffs())
