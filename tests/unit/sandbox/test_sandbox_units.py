"""Pure parts of the sandbox: the Docker container spec, the report parsers, backend choice."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox import choose
from bot.sandbox.base import Limits, check_env
from bot.sandbox.docker import DockerSandbox, container_spec
from bot.sandbox.docker_fds import FD_FORWARDER_MOUNT, FD_MOUNT_DIR, FdChannels
from bot.sandbox.egress import FORWARD_PORT, SOCKET_MOUNT
from bot.sandbox.runners import parse_go_test_json, parse_junit
from bot.shared.condense import condense, join_bounded
from bot.shared.config import Settings
from bot.shared.errors import SandboxError

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


def test_docker_spec_maps_every_limit(tmp_path: Path) -> None:
    limits = Limits(memory_bytes=512 * 1024**2, processes=32, cpu_time_s=30, disk_bytes=10**8)
    spec = container_spec("sha256:" + "0" * 64, ["pytest"], tmp_path, limits, {"CI": "1"})
    assert spec["mem_limit"] == spec["memswap_limit"] == 512 * 1024**2
    assert spec["pids_limit"] == 32
    assert spec["network_mode"] == "none"
    assert spec["read_only"] is True and spec["tmpfs"]["/tmp"].endswith("size=100000000")
    assert {"Name": "cpu", "Soft": 30, "Hard": 31} in spec["ulimits"]
    assert spec["cap_drop"] == ["ALL"] and spec["security_opt"] == ["no-new-privileges"]
    assert spec["environment"]["CI"] == "1"


def test_docker_runs_as_the_workdirs_owner_at_the_workdirs_own_path(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    spec = container_spec("img:1", ["pytest"], tmp_path, Limits(), {})
    st = tmp_path.stat()
    assert spec["user"] == f"{st.st_uid}:{st.st_gid}"
    assert spec["working_dir"] == str(tmp_path) and spec["environment"]["HOME"] == str(tmp_path)
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in spec["mounts"]] == [
        (str(tmp_path), str(tmp_path), False),
        (str(tmp_path / ".git"), str(tmp_path / ".git"), True),
    ]


def test_docker_setup_has_no_network_but_the_egress_filters_socket(tmp_path: Path) -> None:
    socket_path = tmp_path / "egress.sock"
    spec = container_spec("img:1", ["npm", "ci"], tmp_path, Limits(), {}, egress_socket=socket_path)
    assert spec["network_mode"] == "none"
    assert spec["command"][-3:] == ["--", "npm", "ci"]
    assert (str(socket_path), SOCKET_MOUNT, True) in [
        (m["Source"], m["Target"], m["ReadOnly"]) for m in spec["mounts"]
    ]
    assert spec["environment"]["HTTPS_PROXY"] == f"http://127.0.0.1:{FORWARD_PORT}"


def test_docker_descriptors_are_placed_inside_the_egress_forwarder(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        with FdChannels((write_end,), uid=tmp_path.stat().st_uid) as channels:
            spec = container_spec(
                "img:1", ["pytest"], tmp_path, Limits(), {}, egress_socket=tmp_path / "e.sock",
                channels=channels,
            )  # fmt: skip
            fifo = channels.directory / str(write_end) if channels.directory else None
            assert fifo is not None and stat.S_ISFIFO(fifo.stat().st_mode)
            assert stat.S_IMODE(fifo.stat().st_mode) & 0o044 == 0  # nobody else may read it
    finally:
        os.close(read_end)
        os.close(write_end)
    command = spec["command"]
    # egress_forward's Popen closes other descriptors: the fd forwarder must run under it
    assert command.index(FD_FORWARDER_MOUNT) > command.index("--")
    assert command[-3:] == [f"{write_end}={FD_MOUNT_DIR}/{write_end}", "--", "pytest"]
    assert (str(fifo), f"{FD_MOUNT_DIR}/{write_end}", False) in [
        (m["Source"], m["Target"], m["ReadOnly"]) for m in spec["mounts"]
    ]
    assert not fifo.parent.exists()  # removed when the channels close


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
    assert counts.cases == {
        "test_x::test_ok": True,
        "test_x::test_bad": False,
        "test_x::test_skip": False,
    }


def test_a_long_log_is_condensed_to_failure_lines_and_tail_without_colours() -> None:
    log = "\n".join([f"line {n} fine" for n in range(2000)] + ["\x1b[31mE   assert 1 == 2\x1b[0m"])
    log += "\n" + "\n".join(f"tail {n}" for n in range(50))
    text = condense(log, 1000)
    assert len(text) <= 1000
    assert text.startswith("E   assert 1 == 2") and text.endswith("tail 49")
    assert "\x1b[" not in text and condense("short", 1000) == "short"


def test_condensed_failures_are_bounded() -> None:
    text = join_bounded(["x" * 300] * 50, limit=1000)
    assert len(text) < 1200 and text.endswith("more failure(s)")
