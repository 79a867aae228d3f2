"""Tests of the Dagster layer: definitions, assets on a fake pose model with ``dg.materialize``, sensors, checks,
faults, many hosts."""
