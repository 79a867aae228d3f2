"""Where data lives (always outside the repository) and the video registry.

Layout under the data root (``$NEUROPOSE_DATA_ROOT``, default ``$XDG_DATA_HOME/neuropose-assets`` or
``~/.local/share/neuropose-assets``)::

    assets/<asset>/<partition>.parquet    every asset output (read these from notebooks)
    cas/sha256/<ab>/<sha256><ext>         immutable, content-addressed copies of the analysed videos
    registry/videos/<partition>.json      partition key -> source file and cohort
    review/<partition>.mp4                review video (skeletons and events drawn), and <partition>.contact.jpg
    reports/<partition>.html              the per-video report (self-contained)
    dagster_home/                         the Dagster instance (runs, event log, schedules)

The registry is one small JSON document per partition, written atomically, so that concurrent registrations of
different videos never conflict and a Dagster run (or a backfill from the UI) can always find a partition's source.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from neuropose_assets.core.io.atomic import atomic_write_bytes
from neuropose_assets.settings import settings

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm")
#: marker-based motion capture (:mod:`..interop.mocap`): enters like a video, as its own partition
MARKER_EXTENSIONS = (".trc", ".c3d")
#: everything the intake folder and ``register`` accept as a recording
SOURCE_EXTENSIONS = VIDEO_EXTENSIONS + MARKER_EXTENSIONS
#: files read together with the marker files next to them: ground reaction forces (OpenSim ``.mot``)
SIDECAR_EXTENSIONS = (".mot",)
#: the marker-set mapping file of a cohort's (or a folder's) marker files (:mod:`..kinematics.markersets`)
MAPPING_FILE = "markers.yaml"


def unsupported_format(name: str | Path) -> str | None:
    """``None`` when ``name`` is a supported recording (:data:`SOURCE_EXTENSIONS`, the one declared list), else the
    message that refuses it — the same at ``register``, ``run``, ``ingest`` and the intake sensor."""
    if str(name).lower().endswith(SOURCE_EXTENSIONS):
        return None
    return (
        f"{Path(name).name} is not supported; supported are videos ({', '.join(VIDEO_EXTENSIONS)}) "
        "and marker-based "
        f"motion capture ({', '.join(MARKER_EXTENSIONS)}, with optional {', '.join(SIDECAR_EXTENSIONS)} force "
        "files). Export the recording in one of these formats."
    )


def is_marker_file(name: str | Path) -> bool:
    """A marker-based motion-capture file (:data:`MARKER_EXTENSIONS`), by its extension."""
    return str(name).lower().endswith(MARKER_EXTENSIONS)


def source_stem(name: str) -> str:
    """The part of a recording's name that becomes its partition key: the name without the extension, plus the
    format for marker files (``walk01.c3d`` → ``walk01-c3d``), so that the video and the motion capture of one trial,
    delivered side by side under the same name, are two partitions instead of a collision."""
    stem, _, ext = name.rpartition(".")
    return f"{stem}-{ext.lower()}" if is_marker_file(name) else (stem or name)


_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")


def default_data_root() -> Path:
    """``$NEUROPOSE_DATA_ROOT``, else ``$XDG_DATA_HOME/neuropose-assets``, else ``~/.local/share/neuropose-assets``."""
    env = settings()
    if env.data_root:
        return Path(env.data_root).expanduser().resolve()
    xdg = env.xdg_data_home or str(Path.home() / ".local" / "share")
    return (Path(xdg) / "neuropose-assets").resolve()


def default_cache_dir() -> Path:
    """``$NEUROPOSE_CACHE_DIR``, else ``$XDG_CACHE_HOME/neuropose-assets``, else ``~/.cache/neuropose-assets``."""
    env = settings()
    if env.cache_dir:
        return Path(env.cache_dir).expanduser().resolve()
    xdg = env.xdg_cache_home or str(Path.home() / ".cache")
    return (Path(xdg) / "neuropose-assets").resolve()


def privacy_mode() -> str:
    """``NEUROPOSE_PSEUDONYMISE``: ``""`` (off), ``"files"`` (``1``/``true``/``yes``/``files``: file and folder
    names below the cohort are replaced by pseudonymous keys) or ``"all"`` (the cohort folder's name too)."""
    v = settings().pseudonymise.strip().lower()
    if v in {"all", "cohorts"}:
        return "all"
    return "files" if v in {"1", "true", "yes", "files"} else ""


def secure_data_root(layout: Layout) -> None:
    """In privacy mode (:func:`privacy_mode`), make this process create owner-only files (umask 077) and the data
    root, its instance and private folders 0700.  Processes started from here inherit the umask."""
    if not privacy_mode():
        return
    os.umask(0o077)
    for d in (layout.root, layout.dagster_home, layout.private):
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(d, 0o700)


def sanitize_key(text: str) -> str:
    """A partition key from free text: ASCII-folded, lower case, runs of other characters become ``_``.

    ``"Session 2026-04-15 / Trial @1"`` → ``"session_2026-04-15_trial_1"``.  Raises ``ValueError`` if nothing is left.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    key = re.sub(r"[^a-z0-9-]+", "_", ascii_text.lower()).strip("_-")
    key = re.sub(r"_+", "_", key)[:128].strip("_-")
    if not key:
        raise ValueError(f"cannot derive a partition key from {text!r}")
    return key


def check_key(key: str) -> str:
    """Validate a partition key (``[a-z0-9][a-z0-9_-]*``, at most 128 characters); returns it."""
    if not _KEY_RE.match(key):
        raise ValueError(f"invalid partition key {key!r}: use lower-case letters, digits, '_' and '-' only")
    return key


@dataclass(frozen=True)
class Layout:
    """Paths under one data root."""

    root: Path

    @property
    def assets(self) -> Path:
        """The IO manager's tables, ``<asset>/<partition>.parquet`` (:meth:`asset_file`)."""
        return self.root / "assets"

    @property
    def cas(self) -> Path:
        """The content-addressed store of delivered files, ``cas/sha256`` (:meth:`cas_file`)."""
        return self.root / "cas" / "sha256"

    @property
    def registry(self) -> Path:
        """The video registry, one ``<partition>.json`` per partition (:class:`Registry`)."""
        return self.root / "registry" / "videos"

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance's home under this data root (runs, event log, schedules)."""
        return self.root / "dagster_home"

    @property
    def review(self) -> Path:
        """Review videos (``<video>.mp4``) and key-frame contact sheets (``<video>.contact.jpg``)."""
        return self.root / "review"

    @property
    def reports(self) -> Path:
        """Per-video reports (``<video>.html``, self-contained)."""
        return self.root / "reports"

    @property
    def exports(self) -> Path:
        """OpenSim exports per video (``<video>.trc``, ``<video>.mot``, ``<video>.csv``; :mod:`..interop.opensim`)."""
        return self.root / "exports"

    @property
    def private(self) -> Path:
        """Owner-only (0700) folder for what may identify a patient: pseudonym secret and manifest, source paths,
        the intake sensor's state."""
        return self.root / "private"

    def asset_file(self, asset: str, partition: str | None = None) -> Path:
        """Where the IO manager stores ``asset`` (for ``partition``, if partitioned)."""
        return self.assets / asset / f"{partition}.parquet" if partition else self.assets / f"{asset}.parquet"

    def cas_file(self, sha256: str, suffix: str) -> Path:
        """Where the stored copy of a file with SHA-256 ``sha256`` and extension ``suffix`` lies:
        ``cas/sha256/<first two hex>/<sha256><suffix>`` (suffix lower-cased)."""
        return self.cas / sha256[:2] / f"{sha256}{suffix.lower()}"


@dataclass(frozen=True)
class VideoEntry:
    """Registry entry: ``source`` is the absolute path of the delivered file, ``cohort`` its cohort key;
    ``pseudonymous`` entries must not expose the source file name in outputs; ``task`` is the declared task
    (:meth:`..analysis.tasks.TaskDeclaration.as_dict`, ``None`` = nothing declared)."""

    partition: str
    source: str
    cohort: str
    pseudonymous: bool = False
    task: dict | None = None

    @property
    def declaration(self):  # -> core.analysis.tasks.TaskDeclaration
        """The entry's :class:`..analysis.tasks.TaskDeclaration` (:data:`..analysis.tasks.UNDECLARED` when nothing
        declared a task)."""
        from neuropose_assets.core.analysis.tasks import TaskDeclaration

        return TaskDeclaration.from_dict(self.task)


class Registry:
    """Partition key → source video and cohort, one JSON file per partition."""

    def __init__(self, layout: Layout) -> None:
        self.dir = layout.registry
        self.private = layout.private / "sources"

    def register(
        self, partition: str, source: str | Path, cohort: str, *, pseudonymous: bool = False, task=None
    ) -> VideoEntry:
        """Write the entry of ``partition`` (``task``: a :class:`..analysis.tasks.TaskDeclaration` or ``None``).  For a
        pseudonymous entry the source path (which holds the names) goes to ``private/sources/`` (mode 0600) and the
        public entry holds none."""
        source = str(Path(source).resolve())
        entry = VideoEntry(
            check_key(partition),
            source,
            check_key(cohort),
            pseudonymous,
            None if task is None or (not task.declared and task.visit is None) else task.as_dict(),
        )
        public = asdict(entry)
        if pseudonymous:
            private = self.private / f"{partition}.json"
            private.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_bytes(private, json.dumps({"source": source}).encode())
            os.chmod(private, 0o600)
            public["source"] = ""
        atomic_write_bytes(self.dir / f"{partition}.json", json.dumps(public, indent=2).encode())
        return entry

    def _load(self, path: Path) -> VideoEntry:
        d = json.loads(path.read_text())
        if d.get("pseudonymous") and not d.get("source"):
            private = self.private / path.name
            d["source"] = json.loads(private.read_text())["source"] if private.exists() else ""
        return VideoEntry(**d)

    def get(self, partition: str) -> VideoEntry:
        """Raises ``KeyError`` with a hint when the partition was never registered."""
        path = self.dir / f"{check_key(partition)}.json"
        if not path.exists():
            raise KeyError(
                f"partition {partition!r} is not registered under {self.dir}: add the video with the intake folder "
                "or `neuropose-assets register`, then re-run"
            )
        return self._load(path)

    def all(self) -> list[VideoEntry]:
        """Every registered entry, in partition-key order."""
        return [self._load(p) for p in sorted(self.dir.glob("*.json"))]

    def members(self, cohort: str) -> list[VideoEntry]:
        """The registered entries of cohort key ``cohort``, in partition-key order."""
        return [e for e in self.all() if e.cohort == cohort]
