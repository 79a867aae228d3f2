"""Tests of the pure core, one folder per group of :mod:`neuropose_assets.core`."""
