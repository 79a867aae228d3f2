"""Checks: the pandera data contracts (``data_contracts``) on every table, and the quality checks (subject
detected, coordinate frame, left/right labels, declared task, repetitions found, duplicate recordings).

They run **inside the step of the asset they check** (``check_specs`` + :func:`checked`; in a fused step,
:mod:`.steps`, after each stage), right after its output was
written: they read the file that was actually written, so they validate what readers will see, without a step (and
its event-log and process overhead) of their own.  Blocking checks that fail with ERROR severity fail the asset's
step, so its downstream assets do not run.  A check is a plain function ``(storage, partition key) →
AssetCheckResult`` (:class:`Check`).
"""

import functools
import inspect
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dagster as dg
import polars as pl

from neuropose_assets import stages
from neuropose_assets.core.analysis import quality
from neuropose_assets.dagster_defs.resources import StorageResource

# partitioned asset checks are "preview" in Dagster 1.13 (PR #32894); we rely on them knowingly
warnings.filterwarnings("ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec.*")


@dataclass(frozen=True)
class Check:
    """One check of one asset: ``fn(storage, partition_key)`` reads the written file(s) and judges them."""

    asset: str
    name: str
    description: str
    fn: Callable[[StorageResource, str], dg.AssetCheckResult]
    blocking: bool = False


def contract_check(asset: str) -> Check:
    """The blocking :class:`Check` ``<asset>_contract``: the written table validated against its pandera contract
    ``data_contracts.SCHEMAS[asset]`` (an ERROR with the failure cases when it violates it)."""

    def _check(storage: StorageResource, key: str) -> dg.AssetCheckResult:
        import pandera.errors

        from data_contracts import validate

        path = storage.layout.asset_file(asset, key)
        df = pl.read_parquet(path)
        try:
            validate(asset, df)
        except pandera.errors.SchemaErrors as err:
            cases = err.failure_cases
            return dg.AssetCheckResult(
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=f"{cases.height} contract violation(s) in {path.name}",
                metadata={"failure_cases": dg.MetadataValue.text(str(cases.head(20)))},
            )
        return dg.AssetCheckResult(passed=True, metadata={"rows": df.height, "columns": df.width})

    return Check(
        asset,
        f"{asset}_contract",
        f"pandera contract data_contracts.SCHEMAS[{asset!r}]: columns, dtypes, units, ranges",
        _check,
        blocking=True,
    )


def _result(flags, metadata: dict) -> dg.AssetCheckResult:
    """The check result of :mod:`..core.analysis.quality` flags: passed without any, else the worst severity and every
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


def quality_check(q: quality.QualityCheck) -> Check:
    """The asset check of a :data:`..core.analysis.quality.CHECKS` entry: the same function on the same files."""

    def _check(storage: StorageResource, key: str) -> dg.AssetCheckResult:
        numbers, flags = q.fn(storage.layout, key)
        return _result(flags, numbers)

    return Check(q.asset, q.name, q.description, _check, blocking=q.blocking)


PER_VIDEO_TABLES = stages.assets("per_video_job", tables=True)
COHORT_TABLES = stages.assets("cohort_job", tables=True)
#: every check, in the order they run within their asset's step
CHECKS: tuple[Check, ...] = (
    *(contract_check(a) for a in (*PER_VIDEO_TABLES, *COHORT_TABLES)),
    *(quality_check(q) for q in quality.CHECKS),
)


def checks_of(*assets: str) -> list[Check]:
    """The checks of ``assets`` (:data:`CHECKS`), in the order they run."""
    return [c for c in CHECKS if c.asset in assets]


def check_specs(*assets: str, partitions_def: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    """The ``check_specs`` of the asset(s) ``assets`` (a multi-asset passes all of its own)."""
    return [
        dg.AssetCheckSpec(
            c.name, asset=c.asset, description=c.description, blocking=c.blocking, partitions_def=partitions_def
        )
        for c in checks_of(*assets)
    ]


def run_checks(
    storage: StorageResource, key: str, *assets: str, only: set[dg.AssetCheckKey] | None = None
) -> Iterator[tuple[Check, dg.AssetCheckResult]]:
    """Every check of ``assets`` (those in ``only``, if given) with its result on partition ``key`` (their files must
    be written); each result with its own duration in metadata ``check_s`` (s: reading the written file and judging
    it)."""
    for c in checks_of(*assets):
        if only is not None and dg.AssetCheckKey(dg.AssetKey(c.asset), c.name) not in only:
            continue
        t0 = time.perf_counter()
        r = c.fn(storage, key)
        yield (
            c,
            dg.AssetCheckResult(
                asset_key=c.asset,
                check_name=c.name,
                passed=r.passed,
                severity=r.severity,
                description=r.description,
                metadata={**r.metadata, "check_s": round(time.perf_counter() - t0, 4)},
            ),
        )


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
            yield from (r for _, r in run_checks(kwargs["storage"], context.partition_key, *assets))

        wrapper.__signature__ = sig.replace(return_annotation=inspect.Signature.empty)
        wrapper.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "return"}
        return wrapper

    return deco
