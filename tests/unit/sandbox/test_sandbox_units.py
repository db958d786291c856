"""Pure parts of the sandbox: the Docker container spec, the report parsers, backend choice."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import SandboxError
from bot.sandbox import choose
from bot.sandbox.base import Limits, check_env
from bot.sandbox.docker import DockerSandbox, container_spec
from bot.sandbox.runners import condense, parse_go_test_json, parse_junit

# `go test -json` events (test2json format) for one passing, one skipped and one failing test.
GO_EVENTS = """\
{"Action":"run","Package":"example.com/calc","Test":"TestAdd"}
{"Action":"output","Package":"example.com/calc","Test":"TestAdd","Output":"=== RUN   TestAdd\\n"}
{"Action":"pass","Package":"example.com/calc","Test":"TestAdd","Elapsed":0}
{"Action":"run","Package":"example.com/calc","Test":"TestLater"}
{"Action":"skip","Package":"example.com/calc","Test":"TestLater","Elapsed":0}
{"Action":"run","Package":"example.com/calc","Test":"TestSub"}
{"Action":"output","Package":"example.com/calc","Test":"TestSub","Output":"    calc_test.go:14: Sub(2, 1) = 3, want 1\\n"}
{"Action":"output","Package":"example.com/calc","Test":"TestSub","Output":"--- FAIL: TestSub (0.00s)\\n"}
{"Action":"fail","Package":"example.com/calc","Test":"TestSub","Elapsed":0}
{"Action":"fail","Package":"example.com/calc","Elapsed":0.01}
"""  # noqa: E501


def test_docker_spec_maps_every_limit() -> None:
    limits = Limits(memory_bytes=512 * 1024**2, processes=32, cpu_time_s=30, disk_bytes=10**8)
    spec = container_spec("python:3.11-slim", ["pytest"], Path("/w"), limits, False, {"CI": "1"})
    assert spec["mem_limit"] == spec["memswap_limit"] == 512 * 1024**2
    assert spec["pids_limit"] == 32
    assert spec["network_disabled"] is True and spec["network_mode"] == "none"
    assert spec["read_only"] is True and spec["tmpfs"]["/tmp"].endswith("size=100000000")
    assert spec["volumes"] == {"/w": {"bind": "/workspace", "mode": "rw"}}
    assert spec["user"] == "65534:65534" and spec["cap_drop"] == ["ALL"]
    assert {"Name": "cpu", "Soft": 30, "Hard": 31} in spec["ulimits"]
    assert spec["environment"]["CI"] == "1"


def test_docker_spec_allows_network_only_when_asked() -> None:
    spec = container_spec("img:1", ["npm", "ci"], Path("/w"), Limits(), True, {})
    assert spec["network_disabled"] is False and spec["network_mode"] == "bridge"


def test_docker_image_must_be_pinned() -> None:
    with pytest.raises(SandboxError, match="not pinned"):
        DockerSandbox(image="python")


def test_no_backend_is_an_error_naming_both(monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.sandbox.bwrap as bwrap
    import bot.sandbox.docker as docker

    monkeypatch.setattr(bwrap, "bwrap_problem", lambda: "missing bwrap on PATH")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker.docker_problem() is not None  # no engine answers on a missing socket
    with pytest.raises(SandboxError) as err:
        choose.get_sandbox(Settings(sandbox="auto"))
    assert "bwrap: missing bwrap" in str(err.value) and "docker: no Docker engine" in str(err.value)


def test_bot_settings_never_enter_the_sandbox() -> None:
    with pytest.raises(SandboxError, match="DRAFTSMITH_WEBHOOK_SECRET"):
        check_env({"DRAFTSMITH_WEBHOOK_SECRET": "x"})


def test_go_events_are_counted_with_the_failure_lines() -> None:
    counts = parse_go_test_json(GO_EVENTS)
    assert (counts.passed, counts.failed, counts.skipped) == (1, 1, 1)
    assert "Sub(2, 1) = 3, want 1" in counts.failures[0]


def test_junit_from_real_pytest_is_counted(tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def test_ok(): assert 1\n"
        "def test_bad(): assert [1] == [2]\n"
        "@pytest.mark.skip\ndef test_skip(): pass\n"
    )
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=j.xml"],
        cwd=tmp_path,
        capture_output=True,
    )
    counts = parse_junit((tmp_path / "j.xml").read_text())
    assert (counts.passed, counts.failed, counts.skipped) == (1, 1, 1)
    assert "test_bad" in counts.failures[0] and "assert [1] == [2]" in counts.failures[0]


def test_condensed_failures_are_bounded() -> None:
    text = condense(["x" * 300] * 50, limit=1000)
    assert len(text) < 1200 and text.endswith("more failure(s)")
