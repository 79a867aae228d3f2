"""The Dagster instance under the data root: ``<data_root>/dagster_home`` with the repository's ``dagster.yaml``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from neuropose_assets.core.storage import Layout

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"


def ensure_dagster_home(layout: Layout) -> Path:
    """Create ``dagster_home`` with the project's ``dagster.yaml`` (refreshed when the repository copy changes),
    point ``$DAGSTER_HOME`` at it, and return it."""
    home = layout.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if REPO_DAGSTER_YAML.exists():
        if not target.exists() or target.read_bytes() != REPO_DAGSTER_YAML.read_bytes():
            shutil.copyfile(REPO_DAGSTER_YAML, target)
    elif not target.exists():
        target.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home
