"""Quality flags a clinician should see next to the results: subject coverage, left/right label flips, repetitions
that were not found or do not match the protocol.  The asset checks and the per-video report both use these, so the
UI and the report say the same thing.

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
        return numbers, [Flag("ERROR", f"No person was detected in any of the {n} frames of {name}. Check that the "
                                       "whole body is in view, well lit and not too small in the picture, then "
                                       "record again.")]  # fmt: skip
    if coverage < MIN_SUBJECT_COVERAGE:
        return numbers, [Flag("ERROR", f"The subject is visible in only {100 * coverage:.1f} % of the {n} frames of "
                                       f"{name} ({tracks} person tracks): the results would describe a fragment of "
                                       "the recording, or someone else. Trim the video to the test itself, or choose "
                                       "another subject policy (poses config subject_policy: largest_box for the "
                                       "person closest to the camera, most_central), then re-run.")]  # fmt: skip
    if coverage < 0.5:
        return numbers, [Flag("WARN", f"The subject is visible in only {100 * coverage:.0f} % of the frames of "
                                      f"{name}; results cover the visible part only.")]  # fmt: skip
    return numbers, []


def decoding_loss(decoding: dict | None, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the frames a video announces but that could not be decoded (``decoding``: the
    ``poses`` provenance's ``decoding`` entry; ``None`` for marker files).  More than
    :data:`.video.MISSING_FRAMES_TOLERANCE` missing is a WARN with the count; beyond 10 % the ``poses`` step has
    already failed (:func:`.video.verify_decoding`)."""
    from neuropose_assets.core.video import MISSING_FRAMES_TOLERANCE

    if not decoding:
        return {}, []
    missing, announced = decoding["frames_missing"], decoding["frames_announced"]
    numbers = {"frames_announced": announced, "frames_decoded": decoding["frames_decoded"], "frames_missing": missing}
    if missing <= MISSING_FRAMES_TOLERANCE:
        return numbers, []
    return numbers, [Flag("WARN", f"{missing} of the {announced} frames that {name} announces could not be decoded "
                                  f"({100 * missing / announced:.1f} %): the file is truncated or damaged, so the "
                                  "end of the recording (or frames inside it) is missing from every result. Copy the "
                                  "complete original again.")]  # fmt: skip


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
            bad.append(f"{joint} ({100 * over.sum() / seen.sum():.0f} % of its frames, {t[over].min():.1f}–"
                       f"{t[over].max():.1f} s)")  # fmt: skip
    numbers["limit_px"] = round(limit, 1)
    if not bad:
        return numbers, []
    return {**numbers, "badly_fitted": "; ".join(bad)}, [Flag(
        "WARN", f"The skeletal model does not fit these keypoints of {name} (reprojection error above {limit:.0f} px): "
        f"{'; '.join(bad)}. Their joint angles are less certain there: check the review video (a keypoint on the "
        "wrong body part, a limb hidden or mislabelled).")]  # fmt: skip


def label_flips(times: np.ndarray, uv: np.ndarray) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the pose model's left/right leg labels (:func:`.kinematics.left_right_swaps`) of the
    subject's raw 2D joints ``uv`` ``(F, C, 2)`` px at ``times`` s."""
    from neuropose_assets.core.kinematics import left_right_swaps

    flips = left_right_swaps(uv)
    numbers = {"label_flips": len(flips)}
    if not len(flips):
        return numbers, []
    when = ", ".join(f"{times[f]:.2f}" for f in flips[:10]) + (" …" if len(flips) > 10 else "")
    return {**numbers, "at_s": when}, [Flag(
        "WARN", f"The pose model swapped the subject's left and right legs {len(flips)} time(s) (at {when} s). "
        "Left/right events and outcomes around these times may belong to the other side; check the video at those "
        "times, or record with the subject's side facing the camera.")]  # fmt: skip


def repetition_problems(task: dict, repetitions: pl.DataFrame, events: pl.DataFrame) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the repetitions of a task (``task``: a row of the ``task`` table): none found, fewer
    than two gait cycles per foot, a count other than the protocol's, heel strikes that do not alternate."""
    problems = []
    per_side = {s or "both": n for s, n in repetitions.group_by("side").len().iter_rows()}
    if task["task"] == "gait":
        for side in ("left", "right"):
            if per_side.get(side, 0) < 2:
                problems.append(f"{per_side.get(side, 0)} gait cycle(s) of the {side} foot (cadence, stance and "
                                "variability need at least two per foot)")  # fmt: skip
        sides = events.filter(pl.col("event") == "heel_strike").sort("frame")["side"].to_list()
        repeats = sum(a == b for a, b in zip(sides, sides[1:]))
        if repeats:
            problems.append(f"{repeats} heel strike(s) followed one of the same foot: a step was missed or the left and "
                            "right legs were confused")  # fmt: skip
    elif repetitions.height == 0:
        problems.append(f"no {task['task']} repetition was found: check that the declared task ({task['task']}) is "
                        "what the video shows and that the whole movement is in view")  # fmt: skip
    expected = task["expected_repetitions"]
    if expected is not None:
        sided = task["task"] in ("gait", "arm_raise") and any(k in per_side for k in ("left", "right"))
        counts = [per_side.get(s, 0) for s in ("left", "right")] if sided else [repetitions.height]
        if any(c != expected for c in counts):
            problems.append(f"the protocol expects {expected} repetition(s), found {counts}")
    numbers = {"repetitions": repetitions.height, "per_side": per_side}
    return numbers, ([Flag("WARN", "; ".join(problems) + ".")] if problems else [])


def undeclared(task: dict, name: str) -> list[Flag]:
    """A WARN when no task was declared for the video (it was analysed as ``generic``)."""
    if task["declared"]:
        return []
    return [Flag("WARN", f"No task was declared for {name}; it was analysed as 'generic' (a configurable signal). "
                         "Declare the task in the cohort's protocol.yaml (e.g. '\"*walk*\": {task: gait}') or with "
                         "`neuropose-assets run VIDEO --task gait`, and the task-dependent assets re-run.")]  # fmt: skip


#: the 3D axes must follow the image axes (x right, y down): correlation of centred 3D x (y) with image u (v) below
#: this means the 3D frame is mirrored or rotated against the picture (real clips: ≥ 0.95)
MIN_AXIS_CORRELATION = 0.5


def coordinate_frame(xyz: np.ndarray, uv: np.ndarray, name: str) -> tuple[dict, list[Flag]]:
    """``(numbers, flags)`` for the coordinate frame of a video's poses (:mod:`.frames`): the subject's 3D joints
    ``xyz`` ``(F, C, 3)`` mm (camera frame: x right, y down) against its 2D joints ``uv`` ``(F, C, 2)`` px.

    * **axes** (ERROR): per frame, joints centred on their mean; the 3D x must correlate with the image u and the 3D
      y with the image v (Pearson r ≥ :data:`MIN_AXIS_CORRELATION`).  A negative r is a flipped axis — the message
      names it — e.g. a model or converter that writes y up; every left/right and up/down result would be wrong.
    * **handedness** (WARN): the joints named left / right against the feet (:func:`.frames.handedness`).  A video's
      model can mirror the whole body when it sees the subject from behind; more than half of the frames mirrored
      means left and right results may be exchanged.

    Marker-based capture needs neither: its frame is verified when it is imported (:func:`.frames.lab_to_camera`).
    """
    from neuropose_assets.core.frames import CAMERA_UP, handedness

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
            flags.append(Flag("ERROR", f"{name}: the 3D {axis} axis does not follow the image's {image} axis "
                                       f"(correlation {r:.2f}): " + (f"it is flipped — flip {axis} back" if r < 0 else
                                       "the axes are swapped or rotated") + "; the poses' left/right and up/down "
                                       "would be wrong, so nothing should be analysed until the model output is "
                                       "fixed."))  # fmt: skip
    frac, n = handedness(xyz, CAMERA_UP)
    if n:
        numbers["mirrored_fraction"] = round(frac, 3)
        if frac > 0.5:
            flags.append(Flag("WARN", f"{name}: in {100 * frac:.0f} % of {n} frames the joints named 'right' lie on "
                                      "the subject's left (checked against the feet's heel → toe direction): the pose "
                                      "model may have mirrored the body (e.g. seen from behind). Left and right "
                                      "events and outcomes may be exchanged; check the review video."))  # fmt: skip
    return numbers, flags
