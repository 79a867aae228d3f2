"""The Dagster UI behind a guard, so that other web pages cannot drive it.

The Dagster webserver (1.13) has no authentication and no CSRF protection: ``/graphql`` executes mutations sent by
GET, and a ``text/plain`` POST from any page — both reach a loopback-only server through the clinician's browser.
:class:`SameOriginGuard` rejects, before Dagster sees them:

* requests whose ``Host`` is not one of the allowed names (DNS rebinding) — Starlette's
  :class:`~starlette.middleware.trustedhost.TrustedHostMiddleware`;
* cross-origin requests: an ``Origin`` that is not this server (another port of 127.0.0.1 included), ``Origin:
  null``, or a ``Sec-Fetch-Site`` other than ``same-origin`` / ``none`` — ``same-site`` is refused like
  ``cross-site``, since every page served from another 127.0.0.1 port (a notebook server, say) is "same-site" —
  (HTTP and WebSocket).  The one exception is a top-level navigation (``Sec-Fetch-Mode: navigate``, ``Sec-Fetch-Dest:
  document``) to a UI page other than ``/graphql``, so that a link to the UI from a results page or a notebook opens
  it: such a request renders the UI's static page and cannot be read by the page that linked it;
* GraphQL requests that carry ``query``, ``variables`` or ``operationName`` more than once in the query string:
  Dagster (Starlette's ``QueryParams.get``) executes the *last* value, so a request whose parameters could be read
  two ways is refused rather than judged by one reading;
* GraphQL mutations and subscriptions sent with GET (queries by GET stay allowed), judged on the parameters exactly
  as Starlette parses them for Dagster;
* POSTs to ``/graphql`` whose ``Content-Type`` is not ``application/json`` / ``application/graphql`` (a form or
  ``text/plain`` POST is what a foreign page can send without a CORS pre-flight).

The results page (:mod:`.results`, under ``/results``) is served by the same app, behind the same guard.

``python -m neuropose_assets.webserver --workspace W --host H --port P`` serves the guarded UI with uvicorn;
``neuropose-assets ui`` starts it next to a code server and the daemon.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("127.0.0.1", "localhost")
GRAPHQL_CONTENT_TYPES = ("application/json", "application/graphql")
#: the parameters Dagster reads from a GraphQL request's query string (``dagster_webserver/graphql.py``)
GRAPHQL_PARAMS = ("query", "variables", "operationName")
#: ``Sec-Fetch-Site`` values of requests made by the UI itself (``none``: typed in, a bookmark)
TRUSTED_FETCH_SITES = ("same-origin", "none")
#: answers ``{"webserver_pid": …}``, so that ``neuropose-assets health`` can tell that the UI answering on the
#: recorded port is the one ``neuropose-assets ui`` started (not an orphan of a UI that died)
WHO_PATH = "/__neuropose__/ui"


def _has_mutation(query: str) -> bool:
    """Whether a GraphQL document contains anything but queries (unparseable documents count as mutations)."""
    from graphql import OperationDefinitionNode, OperationType, parse
    from graphql.error import GraphQLError

    try:
        doc = parse(query)
    except GraphQLError:
        return True
    return any(isinstance(d, OperationDefinitionNode) and d.operation != OperationType.QUERY for d in doc.definitions)


class SameOriginGuard:
    """ASGI middleware (module docstring).  ``allowed_hosts``: host names (no port) the ``Host`` header may carry."""

    def __init__(self, app, allowed_hosts: list[str]) -> None:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        self.app = TrustedHostMiddleware(app, allowed_hosts=allowed_hosts)
        self.inner = app
        self.allowed_hosts = set(allowed_hosts)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.inner(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self._problem(scope, headers)
        if problem is None and scope["type"] == "http" and scope["path"] == WHO_PATH:
            if urlsplit(f"//{headers.get('host', '')}").hostname not in self.allowed_hosts:
                return await _send_json(send, 400, {"error": "invalid host header"})
            return await _send_json(send, 200, {"webserver_pid": os.getpid()})
        if problem is None:
            return await self.app(scope, receive, send)
        status, message = problem
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return None
        return await _send_json(send, status, {"error": message})

    @staticmethod
    def _problem(scope, headers: dict[str, str]) -> tuple[int, str] | None:
        from starlette.datastructures import QueryParams

        host = headers.get("host", "").lower()
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != host):
            return 403, "cross-origin request refused: the Dagster UI only answers its own pages"
        graphql = scope["path"].rstrip("/").endswith("/graphql")
        site = headers.get("sec-fetch-site")
        if (
            site is not None
            and site not in TRUSTED_FETCH_SITES
            and not (scope["type"] == "http" and not graphql and _is_navigation(scope, headers))
        ):
            return 403, f"{site} request refused: the Dagster UI only answers its own pages"
        if not (scope["type"] == "http" and graphql):
            return None
        params = QueryParams(scope.get("query_string", b"").decode("latin-1"))  # as Dagster's request.query_params
        repeated = [name for name in GRAPHQL_PARAMS if len(params.getlist(name)) > 1]
        if repeated:
            return 400, f"ambiguous GraphQL request: {', '.join(repeated)} given more than once"
        method = scope["method"]
        if method in ("GET", "HEAD"):
            query = params.get("query")
            if query and _has_mutation(query):
                return 405, "GraphQL mutations must be sent with POST and a JSON body"
        elif method == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype not in GRAPHQL_CONTENT_TYPES:
                return 415, "GraphQL requests must be JSON (Content-Type: application/json)"
        return None


async def _send_json(send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _is_navigation(scope, headers: dict[str, str]) -> bool:
    """A top-level page load (a link followed, a bookmark): GET, ``Sec-Fetch-Mode: navigate``, ``Sec-Fetch-Dest:
    document`` — not an image, script, frame, fetch or form POST."""
    return (
        scope.get("method") == "GET"
        and headers.get("sec-fetch-mode") == "navigate"
        and headers.get("sec-fetch-dest") == "document"
    )


def allowed_hosts(host: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Host names the UI answers to: the loopback names, the bound address and, when bound to every interface, this
    machine's names; plus ``extra`` (a reverse proxy's public name)."""
    names = [*LOOPBACK_NAMES, *extra]
    if host not in ("0.0.0.0", "::", "", *LOOPBACK_NAMES):
        names.append(host)
    if host in ("0.0.0.0", "::"):
        names += [socket.gethostname(), socket.getfqdn()]
    return sorted({n.lower() for n in names if n})


def serve(workspace: str, host: str, port: int, extra_hosts: list[str]) -> None:
    """Serve the guarded Dagster UI for ``workspace`` (a workspace.yaml) on ``host:port`` (blocks)."""
    import uvicorn
    from dagster import DagsterInstance
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    from neuropose_assets.dagster_private import WorkspaceFileTarget, WorkspaceProcessContext

    with DagsterInstance.get() as instance:
        instance.optimize_for_webserver(15000, 3600, 20)  # the webserver CLI's defaults
        target = WorkspaceFileTarget(paths=[workspace])
        with WorkspaceProcessContext(
            instance, workspace_load_target=target, version=__version__, read_only=False
        ) as ctx:
            from neuropose_assets.core.io.storage import Layout, default_data_root
            from neuropose_assets.results import WithResults

            app = WithResults(
                create_app_from_workspace_process_context(ctx, path_prefix=""), Layout(default_data_root())
            )  # the results page, behind the same guard
            uvicorn.run(
                SameOriginGuard(app, allowed_hosts(host, extra_hosts)), host=host, port=port, log_level="warning"
            )


def main(argv: list[str] | None = None) -> int:
    """The ``python -m neuropose_assets.webserver`` command (started by ``neuropose-assets ui``): :func:`serve`
    the guarded Dagster UI for ``--workspace`` on ``--host``:``--port`` until stopped; returns 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--allowed-host", action="append", default=[], help="another name the UI is reached by")
    args = ap.parse_args(argv)
    serve(args.workspace, args.host, args.port, args.allowed_host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
