"""The Dagster instance under the data root: ``<data_root>/dagster_home`` with the package's ``dagster.yaml`` (package
data, so an installed package needs no checkout; the repository's top-level ``dagster.yaml`` is the same file, for
``dagster dev`` from the checkout — a test keeps them equal)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from neuropose_assets.core.io.storage import Layout
from neuropose_assets.settings import settings

INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")


#: the instance's PostgreSQL URL (``postgresql://user:password@host:5432/db``); unset = SQLite under the data root
ENV_POSTGRES = "NEUROPOSE_POSTGRES_URL"
POSTGRES_STORAGE = f"""
# selected by ${ENV_POSTGRES} (neuropose_assets/instance.py): runs, event log and schedules in PostgreSQL; the URL,
# which holds the password, stays in the environment.  Dagster's PostgreSQL storage, configured per component so that
# the event log can store a run's failure after the run's status (neuropose_assets/postgres_storage.py)
run_storage:
  module: dagster_postgres.run_storage
  class: PostgresRunStorage
  config:
    postgres_url:
      env: {ENV_POSTGRES}
event_log_storage:
  module: neuropose_assets.postgres_storage
  class: PostgresEventLogStorage
  config:
    postgres_url:
      env: {ENV_POSTGRES}
schedule_storage:
  module: dagster_postgres.schedule_storage
  class: PostgresScheduleStorage
  config:
    postgres_url:
      env: {ENV_POSTGRES}
"""


WARM_LAUNCHER = """run_launcher:
  # selected by $NEUROPOSE_RUN_WORKERS=warm (neuropose_assets/instance.py): runs execute in long-lived Celery workers
  # that keep the code location and the pose model loaded; broker and results in the instance's own database
  module: neuropose_assets.warm
  class: WarmRunLauncher
"""


SQLITE_EVENT_LOG = """
# the event log in SQLite under the instance, where Dagster's default puts it, through a storage that keeps its
# engines (neuropose_assets/sqlite_storage.py: the same tables; Dagster's overhead on 4 demo clips 15.5 -> 10.1 s)
event_log_storage:
  module: neuropose_assets.sqlite_storage
  class: SqliteEventLogStorage
  config:
    base_dir: {base_dir}
"""


def instance_yaml(home: Path | None = None) -> bytes:
    """The instance configuration: the package's ``dagster.yaml``, plus PostgreSQL storage when
    ``$NEUROPOSE_POSTGRES_URL`` is set (SQLite under ``dagster_home`` otherwise, the zero-setup default), with the warm
    workers' run launcher (:mod:`.warm`) when ``$NEUROPOSE_RUN_WORKERS`` is ``warm``.  Warm workers also bound the runs
    in flight to the workers (the pose slots: one worker each, ``$NEUROPOSE_POSE_SLOTS`` on a cluster): every run,
    review and cohort runs too, executes in a worker, and a launched run that found none would wait in Celery's queue
    as STARTING, where Dagster's start timeout (180 s) fails it.  With SQLite and the instance directory ``home``
    given, the event log is :class:`.sqlite_storage.SqliteEventLogStorage` in ``home/history/runs``."""
    base = INSTANCE_YAML.read_text()
    if settings().run_workers == "warm":
        from neuropose_assets.core.io.concurrency import pose_slots

        start = base.index("\nrun_launcher:\n") + 1
        end = base.index("\n\n", start) + 1
        base = base[:start] + WARM_LAUNCHER + base[end:]
        n = pose_slots(settings().pose_backend)[0]
        old = "    max_concurrent_runs: 4\n"
        if old not in base:  # the package's dagster.yaml changed: keep this in step with it
            raise RuntimeError("neuropose_assets/dagster.yaml has no 'max_concurrent_runs: 4' line to bound")
        base = base.replace(
            old, f"    max_concurrent_runs: {n}  # warm run workers: one run per worker (instance.py)\n"
        )
    if settings().postgres_url:
        return (base + POSTGRES_STORAGE).encode()
    if home is not None:
        base += SQLITE_EVENT_LOG.format(base_dir=json.dumps(str(Path(home).resolve() / "history" / "runs")))
    return base.encode()


def ensure_dagster_home(layout: Layout) -> Path:
    """Create ``dagster_home`` with the instance configuration (:func:`instance_yaml`, rewritten when it changes),
    point ``$DAGSTER_HOME`` at it, and return it."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    home = layout.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    want = instance_yaml(home)
    if not target.exists() or target.read_bytes() != want:
        atomic_write_bytes(target, want)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def apply_pose_slots(instance, backend: str | None = None) -> tuple[int, str]:
    """Set the ``pose_model`` pool of ``instance`` to :func:`.core.io.concurrency.pose_slots` for ``backend`` (default:
    ``$NEUROPOSE_POSE_BACKEND`` or blazepose) and return ``(limit, reason)``; the limit lives in the instance, so the
    daemon, the UI (Deployment → Concurrency) and every run see it."""
    from neuropose_assets.core.io.concurrency import POSE_POOL, pose_slots

    n, why = pose_slots(backend or settings().pose_backend)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        info = storage.get_concurrency_info(POSE_POOL)
        if info.slot_count != n:
            storage.set_concurrency_slots(POSE_POOL, n)
    return n, why
