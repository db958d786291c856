"""FakeGitHub served over real HTTP on a loopback port, for Draftsmith processes started by a test.

The respx router of `FakeGitHub.mock()` only reaches the test's own process; worker and server
subprocesses need a real server. Each request is answered by the same stateful `FakeGitHub`
(one request at a time), so a test reads GitHub's state from the object after the run.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.helpers.fake_github import FakeGitHub
from tests.unit.github.support import API


@contextmanager
def serve_github(github: FakeGitHub, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `github` on `host` (0.0.0.0 for containers to reach it); yields the base URL to use
    as DRAFTSMITH_GITHUB_API_URL (with 127.0.0.1 as its host)."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = httpx.Request(
                self.command, f"{API}{self.path}", headers=dict(self.headers), content=body
            )
            with lock:
                response = github.answer(request)
            raw = response.content
            self.send_response(response.status_code)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer  # noqa: N815

        def log_message(self, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            return None  # a killed Draftsmith process resets its connections: expected here

    server = Server((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
