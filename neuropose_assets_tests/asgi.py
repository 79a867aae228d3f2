"""A minimal ASGI GET for tests (Starlette's TestClient needs a package the lock does not have)."""

import asyncio
from urllib.parse import unquote, urlsplit


def asgi_get(app, url, headers=None):
    parts = urlsplit(url)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(parts.path),
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:3000", **(headers or {})}.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 3000),
    }
    out = {"status": None, "headers": {}, "body": b""}
    sent = {"request": False}

    async def receive():
        if not sent["request"]:
            sent["request"] = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.sleep(3600)  # no disconnect until the response is done

    async def send(msg):
        if msg["type"] == "http.response.start":
            out["status"] = msg["status"]
            out["headers"] = {k.decode(): v.decode() for k, v in msg["headers"]}
        elif msg["type"] == "http.response.body":
            out["body"] += msg.get("body", b"")

    asyncio.run(app(scope, receive, send))
    return out
