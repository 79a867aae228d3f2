"""Versioned reference data with their sources: event-timing error, normative values, minimal detectable changes."""
