"""Figures a clinician can read without the code: small PNGs (matplotlib, Agg) for the Dagster UI's Markdown
metadata and the per-video report.

Every figure has a title, axes with units and a legend.  Colours follow the review video: the subject's left side
blue, right side red.  Functions return PNG bytes (or ``None`` when there is nothing to show); :func:`md_image`
embeds them in Markdown.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import polars as pl

from neuropose_assets.core.tasks import TaskSpec

SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", None: "0.35"}
DPI = 80


def _figure(rows: int = 1, height: float = 2.6, width: float = 7.5):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, 1, figsize=(width, height * rows), squeeze=False)
    return fig, axes[:, 0]


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():  # a crowded figure keeps matplotlib's default margins: fine
        warnings.simplefilter("ignore", UserWarning)
        fig.tight_layout()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def md_image(image: bytes | None, alt: str, kind: str = "png") -> str:
    """Markdown that shows an image inline (a ``data:`` URI, which the Dagster UI renders); empty for ``None``."""
    if image is None:
        return ""
    return f"![{alt}](data:image/{kind};base64,{base64.b64encode(image).decode()})"


def task_signals(features: pl.DataFrame, spec: TaskSpec) -> list[tuple[str, str | None, np.ndarray, str]]:
    """The signals the task's events are found on: ``[(label, side, values, unit)]`` (:mod:`.events`)."""
    from neuropose_assets.core.events import anterior_mm, pelvis_height, uprightness
    from neuropose_assets.core.segmentation import extract_signal

    if spec.task == "gait":
        return [(f"{s} heel, anterior of the pelvis", s, anterior_mm(features, f"{s}_heel"), "mm")
                for s in ("left", "right")]  # fmt: skip
    if spec.task == "sit_to_stand":
        return [("pelvis height above the ankles", None, pelvis_height(features), "fraction of standing")]
    if spec.task == "squat":
        return [("squat depth (1 − pelvis height)", None, 1 - pelvis_height(features), "fraction of standing")]
    if spec.task == "arm_raise":
        from neuropose_assets.core.kinematics import angle_column

        return [(f"{s} shoulder elevation", s, features[angle_column("shoulder_elevation", s)].to_numpy(), "deg")
                for s in spec.sides]  # fmt: skip
    if spec.task == "tug":
        return [("uprightness −(hip + knee flexion), less flexed leg", None, uprightness(features), "deg")]
    seg = spec.generic_segmentation
    return [(str(seg.signal.column or seg.signal.joint), None, extract_signal(features, seg.signal), seg.signal.unit)]


def signal_plot(features: pl.DataFrame, events: pl.DataFrame, repetitions: pl.DataFrame, spec: TaskSpec) -> bytes:
    """The task's signal over time, repetition / gait-cycle windows shaded, events as labelled marks."""
    from neuropose_assets.core.render import event_label

    t = features["time_s"].to_numpy()
    signals = task_signals(features, spec)
    fig, (ax,) = _figure()
    units = sorted({u for *_, u in signals})
    for label, side, values, _ in signals:
        ax.plot(t, values, color=SIDE_COLOURS[side], lw=1.2, label=label)
    for r in repetitions.iter_rows(named=True):
        ax.axvspan(r["start_s"], r["end_s"], color=SIDE_COLOURS[r["side"]], alpha=0.10, lw=0)
    top = ax.get_ylim()[1]
    for e in events.iter_rows(named=True):
        ax.axvline(e["time_s"], color=SIDE_COLOURS[e["side"]], lw=0.7, ls=":")
        ax.text(e["time_s"], top, event_label(e["event"], e["side"]), rotation=90, fontsize=6, va="top", ha="right",
                color=SIDE_COLOURS[e["side"]])  # fmt: skip
    ax.set_xlabel("time (s)")
    ax.set_ylabel(", ".join(units))
    ax.set_title(f"{spec.task}: signal, events and repetitions (shaded: {repetitions.height})", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def angles_plot(features: pl.DataFrame, spec: TaskSpec) -> bytes:
    """The main joint angles of the fitted model over time, left and right: knee, hip and ankle (and shoulder elevation
    for arm raises), deg (OpenSim signs: flexion and dorsiflexion positive)."""
    from neuropose_assets.core.kinematics import angle_column

    t = features["time_s"].to_numpy()
    joints = ["knee_angle", "hip_flexion", "ankle_angle"] + (["shoulder_elevation"] if spec.task == "arm_raise" else [])
    fig, axes = _figure(rows=len(joints), height=1.9)
    for ax, joint in zip(axes, joints, strict=True):
        for side in ("left", "right"):
            ax.plot(t, features[angle_column(joint, side)].to_numpy(), color=SIDE_COLOURS[side], lw=1, label=side)
        ax.set_ylabel("deg")
        ax.set_title(joint.replace("_", " "), fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time (s)")
    return _png(fig)


def gait_cycle_plot(features: pl.DataFrame, repetitions: pl.DataFrame, samples: int = 101) -> bytes | None:
    """Hip flexion, knee angle and ankle angle of the fitted model normalised to 0–100 % of the gait cycle (heel strike
    to heel strike), mean ± SD over the cycles of each foot; ``None`` without a gait cycle."""
    from neuropose_assets.core.kinematics import angle_column

    cycles = repetitions.filter(pl.col("kind") == "gait_cycle")
    if cycles.height == 0:
        return None
    pct = np.linspace(0, 100, samples)
    joints = ("hip_flexion", "knee_angle", "ankle_angle")
    _figure(rows=1)  # selects the Agg backend
    import matplotlib.pyplot as plt

    plt.close("all")
    fig, axes = plt.subplots(1, 3, figsize=(8.5, 2.6))
    for ax, joint in zip(axes, joints, strict=True):
        for side in ("left", "right"):
            x = features[angle_column(joint, side)].cast(pl.Float64).fill_null(np.nan).to_numpy()
            curves = []
            for r in cycles.filter(pl.col("side") == side).iter_rows(named=True):
                seg = x[r["start_frame"] : r["end_frame"] + 1]
                if len(seg) >= 2 and np.isfinite(seg).all():
                    curves.append(np.interp(pct, np.linspace(0, 100, len(seg)), seg))
            if curves:
                c = np.array(curves)
                m, sd = c.mean(axis=0), c.std(axis=0)
                ax.plot(pct, m, color=SIDE_COLOURS[side], lw=1.3, label=f"{side} (n={len(curves)})")
                ax.fill_between(pct, m - sd, m + sd, color=SIDE_COLOURS[side], alpha=0.15, lw=0)
        ax.set_title(joint.replace("_", " "), fontsize=9)
        ax.set_xlabel("% of gait cycle")
        ax.set_ylabel("deg")
        ax.legend(fontsize=6)
    fig.suptitle("sagittal angles over the gait cycle, mean ± SD", fontsize=10)
    return _png(fig)


def dtw_heatmap(df: pl.DataFrame, title: str, value: str = "normalized_distance", unit: str = "deg") -> bytes | None:
    """A labelled matrix of a DTW table (``a``, ``b``, ``unit``, distances): the first unit, ``value`` coloured;
    ``None`` with fewer than two sequences."""
    if df.height == 0:
        return None
    first = sorted(df["unit"].unique())[0]
    d = df.filter(pl.col("unit") == first)
    labels = sorted(d["a"].unique())
    if len(labels) < 2:
        return None
    m = np.full((len(labels), len(labels)), np.nan)
    index = {k: i for i, k in enumerate(labels)}
    for r in d.iter_rows(named=True):
        m[index[r["a"]], index[r["b"]]] = r[value]
    if not np.isfinite(m[~np.eye(len(labels), dtype=bool)]).any():  # nothing compared (e.g. one repetition per side)
        return None
    size = min(7.0, 2.5 + 0.35 * len(labels))
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(m, cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(len(labels)), labels, fontsize=6)
    fig.colorbar(im, ax=ax, label=f"DTW distance per path step ({unit})")
    ax.set_title(f"{title} ({first})", fontsize=9)
    return _png(fig)


def cohort_chart(table: pl.DataFrame, max_measures: int = 6) -> bytes | None:
    """The cohort's outcomes per video: one panel per measure (the ones most videos have), a bar per video,
    coloured by task; ``None`` without numeric outcomes."""
    from neuropose_assets.core.outcomes import _def

    measures = [c for c in table.columns if c not in ("partition", "task", "declared")]
    counts = sorted(((table[c].is_not_null().sum(), c) for c in measures), key=lambda x: (-x[0], measures.index(x[1])))
    chosen = [c for n, c in counts if n > 0][:max_measures]
    if not chosen:
        return None
    import matplotlib.pyplot as plt

    tasks = sorted(table["task"].unique())
    colours = {t: plt.get_cmap("tab10")(i) for i, t in enumerate(tasks)}
    fig, axes = plt.subplots(len(chosen), 1, figsize=(7.5, 1.6 * len(chosen) + 0.6), squeeze=False)
    labels = table["partition"].to_list()
    for ax, measure in zip(axes[:, 0], chosen, strict=True):
        values = table[measure].to_numpy()
        ax.bar(range(len(labels)), np.nan_to_num(values, nan=0.0), color=[colours[t] for t in table["task"]])
        for i, v in enumerate(values):
            if not np.isfinite(v):
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=6, color="0.4")
        try:
            unit = _def(measure).unit
        except KeyError:
            unit = ""
        ax.set_ylabel(unit, fontsize=7)
        ax.set_title(measure, fontsize=8)
        ax.set_xticks(range(len(labels)), labels if ax is axes[-1, 0] else [""] * len(labels), rotation=90, fontsize=6)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[t]) for t in tasks]
    axes[0, 0].legend(handles, tasks, fontsize=6, loc="upper right")
    fig.suptitle("cohort outcomes per video (n/a: not applicable or not computable)", fontsize=9)
    return _png(fig)
