"""The one pydantic configuration shared by every settings model of the core (task declarations, segmentation,
events, kinematics, tracking, DTW, marker sets)."""

from pydantic import ConfigDict

#: unknown fields are errors, instances are immutable (hashable, safe as defaults), and ``inf`` / ``nan`` are
#: refused: a value such as ``walkway_m=1e400`` (parsed as infinity) is an input error, not a setting
STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
