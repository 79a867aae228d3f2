"""neuropose-assets."""
