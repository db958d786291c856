"""The dashboard's own app, and running several uvicorn servers (listeners) in one process.

The webhook listener must face the internet. The dashboard (`/runs`, `/runs/{id}`, `/metrics`:
plans, diffs and test output of private repositories) must not, unless it is protected:
- with `DRAFTSMITH_DASHBOARD_TOKEN`, the dashboard is served by the webhook listener behind the
  token;
- without it, the webhook listener has no dashboard routes at all, and a second server, bound to
  `DRAFTSMITH_DASHBOARD_HOST` (default 127.0.0.1) and `DRAFTSMITH_DASHBOARD_PORT`, serves it.
  Privacy comes from the socket the server listens on, not from checking a client's address (a
  reverse proxy on the same host would make every client look like loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from bot.store.runs import Store
from webhooks.dashboard import build_dashboard_router


def create_dashboard_app(
    store: Store,
    *,
    token: str | None = None,
    github_url: str = "https://github.com",
    trace_url_template: str | None = None,
) -> FastAPI:
    """The dashboard alone, for its own listener."""
    app = FastAPI(title="Draftsmith dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(
        build_dashboard_router(
            store, token, github_url=github_url, trace_url_template=trace_url_template
        )
    )
    return app


@dataclass(frozen=True)
class Listener:
    """One HTTP server: an app on an address."""

    name: str
    app: Any
    host: str
    port: int


class _SharedSignalServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve_listeners` (one for all)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_one(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit:
        return  # uvicorn could not start (it logged why, e.g. the port is taken)


async def _serve_all(servers: Sequence[uvicorn.Server]) -> None:
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_all)
    tasks = [asyncio.create_task(_serve_one(server)) for server in servers]
    try:
        # When one server ends (stopped, or failed to bind), the others end too.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_all()
        await asyncio.gather(*tasks, return_exceptions=True)


def serve_listeners(listeners: Sequence[Listener]) -> bool:
    """Run every listener until a signal or until one of them stops; True if all started."""
    servers = [
        _SharedSignalServer(
            uvicorn.Config(
                listener.app,
                host=listener.host,
                port=listener.port,
                log_config=None,
                access_log=False,
            )
        )
        for listener in listeners
    ]
    # uvloop (installed with uvicorn[standard]) as uvicorn's own `loop="auto"` would pick it: the
    # servers run in our loop, not uvicorn's, so it is chosen here.
    uvloop.run(_serve_all(servers))
    return all(server.started for server in servers)
