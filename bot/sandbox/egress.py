"""The setup phase's only way out: a filtering HTTP(S) proxy that Draftsmith runs.

Setup commands run in a network namespace of their own (bwrap `--unshare-net`, Docker
`--network none`) whose only exit is a unix socket bind-mounted into the sandbox; a forwarder
inside (`bot/sandbox/egress_forward.py`) bridges `127.0.0.1:FORWARD_PORT` to it and the sandbox's
`HTTP(S)_PROXY` names that port. Behind the socket, `EgressFilter` reads one proxy request
(`CONNECT host:port` for HTTPS, an absolute-form `GET http://...` for plain HTTP), decides with
`decide`, and either splices the connection or answers 403 and records the refusal.

The decision is `bot.sandbox.egress_policy.decide`. The filter resolves the name once and
connects to the address it checked, so a second DNS answer cannot rebind an allowed name to an
internal address. When the operator's `HTTPS_PROXY` / `HTTP_PROXY` is set, it is the upstream:
requests for allowed hosts are sent through it (CONNECT) and it resolves and connects (the filter
then connects only to the operator's proxy, and enforces the host allow-list); hosts in
`NO_PROXY` are reached directly, under the address rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.sandbox.egress_policy import (
    Decision,
    EgressPolicy,
    Upstream,
    decide,
    decide_via_upstream,
)
from bot.shared.errors import SandboxError

logger = logging.getLogger(__name__)

FORWARD_PORT = 3128
SOCKET_MOUNT = "/run/draftsmith/egress.sock"
FORWARDER_MOUNT = "/opt/draftsmith/egress_forward.py"
FORWARDER_SOURCE = Path(__file__).with_name("egress_forward.py")
MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
MAX_RECORDED = 200


def normalise_host(raw: str) -> str:
    """A request's host as the allow-list compares it: lower case, no brackets, no final dot."""
    return raw.strip().strip("[]").lower().rstrip(".")


def split_authority(authority: str, default_port: int) -> tuple[str, int]:
    """host and port of `host[:port]` or `[v6][:port]`."""
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif authority.count(":") == 1:
        host, port = authority.split(":")
    else:
        host, port = authority, ""
    if port and not port.isdigit():
        raise ValueError(f"bad port in {authority!r}")
    return normalise_host(host), int(port) if port else default_port


@dataclass
class _Request:
    method: str
    host: str
    port: int
    head: bytes  # plain HTTP sent direct: origin-form (empty for CONNECT)
    absolute_head: bytes = b""  # plain HTTP sent to the upstream proxy: absolute-form


def parse_request(head: bytes) -> _Request:
    """The destination of one proxy request head (CONNECT or absolute-form HTTP)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise ValueError("not an HTTP request line")
    method, target, version = parts
    if method == "CONNECT":
        host, port = split_authority(target, 443)
        return _Request(method, host, port, b"")
    url = urllib.parse.urlsplit(target)
    if url.scheme != "http" or not url.netloc:
        raise ValueError("a proxy request needs an absolute http:// URL or CONNECT")
    host, port = split_authority(url.netloc.rpartition("@")[2], 80)
    path = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
    kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith(("proxy-", "connection:"))]
    origin = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close", "", ""])
    absolute = "\r\n".join([f"{method} {target} {version}", *kept, "Connection: close", "", ""])
    return _Request(method, host, port, origin.encode("latin-1"), absolute.encode("latin-1"))


@dataclass
class EgressFilter:
    """A filtering proxy on a unix socket, served from a thread of its own; records refusals."""

    policy: EgressPolicy = field(default_factory=EgressPolicy)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dir: Path | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def socket_path(self) -> Path:
        """Where the filter listens (bind-mount this into the sandbox)."""
        if self._dir is None:
            raise SandboxError("the egress filter is not running", "start it first")
        return self._dir / "egress.sock"

    def __enter__(self) -> EgressFilter:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        """Listen on a fresh unix socket (mode 0666 inside a 0700 directory of our own)."""
        self._dir = Path(tempfile.mkdtemp(prefix="draftsmith-egress-"))
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._server = self._loop.run_until_complete(
                    asyncio.start_unix_server(self._handle, path=str(self.socket_path))
                )
                os.chmod(self.socket_path, 0o666)
            except BaseException as exc:  # reported to start()'s caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="draftsmith-egress", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self.stop()
            raise SandboxError(f"the setup egress filter cannot start: {failure[0]}", "check /tmp")

    def stop(self) -> None:
        """Close the listener and every open connection; remove the socket."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
        if loop is not None and not loop.is_running():
            loop.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._loop = self._thread = self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _record(self, host: str, port: int, reason: str) -> None:
        logger.warning("setup egress refused %s:%d: %s", host, port, reason)
        entry = f"{host}:{port} ({reason})"
        if len(self.refused) < MAX_RECORDED and entry not in self.refused:
            self.refused.append(entry)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve_one(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        except asyncio.CancelledError:
            # The proxy is shutting down (`_shutdown` cancels its connections). The task ends
            # normally: Python 3.11's start_server callback calls `task.exception()`, which on a
            # cancelled task raises and prints "Exception in callback ..." to stderr.
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
        if len(head) > MAX_HEAD_BYTES:
            return await _answer(writer, 431, "request head too large")
        try:
            request = parse_request(head)
        except ValueError as exc:
            return await _answer(writer, 400, str(exc))
        via_upstream = self.policy.upstream is not None and not self.policy.bypasses_upstream(
            request.host
        )
        if via_upstream:
            decision = decide_via_upstream(request.host, request.port, self.policy)
        else:
            addresses = await _resolve(request.host, request.port)
            decision = decide(request.host, request.port, addresses, self.policy)
        if not decision.allowed:
            self._record(request.host, request.port, decision.reason)
            where = f"{request.host}:{request.port}"
            return await _answer(
                writer, 403, f"draftsmith setup egress refused {where}: {decision.reason}"
            )
        upstream = await self._open(request, decision, via_upstream)
        if upstream is None:
            return await _answer(writer, 502, f"cannot reach {request.host}:{request.port}")
        up_reader, up_writer = upstream
        try:
            if request.method == "CONNECT":
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
            else:
                up_writer.write(self._plain_head(request, via_upstream))
                await up_writer.drain()
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()

    def _plain_head(self, request: _Request, via_upstream: bool) -> bytes:
        """A plain HTTP request as sent on: origin-form direct, absolute-form to the upstream
        (with the upstream's credentials; the sandbox's own Proxy-* headers are never sent)."""
        upstream = self.policy.upstream
        if not via_upstream or upstream is None:
            return request.head
        if upstream.authorization is None:
            return request.absolute_head
        auth = f"\r\nProxy-Authorization: {upstream.authorization}\r\n".encode()
        return request.absolute_head.replace(b"\r\n", auth, 1)

    async def _open(
        self, request: _Request, decision: Decision, via_upstream: bool
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        if via_upstream:
            assert self.policy.upstream is not None
            return await _through_upstream(self.policy.upstream, request)
        for address in decision.addresses:
            with contextlib.suppress(OSError, TimeoutError):
                return await asyncio.wait_for(
                    asyncio.open_connection(address, request.port), CONNECT_TIMEOUT_S
                )
        return None


async def _resolve(host: str, port: int) -> list[str]:
    """Every address of host, resolved once (the filter connects only to these)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _through_upstream(
    upstream: Upstream, request: _Request
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(upstream.host, upstream.port), CONNECT_TIMEOUT_S
        )
    except (OSError, TimeoutError):
        return None
    if request.method != "CONNECT":
        return reader, writer
    authority = f"[{request.host}]" if ":" in request.host else request.host
    lines = [f"CONNECT {authority}:{request.port} HTTP/1.1", f"Host: {authority}:{request.port}"]
    if upstream.authorization:
        lines.append(f"Proxy-Authorization: {upstream.authorization}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
    status = answer.split(b" ", 2)[1:2]
    if status != [b"200"]:
        logger.warning("the upstream proxy refused CONNECT %s: %r", authority, answer[:200])
        writer.close()
        return None
    return reader, writer


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            if writer.can_write_eof():
                writer.write_eof()


async def _answer(writer: asyncio.StreamWriter, status: int, text: str) -> None:
    reasons = {400: "Bad Request", 403: "Forbidden", 431: "Too Large", 502: "Bad Gateway"}
    body = (text + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {reasons[status]}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()


def proxy_environment() -> dict[str, str]:
    """The variables that send a sandboxed setup command's HTTP(S) through the forwarder."""
    url = f"http://127.0.0.1:{FORWARD_PORT}"
    env = {k: url for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    return {**env, "NO_PROXY": "", "no_proxy": ""}


def forwarded(python: str, command: Sequence[str]) -> list[str]:
    """`command` wrapped by the in-sandbox forwarder (run with an isolated interpreter)."""
    return [python, "-I", "-S", FORWARDER_MOUNT, str(FORWARD_PORT), SOCKET_MOUNT, "--", *command]
