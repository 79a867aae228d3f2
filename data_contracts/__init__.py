"""Data contracts (pandera.polars schemas) for every table neuropose-assets writes.

Each schema states columns, dtypes, units (in the column suffix: ``_mm``, ``_px``, ``_s``, ``_deg``) and allowed
ranges.  The Dagster layer enforces them with blocking asset checks; notebooks and tests can call
``SCHEMAS[name].validate(df)`` directly.  See ``data_contracts/README.md`` for the human-readable version.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from neuropose_assets.core.events import EVENT_NAMES
from neuropose_assets.core.skeletons import CLINICAL_JOINTS
from neuropose_assets.core.tasks import TASKS

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
        "width_px": _f(pl.Int32, pa.Check.gt(0), nullable=False),
        "height_px": _f(pl.Int32, pa.Check.gt(0), nullable=False),
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
        r".+_[xyz]_mm": _f(pl.Float32, pa.Check.in_range(-_ABS_MM, _ABS_MM), regex=True),
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
        rf"^({_CLINICAL})_speed_mm_s$": _f(pl.Float64, pa.Check.in_range(0, 100_000), regex=True),
        r".+_deg": _f(pl.Float64, pa.Check.in_range(-180, 180), regex=True),
    },
    unique=["frame"],
    strict=True,
    name="features",
)

TASK = pa.DataFrameSchema(
    {
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "side": _f(pl.Utf8, pa.Check.isin(["left", "right", "both"])),
        "expected_repetitions": _f(pl.Int32, pa.Check.ge(1)),
        "walkway_m": _f(pl.Float64, pa.Check.gt(0)),
        "camera_view": _f(pl.Utf8, pa.Check.isin(["side", "front", "oblique", "unknown"]), nullable=False),
        "declared": _f(pl.Boolean, nullable=False),
        "declared_by": _f(pl.Utf8),
        "spec_json": _f(pl.Utf8, nullable=False),
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
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("frame").is_sorted()), name="frames_sorted")],
    strict=True,
    name="events",
)

REPETITIONS = pa.DataFrameSchema(
    {
        "side": _f(pl.Utf8, _SIDE),
        "repetition": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "kind": _f(pl.Utf8, pa.Check.isin(["gait_cycle", "sit_to_stand", "squat", "arm_raise", "tug", "repetition"]),
                   nullable=False),
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

#: every outcome measure name (``core.outcomes.CATALOGUE``): a unit suffix, or a count
MEASURE_REGEX = r"^(.+_(s|pct|m|m_s|deg|steps_min|30s)|(left_|right_)?repetitions|steps|mean_peak_value)$"

OUTCOMES = pa.DataFrameSchema(
    {
        "measure": pa.Column(pl.Utf8, pa.Check.str_matches(MEASURE_REGEX), nullable=False, unique=True),
        "value": _f(pl.Float64),
        "unit": _f(pl.Utf8, nullable=False),
        "side": _f(pl.Utf8, _SIDE),
        "n": _f(pl.Int32, pa.Check.ge(0), nullable=False),
        "definition": _f(pl.Utf8, nullable=False),
        "source": _f(pl.Utf8, nullable=False),
        "null_reason": _f(pl.Utf8),
    },
    checks=[pa.Check(lambda d: d.lazyframe.select(pl.col("value").is_null() == pl.col("null_reason").is_not_null()),
                     name="null_iff_reason")],  # fmt: skip
    strict=True,
    name="outcomes",
)

COHORT_OUTCOMES = pa.DataFrameSchema(
    {
        "partition": pa.Column(pl.Utf8, nullable=False, unique=True),
        "task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False),
        "declared": _f(pl.Boolean, nullable=False),
        MEASURE_REGEX: _f(pl.Float64, regex=True, required=False),
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
    {"a": _f(pl.Utf8, nullable=False), "b": _f(pl.Utf8, nullable=False), "unit": _f(pl.Utf8, nullable=False),
     **_DTW_COMMON},
    strict=True,
    name="repetition_dtw",
)
COHORT_DTW = pa.DataFrameSchema(
    {"task": _f(pl.Utf8, pa.Check.isin(list(TASKS)), nullable=False), "a": _f(pl.Utf8, nullable=False), "b": _f(pl.Utf8, nullable=False), "unit": _f(pl.Utf8, nullable=False),
     **_DTW_COMMON},
    strict=True,
    name="cohort_dtw",
)

SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "raw_video": RAW_VIDEO,
    "poses": POSES,
    "features": FEATURES,
    "task": TASK,
    "events": EVENTS,
    "repetitions": REPETITIONS,
    "outcomes": OUTCOMES,
    "cohort_outcomes": COHORT_OUTCOMES,
    "repetition_dtw": REPETITION_DTW,
    "cohort_dtw": COHORT_DTW,
}
