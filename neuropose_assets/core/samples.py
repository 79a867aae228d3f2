"""Sample clips: real video of people moving, fetched from PyPI wheels and verified by SHA-256.

The Sports2D and Pose2Sim projects (BSD-3-Clause, Copyright (c) 2022, perfanalytics) ship demo clips inside
their wheels.  We download the pinned wheel with ``pip download --no-deps`` (the only network these machines
have), check the wheel's SHA-256, extract the clip and check the clip's SHA-256 — the way dataset helpers such as
pooch fetch and verify sample data.  Clips are cached outside the repository; nothing is re-downloaded once the
cached clip verifies.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from neuropose_assets.core.atomic import atomic_path, sha256_file


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    sha256: str

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class SampleClip:
    """A pinned sample clip: ``key`` is its partition key, ``member`` its path inside the wheel, ``task`` the task
    parameters the demo declares for it (:class:`.tasks.TaskSpec` fields) — what the clip really shows."""

    key: str
    wheel: Wheel
    member: str
    sha256: str
    description: str
    task: tuple[tuple[str, str], ...] = (("task", "generic"),)

    @property
    def filename(self) -> str:
        return f"{self.key}.mp4"


SPORTS2D = Wheel("sports2d", "0.8.34", "733b6db70742636ae9c35d870c22bd416582f579abd5881bee93a14bb0e2655d")
POSE2SIM = Wheel("pose2sim", "0.10.49", "403e0dc4065898ba6a595e72a8970950310979253d60e24c2e00b16b36bf21e1")

_SINGLE = {
    1: "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a",
    2: "94ff87cf978b8406e8aa36ab3c5362e72848994e87652f0dc7a33c315e8e0442",
    3: "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca",
    4: "b5c0e7863fd70d008e7178d3c556b045b0ea5f78fcd61ca548a0b2e807e641f7",
}
_MULTI = {
    1: "543cee6a4c2c2b52dc9eac9137ee63d14f1f84e706a9a7264769edcb11e5ea53",
    2: "8895092a7cf26359205a427b7ac2f4a935c2e0bd36d9b7a5140cb33faa468a6b",
    3: "d3daf48cdf9f5603868ddb99166ddaf9b12279e7ce968922926560d5fd3f0c99",
    4: "1490149dc40e7301fa5ceae23862b044ba5c398a8b2a40df21ed894702728c09",
}

SAMPLE_CLIPS: tuple[SampleClip, ...] = (
    SampleClip(
        "sports2d_demo",
        SPORTS2D,
        "Sports2D/Demo/demo.mp4",
        "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
        "Sports2D demo: 1768x994, 30 fps, 230 frames, outdoor, several people",
        # a person walks across side-on, but BlazePose follows the person moving on the box (the subject)
        (("task", "generic"), ("camera_view", "side")),
    ),
    *(
        SampleClip(
            f"pose2sim_single_cam{i:02d}",
            POSE2SIM,
            f"Pose2Sim/Demo_SinglePerson/videos/cam{i:02d}.mp4",
            sha,
            f"Pose2Sim single person, camera {i}: portrait, 60 fps, 100 frames, mocap lab",
        )
        for i, sha in _SINGLE.items()
    ),
    *(
        SampleClip(
            f"pose2sim_multi_cam{i:02d}",
            POSE2SIM,
            f"Pose2Sim/Demo_MultiPerson/videos/cam{i:02d}.mp4",
            sha,
            f"Pose2Sim two persons, camera {i}: 60 fps, 100 frames, mocap lab",
        )
        for i, sha in _MULTI.items()
    ),
)


class SampleFetchError(RuntimeError):
    """A sample could not be fetched or failed verification; the message says what to do."""


def _fetch_wheel(wheel: Wheel, cache: Path) -> Path:
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    existing = sorted(wheels.glob(f"{wheel.name}-{wheel.version}-*.whl"))
    for w in existing:
        if sha256_file(w) == wheel.sha256:
            return w
        w.unlink()  # corrupt or tampered: fetch again
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", tmp, wheel.spec]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SampleFetchError(
                f"Could not download {wheel.spec} from the package index (needed for the sample clips).\n"
                f"{proc.stderr.strip()[-800:]}\nCheck network access to PyPI, or copy the wheel into {wheels}."
            )
        got = sorted(Path(tmp).glob("*.whl"))
        if len(got) != 1:
            raise SampleFetchError(f"pip download {wheel.spec} produced {len(got)} wheels, expected 1")
        digest = sha256_file(got[0])
        if digest != wheel.sha256:
            raise SampleFetchError(
                f"{got[0].name} has SHA-256 {digest}, expected {wheel.sha256}: the index served a different file. "
                "Nothing was cached."
            )
        target = wheels / got[0].name
        got[0].replace(target)
    return target


def fetch_sample(clip: SampleClip, cache: Path) -> Path:
    """Return the verified local path of ``clip``, downloading and extracting it if needed.

    Raises:
        SampleFetchError: download failed, or a wheel or clip did not match its pinned SHA-256.
    """
    target = cache / "clips" / clip.filename
    if target.exists() and sha256_file(target) == clip.sha256:
        return target
    wheel = _fetch_wheel(clip.wheel, cache)
    with zipfile.ZipFile(wheel) as zf, atomic_path(target) as tmp:
        h = hashlib.sha256()
        with zf.open(clip.member) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                h.update(chunk)
                dst.write(chunk)
        if h.hexdigest() != clip.sha256:
            raise SampleFetchError(f"{clip.member} in {wheel.name} has SHA-256 {h.hexdigest()}, expected {clip.sha256}")
    return target


def fetch_samples(cache: Path, keys: list[str] | None = None) -> dict[str, Path]:
    """Fetch all (or the named) sample clips; returns ``{partition_key: path}`` in catalogue order."""
    wanted = [c for c in SAMPLE_CLIPS if keys is None or c.key in keys]
    unknown = set(keys or []) - {c.key for c in SAMPLE_CLIPS}
    if unknown:
        raise KeyError(f"unknown sample(s) {sorted(unknown)}; known: {[c.key for c in SAMPLE_CLIPS]}")
    return {c.key: fetch_sample(c, cache) for c in wanted}
