"""The one reader of environment variables: :class:`Settings` (pydantic-settings).

Every variable neuropose-assets reads is a field here, with its default and meaning; code calls :func:`settings`
(read afresh each call, so a changed environment — a test's, or one the CLI sets for the processes it starts — is
seen).  The project's own variables carry the ``NEUROPOSE_`` prefix; a few standard ones (``XDG_*``,
``CUDA_VISIBLE_DEVICES``, ``DAGSTER_HOME``) are read by their usual names.  Values keep the meaning they always had:
an empty ``CUDA_VISIBLE_DEVICES`` means "no GPU", an empty path means "unset".  The table in ``docs/deployment.md``
is generated from this class (:mod:`.docs`).
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from neuropose_assets.core.pose import DEFAULT_BACKEND


class Settings(BaseSettings):
    """Environment variables (module docstring).  Strings stay strings where the code that uses them parses them (a
    path, a list, a URL); numbers are validated here."""

    model_config = SettingsConfigDict(env_prefix="NEUROPOSE_", extra="ignore", frozen=True)

    data_root: str | None = Field(
        None,
        description="the data root (assets, reports, review videos, registry, "
        "instance); default `$XDG_DATA_HOME/neuropose-assets` or "
        "`~/.local/share/neuropose-assets`",
    )
    cache_dir: str | None = Field(
        None,
        description="downloaded samples and models; default "
        "`$XDG_CACHE_HOME/neuropose-assets` or `~/.cache/neuropose-assets`",
    )
    pseudonymise: str = Field(
        "",
        description="privacy mode: `1` / `true` / `yes` / `files` (file and folder names "
        "below the cohort replaced by pseudonymous keys) or `all` / `cohorts` (the cohort "
        "folder's name too); empty: off",
    )
    pose_backend: str = Field(DEFAULT_BACKEND, description="the pose model: `blazepose` or `metrabs`")
    pose_slots: str | None = Field(
        None, description="the pose pool's limit (concurrent pose estimations); default from the cores and GPUs"
    )
    model_cache: str | None = Field(None, description="where pose models are stored; default `<cache dir>/models`")
    metrabs_variant: str | None = Field(None, description="the MeTRAbs model variant")
    metrabs_sha256: str | None = Field(None, description="the SHA-256 the MeTRAbs download must have")
    metrabs_dir: str | None = Field(None, description="an unpacked MeTRAbs SavedModel directory to use as is")
    metrabs_tarball: str | None = Field(None, description="a MeTRAbs tarball already downloaded")
    intake: str | None = Field(None, description="the intake folder the sensor watches; default `<data root>/intake`")
    intake_link_roots: str = Field(
        "", description="folders (separated by `:`) that symbolic links in the intake may point into"
    )
    intake_interval_seconds: int = Field(30, ge=1, description="seconds between intake scans")
    intake_stable_seconds: float = Field(
        30.0, ge=0, description="a file must stay unchanged this long before it is taken"
    )
    intake_settle_seconds: float = Field(
        5.0,
        ge=0,
        le=30,
        description="a tick looks at new files a second time itself when they can be ready within this many seconds "
        "(a file moved in complete); 0: the next tick looks again",
    )
    cohort_interval_seconds: int = Field(
        60, ge=1, description="seconds between the cohort and review sensors' evaluations"
    )
    run_workers: str = Field(
        "warm",
        pattern="^(fresh|warm)$",
        description="`warm`: runs execute in long-lived Celery workers that keep the code location and the pose "
        "model loaded (neuropose_assets/warm.py); `fresh`: a new run-worker process per run (Dagster's default "
        "launcher)",
    )
    local_run_workers: int | None = Field(
        None,
        ge=0,
        le=256,
        description="with warm run workers: how many `ui` starts on its own host (default: the pose slots; `0`: "
        "runs go only to `neuropose-assets worker` hosts)",
    )
    postgres_url: str | None = Field(
        None,
        description="a PostgreSQL URL for the Dagster instance (runs, event log, "
        "schedules); default SQLite in the data root",
    )
    xdg_data_home: str | None = Field(None, validation_alias="XDG_DATA_HOME", description="standard (XDG)")
    xdg_cache_home: str | None = Field(None, validation_alias="XDG_CACHE_HOME", description="standard (XDG)")
    cuda_visible_devices: str | None = Field(
        None, validation_alias="CUDA_VISIBLE_DEVICES", description="standard (CUDA): which GPUs; empty or `-1`: none"
    )
    dagster_home: str | None = Field(
        None,
        validation_alias="DAGSTER_HOME",
        description="standard (Dagster); set by neuropose-assets to `<data root>/"
        "dagster_home` for the processes it starts",
    )


def settings() -> Settings:
    """The settings of the current environment (read now)."""
    return Settings()


def env_name(field: str) -> str:
    """The environment variable of a :class:`Settings` field (``data_root`` → ``NEUROPOSE_DATA_ROOT``)."""
    info = Settings.model_fields[field]
    return str(info.validation_alias) if info.validation_alias else f"NEUROPOSE_{field.upper()}"
