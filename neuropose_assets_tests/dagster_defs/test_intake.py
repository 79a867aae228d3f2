"""Intake scanning (pure) and the intake / cohort sensors (Dagster sensor contexts, no daemon)."""

import os
import stat
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from neuropose_assets.core.analysis.tasks import TaskSpec
from neuropose_assets.core.io.intake import Pseudonymiser, derive_key, scan_intake
from neuropose_assets.core.io.storage import Layout, Registry
from neuropose_assets.dagster_defs.sensors import evaluate_intake, load_intake_state, report_tag


def put(root: Path, rel: str, data: bytes = b"video", age_s: float = 120.0) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    t = time.time() - age_s
    os.utime(p, (t, t))
    return p


def test_scan_ignores_hidden_and_temporary_files_and_reports_the_rest(tmp_path):
    for rel in (
        "stroke/p01/walk.mp4",
        "stroke/.hidden.mp4",
        "stroke/copy.mp4.part",
        "stroke/~$lock.mp4",
        "stroke/.incoming/x.mp4",
        "stroke/notes.txt",
        "loose.mp4",
        "parkinson/Ünïcode trial 2.MOV",
    ):
        put(tmp_path, rel)
    first = scan_intake(tmp_path, now=time.time(), stable_seconds=10)
    assert first.ready == [] and set(first.pending) == {"stroke/p01/walk.mp4", "parkinson/Ünïcode trial 2.MOV"}
    assert first.unsupported == ["stroke/notes.txt"] and first.outside_cohort == ["loose.mp4"]
    second = scan_intake(tmp_path, previous=first.pending, now=time.time(), stable_seconds=10)
    assert {(f.key, f.cohort) for f in second.ready} == {
        ("stroke-p01-walk", "stroke"),
        ("parkinson-unicode_trial_2", "parkinson"),
    }


def test_a_file_still_being_written_is_not_ready(tmp_path):
    p = put(tmp_path, "c/a.mp4", age_s=0)
    s1 = scan_intake(tmp_path, now=time.time(), stable_seconds=10)
    s2 = scan_intake(tmp_path, previous=s1.pending, now=time.time(), stable_seconds=10)
    assert s2.ready == []  # too recent
    with open(p, "ab") as f:
        f.write(b"more")
    s3 = scan_intake(tmp_path, previous=s2.pending, now=time.time() + 60, stable_seconds=10)
    assert s3.ready == []  # size changed since the last scan
    s4 = scan_intake(tmp_path, previous=s3.pending, now=time.time() + 60, stable_seconds=10)
    assert [f.rel for f in s4.ready] == ["c/a.mp4"]


def test_a_complete_file_is_ready_in_one_tick_a_growing_one_is_not(tmp_path):
    """scan_settled takes the second look itself when the wait is short: a file moved in complete (old mtime) is ready
    after one call; one still growing between the two looks, or too young to be stable soon, stays pending."""
    from neuropose_assets.core.io.intake import SETTLE_GAP_S, scan_settled

    put(tmp_path, "c/done.mp4")
    growing = put(tmp_path, "c/growing.mp4")
    put(tmp_path, "c/young.mp4", age_s=0)
    waits = []

    def sleep(s):  # the copy of growing.mp4 goes on while the tick waits
        waits.append(s)
        with open(growing, "ab") as f:
            f.write(b"more")
        t = time.time() - 120
        os.utime(growing, (t, t))

    scan = scan_settled(tmp_path, stable_seconds=10, settle_within_s=5, sleep=sleep)
    assert [f.rel for f in scan.ready] == ["c/done.mp4"] and waits == [SETTLE_GAP_S]
    assert set(scan.pending) == {"c/growing.mp4", "c/young.mp4"}  # young: 10 s to go, more than 5: next tick
    assert scan_settled(tmp_path, stable_seconds=10, settle_within_s=0, sleep=sleep).ready == []  # off: two ticks
    assert waits == [SETTLE_GAP_S]


def test_collisions_are_reported_never_merged(tmp_path):
    put(tmp_path, "c/p1 s2/walk.mp4")
    put(tmp_path, "c/p1_s2/walk.mov")
    put(tmp_path, "c/other.mp4")
    prev = scan_intake(tmp_path, now=time.time(), stable_seconds=0).pending
    s = scan_intake(tmp_path, previous=prev, now=time.time(), stable_seconds=0)
    assert s.collisions == {"c-p1_s2-walk": ["c/p1 s2/walk.mp4", "c/p1_s2/walk.mov"]}
    assert [f.key for f in s.ready] == ["c-other"]


def test_pseudonymous_keys_hide_names_and_keep_a_private_manifest(tmp_path):
    ps = Pseudonymiser(tmp_path / "private")
    key = derive_key("stroke", "stroke/Maria Müller/walk.mp4", ps)
    assert key.startswith("stroke-") and "maria" not in key and len(key) == len("stroke-") + 12
    assert derive_key("stroke", "stroke/Maria Müller/walk.mp4", ps) == key
    ps.save()
    assert Pseudonymiser(tmp_path / "private").lookup(key) == "stroke/Maria Müller/walk.mp4"
    for f in ("pseudonym.key", "pseudonyms.json"):
        assert stat.S_IMODE((tmp_path / "private" / f).stat().st_mode) == 0o600


@pytest.fixture
def intake(tmp_path, monkeypatch):
    layout = Layout(tmp_path / "data")
    root = tmp_path / "intake"
    root.mkdir()
    monkeypatch.setenv("NEUROPOSE_INTAKE", str(root))
    with dg.instance_for_test() as instance:
        state = {"cursor": None}

        def tick(pseudonymise: bool = False):
            ctx = dg.build_sensor_context(instance=instance, cursor=state["cursor"])
            res = evaluate_intake(ctx, layout, stable_seconds=0, pseudonymise=pseudonymise)
            if isinstance(res, dg.SensorResult):
                state["cursor"] = res.cursor
                for req in res.dynamic_partitions_requests:  # what the daemon would do
                    instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
                return res.run_requests
            state["cursor"] = ctx.cursor
            return []

        yield {"root": root, "layout": layout, "instance": instance, "tick": tick, "state": state}


def test_sensor_registers_runs_once_and_reruns_only_changed_content(intake):
    root, tick, inst, layout = intake["root"], intake["tick"], intake["instance"], intake["layout"]
    put(root, "stroke/p01/walk.mp4", b"A" * 100)
    put(root, "stroke/p02/walk.mp4", b"B" * 100)
    put(root, "stroke/readme.txt")
    assert tick() == []  # first sight: settling
    runs = tick()
    assert sorted(r.partition_key for r in runs) == ["stroke-p01-walk", "stroke-p02-walk"]
    assert all(r.tags["cohort"] == "stroke" and r.run_key.startswith(r.partition_key + ":") for r in runs)
    assert set(inst.get_dynamic_partitions("videos")) == {"stroke-p01-walk", "stroke-p02-walk"}
    assert inst.get_dynamic_partitions("cohorts") == ["stroke"]
    assert Registry(layout).get("stroke-p01-walk").source == str(root / "stroke/p01/walk.mp4")
    assert tick() == [] and tick() == []  # unchanged: never again
    assert report_tag("unsupported:stroke/readme.txt") in load_intake_state(layout)["reported"]

    # a changed recording runs again, with a new run key
    put(root, "stroke/p01/walk.mp4", b"C" * 120)
    tick()
    rerun = tick()
    assert [r.partition_key for r in rerun] == ["stroke-p01-walk"] and rerun[0].run_key != runs[0].run_key


def test_redelivery_of_identical_content_is_not_rerun(intake):
    import polars as pl

    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    p = put(root, "c/a.mp4", b"same bytes")
    tick()
    assert len(tick()) == 1
    # what raw_video would have recorded
    from hashlib import sha256

    layout.asset_file("raw_video", "c-a").parent.mkdir(parents=True)
    pl.DataFrame({"sha256": [sha256(b"same bytes").hexdigest()]}).write_parquet(layout.asset_file("raw_video", "c-a"))
    p.unlink()
    put(root, "c/a.mp4", b"same bytes", age_s=30)  # copied again: new mtime, same content
    tick()
    assert tick() == []


def test_removed_source_is_reported_and_nothing_is_deleted(intake):
    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    p = put(root, "c/a.mp4")
    tick()
    tick()
    p.unlink()
    reported = len(load_intake_state(layout)["reported"])
    assert tick() == []
    assert len(load_intake_state(layout)["reported"]) == reported + 1  # the removal, once
    assert tick() == [] and len(load_intake_state(layout)["reported"]) == reported + 1
    assert Registry(layout).get("c-a").source.endswith("c/a.mp4")
    assert "c-a" in intake["instance"].get_dynamic_partitions("videos")


def test_pseudonymised_sensor_keys(intake):
    put(intake["root"], "stroke/Jane Doe/walk.mp4")
    intake["tick"](pseudonymise=True)
    (run,) = intake["tick"](pseudonymise=True)
    assert "jane" not in run.partition_key and Registry(intake["layout"]).get(run.partition_key).pseudonymous


def test_cohort_sensor_coalesces_a_burst_per_cohort(tmp_path):
    from neuropose_assets.definitions import build_defs

    layout = Layout(tmp_path / "data")
    reg = Registry(layout)
    for key, cohort in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        reg.register(key, tmp_path / f"{key}.mp4", cohort)
    defs = build_defs(str(layout.root))
    sensor = defs.resolve_sensor_def("cohort_sensor")
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("videos", ["a1", "a2", "b1"])
        for key in ("a1", "a2", "b1"):
            inst.report_runless_asset_event(dg.AssetMaterialization("outcomes", partition=key))
        res = sensor(dg.build_sensor_context(instance=inst, resources=defs.resources))
        assert sorted(r.partition_key for r in res.run_requests) == ["a", "b"]
        again = sensor(dg.build_sensor_context(instance=inst, cursor=res.cursor, resources=defs.resources))
        assert isinstance(again, dg.SkipReason)


def test_a_cohort_table_begun_before_new_outcomes_is_not_up_to_date(tmp_path):
    """The race a burst exposed: a cohort run that started before one more video's outcomes were written, and
    finished after, has a newer table that lacks that video — the cohort sensor must run again, not skip."""
    from neuropose_assets.dagster_defs.sensors import up_to_date

    def outcomes_record(inst, key):
        return inst.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("outcomes"), asset_partitions=[key]), limit=1
        ).records[0]

    @dg.asset(name="cohort_outcomes", partitions_def=dg.StaticPartitionsDefinition(["a"]))
    def table(context: dg.AssetExecutionContext) -> None:
        if context.run.tags.get("late"):  # one more video's outcomes arrive while the table is being built
            context.instance.report_runless_asset_event(dg.AssetMaterialization("outcomes", partition="a2"))

    with dg.instance_for_test() as inst:
        inst.report_runless_asset_event(dg.AssetMaterialization("outcomes", partition="a1"))
        first = outcomes_record(inst, "a1")
        assert not up_to_date(inst, "cohort_outcomes", "a", first)  # no table yet
        assert dg.materialize([table], instance=inst, partition_key="a").success
        assert up_to_date(inst, "cohort_outcomes", "a", first)  # begun after a1's outcomes: it read them
        assert dg.materialize([table], instance=inst, partition_key="a", tags={"late": "1"}).success
        late = outcomes_record(inst, "a2")
        newest = inst.fetch_materializations(dg.AssetKey("cohort_outcomes"), limit=1, ascending=False).records[0]
        assert newest.storage_id > late.storage_id  # newer by storage id ...
        assert not up_to_date(inst, "cohort_outcomes", "a", late)  # ... but begun before a2's outcomes: run again


def test_cli_ingest_then_backfill_submits_a_dagster_backfill(tmp_path, monkeypatch):
    import zipfile

    from neuropose_assets.cli import main
    from neuropose_assets.service.backfill import backfill_partitions

    monkeypatch.setenv("NEUROPOSE_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.delenv("NEUROPOSE_INTAKE", raising=False)
    archive = tmp_path / "delivery.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("stroke/p01/walk.mp4", b"v1")
        zf.writestr("stroke/p02/walk.mp4", b"v2")
        zf.writestr("stroke/notes.txt", b"n")
    assert main(["ingest", str(archive), "--task", "sit_to_stand", "--param", "expected_repetitions=5"]) == 0
    intake = tmp_path / "data" / "intake"
    from neuropose_assets.core.analysis.tasks import load_protocol

    protocol = load_protocol(intake / "stroke" / "protocol.yaml")  # the placed files are declared, nothing else
    assert protocol.resolve("p01/walk.mp4").spec == TaskSpec(task="sit_to_stand", expected_repetitions=5)
    assert not protocol.resolve("p03/walk.mp4").declared
    assert sorted(p.relative_to(intake).as_posix() for p in intake.rglob("*.mp4")) == [
        "stroke/p01/walk.mp4",
        "stroke/p02/walk.mp4",
    ]
    assert main(["ingest", str(archive)]) == 2  # everything collides now; nothing changes
    layout = Layout(tmp_path / "data")
    reg = Registry(layout)
    for p in sorted(intake.rglob("*.mp4")):
        reg.register(f"stroke-{p.parent.name}-walk", p, "stroke")
    from neuropose_assets.dagster_defs.checks import PER_VIDEO_TABLES

    for key in ("stroke-p01-walk", "stroke-p02-walk"):
        for asset in PER_VIDEO_TABLES:
            layout.asset_file(asset, key).parent.mkdir(parents=True, exist_ok=True)
            layout.asset_file(asset, key).write_bytes(b"done")
    layout.asset_file("repetition_dtw", "stroke-p02-walk").unlink()  # any per-video table missing counts
    assert backfill_partitions(layout, "stroke", missing_only=True) == ["stroke-p02-walk"]
    assert main(["backfill", "stroke", "--missing-only"]) == 0
    import dagster as dg

    inst = dg.DagsterInstance.get()  # the CLI pointed DAGSTER_HOME at <data root>/dagster_home
    (backfill,) = inst.get_backfills()
    # an asset backfill (it waits for retried runs; a CLI job backfill is "completed" at once and never retried)
    assert backfill.is_asset_backfill and backfill.tags["cohort"] == "stroke"
    assert {k.to_user_string() for k in backfill.asset_selection} >= {"raw_video", "poses", "outcomes"}
    subset = backfill.asset_backfill_data.target_subset
    assert {pk.partition_key for pk in subset.iterate_asset_partitions()} == {"stroke-p02-walk"}


def test_protocol_declares_tasks_and_an_edit_reruns_only_the_task_assets(intake):
    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    put(root, "stroke/p01/walk.mp4", b"A" * 100)
    put(root, "stroke/p01/sts.mp4", b"B" * 100)
    put(root, "stroke/p01/arm.mp4", b"C" * 100)
    (root / "stroke" / "protocol.yaml").write_text(
        'task: gait\nvideos:\n  "*sts*": {task: sit_to_stand, expected_repetitions: 5}\n'
    )
    tick()
    runs = {r.partition_key: r for r in tick()}
    assert set(runs) == {"stroke-p01-walk", "stroke-p01-sts", "stroke-p01-arm"}  # protocol.yaml is no video
    assert all(r.asset_selection is None for r in runs.values())  # the whole chain
    reg = Registry(layout)
    assert reg.get("stroke-p01-sts").declaration.spec == TaskSpec(task="sit_to_stand", expected_repetitions=5)
    assert reg.get("stroke-p01-walk").declaration.spec.task == "gait"
    assert report_tag("unsupported:stroke/protocol.yaml") not in load_intake_state(layout)["reported"]

    # an edit of the protocol: only the video whose task changed re-runs, and only its task-dependent assets
    (root / "stroke" / "protocol.yaml").write_text(
        'task: gait\nvideos:\n  "*sts*": {task: sit_to_stand, expected_repetitions: 5}\n'
        '  "*arm*": {task: arm_raise, side: left}\n'
    )
    (rerun,) = tick()
    assert rerun.partition_key == "stroke-p01-arm" and rerun.run_key != runs["stroke-p01-arm"].run_key
    assert {k.to_user_string() for k in rerun.asset_selection} == {
        "task",
        "kinematics",
        "features",
        "events",
        "repetitions",
        "outcomes",
        "repetition_dtw",
    }
    assert reg.get("stroke-p01-arm").declaration.spec.side == "left"
    assert tick() == []


def test_a_broken_protocol_holds_its_cohort_and_is_reported_once(intake):
    root, tick = intake["root"], intake["tick"]
    put(root, "stroke/p01/walk.mp4", b"A" * 100)
    put(root, "other/p01/walk.mp4", b"B" * 100)
    (root / "stroke" / "protocol.yaml").write_text("task: jogging\n")
    tick()
    assert [r.partition_key for r in tick()] == ["other-p01-walk"]  # the other cohort is not held up
    before = len(load_intake_state(intake["layout"])["reported"])
    assert tick() == [] and len(load_intake_state(intake["layout"])["reported"]) == before  # reported once
    (root / "stroke" / "protocol.yaml").write_text("task: gait\n")
    assert [r.partition_key for r in tick()] == ["stroke-p01-walk"]


def test_video_without_a_protocol_is_undeclared(intake):
    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    put(root, "c/p/walk.mp4", b"A" * 10)
    tick()
    (run,) = tick()
    assert run.tags["neuropose/task"] == "generic"
    assert not Registry(layout).get("c-p-walk").declaration.declared


def test_the_sensor_survives_any_file_system_state_and_reports_each_problem_once(intake, tmp_path, monkeypatch):
    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    put(root, "stroke/p01/walk.mp4", b"A" * 10)
    (root / "stroke" / "loop").mkdir()
    (root / "stroke" / "loop" / "again").symlink_to(root / "stroke" / "loop")  # a link loop
    (root / "stroke" / "dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (root / "stroke" / "passwd.mp4").symlink_to("/etc/passwd")  # into system files
    outside = put(tmp_path / "elsewhere", "video.mp4", b"B" * 10)
    (root / "stroke" / "linked.mp4").symlink_to(outside)
    put(root, "stroke/!!!.mp4", b"C")
    put(root, "stroke/~walk.mp4", b"D")
    os.makedirs(os.fsencode(root / "stroke" / "p02"))
    bad = os.path.join(os.fsencode(root / "stroke" / "p02"), b"walk_\xff.mp4")  # not valid UTF-8
    with open(bad, "wb") as f:
        f.write(b"E")
    os.utime(bad, (time.time() - 120, time.time() - 120))
    (root / "stroke" / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path):  # as root, chmod 000 does not stop us reading: simulate an unreadable folder
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    tick()
    runs = tick()
    assert [r.partition_key for r in runs] == ["stroke-p01-walk"]  # only the real video, nothing behind a link
    reported = load_intake_state(layout)["reported"]
    for tag in (
        "link:stroke/dangling.mp4",
        "link:stroke/passwd.mp4",
        "link:stroke/linked.mp4",
        "link:stroke/loop/again",
        "name:stroke/!!!.mp4",
        "ignored:stroke/~walk.mp4",
        "unreadable:stroke/locked:Permission denied",
    ):
        assert report_tag(tag) in reported, tag
    assert sum(1 for _ in reported) == 8  # the seven above and the undecodable name
    assert tick() == [] and len(load_intake_state(layout)["reported"]) == 8  # once, not every tick
    assert not Registry(layout).all()[0].source.endswith("passwd")


def test_links_into_an_allowed_folder_are_followed(intake, tmp_path, monkeypatch):
    root, tick = intake["root"], intake["tick"]
    share = tmp_path / "share"
    video = put(share, "walk.mp4", b"A" * 10)
    (root / "stroke").mkdir()
    (root / "stroke" / "walk.mp4").symlink_to(video)
    (root / "stroke" / "passwd.mp4").symlink_to("/etc/passwd")
    monkeypatch.setenv("NEUROPOSE_INTAKE_LINK_ROOTS", str(share))
    tick()
    assert [r.partition_key for r in tick()] == ["stroke-walk"]


def test_a_session_date_moves_by_a_keyed_nonzero_number_of_days_per_subject(tmp_path):
    from neuropose_assets.core.analysis.tasks import Visit
    from neuropose_assets.core.io.intake import Pseudonymiser

    pseud = Pseudonymiser(tmp_path / "private")
    shifts = [pseud.shift_days(f"P{i}") for i in range(400)]
    assert 0 not in shifts and max(map(abs, shifts)) <= Pseudonymiser.MAX_SHIFT_DAYS and len(set(shifts)) > 150
    assert Pseudonymiser(tmp_path / "private").shift_days("P7") == shifts[7]  # the same key, the same shift
    other = Pseudonymiser(tmp_path / "other")  # another secret, other shifts
    assert sum(other.shift_days(f"P{i}") != shifts[i] for i in range(20)) >= 18
    visit = Visit(subject="P7", session="2026-02-27")
    moved = pseud.private_visit(visit, alias_subject=False)
    assert moved.subject == "P7" and date.fromisoformat(moved.session) - date(2026, 2, 27) == timedelta(shifts[7])
    assert pseud.private_visit(Visit(subject="P7", session="S2")).session == "S2"  # an ordinal is kept


def test_command_line_videos_get_pseudonymous_keys_in_privacy_mode(tmp_path, monkeypatch):
    from neuropose_assets.service.runs import command_line_keys, register_videos

    layout = Layout(tmp_path / "data")
    video = tmp_path / "Mueller_Hans_walk.mp4"
    assert command_line_keys(layout, [video], "c", None) == (["mueller_hans_walk"], False)
    monkeypatch.setenv("NEUROPOSE_PSEUDONYMISE", "1")
    (key,), pseudonymous = command_line_keys(layout, [video], "c", None)
    assert pseudonymous and key.startswith("c-") and "mueller" not in key
    from neuropose_assets.service.runs import declaration

    decl = declaration("gait", None, "--task", "P9", "2026-05-04")
    with dg.instance_for_test() as inst:
        register_videos(inst, layout, {key: video}, "c", {key: decl}, pseudonymous=pseudonymous)
    assert "Mueller" not in (layout.registry / f"{key}.json").read_text()
    visit = Registry(layout).get(key).declaration.visit
    assert visit.subject == "P9" and visit.session != "2026-05-04"  # a typed ID is kept, the date shifted
    assert Registry(layout).get(key).source == str(video)  # from private/
    assert "Mueller" in (layout.private / "pseudonyms.json").read_text()


def test_review_sensor_requests_one_review_run_per_video_after_its_outcomes(tmp_path):
    from neuropose_assets.definitions import build_defs

    defs = build_defs(str(tmp_path / "data"))
    sensor = defs.resolve_sensor_def("review_sensor")
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("videos", ["a1", "b1"])
        for key in ("a1", "b1", "a1"):  # a1 twice in one tick: one review run
            inst.report_runless_asset_event(dg.AssetMaterialization("outcomes", partition=key))
        res = sensor(dg.build_sensor_context(instance=inst))
        assert sorted(r.partition_key for r in res.run_requests) == ["a1", "b1"]
        assert all(r.run_key.startswith(f"review:{r.partition_key}:") for r in res.run_requests)
        assert isinstance(sensor(dg.build_sensor_context(instance=inst, cursor=res.cursor)), dg.SkipReason)


def test_sensors_skip_what_is_already_up_to_date_when_the_ui_first_starts(tmp_path):
    """Videos analysed by `run` or the demo already have their report and cohort table: the review and cohort
    sensors' first tick (no cursor) must not render and aggregate them all again — only what is newer."""
    from neuropose_assets.definitions import build_defs

    layout = Layout(tmp_path / "data")
    reg = Registry(layout)
    for key in ("a1", "a2"):
        reg.register(key, tmp_path / f"{key}.mp4", "a")
    defs = build_defs(str(layout.root))
    review, cohort = defs.resolve_sensor_def("review_sensor"), defs.resolve_sensor_def("cohort_sensor")
    with dg.instance_for_test() as inst:
        inst.add_dynamic_partitions("videos", ["a1", "a2"])
        inst.add_dynamic_partitions("cohorts", ["a"])
        for key in ("a1", "a2"):  # what `run` did: outcomes, then the report, then the cohort table
            inst.report_runless_asset_event(dg.AssetMaterialization("outcomes", partition=key))
            inst.report_runless_asset_event(dg.AssetMaterialization("report", partition=key))
        inst.report_runless_asset_event(dg.AssetMaterialization("cohort_outcomes", partition="a"))
        assert not review(dg.build_sensor_context(instance=inst)).run_requests
        assert not cohort(dg.build_sensor_context(instance=inst, resources=defs.resources)).run_requests
        inst.report_runless_asset_event(dg.AssetMaterialization("outcomes", partition="a2"))  # a2 re-analysed
        assert [r.partition_key for r in review(dg.build_sensor_context(instance=inst)).run_requests] == ["a2"]
        assert [
            r.partition_key
            for r in cohort(dg.build_sensor_context(instance=inst, resources=defs.resources)).run_requests
        ] == ["a"]


def test_subjects_and_sessions_from_the_intake_paths_and_a_new_session_label_reruns_the_task_assets(intake):
    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    put(root, "stroke/P017/2026-01-10/walk.mp4", b"A" * 100)
    put(root, "stroke/P017/2026-04-10/walk.mp4", b"B" * 100)
    put(root, "stroke/P018/2026-01-12/walk.mp4", b"C" * 100)
    proto = root / "stroke" / "protocol.yaml"
    proto.write_text(
        'task: gait\nidentify: "{subject}/{session}/*"\n'
        "subjects:\n  P017: {age_years: 67, sex: female, population: stroke, group: intervention}\n"
    )
    tick()
    assert len(tick()) == 3
    reg = Registry(layout)
    visit = reg.get("stroke-p017-2026-04-10-walk").declaration.visit
    assert (visit.subject, visit.session, visit.info.population) == ("P017", "2026-04-10", "stroke")
    assert reg.get("stroke-p018-2026-01-12-walk").declaration.visit.info.population is None
    # P018's session re-labelled by a rule: only that video re-runs, and only its task-dependent assets
    proto.write_text(proto.read_text() + 'videos:\n  "P018/*": {session: 1}\n')
    (rerun,) = tick()
    assert rerun.partition_key == "stroke-p018-2026-01-12-walk" and "poses" not in {
        k.to_user_string() for k in rerun.asset_selection
    }
    assert reg.get("stroke-p018-2026-01-12-walk").declaration.visit.session == "1"
    assert tick() == []


def test_subject_ids_from_folder_names_are_pseudonymised_in_privacy_mode(intake):
    root, tick, layout = intake["root"], intake["tick"], intake["layout"]
    put(root, "stroke/Jane_Doe/2026-01-10/walk.mp4", b"A" * 100)
    (root / "stroke" / "protocol.yaml").write_text('task: gait\nidentify: "{subject}/{session}/*"\n')
    tick(pseudonymise=True)
    (run,) = tick(pseudonymise=True)
    visit = Registry(layout).get(run.partition_key).declaration.visit
    assert "Jane" not in visit.subject and visit.subject.startswith("s")
    # the session date is shifted by the subject's keyed number of days: a second session keeps its interval
    assert (
        visit.session != "2026-01-10"
        and "2026-01-10" not in (layout.registry / f"{run.partition_key}.json").read_text()
    )
    put(root, "stroke/Jane_Doe/2026-03-11/walk.mp4", b"B" * 100)
    tick(pseudonymise=True)
    (second,) = tick(pseudonymise=True)
    later = Registry(layout).get(second.partition_key).declaration.visit
    assert later.subject == visit.subject
    assert (date.fromisoformat(later.session) - date.fromisoformat(visit.session)).days == 60
    assert "2026-01-10" in (layout.private / "pseudonyms.json").read_text()  # the real date: for authorised staff
