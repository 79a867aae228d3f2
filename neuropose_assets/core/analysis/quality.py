"""Quality flags a clinician should see next to the results: subject coverage, decoding, model fit, left/right label
flips, the declared task and camera view, repetitions that were not found or do not match the protocol, implausible
outcomes, duplicate recordings.

**One source of flags.**  :data:`CHECKS` lists every quality check as a plain function of the written files
(``(layout, partition) → (numbers, flags)``).  The Dagster asset checks (``dagster_defs/checks.py``) wrap exactly
these, ``neuropose-assets run`` prints the failed asset checks, and the per-video report lists :func:`evaluate` —
the same functions on the same files — so the UI, the CLI and the report show the same flags.

Each function returns a list of :class:`Flag` (empty = nothing to report).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl

#: below this fraction of frames with the subject, the results would describe a fragment (ERROR); below 50 %: WARN
MIN_SUBJECT_COVERAGE = 0.25


@dataclass(frozen=True)
class Flag:
    """``severity`` ``ERROR`` or ``WARN``; ``message`` says what was found and what to do."""

    severity: str
    message: str


def subject_coverage(poses: pl.DataFrame, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the subject's presence in a ``poses`` table: nobody detected or coverage below
    :data:`MIN_SUBJECT_COVERAGE` is an ERROR, below 50 % a WARN."""
    n = poses["frame"].n_unique()
    found = poses.filter(pl.col("is_subject"))["frame"].n_unique()
    tracks = poses["track"].drop_nulls().n_unique()
    coverage = found / n if n else 0.0
    numbers = {"frames": n, "frames_with_subject": found, "subject_coverage": round(coverage, 4), "tracks": tracks}
    if found == 0:
        return numbers, [
            Flag(
                "ERROR",
                f"No person was detected in any of the {n} frames of {name}. Check that the "
                "whole body is in view, well lit and not too small in the picture, then "
                "record again.",
            )
        ]
    if coverage < MIN_SUBJECT_COVERAGE:
        return numbers, [
            Flag(
                "ERROR",
                f"The subject is visible in only {100 * coverage:.1f} % of the {n} frames of "
                f"{name} ({tracks} person tracks): the results would describe a fragment of "
                "the recording, or someone else. Trim the video to the test itself, or choose "
                "another subject policy (poses config subject_policy: largest_box for the "
                "person closest to the camera, most_central), then re-run.",
            )
        ]
    if coverage < 0.5:
        return numbers, [
            Flag(
                "WARN",
                f"The subject is visible in only {100 * coverage:.0f} % of the frames of "
                f"{name}; results cover the visible part only.",
            )
        ]
    return numbers, []


def decoding_loss(decoding: dict | None, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the frames a video announces but that could not be decoded (``decoding``: the
    ``poses`` provenance's ``decoding`` entry; ``None`` for marker files).  More than
    :data:`..io.video.MISSING_FRAMES_TOLERANCE` missing is a WARN with the count; beyond 10 % the ``poses`` step has
    already failed (:func:`..io.video.verify_decoding`)."""
    from neuropose_assets.core.io.video import MISSING_FRAMES_TOLERANCE

    if not decoding:
        return {}, []
    missing, announced = decoding["frames_missing"], decoding["frames_announced"]
    numbers = {"frames_announced": announced, "frames_decoded": decoding["frames_decoded"], "frames_missing": missing}
    if missing <= MISSING_FRAMES_TOLERANCE:
        return numbers, []
    return numbers, [
        Flag(
            "WARN",
            f"{missing} of the {announced} frames that {name} announces could not be decoded "
            f"({100 * missing / announced:.1f} %): the file is truncated or damaged, so the "
            "end of the recording (or frames inside it) is missing from every result. Copy the "
            "complete original again.",
        )
    ]


#: a keypoint is badly fitted in a frame when its reprojection error exceeds this many times its uncertainty (5 × 2 %
#: of the leg length: the pose model's own segment lengths vary by ~5 % from frame to frame) ...
RESIDUAL_SIGMAS = 5.0
#: ... and the fit of that joint is flagged when that happens in more than this fraction of the frames it is seen
RESIDUAL_FRACTION = 0.10


def fit_residuals(kinematics: pl.DataFrame, sigma_px: float | None, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the model fit (the ``kinematics`` table): a WARN per keypoint whose reprojection error
    exceeds :data:`RESIDUAL_SIGMAS` × ``sigma_px`` in more than :data:`RESIDUAL_FRACTION` of its frames, naming the
    joint and when."""
    cols = [c for c in kinematics.columns if c.endswith("_residual_px")]
    median = kinematics["residual_rms_px"].median() if "residual_rms_px" in kinematics.columns else None
    numbers: dict = {"median_residual_px": round(float(median), 2) if median is not None else None}
    if not sigma_px or not cols:
        return numbers, []
    limit = RESIDUAL_SIGMAS * sigma_px
    t = kinematics["time_s"].to_numpy()
    bad = []
    for c in cols:
        r = kinematics[c].cast(pl.Float64).fill_null(np.nan).to_numpy()
        seen = np.isfinite(r)
        over = seen & (r > limit)
        if seen.sum() and over.sum() > RESIDUAL_FRACTION * seen.sum():
            joint = c.removesuffix("_residual_px").replace("_", " ")
            bad.append(
                f"{joint} ({100 * over.sum() / seen.sum():.0f} % of its frames, {t[over].min():.1f}–"
                f"{t[over].max():.1f} s)"
            )
    numbers["limit_px"] = round(limit, 1)
    if not bad:
        return numbers, []
    return {**numbers, "badly_fitted": "; ".join(bad)}, [
        Flag(
            "WARN",
            f"The skeletal model does not fit these keypoints of {name} (reprojection error above {limit:.0f} px): "
            f"{'; '.join(bad)}. Their joint angles are less certain there: check the review video (a keypoint on the "
            "wrong body part, a limb hidden or mislabelled).",
        )
    ]


def label_flips(times: np.ndarray, uv: np.ndarray) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the pose model's left/right leg labels (:func:`..kinematics.features.left_right_swaps`)
    of the subject's raw 2D joints ``uv`` ``(F, C, 2)`` px at ``times`` s."""
    from neuropose_assets.core.kinematics.features import left_right_swaps

    flips = left_right_swaps(uv)
    numbers = {"label_flips": len(flips)}
    if not len(flips):
        return numbers, []
    when = ", ".join(f"{times[f]:.2f}" for f in flips[:10]) + (" …" if len(flips) > 10 else "")
    return {**numbers, "at_s": when}, [
        Flag(
            "WARN",
            f"The pose model swapped the subject's left and right legs {len(flips)} time(s) (at {when} s). "
            "Left/right events and outcomes around these times may belong to the other side; check the video at those "
            "times, or record with the subject's side facing the camera.",
        )
    ]


def repetition_problems(task: dict, repetitions: pl.DataFrame, events: pl.DataFrame) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the repetitions of a task (``task``: a row of the ``task`` table): none found, fewer
    than two gait cycles per foot, a count other than the protocol's, heel strikes that do not alternate, incomplete
    repetitions left out (only complete ones count, :mod:`.events`)."""
    problems = []
    listed = repetitions
    if "complete" in repetitions.columns:
        repetitions = repetitions.filter(pl.col("complete"))
    excluded = listed.height - repetitions.height
    if excluded:
        when = ", ".join(
            f"{r['start_s']:.1f}–{r['end_s']:.1f} s" for r in listed.filter(~pl.col("complete")).iter_rows(named=True)
        )
        problems.append(
            f"{excluded} incomplete repetition(s) ({when}: cut off by the recording, not completed, or "
            "not observed) listed but left out of counts and means"
        )
    per_side = {s or "both": n for s, n in repetitions.group_by("side").len().iter_rows()}
    if task["task"] == "gait":
        for side in ("left", "right"):
            if per_side.get(side, 0) < 2:
                problems.append(
                    f"{per_side.get(side, 0)} gait cycle(s) of the {side} foot (cadence, stance and "
                    "variability need at least two per foot)"
                )
        sides = events.filter(pl.col("event") == "heel_strike").sort("frame")["side"].to_list()
        repeats = sum(a == b for a, b in zip(sides, sides[1:]))
        if repeats:
            problems.append(
                f"{repeats} heel strike(s) followed one of the same foot: a step was missed "
                "or the left and right legs were confused"
            )
    elif repetitions.height == 0:
        problems.append(
            f"no {task['task']} repetition was found: check that the declared task ({task['task']}) is "
            "what the video shows and that the whole movement is in view"
        )
    expected = task["expected_repetitions"]
    if expected is not None:
        sided = task["task"] in ("gait", "arm_raise") and any(k in per_side for k in ("left", "right"))
        counts = [per_side.get(s, 0) for s in ("left", "right")] if sided else [repetitions.height]
        if any(c != expected for c in counts):
            problems.append(f"the protocol expects {expected} repetition(s), found {counts}")
    numbers = {"repetitions": repetitions.height, "per_side": per_side, "excluded_incomplete": excluded}
    return numbers, ([Flag("WARN", "; ".join(problems) + ".")] if problems else [])


def undeclared(task: dict, name: str) -> list[Flag]:
    """A WARN when no task was declared for the video (it was analysed as ``generic``)."""
    if task["declared"]:
        return []
    return [
        Flag(
            "WARN",
            f"No task was declared for {name}; it was analysed as 'generic' (a configurable signal). "
            "Declare the task in the cohort's protocol.yaml (e.g. '\"*walk*\": {task: gait}') or with "
            "`neuropose-assets run VIDEO --task gait`, "
            "and the task-dependent assets re-run.",
        )
    ]


#: the 3D axes must follow the image axes (x right, y down): correlation of centred 3D x (y) with image u (v) below
#: this means the 3D frame is mirrored or rotated against the picture (real clips: ≥ 0.95)
MIN_AXIS_CORRELATION = 0.5


def coordinate_frame(xyz: np.ndarray, uv: np.ndarray, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the coordinate frame of a video's poses (:mod:`..kinematics.frames`): the subject's 3D
    joints ``xyz`` ``(F, C, 3)`` mm (camera frame: x right, y down) against its 2D joints ``uv`` ``(F, C, 2)`` px.

    * **axes** (ERROR): per frame, joints centred on their mean; the 3D x must correlate with the image u and the 3D
      y with the image v (Pearson r ≥ :data:`MIN_AXIS_CORRELATION`).  A negative r is a flipped axis — the message
      names it — e.g. a model or converter that writes y up; every left/right and up/down result would be wrong.
    * **handedness** (WARN): the joints named left / right against the feet (:func:`..kinematics.frames.handedness`).  A
      video's model can mirror the whole body when it sees the subject from behind; more than half of the frames
      mirrored means left and right results may be exchanged.

    Marker-based capture needs neither: its frame is verified when it is imported
    (:func:`..kinematics.frames.lab_to_camera`)."""
    from neuropose_assets.core.kinematics.frames import CAMERA_UP, handedness

    numbers: dict = {}
    flags: list[Flag] = []
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without the subject: all-NaN means
        x = xyz[..., :2] - np.nanmean(xyz[..., :2], axis=1, keepdims=True)
        u = uv - np.nanmean(uv, axis=1, keepdims=True)
    for k, (axis, image) in enumerate((("x", "u (image right)"), ("y", "v (image down)"))):
        ok = np.isfinite(x[..., k]) & np.isfinite(u[..., k])
        if ok.sum() < 10:
            continue  # no 2D (or too little) to compare with
        r = float(np.corrcoef(x[..., k][ok], u[..., k][ok])[0, 1])
        numbers[f"{axis}_vs_image_r"] = round(r, 3)
        if not r >= MIN_AXIS_CORRELATION:
            flags.append(
                Flag(
                    "ERROR",
                    f"{name}: the 3D {axis} axis does not follow the image's {image} axis "
                    f"(correlation {r:.2f}): "
                    + (f"it is flipped — flip {axis} back" if r < 0 else "the axes are swapped or rotated")
                    + "; the poses' left/right and up/down "
                    "would be wrong, so nothing should be analysed until the model output is "
                    "fixed.",
                )
            )
    frac, n = handedness(xyz, CAMERA_UP)
    if n:
        numbers["mirrored_fraction"] = round(frac, 3)
        if frac > 0.5:
            flags.append(
                Flag(
                    "WARN",
                    f"{name}: in {100 * frac:.0f} % of {n} frames the joints named 'right' lie on "
                    "the subject's left (checked against the feet's heel → toe direction): the pose "
                    "model may have mirrored the body (e.g. seen from behind). Left and right "
                    "events and outcomes may be exchanged; check the review video.",
                )
            )
    return numbers, flags


def camera_view(view: dict | None, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the declared against the measured camera view (the ``outcomes`` provenance's
    ``camera_view`` entry, :mod:`.view`): a contradiction is an ERROR naming both (the outcomes that rest on the view
    are already null)."""
    if not view or not view.get("applicable", True):
        return {"camera_view": "not applicable (marker-based capture)"}, []
    m = view["measured"]
    numbers = {
        "declared": view["declared"],
        "measured": m["view"],
        "angle_deg": m["angle_deg"],
        "iqr_deg": list(m["iqr_deg"]) if m["iqr_deg"] else None,
        "used": view["used"],
    }
    if view.get("contradiction"):
        return numbers, [
            Flag(
                "ERROR",
                f"{name}: {view['contradiction']}. Outcomes that assume the declared view are "
                "null. Correct camera_view in the protocol (or omit it: the measured view is "
                "then used), then re-run the task stages.",
            )
        ]
    return numbers, []


def implausible_outcomes(outcomes: pl.DataFrame, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for outcomes nulled by the plausibility gates (:data:`.outcomes.PLAUSIBLE`): a WARN naming
    each, with its reason."""
    bad = outcomes.filter(pl.col("null_reason").str.starts_with("implausible"))
    numbers = {"implausible": bad.height}
    if not bad.height:
        return numbers, []
    items = "; ".join(
        f"{r['measure']}: {r['null_reason'].removeprefix('implausible: ')}" for r in bad.iter_rows(named=True)
    )
    return numbers, [
        Flag(
            "WARN",
            f"{name}: {bad.height} outcome(s) outside their plausible range, reported as "
            f"null — {items}. Check the events in the review video.",
        )
    ]


# ---------------------------------------------------------------------------------------- the checks, on the files


def _read(layout, asset: str, key: str, columns: list[str] | None = None) -> pl.DataFrame:
    return pl.read_parquet(layout.asset_file(asset, key), columns=columns)


def _prov(layout, asset: str, key: str) -> dict:
    from neuropose_assets.core.io.tables import read_provenance

    return read_provenance(layout.asset_file(asset, key))


def check_subject_detected(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``subject_detected`` check on partition ``key``: :func:`subject_coverage` of
    its ``poses`` table."""
    return subject_coverage(_read(layout, "poses", key, ["frame", "track", "is_subject"]), key)


def check_decoding_complete(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``decoding_complete`` check: :func:`decoding_loss` of the ``poses``
    provenance's ``decoding`` entry."""
    return decoding_loss(_prov(layout, "poses", key).get("decoding"), key)


def check_fit_residual(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``fit_residual`` check: :func:`fit_residuals` of the ``kinematics`` table,
    with the keypoint uncertainty ``sigma_px`` its provenance records."""
    sigma = (_prov(layout, "kinematics", key).get("configs", {}).get("kinematics") or {}).get("sigma_px")
    return fit_residuals(_read(layout, "kinematics", key), sigma, key)


def _subject_arrays(layout, key: str) -> tuple[dict, tuple]:
    from neuropose_assets.core.kinematics.features import person_arrays
    from neuropose_assets.core.kinematics.skeletons import get_skeleton

    model = _prov(layout, "poses", key)["model"]
    return model, person_arrays(_read(layout, "poses", key), get_skeleton(model["skeleton"]))


def check_left_right_consistent(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``left_right_consistent`` check: :func:`label_flips` of the subject's 2D
    joints in ``poses``."""
    _, (_, times, _, uv) = _subject_arrays(layout, key)
    return label_flips(times, uv)


def check_coordinate_frame(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``coordinate_frame`` check: :func:`coordinate_frame` of the subject's 3D and
    2D joints in ``poses``; for marker-based capture, the lab frame verified at import (never a flag)."""
    from neuropose_assets.core.pose.base import MARKER_CAPTURE

    model = _prov(layout, "poses", key)["model"]
    if model["name"] == MARKER_CAPTURE:  # verified (or refused) when the file was imported
        lab = model["settings"]["lab_to_camera"]
        return {
            "lab_vertical": lab["up"],
            "walking_direction": lab["heading"],
            "mirrored_fraction": lab["mirrored_fraction"],
        }, []
    _, (_, _, xyz, uv) = _subject_arrays(layout, key)
    return coordinate_frame(xyz, uv, key)


def check_task_declared(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``task_declared`` check: the task and what declared it (``task`` table),
    and :func:`undeclared`."""
    row = _read(layout, "task", key).row(0, named=True)
    return {"task": row["task"], "declared_by": row["declared_by"] or "nothing"}, undeclared(row, key)


def check_repetitions_found(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``repetitions_found`` check: :func:`repetition_problems` of the ``task``,
    ``repetitions`` and ``events`` tables, each message prefixed with ``key``."""
    numbers, flags = repetition_problems(
        _read(layout, "task", key).row(0, named=True), _read(layout, "repetitions", key), _read(layout, "events", key)
    )
    return numbers, [Flag(f.severity, f"{key}: {f.message}") for f in flags]


def check_camera_view_consistent(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``camera_view_consistent`` check: :func:`camera_view` of the ``outcomes``
    provenance's ``camera_view`` entry."""
    return camera_view(_prov(layout, "outcomes", key).get("camera_view"), key)


def check_outcomes_plausible(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``outcomes_plausible`` check: :func:`implausible_outcomes` of the
    ``outcomes`` table."""
    return implausible_outcomes(_read(layout, "outcomes", key), key)


def task_motion(task_check: dict | None, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the declared task against the movement (the ``events`` provenance's ``task_check``,
    :mod:`.task_check`): a WARN naming the declared task, what the movement looks like and the evidence."""
    if not task_check:
        return {"task_check": "not applicable (generic task or marker-based capture)"}, []
    numbers = {k: v["present"] for k, v in task_check["evidence"].items()}
    if not task_check.get("contradiction"):
        return numbers, []
    return numbers, [
        Flag(
            "WARN",
            f"{name}: {task_check['contradiction']}. The task outcomes are null until the "
            "declaration (protocol.yaml or --task) is corrected and the task stages re-run.",
        )
    ]


def check_task_matches_motion(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``task_matches_motion`` check: :func:`task_motion` of the ``events``
    provenance's ``task_check`` entry."""
    return task_motion(_prov(layout, "events", key).get("task_check"), key)


def check_reference_consistent(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``reference_consistent`` check: a WARN listing what
    :func:`..comparison.agreement.reference_problems` finds in the ``reference_events`` table (nothing when it is
    empty)."""
    from neuropose_assets.core.comparison.agreement import reference_problems

    ref = _read(layout, "reference_events", key)
    problems = reference_problems(ref) if ref.height else []
    numbers = {"reference_events": ref.height}
    if not problems:
        return numbers, []
    return numbers, [
        Flag(
            "WARN",
            f"{key}: the recorded reference events look inconsistent — {'; '.join(problems)}. "
            "An agreement against them measures the reference, not the detector.",
        )
    ]


def check_tug_phases_plausible(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``tug_phases_plausible`` check: a WARN listing
    :func:`.outcomes.tug_phase_problems` of the ``events`` table (nothing for a task other than ``tug``)."""
    from neuropose_assets.core.analysis.outcomes import tug_phase_problems

    if _read(layout, "task", key)["task"][0] != "tug":
        return {"tug": "not a TUG"}, []
    problems = tug_phase_problems(_read(layout, "events", key))
    if not problems:
        return {"problems": 0}, []
    return {"problems": len(problems)}, [
        Flag(
            "WARN",
            f"{key}: the TUG's phases look implausible — "
            f"{'; '.join(problems)}. Check the phase times in the review "
            "video before using them.",
        )
    ]


def check_unique_content(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``unique_content`` check: a WARN naming the other partitions whose
    ``raw_video`` has the same SHA-256 (:func:`..io.rawvideo.claimants`)."""
    from neuropose_assets.core.io.rawvideo import claimants

    sha = _read(layout, "raw_video", key, ["sha256"])["sha256"][0]
    others = sorted(claimants(layout, sha) - {key})
    if not others:
        return {}, []
    return {"same_content_as": ", ".join(others)}, [
        Flag(
            "WARN",
            f"{key} is the same recording as {', '.join(others)} (identical SHA-256): count it once in analyses, "
            "or remove the duplicate delivery.",
        )
    ]


def check_visits_consistent(layout, key: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` of the ``visits_consistent`` check on cohort ``key``: a WARN per subject whose videos'
    declarations contradict each other (:func:`.tasks.visit_problems`)."""
    from neuropose_assets.core.analysis.tasks import visit_problems

    problems = visit_problems(_read(layout, "cohort_outcomes", key))
    numbers = {"subjects_with_problems": len(problems)}
    return numbers, [
        Flag("WARN", f"subject {subject}: {'; '.join(found)}.") for subject, found in sorted(problems.items())
    ]


@dataclass(frozen=True)
class QualityCheck:
    """One quality check: its ``name`` (the Dagster asset check's), the ``asset`` whose file(s) it reads, whether a
    failure stops the downstream assets (``blocking``), what it checks (``description``) and ``fn(layout, key)``."""

    asset: str
    name: str
    description: str
    fn: object
    blocking: bool = False


#: every quality check, in the order they run (within their asset's step) and are listed in the report
CHECKS: tuple[QualityCheck, ...] = (
    QualityCheck(
        "raw_video",
        "unique_content",
        "Warns when the same recording (same SHA-256) was delivered under another partition too.",
        check_unique_content,
    ),
    QualityCheck(
        "poses",
        "subject_detected",
        f"The subject was found: fails (blocking) when the subject is visible "
        f"in fewer than {MIN_SUBJECT_COVERAGE:.0%} of the frames (or nobody at all was detected), warns "
        "below 50 %.",
        check_subject_detected,
        blocking=True,
    ),
    QualityCheck(
        "poses",
        "decoding_complete",
        "Every frame the video file announces was decoded: warns with the "
        "count when more than one is missing (a truncated or damaged file; more than 10 % missing fails the "
        "poses step).",
        check_decoding_complete,
    ),
    QualityCheck(
        "poses",
        "coordinate_frame",
        "The coordinate frame is what it claims: for video, the 3D axes follow "
        "the image axes (fails, blocking, when an axis is flipped or swapped) and the joints named "
        "left/right agree with the feet (warns when the body is mirrored); for marker-based capture, reports "
        "the lab frame verified at import.",
        check_coordinate_frame,
        blocking=True,
    ),
    QualityCheck(
        "poses",
        "left_right_consistent",
        "Warns when the pose model's left and right leg labels flip "
        "between frames (turning, seen from behind): left/right outcomes and events may then be swapped.",
        check_left_right_consistent,
    ),
    QualityCheck(
        "kinematics",
        "fit_residual",
        "The skeletal model fits the keypoints: warns, naming the joint and "
        "the times, when a keypoint's reprojection error exceeds 5 × its uncertainty (≈ 10 % of the leg "
        "length) in more than 10 % of the frames it is seen (a keypoint on the wrong body part, a limb the "
        "model cannot reach, a mislabelled side).",
        check_fit_residual,
    ),
    QualityCheck(
        "task",
        "task_declared",
        "Warns when no task was declared for the video (protocol.yaml in the "
        "cohort's intake folder, or --task): it is then analysed as 'generic', which is wrong for most "
        "clinical tasks.",
        check_task_declared,
    ),
    QualityCheck(
        "repetitions",
        "repetitions_found",
        "Warns when the task found no repetition, fewer than two gait "
        "cycles per foot, another count than the protocol expects, heel strikes that do not alternate "
        "between the feet, or incomplete repetitions (listed, not counted).",
        check_repetitions_found,
    ),
    QualityCheck(
        "events",
        "task_matches_motion",
        "The declared task agrees with the movement: warns when the "
        "video lacks the declared task's signature (e.g. alternating steps for gait, rising from a seat for "
        "sit_to_stand) and shows another task's (neuropose_assets.core.analysis.task_check).",
        check_task_matches_motion,
    ),
    QualityCheck(
        "reference_events",
        "reference_consistent",
        "The events recorded with marker data (C3D events, "
        "force-plate contacts) are themselves plausible: warns on contacts without a side, a foot with no "
        "heel strike, or stance phases outside 0.2–2.0 s.",
        check_reference_consistent,
    ),
    QualityCheck(
        "outcomes",
        "tug_phases_plausible",
        "For a Timed Up and Go: warns when the phases look wrong — no "
        "turn, a turn longer than both walks, sitting before the second turn, no step while walking, the "
        "stand or the sit missing.",
        check_tug_phases_plausible,
    ),
    QualityCheck(
        "outcomes",
        "camera_view_consistent",
        "The declared camera view agrees with the view measured from "
        "the movement (angle between the body's frontal plane and the image plane): fails with ERROR, "
        "naming both, when they contradict — outcomes that rest on the view (image-based step lengths and "
        "gait speed) are then null.",
        check_camera_view_consistent,
    ),
    QualityCheck(
        "outcomes",
        "outcomes_plausible",
        "Warns when an outcome fell outside its plausible range (stride "
        "and step time, step and stride length, cadence, gait speed, stride-time CV; ranges and sources in "
        "neuropose_assets.core.analysis.outcomes.PLAUSIBLE) and was reported as null.",
        check_outcomes_plausible,
    ),
    QualityCheck(
        "cohort_outcomes",
        "visits_consistent",
        "The cohort's subject and session declarations agree: warns per subject whose sessions mix dates and "
        "ordinals (no change is computed: their order is unknown), whose videos declare different populations, "
        "sexes or groups (no change verdict), or whose age is below its population's (a mistyped age?).",
        check_visits_consistent,
    ),
)


#: the assets of a cohort partition (their checks judge a cohort, not a video)
COHORT_ASSETS = frozenset({"cohort_outcomes"})


def evaluate(layout, key: str, assets: tuple[str, ...] | None = None) -> list[tuple[QualityCheck, dict, list[Flag]]]:
    """Every quality check of ``assets`` (default: every per-video check) on partition ``key`` whose file exists:
    ``[(check, numbers, flags)]`` — the flags the report shows, the same the asset checks report."""
    out = []
    for c in CHECKS:
        if (c.asset in assets if assets is not None else c.asset not in COHORT_ASSETS) and layout.asset_file(
            c.asset, key
        ).exists():
            numbers, flags = c.fn(layout, key)
            out.append((c, numbers, flags))
    return out


def failed_checks(layout, key: str) -> str:
    """The failed quality checks of a video, ``"WARN repetitions_found, ERROR camera_view_consistent"`` ("" if none,
    "?" when its files cannot be read): the same checks the UI and the report show."""
    try:
        found = evaluate(layout, key)
    except (OSError, KeyError, ValueError):
        return "?"
    return ", ".join(f"{max(f.severity for f in fl)} {c.name}" for c, _, fl in found if fl)
