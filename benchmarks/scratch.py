"""A benchmark's scratch folder, removed when its process exits (normally, or with an uncaught exception): the
benchmarks write clips, data roots and Dagster instances — up to hundreds of MB a run — that must not pile up in the
temporary directory (ten cohort-benchmark leftovers once filled this machine's disk)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path


def scratch_dir(prefix: str) -> Path:
    """A new folder under the temporary directory, named ``<prefix>…``, deleted with its content at exit."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path
