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


def apply_pose_slots(instance, backend: str | None = None) -> tuple[int, str]:
    """Set the ``pose_model`` pool of ``instance`` to :func:`.core.concurrency.pose_slots` for ``backend`` (default:
    ``$NEUROPOSE_POSE_BACKEND`` or blazepose) and return ``(limit, reason)``; the limit lives in the instance, so the
    daemon, the UI (Deployment → Concurrency) and every run see it."""
    from neuropose_assets.core.concurrency import POSE_POOL, pose_slots

    n, why = pose_slots(backend or os.environ.get("NEUROPOSE_POSE_BACKEND", "blazepose"))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        info = storage.get_concurrency_info(POSE_POOL)
        if info.slot_count != n:
            storage.set_concurrency_slots(POSE_POOL, n)
    return n, why
