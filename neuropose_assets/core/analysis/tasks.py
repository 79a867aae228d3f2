"""Which clinical task a video shows, and how a cohort declares it without code (the *protocol* file).

The task decides which signal, events, repetitions and outcomes apply to a video (:mod:`.events`, :mod:`.outcomes`).
The vocabulary is fixed (:data:`TASKS`):

==================  ======================================================================================
``gait``            overground walk (e.g. the 10-m walk test): heel strikes, toe-offs, gait cycles per side
``tug``             Timed Up and Go (Podsiadlo & Richardson 1991): stand, walk 3 m, turn, walk back, sit
``sit_to_stand``    5× sit-to-stand and 30-s chair stand: seat-off, standing reached, sit start, seated
``squat``           body-weight squats: squat start, bottom, back to standing
``arm_raise``       arm elevation (``side`` left / right / both): raise start, arm at top, lowered
``generic``         any other movement: repetitions of a configurable 1-D signal (:mod:`.segmentation`)
==================  ======================================================================================

A **protocol file** ``protocol.yaml`` in a cohort's intake folder maps path patterns to a task and its parameters::

    # intake/stroke_2026/protocol.yaml
    task: gait                 # the cohort's default (optional)
    camera_view: side
    videos:                    # pattern -> parameters; every matching rule applies in order, later ones win
      "*sts*": {task: sit_to_stand, expected_repetitions: 5}
      "*tug*": {task: tug, walkway_m: 3}
      "*arm*left*": {task: arm_raise, side: left}
      "P017/*": {camera_view: front}

Patterns are shell-style (:func:`fnmatch.fnmatch`), case-insensitive, matched against the path relative to the
cohort folder (``P017/S02/walk 1.mp4``); a pattern without ``/`` is matched against the file name only.  The file may
hold several YAML documents (``---``); they apply in order, so an appended document overrides earlier ones.  A video
that no default and no rule gives a task is *undeclared*: it runs ``generic`` and is flagged.

**Subjects and sessions** (:class:`Visit`): every video can belong to a subject — a pseudonymous ID, never a name —
and a session (an ISO date ``2026-03-01`` or an ordinal such as ``2``, ``S02``, ``V3``).  The same file declares
them, from the path or per rule, and describes each subject::

    identify: "{subject}/{session}/*"     # named parts of the path relative to the cohort folder
    subjects:                              # optional, per subject: age, sex, height, population, group
      P017: {age_years: 67, sex: female, height_m: 1.62, population: stroke, group: intervention}
    videos:
      "baseline_*": {session: 1}            # explicit values override the path

``identify`` is a pattern like the rules' (``*`` any characters within a folder or file name) in which
``{subject}`` and ``{session}`` each match one part of a name; without ``/`` it is matched against the file name
(``"{subject}_{session}_*"``).  A subject's ``height_m`` scales the fitted model unless the task gives its own.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from neuropose_assets.core.analysis.segmentation import SegmentationConfig
from neuropose_assets.core.models import STRICT

TaskName = Literal["gait", "tug", "sit_to_stand", "squat", "arm_raise", "generic"]
TASKS: tuple[str, ...] = ("gait", "tug", "sit_to_stand", "squat", "arm_raise", "generic")
PROTOCOL_FILE = "protocol.yaml"
#: bounds of the declared numbers: far above any protocol (a 6-minute walk has ~350 gait cycles per side; walkways
#: are 3–30 m), and inside the Int32 / float columns that store them
MAX_REPETITIONS = 10_000
MAX_WALKWAY_M = 1000.0
#: protocol keys that are not task parameters
_RULES_KEY = "videos"
_IDENTIFY_KEY = "identify"
_SUBJECTS_KEY = "subjects"
#: keys of a rule (or the defaults) that declare the visit, not the task
VISIT_KEYS = ("subject", "session")
#: a subject ID: letters, digits and ``_ . -``, 1–64 characters, starting with a letter or digit
SUBJECT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
#: a session: an ISO date, or an ordinal with an optional letter prefix (``2``, ``S02``, ``V3``, ``visit2``)
SESSION_PATTERN = r"^(\d{4}-\d{2}-\d{2}|[A-Za-z]{0,16}\d{1,6})$"


class TaskSpec(BaseModel):
    """A video's task and its parameters; stored with the partition and in every downstream file's provenance.

    Attributes:
        task: one of :data:`TASKS`.
        side: ``arm_raise``: which arm(s) are analysed (default ``both``); other tasks analyse both sides.
        expected_repetitions: repetitions (stands, squats, raises) or gait cycles per side the protocol asks for;
            a different count is flagged, never forced; 1 to :data:`MAX_REPETITIONS`.
        walkway_m: walkway length of the protocol, m (recorded; e.g. 3 for the TUG, 10 for the 10-m walk test); finite,
            at most :data:`MAX_WALKWAY_M`.
        camera_view: ``side`` (camera perpendicular to the direction of walking: sagittal), ``front``, ``oblique``
            or ``unknown``.  A side view lets spatial gait parameters be scaled from the image with hip-centred
            models (see :mod:`.outcomes`).
        height_m: the subject's standing height, m (0.5–2.6), if known: scales the fitted skeletal model
            (:mod:`..kinematics.fit`); without it the model's size is estimated from the pose model and recorded.
        segmentation: ``generic`` only: the signal and peak constraints (:class:`.segmentation.SegmentationConfig`).
    """

    model_config = STRICT

    task: TaskName = "generic"
    side: Literal["left", "right", "both"] | None = None
    expected_repetitions: int | None = Field(default=None, ge=1, le=MAX_REPETITIONS)
    walkway_m: float | None = Field(default=None, gt=0, le=MAX_WALKWAY_M)
    camera_view: Literal["side", "front", "oblique", "unknown"] = "unknown"
    height_m: float | None = Field(default=None, ge=0.5, le=2.6)
    segmentation: SegmentationConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        if self.side is not None and self.task != "arm_raise":
            raise ValueError(f"'side' applies to task arm_raise only (task {self.task!r} analyses both sides)")
        if self.segmentation is not None and self.task != "generic":
            raise ValueError(f"'segmentation' applies to task generic only (task {self.task!r} has its own signal)")
        return self

    @property
    def sides(self) -> tuple[str, ...]:
        """The sides analysed: ``("left", "right")`` except for a one-sided arm raise."""
        return ("left", "right") if self.side in (None, "both") else (self.side,)

    @property
    def generic_segmentation(self) -> SegmentationConfig:
        """The segmentation of the ``generic`` task: the declared one, else the defaults of
        :class:`.segmentation.SegmentationConfig`."""
        return self.segmentation or SegmentationConfig()

    def fingerprint(self) -> str:
        """SHA-256 (16 hex) of the canonical JSON: the data version of the ``task`` asset."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


class SubjectInfo(BaseModel):
    """What is known about a subject (all optional): ``age_years`` (0–120), ``sex`` (``female`` / ``male``),
    ``height_m`` (0.5–2.6 m; scales the fitted model), ``population`` (e.g. ``stroke``, ``parkinson``,
    ``older_adult``, ``healthy``: selects the minimal detectable change and the norms that apply) and ``group`` (a
    study arm, for group comparisons)."""

    model_config = STRICT

    age_years: float | None = Field(default=None, ge=0, le=120)
    sex: Literal["female", "male"] | None = None
    height_m: float | None = Field(default=None, ge=0.5, le=2.6)
    population: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,31}$")
    group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_ .-]{0,63}$")


class Visit(BaseModel):
    """The subject a video belongs to (``subject``: a pseudonymous ID, :data:`SUBJECT_PATTERN`), its session
    (:data:`SESSION_PATTERN`: an ISO date or an ordinal; ``None`` = not declared) and what is known about the subject.
    """

    model_config = STRICT

    subject: str = Field(pattern=SUBJECT_PATTERN)
    session: str | None = Field(default=None, pattern=SESSION_PATTERN)
    info: SubjectInfo = Field(default_factory=SubjectInfo)

    def session_order(self) -> tuple[int, str]:
        """Sort key of the session: a date as its ordinal day, an ordinal as its number (``S02`` → 2); sessions of
        one subject are compared in this order."""
        import datetime
        import re

        if self.session is None:
            return (-1, "")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.session):
            return (datetime.date.fromisoformat(self.session).toordinal(), self.session)
        return (int(re.search(r"\d+$", self.session).group()), self.session)


#: the visit's columns in the ``task`` and ``cohort_outcomes`` tables (null where not declared)
VISIT_COLUMNS = ("subject", "session", "age_years", "sex", "population", "group")


def visit_row(visit: Visit | None) -> dict[str, Any]:
    """The :data:`VISIT_COLUMNS` of ``visit`` (all ``None`` without one)."""
    if visit is None:
        return dict.fromkeys(VISIT_COLUMNS)
    info = visit.info
    return {
        "subject": visit.subject,
        "session": visit.session,
        "age_years": info.age_years,
        "sex": info.sex,
        "population": info.population,
        "group": info.group,
    }


#: the youngest age among the people behind a population's reference values (``data/change_thresholds.csv``,
#: ``cutoffs.csv``, ``norms.csv``: Bohannon 2006's bands start at 60, Buatois 2008 and Perera 2006 studied people of 65
#: and older): a subject declared younger is more likely a mistyped age or population than a member
POPULATION_MIN_AGE = {"older_adult": 60.0}


def info_problem(info: SubjectInfo) -> str | None:
    """What is inconsistent within one subject's info (``None``: nothing): an age below its population's
    (:data:`POPULATION_MIN_AGE`)."""
    least = POPULATION_MIN_AGE.get(info.population or "")
    if least is not None and info.age_years is not None and info.age_years < least:
        return (
            f"age {info.age_years:g} with population {info.population!r}, whose reference values come from people "
            f"aged {least:g} and older: a mistyped age or population?"
        )
    return None


def _session_kind(session: str) -> str:
    import re

    return "date" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", session) else "ordinal"


def visit_problems(cohort: Any) -> dict[str, list[str]]:
    """Per subject, what its videos' declarations contradict (a cohort table with :data:`VISIT_COLUMNS` and
    ``partition``; subjects without a problem are absent):

    * ``mixed sessions``: sessions that are dates and sessions that are ordinals — their order is unknown, so no
      change between them can be computed;
    * a population, sex or group that differs between videos (a declaration changed after some videos were
      registered, or two subjects share an ID) — which reference values apply is then unknown;
    * an age below the population's (:func:`info_problem`).
    """
    import polars as pl

    out: dict[str, list[str]] = {}
    rows = cohort.filter(pl.col("subject").is_not_null())
    for (subject,), part in rows.group_by("subject", maintain_order=True):
        problems = []
        sessions = sorted({s for s in part["session"].drop_nulls()})
        kinds = {_session_kind(s) for s in sessions}
        if len(kinds) > 1:
            problems.append(
                f"mixed sessions: {', '.join(sessions)} mix dates and ordinals, so their order is unknown — name "
                "every session of a subject the same way (all dates or all ordinals)"
            )
        for column in ("population", "sex", "group"):
            counts = part.group_by(column).len().filter(pl.col(column).is_not_null()).sort(column)
            if counts.height > 1:
                said = ", ".join(f"{v!r} ({n} video{'s' if n > 1 else ''})" for v, n in counts.iter_rows())
                problems.append(f"{column} differs between videos: {said} — declare it once and re-register them")
        for row in part.unique(["population", "age_years"]).iter_rows(named=True):
            problem = info_problem(SubjectInfo(population=row["population"], age_years=row["age_years"]))
            if problem:
                problems.append(problem)
        if problems:
            out[str(subject)] = problems
    return out


def visit_of(subject: str | None, session: str | None, info: dict | None = None, *, where: str) -> Visit | None:
    """The :class:`Visit` of declared values (``None`` without a subject).

    Raises:
        ProtocolError: an invalid subject ID, session or subject info, or a session without a subject; the message
            says where (``where``) and what is allowed.
    """
    if subject is None:
        if session is not None:
            raise ProtocolError(f"{where}: session {session!r} is declared without a subject")
        return None
    try:
        visit = Visit(subject=str(subject), session=None if session is None else str(session), info=info or {})
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e['input']!r})" for e in err.errors())
        raise ProtocolError(
            f"{where}: {problems}. A subject is a pseudonymous ID (letters, digits, _ . -; never a name), a session "
            "an ISO date (2026-03-01) or an ordinal (2, S02, V3)."
        ) from None
    problem = info_problem(visit.info)
    if problem:
        raise ProtocolError(f"{where}: {problem}")
    return visit


@dataclass(frozen=True)
class TaskDeclaration:
    """A task and where it was declared (``source``, e.g. ``"protocol.yaml: '*sts*'"`` or ``"--task"``);
    ``source is None`` = nothing declared it (the video runs ``generic`` and is flagged)."""

    spec: TaskSpec
    source: str | None
    visit: Visit | None = None

    @property
    def declared(self) -> bool:
        """Whether something declared the task (``source`` is not ``None``)."""
        return self.source is not None

    def fingerprint(self) -> str:
        """What the ``task`` asset's data version is made of: the spec's fingerprint (``-undeclared`` when nothing
        declared the task) and, when a subject is declared, the visit's — so a changed task, subject, session or
        subject info makes the task-dependent assets stale."""
        fp = self.spec.fingerprint() + ("" if self.declared else "-undeclared")
        if self.visit is not None:
            fp += "-" + hashlib.sha256(self.visit.model_dump_json().encode()).hexdigest()[:8]
        return fp

    def as_dict(self) -> dict[str, Any]:
        """The form stored in the registry: ``{"spec": <spec without null fields>, "source": source}`` and, with a
        subject, ``"visit"``."""
        out = {"spec": self.spec.model_dump(mode="json", exclude_none=True), "source": self.source}
        if self.visit is not None:
            out["visit"] = self.visit.model_dump(mode="json", exclude_none=True)
        return out

    @staticmethod
    def from_dict(d: dict[str, Any] | None) -> TaskDeclaration:
        """The declaration of an :meth:`as_dict` form; :data:`UNDECLARED` for ``None`` or an empty dict."""
        if not d:
            return UNDECLARED
        visit = Visit(**d["visit"]) if d.get("visit") else None
        return TaskDeclaration(TaskSpec(**d["spec"]), d.get("source"), visit)

    def with_visit(self, visit: Visit | None) -> TaskDeclaration:
        """The same declaration for another visit; a subject's height scales the model when the task gives none."""
        spec = self.spec
        if visit is not None and visit.info.height_m is not None and spec.height_m is None and self.declared:
            spec = spec.model_copy(update={"height_m": visit.info.height_m})
        return TaskDeclaration(spec, self.source, visit)


UNDECLARED = TaskDeclaration(TaskSpec(), None)


class ProtocolError(ValueError):
    """A protocol file that cannot be used; the message names the file and what to fix."""


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``["expected_repetitions=5", "segmentation.signal.column=knee_angle_l_deg"]`` → nested dict.

    Values are parsed as JSON where possible (numbers, true/false, null, lists), else kept as strings.

    Raises:
        ValueError: an item without ``=``.
    """
    out: dict[str, Any] = {}
    for item in pairs:
        if "=" not in item:
            raise ValueError(f"parameter {item!r} is not of the form name=value")
        name, raw = item.split("=", 1)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        *parents, leaf = name.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def make_spec(params: dict[str, Any], where: str) -> TaskSpec:
    """A :class:`TaskSpec` from parameters, with an error that says where they came from.

    Raises:
        ProtocolError: unknown parameter or invalid value.
    """
    try:
        return TaskSpec(**params)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'task'}: {e['msg']}" + (f" (got {e['input']!r})" if e.get("loc") else "")
            for e in err.errors()
        )
        bad_task = any(tuple(e["loc"][:1]) == ("task",) for e in err.errors())
        task = params.get("task") if params.get("task") in TASKS else None
        named = {str(e["loc"][0]) for e in err.errors() if e.get("loc")}
        if bad_task or task is None:
            hint = f"Known tasks: {', '.join(TASKS)}."
        elif named and named <= set(PARAMETERS):  # a known parameter with a bad value: what it takes
            hint = "; ".join(f"{n} takes {PARAMETERS[n][0]}" for n in sorted(named)) + "."
        else:  # an unknown or inapplicable parameter: what this task takes
            hint = parameter_help(task)
        raise ProtocolError(f"{where}: {problems}. {hint}") from None


#: what each task parameter takes (type, unit, range) and the tasks it applies to (``None``: all)
PARAMETERS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "expected_repetitions": (f"an integer 1–{MAX_REPETITIONS}", None),
    "walkway_m": (f"a number in m, > 0 and ≤ {MAX_WALKWAY_M:g}", None),
    "camera_view": ("side | front | oblique (omit: measured)", None),
    "height_m": ("a number in m, 0.5–2.6", None),
    "side": ("left | right | both", ("arm_raise",)),
    "segmentation": ("its signal and peak settings (e.g. segmentation.signal.column=knee_angle_l_deg)", ("generic",)),
}


def parameter_help(task: str) -> str:
    """``"Parameters of task 'gait': expected_repetitions (integer …), …"`` — what ``--param`` takes for ``task``."""
    items = [f"{name}: {what}" for name, (what, tasks) in PARAMETERS.items() if tasks is None or task in tasks]
    return f"Task {task!r} takes " + "; ".join(items) + "."


def _matches(pattern: str, rel: str) -> bool:
    target = rel if "/" in pattern else rel.rsplit("/", 1)[-1]
    return fnmatch.fnmatch(target.lower(), pattern.lower())


def identify(pattern: str, rel: str) -> dict[str, str]:
    """The named parts (``{subject}``, ``{session}``) of ``rel`` under an ``identify`` pattern (module docstring):
    ``{name}`` matches one part of a name (no ``/``), ``*`` any characters within a name, ``**`` any characters;
    literal text matches case-insensitively.  ``{}`` when ``rel`` does not match."""
    import re

    target = rel if "/" in pattern else rel.rsplit("/", 1)[-1]
    regex = ""
    for token in re.split(r"(\{subject\}|\{session\}|\*\*|\*)", pattern):
        if token in ("{subject}", "{session}"):
            regex += f"(?P<{token[1:-1]}>[^/]+?)"
        elif token == "**":
            regex += ".*"
        elif token == "*":
            regex += "[^/]*"
        else:
            regex += re.escape(token)
    m = re.fullmatch(regex, target, flags=re.IGNORECASE)
    return {k: v for k, v in m.groupdict().items() if v is not None} if m else {}


@dataclass(frozen=True)
class Protocol:
    """A parsed protocol file: ``documents`` = list of ``(defaults, [(pattern, params), ...])`` in file order;
    ``identify``: the documents' ``identify`` patterns in file order (the last that matches names the visit);
    ``subjects``: subject ID → :class:`SubjectInfo` fields (a subject described in two documents must be described the
    same way)."""

    path: Path
    documents: tuple[tuple[dict[str, Any], tuple[tuple[str, dict[str, Any]], ...]], ...]
    identify: tuple[str, ...] = ()
    subjects: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def visit(self, rel: str, explicit: dict[str, Any], where: str) -> Visit | None:
        """The visit of the video at ``rel``: ``explicit`` subject / session (from the rules) over the parts named by
        the ``identify`` patterns, with the subject's info.

        Raises:
            ProtocolError: an invalid subject or session (:func:`visit_of`).
        """
        named: dict[str, str] = {}
        for pattern in self.identify:
            named = identify(pattern, rel) or named
        subject = explicit.get("subject", named.get("subject"))
        session = explicit.get("session", named.get("session"))
        info = dict(dict(self.subjects).get(str(subject), ())) if subject is not None else None
        return visit_of(subject, session, info, where=where)

    def resolve(self, rel: str, *, redact: bool = False) -> TaskDeclaration:
        """The task of the video at ``rel`` (path relative to the cohort folder, ``/``-separated).

        ``redact``: name the matching rules by position (``protocol.yaml rule 2 of document 3``) instead of by their
        pattern — in privacy mode, where a pattern such as ``"S02/Jane_Doe_arm.mp4"`` (what ``ingest --task``
        writes) would carry a patient's name into the ``task`` table, the registry and the event log.

        Raises:
            ProtocolError: the merged parameters are not a valid task.
        """
        params: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        sources: list[str] = []
        many = len(self.documents) > 1
        for n_doc, (defaults, rules) in enumerate(self.documents, 1):
            of_doc = f" of document {n_doc}" if many else ""
            for n_rule, (pattern, rule) in enumerate([("", defaults), *rules]):
                if n_rule and not _matches(pattern, rel):
                    continue
                task_part = {k: v for k, v in rule.items() if k not in VISIT_KEYS}
                explicit.update({k: v for k, v in rule.items() if k in VISIT_KEYS})
                if task_part:
                    params.update(task_part)
                    sources.append(
                        f"{self.path.name} defaults{of_doc}"
                        if not n_rule
                        else f"{self.path.name} rule {n_rule}{of_doc}"
                        if redact
                        else f"{self.path.name}: {pattern!r}"
                    )
        where = self.path.name if redact else str(self.path)
        visit = self.visit(rel, explicit, where)
        if "task" not in params:  # parameters without a task (e.g. only camera_view) declare nothing
            return UNDECLARED.with_visit(visit)
        decl = TaskDeclaration(make_spec(params, f"{where} (rules {', '.join(sources)})"), "; ".join(sources))
        return decl.with_visit(visit)


def load_protocol(path: Path, *, redact: bool = False) -> Protocol:
    """Parse ``path`` (YAML; see module docstring).  Every document is checked (task names, parameter names and
    values) so that a mistake is reported when the file is read, not when a video happens to match.

    ``redact``: errors name a rule by its position, not by its pattern (:meth:`Protocol.resolve`).

    Raises:
        ProtocolError: unreadable YAML, wrong structure, unknown task or parameter.
    """
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ProtocolError(f"{path} is not valid YAML: {err}") from None
    parsed, patterns, subjects = [], [], {}
    for n, doc in enumerate(docs, 1):
        where = f"{path} (document {n})" if len(docs) > 1 else str(path)
        if not isinstance(doc, dict):
            raise ProtocolError(f"{where}: expected 'task: ...' and 'videos: {{pattern: {{...}}}}', got {doc!r}")
        pattern = doc.get(_IDENTIFY_KEY)
        if pattern is not None:
            if not isinstance(pattern, str) or "{subject}" not in pattern:
                raise ProtocolError(
                    f"{where}: 'identify' must be a path pattern naming the subject, e.g. "
                    f'"{{subject}}/{{session}}/*" or "{{subject}}_{{session}}_*", got {pattern!r}'
                )
            patterns.append(pattern)
        described = doc.get(_SUBJECTS_KEY) or {}
        if not isinstance(described, dict) or not all(isinstance(v, dict) for v in described.values()):
            raise ProtocolError(
                f"{where}: 'subjects' must map subject IDs to what is known, e.g. 'P017: {{age_years: 67, sex: female, "
                "population: stroke}'"
            )
        for subject, info in described.items():
            said = f"{where}, subject {subject!r}" if not redact else where
            visit_of(str(subject), None, info, where=said)
            known, info = subjects.get(str(subject)), tuple(sorted(info.items()))
            if known is not None and known != info:
                raise ProtocolError(
                    f"{said}: described twice, differently ({dict(known)} and {dict(info)}) — describe each subject "
                    "once"
                )
            subjects[str(subject)] = info
        defaults = {k: v for k, v in doc.items() if k not in (_RULES_KEY, _IDENTIFY_KEY, _SUBJECTS_KEY)}
        rules = doc.get(_RULES_KEY) or {}
        if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
            raise ProtocolError(
                f"{where}: 'videos' must map path patterns to parameters, e.g. "
                "'\"*sts*\": {task: sit_to_stand, expected_repetitions: 5}'"
            )
        for i, (pattern, params) in enumerate([("defaults", defaults), *rules.items()]):
            shown = f"rule {i}" if redact and i else f"rule {pattern!r}"
            unknown = sorted(set(params) - set(TaskSpec.model_fields) - set(VISIT_KEYS))
            if unknown:
                known = ", ".join([*TaskSpec.model_fields, *VISIT_KEYS])
                raise ProtocolError(f"{where}, {shown}: unknown parameter(s) {unknown}; known: {known}")
            merged = {k: v for k, v in {**defaults, **params}.items() if k not in VISIT_KEYS}
            if "task" in merged:
                make_spec(merged, f"{where}, {shown}")
            if "subject" in params or "session" in params:
                subject = params.get("subject", defaults.get("subject", "S1"))
                visit_of(subject, params.get("session"), None, where=f"{where}, {shown}")
        parsed.append((defaults, tuple((str(p), dict(v)) for p, v in rules.items())))
    return Protocol(path, tuple(parsed), tuple(patterns), tuple(sorted(subjects.items())))


def protocol_rule_document(rules: dict[str, dict[str, Any]], comment: str) -> str:
    """A YAML document (starting with ``---``) that adds ``rules`` to a protocol file, for appending."""
    import yaml

    return f"--- # {comment}\n" + yaml.safe_dump({_RULES_KEY: rules}, sort_keys=False, allow_unicode=True)
