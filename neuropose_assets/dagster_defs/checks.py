"""Asset checks: the pandera data contracts (``data_contracts``) on every table, and subject detection.

Checks read the file that was actually written, so they validate what readers will see.  They are *blocking*: a
failed contract stops the downstream assets of the same run.
"""


import warnings

import dagster as dg
import polars as pl

# partitioned asset checks are "preview" in Dagster 1.13 (PR #32894); we rely on them knowingly
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")

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


#: below this fraction of frames with the subject, ``subject_detected`` fails (blocking); below 50 % it warns
MIN_SUBJECT_COVERAGE = 0.25


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
    n = df["frame"].n_unique()
    found = df.filter(pl.col("is_subject"))["frame"].n_unique()
    tracks = df["track"].drop_nulls().n_unique()
    coverage = found / n if n else 0.0
    meta = {"frames": n, "frames_with_subject": found, "subject_coverage": round(coverage, 4), "tracks": tracks}
    if found == 0:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"No person was detected in any of the {n} frames of {key}. Check that the whole body is in "
            "view, well lit and not too small in the picture, then record again.",
            metadata=meta,
        )
    if coverage < MIN_SUBJECT_COVERAGE:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"The subject is visible in only {100 * coverage:.1f} % of the {n} frames of {key} "
            f"({tracks} person tracks): the results would describe a fragment of the recording, or someone else. "
            "Trim the video to the test itself, or choose another subject policy (poses config subject_policy: "
            "largest_box for the person closest to the camera, most_central), then re-run.",
            metadata=meta,
        )
    if coverage < 0.5:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"The subject is visible in only {100 * coverage:.0f} % of the frames of {key}; results "
            "cover the visible part only.",
            metadata=meta,
        )
    return dg.AssetCheckResult(passed=True, metadata=meta)


@dg.asset_check(
    asset="poses",
    partitions_def=videos,
    description="Warns when the pose model's left and right leg labels flip between frames (turning, seen from "
    "behind): left/right outcomes and events may then be swapped.",
)
def left_right_consistent(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    from neuropose_assets.core.kinematics import left_right_swaps, person_arrays
    from neuropose_assets.core.skeletons import get_skeleton
    from neuropose_assets.core.tables import read_provenance

    path = storage.layout.asset_file("poses", context.partition_key)
    skeleton = get_skeleton(read_provenance(path)["model"]["skeleton"])
    _, times, _, uv = person_arrays(pl.read_parquet(path), skeleton)
    flips = left_right_swaps(uv)
    meta = {"label_flips": len(flips)}
    if len(flips):
        when = ", ".join(f"{times[f]:.2f}" for f in flips[:10]) + (" …" if len(flips) > 10 else "")
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"The pose model swapped the subject's left and right legs {len(flips)} time(s) (at {when} s). "
            "Left/right events and outcomes around these times may belong to the other side; check the video at "
            "those times, or record with the subject's side facing the camera.",
            metadata={**meta, "at_s": when},
        )
    return dg.AssetCheckResult(passed=True, metadata=meta)


@dg.asset_check(
    asset="task",
    partitions_def=videos,
    description="Warns when no task was declared for the video (protocol.yaml in the cohort's intake folder, or "
    "--task): it is then analysed as 'generic', which is wrong for most clinical tasks.",
)
def task_declared(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    row = pl.read_parquet(storage.layout.asset_file("task", context.partition_key)).row(0, named=True)
    if not row["declared"]:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"No task was declared for {context.partition_key}; it was analysed as 'generic' (a "
            "configurable signal). Declare the task in the cohort's protocol.yaml (e.g. '\"*walk*\": {task: gait}') or "
            "with `neuropose-assets run VIDEO --task gait`, and the task-dependent assets re-run.",
        )
    return dg.AssetCheckResult(passed=True, metadata={"task": row["task"], "declared_by": row["declared_by"]})


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
    problems = []
    per_side = {s or "both": n for s, n in reps.group_by("side").len().iter_rows()}
    if task["task"] == "gait":
        for side in ("left", "right"):
            if per_side.get(side, 0) < 2:
                problems.append(f"{per_side.get(side, 0)} gait cycle(s) of the {side} foot (cadence, stance and "
                                "variability need at least two per foot)")  # fmt: skip
        hs = pl.read_parquet(layout.asset_file("events", key)).filter(pl.col("event") == "heel_strike").sort("frame")
        sides = hs["side"].to_list()
        repeats = sum(a == b for a, b in zip(sides, sides[1:]))
        if repeats:
            problems.append(f"{repeats} heel strike(s) followed one of the same foot: a step was missed or the left and "
                            "right legs were confused")  # fmt: skip
    elif reps.height == 0:
        problems.append(f"no {task['task']} repetition was found: check that the declared task ({task['task']}) is "
                        "what the video shows and that the whole movement is in view")  # fmt: skip
    expected = task["expected_repetitions"]
    if expected is not None:
        counts = [per_side.get(s, 0) for s in ("left", "right")] if task["task"] in ("gait", "arm_raise") and any(
            k in per_side for k in ("left", "right")) else [reps.height]  # fmt: skip
        if any(c != expected for c in counts):
            problems.append(f"the protocol expects {expected} repetition(s), found {counts}")
    meta = {"repetitions": reps.height, "per_side": dg.MetadataValue.json(per_side)}
    if problems:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                   description=f"{key}: " + "; ".join(problems) + ".", metadata=meta)  # fmt: skip
    return dg.AssetCheckResult(passed=True, metadata=meta)


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


PER_VIDEO_TABLES = ("raw_video", "poses", "features", "task", "events", "repetitions", "outcomes", "repetition_dtw")
PER_VIDEO_CHECKS = [contract_check(a, videos) for a in PER_VIDEO_TABLES]
COHORT_CHECKS = [contract_check(a, cohorts) for a in ("cohort_outcomes", "cohort_dtw")]
ALL_CHECKS = [*PER_VIDEO_CHECKS, subject_detected, left_right_consistent, unique_content, task_declared,
              repetitions_found, *COHORT_CHECKS]  # fmt: skip
