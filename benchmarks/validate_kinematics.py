"""Validate the joint angles against marker-based motion capture on the dev clips that have reference angles.

Runs each clip of ``shared/dev_data`` with ``reference/<clip>_mocap_angles.csv`` (the sit-to-stand and the walk:
motion capture after OpenSim inverse kinematics, and two monocular peers on the same video, OpenCap Monocular and
WHAM; conventions and time alignment in the dev-data README) through the pipeline (``neuropose-assets run``, one fresh
data root), resamples the references to the video's frame times and prints, per angle and side, for

* ``fit``: this project's fitted model (the ``kinematics`` stage: OpenSim coordinates ``hip_flexion``,
  ``knee_angle``, ``ankle_angle``),
* ``3-point``: the pre-model three-point angles from the 3D keypoints (180° − ∠(hip, knee, ankle) for the knee,
  180° − ∠(shoulder, hip, knee) for the hip; there was no ankle angle worth showing),
* ``opencap_mono`` and ``wham``: the peers,

the RMSE, the RMSE with the constant offset removed, the bias (mean of method − mocap), Pearson's r, the range-of-
motion error and, for the knee, the mean absolute error of the peak flexion per repetition (repetitions: the
windows between the reference's knee-flexion minima).

``--oracle`` also splits the fit's error between the keypoints and the solve (:func:`fit_imposed`): the model is
fitted again with motion capture's hip, knee and ankle angles imposed (within 1°; dimensions and focal length
re-estimated), and the 2D and 3D keypoint residuals of that fit are printed next to the free fit's.  Where the
keypoints fit worse with the true angles than with the fit's own, no solve can reach the true angles from these
keypoints.  Targets (issue "Joint angles to research grade"): knee and hip
RMSE ≤ 6°, ankle ≤ 7°, r ≥ 0.97 for knee and hip, peak knee flexion MAE ≤ 4°, far leg ≤ 1.3 × the near leg.

    .venv/bin/python benchmarks/validate_kinematics.py [--dev-data ../shared/dev_data] [--data-root DIR] [--json OUT]
        [--plot DIR] [--oracle]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
from neuropose_assets.core.io.storage import Layout, sanitize_key
from neuropose_assets.core.kinematics.features import THREE_POINT_ANGLES, flexion_deg

DEFAULT_DEV_DATA = Path(__file__).resolve().parents[2] / "shared" / "dev_data"
CLIPS = {
    "opencap_sit_to_stand_5x_frontoblique": TaskSpec(task="sit_to_stand", expected_repetitions=5),
    "opencap_walking_oblique": TaskSpec(task="gait", camera_view="oblique"),
}
#: reference angle → our model coordinate
ANGLES = {"knee_flexion": "knee_angle", "hip_flexion": "hip_flexion", "ankle_dorsiflexion": "ankle_angle"}
SIDES = {"left": "l", "right": "r"}
PEERS = ("opencap_mono", "wham")


def metrics(ours: np.ndarray, ref: np.ndarray) -> dict:
    ok = np.isfinite(ours) & np.isfinite(ref)
    if ok.sum() < 3:
        return {
            "n": int(ok.sum()),
            "rmse": None,
            "rmse_offset_removed": None,
            "bias": None,
            "r": None,
            "rom_error": None,
            "null_fraction": float(1 - ok.mean()),
        }
    a, b = ours[ok], ref[ok]
    d = a - b
    return {
        "n": int(ok.sum()),
        "rmse": float(np.sqrt(np.mean(d**2))),
        "rmse_offset_removed": float(np.std(d)),
        "bias": float(d.mean()),
        "r": float(np.corrcoef(a, b)[0, 1]),
        "rom_error": float((a.max() - a.min()) - (b.max() - b.min())),
        "null_fraction": float(1 - ok.mean()),
    }


def repetition_windows(t: np.ndarray, knee_ref: np.ndarray) -> list[tuple[int, int]]:
    """Windows between the reference knee flexion's minima (one repetition each: a flexion peak inside)."""
    from scipy.signal import find_peaks

    span = np.nanmax(knee_ref) - np.nanmin(knee_ref)
    peaks, _ = find_peaks(knee_ref, prominence=0.5 * span)
    valleys, _ = find_peaks(-knee_ref, prominence=0.3 * span)
    edges = [0, *valleys.tolist(), len(t) - 1]
    return [(a, b) for a, b in zip(edges, edges[1:]) if any(a < p < b for p in peaks)]


def peak_errors(ours: np.ndarray, ref: np.ndarray, windows) -> list[float]:
    return [
        float(np.nanmax(ours[a : b + 1]) - np.nanmax(ref[a : b + 1]))
        for a, b in windows
        if np.isfinite(ours[a : b + 1]).any()
    ]


def three_point(features: pl.DataFrame, side: str, angle: str) -> np.ndarray | None:
    key = f"{side}_{angle}_deg"
    if key not in THREE_POINT_ANGLES:
        return None
    a, b, c = THREE_POINT_ANGLES[key]

    def p(j):
        return np.stack([features[f"{j}_{x}_mm"].cast(pl.Float64).fill_null(np.nan).to_numpy() for x in "xyz"], 1)

    return flexion_deg(p(a), p(b), p(c))


#: the keypoints whose residuals the oracle compares (the legs: the angles it imposes)
LEG_KEYPOINTS = tuple(f"{s}_{j}" for j in ("hip", "knee", "ankle", "heel", "toe") for s in ("left", "right"))


def oracle(layout: Layout, key: str, ref: pl.DataFrame) -> dict:
    """The keypoint residuals of the free fit and of the fit with motion capture's angles imposed (module docstring):
    per leg keypoint the median 2D residual (px) and 3D residual (mm) of both, over the frames with a reference."""
    from neuropose_assets.core.io.tables import read_provenance
    from neuropose_assets.core.kinematics import biomech as bm
    from neuropose_assets.core.kinematics.fit import FitConfig, fit_imposed, fit_model, observations_from_poses
    from neuropose_assets.core.kinematics.skeletons import get_skeleton

    poses_path = layout.asset_file("poses", key)
    skeleton = get_skeleton(read_provenance(poses_path)["model"]["skeleton"])
    video = pl.read_parquet(layout.asset_file("raw_video", key)).row(0, named=True)
    _, obs = observations_from_poses(pl.read_parquet(poses_path), skeleton, video["width_px"], video["height_px"])
    free = fit_model(obs, FitConfig())
    rt = ref["time_s"].to_numpy()
    imposed = {
        f"{coord}_{s}": np.radians(
            np.interp(obs.times, rt, ref[f"mocap_{side}_{angle}_deg"].to_numpy(), left=np.nan, right=np.nan)
        )
        for angle, coord in ANGLES.items()
        for side, s in SIDES.items()
    }
    frames, held = fit_imposed(obs, free, imposed)
    seen = obs.conf[frames] >= 0.5
    out: dict = {"frames": len(frames), "sigma_px": held.sigma_px, "keypoints": {}}
    for k in LEG_KEYPOINTS:
        i, ok = bm.KP[k], seen[:, bm.KP[k]]
        if ok.sum() == 0:
            continue
        out["keypoints"][k] = {
            "free_px": float(np.median(free.residual_px[frames][ok, i])),
            "imposed_px": float(np.median(held.residual_px[ok, i])),
            "free_mm": float(np.median(free.residual_mm[frames][ok, i])),
            "imposed_mm": float(np.median(held.residual_mm[ok, i])),
        }
    legs = [bm.KP[k] for k in LEG_KEYPOINTS]
    ok = seen[:, legs]
    for name, f in (("free", free.residual_px[frames]), ("imposed", held.residual_px)):
        out[f"{name}_px_median"] = float(np.median(f[:, legs][ok]))
        out[f"{name}_px_p90"] = float(np.percentile(f[:, legs][ok], 90))
    out["imposed_error_deg"] = float(
        np.degrees(
            np.nanmax(
                np.abs(held.q[:, [bm.INDEX[c] for c in imposed]] - np.stack([v[frames] for v in imposed.values()], 1))
            )
        )
    )
    out["dimensions"] = {"free": free.dims.as_dict(), "imposed": held.dims.as_dict()}
    return out


def validate(dev_data: Path, layout: Layout, plot_dir: Path | None = None, with_oracle: bool = False) -> dict:
    from neuropose_assets.service.runs import run_videos

    videos = {sanitize_key(n): dev_data / "clips" / f"{n}.mp4" for n in CLIPS}
    decls = {sanitize_key(n): TaskDeclaration(s, "benchmarks/validate_kinematics.py") for n, s in CLIPS.items()}
    summary = run_videos(layout, videos, "dev_angles", decls, reuse=True, review=False)
    report: dict = {"clips": {}, "timing": {}}
    for row in summary["rows"]:
        if not row["ok"]:
            report["clips"][row["video"]] = {"error": row["error"]}
    for name in CLIPS:
        key = sanitize_key(name)
        if key in report["clips"]:
            continue
        feats = pl.read_parquet(layout.asset_file("features", key))
        kin = pl.read_parquet(layout.asset_file("kinematics", key))
        ref = pl.read_csv(dev_data / "reference" / f"{name}_mocap_angles.csv")
        t = feats["time_s"].to_numpy()
        rt = ref["time_s"].to_numpy()

        def resample(col: str) -> np.ndarray:
            return np.interp(t, rt, ref[col].to_numpy(), left=np.nan, right=np.nan)

        clip: dict = {}
        for angle, coord in ANGLES.items():
            for side, s in SIDES.items():
                mocap = resample(f"mocap_{side}_{angle}_deg")
                methods = {"fit": feats[f"{coord}_{s}_deg"].cast(pl.Float64).fill_null(np.nan).to_numpy()}
                old = three_point(feats, side, angle)
                if old is not None:
                    methods["3-point"] = old
                for peer in PEERS:
                    methods[peer] = resample(f"{peer}_{side}_{angle}_deg")
                entry = {m: metrics(v, mocap) for m, v in methods.items()}
                if angle == "knee_flexion":
                    windows = repetition_windows(t, mocap)
                    for m, v in methods.items():
                        errs = peak_errors(v, mocap, windows)
                        entry[m]["peak_errors"] = errs
                        entry[m]["peak_mae"] = float(np.mean(np.abs(errs))) if errs else None
                clip[f"{side} {angle}"] = entry
        if with_oracle:
            clip["oracle"] = oracle(layout, key, ref)
        report["clips"][name] = clip
        report["timing"][name] = {"frames": kin.height}
        if plot_dir is not None:
            _plot(plot_dir / f"{name}.png", name, t, feats, ref)
    return report


def _plot(path: Path, name: str, t: np.ndarray, feats: pl.DataFrame, ref: pl.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 2, figsize=(13, 9), sharex=True)
    for j, (side, s) in enumerate(SIDES.items()):
        for i, (angle, coord) in enumerate(ANGLES.items()):
            ax = axes[i, j]
            ax.plot(ref["time_s"], ref[f"mocap_{side}_{angle}_deg"], "k", lw=2, label="motion capture")
            for peer, colour in zip(PEERS, ("tab:green", "tab:orange"), strict=True):
                ax.plot(ref["time_s"], ref[f"{peer}_{side}_{angle}_deg"], color=colour, lw=0.9, label=peer)
            ax.plot(t, feats[f"{coord}_{s}_deg"], "tab:red", lw=1.3, label="fit (this project)")
            old = three_point(feats, side, angle)
            if old is not None:
                ax.plot(t, old, "b:", lw=1, label="3-point (before)")
            ax.set_title(f"{side} {angle.replace('_', ' ')} (deg)", fontsize=10)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    fig.suptitle(name)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _f(x: float | None, fmt: str = "5.1f") -> str:
    return "    —" if x is None else format(x, fmt)


def print_report(report: dict) -> None:
    methods = ("fit", "3-point", *PEERS)
    pooled: dict = {}
    for name, clip in report["clips"].items():
        print(f"\n{name}")
        if "error" in clip:
            print(f"  FAILED: {clip['error']}")
            continue
        print(f"  {'angle':<26}" + "".join(f"{m:>33}" for m in methods))
        print(f"  {'':<26}" + "".join(f"{'RMSE (−offset)  bias     r  ROM':>33}" for _ in methods))
        for label, entry in clip.items():
            if label == "oracle":
                continue
            cells = []
            for m in methods:
                e = entry.get(m)
                if e is None:
                    cells.append(f"{'':>33}")
                    continue
                cells.append(
                    f"{_f(e['rmse'])} ({_f(e['rmse_offset_removed'], '4.1f')}) {_f(e['bias'], '+5.1f')} "
                    f"{_f(e['r'], '5.2f')} {_f(e['rom_error'], '+5.1f')}".rjust(33)
                )
                if e["rmse"] is not None:
                    pooled.setdefault((label.split(" ", 1)[1], m), []).append((e["rmse"], e["n"], e["r"]))
            print(f"  {label:<26}" + "".join(cells))
            if "peak_mae" in entry.get("fit", {}):
                print(
                    f"  {'  peak flexion MAE':<26}"
                    + "".join(f"{_f(entry[m].get('peak_mae')):>33}" if m in entry else f"{'':>33}" for m in methods)
                )
    print("\nover clips and sides: mean RMSE (each clip and side counts once) / RMSE pooled over frames / mean r")
    for angle in ANGLES:
        cells = []
        for m in methods:
            v = pooled.get((angle, m))
            if not v:
                cells.append(f"{'—':>18}")
                continue
            frames = np.sqrt(sum(r**2 * n for r, n, _ in v) / sum(n for _, n, _ in v))
            cells.append(f"{np.mean([r for r, _, _ in v]):5.1f} / {frames:4.1f} / {np.mean([x for _, _, x in v]):4.2f}")
        print(f"  {angle:<20}" + "".join(f"{m}: {c}   " for m, c in zip(methods, cells, strict=True)))
    peaks = {
        m: [
            e
            for clip in report["clips"].values()
            if "error" not in clip
            for k, entry in clip.items()
            if "knee" in k and m in entry
            for e in entry[m].get("peak_errors", [])
        ]
        for m in methods
    }
    print(
        "  peak knee flexion per repetition, MAE: "
        + "   ".join(f"{m}: {np.mean(np.abs(v)):.1f} (n {len(v)})" for m, v in peaks.items() if v)
    )


def print_oracle(report: dict) -> None:
    """The ``--oracle`` table: per clip and leg keypoint, the median residuals of the free and the imposed fit."""
    print("\nkeypoints vs solve: median residual of the free fit → with motion capture's hip, knee, ankle imposed")
    for name, clip in report["clips"].items():
        o = clip.get("oracle")
        if not o:
            continue
        print(
            f"  {name}: {o['frames']} frames; legs 2D median {o['free_px_median']:.1f} → "
            f"{o['imposed_px_median']:.1f} px, "
            f"90th percentile {o['free_px_p90']:.1f} → {o['imposed_px_p90']:.1f} px (σ {o['sigma_px']:.1f} px); "
            f"imposed angles held within {o['imposed_error_deg']:.1f}°"
        )
        for k, v in o["keypoints"].items():
            print(
                f"    {k:<12} 2D {v['free_px']:5.1f} → {v['imposed_px']:5.1f} px   "
                f"3D {v['free_mm']:5.0f} → {v['imposed_mm']:5.0f} mm"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dev-data", type=Path, default=DEFAULT_DEV_DATA)
    ap.add_argument("--data-root", type=Path, help="data root to use (default: a fresh temporary one)")
    ap.add_argument("--json", type=Path, help="also write the report as JSON")
    ap.add_argument("--plot", type=Path, help="write one figure per clip (ours, the peers, mocap) into this folder")
    ap.add_argument("--oracle", action="store_true", help="also fit with motion capture's angles imposed (docstring)")
    args = ap.parse_args(argv)
    if not (args.dev_data / "reference").is_dir():
        print(f"error: no reference/ under {args.dev_data}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        report = validate(args.dev_data, Layout(args.data_root or Path(tmp) / "data"), args.plot, args.oracle)
    print_report(report)
    if args.oracle:
        print_oracle(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
