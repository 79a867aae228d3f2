"""Dagster run config generated from the core's pydantic models: one source of truth for every field and default.

``dagster_config(CoreModel)`` returns a :class:`dagster.Config` subclass with the same fields, types, defaults and
descriptions (taken from the model's ``Attributes:`` docstring), nested models becoming nested config sections and
tuples becoming lists (Dagster's config system has no tuples).  ``to_core()`` validates the values with the core
model, so constraints and cross-field rules live only there.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import dagster as dg
from pydantic import BaseModel, ValidationError, create_model
from pydantic.fields import FieldInfo

from neuropose_assets.core.models import field_descriptions

_CACHE: dict[type, type] = {}


def _convert(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return dagster_config(annotation)
    if origin is tuple:
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        return list[_convert(args[0]) if len(set(args)) == 1 else Any]  # type: ignore[misc]
    if origin in (Union, types.UnionType) and type(None) in get_args(annotation):
        inner = next(a for a in get_args(annotation) if a is not type(None))
        # Dagster resolves Literal only at the top level: an optional choice becomes an optional string (the core
        # model still validates it)
        return typing.Optional[str if get_origin(inner) is Literal else _convert(inner)]
    if origin is Literal:
        return annotation
    return annotation


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return dagster_config(type(value))(**value.model_dump())
    if isinstance(value, tuple):
        return list(value)
    return value


def dagster_config(model: type[BaseModel]) -> type[dg.Config]:
    """A :class:`dagster.Config` class mirroring ``model`` (module docstring); cached per model."""
    if model in _CACHE:
        return _CACHE[model]
    docs = field_descriptions(model)
    fields = {}
    for name, info in model.model_fields.items():
        default = _default(info.default) if info.default_factory is None else None
        fields[name] = (_convert(info.annotation), FieldInfo(default=default, description=docs.get(name)))

    def to_core(self: dg.Config) -> BaseModel:
        """The core model with these values; raises ``pydantic.ValidationError`` on invalid values."""
        return model(**self.model_dump())

    cls = create_model(f"{model.__name__}Config", __base__=dg.Config, __doc__=model.__doc__, **fields)
    cls.to_core = to_core
    _CACHE[model] = cls
    return cls


def config_or_fail(config: Any, what: str) -> Any:
    """``config.to_core()``, or a non-retried :class:`dagster.Failure` that says which field is wrong."""
    try:
        return config.to_core()
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}" + (f" (got {e['input']!r})" if e.get("loc") else "")
            for e in err.errors()
        )
        raise dg.Failure(description=f"{what} config is invalid: {problems}", allow_retries=False) from None
