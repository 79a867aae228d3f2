"""Dynamic partitions: one per video (``videos``) and one per cohort (``cohorts``).

Keys are sanitised to ``[a-z0-9_-]`` (see ``core.io.storage.sanitize_key``): a ``/`` would become a sub-directory, a
``,`` breaks UI backfill selection and a ``|`` breaks multi-partition keys.
"""

import dagster as dg

videos = dg.DynamicPartitionsDefinition(name="videos")
cohorts = dg.DynamicPartitionsDefinition(name="cohorts")
