"""The per-video report: one self-contained HTML file (images inline) with the task, the outcomes with units and
definitions, the figures, the quality flags and the provenance — what a clinician files or sends, and what a methods
section cites.  Built from the Parquet outputs only (:func:`build_report`), so the Dagster asset and
``neuropose-assets report`` produce the same file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from neuropose_assets.core.analysis import quality, summary
from neuropose_assets.core.analysis.tasks import TaskSpec
from neuropose_assets.core.io.storage import Layout
from neuropose_assets.core.io.tables import read_provenance
from neuropose_assets.core.review import plots

TABLES = ("task", "features", "events", "repetitions", "outcomes", "repetition_dtw", "poses")


@dataclass
class Report:
    """``html`` (the document), ``figures`` (name → PNG / JPEG bytes, also for the UI), ``flags``
    (:class:`..analysis.quality.Flag`), ``seconds`` to build, ``pdf`` (the same report as a PDF document)."""

    html: str
    figures: dict[str, bytes] = field(default_factory=dict)
    flags: list = field(default_factory=list)
    seconds: float = 0.0
    pdf: bytes = b""


def _img(data: bytes, alt: str) -> str:
    kind = "jpeg" if data[:3] == b"\xff\xd8\xff" else "png"
    return f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{base64.b64encode(data).decode()}">'


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;max-width:1040px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:.85em;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;
vertical-align:top}th{background:#f4f4f4;text-align:left}.null{color:#888}.WARN{color:#a60}.ERROR{color:#b00}
img{max-width:100%;margin:.4em 0}pre{background:#f7f7f7;padding:.6em;font-size:.75em;overflow-x:auto}"""


def build_report(layout: Layout, partition: str) -> Report:
    """The report of ``partition`` from its tables under ``layout`` (and the review contact sheet if rendered).

    Raises:
        FileNotFoundError: a table the report needs has not been produced yet (say which).
    """
    t0 = time.perf_counter()
    missing = [t for t in TABLES if not layout.asset_file(t, partition).exists()]
    if missing:
        raise FileNotFoundError(f"{partition}: no {', '.join(missing)} yet — run the video first (its per_video_job)")
    tables = {t: pl.read_parquet(layout.asset_file(t, partition)) for t in TABLES if t != "poses"}
    task_row = tables["task"].row(0, named=True)
    spec = TaskSpec.model_validate_json(task_row["spec_json"])
    visit = _visit_text(task_row)
    feats, events, reps = tables["features"], tables["events"], tables["repetitions"]
    drawn = {
        "signal": plots.signal_plot(feats, events, reps, spec),
        "angles": plots.angles_plot(feats, spec),
        "gait_cycle": plots.gait_cycle_plot(feats, reps) if spec.task == "gait" else None,
        "repetition_dtw": plots.dtw_heatmap(tables["repetition_dtw"], "DTW between the repetitions"),
    }
    drawn = {k: v for k, v in drawn.items() if v is not None}
    sheet = layout.review / f"{partition}.contact.jpg"
    key_frames = sheet.read_bytes() if sheet.exists() else None
    # the same checks, on the same files, as the asset checks in the UI and `run` (one source of flags)
    flags = [f for _, _, fl in quality.evaluate(layout, partition) for f in fl]
    prov = read_provenance(layout.asset_file("outcomes", partition))
    out = tables["outcomes"]
    rows = []
    for r in out.iter_rows(named=True):
        interval = summary.shown_interval(r["measure"], r.get("ci_low"), r.get("ci_high"))
        value = (
            html.escape(summary.shown(r["measure"], r["value"]))
            + (
                f' <small title="{html.escape(r.get("ci_method") or "")}">95 % CI {interval}</small>'
                if interval
                else ""
            )
            if r["value"] is not None
            else (f'<span class="null">— {html.escape(r["null_reason"] or "")}</span>')
        )
        rows.append(
            [
                f"<code>{r['measure']}</code>",
                value,
                html.escape(r["unit"]),
                html.escape(r["definition"]),
                html.escape(r["source"]),
            ]
        )
    model = prov.get("model", {})
    prov_rows = [
        ["task", html.escape(f"{spec.task} — declared by {task_row['declared_by'] or 'nothing (generic)'}")],
        ["subject / session", html.escape(visit)],
        ["parameters", f"<code>{html.escape(json.dumps(spec.model_dump(mode='json', exclude_none=True)))}</code>"],
        ["source video SHA-256", f"<code>{prov.get('source', {}).get('sha256', '?')}</code>"],
        ["pose model", html.escape(f"{model.get('name')} / {model.get('variant')} (3D origin: {model.get('origin')})")],
        ["model checksum", f"<code>{model.get('checksum', '?')}</code>"],
        ["library versions", f"<code>{html.escape(json.dumps(prov.get('versions', {})))}</code>"],
    ]
    captions = {
        "signal": plots.signal_caption(reps, events),
        "angles": "Main joint angles of the fitted model over time, left (blue) and right (red), degrees (flexion and "
        "dorsiflexion positive).",
        "gait_cycle": "Sagittal angles normalised to 0–100 % of the gait cycle, mean ± SD per foot.",
        "key_frames": "One frame per event, skeleton as the pose model saw it (review video).",
        "repetition_dtw": "DTW distance between the repetitions of this video (same side only).",
    }
    event_rows = [
        [
            f"{e['time_s']:.2f}",
            str(e["frame"]),
            html.escape(plots.event_name(e["event"])),
            html.escape(e["side"] or "—"),
            "—" if e.get("confidence") is None else f"{e['confidence']:.2f}",
        ]
        for e in events.sort("time_s").iter_rows(named=True)
    ]
    pdf = _pdf(partition, spec, task_row, prov, out, flags, events, drawn, captions, key_frames)
    figures = {k: plots.png(v) for k, v in drawn.items()}
    if key_frames is not None:
        figures["key_frames"] = key_frames
    figs = "".join(f"<p>{html.escape(captions.get(k, k))}<br>{_img(v, k)}</p>" for k, v in figures.items())
    flag_html = "".join(f'<li class="{f.severity}">{f.severity}: {html.escape(f.message)}</li>' for f in flags) or (
        "<li>none</li>"
    )
    doc = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"""<title>{html.escape(partition)} — report</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(partition)} — {html.escape(spec.task)}</h1>
<p><a href="{html.escape(partition)}.pdf" download>PDF</a> (the same report, to print or send)</p>
<p>{events.height} events, {reps.height} {plots.repetition_word(reps)}, {feats.height} frames
({feats["time_s"].max() or 0:.2f} s). Generated by neuropose-assets {
            html.escape(prov.get("versions", {}).get("neuropose-assets", "?"))
        }.</p>
<h2>Quality flags</h2><ul>{flag_html}</ul>
<h2>Outcomes</h2>{_table(rows, ["measure", "value", "unit", "definition", "source"])}
<h2>Events</h2>{
            _table(event_rows, ["time (s)", "frame", "event", "side", "confidence"]) if event_rows else "<p>none</p>"
        }
<h2>Figures</h2>{figs}
<h2>Provenance</h2>{_table(prov_rows, ["", ""])}
<h2>Configuration of every stage</h2><pre>{html.escape(json.dumps(prov.get("configs", {}), indent=1))}</pre>
</body></html>"""
    )
    return Report(doc, figures, flags, time.perf_counter() - t0, pdf)


def write_report(layout: Layout, partition: str, out: Path | None = None) -> tuple[Path, Report]:
    """Build and write the report atomically to ``out`` (default ``<data root>/reports/<partition>.html``) and its PDF
    beside it (``.pdf``)."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    report = build_report(layout, partition)
    path = out or layout.reports / f"{partition}.html"
    atomic_write_bytes(path.with_suffix(".pdf"), report.pdf)  # first: the HTML links to it
    atomic_write_bytes(path, report.html.encode("utf-8"))
    return path, report


def _pdf(partition, spec, task_row, prov, outcomes, flags, events, figures, captions, key_frames) -> bytes:
    """The report as a PDF (matplotlib's PDF backend): a text page or more (task, quality flags, outcomes, events,
    definitions), then one page per figure (vector graphics) with its caption, then the key frames."""
    import textwrap

    from matplotlib.backends.backend_pdf import PdfPages

    out_rows = [
        [
            r["measure"],
            summary.shown(r["measure"], r["value"]),
            summary.shown_interval(r["measure"], r.get("ci_low"), r.get("ci_high")),
            "" if r["unit"] == "count" else r["unit"],
            str(r["n"]),
            "" if r["value"] is not None else (r["null_reason"] or ""),
        ]
        for r in outcomes.iter_rows(named=True)
    ]
    table = summary.text_table(
        [r[:5] + [textwrap.shorten(r[5], 50, placeholder="…")] for r in out_rows],
        ["measure", "value", "95 % CI", "unit", "n", "null: reason"],
        right={1, 2, 4},
    )
    ev = summary.text_table(
        [
            [
                f"{e['time_s']:.2f}",
                str(e["frame"]),
                plots.event_name(e["event"]),
                e["side"] or "—",
                "—" if e.get("confidence") is None else f"{e['confidence']:.2f}",
            ]
            for e in events.sort("time_s").iter_rows(named=True)
        ],
        ["time (s)", "frame", "event", "side", "confidence"],
        right={0, 1, 4},
    )
    defs = [
        line
        for r in outcomes.iter_rows(named=True)
        for line in textwrap.wrap(
            f"{r['measure']}: {r['definition']} Source: {r['source']}", 100, subsequent_indent="    "
        )
    ]
    nulls = [line for r in out_rows if r[4] for line in textwrap.wrap(f"{r[0]}: {r[4]}", 100, subsequent_indent="    ")]
    model = prov.get("model", {})
    blocks = [
        (
            "Video and task",
            [
                f"task: {spec.task} (declared by {task_row['declared_by'] or 'nothing: generic'})",
                f"subject / session: {_visit_text(task_row)}",
                f"source video SHA-256: {prov.get('source', {}).get('sha256', '?')}",
                f"pose model: {model.get('name')} / {model.get('variant')}",
                f"neuropose-assets {prov.get('versions', {}).get('neuropose-assets', '?')}",
            ],
        ),
        (
            "Quality flags",
            [line for f in flags for line in textwrap.wrap(f"{f.severity}: {f.message}", 100, subsequent_indent="    ")]
            or ["none"],
        ),
        ("Outcomes", table.splitlines()),
        ("Why a value is null", nulls or ["no null values"]),
        ("Events", ev.splitlines() if events.height else ["none"]),
        ("Definitions and sources", defs),
    ]
    buf = io.BytesIO()
    with PdfPages(buf, metadata={"Title": f"{partition} — {spec.task}", "Creator": "neuropose-assets"}) as pdf:
        for page in plots.text_pages(f"{partition} — {spec.task}", blocks):
            pdf.savefig(page)
            plots.close(page)
        for name, fig in figures.items():  # each on a page of its own, vector graphics, captioned above
            fig.canvas.draw()
            fig.set_layout_engine("none")  # freeze the layout: the caption must not move anything
            above = fig.get_tightbbox().y1 / fig.get_size_inches()[1] + 0.03  # (legends sit below: they follow
            caption = fig.text(
                0.01,
                above,
                "\n".join(textwrap.wrap(captions.get(name, name), 130)),  # the page edge)
                va="bottom",
                fontsize=plots.MIN_FONT_PT + 1,
                color="0.2",
            )
            pdf.savefig(fig, bbox_inches="tight", pad_inches=0.4)
            caption.remove()  # in the HTML the caption is text beside the image
        if key_frames is not None:
            page = plots.image_page(key_frames, captions["key_frames"])
            pdf.savefig(page)
            plots.close(page)
    return buf.getvalue()


def _visit_text(task_row: dict) -> str:
    """``P017, session 2026-03-01 (67 y, female, stroke, group intervention)`` from the task table's visit columns;
    ``not declared`` without a subject."""
    if not task_row.get("subject"):
        return "not declared"
    info = [
        f"{task_row['age_years']:g} y" if task_row.get("age_years") is not None else None,
        task_row.get("sex"),
        task_row.get("population"),
        f"group {task_row['group']}" if task_row.get("group") else None,
    ]
    info = [i for i in info if i]
    session = f", session {task_row['session']}" if task_row.get("session") else ""
    return task_row["subject"] + session + (f" ({', '.join(info)})" if info else "")
