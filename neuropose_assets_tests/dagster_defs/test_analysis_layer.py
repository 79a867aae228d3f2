"""The task stages through Dagster, fast: synthetic features on disk (no video, no pose model) → task, events,
repetitions, outcomes, repetition DTW, cohort tables; the declared task drives the analysis and its data version."""

import re

import dagster as dg
import polars as pl
import pytest

from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
from neuropose_assets.core.io.storage import Layout, Registry
from neuropose_assets.core.io.tables import read_provenance, write_table
from neuropose_assets_tests import synthetic as S

TASK_SELECTION = ["task", "events", "repetitions", "outcomes", "repetition_dtw"]


@pytest.fixture
def world(tmp_path):
    from neuropose_assets.definitions import build_defs

    layout = Layout(tmp_path / "data")
    walk, _ = S.walk(fps=60.0)
    sts, _ = S.sit_to_stand(fps=60.0, reps=5)
    prov = {
        "source": {"partition": None, "cohort": "c", "sha256": "0" * 64},
        "configs": {"features": {"frame": "camera"}},
        "model": {"name": "synthetic", "variant": "-", "checksum": "0" * 64, "origin": "hip_midpoint"},
    }
    reg = Registry(layout)
    for key, feats in (("walk", walk), ("sts", sts)):
        write_table(feats, layout.asset_file("features", key), {**prov, "source": {**prov["source"], "partition": key}})
        reg.register(key, tmp_path / f"{key}.mp4", "c")
    defs = build_defs(str(layout.root))
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("videos", ["walk", "sts"])
        inst.add_dynamic_partitions("cohorts", ["c"])
        job = defs.resolve_job_def("per_video_job")

        def run(key: str, task: TaskSpec | None):
            reg.register(key, tmp_path / f"{key}.mp4", "c", task=TaskDeclaration(task, "test") if task else None)
            return job.execute_in_process(
                partition_key=key,
                instance=inst,
                raise_on_error=False,
                asset_selection=[dg.AssetKey(a) for a in TASK_SELECTION],
            )

        yield {"layout": layout, "run": run, "inst": inst, "defs": defs}


def _version(inst, key: str) -> str:
    rec = inst.get_latest_data_version_record(dg.AssetKey("task"), partition_key=key)
    return rec.asset_materialization.tags["dagster/data_version"]


def test_the_declared_task_drives_events_outcomes_and_the_data_version(world):
    layout, run, inst = world["layout"], world["run"], world["inst"]
    res = run("walk", TaskSpec(task="gait", camera_view="side"))
    assert res.success
    out = pl.read_parquet(layout.asset_file("outcomes", "walk"))
    assert out.filter(pl.col("measure") == "cadence_steps_min")["value"][0] == pytest.approx(109.1, abs=0.2)
    mats = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in res.get_asset_materialization_events()
    }
    assert mats["outcomes"]["cadence_steps_min"].value == pytest.approx(109.1, abs=0.2)  # charted across partitions
    assert mats["task"]["task"].value == "gait"
    assert read_provenance(layout.asset_file("events", "walk"))["task"]["spec"]["task"] == "gait"
    first = _version(inst, "walk")
    assert run("walk", TaskSpec(task="gait", camera_view="side")).success
    assert _version(inst, "walk") == first  # same declaration, same version: nothing downstream goes stale
    assert run("walk", TaskSpec(task="squat")).success
    assert _version(inst, "walk") != first  # another task: task-dependent assets are stale until re-run
    assert set(pl.read_parquet(layout.asset_file("outcomes", "walk"))["measure"]) >= {"depth_knee_flexion_deg"}


def test_undeclared_runs_generic_and_warns_and_the_cohort_tables_follow(world):
    layout, run, inst, defs = world["layout"], world["run"], world["inst"], world["defs"]
    res = run("sts", None)
    warn = {e.check_name: e for e in res.get_asset_check_evaluations()}["task_declared"]
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN and "protocol.yaml" in warn.description
    assert pl.read_parquet(layout.asset_file("task", "sts"))["task"][0] == "generic"
    assert run("sts", TaskSpec(task="sit_to_stand", expected_repetitions=4)).success
    found = {
        e.check_name: e
        for e in run("sts", TaskSpec(task="sit_to_stand", expected_repetitions=4)).get_asset_check_evaluations()
    }["repetitions_found"]
    assert not found.passed and "expects 4 repetition(s), found [5]" in found.description
    assert run("walk", TaskSpec(task="gait")).success
    cohort = defs.resolve_job_def("cohort_job").execute_in_process(partition_key="c", instance=inst)
    assert cohort.success
    table = pl.read_parquet(layout.asset_file("cohort_outcomes", "c"))
    assert table.select("partition", "task").rows() == [("sts", "sit_to_stand"), ("walk", "gait")]
    assert table.filter(pl.col("partition") == "sts")["five_sts_time_s"][0] > 10
    assert table.filter(pl.col("partition") == "walk")["five_sts_time_s"][0] is None  # not applicable: null
    dtw = pl.read_parquet(layout.asset_file("cohort_dtw", "c"))
    assert set(dtw["task"]) == {"sit_to_stand", "gait"}
    assert dtw.filter(pl.col("a") != pl.col("b")).height == 0  # one video per task: nothing of another task compared
    assert set(dtw.filter(pl.col("a") == "walk")["unit"]) == {"all@left", "all@right"}  # mean cycle per foot


def test_data_problems_say_what_is_missing_not_that_the_config_is_invalid(world):
    from neuropose_assets.service.runs import failure_message

    run, inst, defs = world["run"], world["inst"], world["defs"]
    res = run("walk", TaskSpec(task="generic", segmentation={"signal": {"column": "left_knee_speed_deg"}}))
    assert not res.success
    msg = failure_message(res)
    assert "generic analysis needs" in msg and "left_knee_speed_deg" in msg and "config is invalid" not in msg
    assert run("walk", TaskSpec(task="gait")).success
    bad = defs.resolve_job_def("per_video_job").execute_in_process(
        partition_key="walk",
        instance=inst,
        raise_on_error=False,
        asset_selection=[dg.AssetKey("repetition_dtw")],
        run_config={"ops": {"analysis": {"config": {"repetition_dtw": {"columns": ["no_such_angle_deg"]}}}}},
    )
    assert not bad.success and "repetition DTW: features has no column(s) ['no_such_angle_deg']" in failure_message(bad)


def test_a_wrong_view_or_task_fails_its_check_and_the_report_lists_the_same_flags(world):
    from neuropose_assets.core.analysis import quality

    layout, run = world["layout"], world["run"]
    res = run("walk", TaskSpec(task="gait", camera_view="front"))  # a side-view walk declared front
    evals = {e.check_name: e for e in res.get_asset_check_evaluations()}
    view = evals["camera_view_consistent"]
    assert not view.passed and view.severity == dg.AssetCheckSeverity.ERROR
    assert "declared camera_view 'front'" in view.description and "side" in view.description
    out = pl.read_parquet(layout.asset_file("outcomes", "walk"))
    assert out.filter(pl.col("measure") == "gait_speed_m_s")["value"][0] is None
    # every check records its own duration; `run`/`demo` count them apart from Dagster's overhead
    from neuropose_assets.service.runs import checks_seconds

    took = [e.metadata["check_s"].value for e in evals.values()]
    assert len(took) > 10 and all(t >= 0 for t in took) and sum(took) > 0
    assert checks_seconds(res) == pytest.approx(sum(took))
    # the report's flags are the checks' own (one source): same checks, same messages
    failed = {n: e.description for n, e in evals.items() if not e.passed}
    flagged = {c.name: " ".join(f.message for f in fl) for c, _, fl in quality.evaluate(layout, "walk") if fl}
    assert flagged.items() <= failed.items() and "camera_view_consistent" in flagged
    res = run("walk", TaskSpec(task="sit_to_stand"))
    task = {e.check_name: e for e in res.get_asset_check_evaluations()}["task_matches_motion"]
    assert not task.passed and task.severity == dg.AssetCheckSeverity.WARN and "looks like gait" in task.description
    out = pl.read_parquet(layout.asset_file("outcomes", "walk"))
    assert out.filter(pl.col("measure") == "repetitions")["value"][0] is None


def test_the_cli_shows_outcomes_a_clinician_can_read(world, capsys, tmp_path):
    from neuropose_assets.cli import main

    layout, run, inst, defs = world["layout"], world["run"], world["inst"], world["defs"]
    assert run("walk", TaskSpec(task="gait")).success and run("sts", TaskSpec(task="sit_to_stand")).success
    assert defs.resolve_job_def("cohort_job").execute_in_process(partition_key="c", instance=inst).success
    root = ["--data-root", str(layout.root)]
    capsys.readouterr()
    assert main(["outcomes", "c", *root]) == 0
    out = capsys.readouterr().out
    assert "cohort 'c': 2 videos" in out and "five_sts_time [s]" in out and "cadence [steps/min]" in out
    sts_row = next(line for line in out.splitlines() if line.startswith("sts "))
    assert "  5  " in sts_row and ".000" not in sts_row  # a count as an integer, times at 0.01 s
    csv = tmp_path / "c.csv"
    assert main(["outcomes", "c", "-o", str(csv), *root]) == 0
    table = pl.read_csv(csv)
    assert table.filter(pl.col("partition") == "sts")["repetitions"][0] == 5 and table["repetitions"].dtype == pl.Int64
    times = table["five_sts_time_s"].drop_nulls().to_list()
    assert times and all(round(t, 2) == t for t in times)
    assert "five_sts_time_s_null_reason" in table.columns  # null for the walk: its reason beside it
    assert table.filter(pl.col("partition") == "walk")["five_sts_time_s_null_reason"][0]
    assert main(["list", *root]) == 0
    listing = capsys.readouterr().out
    assert "1 cohort, 2 videos" in listing and "sit_to_stand" in listing and "analysed" in listing
    assert main(["report", "stss", *root]) == 2
    assert "did you mean 'sts'?" in capsys.readouterr().err


def test_the_outcomes_read_in_the_dagster_ui_as_a_table_with_the_quality_verdict(world):
    run = world["run"]
    res = run("walk", TaskSpec(task="gait", camera_view="front"))  # contradicted view: an ERROR flag
    meta = next(
        e.event_specific_data.materialization.metadata
        for e in res.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "outcomes"
    )
    table = meta["outcomes"].value
    assert table.startswith("| measure | value | 95 % CI | unit | n | note |")
    assert re.search(r"\| cadence_steps_min \| 109\.1 \| 10\d\.\d–1\d\d\.\d \| steps/min \|", table)  # with its CI
    assert "| gait_speed_m_s | — |  | m/s |" in table and "declared camera_view 'front'" in table
    assert "**ERROR**" in meta["quality"].value and "camera_view" in meta["quality"].value
    floats = {k for k, v in meta.items() if isinstance(v, dg.FloatMetadataValue)}
    assert floats and all(
        k.endswith(("_s", "_pct", "_m", "_m_s", "_deg", "_steps_min", "repetitions", "steps")) for k in floats
    ), floats  # only outcomes are charted
    assert "compute_s" in meta["internal"].value
    ok = run("walk", TaskSpec(task="gait", camera_view="side"))
    meta = next(
        e.event_specific_data.materialization.metadata
        for e in ok.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "outcomes"
    )
    assert meta["quality"].value == "no quality flag"


def test_subject_and_session_reach_the_task_and_cohort_tables_and_a_change_makes_the_outcomes_stale(world):
    from neuropose_assets.core.analysis.tasks import Visit

    layout, inst, defs, tmp = world["layout"], world["inst"], world["defs"], world["layout"].root.parent
    reg = Registry(layout)
    job = defs.resolve_job_def("per_video_job")

    def run(visit: Visit):
        decl = TaskDeclaration(TaskSpec(task="gait", camera_view="side"), "test").with_visit(visit)
        reg.register("walk", tmp / "walk.mp4", "c", task=decl)
        sel = [dg.AssetKey(a) for a in TASK_SELECTION]
        res = job.execute_in_process(partition_key="walk", instance=inst, asset_selection=sel)
        assert res.success
        return res

    run(Visit(subject="P017", session="2026-03-01", info={"age_years": 67, "sex": "female", "population": "stroke"}))
    task = pl.read_parquet(layout.asset_file("task", "walk")).row(0, named=True)
    assert (task["subject"], task["session"], task["age_years"], task["sex"], task["population"]) == (
        "P017",
        "2026-03-01",
        67.0,
        "female",
        "stroke",
    )
    first = _version(inst, "walk")
    res = run(
        Visit(subject="P017", session="2026-06-01", info={"age_years": 67, "sex": "female", "population": "stroke"})
    )
    meta = {
        e.asset_key.to_user_string(): e.event_specific_data.materialization.metadata
        for e in res.get_asset_materialization_events()
    }
    assert meta["outcomes"]["subject_session"].value == "P017 / 2026-06-01"  # shown in the UI
    assert _version(inst, "walk") != first  # another session: the task-dependent assets were stale
    assert defs.resolve_job_def("cohort_job").execute_in_process(partition_key="c", instance=inst).success
    cohort = pl.read_parquet(layout.asset_file("cohort_outcomes", "c"))
    row = cohort.filter(pl.col("partition") == "walk").row(0, named=True)
    assert (row["subject"], row["session"], row["population"]) == ("P017", "2026-06-01", "stroke")
    assert row["cadence_steps_min_ci_low"] < row["cadence_steps_min"] < row["cadence_steps_min_ci_high"]
    assert cohort.columns[:9] == [
        "partition",
        "task",
        "declared",
        "subject",
        "session",
        "age_years",
        "sex",
        "population",
        "group",
    ]


def test_two_sessions_of_a_subject_give_subject_changes_with_a_verdict(world):
    from neuropose_assets.core.analysis.tasks import Visit

    layout, inst, defs, tmp = world["layout"], world["inst"], world["defs"], world["layout"].root.parent
    src = layout.asset_file("features", "walk")  # the same walk as a second session: no change
    prov = read_provenance(src)
    write_table(
        pl.read_parquet(src),
        layout.asset_file("features", "walk_b"),
        {**prov, "source": {**prov["source"], "partition": "walk_b"}},
    )  # noqa: E501
    inst.add_dynamic_partitions("videos", ["walk_b"])
    reg, job = Registry(layout), defs.resolve_job_def("per_video_job")
    for key, session in (("walk", "2026-01-10"), ("walk_b", "2026-04-10")):
        visit = Visit(subject="P1", session=session, info={"population": "stroke"})
        reg.register(
            key,
            tmp / f"{key}.mp4",
            "c",
            task=TaskDeclaration(TaskSpec(task="gait", camera_view="side"), "t").with_visit(visit),
        )  # noqa: E501
        sel = [dg.AssetKey(a) for a in TASK_SELECTION]
        assert job.execute_in_process(partition_key=key, instance=inst, asset_selection=sel).success
    res = defs.resolve_job_def("cohort_job").execute_in_process(partition_key="c", instance=inst)
    assert res.success
    changes = pl.read_parquet(layout.asset_file("subject_changes", "c"))
    speed = changes.filter(pl.col("measure") == "gait_speed_m_s").row(0, named=True)
    assert (speed["session_from"], speed["session_to"], speed["change"]) == ("2026-01-10", "2026-04-10", 0.0)
    assert speed["verdict"] == "within" and speed["threshold_statistic"] == "MDC"
    cadence = changes.filter(pl.col("measure") == "cadence_steps_min").row(0, named=True)
    assert cadence["verdict"] is None and "no published threshold" in cadence["verdict_null_reason"]
    checks = {e.check_name: e.passed for e in res.get_asset_check_evaluations()}
    assert checks["subject_changes_contract"]
    dtw = pl.read_parquet(layout.asset_file("cohort_dtw", "c"))  # every cohort table says whose videos it compares
    assert dtw.height and set(dtw["subject_a"]) == {"P1"} and set(dtw["session_b"]) <= {"2026-01-10", "2026-04-10"}
    page = (layout.reports / "subjects" / "c" / "P1.html").read_text()  # the subject report
    assert "Subject P1" in page and "sessions side by side" in page and "2026-04-10 (walk_b)" in page
    assert "<img" in page and "within" in page and "Hosoi" in page
    assert checks["visits_consistent"]
    # the second session renamed as an ordinal: dates and ordinals have no order, so no change, and the check says so
    visit = Visit(subject="P1", session="S2", info={"population": "stroke"})
    reg.register(
        "walk_b",
        tmp / "walk_b.mp4",
        "c",
        task=TaskDeclaration(TaskSpec(task="gait", camera_view="side"), "t").with_visit(visit),
    )
    assert job.execute_in_process(partition_key="walk_b", instance=inst, asset_selection=sel).success
    res = defs.resolve_job_def("cohort_job").execute_in_process(partition_key="c", instance=inst)
    assert res.success and pl.read_parquet(layout.asset_file("subject_changes", "c")).height == 0
    warned = [e for e in res.get_asset_check_evaluations() if e.check_name == "visits_consistent"]
    assert not warned[0].passed and warned[0].severity == dg.AssetCheckSeverity.WARN
    assert "subject P1: mixed sessions: 2026-01-10, S2 mix dates and ordinals" in warned[0].description
