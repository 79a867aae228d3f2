"""Tests of :mod:`neuropose_assets.core.analysis`."""
