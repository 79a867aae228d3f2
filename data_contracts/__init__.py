"""Data contracts (pandera.polars schemas) for every table neuropose-assets writes.

Each schema states columns, dtypes, units (in the column suffix: ``_mm``, ``_px``, ``_s``, ``_deg``) and allowed
ranges.  The Dagster layer enforces them with blocking asset checks; notebooks and tests can call
``SCHEMAS[name].validate(df)`` directly.  See ``data_contracts/README.md`` for the human-readable version.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from neuropose_assets.core.analysis.events import EVENT_NAMES
from neuropose_assets.core.analysis.tasks import TASKS
from neuropose_assets.core.kinematics.biomech import COORDINATES as BIOMECH_COORDINATES
from neuropose_assets.core.kinematics.biomech import TRANSLATIONS as BIOMECH_TRANSLATIONS
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS

_CLINICAL = "|".join(CLINICAL_JOINTS)

# generous physical bounds: they catch unit mistakes (m vs mm) and corrupt values, not unusual movement
_ABS_MM = 100_000.0  # absolute camera coordinates (MeTRAbs) up to 100 m
_REL_MM = 3_000.0  # root-centred joints: no body point is 3 m from the pelvis
_PX = 100_000.0


def _f(dtype, *checks, nullable: bool = True, regex: bool = False, required: bool = True) -> pa.Column:
    return pa.Column(dtype, checks=list(checks), nullable=nullable, regex=regex, required=required)


RAW_VIDEO = pa.DataFrameSchema(
    {
        "partition": _f(pl.Utf8, nullable=False),
        "cohort": _f(pl.Utf8, nullable=False),
        "sha256": _f(pl.Utf8, pa.Check.str_matches(r"^[0-9a-f]{64}$"), nullable=False),
        "size_bytes": _f(pl.Int64, pa.Check.gt(0), nullable=False),
        "source_name": _f(pl.Utf8, nullable=False),
        "stored_path": _f(pl.Utf8, nullable=False),
        "fps": _f(pl.Float64, pa.Check.gt(0), nullable=False),
        "frame_count": _f(pl.Int64, pa.Check.ge(0), nullable=False),
        "duration_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "width_px": _f(pl.Int32, pa.Check.gt(0)),  # null for marker files (no image)
        "height_px": _f(pl.Int32, pa.Check.gt(0)),
        "rotation_deg": _f(pl.Int32, pa.Check.isin([0, 90, 180, 270]), nullable=False),
        "codec": _f(pl.Utf8, nullable=False),
    },
    strict=True,
    name="raw_video",
)

POSES = pa.DataFrameSchema(
    {
        "frame": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "time_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "track": _f(pl.Int32, pa.Check.ge(0)),
        "is_subject": _f(pl.Boolean, nullable=False),
        "n_persons": _f(pl.Int16, pa.Check.ge(0), nullable=False),
        "box_[xywh]_px": _f(pl.Float32, pa.Check.in_range(-_PX, _PX), regex=True),
        "box_conf": _f(pl.Float32, pa.Check.in_range(0, 1)),
        r".+_[xyz]_mm": _f(pl.Float64, pa.Check.in_range(-_ABS_MM, _ABS_MM), regex=True),
        r".+_[uv]_px": _f(pl.Float32, pa.Check.in_range(-_PX, _PX), regex=True),
        r".+_conf": _f(pl.Float32, pa.Check.in_range(0, 1), regex=True),
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("frame").is_sorted()), name="frames_sorted")],
    strict=True,
    name="poses",
)

FEATURES = pa.DataFrameSchema(
    {
        "frame": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "time_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "subject_present": _f(pl.Boolean, nullable=False),
        "root_[xyz]_mm": _f(pl.Float64, pa.Check.in_range(-_ABS_MM, _ABS_MM), regex=True),
        rf"^({_CLINICAL})_[xyz]_mm$": _f(pl.Float64, pa.Check.in_range(-_REL_MM, _REL_MM), regex=True),
        # only present when features were scale-normalised (FeaturesConfig.scale_segment)
        rf"^({_CLINICAL})_[xyz]_norm$": _f(pl.Float64, pa.Check.in_range(-10, 10), regex=True, required=False),
        rf"^({_CLINICAL})_[uv]_px$": _f(pl.Float64, pa.Check.in_range(-_PX, _PX), regex=True),
        rf"^({_CLINICAL})_conf$": _f(pl.Float64, pa.Check.in_range(0, 1), regex=True),
        rf"^({_CLINICAL})_speed_mm_s$": _f(pl.Float64, pa.Check.in_range(0, 100_000), regex=True),
        r".+_deg": _f(pl.Float64, pa.Check.in_range(-180, 180), regex=True),
    },
    unique=["frame"],
    strict=True,
    name="features",
)

_COORD_DEG = "|".join(c for c in BIOMECH_COORDINATES if c not in BIOMECH_TRANSLATIONS)
KINEMATICS = pa.DataFrameSchema(
    {
        "frame": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "time_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "subject_present": _f(pl.Boolean, nullable=False),
        rf"^({_COORD_DEG})_deg$": _f(pl.Float64, pa.Check.in_range(-180, 180), regex=True),
        r"^pelvis_t[xyz]_m$": _f(pl.Float64, pa.Check.in_range(-1000, 1000), regex=True),
        rf"^({_COORD_DEG})_sd_deg$": _f(pl.Float64, pa.Check.ge(0), regex=True),
        r"^pelvis_t[xyz]_sd_m$": _f(pl.Float64, pa.Check.ge(0), regex=True),
        r".+_residual_px$": _f(pl.Float32, pa.Check.ge(0), regex=True),
        r".+_residual_mm$": _f(pl.Float32, pa.Check.ge(0), regex=True),
        "residual_rms_px": _f(pl.Float32, pa.Check.ge(0)),
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("frame").is_sorted()), name="frames_sorted")],
    unique=["frame"],
    strict=True,
    name="kinematics",
)

#: the subject and session of a video (null where not declared): in the task and cohort tables
_VISIT = {
    "subject": _f(pl.Utf8),
    "session": _f(pl.Utf8),
    "age_years": _f(pl.Float64, pa.Check.in_range(0, 120)),
    "sex": _f(pl.Utf8, pa.Check.isin(["female", "male"])),
    "population": _f(pl.Utf8),
    "group": _f(pl.Utf8),
}
_VISIT_DESCRIPTIONS = {
    "subject": "pseudonymous subject ID (protocol.yaml identify / subject, or --subject); null: not declared",
    "session": "session: an ISO date or an ordinal (2, S02, V3); null: not declared",
    "age_years": "the subject's age, years (protocol.yaml subjects)",
    "sex": "the subject's sex: female / male (protocol.yaml subjects)",
    "population": "the subject's population, e.g. stroke, parkinson, older_adult, healthy (protocol.yaml subjects)",
    "group": "the subject's study group (protocol.yaml subjects)",
}

TASK = pa.DataFrameSchema(
    {
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "side": _f(pl.Utf8, pa.Check.isin(["left", "right", "both"])),
        "expected_repetitions": _f(pl.Int32, pa.Check.ge(1)),
        "walkway_m": _f(pl.Float64, pa.Check.gt(0)),
        "camera_view": _f(pl.Utf8, pa.Check.isin(["side", "front", "oblique", "unknown"]), nullable=False),
        "height_m": _f(pl.Float64, pa.Check.in_range(0.5, 2.6)),
        "declared": _f(pl.Boolean, nullable=False),
        "declared_by": _f(pl.Utf8),
        "spec_json": _f(pl.Utf8, nullable=False),
        **_VISIT,
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.len() == 1), name="one_row")],
    strict=True,
    name="task",
)

_SIDE = pa.Check.isin(["left", "right"])
EVENTS = pa.DataFrameSchema(
    {
        "event": _f(pl.Utf8, pa.Check.isin(list(EVENT_NAMES)), nullable=False),
        "side": _f(pl.Utf8, _SIDE),
        "frame": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "time_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "value": _f(pl.Float64),
        "unit": _f(pl.Utf8, nullable=False),
        "repetition": _f(pl.Int32, pa.Check.ge(0)),
        "confidence": _f(pl.Float64, pa.Check.in_range(0, 1)),
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("frame").is_sorted()), name="frames_sorted")],
    strict=True,
    name="events",
)

REFERENCE_EVENTS = pa.DataFrameSchema(
    {
        "event": _f(pl.Utf8, pa.Check.isin(["heel_strike", "toe_off"]), nullable=False),
        "side": _f(pl.Utf8, _SIDE),
        "frame": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "time_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "source": _f(pl.Utf8, pa.Check.isin(["c3d_event", "force_plate", "grf_mot"]), nullable=False),
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("frame").is_sorted()), name="frames_sorted")],
    strict=True,
    name="reference_events",
)

OPENSIM_EXPORT = pa.DataFrameSchema(
    {
        "trc_path": _f(pl.Utf8, nullable=False),
        "mot_path": _f(pl.Utf8, nullable=False),
        "csv_path": _f(pl.Utf8, nullable=False),
        "frames": _f(pl.Int64, pa.Check.gt(0), nullable=False),
        "frames_omitted": _f(pl.Int64, pa.Check.ge(0), nullable=False),
        "mot_rows": _f(pl.Int64, pa.Check.ge(0), nullable=False),
        "markers": _f(pl.Utf8, nullable=False),
        "absolute": _f(pl.Boolean, nullable=False),
        "transform_json": _f(pl.Utf8, nullable=False),
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.len() == 1), name="one_row")],
    strict=True,
    name="opensim_export",
)

REPETITIONS = pa.DataFrameSchema(
    {
        "side": _f(pl.Utf8, _SIDE),
        "repetition": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "kind": _f(
            pl.Utf8,
            pa.Check.isin(["gait_cycle", "sit_to_stand", "squat", "arm_raise", "tug", "repetition"]),
            nullable=False,
        ),
        "start_frame": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "peak_frame": _f(pl.Int32, pa.Check.ge(0)),
        "end_frame": _f(pl.Int32, pa.Check.gt(0), nullable=False),
        "start_s": _f(pl.Float64, pa.Check.ge(0), nullable=False),
        "peak_s": _f(pl.Float64, pa.Check.ge(0)),
        "end_s": _f(pl.Float64, pa.Check.gt(0), nullable=False),
        "duration_s": _f(pl.Float64, pa.Check.gt(0), nullable=False),
        "peak_event": _f(pl.Utf8),
        "peak_value": _f(pl.Float64),
        "peak_unit": _f(pl.Utf8, nullable=False),
        "complete": _f(pl.Boolean, nullable=False),
    },
    checks=[
        pa.Check(lambda d: d.lazyframe.select(pl.col("start_frame") < pl.col("end_frame")), name="start<end"),
        pa.Check(
            lambda d: d.lazyframe.select(
                pl.col("peak_frame").is_null()
                | ((pl.col("start_frame") <= pl.col("peak_frame")) & (pl.col("peak_frame") < pl.col("end_frame")))
            ),
            name="start<=peak<end",
        ),
    ],
    unique=["side", "repetition"],
    strict=True,
    name="repetitions",
)

#: every outcome measure name (``core.analysis.outcomes.CATALOGUE``): a unit suffix, or a count
MEASURE_REGEX = r"^(.+_(s|pct|m|m_s|deg|steps_min|30s)|(left_|right_|excluded_)?repetitions|steps|mean_peak_value)$"
#: the bounds of an outcome's 95 % confidence interval in the cohort table: ``<measure>_ci_low`` / ``_ci_high``
CI_REGEX = r"^.+_ci_(low|high)$"

OUTCOMES = pa.DataFrameSchema(
    {
        "measure": pa.Column(pl.Utf8, pa.Check.str_matches(MEASURE_REGEX), nullable=False, unique=True),
        "value": _f(pl.Float64),
        "unit": _f(pl.Utf8, nullable=False),
        "side": _f(pl.Utf8, _SIDE),
        "n": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "ci_low": _f(pl.Float64),
        "ci_high": _f(pl.Float64),
        "ci_method": _f(pl.Utf8),
        "ci_null_reason": _f(pl.Utf8),
        "definition": _f(pl.Utf8, nullable=False),
        "source": _f(pl.Utf8, nullable=False),
        "null_reason": _f(pl.Utf8),
    },
    checks=[
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("value").is_null() == pl.col("null_reason").is_not_null()),
            name="null_iff_reason",
        ),
        pa.Check(
            lambda d: d.lazyframe.select(
                (pl.col("ci_low").is_null() == pl.col("ci_null_reason").is_not_null())
                & (pl.col("ci_low").is_null() == pl.col("ci_high").is_null())
                & (pl.col("ci_low").is_null() == pl.col("ci_method").is_null())
                & (pl.col("ci_low").is_null() | pl.col("value").is_not_null())
            ),
            name="interval_or_reason",
        ),
        pa.Check(
            lambda d: d.lazyframe.select((pl.col("ci_low") <= pl.col("ci_high")).fill_null(True)),
            name="interval_ordered",
        ),
    ],
    strict=True,
    name="outcomes",
)

COHORT_OUTCOMES = pa.DataFrameSchema(
    {
        "partition": pa.Column(pl.Utf8, nullable=False, unique=True),
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "declared": _f(pl.Boolean, nullable=False),
        **_VISIT,
        MEASURE_REGEX: _f(pl.Float64, regex=True, required=False),
        CI_REGEX: _f(pl.Float64, regex=True, required=False),
    },
    strict=True,
    name="cohort_outcomes",
)

_DTW_COMMON = {
    "distance": _f(pl.Float64, pa.Check.ge(0), nullable=False),
    "path_length": _f(pl.Int32, pa.Check.ge(1), nullable=False),
    "normalized_distance": _f(pl.Float64, pa.Check.ge(0), nullable=False),
}
REPETITION_DTW = pa.DataFrameSchema(
    {
        "a": _f(pl.Utf8, nullable=False),
        "b": _f(pl.Utf8, nullable=False),
        "unit": _f(pl.Utf8, nullable=False),
        **_DTW_COMMON,
    },
    strict=True,
    name="repetition_dtw",
)
COHORT_DTW = pa.DataFrameSchema(
    {
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "a": _f(pl.Utf8, nullable=False),
        "b": _f(pl.Utf8, nullable=False),
        "unit": _f(pl.Utf8, nullable=False),
        **_DTW_COMMON,
        "subject_a": _f(pl.Utf8),
        "session_a": _f(pl.Utf8),
        "subject_b": _f(pl.Utf8),
        "session_b": _f(pl.Utf8),
    },
    strict=True,
    name="cohort_dtw",
)

SUBJECT_CHANGES = pa.DataFrameSchema(
    {
        "subject": _f(pl.Utf8, nullable=False),
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "measure": _f(pl.Utf8, pa.Check.str_matches(MEASURE_REGEX), nullable=False),
        "unit": _f(pl.Utf8, nullable=False),
        "comparison": _f(pl.Utf8, pa.Check.isin(["consecutive", "baseline"]), nullable=False),
        "session_from": _f(pl.Utf8, nullable=False),
        "session_to": _f(pl.Utf8, nullable=False),
        "value_from": _f(pl.Float64, nullable=False),
        "value_to": _f(pl.Float64, nullable=False),
        "change": _f(pl.Float64, nullable=False),
        "change_ci_low": _f(pl.Float64),
        "change_ci_high": _f(pl.Float64),
        "population": _f(pl.Utf8),
        "threshold": _f(pl.Float64, pa.Check.ge(0)),
        "threshold_statistic": _f(pl.Utf8),
        "threshold_source": _f(pl.Utf8),
        "verdict": _f(pl.Utf8),
        "verdict_null_reason": _f(pl.Utf8),
    },
    checks=[
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("verdict").is_null() == pl.col("verdict_null_reason").is_not_null()),
            name="verdict_or_reason",
        )
    ],
    strict=True,
    name="subject_changes",
)

NORMATIVE_COMPARISON = pa.DataFrameSchema(
    {
        "partition": _f(pl.Utf8, nullable=False),
        "subject": _f(pl.Utf8),
        "measure": _f(pl.Utf8, pa.Check.str_matches(MEASURE_REGEX), nullable=False),
        "value": _f(pl.Float64, nullable=False),
        "kind": _f(pl.Utf8, pa.Check.isin(["norm", "cutoff"]), nullable=False),
        "reference": _f(pl.Float64),
        "reference_low": _f(pl.Float64),
        "reference_high": _f(pl.Float64),
        "boundary": _f(pl.Float64),
        "pct_of_reference": _f(pl.Float64),
        "result": _f(pl.Utf8),
        "null_reason": _f(pl.Utf8),
        "source": _f(pl.Utf8, nullable=False),
    },
    checks=[
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("result").is_null() == pl.col("null_reason").is_not_null()),
            name="result_or_reason",
        )
    ],
    strict=True,
    name="normative_comparison",
)

GROUP_COMPARISON = pa.DataFrameSchema(
    {
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "measure": _f(pl.Utf8, pa.Check.str_matches(MEASURE_REGEX), nullable=False),
        "groups": _f(pl.Utf8, nullable=False),
        "per_group": _f(pl.Utf8, nullable=False),
        "test": _f(pl.Utf8),
        "statistic": _f(pl.Float64),
        "dof": _f(pl.Float64),
        "p_value": _f(pl.Float64, pa.Check.in_range(0, 1)),
        "p_holm": _f(pl.Float64, pa.Check.in_range(0, 1)),
        "effect_size": _f(pl.Float64),
        "effect_kind": _f(pl.Utf8),
        "effect_ci_low": _f(pl.Float64),
        "effect_ci_high": _f(pl.Float64),
        "effect_ci_null_reason": _f(pl.Utf8),
        "null_reason": _f(pl.Utf8),
    },
    checks=[
        pa.Check(
            lambda d: d.lazyframe.select(pl.col("test").is_null() == pl.col("null_reason").is_not_null()),
            name="test_or_reason",
        )
    ],
    strict=True,
    name="group_comparison",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "raw_video": RAW_VIDEO,
    "poses": POSES,
    "kinematics": KINEMATICS,
    "features": FEATURES,
    "task": TASK,
    "events": EVENTS,
    "repetitions": REPETITIONS,
    "reference_events": REFERENCE_EVENTS,
    "opensim_export": OPENSIM_EXPORT,
    "outcomes": OUTCOMES,
    "cohort_outcomes": COHORT_OUTCOMES,
    "repetition_dtw": REPETITION_DTW,
    "cohort_dtw": COHORT_DTW,
    "subject_changes": SUBJECT_CHANGES,
    "normative_comparison": NORMATIVE_COMPARISON,
    "group_comparison": GROUP_COMPARISON,
}

_XYZ = "camera-aligned axes: x image-right, y down, z away from the camera"
_CJ = rf"^({_CLINICAL})"
#: what every column means — units, frames, conventions.  Attached to the schemas below (``Column.description``), so
#: the Dagster UI's column schema (:func:`describe`) and the contracts say the same thing.
DESCRIPTIONS: dict[str, dict[str, str]] = {
    "raw_video": {
        "partition": "partition key of the video",
        "cohort": "cohort key (the intake's top-level folder)",
        "sha256": "SHA-256 of the file's content (the data version)",
        "size_bytes": "file size, bytes",
        "source_name": "delivered file name (the key when pseudonymised)",
        "stored_path": "read-only content-addressed copy that was analysed",
        "fps": "frame rate the container states, frames/s",
        "frame_count": "frames the container announces",
        "duration_s": "frame_count / fps, s",
        "width_px": "width of the upright decoded frame, px (null: marker file)",
        "height_px": "height of the upright decoded frame, px (null: marker file)",
        "rotation_deg": "display rotation applied, deg",
        "codec": "video codec (FourCC), or trc / c3d for marker-based capture (fps = marker rate)",
    },
    "poses": {
        "frame": "decoded frame index, 0-based",
        "time_s": "presentation time of the frame, s",
        "track": "person track id (null: nobody detected in this frame)",
        "is_subject": "this row is the subject",
        "n_persons": "persons detected in the frame",
        "box_[xywh]_px": "person box: left, top, width, height, px",
        "box_conf": "detection confidence, 0–1",
        r".+_[xyz]_mm": f"native joint position, mm; {_XYZ}; origin: the model's (hip midpoint for BlazePose, "
        "camera for MeTRAbs)",
        r".+_[uv]_px": "native joint in the image, px (u right, v down, origin top-left)",
        r".+_conf": "joint confidence / visibility, 0–1",
    },
    "features": {
        "frame": "decoded frame index, 0-based",
        "time_s": "presentation time of the frame, s",
        "subject_present": "the person was detected in this frame (else values are gap-filled or null)",
        "root_[xyz]_mm": f"pelvis position in the model frame, mm ({_XYZ}; 0 for hip-centred BlazePose)",
        _CJ + "_[xyz]_mm$": "clinical joint relative to the pelvis, mm; camera axes (x right, y down, z away) or "
        "the body frame (x anterior, y superior, z right), see the features config",
        _CJ + "_[xyz]_norm$": "the same divided by the subject's median segment length (dimensionless)",
        _CJ + "_[uv]_px$": "clinical joint in the image, px (u right, v down)",
        _CJ + "_conf$": "the pose model's confidence that the joint is seen, 0–1 (null where not observed, also in "
        "gap-filled frames); events are placed only where their joints are observed",
        _CJ + "_speed_mm_s$": "joint speed, mm/s (central differences over the true frame times)",
        r".+_deg": "joint angle of the fitted model, deg: OpenSim coordinates (hip_flexion_r, knee_angle_l, "
        "ankle_angle_r, lumbar_extension, arm_flex_r, elbow_flex_l, …) with OpenSim's signs and zero pose "
        "(neuropose_assets.core.kinematics.biomech: flexion, adduction, internal rotation, dorsiflexion positive), "
        "gaps ≤ max_gap_s filled; shoulder_elevation_{r,l}_deg = humerus vs torso axis, 0° hanging",
    },
    "kinematics": {
        "frame": "decoded frame index, 0-based",
        "time_s": "presentation time of the frame, s",
        "subject_present": "some keypoint of the subject was seen in this frame",
        rf"^({_COORD_DEG})_deg$": "OpenSim model coordinate, deg (rotations; signs and zero pose: "
        "neuropose_assets.core.kinematics.biomech); null where a keypoint it needs is not seen",
        r"^pelvis_t[xyz]_m$": "pelvis (hip-keypoint midpoint) position, m, in the fitted ground frame (X the subject's "
        "mean facing direction, Y the image's up, Z right; origin the camera)",
        rf"^({_COORD_DEG})_sd_deg$": "standard deviation of the coordinate in this frame, deg: what the frame's "
        "keypoints and the model's priors determine (Laplace approximation); the "
        "angle is null above 15°",
        r"^pelvis_t[xyz]_sd_m$": "standard deviation of the pelvis translation, m",
        r".+_residual_px$": "reprojection error of the fitted model's keypoint, px",
        r".+_residual_mm$": "distance of the fitted keypoint from the pose model's root-relative 3D keypoint (scaled "
        "to the declared height, if one is declared), mm",
        "residual_rms_px": "root mean square reprojection error over the keypoints seen, px",
    },
    "task": {
        "task": "declared task (gait, tug, sit_to_stand, squat, arm_raise, generic)",
        "side": "arm_raise: which arm(s)",
        "expected_repetitions": "repetitions the protocol asks for",
        "walkway_m": "walkway length of the protocol, m",
        "camera_view": "side, front, oblique or unknown",
        "height_m": "the subject's standing height, m, if declared (scales the fitted model)",
        "declared": "a protocol or --task declared it (false: analysed as generic)",
        "declared_by": "where the declaration came from",
        "spec_json": "the full task specification (JSON)",
        **_VISIT_DESCRIPTIONS,
    },
    "events": {
        "event": "event name (heel_strike, toe_off, seat_off, standing_reached, sit_start, seated, squat_bottom, "
        "arm_at_top, turn_start, …)",
        "side": "left / right (null for bilateral events)",
        "frame": "frame of the event, 0-based",
        "time_s": "time of the event, s",
        "value": "signal value at the event (unit in `unit`)",
        "unit": "unit of `value`",
        "repetition": "repetition / gait cycle it belongs to (null: an incomplete one)",
        "confidence": "lowest confidence (0–1) at this frame of the joints that define the event (heel strike: the "
        "heel and both hips); events are only placed where it is ≥ min_confidence (null: a generic "
        "signal without joints)",
    },
    "repetitions": {
        "side": "left / right (null for bilateral tasks)",
        "repetition": "number per side, 0-based",
        "kind": "gait_cycle, sit_to_stand, squat, arm_raise, tug or repetition",
        "start_frame": "first frame",
        "peak_frame": "frame of the peak event (gait: toe-off)",
        "end_frame": "end frame (exclusive)",
        "start_s": "start, s",
        "peak_s": "peak event, s",
        "end_s": "end, s",
        "duration_s": "end_s − start_s, s",
        "peak_event": "what the peak is",
        "peak_value": "signal at the peak (unit in peak_unit)",
        "peak_unit": "unit of peak_value",
        "complete": "start and end inside the recording and observed, and rise and fall ≥ 70 % of the trial's typical "
        "excursion; incomplete repetitions are listed but left out of counts and means",
    },
    "outcomes": {
        "measure": "outcome name, with its unit as suffix",
        "value": "value (null: not computable, see null_reason)",
        "unit": "unit",
        "side": "left / right (null: both)",
        "n": "repetitions / cycles / events it is based on",
        "ci_low": "lower bound of the value's 95 % confidence interval, in its unit (null: see ci_null_reason)",
        "ci_high": "upper bound of the value's 95 % confidence interval, in its unit",
        "ci_method": "how the interval was obtained: BCa bootstrap over the repetitions / cycles, or event timing",
        "ci_null_reason": "why there is no interval (a count, too few repetitions, the value is null, ...)",
        "definition": "how it is computed",
        "source": "the reference for the definition",
        "null_reason": "why the value is null",
    },
    "cohort_outcomes": {
        "partition": "video (partition key)",
        "task": "declared task",
        "declared": "whether it was declared",
        **_VISIT_DESCRIPTIONS,
        MEASURE_REGEX: "an outcome (definition and unit: the video's outcomes table and docs/outcomes.md); "
        "null where it does not apply or could not be computed",
        CI_REGEX: "bounds of the outcome's 95 % confidence interval (the video's outcomes table: ci_low, ci_high); "
        "null where it has none",
    },
    "subject_changes": {
        "subject": "pseudonymous subject ID",
        "task": "the task both sessions' videos show",
        "measure": "outcome name, with its unit as suffix",
        "unit": "unit of the values and the change",
        "comparison": "consecutive (against the previous session) or baseline (against the first)",
        "session_from": "the earlier session",
        "session_to": "the later session",
        "value_from": "the outcome in the earlier session (mean of its videos)",
        "value_to": "the outcome in the later session (mean of its videos)",
        "change": "value_to − value_from, in the outcome's unit",
        "change_ci_low": "lower bound of the change's 95 % interval (from the two sessions' intervals; null: a session "
        "has none)",
        "change_ci_high": "upper bound of the change's 95 % interval",
        "population": "the subject's population (selects the threshold)",
        "threshold": "the published change threshold for this measure and population, in the outcome's unit",
        "threshold_statistic": "what the threshold is: MDC95 / MDC (detectable), SRD, MCID (important)",
        "threshold_source": "the reference of the threshold",
        "verdict": "exceeds (above the threshold and resolved by the interval), within (neither), or which one says "
        "so; null: see verdict_null_reason",
        "verdict_null_reason": "why there is no verdict (no population, no threshold, no interval)",
    },
    "normative_comparison": {
        "partition": "video (partition key)",
        "subject": "pseudonymous subject ID (null: not declared)",
        "measure": "outcome name, with its unit as suffix",
        "value": "the video's value of the outcome",
        "kind": "norm (healthy adults of the subject's age and sex) or cutoff (a clinical threshold)",
        "reference": "norm: the published mean of healthy adults of the subject's age (and sex)",
        "reference_low": "norm: lower bound of the mean's published 95 % interval",
        "reference_high": "norm: upper bound of the mean's published 95 % interval",
        "boundary": "the published value beyond which performance is worse than average, or the cut-off",
        "pct_of_reference": "the value in % of the norm's mean",
        "result": "norm: worse than average / within the average / better than average; cutoff: met (with its "
        "meaning) or not",
        "null_reason": "why there is no comparison (no age declared, no norm for the age or sex)",
        "source": "the reference of the norm or cut-off",
    },
    "group_comparison": {
        "task": "the task the compared videos show",
        "measure": "outcome name, with its unit as suffix",
        "groups": "the groups compared (protocol.yaml subjects: group)",
        "per_group": "JSON: per group n (subjects), mean and SD of one value per subject (its first session)",
        "test": "Welch t-test (two groups) or Welch ANOVA (three or more); null: see null_reason",
        "statistic": "t or F",
        "dof": "degrees of freedom (Welch; the denominator's for the ANOVA)",
        "p_value": "two-sided p-value of this outcome alone",
        "p_holm": "p-value adjusted with Holm's method across the outcomes of the task",
        "effect_size": "Cohen's d (two groups; first − second) or partial eta squared",
        "effect_kind": "which effect size, and its direction",
        "effect_ci_low": "lower bound of the effect size's 95 % interval",
        "effect_ci_high": "upper bound of the effect size's 95 % interval",
        "effect_ci_null_reason": "why the effect size has no interval",
        "null_reason": "why there is no test (too few subjects in a group)",
    },
    "reference_events": {
        "event": "heel_strike (foot contact) or toe_off (end of contact)",
        "side": "left / right (null: unknown)",
        "frame": "row of the marker data, 0-based",
        "time_s": "time from the first row, s",
        "source": "c3d_event (the file's EVENT annotations), force_plate (vertical force crossing 20 N, C3D "
        "platforms) or grf_mot (the same from a ground reaction .mot)",
    },
    "opensim_export": {
        "trc_path": "marker trajectories, OpenSim TRC (m; X forward, Y up, Z right)",
        "mot_path": "joint angles, OpenSim motion file (deg, inDegrees=yes)",
        "csv_path": "both as CSV",
        "frames": "frames written to the TRC",
        "frames_omitted": "frames without any joint (left out)",
        "mot_rows": "rows of the .mot (every exported angle defined)",
        "markers": "marker names, comma-separated",
        "absolute": "positions are absolute (else hip-centred)",
        "transform_json": "the camera → OpenSim rotation, the vertical and where the forward axis came from",
    },
    "repetition_dtw": {
        "a": "repetition (side_n)",
        "b": "repetition (side_n)",
        "unit": "compared unit (all, or a joint / angle)",
        "distance": "exact DTW distance (convention in the provenance; deg for angles, mm for coordinates)",
        "path_length": "warping path length, steps",
        "normalized_distance": "distance per path step",
    },
    "cohort_dtw": {
        "task": "task of both videos (only like is compared with like)",
        "a": "video",
        "b": "video",
        "unit": "compared unit (@left / @right: per foot / arm)",
        "distance": "exact DTW distance between the time-normalised mean repetitions",
        "path_length": "warping path length, steps",
        "normalized_distance": "distance per path step",
        "subject_a": "subject of video a (null: not declared)",
        "session_a": "session of video a (null: not declared)",
        "subject_b": "subject of video b (null: not declared)",
        "session_b": "session of video b (null: not declared)",
    },
}

for _name, _desc in DESCRIPTIONS.items():
    SCHEMAS[_name] = SCHEMAS[_name].update_columns({k: {"description": v} for k, v in _desc.items()})


def polars_schema(table: str) -> dict[str, pl.DataType]:
    """The polars schema of ``table``'s named columns (not the pattern ones), in the contract's order: what the core
    builds its tables with (events, repetitions, outcomes, DTW, reference events), so a table and its contract cannot
    disagree.

    Raises:
        KeyError: no contract for ``table``.
    """
    return {name: col.dtype.type for name, col in SCHEMAS[table].columns.items() if not col.regex}


def describe(table: str, column: str) -> str | None:
    """The contract's description of ``column`` of ``table`` (exact name, or the regex it matches); ``None`` if the
    table has no contract or the column no description."""
    import re

    schema = SCHEMAS.get(table)
    if schema is None:
        return None
    for key, col in schema.columns.items():
        if key == column or (col.regex and re.fullmatch(key, column)):
            return col.description
    return None


#: pandera's built-in checks that judge every value on its own: a column passes them exactly when each of its values
#: does, so a family of such columns passes exactly when all their values, stacked into one column, do
ELEMENTWISE_CHECKS = frozenset(
    {
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "in_range",
        "isin",
        "notin",
        "str_matches",
        "str_contains",
        "str_startswith",
        "str_endswith",
    }
)


def validate(table: str, df: pl.DataFrame) -> None:
    """``SCHEMAS[table].validate(df, lazy=True)``: the same verdict, 3–4× faster on the wide tables.

    pandera's polars backend evaluates every column matched by a pattern (``.+_[xyz]_mm``: 99 columns of ``poses``)
    on its own — a polars query and a copy of the column's schema each, ~0.9 ms per column: 190 ms for ``poses`` of a
    13-s clip, a third of a run's asset checks (pandera 0.35; "actual lazy validation" is an open request upstream,
    unionai-oss/pandera#1399).  Here, with pandera's own checks: each pattern family whose checks all judge values one
    by one (:data:`ELEMENTWISE_CHECKS`, not unique) is validated once, its columns stacked into one column of the same
    dtype (same checks, same nullability); then the table against the contract with those families' value checks
    removed (names, dtypes, strictness, required columns, every other column and table-wide check: pandera as usual).
    Both pass exactly when the full validation passes.  When either fails, or a family's columns differ in dtype, the
    full validation runs and raises its own report, column by column.  Measured on the 5×STS clip (798 frames):
    ``poses`` 192 → 44 ms, ``features`` 147 → 37 ms, ``kinematics`` 80 → 24 ms; narrow tables unchanged.

    Raises:
        KeyError: no contract for ``table``.
        pandera.errors.SchemaErrors: ``df`` violates the contract (pandera's full report).
    """
    schema = SCHEMAS[table]
    if not _passes_stacked(schema, df):
        schema.validate(df, lazy=True)


def _stackable(col: pa.Column) -> bool:
    return (
        col.regex
        and not col.unique
        and not col.coerce
        and all(c.name in ELEMENTWISE_CHECKS and not c.element_wise and c.groupby is None for c in col.checks)
    )


def _passes_stacked(schema: pa.DataFrameSchema, df: pl.DataFrame) -> bool:
    """Whether ``df`` passes ``schema``, decided with each stackable family validated once (:func:`validate`);
    ``False`` also when this cannot decide (no such family, a family's columns of different dtypes)."""
    import pandera.errors

    families = {key: col for key, col in schema.columns.items() if _stackable(col)}
    if not families or schema.coerce:
        return False
    try:
        for col in families.values():
            members = df.select(pl.col(col.selector)).columns  # the columns pandera matches with the same selector
            if not members:
                continue  # a required family that matches nothing: the reduced validation below fails
            if len({df.schema[m] for m in members}) > 1:
                return False
            stacked = pl.concat([df.get_column(m).rename("value") for m in members]).to_frame()
            pa.DataFrameSchema({"value": pa.Column(col.dtype, checks=col.checks, nullable=col.nullable)}).validate(
                stacked, lazy=True
            )
        reduced = schema.update_columns({key: {"checks": [], "nullable": True} for key in families})
        reduced.validate(df, lazy=True)
    except (pandera.errors.SchemaError, pandera.errors.SchemaErrors):
        return False
    return True
