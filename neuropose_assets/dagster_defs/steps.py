"""Fewer, heavier steps: several per-video stages materialized by one Dagster step (a subsettable multi-asset).

Every Dagster step costs a fixed ~40–60 ms in a run (its start and success events, one input-load event and Parquet
read per input, the output's events) whatever it computes; a per-video run had ten.  The stages that run one after
the other anyway are fused here into one op each — ``intake`` (``raw_video``, ``task``, ``reference_events``) and
``analysis`` (``kinematics`` … ``opensim_export``) — while every asset keeps its own materialization, metadata,
data version, code version and checks in the UI, and each can still be materialized alone (the multi-asset is
subsettable: a run that selects ``outcomes`` runs only that stage, reading its upstream tables from the data root; a
check selected without its asset judges the asset's file as it is).

A stage is a plain function decorated with :func:`part`, whose parameters say what it needs, as an asset's would:
``context``, ``storage`` (the :class:`..resources.StorageResource`), ``config`` (its Dagster config class, from the
annotation; a stage module must not postpone annotations) and one parameter per upstream asset (a
:class:`~neuropose_assets.core.io.tables.ProvenancedTable`).  The fused step calls the stages in order; an upstream
table produced earlier in the same step is passed in memory (with its provenance as readers of the file see it:
:func:`~neuropose_assets.core.io.tables.as_stored`), any other is read from the data root — the same file the IO
manager wrote, without an input event.  Right after a stage's outputs are written (Dagster hands every
yielded output to the IO manager before the step resumes), its checks run on the written files; a failed blocking
check stops what depends on that asset, so no later stage computes on a table that violates its contract.  A stage
that fails stops only the stages that depend on it (as separate steps would: an events failure still leaves the
OpenSim export of the fitted model); the step then fails with the first failure's message.
"""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import create_model
from pydantic.fields import FieldInfo

from neuropose_assets.core.io.tables import ProvenancedTable, as_stored, read_table
from neuropose_assets.dagster_defs.checks import check_specs, run_checks
from neuropose_assets.dagster_defs.common import PER_VIDEO
from neuropose_assets.dagster_defs.partitions import videos
from neuropose_assets.dagster_defs.resources import StorageResource

#: the parameters of a stage function that are not upstream assets
_SERVICES = ("context", "storage", "config")


@dataclass(frozen=True)
class Part:
    """One stage of a fused step: ``fn`` computes ``outs`` (asset name → :class:`dagster.AssetOut`) from ``inputs``
    (upstream asset names); ``config`` its Dagster config class (the section ``name`` of the step's config) or
    ``None``."""

    name: str
    fn: Callable[..., Any]
    outs: dict[str, dg.AssetOut]
    inputs: tuple[str, ...]
    config: type[dg.Config] | None


def part(outs: dict[str, dg.AssetOut] | None = None, **asset_out: Any) -> Callable[[Callable[..., Any]], Part]:
    """Decorator: the stage function becomes a :class:`Part` named after it, whose one asset (named after it too,
    ``**asset_out`` its :class:`dagster.AssetOut` arguments) or several assets (``outs``) it computes.  The function
    returns a :class:`dagster.Output` (one asset) or yields one per asset (``output_name`` = the asset)."""

    def deco(fn: Callable[..., Any]) -> Part:
        params = inspect.signature(fn).parameters
        return Part(
            fn.__name__,
            fn,
            outs if outs is not None else {fn.__name__: dg.AssetOut(**asset_out)},
            tuple(p for p in params if p not in _SERVICES),
            params["config"].annotation if "config" in params else None,
        )

    return deco


def _step_config(name: str, parts: list[Part]) -> type[dg.Config] | None:
    """The step's Dagster config: one section per stage that takes a config, named after the stage."""
    fields = {p.name: (p.config, FieldInfo(default=p.config())) for p in parts if p.config is not None}
    if not fields:
        return None
    return create_model(f"{name.title()}Config", __base__=dg.Config, **fields)


def _as_read(table: Any) -> Any:
    """An output as a reader of its file gets it: the provenance as it is stored."""
    return ProvenancedTable(table.df, as_stored(table.provenance)) if isinstance(table, ProvenancedTable) else table


def _run_part(
    p: Part,
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    config: Any,
    memory: dict[str, Any],
    key: str,
    selected_checks: set[dg.AssetCheckKey],
) -> Iterator[Any]:
    """One stage of a fused step: call it with its inputs (``memory``, else the data root), yield its outputs (kept in
    ``memory`` as readers see them), then its checks on the written files.

    Raises:
        dagster.Failure: a blocking check failed (its message), or the stage's own failure.
    """
    kwargs: dict[str, Any] = {"context": context, "storage": storage}
    if p.config is not None:
        kwargs["config"] = getattr(config, p.name)
    for i in p.inputs:
        kwargs[i] = memory[i] if i in memory else read_table(storage.layout.asset_file(i, key))
    result = p.fn(**kwargs)
    for out in result if inspect.isgenerator(result) else [result]:
        asset = out.output_name if out.output_name in p.outs else next(iter(p.outs))
        yield dg.Output(out.value, output_name=asset, metadata=out.metadata, data_version=out.data_version)
        memory[asset] = _as_read(out.value)
    for check, r in run_checks(storage, key, *p.outs, only=selected_checks):
        yield r
        if check.blocking and not r.passed and r.severity == dg.AssetCheckSeverity.ERROR:
            raise dg.Failure(description=f"[{key}] check {check.name} failed: {r.description}", allow_retries=False)


def fused_step(
    name: str, parts: list[Part], *, description: str, retry_policy: dg.RetryPolicy | None = None
) -> dg.AssetsDefinition:
    """One subsettable multi-asset (one step per run) for ``parts``, in their order (module docstring).  Each
    part's assets keep their own :class:`dagster.AssetOut` (kinds, code version, description) and checks
    (:func:`..checks.check_specs`); the assets depend on exactly their function's inputs."""
    produced = [a for p in parts for a in p.outs]
    external = sorted({i for p in parts for i in p.inputs} - set(produced))
    deps_of = {a: {dg.AssetKey(i) for i in p.inputs} for p in parts for a in p.outs}
    outs = {
        a: dg.AssetOut(
            key=out.key,
            kinds=out.kinds,
            code_version=out.code_version,
            description=out.description,
            is_required=False,  # a subset computes only what was selected
        )
        for p in parts
        for a, out in p.outs.items()
    }
    config_cls = _step_config(name, parts)

    def compute(context: dg.AssetExecutionContext, storage: StorageResource, config: Any = None) -> Iterator[Any]:
        key = context.partition_key
        selected = {k.path[-1] for k in context.selected_asset_keys}
        selected_checks = set(context.selected_asset_check_keys)
        memory: dict[str, Any] = {}
        errors: list[tuple[str, BaseException]] = []
        stopped: set[str] = set()  # assets not computed: their stage failed, or one of its inputs was stopped
        for p in parts:
            if not selected & set(p.outs):
                continue
            if stopped & set(p.inputs):
                stopped |= set(p.outs)
                continue
            try:
                yield from _run_part(p, context, storage, config, memory, key, selected_checks)
            except Exception as err:  # as separate steps would: the stages that do not depend on it still run
                errors.append((p.name, err))
                stopped |= set(p.outs)
        # a check selected without its asset (the UI's "Execute" on one check) judges the asset's file as it is
        alone = sorted({k.asset_key.path[-1] for k in selected_checks} - selected)
        if alone:
            yield from (r for _, r in run_checks(storage, key, *alone, only=selected_checks))
        for stage, err in errors[1:]:
            context.log.error(f"{key}: {stage} failed too: {err}")
        if errors:
            raise errors[0][1]

    if config_cls is not None:

        def step(context: dg.AssetExecutionContext, config, storage: StorageResource):  # type: ignore[no-untyped-def]
            yield from compute(context, storage, config)

        step.__annotations__["config"] = config_cls
    else:

        def step(context: dg.AssetExecutionContext, storage: StorageResource):  # type: ignore[no-redef]
            yield from compute(context, storage)

    step.__name__ = step.__qualname__ = name
    step.__doc__ = description
    return dg.multi_asset(
        name=name,
        outs=outs,
        deps=[dg.AssetKey(a) for a in external],
        internal_asset_deps=deps_of,
        can_subset=True,
        partitions_def=videos,
        group_name=PER_VIDEO,
        retry_policy=retry_policy,
        description=description,
        check_specs=check_specs(*produced, partitions_def=videos),
    )(step)
