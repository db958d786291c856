"""The setup phase's only way out: a filtering HTTP(S) proxy that Draftsmith runs.

Setup commands run in a network namespace of their own (bwrap `--unshare-net`, Docker
`--network none`) whose only exit is a unix socket bind-mounted into the sandbox; a forwarder
inside (`bot/sandbox/egress_forward.py`) bridges `127.0.0.1:FORWARD_PORT` to it and the sandbox's
`HTTP(S)_PROXY` names that port. Behind the socket, `EgressFilter` reads one proxy request
(`CONNECT host:port` for HTTPS, an absolute-form `GET http://...` for plain HTTP), decides with
`decide`, and either splices the connection or answers 403 and records the refusal.

The decision: the host must be on the allow-list (the public Python and npm registries, plus
the hosts of `DRAFTSMITH_SETUP_EGRESS`), and every address it resolves to must be global —
loopback, private, link-local (169.254.0.0/16, the cloud metadata service), shared, reserved and
documentation ranges are refused, also when embedded in IPv6 (mapped, 6to4, Teredo, NAT64). The
filter resolves the name once and connects to the address it checked, so a second DNS answer
cannot rebind an allowed name to an internal address. Hosts the operator lists are allowed on
any address (a private index); the defaults never are. When the operator's `HTTPS_PROXY` /
`HTTP_PROXY` is set, it is the upstream: requests for allowed hosts are sent through it
(CONNECT) and it resolves and connects (the filter then connects only to the operator's proxy,
and enforces the host allow-list); hosts in `NO_PROXY` are reached directly, under the address
rule above.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import os
import shutil
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import SandboxError

logger = logging.getLogger(__name__)

DEFAULT_HOSTS = ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org")
DEFAULT_PORTS = (443, 80)
FORWARD_PORT = 3128
SOCKET_MOUNT = "/run/draftsmith/egress.sock"
FORWARDER_MOUNT = "/opt/draftsmith/egress_forward.py"
FORWARDER_SOURCE = Path(__file__).with_name("egress_forward.py")
MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 30.0
MAX_RECORDED = 200
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class AllowedHost:
    """One allow-list entry: a host name (or `*.domain`, or an IP literal), optionally a port."""

    host: str
    port: int | None = None
    operator: bool = False

    def matches(self, host: str, port: int) -> bool:
        """Whether a request for host:port is covered by this entry."""
        if self.port is not None and port != self.port:
            return False
        if self.port is None and port not in DEFAULT_PORTS:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host


def parse_allow_entry(entry: str) -> AllowedHost:
    """`host`, `host:port`, `*.domain` or `[v6]:port` from DRAFTSMITH_SETUP_EGRESS."""
    text = entry.strip().lower().rstrip(".")
    port: int | None = None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], entry)
    elif text.count(":") == 1:
        host, raw = text.split(":")
        port = _port(raw, entry)
    else:
        host = text
    wildcard_ok = "*" not in host or (host.startswith("*.") and "*" not in host[2:] and host[2:])
    if not host or any(c in host for c in "/@ \t") or not wildcard_ok:
        raise SandboxError(
            f"DRAFTSMITH_SETUP_EGRESS entry {entry!r} is not a host",
            "list host names or host:port pairs, comma-separated (e.g. pypi.corp.example:8443)",
        )
    return AllowedHost(host=host, port=port, operator=True)


def _port(raw: str, entry: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SandboxError(
            f"DRAFTSMITH_SETUP_EGRESS entry {entry!r} has an invalid port", "use host:PORT"
        )
    return int(raw)


@dataclass(frozen=True)
class Upstream:
    """The operator's own proxy, which the filter sends allowed requests through."""

    host: str
    port: int
    authorization: str | None = None

    @classmethod
    def from_url(cls, url: str) -> Upstream:
        """An upstream from HTTPS_PROXY / HTTP_PROXY (`http://[user:pass@]host:port`)."""
        parsed = urllib.parse.urlsplit(url if "://" in url else f"http://{url}")
        if parsed.scheme != "http" or not parsed.hostname:
            raise SandboxError(
                f"the operator's proxy {parsed.scheme}://{parsed.hostname} is not usable upstream",
                "the setup egress filter speaks to an http:// proxy; set HTTPS_PROXY=http://...",
            )
        auth = None
        if parsed.username:
            user = urllib.parse.unquote(parsed.username)
            raw = f"{user}:{urllib.parse.unquote(parsed.password or '')}"
            auth = "Basic " + base64.b64encode(raw.encode()).decode()
        return cls(host=parsed.hostname, port=parsed.port or 80, authorization=auth)


@dataclass(frozen=True)
class EgressPolicy:
    """What the setup phase may reach and how."""

    hosts: tuple[AllowedHost, ...] = tuple(AllowedHost(h) for h in DEFAULT_HOSTS)
    upstream: Upstream | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, setup_egress: str, environ: Mapping[str, str]) -> EgressPolicy:
        """The default registries plus DRAFTSMITH_SETUP_EGRESS; the operator's proxy upstream."""
        extra = tuple(parse_allow_entry(e) for e in setup_egress.split(",") if e.strip())
        proxy = next(
            (environ[k] for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
             if environ.get(k)),
            None,
        )  # fmt: skip
        raw_no_proxy = environ.get("NO_PROXY") or environ.get("no_proxy") or ""
        no_proxy = tuple(
            p.strip().lower().lstrip(".") for p in raw_no_proxy.split(",") if p.strip()
        )
        return cls(
            hosts=tuple(AllowedHost(h) for h in DEFAULT_HOSTS) + extra,
            upstream=Upstream.from_url(proxy) if proxy else None,
            no_proxy=no_proxy,
        )

    def entry_for(self, host: str, port: int) -> AllowedHost | None:
        """The allow-list entry covering host:port; an operator's entry wins over a default."""
        matching = [e for e in self.hosts if e.matches(host, port)]
        return max(matching, key=lambda e: e.operator, default=None)

    def bypasses_upstream(self, host: str) -> bool:
        """Whether NO_PROXY sends this host direct rather than through the upstream."""
        return any(p == "*" or host == p or host.endswith("." + p) for p in self.no_proxy)


@dataclass(frozen=True)
class Decision:
    """Whether a destination may be reached, why, and the checked addresses to connect to."""

    allowed: bool
    reason: str
    addresses: tuple[str, ...] = ()


def non_global(address: str) -> str | None:
    """Why an address is not a public internet address (None when it is)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        candidates += [e for e in embedded if e is not None]
    for candidate in candidates:
        for kind in ("loopback", "link_local", "private", "multicast", "reserved", "unspecified"):
            if getattr(candidate, f"is_{kind}"):
                return f"{kind.replace('_', '-')} address {candidate}"
        if not candidate.is_global:
            return f"non-global address {candidate}"
    return None


def decide(host: str, port: int, addresses: Sequence[str], policy: EgressPolicy) -> Decision:
    """The filter's decision for host:port, which resolved to `addresses` (the pure part)."""
    entry = policy.entry_for(host, port)
    if entry is None:
        return Decision(False, "not on the setup egress allow-list")
    if not addresses:
        return Decision(False, "does not resolve")
    if not entry.operator:
        for address in addresses:
            why = non_global(address)
            if why is not None:
                return Decision(False, f"resolves to a {why}")
    return Decision(True, "allowed", tuple(addresses))


def decide_via_upstream(host: str, port: int, policy: EgressPolicy) -> Decision:
    """The decision when the operator's proxy resolves and connects: the filter itself connects
    only to that proxy, so the host allow-list is what it enforces."""
    if policy.entry_for(host, port) is None:
        return Decision(False, "not on the setup egress allow-list")
    return Decision(True, "allowed; the upstream proxy resolves and connects")


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
    head: bytes  # what to send on for plain HTTP (empty for CONNECT)
    absolute_head: bytes = b""


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
    return _Request(method, host, port, origin.encode("latin-1"), head)


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
                up_writer.write(request.absolute_head if via_upstream else request.head)
                await up_writer.drain()
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()

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
