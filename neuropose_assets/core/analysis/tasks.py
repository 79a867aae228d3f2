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


@dataclass(frozen=True)
class TaskDeclaration:
    """A task and where it was declared (``source``, e.g. ``"protocol.yaml: '*sts*'"`` or ``"--task"``);
    ``source is None`` = nothing declared it (the video runs ``generic`` and is flagged)."""

    spec: TaskSpec
    source: str | None

    @property
    def declared(self) -> bool:
        """Whether something declared the task (``source`` is not ``None``)."""
        return self.source is not None

    def as_dict(self) -> dict[str, Any]:
        """The form stored in the registry: ``{"spec": <spec without null fields>, "source": source}``."""
        return {"spec": self.spec.model_dump(mode="json", exclude_none=True), "source": self.source}

    @staticmethod
    def from_dict(d: dict[str, Any] | None) -> TaskDeclaration:
        """The declaration of an :meth:`as_dict` form; :data:`UNDECLARED` for ``None`` or an empty dict."""
        if not d:
            return UNDECLARED
        return TaskDeclaration(TaskSpec(**d["spec"]), d.get("source"))


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


@dataclass(frozen=True)
class Protocol:
    """A parsed protocol file: ``documents`` = list of ``(defaults, [(pattern, params), ...])`` in file order."""

    path: Path
    documents: tuple[tuple[dict[str, Any], tuple[tuple[str, dict[str, Any]], ...]], ...]

    def resolve(self, rel: str, *, redact: bool = False) -> TaskDeclaration:
        """The task of the video at ``rel`` (path relative to the cohort folder, ``/``-separated).

        ``redact``: name the matching rules by position (``protocol.yaml rule 2 of document 3``) instead of by their
        pattern — in privacy mode, where a pattern such as ``"S02/Jane_Doe_arm.mp4"`` (what ``ingest --task``
        writes) would carry a patient's name into the ``task`` table, the registry and the event log.

        Raises:
            ProtocolError: the merged parameters are not a valid task.
        """
        params: dict[str, Any] = {}
        sources: list[str] = []
        many = len(self.documents) > 1
        for n_doc, (defaults, rules) in enumerate(self.documents, 1):
            of_doc = f" of document {n_doc}" if many else ""
            if defaults:
                params.update(defaults)
                sources.append(f"{self.path.name} defaults{of_doc}")
            for n_rule, (pattern, rule) in enumerate(rules, 1):
                if _matches(pattern, rel):
                    params.update(rule)
                    sources.append(
                        f"{self.path.name} rule {n_rule}{of_doc}" if redact else f"{self.path.name}: {pattern!r}"
                    )
        if "task" not in params:  # parameters without a task (e.g. only camera_view) declare nothing
            return UNDECLARED
        where = self.path.name if redact else str(self.path)
        return TaskDeclaration(make_spec(params, f"{where} (rules {', '.join(sources)})"), "; ".join(sources))


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
    parsed = []
    for n, doc in enumerate(docs, 1):
        where = f"{path} (document {n})" if len(docs) > 1 else str(path)
        if not isinstance(doc, dict):
            raise ProtocolError(f"{where}: expected 'task: ...' and 'videos: {{pattern: {{...}}}}', got {doc!r}")
        defaults = {k: v for k, v in doc.items() if k != _RULES_KEY}
        rules = doc.get(_RULES_KEY) or {}
        if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
            raise ProtocolError(
                f"{where}: 'videos' must map path patterns to parameters, e.g. "
                "'\"*sts*\": {task: sit_to_stand, expected_repetitions: 5}'"
            )
        for i, (pattern, params) in enumerate([("defaults", defaults), *rules.items()]):
            shown = f"rule {i}" if redact and i else f"rule {pattern!r}"
            unknown = sorted(set(params) - set(TaskSpec.model_fields))
            if unknown:
                raise ProtocolError(
                    f"{where}, {shown}: unknown parameter(s) {unknown}; known: {', '.join(TaskSpec.model_fields)}"
                )
            merged = {**defaults, **params}
            if "task" in merged:
                make_spec(merged, f"{where}, {shown}")
        parsed.append((defaults, tuple((str(p), dict(v)) for p, v in rules.items())))
    return Protocol(path, tuple(parsed))


def protocol_rule_document(rules: dict[str, dict[str, Any]], comment: str) -> str:
    """A YAML document (starting with ``---``) that adds ``rules`` to a protocol file, for appending."""
    import yaml

    return f"--- # {comment}\n" + yaml.safe_dump({_RULES_KEY: rules}, sort_keys=False, allow_unicode=True)
