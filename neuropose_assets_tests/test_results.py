"""The results page: a cohort's table with the main outcomes and units, links to reports, review videos served with
range requests, nothing outside the data root's report / review folders — and it sits behind the UI's guard."""

import polars as pl
import pytest

from neuropose_assets.core.analysis.events import analyse_task
from neuropose_assets.core.analysis.outcomes import compute_outcomes
from neuropose_assets.core.analysis.tasks import TaskDeclaration, TaskSpec
from neuropose_assets.core.io.storage import Layout, Registry
from neuropose_assets_tests import synthetic as S
from neuropose_assets_tests.asgi import asgi_get


@pytest.fixture
def root(tmp_path) -> Layout:
    from neuropose_assets.core.io.tables import write_table

    layout = Layout(tmp_path / "data")
    reg = Registry(layout)
    feats, _ = S.sit_to_stand(fps=60.0, reps=5)
    spec = TaskSpec(task="sit_to_stand", expected_repetitions=5)
    res = analyse_task(feats, spec)
    out = compute_outcomes(spec, res.events, res.repetitions, feats)
    reg.register("p01-sts", tmp_path / "sts.mp4", "pd", task=TaskDeclaration(spec, "test"))
    task = pl.DataFrame({"task": ["sit_to_stand"], "declared": [True]})
    for name, df in (("outcomes", out), ("task", task), ("repetitions", res.repetitions), ("events", res.events)):
        write_table(df, layout.asset_file(name, "p01-sts"), {})
    layout.reports.mkdir(parents=True, exist_ok=True)
    (layout.reports / "p01-sts.html").write_text("<html>report of p01-sts</html>")
    (layout.reports / "p01-sts.pdf").write_bytes(b"%PDF-1.4 report of p01-sts")
    layout.review.mkdir(parents=True, exist_ok=True)
    (layout.review / "p01-sts.mp4").write_bytes(bytes(range(256)) * 40)
    (layout.root / "secret.txt").write_text("not for the browser")
    return layout


def test_the_cohort_table_shows_the_main_outcomes_with_units_and_links(root):
    from neuropose_assets.results import build_app, cohort_url, report_url, review_url

    app = build_app(root)
    page = asgi_get(app, cohort_url("pd"))
    assert page["status"] == 200
    text = page["body"].decode()
    assert "five_sts_time [s]" in text and "repetitions" in text and ">5<" in text.replace(" ", "")
    assert f"href='{report_url('p01-sts')}'" in text and f"src='{review_url('p01-sts')}'" in text
    assert "class='sortable'" in text
    assert "p01-sts" in asgi_get(app, "/results/")["body"].decode()  # the index lists every cohort
    report = asgi_get(app, report_url("p01-sts"))
    assert report["status"] == 200 and b"report of p01-sts" in report["body"]
    assert f"href='{report_url('p01-sts')}.pdf'" in text
    pdf = asgi_get(app, report_url("p01-sts") + ".pdf")
    assert (
        pdf["status"] == 200 and pdf["body"].startswith(b"%PDF") and pdf["headers"]["content-type"] == "application/pdf"
    )
    video = asgi_get(app, review_url("p01-sts"), {"Range": "bytes=10-19"})  # seeking needs range requests
    assert video["status"] == 206 and video["body"] == bytes(range(10, 20))
    assert video["headers"]["content-type"] == "video/mp4"


@pytest.mark.parametrize(
    "url",
    [
        "/results/report/..%2Fsecret.txt",
        "/results/report/../secret",
        "/results/review/..%2F..%2Fsecret.txt.mp4",
        "/results/report/%2e%2e",
        "/results/report/unknown-key",
        "/results/report/..%2Fsecret.txt.pdf",
        "/results/cohort/..%2F..",
        "/results/review/p01-sts",
    ],
)
def test_nothing_outside_the_reports_and_review_videos_is_served(root, url):
    from neuropose_assets.results import build_app

    res = asgi_get(build_app(root), url)
    assert res["status"] == 404 and b"not for the browser" not in res["body"]


def test_the_results_page_is_behind_the_uis_guard(root):
    from neuropose_assets.results import WithResults
    from neuropose_assets.webserver import SameOriginGuard

    async def dagster(scope, receive, send):  # stands in for the Dagster UI
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"dagster"})

    app = SameOriginGuard(WithResults(dagster, root), ["127.0.0.1", "localhost"])
    assert asgi_get(app, "/results/cohort/pd")["status"] == 200
    assert asgi_get(app, "/")["status"] == 299  # everything else is the UI
    # another page (another port of 127.0.0.1 included) cannot read the results
    fetch = {"Origin": "http://127.0.0.1:8888", "Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"}
    assert asgi_get(app, "/results/cohort/pd", fetch)["status"] == 403
    assert asgi_get(app, "/results/cohort/pd", {"host": "evil.example:3000"})["status"] == 400
    # a link followed from a notebook opens it (a top-level navigation)
    nav = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
    assert asgi_get(app, "/results/cohort/pd", nav)["status"] == 200


def test_every_ui_page_links_to_the_results_and_nothing_else_changes(root):
    """The Dagster UI's HTML (its index page, served for every UI route) gets the Results link; JSON, scripts and
    the results page itself pass untouched, with a correct Content-Length."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from neuropose_assets.results import UI_LINK, WithResults

    index = "<!DOCTYPE html><html><head></head><body><div id='root'></div></body></html>"

    async def html_page(request):
        return HTMLResponse(index, headers={"Content-Security-Policy": "style-src 'unsafe-inline'"})

    async def graphql(request):
        return JSONResponse({"data": {"x": "</body>"}})

    async def script(request):
        return Response("console.log('</body>')", media_type="application/javascript")

    ui = Starlette(
        routes=[
            Route("/", html_page),
            Route("/assets/{rest:path}", html_page),
            Route("/graphql", graphql),
            Route("/static/app.js", script),
        ]
    )
    app = WithResults(ui, root)
    for url in ("/", "/assets/outcomes?partition=p01-sts"):
        page = asgi_get(app, url)
        assert page["status"] == 200 and page["body"].decode().endswith(UI_LINK + "</body></html>")
        assert int(page["headers"]["content-length"]) == len(page["body"])
        assert page["headers"]["content-security-policy"] == "style-src 'unsafe-inline'"
    assert 'href="/results/"' in UI_LINK and "<script" not in UI_LINK
    assert asgi_get(app, "/graphql")["body"] == b'{"data":{"x":"</body>"}}'
    assert asgi_get(app, "/static/app.js")["body"] == b"console.log('</body>')"
    assert "neuropose-results-link" not in asgi_get(app, "/results/")["body"].decode()
