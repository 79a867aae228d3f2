"""Pure, Dagster-free science and I/O core of neuropose-assets."""
