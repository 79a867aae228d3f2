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


@dg.asset_check(
    asset="poses",
    blocking=True,
    partitions_def=videos,
    description="The subject was found: fails (blocking) when nobody was detected in any frame, warns when the "
    "subject is visible in fewer than 50 % of the frames.",
)
def subject_detected(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    key = context.partition_key
    df = pl.read_parquet(storage.layout.asset_file("poses", key), columns=["frame", "is_subject"])
    n = df["frame"].n_unique()
    found = df.filter(pl.col("is_subject"))["frame"].n_unique()
    coverage = found / n if n else 0.0
    meta = {"frames": n, "frames_with_subject": found, "subject_coverage": round(coverage, 4)}
    if found == 0:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"No person was detected in any of the {n} frames of {key}. Check that the whole body is in "
            "view, well lit and not too small in the picture, then record again.",
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
    asset="raw_video",
    partitions_def=videos,
    description="Warns when the same recording (same SHA-256) was delivered under another partition too.",
)
def unique_content(context: dg.AssetCheckExecutionContext, storage: StorageResource) -> dg.AssetCheckResult:
    key = context.partition_key
    sha = pl.read_parquet(storage.layout.asset_file("raw_video", key), columns=["sha256"])["sha256"][0]
    claims = storage.layout.cas / sha[:2] / f"{sha}.partitions"
    others = sorted(set(claims.read_text().split()) - {key}) if claims.exists() else []
    if others:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{key} is the same recording as {', '.join(others)} (identical SHA-256): count it once in "
            "analyses, or remove the duplicate delivery.",
            metadata={"same_content_as": ", ".join(others)},
        )
    return dg.AssetCheckResult(passed=True)


PER_VIDEO_CHECKS = [
    contract_check(a, videos) for a in ("raw_video", "poses", "features", "segmentation", "repetition_dtw")
]
COHORT_CHECKS = [contract_check("cohort_dtw", cohorts)]
ALL_CHECKS = [*PER_VIDEO_CHECKS, subject_detected, unique_content, *COHORT_CHECKS]
