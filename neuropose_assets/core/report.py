"""The per-video report: one self-contained HTML file (images inline) with the task, the outcomes with units and
definitions, the figures, the quality flags and the provenance — what a clinician files or sends, and what a methods
section cites.  Built from the Parquet outputs only (:func:`build_report`), so the Dagster asset and
``neuropose-assets report`` produce the same file.
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from neuropose_assets.core import plots, quality
from neuropose_assets.core.storage import Layout
from neuropose_assets.core.tables import read_provenance
from neuropose_assets.core.tasks import TaskSpec

TABLES = ("task", "features", "events", "repetitions", "outcomes", "repetition_dtw", "poses")


@dataclass
class Report:
    """``html`` (the document), ``figures`` (name → PNG bytes, also for the UI), ``flags``
    (:class:`.quality.Flag`), ``seconds`` to build."""

    html: str
    figures: dict[str, bytes] = field(default_factory=dict)
    flags: list = field(default_factory=list)
    seconds: float = 0.0


def _img(data: bytes, alt: str) -> str:
    kind = "jpeg" if data[:3] == b"\xff\xd8\xff" else "png"
    return f'<img alt="{html.escape(alt)}" src="data:image/{kind};base64,{base64.b64encode(data).decode()}">'


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
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
    feats, events, reps = tables["features"], tables["events"], tables["repetitions"]
    figures = {
        "signal": plots.signal_plot(feats, events, reps, spec),
        "angles": plots.angles_plot(feats, spec),
        "gait_cycle": plots.gait_cycle_plot(feats, reps) if spec.task == "gait" else None,
        "repetition_dtw": plots.dtw_heatmap(tables["repetition_dtw"], "DTW between the repetitions"),
    }
    sheet = layout.review / f"{partition}.contact.jpg"
    if sheet.exists():
        figures["key_frames"] = sheet.read_bytes()
    figures = {k: v for k, v in figures.items() if v is not None}
    # the same checks, on the same files, as the asset checks in the UI and `run` (one source of flags)
    flags = [f for _, _, fl in quality.evaluate(layout, partition) for f in fl]
    prov = read_provenance(layout.asset_file("outcomes", partition))
    out = tables["outcomes"]
    rows = []
    for r in out.iter_rows(named=True):
        value = (f"{r['value']:.0f}" if r["unit"] == "count" else f"{r['value']:.3f}") if r["value"] is not None else (
            f'<span class="null">— {html.escape(r["null_reason"] or "")}</span>')  # fmt: skip
        rows.append([f"<code>{r['measure']}</code>", value, html.escape(r["unit"]), html.escape(r["definition"]),
                     html.escape(r["source"])])  # fmt: skip
    model = prov.get("model", {})
    prov_rows = [
        ["task", html.escape(f"{spec.task} — declared by {task_row['declared_by'] or 'nothing (generic)'}")],
        ["parameters", f"<code>{html.escape(json.dumps(spec.model_dump(mode='json', exclude_none=True)))}</code>"],
        ["source video SHA-256", f"<code>{prov.get('source', {}).get('sha256', '?')}</code>"],
        ["pose model", html.escape(f"{model.get('name')} / {model.get('variant')} (3D origin: {model.get('origin')})")],
        ["model checksum", f"<code>{model.get('checksum', '?')}</code>"],
        ["library versions", f"<code>{html.escape(json.dumps(prov.get('versions', {})))}</code>"],
    ]
    captions = {
        "signal": "The task's signal over time; shaded: repetitions / gait cycles (blue left, red right); dotted: events.",
        "angles": "Main joint angles over time, left (blue) and right (red), degrees.",
        "gait_cycle": "Sagittal angles normalised to 0–100 % of the gait cycle, mean ± SD per foot.",
        "key_frames": "One frame per event, skeleton as the pose model saw it (review video).",
        "repetition_dtw": "DTW distance between the repetitions of this video (same side only).",
    }
    figs = "".join(f"<p>{html.escape(captions.get(k, k))}<br>{_img(v, k)}</p>" for k, v in figures.items())
    flag_html = "".join(f'<li class="{f.severity}">{f.severity}: {html.escape(f.message)}</li>' for f in flags) or (
        "<li>none</li>")  # fmt: skip
    doc = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(partition)} — report</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(partition)} — {html.escape(spec.task)}</h1>
<p>{events.height} events, {reps.height} repetitions / gait cycles, {feats.height} frames
({feats['time_s'].max() or 0:.2f} s). Generated by neuropose-assets {html.escape(prov.get('versions', {}).get(
        'neuropose-assets', '?'))}.</p>
<h2>Quality flags</h2><ul>{flag_html}</ul>
<h2>Outcomes</h2>{_table(rows, ["measure", "value", "unit", "definition", "source"])}
<h2>Figures</h2>{figs}
<h2>Provenance</h2>{_table(prov_rows, ["", ""])}
<h2>Configuration of every stage</h2><pre>{html.escape(json.dumps(prov.get('configs', {}), indent=1))}</pre>
</body></html>"""
    return Report(doc, figures, flags, time.perf_counter() - t0)


def write_report(layout: Layout, partition: str, out: Path | None = None) -> tuple[Path, Report]:
    """Build and write the report atomically to ``out`` (default ``<data root>/reports/<partition>.html``)."""
    from neuropose_assets.core.atomic import atomic_write_bytes

    report = build_report(layout, partition)
    path = out or layout.reports / f"{partition}.html"
    atomic_write_bytes(path, report.html.encode("utf-8"))
    return path, report
