"""Checks: the pandera data contracts (``data_contracts``) on every table, and the quality checks (subject
detected, coordinate frame, left/right labels, declared task, repetitions found, duplicate recordings).

They run **inside the step of the asset they check** (``check_specs`` + :func:`checked`), right after its output was
written: they read the file that was actually written, so they validate what readers will see, without a step (and
its event-log and process overhead) of their own.  Blocking checks that fail with ERROR severity fail the asset's
step, so its downstream assets do not run.  A check is a plain function ``(storage, partition key) →
AssetCheckResult`` (:class:`Check`).
"""

import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import polars as pl

# partitioned asset checks are "preview" in Dagster 1.13 (PR #32894); we rely on them knowingly
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")

from neuropose_assets.core import quality
from neuropose_assets.core.quality import MIN_SUBJECT_COVERAGE
from neuropose_assets.dagster_defs.resources import StorageResource


@dataclass(frozen=True)
class Check:
    """One check of one asset: ``fn(storage, partition_key)`` reads the written file(s) and judges them."""

    asset: str
    name: str
    description: str
    fn: Callable[[StorageResource, str], dg.AssetCheckResult]
    blocking: bool = False


def contract_check(asset: str) -> Check:
    def _check(storage: StorageResource, key: str) -> dg.AssetCheckResult:
        import pandera.errors

        from data_contracts import SCHEMAS

        path = storage.layout.asset_file(asset, key)
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

    return Check(asset, f"{asset}_contract", f"pandera contract data_contracts.SCHEMAS[{asset!r}]: columns, dtypes, "
                 "units, ranges", _check, blocking=True)  # fmt: skip


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


def _subject_detected(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    df = pl.read_parquet(storage.layout.asset_file("poses", key), columns=["frame", "track", "is_subject"])
    return _result(*reversed(quality.subject_coverage(df, key)))


subject_detected = Check(
    "poses", "subject_detected",
    f"The subject was found: fails (blocking) when the subject is visible in fewer than {MIN_SUBJECT_COVERAGE:.0%} of "
    "the frames (or nobody at all was detected), warns below 50 %.",
    _subject_detected, blocking=True,
)  # fmt: skip


def _decoding_complete(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    from neuropose_assets.core.tables import read_provenance

    return _result(*reversed(quality.decoding_loss(read_provenance(storage.layout.asset_file("poses", key))
                                                   .get("decoding"), key)))  # fmt: skip


decoding_complete = Check(
    "poses", "decoding_complete",
    "Every frame the video file announces was decoded: warns with the count when more than one is missing (a "
    "truncated or damaged file; more than 10 % missing fails the poses step).",
    _decoding_complete,
)  # fmt: skip


def _fit_residual(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    from neuropose_assets.core.tables import read_provenance

    path = storage.layout.asset_file("kinematics", key)
    df = pl.read_parquet(path)
    sigma = (read_provenance(path).get("configs", {}).get("kinematics") or {}).get("sigma_px")
    return _result(*reversed(quality.fit_residuals(df, sigma, key)))


fit_residual = Check(
    "kinematics", "fit_residual",
    "The skeletal model fits the keypoints: warns, naming the joint and the times, when a keypoint's reprojection "
    "error exceeds 5 × its uncertainty (≈ 10 % of the leg length) in more than 10 % of the frames it is seen (a "
    "keypoint on the wrong body part, a limb the model cannot reach, a mislabelled side).",
    _fit_residual,
)  # fmt: skip


def _left_right_consistent(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    from neuropose_assets.core.kinematics import person_arrays
    from neuropose_assets.core.skeletons import get_skeleton
    from neuropose_assets.core.tables import read_provenance

    path = storage.layout.asset_file("poses", key)
    skeleton = get_skeleton(read_provenance(path)["model"]["skeleton"])
    _, times, _, uv = person_arrays(pl.read_parquet(path), skeleton)
    return _result(*reversed(quality.label_flips(times, uv)))


left_right_consistent = Check(
    "poses", "left_right_consistent",
    "Warns when the pose model's left and right leg labels flip between frames (turning, seen from behind): "
    "left/right outcomes and events may then be swapped.",
    _left_right_consistent,
)  # fmt: skip


def _coordinate_frame(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    from neuropose_assets.core.kinematics import person_arrays
    from neuropose_assets.core.pose.base import MARKER_CAPTURE
    from neuropose_assets.core.skeletons import get_skeleton
    from neuropose_assets.core.tables import read_provenance

    path = storage.layout.asset_file("poses", key)
    model = read_provenance(path)["model"]
    if model["name"] == MARKER_CAPTURE:  # verified (or refused) when the file was imported
        lab = model["settings"]["lab_to_camera"]
        return dg.AssetCheckResult(passed=True, metadata={"lab_vertical": lab["up"], "walking_direction": lab["heading"],
                                                          "mirrored_fraction": lab["mirrored_fraction"]})  # fmt: skip
    _, _, xyz, uv = person_arrays(pl.read_parquet(path), get_skeleton(model["skeleton"]))
    return _result(*reversed(quality.coordinate_frame(xyz, uv, key)))


coordinate_frame = Check(
    "poses", "coordinate_frame",
    "The coordinate frame is what it claims: for video, the 3D axes follow the image axes (fails, blocking, when an "
    "axis is flipped or swapped) and the joints named left/right agree with the feet (warns when the body is "
    "mirrored); for marker-based capture, reports the lab frame verified at import.",
    _coordinate_frame, blocking=True,
)  # fmt: skip


def _task_declared(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    row = pl.read_parquet(storage.layout.asset_file("task", key)).row(0, named=True)
    return _result(quality.undeclared(row, key), {"task": row["task"], "declared_by": row["declared_by"] or "nothing"})


task_declared = Check(
    "task", "task_declared",
    "Warns when no task was declared for the video (protocol.yaml in the cohort's intake folder, or --task): it is "
    "then analysed as 'generic', which is wrong for most clinical tasks.",
    _task_declared,
)  # fmt: skip


def _repetitions_found(storage: StorageResource, key: str) -> dg.AssetCheckResult:
    layout = storage.layout
    reps = pl.read_parquet(layout.asset_file("repetitions", key))
    task = pl.read_parquet(layout.asset_file("task", key)).row(0, named=True)
    events = pl.read_parquet(layout.asset_file("events", key))
    numbers, flags = quality.repetition_problems(task, reps, events)
    return _result([quality.Flag(f.severity, f"{key}: {f.message}") for f in flags], numbers)


repetitions_found = Check(
    "repetitions", "repetitions_found",
    "Warns when the task found no repetition, fewer than two gait cycles per foot, another count than the protocol "
    "expects, or heel strikes that do not alternate between the feet.",
    _repetitions_found,
)  # fmt: skip


def _unique_content(storage: StorageResource, key: str) -> dg.AssetCheckResult:
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


unique_content = Check("raw_video", "unique_content", "Warns when the same recording (same SHA-256) was delivered under "
                       "another partition too.", _unique_content)  # fmt: skip


PER_VIDEO_TABLES = ("raw_video", "poses", "kinematics", "features", "task", "events", "repetitions", "outcomes", "repetition_dtw",
                    "reference_events", "opensim_export")
COHORT_TABLES = ("cohort_outcomes", "cohort_dtw")
#: every check, in the order they run within their asset's step
CHECKS: tuple[Check, ...] = (
    *(contract_check(a) for a in (*PER_VIDEO_TABLES, *COHORT_TABLES)),
    unique_content, subject_detected, decoding_complete, coordinate_frame, left_right_consistent, fit_residual,
    task_declared, repetitions_found,
)  # fmt: skip


def checks_of(*assets: str) -> list[Check]:
    return [c for c in CHECKS if c.asset in assets]


def check_specs(*assets: str, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The ``check_specs`` of the asset(s) ``assets`` (a multi-asset passes all of its own)."""
    return [dg.AssetCheckSpec(c.name, asset=c.asset, description=c.description, blocking=c.blocking,
                              partitions_def=partitions_def) for c in checks_of(*assets)]  # fmt: skip


def run_checks(storage: StorageResource, key: str, *assets: str) -> Iterator[dg.AssetCheckResult]:
    """The results of every check of ``assets`` on partition ``key`` (their files must be written)."""
    for c in checks_of(*assets):
        r = c.fn(storage, key)
        yield dg.AssetCheckResult(asset_key=c.asset, check_name=c.name, passed=r.passed, severity=r.severity,
                                  description=r.description, metadata=r.metadata)  # fmt: skip


def checked(*assets: str):
    """Decorator for an asset's compute function: after it yielded (or returned) its output(s) — which Dagster writes
    through the IO manager before the function resumes — evaluate the checks of ``assets`` on the written files.
    The function must take the ``storage`` resource; the asset must declare :func:`check_specs` of ``assets``."""

    def deco(fn):
        sig = inspect.signature(fn)
        if "storage" not in sig.parameters:
            raise TypeError(f"{fn.__name__} must take the storage resource to run its checks")

        @functools.wraps(fn)
        def wrapper(context, *args, **kwargs):
            out = fn(context, *args, **kwargs)
            if inspect.isgenerator(out):
                yield from out
            else:
                yield out
            yield from run_checks(kwargs["storage"], context.partition_key, *assets)

        wrapper.__signature__ = sig.replace(return_annotation=inspect.Signature.empty)
        wrapper.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "return"}
        return wrapper

    return deco
