"""The setup egress filter's decision and configuration, tested on the decision itself.

No traffic goes to a private or link-local address here: `decide` is given the addresses a name
resolved to, and only the loopback is ever connected to (by the filter tests further down).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path

import pytest

from bot.sandbox.egress import EgressFilter, parse_request
from bot.sandbox.egress_policy import EgressPolicy, Upstream, decide, parse_allow_entry
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork
from bot.shared.errors import SandboxError

DEFAULTS = EgressPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # cloud metadata
        "169.254.0.1",
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier NAT)
        "0.0.0.0",
        "240.0.0.1",  # reserved
        "::1",
        "fe80::1",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::1",  # 6to4 wrapping 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "224.0.0.1",
    ],
)
def test_a_default_registry_resolving_to_a_non_global_address_is_refused(address: str) -> None:
    decision = decide("pypi.org", 443, [address], DEFAULTS)
    assert not decision.allowed
    assert "resolves to a" in decision.reason


@pytest.mark.parametrize(
    ("address", "kind"),
    [("169.254.169.254", "link-local"), ("127.0.0.1", "loopback"), ("10.1.2.3", "private")],
)
def test_the_refusal_names_the_kind_of_address(address: str, kind: str) -> None:
    assert f"{kind} address {address}" in decide("pypi.org", 443, [address], DEFAULTS).reason


def test_one_non_global_address_among_global_ones_refuses_the_name() -> None:
    decision = decide("pypi.org", 443, ["151.101.0.223", "127.0.0.1"], DEFAULTS)
    assert not decision.allowed


def test_a_default_registry_on_global_addresses_is_allowed() -> None:
    decision = decide("files.pythonhosted.org", 443, ["151.101.0.223", "2a04:4e42::223"], DEFAULTS)
    assert decision.allowed
    assert decision.addresses == ("151.101.0.223", "2a04:4e42::223")


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("169.254.169.254", 80),
        ("127.0.0.1", 443),
        ("localhost", 443),
        ("example.com", 443),
        ("pypi.org.evil.example", 443),
        ("evilpypi.org", 443),
        ("pypi.org", 22),
    ],
)
def test_destinations_off_the_allow_list_are_refused(host: str, port: int) -> None:
    decision = decide(host, port, ["151.101.0.223"], DEFAULTS)
    assert not decision.allowed
    assert "allow-list" in decision.reason


def test_a_name_that_does_not_resolve_is_refused() -> None:
    assert not decide("pypi.org", 443, [], DEFAULTS).allowed


def test_operator_hosts_are_allowed_on_private_addresses_the_defaults_are_not() -> None:
    policy = EgressPolicy.from_environ("pypi.corp.example:8443, *.mirror.internal", {})
    assert decide("pypi.corp.example", 8443, ["10.0.0.7"], policy).allowed
    assert decide("eu.mirror.internal", 443, ["192.168.4.4"], policy).allowed
    assert not decide("pypi.corp.example", 443, ["10.0.0.7"], policy).allowed  # port pinned
    assert not decide("registry.npmjs.org", 443, ["10.0.0.7"], policy).allowed


def test_an_operator_listed_default_host_may_resolve_privately() -> None:
    """A machine whose DNS answers the registries with a private address (a transparent proxy)
    lists them in DRAFTSMITH_SETUP_EGRESS."""
    policy = EgressPolicy.from_environ("pypi.org", {})
    assert decide("pypi.org", 443, ["10.20.0.80"], policy).allowed
    assert not decide("files.pythonhosted.org", 443, ["10.20.0.80"], policy).allowed


@pytest.mark.parametrize("address", ["203.0.113.80", "192.0.2.10", "198.51.100.7", "2001:db8::80"])
def test_a_default_registry_on_a_documentation_address_is_allowed(address: str) -> None:
    """Documentation ranges are assigned to no network: a registry mirror that a workplace's DNS
    puts there (pypi.org is 203.0.113.80 on these machines) is reachable with no configuration."""
    decision = decide("pypi.org", 443, [address], DEFAULTS)
    assert decision.allowed, decision.reason


def test_documentation_ranges_do_not_open_embedded_internal_addresses() -> None:
    assert not decide("pypi.org", 443, ["203.0.113.80", "10.0.0.1"], DEFAULTS).allowed
    assert not decide("pypi.org", 443, ["::ffff:169.254.169.254"], DEFAULTS).allowed


@pytest.mark.parametrize("entry", ["http://pypi.org", "user@host", "pypi.org:99999", "a b", "*"])
def test_a_malformed_allow_list_entry_is_a_clear_error(entry: str) -> None:
    with pytest.raises(SandboxError, match="DRAFTSMITH_SETUP_EGRESS"):
        parse_allow_entry(entry)


def test_the_operators_proxy_becomes_the_upstream() -> None:
    environ = {"HTTPS_PROXY": "http://u%40x:p@proxy.corp:3128", "NO_PROXY": "pypi.corp,.internal"}
    policy = EgressPolicy.from_environ("", environ)
    assert policy.upstream is not None
    assert (policy.upstream.host, policy.upstream.port) == ("proxy.corp", 3128)
    assert policy.upstream.authorization == "Basic dUB4OnA="
    assert policy.bypasses_upstream("pypi.corp") and policy.bypasses_upstream("a.internal")
    assert not policy.bypasses_upstream("pypi.org")


def test_an_https_upstream_proxy_is_refused_clearly() -> None:
    with pytest.raises(SandboxError, match="http://"):
        Upstream.from_url("socks5://proxy:1080")


@pytest.mark.parametrize(
    ("head", "host", "port"),
    [
        (b"CONNECT pypi.org:443 HTTP/1.1\r\nHost: pypi.org:443\r\n\r\n", "pypi.org", 443),
        (b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n", "::1", 8443),
        (b"GET http://PyPI.org./simple/ HTTP/1.1\r\nHost: pypi.org\r\n\r\n", "pypi.org", 80),
        (b"GET http://u:p@169.254.169.254:8080/x HTTP/1.1\r\n\r\n", "169.254.169.254", 8080),
    ],
)
def test_the_destination_is_read_from_the_proxy_request(head: bytes, host: str, port: int) -> None:
    request = parse_request(head)
    assert (request.host, request.port) == (host, port)


def test_a_plain_request_is_forwarded_in_origin_form_without_proxy_headers() -> None:
    head = b"GET http://pypi.org/simple/?q=1 HTTP/1.1\r\nHost: pypi.org\r\n"
    head += b"Proxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\n\r\n"
    forwarded = parse_request(head).head.decode()
    assert forwarded.startswith("GET /simple/?q=1 HTTP/1.1\r\nHost: pypi.org\r\n")
    assert "Proxy-" not in forwarded


@pytest.mark.parametrize("head", [b"GET /relative HTTP/1.1\r\n\r\n", b"garbage\r\n\r\n"])
def test_a_request_that_is_not_a_proxy_request_is_rejected(head: bytes) -> None:
    with pytest.raises(ValueError):
        parse_request(head)


def test_setup_variables_are_taken_from_the_environment_with_the_files_they_name(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "corp-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    environ = {
        "PIP_CERT": str(ca),
        "PIP_FIND_LINKS": f"file://{wheels}",
        "PIP_INDEX_URL": "https://pypi.corp.example/simple",
        "OPENAI_API_KEY": "sk-not-for-setup",
        "HOME": "/root",
    }
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, environ)
    assert dict(setup.env) == {
        "PIP_CERT": str(ca),
        "PIP_FIND_LINKS": f"file://{wheels}",
        "PIP_INDEX_URL": "https://pypi.corp.example/simple",
    }
    assert ca in setup.files and wheels in setup.files


def test_setup_env_names_the_variables_to_pass(tmp_path: Path) -> None:
    from bot.shared.config import Settings

    settings = Settings(setup_env="CORP_INDEX, PIP_CERT", setup_egress="pypi.corp.example")
    setup = SetupNetwork.from_settings(settings, {"CORP_INDEX": "x", "PIP_INDEX_URL": "y"})
    assert dict(setup.env) == {"CORP_INDEX": "x"}
    assert setup.egress.entry_for("pypi.corp.example", 443) is not None


# The filter itself, on real sockets, with loopback destinations only (listed by the operator:
# the only way loopback is ever allowed) and a loopback "upstream proxy".


def _serve_once(reply: bytes) -> tuple[socket.socket, list[bytes]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    received: list[bytes] = []

    def serve() -> None:
        try:
            conn, _ = server.accept()
        except OSError:  # closed unused: the filter refused before connecting
            return
        with conn:
            received.append(conn.recv(65536))
            conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    return server, received


async def _through(egress: EgressFilter, request: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(egress.socket_path))
    writer.write(request)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


async def test_the_filter_refuses_and_records_a_loopback_destination() -> None:
    server, received = _serve_once(b"secret")
    port = server.getsockname()[1]
    with EgressFilter(EgressPolicy()) as egress:
        answer = await _through(egress, f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
    server.close()
    assert answer.startswith(b"HTTP/1.1 403")
    assert received == []
    assert egress.refused == [f"127.0.0.1:{port} (not on the setup egress allow-list)"]


async def test_the_filter_splices_an_operator_listed_destination() -> None:
    server, received = _serve_once(b"pong")
    port = server.getsockname()[1]
    policy = EgressPolicy.from_environ(f"127.0.0.1:{port}", {})
    with EgressFilter(policy) as egress:
        reader, writer = await asyncio.open_unix_connection(str(egress.socket_path))
        writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
        established = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"ping")
        pong = await reader.read()
        writer.close()
    server.close()
    assert established.startswith(b"HTTP/1.1 200")
    assert received == [b"ping"] and pong == b"pong"
    assert egress.refused == []


async def test_allowed_requests_go_through_the_operators_upstream_proxy() -> None:
    upstream, received = _serve_once(b"HTTP/1.1 200 OK\r\n\r\n")
    port = upstream.getsockname()[1]
    policy = EgressPolicy.from_environ("", {"HTTPS_PROXY": f"http://127.0.0.1:{port}"})
    with EgressFilter(policy) as egress:
        reader, writer = await asyncio.open_unix_connection(str(egress.socket_path))
        writer.write(b"CONNECT registry.npmjs.org:443 HTTP/1.1\r\n\r\n")
        established = await reader.readuntil(b"\r\n\r\n")
        writer.close()
        refused = await _through(egress, b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
    upstream.close()
    assert established.startswith(b"HTTP/1.1 200")
    assert received and received[0].startswith(b"CONNECT registry.npmjs.org:443 HTTP/1.1\r\n")
    assert refused.startswith(b"HTTP/1.1 403")
    assert egress.refused == ["example.com:443 (not on the setup egress allow-list)"]


async def test_plain_http_goes_to_the_upstream_with_its_credentials_not_the_sandboxes() -> None:
    upstream, received = _serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    port = upstream.getsockname()[1]
    policy = EgressPolicy.from_environ("", {"HTTP_PROXY": f"http://corp:pw@127.0.0.1:{port}"})
    request = b"GET http://pypi.org/simple/ HTTP/1.1\r\nHost: pypi.org\r\n"
    request += b"Proxy-Authorization: Basic c2FuZGJveDp4\r\n\r\n"
    with EgressFilter(policy) as egress:
        answer = await _through(egress, request)
    upstream.close()
    assert answer.endswith(b"ok")
    sent = received[0].decode()
    assert sent.startswith("GET http://pypi.org/simple/ HTTP/1.1\r\n")
    assert "Proxy-Authorization: Basic Y29ycDpwdw==" in sent
    assert "c2FuZGJveDp4" not in sent


async def test_stopping_the_filter_mid_connection_ends_it_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A connection still spliced when setup ends is cancelled; nothing is logged as an error
    (Python 3.11's server callback printed "Exception in callback" for each one)."""
    upstream = socket.socket()
    upstream.bind(("127.0.0.1", 0))
    upstream.listen()
    port = upstream.getsockname()[1]
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(upstream.accept()[0]), daemon=True).start()
    policy = EgressPolicy.from_environ(f"127.0.0.1:{port}", {})
    egress = EgressFilter(policy)
    egress.start()
    reader, writer = await asyncio.open_unix_connection(str(egress.socket_path))
    writer.write(f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n".encode())
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    with caplog.at_level(logging.ERROR):
        egress.stop()  # the upstream never closes: the splice is still running
        assert await reader.read() == b""  # the filter closed our end
    writer.close()
    upstream.close()
    for conn in held:
        conn.close()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
