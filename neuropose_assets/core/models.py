"""The one pydantic configuration shared by every settings model of the core (task declarations, segmentation,
events, kinematics, tracking, DTW, marker sets)."""

import re

from pydantic import BaseModel, ConfigDict

#: unknown fields are errors, instances are immutable (hashable, safe as defaults), and ``inf`` / ``nan`` are
#: refused: a value such as ``walkway_m=1e400`` (parsed as infinity) is an input error, not a setting
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def field_descriptions(model: type[BaseModel]) -> dict[str, str]:
    """``name: text`` pairs of the Google-style ``Attributes:`` sections of ``model`` and its bases (continuation
    lines joined): the description of every field, for the Dagster run config and the parameter reference."""
    out: dict[str, str] = {}
    for base in reversed(model.__mro__[:-1]):  # a subclass documents its own fields; bases the inherited ones
        if isinstance(base, type) and issubclass(base, BaseModel) and base is not BaseModel:
            out.update(_own_descriptions(base.__doc__ or ""))
    return out


def _own_descriptions(doc: str) -> dict[str, str]:
    if "Attributes:" not in doc:
        return {}
    out: dict[str, str] = {}
    current = None
    for line in doc.split("Attributes:", 1)[1].splitlines():
        m = re.match(r"^\s{4,8}(\w+(?:,\s*\w+)*):\s*(.*)$", line)
        if m:
            names = [n.strip() for n in m.group(1).split(",")]
            current = names
            for n in names:
                out[n] = m.group(2).strip()
        elif current and line.strip():
            for n in current:
                out[n] += " " + line.strip()
        elif not line.strip() and current:
            current = None
    return out
