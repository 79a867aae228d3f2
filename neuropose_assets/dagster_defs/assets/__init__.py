"""The assets of the pipeline, one module per stage, named after its asset(s) (:data:`neuropose_assets.stages.STAGES`
lists them; :mod:`neuropose_assets.definitions` loads them from there)."""
