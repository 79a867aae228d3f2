"""The task vocabulary and the protocol file that declares tasks per cohort, without code."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from neuropose_assets.core.analysis.tasks import (
    UNDECLARED,
    ProtocolError,
    TaskDeclaration,
    TaskSpec,
    load_protocol,
    parse_params,
    protocol_rule_document,
)

PROTOCOL = """
# stroke cohort, recorded 2026
task: gait
camera_view: side
videos:
  "*sts*": {task: sit_to_stand, expected_repetitions: 5}
  "*tug*": {task: tug, walkway_m: 3}
  "*arm*left*": {task: arm_raise, side: left}
  "P017/*": {camera_view: front}
"""


def _protocol(tmp_path: Path, text: str = PROTOCOL) -> Path:
    path = tmp_path / "protocol.yaml"
    path.write_text(text)
    return path


def test_rules_apply_in_order_on_top_of_the_cohort_default(tmp_path):
    p = load_protocol(_protocol(tmp_path))
    walk = p.resolve("P001/S01/walk 1.mp4")
    assert walk.spec == TaskSpec(task="gait", camera_view="side") and walk.declared
    sts = p.resolve("P001/S01/STS_trial.MP4")  # case-insensitive, file-name pattern
    assert sts.spec == TaskSpec(task="sit_to_stand", expected_repetitions=5, camera_view="side")
    assert "'*sts*'" in sts.source
    front = p.resolve("P017/tug.mp4")  # later rules win: camera_view from the folder rule, task from *tug*
    assert front.spec == TaskSpec(task="tug", walkway_m=3, camera_view="front")
    arm = p.resolve("P002/arm_left_1.mp4")
    assert arm.spec.sides == ("left",)


def test_no_task_means_undeclared_generic(tmp_path):
    p = load_protocol(_protocol(tmp_path, 'videos:\n  "*sts*": {task: sit_to_stand}\n'))
    d = p.resolve("P1/walk.mp4")
    assert d == UNDECLARED and not d.declared and d.spec.task == "generic"


def test_appended_documents_override_earlier_ones(tmp_path):
    path = _protocol(tmp_path)
    with path.open("a") as f:
        f.write(protocol_rule_document({"P001/S01/walk 1.mp4": {"task": "squat"}}, "added by ingest"))
    p = load_protocol(path)
    assert p.resolve("P001/S01/walk 1.mp4").spec.task == "squat"
    assert p.resolve("P001/S01/walk 2.mp4").spec.task == "gait"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("task: jogging\n", "jogging.*Known tasks: gait, tug, sit_to_stand, squat, arm_raise, generic"),
        ("task: gait\nside: left\n", "side.*arm_raise only"),
        ('videos:\n  "*x*": {task: squat, repetitions: 5}\n', "unknown parameter.*repetitions"),
        ('videos: ["*x*"]\n', "'videos' must map path patterns"),
        ("task: [gait\n", "not valid YAML"),
        ("- gait\n", "expected 'task: ...'"),
        ("task: sit_to_stand\nexpected_repetitions: 0\n", "expected_repetitions"),
    ],
)
def test_protocol_mistakes_are_reported_with_the_file_and_the_fix(tmp_path, text, message):
    with pytest.raises(ProtocolError, match=message) as err:
        load_protocol(_protocol(tmp_path, text))
    assert "protocol.yaml" in str(err.value)


def test_parse_params_builds_nested_values():
    assert parse_params(["expected_repetitions=5", "camera_view=side", "walkway_m=3.5"]) == {
        "expected_repetitions": 5,
        "camera_view": "side",
        "walkway_m": 3.5,
    }
    nested = parse_params(["segmentation.signal.column=knee_angle_l_deg", "segmentation.min_prominence=20"])
    spec = TaskSpec(task="generic", **nested)
    assert spec.generic_segmentation.signal.column == "knee_angle_l_deg"
    with pytest.raises(ValueError, match="name=value"):
        parse_params(["side"])


def test_spec_fingerprint_and_round_trip():
    a = TaskSpec(task="sit_to_stand", expected_repetitions=5)
    assert a.fingerprint() != TaskSpec(task="sit_to_stand").fingerprint()
    d = TaskDeclaration(a, "--task")
    assert TaskDeclaration.from_dict(d.as_dict()) == d
    assert TaskDeclaration.from_dict(None) == UNDECLARED
    with pytest.raises(ValidationError):
        TaskSpec(task="gait", segmentation={"min_prominence": 3})


def test_subjects_and_sessions_from_the_path_from_rules_and_with_their_info(tmp_path):
    from neuropose_assets.core.analysis.tasks import identify

    path = tmp_path / "protocol.yaml"
    path.write_text(
        "task: gait\n"
        'identify: "{subject}/{session}/*"\n'
        "subjects:\n"
        "  P017: {age_years: 67, sex: female, height_m: 1.62, population: stroke, group: intervention}\n"
        "videos:\n"
        '  "*sts*": {task: sit_to_stand, expected_repetitions: 5}\n'
        '  "baseline_*": {session: 1}\n'
    )
    proto = load_protocol(path)
    d = proto.resolve("P017/2026-03-01/walk.mp4")
    assert (d.visit.subject, d.visit.session, d.visit.info.population) == ("P017", "2026-03-01", "stroke")
    assert d.spec.height_m == 1.62  # the subject's height scales the model when the task gives none
    assert proto.resolve("P018/x/baseline_walk.mp4").visit.session == "1"  # a rule overrides the path
    assert proto.resolve("loose.mp4").visit is None and proto.resolve("loose.mp4").spec.task == "gait"
    assert identify("{subject}_{session}_*", "deep/P01_V2_walk.mp4") == {"subject": "P01", "session": "V2"}
    assert identify("{subject}/**", "P01/a/b/c.mp4") == {"subject": "P01"}
    assert identify("{subject}/{session}/*", "P01/walk.mp4") == {}


def test_a_visit_is_stored_and_its_change_changes_the_fingerprint():
    from neuropose_assets.core.analysis.tasks import UNDECLARED, Visit

    visit = Visit(subject="P017", session="S02")
    decl = TaskDeclaration(TaskSpec(task="gait"), "test").with_visit(visit)
    assert TaskDeclaration.from_dict(decl.as_dict()) == decl
    assert decl.fingerprint() != TaskDeclaration(TaskSpec(task="gait"), "test").fingerprint()
    assert decl.fingerprint() != decl.with_visit(Visit(subject="P017", session="S03")).fingerprint()
    assert TaskDeclaration(TaskSpec(task="gait"), "test").fingerprint() == TaskSpec(task="gait").fingerprint()
    only = UNDECLARED.with_visit(visit)  # a subject without a task: stored, the task stays undeclared
    assert not only.declared and TaskDeclaration.from_dict(only.as_dict()).visit == visit
    order = sorted(["S10", "S2", "3"], key=lambda s: Visit(subject="P", session=s).session_order())
    assert order == ["S2", "3", "S10"]
    dates = sorted(["2026-10-01", "2025-12-31"], key=lambda s: Visit(subject="P", session=s).session_order())
    assert dates == ["2025-12-31", "2026-10-01"]


@pytest.mark.parametrize(
    "doc, message",
    [
        ('identify: "{session}/*"\n', "'identify' must be a path pattern naming the subject"),
        ("subjects:\n  P1: {sex: unknown}\n", "sex"),
        ("subjects:\n  'Jane Doe': {age_years: 70}\n", "never a name"),
        ('videos:\n  "*": {session: "first visit"}\n', "an ISO date"),
        ("subjects:\n  P1: {age_years: 7, population: older_adult}\n", "aged 60 and older: a mistyped age"),
        (
            "subjects:\n  P1: {population: stroke}\n---\nsubjects:\n  P1: {population: parkinson}\n",
            "described twice, differently",
        ),
    ],
)
def test_bad_subject_declarations_are_refused_with_what_to_write(tmp_path, doc, message):
    path = tmp_path / "protocol.yaml"
    path.write_text(doc)
    with pytest.raises(ProtocolError, match=message):
        load_protocol(path)
