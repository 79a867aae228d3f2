"""Marker-based motion capture as a source of poses: read TRC and C3D files, their events and force plates, and
turn them into a ``poses`` table that the rest of the chain analyses exactly like a video's.

* **TRC** (OpenSim / Motion Analysis marker trajectories, tab-separated): units (``mm``, ``cm``, ``m``) and the
  frame rate come from the header, times from the ``Time`` column; empty fields are missing markers.
* **C3D** (the biomechanics standard, read with ``ezc3d``: Michaud & Begon, JOSS 2021): ``POINT:LABELS``,
  ``POINT:UNITS``, ``POINT:RATE``; invalid samples (negative residual, or the all-zero convention) are missing;
  ``EVENT`` parameters (``Foot Strike`` / ``Foot Off`` per ``Left`` / ``Right`` context, Vicon Nexus) become
  reference events; force plates (``FORCE_PLATFORM``, via ezc3d's platform extraction) give foot contacts: the
  vertical ground reaction force rising above / falling below :data:`FORCE_THRESHOLD_N` (a 20 N threshold is the
  usual choice, e.g. Zeni et al., Gait Posture 2008, and O'Connor et al., Gait Posture 2007, validate against it),
  assigned to the foot whose heel is nearest to the centre of pressure.
* a **ground reaction ``.mot``** next to a TRC (same name, or with ``_grf`` / ``_forces``) gives the same contacts
  from its ``*_vy`` / ``ground_force_vy`` columns (OpenSim's external-loads convention, Y up).

Markers are mapped onto the clinical joints by a marker set (:mod:`..kinematics.markersets`), their lab frame is
verified and rotated into the virtual side-view camera (:mod:`..kinematics.frames`), and the ``poses`` table gets one
row per frame with the subject (``track`` 1), 3D in mm, no image coordinates (``*_u_px`` / ``*_v_px`` null: there is no
image), confidence 1 where the joint is defined and null where it is missing, and a gap row where no joint is seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from neuropose_assets.core.io.errors import VideoError
from neuropose_assets.core.io.storage import MAPPING_FILE, MARKER_EXTENSIONS
from neuropose_assets.core.io.video import VideoProbe
from neuropose_assets.core.kinematics.frames import FrameTransform, lab_to_camera, lab_vertical
from neuropose_assets.core.kinematics.markersets import MarkerMapping, choose_mapping, clinical_from_markers
from neuropose_assets.core.kinematics.skeletons import CLINICAL_JOINTS
from neuropose_assets.core.pose.base import MARKER_CAPTURE, ModelInfo

#: vertical ground reaction force that counts as foot contact, N
FORCE_THRESHOLD_N = 20.0
#: shortest contact (s) and shortest gap between contacts (s) that count; shorter ones are noise
MIN_CONTACT_S = 0.1
UNIT_TO_MM = {"mm": 1.0, "millimeters": 1.0, "cm": 10.0, "m": 1000.0, "meters": 1000.0, "metres": 1000.0}
#: the skeleton of marker-based poses: the clinical joints themselves (:data:`.skeletons.CLINICAL_19`)
SKELETON = "clinical_19"


class MarkerFileError(VideoError):
    """A marker file cannot be used.  ``str(err)`` says what is wrong and what to do."""


@dataclass(frozen=True)
class ReferenceEvent:
    """An event recorded with the capture: ``event`` (``heel_strike`` / ``toe_off``), ``side``, ``frame`` (0-based
    row of the marker data), ``time_s`` (from the first row), and its ``source`` (``c3d_event``, ``force_plate``,
    ``grf_mot``)."""

    event: str
    side: str | None
    frame: int
    time_s: float
    source: str


@dataclass
class MarkerData:
    """Marker trajectories of one trial.

    Attributes:
        labels: marker names as in the file.
        xyz_mm: ``(F, M, 3)`` float64 positions in the file's lab frame, mm; NaN where missing.
        times_s: ``(F,)`` time of each row from the first, s.
        rate_hz: marker frame rate, Hz.
        units: the file's length unit.
        first_frame: the file's frame number of the first row (1-based, as in the file).
        events: reference events of the trial (C3D events, force-plate contacts).
        format: ``"trc"`` or ``"c3d"``.
    """

    labels: list[str]
    xyz_mm: np.ndarray
    times_s: np.ndarray
    rate_hz: float
    units: str
    first_frame: int = 1
    events: list[ReferenceEvent] = field(default_factory=list)
    format: str = "trc"

    @property
    def n_frames(self) -> int:
        """Number of marker frames ``F`` (rows of ``xyz_mm``)."""
        return int(self.xyz_mm.shape[0])


def _unit_scale(units: str, name: str) -> float:
    try:
        return UNIT_TO_MM[units.strip().lower()]
    except KeyError:
        raise MarkerFileError(
            f"{name}: unknown length unit {units!r} (expected mm, cm or m); correct the Units field of the header"
        ) from None


def _check_rate(rate: float, name: str) -> float:
    if not (math.isfinite(rate) and 1.0 <= rate <= 10000.0):
        raise MarkerFileError(
            f"{name}: the frame rate in the file is {rate} Hz; marker data needs a rate between "
            "1 and 10000 Hz. Export the trial again with its capture rate."
        )
    return float(rate)


# ------------------------------------------------------------------------------------------------------------- TRC


def read_trc(path: str | Path, name: str | None = None) -> MarkerData:
    """Read a TRC file (``PathFileType 4``: header keys / values, marker names, ``X1 Y1 Z1`` row, data rows).

    Raises:
        MarkerFileError: not a TRC file, inconsistent header, unknown unit, no data rows.
    """
    path = Path(path)
    name = name or path.name
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise MarkerFileError(f"{name}: cannot be read ({err.strerror})") from None
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise MarkerFileError(
            f"{name} is not a TRC marker file (the first line must start with 'PathFileType'). "
            "Export the trial as TRC or C3D."
        )
    keys, values = lines[1].split("\t"), lines[2].split("\t")
    header = {k.strip(): v.strip() for k, v in zip(keys, values, strict=False)}
    try:
        rate = _check_rate(float(header.get("DataRate") or header.get("CameraRate")), name)
    except (TypeError, ValueError):
        raise MarkerFileError(f"{name}: the header has no valid DataRate") from None
    units = header.get("Units", "")
    scale = _unit_scale(units, name)
    names = [c.strip() for c in lines[3].split("\t")[2:]]
    labels = [c for c in names if c]
    if not labels:
        raise MarkerFileError(f"{name}: the TRC file names no markers")
    rows = []
    for line in lines[5:]:
        if not line.strip():
            continue
        cells = line.split("\t")
        try:
            vals = [float(c) if c.strip() else np.nan for c in cells[: 2 + 3 * len(labels)]]
        except ValueError:
            raise MarkerFileError(f"{name}: a data row is not numeric: {line[:60]!r}") from None
        vals += [np.nan] * (2 + 3 * len(labels) - len(vals))
        rows.append(vals)
    if not rows:
        raise MarkerFileError(f"{name}: the TRC file has no data rows (0 frames). Export the trial again.")
    data = np.asarray(rows, dtype=np.float64)
    times = data[:, 1]
    if not np.isfinite(times).all():  # no usable Time column: the rate defines it
        times = (data[:, 0] - data[0, 0]) / rate
    xyz = data[:, 2:].reshape(len(rows), len(labels), 3) * scale
    first = int(data[0, 0]) if np.isfinite(data[0, 0]) else 1
    return MarkerData(labels, xyz, times - times[0], rate, units, first, [], "trc")


def write_trc(
    path: Path, labels: list[str], xyz_m: np.ndarray, times_s: np.ndarray, frames: np.ndarray, rate_hz: float
) -> None:
    """Write an OpenSim TRC file (metres, ``PathFileType 4 (X/Y/Z)``), atomically.

    Args:
        labels: ``M`` marker names.
        xyz_m: ``(F, M, 3)`` positions, m (already in OpenSim axes); NaN = missing marker, written as ``NaN``
            (OpenSim's IK then ignores that marker in that frame; an empty field at the end of a line would be lost by
            OpenSim's TRC reader, which strips trailing tabs).  12 significant digits, time to 1 ns.
        times_s: ``(F,)`` s; frames: ``(F,)`` 1-based frame numbers.
    """
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    n, m = xyz_m.shape[:2]
    out = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{rate_hz:.6g}\t{rate_hz:.6g}\t{n}\t{m}\tm\t{rate_hz:.6g}\t{int(frames[0]) if n else 1}\t{n}",
        "Frame#\tTime\t" + "\t".join(f"{lab}\t\t" for lab in labels).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, m + 1)),
        "",
    ]
    for f in range(n):
        cells = [str(int(frames[f])), f"{times_s[f]:.9f}"]
        cells += ["NaN" if not np.isfinite(v) else f"{v:.12g}" for v in xyz_m[f].ravel()]
        out.append("\t".join(cells))
    atomic_write_bytes(path, ("\n".join(out) + "\n").encode())


def write_mot(
    path: Path, columns: list[str], values: np.ndarray, times_s: np.ndarray, *, in_degrees: bool = True
) -> None:
    """Write an OpenSim motion file (``.mot``: ``version=1``, ``nRows``, ``nColumns``, ``inDegrees``, ``endheader``,
    then ``time`` and ``columns``, tab-separated), atomically.  ``values`` ``(F, K)``; NaN is written as ``NaN``."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    n = len(times_s)
    out = [
        path.name,
        "version=1",
        f"nRows={n}",
        f"nColumns={len(columns) + 1}",
        f"inDegrees={'yes' if in_degrees else 'no'}",
        "endheader",
        "time\t" + "\t".join(columns),
    ]
    for f in range(n):
        out.append("\t".join([f"{times_s[f]:.9f}", *("NaN" if not np.isfinite(v) else f"{v:.9g}" for v in values[f])]))
    atomic_write_bytes(path, ("\n".join(out) + "\n").encode())


def read_mot(path: Path) -> tuple[list[str], np.ndarray]:
    """Read an OpenSim ``.mot`` / ``.sto`` table: column names (``time`` first) and values ``(F, K)``.

    Raises:
        MarkerFileError: no ``endheader`` line or non-numeric data.
    """
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader") + 1
    except StopIteration:
        raise MarkerFileError(f"{path.name}: not an OpenSim motion file (no 'endheader' line)") from None
    columns = lines[start].split()
    try:
        values = np.array([[float(v) for v in line.split()] for line in lines[start + 1 :] if line.strip()])
    except ValueError:
        raise MarkerFileError(f"{path.name}: a data row is not numeric") from None
    return columns, values.reshape(-1, len(columns))


# ------------------------------------------------------------------------------------------------------------- C3D

#: C3D event labels (Vicon Nexus / Plug-in Gait) → our event names
C3D_EVENTS = {"foot strike": "heel_strike", "foot off": "toe_off", "heel strike": "heel_strike", "toe off": "toe_off"}


def read_c3d(
    path: str | Path, name: str | None = None, *, with_forces: bool = True
) -> tuple[MarkerData, list[ForcePlate]]:
    """Read a C3D file with ezc3d: markers (invalid samples → NaN), ``EVENT`` parameters, force plates.

    Returns:
        the markers (``events`` holds the C3D events; force-plate contacts are added by :func:`force_contacts`) and
        the force plates (vertical force and centre of pressure in the lab frame).
    Raises:
        MarkerFileError: not a readable C3D file, no markers, unknown unit or rate.
    """
    import ezc3d

    path = Path(path)
    name = name or path.name
    try:
        c = ezc3d.c3d(str(path), extract_forceplat_data=with_forces)
    except Exception as err:  # ezc3d raises RuntimeError / IOError with C++ messages
        if with_forces:  # a damaged force-plate description must not cost the markers
            try:
                return read_c3d(path, name, with_forces=False)
            except MarkerFileError:
                pass
        raise MarkerFileError(
            f"{name} is not a readable C3D file ({str(err)[:120]}). Export the trial again."
        ) from None
    params = c["parameters"]
    point = params["POINT"]
    labels = [str(lab).strip() for lab in point["LABELS"]["value"]]
    for extra in ("LABELS2", "LABELS3", "LABELS4"):  # more than 255 markers continue in LABELS2 …
        if extra in point:
            labels += [str(lab).strip() for lab in point[extra]["value"]]
    pts = np.asarray(c["data"]["points"], dtype=np.float64)  # (4, M, F)
    if pts.shape[1] == 0 or pts.shape[2] == 0 or not labels:
        raise MarkerFileError(f"{name}: the C3D file holds no marker trajectories (analog data only?)")
    labels = labels[: pts.shape[1]]
    rate = _check_rate(float(c["header"]["points"]["frame_rate"]), name)
    units_param = point.get("UNITS", {}).get("value", [])
    units = str(units_param[0]).strip() if len(units_param) else "mm"
    scale = _unit_scale(units, name)
    xyz = np.transpose(pts[:3], (2, 1, 0)) * scale  # (F, M, 3)
    xyz[np.all(xyz == 0.0, axis=2)] = np.nan  # the all-zero convention of some exporters for a missing sample
    first0 = int(c["header"]["points"]["first_frame"])  # 0-based (ezc3d)
    n = xyz.shape[0]
    times = np.arange(n) / rate
    events: list[ReferenceEvent] = []
    ev = params.get("EVENT", {})
    if ev and "TIMES" in ev and "LABELS" in ev:
        t = np.asarray(ev["TIMES"]["value"], dtype=np.float64).reshape(2, -1)
        seconds = t[0] * 60.0 + t[1]
        contexts = list(ev.get("CONTEXTS", {}).get("value", [])) + [""] * t.shape[1]
        for i, label in enumerate(ev["LABELS"]["value"]):
            kind = C3D_EVENTS.get(str(label).strip().lower())
            if kind is None:
                continue
            frame = int(round(seconds[i] * rate)) - first0
            if 0 <= frame < n:
                side = str(contexts[i]).strip().lower()
                events.append(
                    ReferenceEvent(
                        kind, side if side in ("left", "right") else None, frame, float(times[frame]), "c3d_event"
                    )
                )
    plates: list[ForcePlate] = []
    for p in c["data"].get("platform", []) if with_forces else []:
        force = np.asarray(p.get("force"), dtype=np.float64)  # (3, A) N, lab frame
        cop = np.asarray(p.get("center_of_pressure"), dtype=np.float64)  # (3, A) in the plate's position unit
        unit = str(p.get("unit_position", "mm")).strip() or "mm"
        if force.ndim != 2 or force.shape[1] == 0:
            continue
        analog_rate = float(params["ANALOG"]["RATE"]["value"][0])
        plates.append(
            ForcePlate(
                force.T, cop.T * UNIT_TO_MM.get(unit.lower(), 1.0), analog_rate, f"force plate {len(plates) + 1}"
            )
        )
    events.sort(key=lambda e: (e.frame, e.side or ""))
    return MarkerData(labels, xyz, times, rate, units, first0 + 1, events, "c3d"), plates


# --------------------------------------------------------------------------------------------------- force plates


@dataclass(frozen=True)
class ForcePlate:
    """One force plate: ``force_n`` ``(A, 3)`` ground reaction force in the lab frame, N; ``cop_mm`` ``(A, 3)``
    centre of pressure, mm (lab frame); ``rate_hz`` its sampling rate; ``name``; ``times_s`` ``(A,)`` the sample
    times from the file when it has a time column (an OpenSim ``.mot``), else ``None`` (sample / rate)."""

    force_n: np.ndarray
    cop_mm: np.ndarray
    rate_hz: float
    name: str
    times_s: np.ndarray | None = None

    def time_of(self, sample: int) -> float:
        """Time of ``sample`` from the plate's first sample, s: from the file's own time column when there is one
        (robust to a rounded column: no rate is derived from it), else ``sample / rate_hz``."""
        if self.times_s is not None and len(self.times_s) > sample:
            return float(self.times_s[sample] - self.times_s[0])
        return sample / self.rate_hz


def force_contacts(
    plates: list[ForcePlate],
    markers: MarkerData,
    clinical_xyz: np.ndarray,
    up: np.ndarray,
    threshold_n: float = FORCE_THRESHOLD_N,
) -> list[ReferenceEvent]:
    """Foot contacts on the force plates as reference events: a ``heel_strike`` where the vertical force (along
    ``up``, absolute value, so either sign convention works) rises above ``threshold_n`` and a ``toe_off`` where it
    falls below, for contacts of at least :data:`MIN_CONTACT_S`.  The side is the foot (mean of heel and toe) nearest
    to the centre of pressure over the contact (median horizontal distance over its loaded samples ≤ 250 mm, else
    ``None``).  Samples are placed on the marker frames by time (the nearest marker frame), using the force file's
    own time column when it has one.  An edge of the recording is not an event: a contact already under way in the
    first sample has no heel strike.

    Args:
        clinical_xyz: ``(F, C, 3)`` clinical joints in the lab frame, mm (for the side).
        up: the lab's vertical (:func:`..kinematics.frames.lab_vertical`).
    """
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    feet = {s: np.nanmean(clinical_xyz[:, [ci[f"{s}_heel"], ci[f"{s}_toe"]]], axis=1) for s in ("left", "right")}
    out: list[ReferenceEvent] = []
    for plate in plates:
        fz = np.abs(plate.force_n @ up)
        on = np.nan_to_num(fz) > threshold_n
        edges = np.flatnonzero(np.diff(on.astype(np.int8)))
        starts = list(edges[~on[edges]] + 1)  # rising edges
        ends = list(edges[on[edges]] + 1)  # falling edges
        if on[0]:
            starts.insert(0, 0)
        if on[-1]:
            ends.append(len(on))

        def frame_of(sample: int) -> int:
            return int(np.argmin(np.abs(markers.times_s - plate.time_of(sample))))

        for a, b in zip(starts, ends, strict=False):
            if plate.time_of(min(b, len(on) - 1)) - plate.time_of(a) < MIN_CONTACT_S:
                continue
            side = None
            dist: dict[str, list[float]] = {"left": [], "right": []}
            for sample in range(a, b, max(1, (b - a) // 20)):  # ~20 samples over the contact
                cop, f = plate.cop_mm[sample], frame_of(sample)
                if not np.isfinite(cop).all():
                    continue
                for s_, foot in feet.items():
                    d = foot[f] - cop
                    dist[s_].append(float(np.linalg.norm(d - np.dot(d, up) * up)))
            med = {s_: float(np.nanmedian(v)) for s_, v in dist.items() if v and np.isfinite(v).any()}
            if med and min(med.values()) <= 250.0:
                side = min(med, key=med.get)
            for kind, sample in (("heel_strike", a), ("toe_off", b)):
                if sample == 0 or sample >= len(on):
                    continue  # the contact runs past the start / end of the recording: no event
                frame = frame_of(sample)
                if plate.time_of(sample) <= markers.times_s[-1] + 0.5 / markers.rate_hz:  # inside the markers' trial
                    out.append(ReferenceEvent(kind, side, frame, float(markers.times_s[frame]), "force_plate"))
    return sorted(out, key=lambda e: (e.frame, e.side or ""))


def grf_plates(path: Path) -> list[ForcePlate]:
    """Force "plates" of an OpenSim ground reaction ``.mot``: every ``<prefix>v[xyz]`` / ``<prefix>p[xyz]`` column
    group (e.g. ``ground_force_vx … ground_force_pz``, ``1_ground_force_vx …``) is one force with its centre of
    pressure; positions in the file's unit, taken as metres when they are typically (median over the loaded samples)
    below 20 (OpenSim writes metres).

    Raises:
        MarkerFileError: not an OpenSim table, or no force columns.
    """
    columns, values = read_mot(path)
    if "time" not in columns:
        raise MarkerFileError(f"{path.name}: no 'time' column")
    t = values[:, columns.index("time")]
    # the mean interval, not the median: a time column rounded to 1 ms (60 Hz → 0.017, 0.017, 0.016, …) has a median
    # interval 2 % off, which drifts the events by a frame every 50; the events use the times themselves anyway
    rate = (len(t) - 1) / float(t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 1.0
    plates = []
    for c in columns:
        if not c.endswith("vx"):
            continue
        prefix = c[:-2]
        need = [prefix + s for s in ("vx", "vy", "vz", "px", "py", "pz")]
        if not all(n in columns for n in need):
            continue
        block = values[:, [columns.index(n) for n in need]]
        cop = block[:, 3:]
        # OpenSim writes metres; judge by the loaded samples (an unloaded plate's CoP is undefined and may be huge)
        loaded = np.linalg.norm(np.nan_to_num(block[:, :3]), axis=1) > FORCE_THRESHOLD_N
        typical = np.nanmedian(np.abs(cop[loaded])) if loaded.any() else np.nanmedian(np.abs(cop))
        scale = 1000.0 if not typical >= 20.0 else 1.0
        plates.append(ForcePlate(block[:, :3], cop * scale, rate, prefix.rstrip("_") or "force", t.copy()))
    if not plates:
        raise MarkerFileError(f"{path.name}: no ground reaction force columns (*_vx … *_pz) found")
    return plates


# ---------------------------------------------------------------------------------------------------- marker poses

#: joints a marker file must define: the vertical, the walking direction and left / right are verified from them
REQUIRED_JOINTS = ("left_hip", "right_hip", "left_heel", "right_heel", "left_toe", "right_toe")


@dataclass
class MarkerImport:
    """A marker file turned into poses (:func:`import_markers`).

    Attributes:
        table: the ``poses`` table (module docstring), skeleton :data:`SKELETON`, virtual-camera frame, mm.
        markers: the file's markers as read.
        mapping: the marker set used; joints: how each clinical joint was defined.
        transform: the verified lab → camera rotation (:func:`..kinematics.frames.lab_to_camera`).
        events: reference events (C3D events, force-plate or ``.mot`` contacts).
    """

    table: pl.DataFrame
    markers: MarkerData
    mapping: str
    joints: dict[str, str]
    transform: FrameTransform
    events: list[ReferenceEvent]

    def model_info(self, checksum: str) -> ModelInfo:
        """The poses' provenance in the form of a pose model's (``name`` :data:`..pose.base.MARKER_CAPTURE`, the
        format as ``variant``, the file's SHA-256 as ``checksum``, origin ``camera``: absolute lab positions)."""
        from importlib import metadata

        return ModelInfo(
            MARKER_CAPTURE,
            self.markers.format,
            checksum,
            SKELETON,
            "camera",
            self.settings(),
            {"ezc3d": metadata.version("ezc3d")} if self.markers.format == "c3d" else {},
        )

    def settings(self) -> dict:
        """What the poses depend on, for provenance (``ModelInfo.settings``)."""
        return {
            "format": self.markers.format,
            "rate_hz": self.markers.rate_hz,
            "units": self.markers.units,
            "first_frame": self.markers.first_frame,
            "marker_set": self.mapping,
            "joints": self.joints,
            "lab_to_camera": self.transform.as_dict(),
        }


def read_markers(path: Path, name: str, suffix: str | None = None) -> tuple[MarkerData, list[ForcePlate]]:
    """Read a TRC or C3D file by its extension (:data:`MARKER_EXTENSIONS`; ``suffix`` overrides the path's, for a
    staged copy)."""
    suffix = (suffix or path.suffix).lower()
    if suffix == ".c3d":
        return read_c3d(path, name)
    if suffix == ".trc":
        return read_trc(path, name), []
    raise MarkerFileError(f"{name}: not a marker file (expected {', '.join(MARKER_EXTENSIONS)})")


def probe_markers(path: Path, name: str, suffix: str | None = None) -> VideoProbe:
    """Container facts of a marker file in the form of a video probe (``raw_video``): ``fps`` = marker rate (Hz),
    ``frame_count`` = rows, ``duration_s``, no image size, ``rotation_deg`` 0, ``codec`` = the format.

    Raises:
        MarkerFileError: not a readable TRC / C3D file, or no rows.
    """
    data, _ = read_markers(path, name, suffix)
    if data.n_frames == 0:
        raise MarkerFileError(f"{name}: the marker file holds no frames")
    return VideoProbe(data.rate_hz, data.n_frames, data.n_frames / data.rate_hz, None, None, 0, data.format)


#: ground reaction files read with a marker file ``<stem>.trc`` / ``.c3d`` in the same folder (first found)
GRF_NAMES = ("{stem}_grf.mot", "{stem}_forces.mot", "{stem}.mot")


def find_sidecars(source: Path, max_levels: int = 3) -> tuple[Path | None, Path | None]:
    """The files read with the marker file ``source``: the nearest ``markers.yaml`` (its folder, then up to
    ``max_levels`` folders above, e.g. ``<intake>/<cohort>/markers.yaml`` for ``<cohort>/<subject>/<session>/…``)
    and its ground reaction ``.mot`` (:data:`GRF_NAMES`); ``None`` where absent."""
    mapping = next(
        (
            d / MAPPING_FILE
            for d in [source.parent, *source.parent.parents][: max_levels + 1]
            if (d / MAPPING_FILE).is_file()
        ),
        None,
    )
    grf = next(
        (
            source.parent / n.format(stem=source.stem)
            for n in GRF_NAMES
            if (source.parent / n.format(stem=source.stem)).is_file()
        ),
        None,
    )
    return mapping, grf


def import_markers(
    path: str | Path, name: str | None = None, *, mapping: MarkerMapping | None = None, grf: Path | None = None
) -> MarkerImport:
    """Read a TRC / C3D file, map its markers onto the clinical joints, verify and rotate its lab frame, and build
    the ``poses`` table.

    Args:
        mapping: a custom marker set (``markers.yaml``); default: the known set that fits best.
        grf: an OpenSim ground reaction ``.mot`` recorded with the trial (force-plate contacts).
    Raises:
        MarkerFileError: unreadable file, or the markers do not define the joints of :data:`REQUIRED_JOINTS`
            (the message lists the markers found and names the mapping file that fixes it).
        CoordinateError: mirrored or unknown axes (:func:`..kinematics.frames.lab_to_camera`).
    """
    from neuropose_assets.core.pose.base import FramePoses
    from neuropose_assets.core.pose.estimate import build_poses_table

    path = Path(path)
    name = name or path.name
    data, plates = read_markers(path, name)
    chosen, _ = choose_mapping(data.labels, mapping)
    clinical, how = clinical_from_markers(data.xyz_mm, data.labels, chosen)
    ci = {j: i for i, j in enumerate(CLINICAL_JOINTS)}
    missing = [j for j in REQUIRED_JOINTS if j not in how or np.isnan(clinical[:, ci[j]]).all()]
    if missing:
        shown = ", ".join(data.labels[:40]) + (" …" if len(data.labels) > 40 else "")
        raise MarkerFileError(
            f"{name}: the markers define no {', '.join(missing)} (best marker set: {chosen.name}). Markers in the "
            f"file: {shown}. Hips (or pelvis markers: ASIS and PSIS / sacrum), heels and toes of both sides are "
            f"needed; if your lab names them differently, put a {MAPPING_FILE} in the cohort's intake folder "
            "(see docs/user-guide.md, 'Marker-based motion capture')."
        )
    transform = lab_to_camera(clinical, name)
    events = list(data.events)
    if grf is not None:
        plates = plates + grf_plates(grf)
    if plates:
        up, _ = lab_vertical(clinical)
        events += force_contacts(plates, data, clinical, up)
    cam = transform.apply(clinical)
    frames = []
    for f in range(data.n_frames):
        seen = np.isfinite(cam[f]).all(axis=1)
        if not seen.any():
            frames.append(FramePoses.empty(len(CLINICAL_JOINTS)))
            continue
        frames.append(
            FramePoses(
                boxes=np.full((1, 5), np.nan, np.float32),
                poses3d=cam[f][None],  # float64: the file's precision is kept
                poses2d=np.full((1, len(CLINICAL_JOINTS), 2), np.nan, np.float32),
                confidence=np.where(seen, 1.0, np.nan)[None].astype(np.float32),
            )
        )
    tracks = [np.zeros(f.n_persons, np.int32) for f in frames]
    table = build_poses_table(frames, tracks, 0, data.times_s, CLINICAL_JOINTS)
    return MarkerImport(table, data, chosen.name, how, transform, sorted(events, key=lambda e: (e.frame, e.source)))


__all__ = [
    "CLINICAL_JOINTS",
    "MARKER_EXTENSIONS",
    "MarkerData",
    "MarkerFileError",
    "ReferenceEvent",
    "read_mot",
    "read_trc",
    "write_mot",
    "write_trc",
]
