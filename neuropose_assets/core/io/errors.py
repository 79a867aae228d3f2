"""Exceptions shared by the core and the Dagster layer (kept import-light: no OpenCV here)."""


class VideoError(ValueError):
    """The file cannot be used as a video.  ``str(err)`` is an actionable message for a clinician."""
