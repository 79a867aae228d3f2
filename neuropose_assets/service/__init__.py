"""Registering, running, backfilling and supervising: the work behind the commands.  Plain functions on a data root's
:class:`~neuropose_assets.core.io.storage.Layout` and a Dagster instance — no argument parsing, and no printing except
the supervisor's status lines (the commands in :mod:`neuropose_assets.cli` parse and print).

* :mod:`.runs`: open the instance, register videos, run the jobs in process (``run``, ``demo``)
* :mod:`.backfill`: partitions to re-run, asset backfills for the daemon
* :mod:`.ingest`: task declarations for ingested videos
* :mod:`.supervise`: the UI's and the workers' process trees
"""
