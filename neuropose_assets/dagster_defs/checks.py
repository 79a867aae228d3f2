"""Asset checks: the pandera data contracts (``data_contracts``) on every table, and subject detection.

Checks read the file that was actually written, so they validate what readers will see.  They are *blocking*: a
failed contract stops the downstream assets of the same run.
"""


import warnings

import dagster as dg
import polars as pl

# partitioned asset checks are "preview" in Dagster 1.13 (PR #32894); we rely on them knowingly
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")

from neuropose_assets.core import quality
from neuropose_assets.core.quality import MIN_SUBJECT_COVERAGE
from neuropose_assets.dagster_defs.partitions import cohorts, videos
from neuropose_assets.dagster_defs.resources import StorageResource


def contract_check(asset: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name=f"{asset}_contract",
        blocking=True,
        partitions_def=partitions_def,
        description=f"pandera contract data_contracts.SCHEMAS[{asset!r}]: columns, dtypes, units, ranges",
    )
    def _check(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
        import pandera.errors

        from data_contracts import SCHEMAS

        path = storage.layout.asset_file(asset, context.partition_key)
        df = pl.read_parquet(path)
        try:
            SCHEMAS[asset].validate(df, lazy=True)
        except pandera.errors.SchemaErrors as err:
            cases = err.failure_cases
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{cases.height} contract violation(s) in {path.name}",
                metadata={"failure_cases": dg.MetadataValue.text(str(cases.head(20)))},
            )
        return dg.AssetCheckResult(passed=True, metadata={"rows": df.height, "columns": df.width})

    return _check


def _result(flags, metadata: dict) -> dg.AssetCheckResult:
    """The check result of :mod:`..core.quality` flags: passed without any, else the worst severity and every
    message."""
    meta = {k: dg.MetadataValue.json(v) if isinstance(v, dict) else v for k, v in metadata.items()}
    if not flags:
        return dg.AssetCheckResult(passed=True, metadata=meta)
    error = any(f.severity == "ERROR" for f in flags)
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR if error else dg.AssetCheckSeverity.WARN,
        description=" ".join(f.message for f in flags),
        metadata=meta,
    )


@dg.asset_check(
    asset="poses",
    blocking=True,
    partitions_def=videos,
    description=f"The subject was found: fails (blocking) when the subject is visible in fewer than "
    f"{MIN_SUBJECT_COVERAGE:.0%} of the frames (or nobody at all was detected), warns below 50 %.",
)
def subject_detected(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    key = context.partition_key
    df = pl.read_parquet(storage.layout.asset_file("poses", key), columns=["frame", "track", "is_subject"])
    return _result(*reversed(quality.subject_coverage(df, key)))


@dg.asset_check(
    asset="poses",
    partitions_def=videos,
    description="Warns when the pose model's left and right leg labels flip between frames (turning, seen from "
    "behind): left/right outcomes and events may then be swapped.",
)
def left_right_consistent(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    from neuropose_assets.core.kinematics import person_arrays
    from neuropose_assets.core.skeletons import get_skeleton
    from neuropose_assets.core.tables import read_provenance

    path = storage.layout.asset_file("poses", context.partition_key)
    skeleton = get_skeleton(read_provenance(path)["model"]["skeleton"])
    _, times, _, uv = person_arrays(pl.read_parquet(path), skeleton)
    return _result(*reversed(quality.label_flips(times, uv)))


@dg.asset_check(
    asset="poses",
    blocking=True,
    partitions_def=videos,
    description="The coordinate frame is what it claims: for video, the 3D axes follow the image axes (fails, "
    "blocking, when an axis is flipped or swapped) and the joints named left/right agree with the feet (warns when "
    "the body is mirrored); for marker-based capture, reports the lab frame verified at import.",
)
def coordinate_frame(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    from neuropose_assets.core.kinematics import person_arrays
    from neuropose_assets.core.pose.base import MARKER_CAPTURE
    from neuropose_assets.core.skeletons import get_skeleton
    from neuropose_assets.core.tables import read_provenance

    key = context.partition_key
    path = storage.layout.asset_file("poses", key)
    model = read_provenance(path)["model"]
    if model["name"] == MARKER_CAPTURE:  # verified (or refused) when the file was imported
        lab = model["settings"]["lab_to_camera"]
        return dg.AssetCheckResult(passed=True, metadata={"lab_vertical": lab["up"], "walking_direction": lab["heading"],
                                                          "mirrored_fraction": lab["mirrored_fraction"]})  # fmt: skip
    _, _, xyz, uv = person_arrays(pl.read_parquet(path), get_skeleton(model["skeleton"]))
    return _result(*reversed(quality.coordinate_frame(xyz, uv, key)))


@dg.asset_check(
    asset="task",
    partitions_def=videos,
    description="Warns when no task was declared for the video (protocol.yaml in the cohort's intake folder, or "
    "--task): it is then analysed as 'generic', which is wrong for most clinical tasks.",
)
def task_declared(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    row = pl.read_parquet(storage.layout.asset_file("task", context.partition_key)).row(0, named=True)
    return _result(quality.undeclared(row, context.partition_key), {"task": row["task"],
                                                                    "declared_by": row["declared_by"] or "nothing"})  # fmt: skip


@dg.asset_check(
    asset="repetitions",
    partitions_def=videos,
    description="Warns when the task found no repetition, fewer than two gait cycles per foot, another count than "
    "the protocol expects, or heel strikes that do not alternate between the feet.",
)
def repetitions_found(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    key = context.partition_key
    layout = storage.layout
    reps = pl.read_parquet(layout.asset_file("repetitions", key))
    task = pl.read_parquet(layout.asset_file("task", key)).row(0, named=True)
    events = pl.read_parquet(layout.asset_file("events", key))
    numbers, flags = quality.repetition_problems(task, reps, events)
    return _result([quality.Flag(f.severity, f"{key}: {f.message}") for f in flags], numbers)


@dg.asset_check(
    asset="raw_video",
    partitions_def=videos,
    description="Warns when the same recording (same SHA-256) was delivered under another partition too.",
)
def unique_content(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    key = context.partition_key
    from neuropose_assets.core.rawvideo import claimants

    sha = pl.read_parquet(storage.layout.asset_file("raw_video", key), columns=["sha256"])["sha256"][0]
    others = sorted(claimants(storage.layout, sha) - {key})
    if others:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{key} is the same recording as {', '.join(others)} (identical SHA-256): count it once in "
            "analyses, or remove the duplicate delivery.",
            metadata={"same_content_as": ", ".join(others)},
        )
    return dg.AssetCheckResult(passed=True)


PER_VIDEO_TABLES = ("raw_video", "poses", "features", "task", "events", "repetitions", "outcomes", "repetition_dtw",
                    "reference_events", "opensim_export")
PER_VIDEO_CHECKS = [contract_check(a, videos) for a in PER_VIDEO_TABLES]
COHORT_CHECKS = [contract_check(a, cohorts) for a in ("cohort_outcomes", "cohort_dtw")]
ALL_CHECKS = [*PER_VIDEO_CHECKS, subject_detected, left_right_consistent, coordinate_frame, unique_content,
              task_declared, repetitions_found, *COHORT_CHECKS]  # fmt: skip
