"""Acquire a MeTRAbs SavedModel: pinned download, local tarball, or an already-extracted directory.

MeTRAbs (Sárándi et al., "MeTRAbs: Metric-Scale Truncation-Robust Heatmaps for Absolute 3D Human Pose Estimation",
IEEE T-BIOM 2021, arXiv 2007.07227) is distributed as TensorFlow SavedModel archives by its authors.  This module only
deals with *files*; loading into TensorFlow is in :mod:`.metrabs`.

Guarantees:
    * downloads are streamed into a hidden ``.partial`` file, hashed while streaming, checked against the pinned
      SHA-256 (and the announced ``Content-Length``), and only then renamed into the cache: a failed or truncated
      download never leaves anything that looks valid;
    * a variant without a pinned checksum is refused unless the caller passes one;
    * extraction goes to a staging directory (tar with ``filter="data"``: no absolute paths, no ``..``, no links out of
      the tree, no device files; zip members are checked the same way), then one ``rename`` publishes it, with a
      ``.neuropose-model.json`` marker that records the archive's SHA-256;
    * a file lock makes concurrent loaders in several processes safe: one extracts, the others wait and reuse it.

Every failure is a :class:`ModelAcquisitionError` whose message says what to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from neuropose_assets.core.io.atomic import CHUNK, atomic_path, sha256_file
from neuropose_assets.settings import settings

BASE_URL = "https://omnomnom.vision.rwth-aachen.de/data/metrabs"
DEFAULT_VARIANT = "metrabs_eff2l_y4_384px_800k_28ds"
#: test-time augmentations per person: 5 reproduces the published accuracy (3DPW MPJPE 61.9 mm for eff2l); 1 is
#: about 5× faster
DEFAULT_NUM_AUG = 5

#: Variants with a pinned archive SHA-256.  Others (e.g. ``metrabs_eff2s_y4``, ``metrabs_mob3l_y4t`` zip archives) are
#: served by the same host but their checksums are not known here: pass ``sha256=`` to use them.
PINNED: dict[str, tuple[str, str]] = {
    DEFAULT_VARIANT: (f"{DEFAULT_VARIANT}.tar.gz", "fa31b5b043f227588c3d224e56db89307d021bfbbb52e36028919f90e1f96c89"),
}
MARKER = ".neuropose-model.json"
ENV_TARBALL = "NEUROPOSE_METRABS_TARBALL"
ENV_DIR = "NEUROPOSE_METRABS_DIR"


class ModelAcquisitionError(RuntimeError):
    """The model could not be obtained or verified; the message says what to do."""


@dataclass(frozen=True)
class ModelLocation:
    """An extracted SavedModel: ``path`` (the directory holding ``saved_model.pb``), ``variant``, ``checksum``
    (SHA-256 of the archive it came from, or a fingerprint of a user-supplied directory) and ``source``."""

    path: Path
    variant: str
    checksum: str
    source: str


def archive_name(variant: str, url: str | None = None) -> str:
    """The archive's file name for ``variant``: the pinned one, else the last part of ``url``, else
    ``<variant>.zip``."""
    if variant in PINNED:
        return PINNED[variant][0]
    if url:
        return url.rstrip("/").rsplit("/", 1)[-1]
    return f"{variant}.zip"


def expected_sha256(variant: str, sha256: str | None) -> str:
    """The checksum to verify against: the caller's, else the pinned one; refuses unpinned variants."""
    if sha256:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256.lower()):
            raise ModelAcquisitionError(f"sha256 must be 64 hexadecimal characters, got {sha256!r}")
        return sha256.lower()
    if variant in PINNED:
        return PINNED[variant][1]
    raise ModelAcquisitionError(
        f"MeTRAbs variant {variant!r} has no pinned SHA-256 in neuropose-assets, so its download cannot be verified. "
        f"Pass the archive's SHA-256 (--sha256 / metrabs_sha256) if you trust its source, or use {DEFAULT_VARIANT!r}."
    )


def _offline_hint(cache: Path, variant: str, url: str | None = None) -> str:
    name = archive_name(variant, url)
    return (
        f"Without network access: copy {name} to {cache / name}, or set {ENV_TARBALL}=/path/to/{name}, "
        f"or point {ENV_DIR} at an already-extracted SavedModel directory; then retry "
        "(`neuropose-assets model install --tarball ...` does the same and prints where the model is)."
    )


def download(url: str, target: Path, sha256: str, *, timeout_s: float = 120.0, hint: str = "") -> Path:
    """Stream ``url`` to ``target``; publish it only if the byte count and SHA-256 match.

    Raises:
        ModelAcquisitionError: network error, truncated transfer or checksum mismatch (nothing is left behind).
    """
    req = urllib.request.Request(url, headers={"User-Agent": "neuropose-assets"})
    h = hashlib.sha256()
    got = 0
    try:
        with atomic_path(target) as tmp, urllib.request.urlopen(req, timeout=timeout_s) as resp, open(tmp, "wb") as f:
            announced = resp.headers.get("Content-Length")
            while True:
                try:
                    chunk = resp.read(CHUNK)
                except Exception as err:  # http.client.IncompleteRead and friends
                    raise ModelAcquisitionError(
                        f"download of {url} broke off after {got} bytes ({err}). Retry; {hint}"
                    ) from err
                if not chunk:
                    break
                h.update(chunk)
                f.write(chunk)
                got += len(chunk)
            if announced is not None and got != int(announced):
                raise ModelAcquisitionError(
                    f"download of {url} is truncated: {got} of {announced} bytes arrived. Retry; {hint}"
                )
            if h.hexdigest() != sha256:
                raise ModelAcquisitionError(
                    f"download of {url} has SHA-256 {h.hexdigest()}, expected {sha256}: the file is corrupt or not the "
                    f"pinned model. Nothing was kept. {hint}"
                )
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        raise ModelAcquisitionError(f"could not download {url}: {err}. {hint}") from err
    return target


def _check_zip_member(name: str) -> None:
    from neuropose_assets.core.io.zip_ingest import split_member

    _, reason = split_member(name)
    if reason:
        raise ModelAcquisitionError(f"refusing archive member {name!r}: {reason}")


def _extract(archive: Path, staging: Path) -> None:
    if tarfile.is_tarfile(archive):
        try:
            with tarfile.open(archive) as tf:
                tf.extractall(staging, filter="data")
        except (tarfile.FilterError, tarfile.TarError, EOFError, OSError) as err:
            raise ModelAcquisitionError(f"refusing or unable to extract {archive.name}: {err}") from err
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_zip_member(info.filename)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ModelAcquisitionError(f"refusing archive member {info.filename!r}: symbolic link")
            zf.extractall(staging)
    else:
        raise ModelAcquisitionError(f"{archive} is neither a tar nor a zip archive")


def find_saved_model(root: Path) -> Path:
    """The one directory under ``root`` that holds ``saved_model.pb``."""
    found = sorted(p.parent for p in root.rglob("saved_model.pb"))
    if len(found) != 1:
        raise ModelAcquisitionError(f"expected exactly one saved_model.pb under {root}, found {len(found)}")
    return found[0]


def directory_fingerprint(path: Path) -> str:
    """SHA-256 over ``saved_model.pb`` and ``variables/variables.index`` (cheap; the multi-GB data shards are not
    read).  Identifies a user-supplied directory in provenance; it is a fingerprint, not a full attestation."""
    h = hashlib.sha256()
    for rel in ("saved_model.pb", "variables/variables.index"):
        f = path / rel
        if f.exists():
            h.update(rel.encode())
            h.update(bytes.fromhex(sha256_file(f)))
    return h.hexdigest()


def install_archive(archive: Path, cache: Path, variant: str, sha256: str, source: str) -> ModelLocation:
    """Verify ``archive`` against ``sha256`` and extract it atomically to ``cache/<variant>`` (under the lock)."""
    digest = sha256_file(archive)
    if digest != sha256:
        raise ModelAcquisitionError(
            f"{archive} has SHA-256 {digest}, expected {sha256}: it is truncated, corrupt or a different model. "
            "Copy the archive again (compare its size with the original)."
        )
    dest = cache / variant
    staging = cache / f".{variant}.staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        _extract(archive, staging)
        model_dir = find_saved_model(staging)
        rel = model_dir.relative_to(staging)
        (staging / MARKER).write_text(
            json.dumps(
                {
                    "variant": variant,
                    "archive_sha256": digest,
                    "saved_model": str(rel),
                    "source": source,
                    "fingerprint": directory_fingerprint(model_dir),
                }
            )
        )
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ModelLocation(dest / rel, variant, digest, source)


def _cached(dest: Path, sha256: str) -> ModelLocation | None:
    marker = dest / MARKER
    if not marker.exists():
        return None
    meta = json.loads(marker.read_text())
    path = dest / meta["saved_model"]
    if meta.get("archive_sha256") != sha256 or not (path / "saved_model.pb").exists():
        return None
    return ModelLocation(path, meta["variant"], sha256, meta.get("source", "cache"))


def acquire(
    cache: str | Path,
    *,
    variant: str = DEFAULT_VARIANT,
    sha256: str | None = None,
    url: str | None = None,
    tarball: str | Path | None = None,
    directory: str | Path | None = None,
    timeout_s: float = 120.0,
) -> ModelLocation:
    """Return a verified, extracted SavedModel, obtaining it in this order:

    1. ``directory`` (or ``$NEUROPOSE_METRABS_DIR``): an extracted SavedModel used in place (fingerprinted);
    2. the cache ``cache/<variant>`` if its marker records the expected archive SHA-256;
    3. ``tarball`` (or ``$NEUROPOSE_METRABS_TARBALL``), else ``cache/<archive name>``, else a download from ``url``
       (default: the authors' server) — verified, then extracted.

    Raises:
        ModelAcquisitionError: with instructions (offline copy, checksum, ...).
    """
    directory = directory or settings().metrabs_dir
    if directory:
        d = Path(directory).expanduser()
        if not d.is_dir():
            raise ModelAcquisitionError(f"{ENV_DIR}/directory {d} is not a directory")
        path = find_saved_model(d)
        return ModelLocation(path, variant, directory_fingerprint(path), f"directory:{d}")
    cache = Path(cache).expanduser()
    want = expected_sha256(variant, sha256)
    cache.mkdir(parents=True, exist_ok=True)
    dest = cache / variant
    with FileLock(str(cache / f".{variant}.lock")):
        hit = _cached(dest, want)
        if hit:
            return hit
        tarball = tarball or settings().metrabs_tarball
        name = archive_name(variant, url)
        hint = _offline_hint(cache, variant, url)
        if tarball:
            archive, source = Path(tarball).expanduser(), f"tarball:{tarball}"
            if not archive.is_file():
                raise ModelAcquisitionError(f"model archive {archive} does not exist. {hint}")
        else:
            archive, source = cache / name, "cache"
            if not archive.exists():
                src_url = url or f"{BASE_URL}/{name}"
                download(src_url, archive, want, timeout_s=timeout_s, hint=hint)
                source = src_url
        try:
            return install_archive(archive, cache, variant, want, source)
        except ModelAcquisitionError:
            if source == "cache" or source.startswith("http"):
                with contextlib.suppress(FileNotFoundError):
                    archive.unlink()  # never keep a cached archive that failed verification
            raise
