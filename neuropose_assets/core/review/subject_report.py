"""The subject report: one subject's sessions side by side, what changed and whether it matters, where the values lie
against the norms, and each video's quality flags — a self-contained HTML page per subject of a cohort.

Read from the cohort's tables (``cohort_outcomes``, ``subject_changes``, ``normative_comparison``) and each video's
quality checks (:func:`..analysis.quality.failed_checks`, the same the UI shows); the timeline figure is
:func:`.plots.subject_timeline`.  Written to ``<data root>/reports/subjects/<cohort>/<subject>.html``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from neuropose_assets.core.io.storage import Layout
from neuropose_assets.core.review.report import CSS, _img, _table


@dataclass
class SubjectReport:
    """The report of one subject: its ``html``, the tasks it covers and how many sessions and videos."""

    subject: str
    html: str
    tasks: list[str] = field(default_factory=list)
    sessions: int = 0
    videos: int = 0


def subject_report_path(layout: Layout, cohort: str, subject: str) -> Path:
    """Where the report of ``subject`` of ``cohort`` is written."""
    return layout.reports / "subjects" / cohort / f"{subject}.html"


def build_subject_report(layout: Layout, cohort: str, subject: str) -> SubjectReport:
    """The report of ``subject`` (module docstring) from the cohort's written tables.

    Raises:
        FileNotFoundError: the cohort's ``cohort_outcomes`` table does not exist.
        KeyError: no video of the cohort belongs to ``subject``.
    """
    from neuropose_assets.core.analysis import quality, summary
    from neuropose_assets.core.analysis.change import threshold_for
    from neuropose_assets.core.analysis.tasks import Visit
    from neuropose_assets.core.review import plots

    table = pl.read_parquet(layout.asset_file("cohort_outcomes", cohort))
    mine = table.filter(pl.col("subject") == subject)
    if not mine.height:
        raise KeyError(f"no video of cohort {cohort!r} belongs to subject {subject!r}")
    changes_path = layout.asset_file("subject_changes", cohort)
    changes = pl.read_parquet(changes_path).filter(pl.col("subject") == subject) if changes_path.exists() else None
    norms_path = layout.asset_file("normative_comparison", cohort)
    norms = pl.read_parquet(norms_path).filter(pl.col("subject") == subject) if norms_path.exists() else None
    info = mine.row(0, named=True)
    described = ", ".join(
        x
        for x in (
            f"{info['age_years']:g} years" if info.get("age_years") is not None else None,
            info.get("sex"),
            info.get("population"),
            f"group {info['group']}" if info.get("group") else None,
        )
        if x
    )
    parts = [
        f"<h1>Subject {html.escape(subject)}</h1>",
        f"<p>cohort {html.escape(cohort)}; {html.escape(described or 'nothing declared about the subject')}; "
        f"{mine.height} video(s)</p>",
    ]
    order = lambda s: Visit(subject="s", session=s).session_order() if s else (-1, "")  # noqa: E731
    sessions_seen: set[str] = set()
    tasks = sorted(mine["task"].unique().to_list())
    for task in tasks:
        rows = mine.filter(pl.col("task") == task).to_dicts()
        rows.sort(key=lambda r: order(r["session"]))
        sessions_seen |= {r["session"] or "—" for r in rows}
        measures = [m for m in summary.MAIN_OUTCOMES.get(task, ()) if m in table.columns]
        measures += [m for m in table.columns if m not in measures and _is_measure(m, rows)]
        head = ["measure", *(f"{r['session'] or '—'} ({r['partition']})" for r in rows)]
        body = [
            [
                f"<code>{html.escape(m)}</code>",
                *(
                    html.escape(summary.with_interval(m, r.get(m), r.get(m + "_ci_low"), r.get(m + "_ci_high")))
                    for r in rows
                ),
            ]
            for m in measures
        ]
        flags = [
            [
                html.escape(r["session"] or "—"),
                html.escape(r["partition"]),
                html.escape(quality.failed_checks(layout, r["partition"]) or "ok"),
            ]  # noqa: E501
            for r in rows
        ]
        parts += [f"<h2>{html.escape(task)}: sessions side by side</h2>", _table(body, head)]
        timeline = [
            (r["session"] or "—", {m: (r.get(m), r.get(m + "_ci_low"), r.get(m + "_ci_high")) for m in measures})
            for r in rows
        ]
        first = rows[0]
        thresholds = {
            m: t.amount(first[m])
            for m in measures
            if first.get(m) is not None and (t := threshold_for(m, info.get("population"), first[m])) is not None
        }
        fig = plots.subject_timeline(
            timeline, list(summary.MAIN_OUTCOMES.get(task, ())), f"{subject}: {task} by session", thresholds
        )
        if fig is not None:
            parts.append(_img(plots.png(fig), f"{subject} {task} by session"))
            parts.append(
                "<p><small>Each value with its 95 % interval; the grey band (where a published threshold exists for "
                "the subject's population) is the first session ± that threshold.</small></p>"
            )
        if changes is not None and changes.filter(pl.col("task") == task).height:
            ch = changes.filter(pl.col("task") == task)
            parts += [
                "<h3>Changes</h3>",
                _table(
                    [
                        [
                            f"<code>{html.escape(c['measure'])}</code>",
                            html.escape(f"{c['session_from']} → {c['session_to']} ({c['comparison']})"),
                            html.escape(
                                summary.with_interval(
                                    c["measure"], c["change"], c["change_ci_low"], c["change_ci_high"]
                                )
                            ),
                            html.escape(
                                f"{c['threshold_statistic']} {summary.shown(c['measure'], c['threshold'])}"
                                if c["threshold"] is not None
                                else "—"
                            ),
                            html.escape(c["verdict"] or f"— {c['verdict_null_reason']}"),
                            html.escape(c["threshold_source"] or ""),
                        ]
                        for c in ch.iter_rows(named=True)
                    ],
                    ["measure", "sessions", "change (95 % CI)", "threshold", "verdict", "source"],
                ),
            ]
        if norms is not None:
            nm = norms.filter(pl.col("partition").is_in([r["partition"] for r in rows]))
            if nm.height:
                parts += [
                    "<h3>Against norms and cut-offs</h3>",
                    _table(
                        [
                            [
                                html.escape(n["partition"]),
                                f"<code>{html.escape(n['measure'])}</code>",
                                html.escape(summary.shown(n["measure"], n["value"])),
                                html.escape(n["kind"]),
                                html.escape(n["result"] or f"— {n['null_reason']}"),
                                html.escape(n["source"]),
                            ]
                            for n in nm.iter_rows(named=True)
                        ],
                        ["video", "measure", "value", "kind", "result", "source"],
                    ),
                ]
        parts += ["<h3>Quality flags</h3>", _table(flags, ["session", "video", "flags"])]
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Subject {html.escape(subject)}</title>"
        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>"
    )
    return SubjectReport(subject, page, tasks, len(sessions_seen), mine.height)


def _is_measure(column: str, rows: list[dict]) -> bool:
    from neuropose_assets.core.analysis.outcomes import CI_SUFFIXES, RECORDING_MEASURES, definition

    if column.endswith(CI_SUFFIXES) or column in RECORDING_MEASURES:
        return False
    try:
        definition(column)
    except KeyError:
        return False
    return any(r.get(column) is not None for r in rows)


def write_subject_reports(layout: Layout, cohort: str) -> dict[str, Path]:
    """Write the report of every subject of ``cohort`` (atomically); returns subject → path."""
    from neuropose_assets.core.io.atomic import atomic_write_bytes

    table = pl.read_parquet(layout.asset_file("cohort_outcomes", cohort))
    out = {}
    for subject in sorted(table["subject"].drop_nulls().unique().to_list()):
        path = subject_report_path(layout, cohort, subject)
        atomic_write_bytes(path, build_subject_report(layout, cohort, subject).html.encode("utf-8"))
        out[subject] = path
    return out
