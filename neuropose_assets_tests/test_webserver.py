"""The UI cannot be driven by other web pages: Host, Origin, GET mutations and non-JSON POSTs are refused."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from neuropose_assets.webserver import SameOriginGuard, allowed_hosts

MUTATION = "mutation { reloadWorkspace { __typename } }"


def _call(method="POST", path="/graphql", headers=None, query_string=b"", kind="http"):
    """Run the guard on one request; returns the status (or ``close`` for a refused websocket, ``app`` when it
    reached the app)."""
    seen = {}

    async def app(scope, receive, send):
        seen["app"] = True
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(msg):
        if msg["type"] == "http.response.start":
            seen["status"] = msg["status"]
        if msg["type"] == "websocket.close":
            seen["status"] = "close"

    hdrs = [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:3000", **(headers or {})}.items()]
    scope = {
        "type": kind,
        "method": method,
        "path": path,
        "headers": hdrs,
        "query_string": query_string,
        "scheme": "http",
        "server": ("127.0.0.1", 3000),
        "root_path": "",
    }
    asyncio.run(SameOriginGuard(app, allowed_hosts("127.0.0.1"))(scope, receive, send))
    return seen.get("status", "app" if seen.get("app") else None)


def test_the_guard_refuses_what_a_foreign_page_can_send():
    json_ct = {"content-type": "application/json"}
    assert _call(headers=json_ct) == 200  # the UI's own request
    assert _call(headers={**json_ct, "origin": "http://127.0.0.1:3000"}) == 200
    assert _call(headers={**json_ct, "origin": "http://evil.example"}) == 403
    assert _call(headers={**json_ct, "origin": "null"}) == 403
    assert _call(headers={**json_ct, "sec-fetch-site": "cross-site"}) == 403
    assert _call(headers={**json_ct, "host": "evil.example:3000"}) == 400  # DNS rebinding
    assert _call(headers={"content-type": "text/plain"}) == 415  # no pre-flight for text/plain
    assert _call(headers={"content-type": "application/x-www-form-urlencoded"}) == 415
    get = {"method": "GET"}
    assert _call(**get, query_string=f"query={MUTATION}".encode()) == 405
    assert _call(**get, query_string=b"query=%7B%20version%20%7D") == 200  # a query by GET is fine
    assert _call(**get, query_string=b"query=not%20graphql") == 405  # unparseable: refused
    assert _call(**get, path="/assets") == 200
    assert _call(kind="websocket", headers={"origin": "http://evil.example"}) == "close"


def test_the_guard_reads_requests_as_dagster_does():
    """Hardening round 2: duplicated parameters (the guard read the first ``query``, Dagster executes the last),
    same-site pages (another 127.0.0.1 port), form bodies, batched JSON arrays, WebSocket subscriptions."""
    from urllib.parse import urlencode

    get = {"method": "GET"}
    mutation = (
        'mutation { addDynamicPartition(partitionsDefName: "videos", partitionKey: "x", '
        'repositorySelector: {repositoryName: "r", repositoryLocationName: "l"}) { __typename } }'
    )
    twice = urlencode([("query", "{ version }"), ("query", mutation)]).encode()
    assert _call(**get, query_string=twice) == 400
    assert _call(**get, query_string=urlencode([("query", mutation), ("query", "{ version }")]).encode()) == 400
    for name in ("variables", "operationName"):
        qs = urlencode([("query", "{ version }"), (name, "a"), (name, "b")]).encode()
        assert _call(**get, query_string=qs) == 400
    # a blank first value is still a second parameter (Starlette keeps blank values)
    assert _call(**get, query_string=b"query=&query=" + urlencode({"q": mutation}).encode()[2:]) == 400
    # the POST fallback: Dagster reads a non-JSON POST's query string, the guard refuses the content type
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert _call(headers=form, query_string=urlencode({"query": mutation}).encode()) == 415
    assert _call(headers={"content-type": "multipart/form-data; boundary=x"}) == 415
    assert _call(headers={"content-type": "text/plain; charset=application/json"}) == 415  # Dagster tests `in`
    # same-site (another port of this host) is refused like cross-site, for HTTP and WebSocket alike
    json_ct = {"content-type": "application/json"}
    for site in ("same-site", "cross-site"):
        assert _call(headers={**json_ct, "sec-fetch-site": site}) == 403  # a batched JSON array or any body
        assert (
            _call(
                **get,
                path="/graphql",
                headers={"sec-fetch-site": site, "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image"},
            )
            == 403
        )  # an <img> tag
        assert _call(kind="websocket", headers={"sec-fetch-site": site}) == "close"
    assert _call(headers={**json_ct, "origin": "http://127.0.0.1:8888"}) == 403  # a notebook server's page
    assert _call(kind="websocket", headers={"origin": "http://127.0.0.1:8888"}) == "close"
    assert (
        _call(kind="websocket", headers={"origin": "http://127.0.0.1:3000", "sec-fetch-site": "same-origin"}) == "app"
    )  # the UI's own subscription
    assert _call(headers={**json_ct, "sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:3000"}) == 200
    # a link followed from elsewhere opens the UI's page (not /graphql): a navigation cannot read or mutate anything
    nav = {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document"}
    assert _call(**get, path="/runs", headers={"sec-fetch-site": "same-site", **nav}) == 200
    assert (
        _call(
            **get,
            path="/graphql",
            headers={"sec-fetch-site": "cross-site", **nav},
            query_string=b"query=%7B%20version%20%7D",
        )
        == 403
    )
    assert (
        _call(**get, path="/runs", headers={"sec-fetch-site": "same-site", **nav, "sec-fetch-dest": "iframe"}) == 403
    )  # framing
    # the webserver says who it is (`health` compares it with ui.json), only to its own host names
    assert _call(**get, path="/__neuropose__/ui") == 200
    assert _call(**get, path="/__neuropose__/ui", headers={"host": "evil.example:3000"}) == 400


def test_allowed_hosts_follow_the_binding():
    assert allowed_hosts("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert "lab-server.example" in allowed_hosts("0.0.0.0", ["lab-server.example"])
    assert "10.0.0.5" in allowed_hosts("10.0.0.5")


@pytest.mark.e2e
def test_the_running_ui_refuses_foreign_requests_warns_off_loopback_and_stops_on_sigterm(tmp_path):
    from neuropose_assets_tests.cli.test_daemon import assert_ui_stops_its_tree

    def probe(port: int) -> None:
        url = f"http://127.0.0.1:{port}/graphql"

        def status(req) -> int:
            try:
                return urllib.request.urlopen(req, timeout=10).status
            except urllib.error.HTTPError as err:
                return err.code

        body = json.dumps({"query": "{ version }"}).encode()
        assert status(urllib.request.Request(url, body, {"Content-Type": "application/json"})) == 200
        assert (
            status(
                urllib.request.Request(f"{url}?query=mutation%20%7B%20reloadWorkspace%20%7B%20__typename%20%7D%20%7D")
            )
            == 405
        )
        assert status(urllib.request.Request(url, body, {"Content-Type": "text/plain"})) == 415
        twice = urllib.parse.urlencode([("query", "{ version }"), ("query", MUTATION)])
        assert status(urllib.request.Request(f"{url}?{twice}")) == 400  # Dagster would run the last one
        assert (
            status(
                urllib.request.Request(url, body, {"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"})
            )
            == 403
        )
        assert (
            status(
                urllib.request.Request(url, body, {"Content-Type": "application/json", "Origin": "http://evil.example"})
            )
            == 403
        )
        assert (
            status(urllib.request.Request(url, body, {"Content-Type": "application/json", "Host": "evil.example"}))
            == 400
        )
        # `health` sees the running UI: it answers where ui.json says, bound off loopback (warn), and the daemon
        # beats (its first heartbeat may take a few seconds)
        cli = Path(sys.executable).parent / "neuropose-assets"
        deadline = time.time() + 90
        while True:
            out = subprocess.run(
                [str(cli), "health", "--json", "--data-root", str(tmp_path / "data")],
                capture_output=True,
                text=True,
                env={**os.environ, "NEUROPOSE_INTAKE": str(tmp_path / "intake")},
            )
            checks = {c["name"]: c for c in json.loads(out.stdout)["checks"]}
            if checks["daemon"]["status"] == "ok" or time.time() > deadline:
                break
            time.sleep(3)
        assert checks["daemon"]["status"] == "ok", checks["daemon"]
        assert checks["webserver"]["status"] == "warn" and f":{port}" in checks["webserver"]["detail"]
        assert "0.0.0.0" in checks["webserver"]["detail"] and checks["instance"]["status"] == "ok"

    err = assert_ui_stops_its_tree(tmp_path, signal.SIGTERM, "--host", "0.0.0.0", probe=probe)
    assert "WARNING: the Dagster UI has no authentication" in err
