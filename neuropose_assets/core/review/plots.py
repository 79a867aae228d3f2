"""Figures a clinician can read without the code (matplotlib, Agg): PNGs for the Dagster UI's Markdown metadata and
the per-video report, and the pages of the report's PDF.

Every figure is at least :data:`MIN_WIDTH_PX` wide at :data:`DPI`, every text at least :data:`MIN_FONT_PT` (matplotlib's
10-pt defaults, nothing smaller), legends outside the data (``fig.legend(loc="outside …")``, constrained layout), and
no two labels overlap: events are drawn as a rug of markers — one row per kind of event, a marker per event at its
time — rather than as text at each event (:func:`signal_plot`); :func:`overlapping_texts` checks a figure for it.
Colours follow the review video: the subject's left side blue, right side red, neither side grey.  Functions return a
matplotlib ``Figure`` (or ``None`` when there is nothing to show); :func:`png` renders one, :func:`md_image` embeds it
in Markdown.
"""

from __future__ import annotations

import base64
import io
import textwrap

import numpy as np
import polars as pl

from neuropose_assets.core.analysis.tasks import TaskSpec

SIDE_COLOURS = {"left": "tab:blue", "right": "tab:red", None: "0.35"}
#: event markers per side, so that a reader who cannot tell blue from red still can
SIDE_MARKERS = {"left": "<", "right": ">", None: "o"}
DPI = 100
#: figure width, inches (× :data:`DPI` = 1,000 px)
WIDTH_IN = 10.0
MIN_WIDTH_PX = 900
MIN_FONT_PT = 9.0


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _figure(height: float, width: float = WIDTH_IN, **subplots):
    """A constrained-layout figure ``width`` × ``height`` inches with ``plt.subplots(**subplots)`` axes."""
    return _plt().subplots(figsize=(width, height), layout="constrained", **subplots)


def png(fig, dpi: float = DPI, close: bool = True) -> bytes:
    """The figure as PNG bytes at ``dpi``; the figure is closed unless ``close`` is false."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if close:
        _plt().close(fig)
    return buf.getvalue()


def md_image(image, alt: str, kind: str = "png") -> str:
    """Markdown that shows an image inline (a ``data:`` URI, which the Dagster UI renders): ``image`` PNG / JPEG
    bytes or a matplotlib figure (rendered and closed); empty for ``None``."""
    if image is None:
        return ""
    if not isinstance(image, bytes | bytearray):
        image = png(image)
    return f"![{alt}](data:image/{kind};base64,{base64.b64encode(image).decode()})"


def overlapping_texts(fig) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` (titles, labels, tick labels, legend entries, annotations) whose
    drawn boxes intersect — what a reader sees as labels on top of each other.  Empty for a readable figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    from matplotlib.axis import Tick
    from matplotlib.text import Text

    tick_labels = {id(t) for tick in fig.findobj(Tick) for t in (tick.label1, tick.label2)}
    texts = {id(t): t for t in fig.findobj(Text) if id(t) not in tick_labels}
    for ax in fig.axes:  # only the ticks drawn (matplotlib keeps spare ones outside the view)
        for axis in (ax.xaxis, ax.yaxis) if ax.get_visible() else ():
            for tick in axis._update_ticks():
                texts.update({id(t): t for t in (tick.label1, tick.label2)})
    boxes = []
    for t in texts.values():
        if not t.get_visible() or not t.get_text().strip() or (t.axes is not None and not t.axes.get_visible()):
            continue
        bb = t.get_window_extent(renderer)
        if bb.width > 0 and bb.height > 0:
            boxes.append((t.get_text(), bb.shrunk(0.98, 0.9)))
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1 :] if ba.overlaps(bb)]


def smallest_font_pt(fig) -> float:
    """The smallest font size among the figure's visible texts, pt."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=float("inf"))


def task_signals(features: pl.DataFrame, spec: TaskSpec) -> list[tuple[str, str | None, np.ndarray, str]]:
    """The signals the task's events are found on: ``[(label, side, values, unit)]`` (:mod:`..analysis.events`)."""
    from neuropose_assets.core.analysis.events import anterior_mm, pelvis_height, uprightness
    from neuropose_assets.core.analysis.segmentation import extract_signal

    if spec.task == "gait":
        return [
            (f"{s} heel, anterior of the pelvis", s, anterior_mm(features, f"{s}_heel"), "mm")
            for s in ("left", "right")
        ]
    if spec.task == "sit_to_stand":
        return [("pelvis height above the ankles", None, pelvis_height(features), "fraction of standing")]
    if spec.task == "squat":
        return [("squat depth (1 − pelvis height)", None, 1 - pelvis_height(features), "fraction of standing")]
    if spec.task == "arm_raise":
        from neuropose_assets.core.kinematics.features import angle_column

        return [
            (f"{s} shoulder elevation", s, features[angle_column("shoulder_elevation", s)].to_numpy(), "deg")
            for s in spec.sides
        ]
    if spec.task == "tug":
        return [("uprightness −(hip + knee flexion), less flexed leg", None, uprightness(features), "deg")]
    seg = spec.generic_segmentation
    return [(str(seg.signal.column or seg.signal.joint), None, extract_signal(features, seg.signal), seg.signal.unit)]


def event_name(event: str) -> str:
    """``heel_strike`` → ``heel strike``: the row label of an event kind."""
    return event.replace("_", " ")


def _side_word(side: str | None) -> str:
    return side or "neither side"


def signal_plot(features: pl.DataFrame, events: pl.DataFrame, repetitions: pl.DataFrame, spec: TaskSpec):
    """The task's signal over time (lower panel) with the repetition / gait-cycle windows shaded, and above it the
    events as a rug: one row per kind of event (in the order they first occur), a marker per event at its time,
    coloured and shaped by side; the legend below the axes."""
    t = features["time_s"].to_numpy()
    signals = task_signals(features, spec)
    kinds = list(dict.fromkeys(events.sort("time_s")["event"].to_list())) if events.height else []
    rug_h = 0.32 * max(len(kinds), 1) + 0.4
    fig, (rug, ax) = _figure(rug_h + 3.6, nrows=2, sharex=True, height_ratios=[rug_h, 3.2])
    units = sorted({u for *_, u in signals})
    for label, side, values, _ in signals:
        ax.plot(t, values, color=SIDE_COLOURS[side], lw=1.4, label=label)
    for r in repetitions.iter_rows(named=True):
        ax.axvspan(r["start_s"], r["end_s"], color=SIDE_COLOURS[r["side"]], alpha=0.10, lw=0)
    shaded = sorted({r["side"] for r in repetitions.iter_rows(named=True)}, key=str)
    for side in shaded:
        ax.fill_between(
            [],
            [],
            color=SIDE_COLOURS[side],
            alpha=0.15,
            lw=0,
            label=f"{repetition_word(repetitions)}, {_side_word(side)}",
        )
    seen_sides = []
    for e in events.iter_rows(named=True):
        y = kinds.index(e["event"])
        ax.axvline(e["time_s"], color=SIDE_COLOURS[e["side"]], lw=0.6, ls=":", alpha=0.8)
        rug.plot([e["time_s"]], [y], ls="none", marker=SIDE_MARKERS[e["side"]], ms=8, color=SIDE_COLOURS[e["side"]])
        if e["side"] not in seen_sides:
            seen_sides.append(e["side"])
    for side in seen_sides:
        rug.plot(
            [],
            [],
            ls="none",
            marker=SIDE_MARKERS[side],
            ms=8,
            color=SIDE_COLOURS[side],
            label=f"event, {_side_word(side)}",
        )
    rug.set_yticks(range(len(kinds)), [event_name(k) for k in kinds])
    rug.set_ylim(len(kinds) - 0.5 if kinds else 0.5, -0.5)
    rug.grid(axis="y", color="0.9")
    rug.tick_params(axis="x", labelbottom=False)
    rug.set_title(f"{spec.task.replace('_', ' ')}: events (top) and the signal they are found on (bottom)")
    if not kinds:
        rug.set_yticks([])
        rug.text(0.5, 0.5, "no events", transform=rug.transAxes, ha="center", va="center", color="0.4")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(", ".join(units))
    handles = [h for a in (ax, rug) for h in a.get_legend_handles_labels()[0]]
    labels = [lab for a in (ax, rug) for lab in a.get_legend_handles_labels()[1]]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(3, len(labels)) or 1, frameon=False)
    return fig


def repetition_word(repetitions: pl.DataFrame) -> str:
    """ "gait cycles" or "repetitions" — what the shaded windows of :func:`signal_plot` are."""
    kinds = set(repetitions["kind"].to_list()) if "kind" in repetitions.columns else set()
    return "gait cycles" if kinds == {"gait_cycle"} else "repetitions"


def signal_caption(repetitions: pl.DataFrame, events: pl.DataFrame) -> str:
    """The caption of :func:`signal_plot`, saying what the colours and shading of this figure are."""
    sides = sorted({str(s) for s in events["side"].to_list()} | {str(s) for s in repetitions["side"].to_list()})
    colours = {"left": "blue: left", "right": "red: right", "None": "grey: neither side"}
    return (
        f"Top: each event at its time, one row per kind of event. Bottom: the task's signal; shaded: "
        f"{repetitions.height} {repetition_word(repetitions)}; dotted lines: the events. Colours — "
        f"{', '.join(colours[s] for s in sides) or 'none'}."
    )


def angles_plot(features: pl.DataFrame, spec: TaskSpec):
    """The main joint angles of the fitted model over time, left and right: knee, hip and ankle (and shoulder elevation
    for arm raises), deg (OpenSim signs: flexion and dorsiflexion positive); one legend above the panels."""
    from neuropose_assets.core.kinematics.features import angle_column

    t = features["time_s"].to_numpy()
    joints = ["knee_angle", "hip_flexion", "ankle_angle"] + (["shoulder_elevation"] if spec.task == "arm_raise" else [])
    fig, axes = _figure(2.1 * len(joints) + 0.5, nrows=len(joints), sharex=True)
    for ax, joint in zip(axes, joints, strict=True):
        for side in ("left", "right"):
            ax.plot(
                t,
                features[angle_column(joint, side)].to_numpy(),
                color=SIDE_COLOURS[side],
                lw=1.2,
                label=side if ax is axes[0] else None,
            )
        ax.set_ylabel(f"{joint.replace('_', ' ')}\n(deg)")
    axes[-1].set_xlabel("time (s)")
    fig.legend(loc="outside upper center", ncols=2, frameon=False)
    return fig


def gait_cycle_plot(features: pl.DataFrame, repetitions: pl.DataFrame, samples: int | None = None):
    """Hip flexion, knee angle and ankle angle of the fitted model normalised to 0–100 % of the gait cycle (heel strike
    to heel strike), mean ± SD over the cycles of each foot; ``None`` without a gait cycle."""
    from neuropose_assets.core.kinematics.features import angle_column
    from neuropose_assets.core.kinematics.signal import CYCLE_POINTS

    cycles = repetitions.filter(pl.col("kind") == "gait_cycle")
    if cycles.height == 0:
        return None
    samples = samples or CYCLE_POINTS
    pct = np.linspace(0, 100, samples)
    joints = ("hip_flexion", "knee_angle", "ankle_angle")
    fig, axes = _figure(3.6, ncols=3)
    for ax, joint in zip(axes, joints, strict=True):
        for side in ("left", "right"):
            x = features[angle_column(joint, side)].cast(pl.Float64).fill_null(np.nan).to_numpy()
            curves = []
            for r in cycles.filter(pl.col("side") == side).iter_rows(named=True):
                seg = x[r["start_frame"] : r["end_frame"] + 1]
                if len(seg) >= 2 and np.isfinite(seg).all():
                    curves.append(np.interp(pct, np.linspace(0, 100, len(seg)), seg))
            c = np.array(curves) if curves else np.full((1, samples), np.nan)
            m, sd = c.mean(axis=0), c.std(axis=0)
            ax.plot(
                pct,
                m,
                color=SIDE_COLOURS[side],
                lw=1.4,
                label=f"{side} (n = {len(curves)} cycles)" if ax is axes[0] else None,
            )
            ax.fill_between(pct, m - sd, m + sd, color=SIDE_COLOURS[side], alpha=0.15, lw=0)
        ax.set_title(joint.replace("_", " "))
        ax.set_xlabel("% of gait cycle")
        ax.set_ylabel("deg")
    fig.suptitle("sagittal angles over the gait cycle, mean ± SD")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return fig


def dtw_heatmap(df: pl.DataFrame, title: str, value: str = "normalized_distance", unit: str = "deg"):
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
    longest = max(len(str(k)) for k in labels)
    fig, ax = _figure(max(4.5, 0.3 * len(labels) + 0.09 * longest + 2.5))  # cells ≥ 0.3 in, room for the labels
    im = ax.imshow(m, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 8 or longest > 10 else 0)
    ax.set_yticks(range(len(labels)), labels)
    if len(labels) <= 12:  # the values in the cells while they fit
        lo, hi = np.nanmin(m), np.nanmax(m)
        for (i, j), v in np.ndenumerate(m):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="white" if v < (lo + hi) / 2 else "black")
    fig.colorbar(im, ax=ax, label=f"DTW distance per path step ({unit})")
    ax.set_title(f"{title} ({first})")
    return fig


def cohort_charts(table: pl.DataFrame) -> dict[str, object]:
    """Per task, a chart of its main outcomes (:data:`..analysis.summary.MAIN_OUTCOMES`) across the cohort's videos of
    that task: one panel per measure (its unit on the axis), a horizontal bar per video (the video keys once, on the
    left, so that they read horizontally), the value at the bar's end, "n/a" for a null.  ``{}`` without outcomes."""
    from neuropose_assets.core.analysis import summary

    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    out = {}
    for task in sorted(table["task"].unique().to_list()):
        rows = table.filter(pl.col("task") == task)
        measures = [m for m in summary.MAIN_OUTCOMES.get(task, summary.MAIN_OUTCOMES["generic"]) if m in rows.columns]
        if not measures:
            continue
        keys = rows["partition"].to_list()
        ncols = min(4, len(measures))
        nrows = -(-len(measures) // ncols)
        fig, axes = _figure(
            nrows * (1.3 + 0.32 * len(keys)) + 0.5,
            width=max(WIDTH_IN, 2.2 * ncols + 2.5),
            nrows=nrows,
            ncols=ncols,
            sharey=True,
            squeeze=False,
        )
        fig.get_layout_engine().set(wspace=0.04)
        y = np.arange(len(keys))
        for ax in axes.flat[len(measures) :]:
            ax.set_visible(False)
        for ax, measure in zip(axes.flat, measures, strict=False):
            values = rows[measure].cast(pl.Float64).to_numpy()
            ax.barh(y, np.nan_to_num(values, nan=0.0), color=plt.get_cmap("tab10")(0), height=0.6)
            top = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
            for i, v in enumerate(values):
                ax.text(
                    v if np.isfinite(v) else 0,
                    i,
                    f" {summary.shown(measure, v)}" if np.isfinite(v) else " n/a",
                    va="center",
                    ha="left",
                    color="0.2" if np.isfinite(v) else "0.5",
                )
            ax.set_xlim(min(0, np.nanmin(values) if np.isfinite(values).any() else 0), top * 1.45)
            ax.set_title("\n".join(textwrap.wrap(summary.header(measure).split(" [")[0].replace("_", " "), 16)))
            ax.set_xlabel(summary.unit_label(measure) or "count")
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3, prune="upper"))  # tick labels of neighbours stay apart
            if not np.isfinite(values).any():
                ax.set_xticks([])
        for row in axes:
            row[0].set_yticks(y, keys)
        axes[0, 0].invert_yaxis()
        fig.suptitle(
            f"{task.replace('_', ' ')}: main outcomes per video ({len(keys)} video"
            f"{'s' if len(keys) != 1 else ''}; n/a: not computable — the reason is in the report)"
        )
        out[task] = fig
    return out


def text_pages(title: str, blocks: list[tuple[str, list[str]]], lines_per_page: int = 58):
    """A4 portrait figures of plain text for a PDF: ``blocks`` of (heading, lines), paginated; monospaced 9 pt so that
    tables keep their columns.  Yields figures."""
    plt = _plt()
    lines: list[tuple[str, str]] = [("title", title), ("", "")]
    for heading, body in blocks:
        lines += [("heading", heading)] + [("body", b) for b in body] + [("", "")]
    for start in range(0, len(lines), lines_per_page):
        fig = plt.figure(figsize=(8.27, 11.69))
        y = 0.96
        for kind, text in lines[start : start + lines_per_page]:
            style = {
                "title": dict(fontsize=14, weight="bold"),
                "heading": dict(fontsize=11, weight="bold"),
                "body": dict(fontsize=MIN_FONT_PT, family="monospace"),
                "": dict(fontsize=MIN_FONT_PT),
            }[kind]
            fig.text(0.06, y, text, va="top", **style)
            y -= 0.0158 if kind != "title" else 0.025
        fig.text(
            0.94, 0.02, f"{title} — page {start // lines_per_page + 1}", ha="right", fontsize=MIN_FONT_PT, color="0.4"
        )
        yield fig


def close(fig) -> None:
    """Free a figure that was not rendered with :func:`png`."""
    _plt().close(fig)


def image_page(image: bytes, caption: str):
    """An A4 landscape figure showing a JPEG / PNG image (a figure, the key-frame contact sheet) at the top, scaled to
    fit, with its caption (wrapped) below."""
    plt = _plt()
    img = plt.imread(io.BytesIO(image), format="jpeg" if image[:3] == b"\xff\xd8\xff" else "png")
    width, height = 11.69, 8.27
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0.04, 0.14, 0.92, 0.82))
    ax.imshow(img)
    ax.set_anchor("N")
    ax.axis("off")
    shown_h = min(0.82 * height, 0.92 * width * img.shape[0] / img.shape[1])  # inches, the image scaled to fit
    fig.text(
        0.04,
        0.96 - shown_h / height - 0.02,
        "\n".join(textwrap.wrap(caption, 140)),
        va="top",
        fontsize=MIN_FONT_PT + 1,
        color="0.25",
    )
    return fig


def subject_timeline(
    sessions: list[tuple[str, dict[str, tuple[float | None, float | None, float | None]]]],
    measures: list[str],
    title: str,
    thresholds: dict[str, float] | None = None,
):
    """A subject's outcomes across sessions: one panel per measure of ``measures`` (its unit on the axis), the
    sessions in order on x, each value with its 95 % interval as an error bar, and — where ``thresholds`` gives the
    measure's published change threshold (MDC / MCID) — a band of ± that threshold around the first session's value:
    a later value outside the band has changed by more than the threshold.  ``sessions``: ``[(session, {measure:
    (value, ci_low, ci_high)})]``.  ``None`` when no measure has two sessions with a value."""
    from neuropose_assets.core.analysis import summary

    shown = [m for m in measures if sum(s.get(m, (None,))[0] is not None for _, s in sessions) >= 2]
    if not shown:
        return None
    fig, axes = _figure(2.2 * len(shown) + 0.6, nrows=len(shown), ncols=1, squeeze=False, sharex=True)
    labels = [s for s, _ in sessions]
    x = np.arange(len(labels))
    for ax, m in zip(axes[:, 0], shown, strict=True):
        values = [s.get(m, (None, None, None)) for _, s in sessions]
        y = np.array([np.nan if v[0] is None else v[0] for v in values])
        low = np.array([np.nan if v[1] is None else v[0] - v[1] for v in values])
        high = np.array([np.nan if v[2] is None else v[2] - v[0] for v in values])
        ax.errorbar(
            x,
            y,
            yerr=[np.nan_to_num(low), np.nan_to_num(high)],
            fmt="o-",
            color="#1f5fa8",
            capsize=4,
            label="value with its 95 % interval",
        )
        first = next((v for v in y if np.isfinite(v)), None)
        t = (thresholds or {}).get(m)
        if t and first is not None:
            ax.axhspan(first - t, first + t, color="#999", alpha=0.2, label="first session ± published threshold")
        ax.set_ylabel(summary.header(m), fontsize=10)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xticks(x, labels)
    axes[-1, 0].set_xlabel("session")
    axes[0, 0].set_title(title, fontsize=11)
    handles, names = axes[0, 0].get_legend_handles_labels()
    for ax in axes[1:, 0]:
        for h, n in zip(*ax.get_legend_handles_labels(), strict=True):
            if n not in names:
                handles.append(h)
                names.append(n)
    fig.legend(handles, names, loc="outside lower center", ncols=2, fontsize=10, frameon=False)
    return fig
