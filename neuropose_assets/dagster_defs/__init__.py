"""Thin Dagster layer: partitions, resources, IO manager, assets, checks and jobs.  No science lives here."""
