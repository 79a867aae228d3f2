"""Clinical movement videos to joint angles, events and outcomes, as Dagster assets (neuropose-assets)."""
