"""The results page: what a clinician opens — per cohort, one row per video with its task's main outcomes (units in
the header), the quality flags, a link to the report and the review video in an HTML5 player.

Served under :data:`PREFIX` by the same guarded webserver as the Dagster UI (:mod:`.webserver`: same host check,
same-origin guard, loopback by default), so it needs no server of its own and the UI can link to it (relative URLs
in the asset metadata, :func:`cohort_url`).  Files are served from the data root only by partition key: a key must
be a valid, registered partition and the file must lie in the reports / review folders — there is no path in a URL,
so no traversal.  MP4s are served with HTTP range requests (Starlette's ``FileResponse``), so the player can seek.

Routes:

* ``/results/`` — the cohorts, each with its table;
* ``/results/cohort/{cohort}`` — one cohort's table (sortable by any column);
* ``/results/report/{key}`` — the video's self-contained HTML report, ``/results/report/{key}.pdf`` its PDF;
* ``/results/review/{key}.mp4`` — its review video.
"""

from __future__ import annotations

import html
from pathlib import Path

PREFIX = "/results"


def cohort_url(cohort: str) -> str:
    """The results page of ``cohort``, relative to the UI's origin (for ``MetadataValue.url``)."""
    return f"{PREFIX}/cohort/{cohort}"


def report_url(key: str) -> str:
    """The URL of ``key``'s HTML report (``+ ".pdf"``: its PDF), relative to the UI's origin."""
    return f"{PREFIX}/report/{key}"


def review_url(key: str) -> str:
    """The URL of ``key``'s review video (MP4), relative to the UI's origin."""
    return f"{PREFIX}/review/{key}.mp4"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.95em}
th,td{border-bottom:1px solid #ddd;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#f4f4f4;cursor:pointer;user-select:none} td.num{text-align:right;font-variant-numeric:tabular-nums}
.WARN{color:#8a5a00} .ERROR{color:#b00020;font-weight:600} .ok{color:#2e7d32}
video{width:240px;max-height:180px;background:#000}
small{color:#666}
"""
_SORT = """
document.querySelectorAll('table.sortable th').forEach((th, i) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], rows = Array.from(body.rows), asc = th.dataset.asc !== '1';
  const val = r => { const t = r.cells[i].dataset.v ?? r.cells[i].innerText; const n = parseFloat(t);
                     return isNaN(n) ? t.toLowerCase() : n; };
  rows.sort((a, b) => (val(a) > val(b) ? 1 : val(a) < val(b) ? -1 : 0) * (asc ? 1 : -1));
  rows.forEach(r => body.appendChild(r)); th.dataset.asc = asc ? '1' : '0';
}));
"""


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}<script>{_SORT}</script></body></html>"
    )


def cohort_tables(layout, cohort: str) -> str:
    """The HTML of one cohort: a table per task, one row per video (module docstring)."""
    import polars as pl

    from neuropose_assets.core.analysis import summary
    from neuropose_assets.core.analysis.quality import failed_checks as _flag_names
    from neuropose_assets.core.io.storage import Registry

    entries = [e for e in Registry(layout).all() if e.cohort == cohort]
    by_task: dict[str, list] = {}
    for e in entries:
        path = layout.asset_file("outcomes", e.partition)
        task = (
            pl.read_parquet(layout.asset_file("task", e.partition))["task"][0]
            if layout.asset_file("task", e.partition).exists()
            else "—"
        )
        by_task.setdefault(task, []).append((e, pl.read_parquet(path) if path.exists() else None))
    parts = []
    for task, items in sorted(by_task.items()):
        measures = summary.MAIN_OUTCOMES.get(task, ())
        head = "".join(f"<th>{html.escape(summary.header(m))}</th>" for m in measures)
        rows = []
        for e, out in items:
            key = e.partition
            values = dict(zip(out["measure"], out["value"], strict=True)) if out is not None else {}
            ns = dict(zip(out["measure"], out["n"], strict=True)) if out is not None else {}
            cis = (
                {r["measure"]: summary.shown_interval(r["measure"], r["ci_low"], r["ci_high"]) for r in out.to_dicts()}
                if out is not None and "ci_low" in out.columns
                else {}
            )
            cells = "".join(
                f"<td class='num' data-v='{'' if values.get(m) is None else values[m]}'>"
                f"{html.escape(summary.shown(m, values.get(m)))}"
                f"{'' if values.get(m) is None or summary.unit_label(m) == '' else f' <small>n={ns.get(m)!s}</small>'}"
                f"{f'<br><small>95 % CI {cis[m]}</small>' if cis.get(m) else ''}"
                "</td>"
                for m in measures
            )
            flags = _flag_names(layout, key) if out is not None else "not analysed"
            flag_html = (
                "".join(f"<div class='{f.split(' ')[0]}'>{html.escape(f)}</div>" for f in flags.split(", ") if f)
                if flags
                else "<span class='ok'>ok</span>"
            )
            report = (
                f"<a href='{report_url(key)}'>report</a>"
                if (layout.reports / f"{key}.html").exists()
                else "<small>no report yet</small>"
            )
            if (layout.reports / f"{key}.pdf").exists():
                report += f" · <a href='{report_url(key)}.pdf'>PDF</a>"
            video = (
                f"<video controls preload='metadata' src='{review_url(key)}'></video>"
                if (layout.review / f"{key}.mp4").exists()
                else "<small>no review video</small>"
            )
            rows.append(
                f"<tr id='{html.escape(key)}'><td>{html.escape(key)}{_visit_html(e)}</td>{cells}<td>{flag_html}</td>"
                f"<td>{report}</td><td>{video}</td></tr>"
            )
        parts.append(
            f"<h2>{html.escape(task)} <small>({len(items)} video{'s' if len(items) != 1 else ''})</small>"
            f"</h2><table class='sortable'><thead><tr><th>video</th>{head}<th>quality flags</th>"
            f"<th>report</th><th>review video</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    return "".join(parts) or "<p>No videos in this cohort yet.</p>"


def build_app(layout):
    """The Starlette app of the results page for the data root ``layout`` (module docstring)."""
    from starlette.applications import Starlette
    from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse
    from starlette.routing import Route

    from neuropose_assets.core.io.storage import Registry, check_key

    def registered(key: str) -> bool:
        try:
            check_key(key)
        except ValueError:
            return False
        return (layout.registry / f"{key}.json").exists()

    def inside(folder: Path, name: str) -> Path | None:
        path = (folder / name).resolve()
        return path if path.parent == folder.resolve() and path.is_file() else None

    async def index(request):
        cohorts = sorted({e.cohort for e in Registry(layout).all()})
        body = [
            "<h1>Results</h1><p><small>Main outcomes per task, with units; every measure, its definition and "
            "source are in each video's report. <a href='/'>Dagster UI</a></small></p>"
        ]
        for c in cohorts:
            body.append(f"<h2 id='{html.escape(c)}'><a href='{cohort_url(c)}'>{html.escape(c)}</a></h2>")
            body.append(cohort_tables(layout, c))
        if not cohorts:
            body.append("<p>No videos yet: drop videos into the intake folder, or run `neuropose-assets run`.</p>")
        return HTMLResponse(_page("Results", "".join(body)))

    async def cohort(request):
        c = request.path_params["cohort"]
        try:
            check_key(c)
        except ValueError:
            return PlainTextResponse("no such cohort", status_code=404)
        body = (
            f"<h1>Cohort {html.escape(c)}</h1><p><small><a href='{PREFIX}/'>all cohorts</a> · "
            f"<a href='/'>Dagster UI</a></small></p>{cohort_tables(layout, c)}"
        )
        return HTMLResponse(_page(f"Cohort {c}", body))

    def served(folder: Path, suffix: str, media_type: str, what: str):
        """A handler serving ``<folder>/<key><suffix>`` for a registered key, 404 otherwise."""

        async def handler(request):
            key = request.path_params["key"]
            path = inside(folder, f"{key}{suffix}") if registered(key) else None
            if path is None:
                return PlainTextResponse(f"no {what} for {key!r}", status_code=404)
            return FileResponse(path, media_type=media_type)

        return handler

    report = served(layout.reports, ".html", "text/html", "report")
    pdf = served(layout.reports, ".pdf", "application/pdf", "PDF report")
    review = served(layout.review, ".mp4", "video/mp4", "review video")

    return Starlette(
        routes=[
            Route(f"{PREFIX}/", index),
            Route(PREFIX, index),
            Route(f"{PREFIX}/cohort/{{cohort}}", cohort),
            Route(f"{PREFIX}/report/{{key}}.pdf", pdf),  # before the HTML route, whose {key} would take "x.pdf"
            Route(f"{PREFIX}/report/{{key}}", report),
            Route(f"{PREFIX}/review/{{key}}.mp4", review),
        ]
    )


#: the link to the results page added to every page of the Dagster UI (bottom right, over the UI): Dagster's open
#: source UI has no setting for a custom link on its home page.  Inline styles are allowed by the UI's Content Security
#: Policy (``style-src 'unsafe-inline'``); no script is added.
UI_LINK = (
    f'<a id="neuropose-results-link" href="{PREFIX}/" title="Outcomes per cohort: tables, reports, review '
    'videos" style="position:fixed;right:18px;bottom:18px;z-index:2147483647;background:#4f43dd;color:#fff;'
    "padding:9px 16px;border-radius:20px;font:600 14px system-ui,sans-serif;text-decoration:none;"
    'box-shadow:0 2px 8px rgba(0,0,0,.35)">Results</a>'
)


class WithResults:
    """ASGI app: :data:`PREFIX` goes to the results page, everything else to the Dagster UI, whose HTML pages (the
    single-page app's ``index.html``) get :data:`UI_LINK` before ``</body>`` — one click from the UI's home to the
    results."""

    def __init__(self, dagster_app, layout) -> None:
        self.dagster = dagster_app
        self.results = build_app(layout)

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "") if scope["type"] in ("http", "websocket") else ""
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            return await self.results(scope, receive, send)
        if scope["type"] != "http" or scope.get("method") != "GET":
            return await self.dagster(scope, receive, send)
        return await self.dagster(scope, receive, _with_link(send))


def _with_link(send):
    """An ASGI ``send`` that adds :data:`UI_LINK` to an HTML response (buffered: the UI's index page is ~3 kB) and
    passes every other response through untouched."""
    state: dict = {"start": None, "html": False, "body": b""}

    async def wrapped(message) -> None:
        if message["type"] == "http.response.start":
            headers = dict(message.get("headers", []))
            state["html"] = headers.get(b"content-type", b"").startswith(b"text/html")
            if not state["html"]:
                return await send(message)
            state["start"] = message
            return None
        if message["type"] != "http.response.body" or not state["html"]:
            return await send(message)
        state["body"] += message.get("body", b"")
        if message.get("more_body", False):
            return None
        body = state["body"]
        if b"</body>" in body:
            body = body.replace(b"</body>", UI_LINK.encode() + b"</body>", 1)
        start = state["start"]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return wrapped


def _visit_html(entry) -> str:
    """The subject and session of a registry entry under its key (empty when none is declared)."""
    visit = entry.declaration.visit
    if visit is None:
        return ""
    text = visit.subject + (f" · {visit.session}" if visit.session else "")
    return f"<br><small>{html.escape(text)}</small>"
