"""The setup egress filter's policy and its decision (the pure part of `bot.sandbox.egress`).

The host must be on the allow-list (the public Python and npm registries, plus the hosts of
`DRAFTSMITH_SETUP_EGRESS`), and every address it resolves to must be one no internal service
can sit on: loopback, private, link-local (169.254.0.0/16, the cloud metadata service), shared
(100.64.0.0/10, where some clouds put their metadata), multicast, reserved and unspecified
addresses are refused, also when embedded in IPv6 (mapped, 6to4, Teredo, NAT64). The
documentation ranges (RFC 5737, RFC 3849) are not refused: they are assigned to no network, so
nothing internal lives there, and where a network routes them at all it is to deliberately
stand in for the internet (a registry mirror: this workplace's DNS answers pypi.org with
203.0.113.80). Hosts the operator lists are allowed on any address (a private index); the
defaults never are.
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.shared.errors import SandboxError

DEFAULT_HOSTS = ("pypi.org", "files.pythonhosted.org", "registry.npmjs.org")
DEFAULT_PORTS = (443, 80)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
DOCUMENTATION = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)


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
    """Why an address may belong to an internal network (None when it cannot)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        candidates += [e for e in embedded if e is not None]
    for candidate in candidates:
        if any(candidate in net for net in DOCUMENTATION if net.version == candidate.version):
            continue
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
