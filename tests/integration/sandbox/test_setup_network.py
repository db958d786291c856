"""The setup phase's network, on the real sandboxes (bubblewrap and Docker).

Setup reaches a package registry through Draftsmith's egress filter and nothing else; the check
phase has no network at all; the operator's CA and index settings reach setup, never check.
Traffic goes only to the loopback and to PyPI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from bot.sandbox.base import Limits
from bot.sandbox.egress import FORWARD_PORT
from bot.sandbox.phases import run_phase
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork
from tests.helpers.sandboxes import BACKENDS, make_sandbox

LIMITS = Limits(wall_time_s=180, cpu_time_s=120, memory_bytes=1024**3)
UID_BASE = 2_100_300


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def _listener() -> tuple[socket.socket, list[bytes]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[bytes] = []

    def accept() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        accepted.append(b"connected")
        conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return server, accepted


async def test_setup_downloads_a_package_from_pypi_through_the_filter(
    backend: str, repo: Path
) -> None:
    # the default allow-list alone: nothing configured (these machines' DNS answers pypi.org with
    # a documentation address, 203.0.113.80, which the defaults allow)
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, os.environ)
    sandbox = make_sandbox(backend, setup=setup, uid_base=UID_BASE)
    command = ["python3", "-m", "pip", "download", "--no-deps", "--no-cache-dir"]
    command += ["--index-url", "https://pypi.org/simple", "-d", "downloads", "six==1.16.0"]
    records = await run_phase(
        sandbox, "setup", [command], workdir=repo, limits=LIMITS, allow=["python3 -m pip *"]
    )
    assert records[0].exit_code == 0, records[0].output_tail
    assert [p.name for p in (repo / "downloads").iterdir()] == ["six-1.16.0-py2.py3-none-any.whl"]
    assert records[0].refused_egress == []


async def test_setup_records_what_the_filter_refused(backend: str, repo: Path) -> None:
    server, accepted = _listener()
    port = server.getsockname()[1]
    sandbox = make_sandbox(backend, uid_base=UID_BASE)
    code = (
        "import urllib.request\n"
        f"for url in ('https://example.com/', 'http://127.0.0.1:{port}/'):\n"
        "    try: urllib.request.urlopen(url, timeout=10)\n"
        "    except Exception as e: print(url, e)\n"
    )
    try:
        records = await run_phase(
            sandbox, "setup", [["python3", "-c", code]], workdir=repo, limits=LIMITS,
            allow=["python3 -c *"],
        )  # fmt: skip
    finally:
        server.close()
    assert accepted == []
    assert records[0].refused_egress == [
        "example.com:443 (not on the setup egress allow-list)",
        f"127.0.0.1:{port} (not on the setup egress allow-list)",
    ]


async def test_the_check_phase_has_no_network_at_all(backend: str, repo: Path) -> None:
    server, accepted = _listener()
    port = server.getsockname()[1]
    sandbox = make_sandbox(backend, uid_base=UID_BASE)
    code = f"""
import os, socket
print("proxy vars", sorted(k for k in os.environ if "proxy" in k.lower()))
for target in [("127.0.0.1", {port}), ("127.0.0.1", {FORWARD_PORT})]:
    try:
        socket.create_connection(target, timeout=3)
        print("reached", target)
    except OSError as e:
        print("unreachable", target, e.errno)
try:
    socket.getaddrinfo("pypi.org", 443)
    print("resolved")
except OSError:
    print("no dns")
print("interfaces", sorted(name for _, name in socket.if_nameindex()))
"""
    try:
        records = await run_phase(
            sandbox, "check", [["python3", "-c", code]], workdir=repo, limits=LIMITS
        )
    finally:
        server.close()
    out = records[0].output_tail
    assert records[0].exit_code == 0, out
    assert "proxy vars []" in out
    assert "reached" not in out and out.count("unreachable") == 2
    assert "no dns" in out
    assert "interfaces ['lo']" in out
    assert accepted == []


async def test_operator_settings_reach_setup_and_never_check(
    backend: str, repo: Path, tmp_path: Path
) -> None:
    operator = tmp_path / "operator"
    operator.mkdir(mode=0o755)
    ca = operator / "corp-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\ncorp-ca-marker\n")
    ca.chmod(0o644)
    environ = {
        "PIP_CERT": str(ca),
        "PIP_INDEX_URL": "https://pypi.corp.example/simple",
        "OPENAI_API_KEY": "sk-never-in-the-sandbox",
    }
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, environ)
    sandbox = make_sandbox(backend, setup=setup, uid_base=UID_BASE)
    code = f"""
import os
print("index", os.environ.get("PIP_INDEX_URL"), "cert", os.environ.get("PIP_CERT"))
print("key", os.environ.get("OPENAI_API_KEY"))
try:
    print("ca", open({str(ca)!r}).read().split()[-1])
except OSError as e:
    print("ca unreadable", e.errno)
"""
    phases = {}
    for phase in ("setup", "check"):
        records = await run_phase(
            sandbox, phase, [["python3", "-c", code]], workdir=repo, limits=LIMITS,
            allow=["python3 -c *"],
        )  # type: ignore[arg-type]  # fmt: skip
        assert records[0].exit_code == 0, records[0].output_tail
        phases[phase] = records[0].output_tail
    assert f"index https://pypi.corp.example/simple cert {ca}" in phases["setup"]
    assert "ca corp-ca-marker" in phases["setup"]
    assert "index None cert None" in phases["check"]
    assert "ca unreadable" in phases["check"]
    assert "key None" in phases["setup"] and "key None" in phases["check"]
