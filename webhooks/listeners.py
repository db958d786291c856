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
import logging
import signal
import socket
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

from bot.store.runs import Store
from webhooks.dashboard import build_dashboard_router

logger = logging.getLogger(__name__)


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


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other processes of this user may bind as well."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


@dataclass(frozen=True)
class Listener:
    """One HTTP server: an app on an address."""

    name: str
    app: Any
    host: str
    port: int
    reuse_port: bool = False
    """Bind with SO_REUSEPORT, beside other intake processes (webhooks/intake_processes.py)."""


class _SharedSignalServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to `serve_listeners` (one for all)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _serve_one(server: uvicorn.Server, reuse_port: bool) -> None:
    try:
        if reuse_port:
            config = server.config
            try:
                sock = reuse_port_socket(config.host, config.port)
            except OSError as exc:
                logger.error("could not bind %s:%s: %s", config.host, config.port, exc)
                return
            await server.serve(sockets=[sock])
        else:
            await server.serve()
    except SystemExit:
        return  # uvicorn could not start (it logged why, e.g. the port is taken)


async def _serve_all(
    servers: Sequence[uvicorn.Server], reuse: Sequence[bool], stop_signals: Sequence[int]
) -> None:
    loop = asyncio.get_running_loop()

    def stop_all() -> None:
        for server in servers:
            server.should_exit = True

    for sig in stop_signals:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop_all)
    tasks = [asyncio.create_task(_serve_one(s, r)) for s, r in zip(servers, reuse, strict=True)]
    try:
        # When one server ends (stopped, or failed to bind), the others end too.
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_all()
        await asyncio.gather(*tasks, return_exceptions=True)


def serve_listeners(
    listeners: Sequence[Listener], stop_signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)
) -> bool:
    """Run every listener until a stop signal or until one of them stops; True if all started."""
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
    uvloop.run(_serve_all(servers, [listener.reuse_port for listener in listeners], stop_signals))
    return all(server.started for server in servers)
