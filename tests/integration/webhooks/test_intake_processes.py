"""`draftsmith serve --intake-processes 2`: a second process answers webhooks on the same port,
is started again when it dies, and dies with `serve` even when `serve` is killed. Real processes,
a real SQLite store, real signed `ping` deliveries over loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.store.runs import Store
from tests.helpers.chaos import free_port
from tests.helpers.payloads import body_of, load_payload, sign

SECRET = "intake-secret"


def listening(port: int) -> set[int]:
    """Processes holding a listening TCP socket on `port` (from /proc: inode -> owner)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    owners = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            owners.add(int(proc.name))
    return owners


def two_listening(port: int) -> set[int] | None:
    owners = listening(port)
    return owners if len(owners) == 2 else None


def wait_for(check, timeout_s: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout_s}s")


def deliver(url: str, count: int, prefix: str) -> list[int]:
    body = body_of(load_payload("ping"))
    codes = []
    with httpx.Client(timeout=10) as client:
        for i in range(count):
            headers = {
                "x-github-event": "ping",
                "x-github-delivery": f"{prefix}-{i}",
                "x-hub-signature-256": sign(body, SECRET),
                "content-type": "application/json",
            }
            # a new connection each time, so the kernel spreads them across the processes
            codes.append(client.post(url, content=body, headers={**headers, "connection": "close"})
                         .status_code)  # fmt: skip
    return codes


@pytest.fixture()
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Store]]:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.migrate()
    port = free_port()
    env = {
        **os.environ,
        "DRAFTSMITH_DATABASE_URL": store.url,
        "DRAFTSMITH_QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}",
        "DRAFTSMITH_WORK_DIR": str(tmp_path / "work"),
        "DRAFTSMITH_WEBHOOK_SECRET": SECRET,
        "DRAFTSMITH_DASHBOARD_PORT": str(free_port()),
        "DRAFTSMITH_CATCHUP_INTERVAL_S": "0",
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port",
               str(port), "--no-embedded-worker", "--intake-processes", "2"]  # fmt: skip
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield serve, port, store
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
            serve.wait(30)
        log.close()


def test_two_processes_answer_on_one_port_and_a_dead_one_is_started_again(
    serving: tuple[subprocess.Popen[bytes], int, Store],
) -> None:
    serve, port, store = serving
    owners = wait_for(lambda: two_listening(port))
    assert serve.pid in owners
    (intake,) = owners - {serve.pid}
    url = f"http://127.0.0.1:{port}/webhooks/github"
    assert deliver(url, 40, "first") == [200] * 40  # ping is answered, and stored
    assert all(store.get_delivery(f"first-{i}") is not None for i in range(40))
    os.kill(intake, signal.SIGKILL)
    again = wait_for(lambda: listening(port) - {serve.pid, intake})
    assert len(again) == 1 and serve.poll() is None
    assert deliver(url, 20, "second") == [200] * 20
    assert all(store.get_delivery(f"second-{i}") is not None for i in range(20))
    serve.send_signal(signal.SIGINT)  # stops its intake processes too
    assert serve.wait(30) == 0
    assert wait_for(lambda: not listening(port), 15) is True


def test_intake_processes_die_with_a_killed_serve(
    serving: tuple[subprocess.Popen[bytes], int, Store],
) -> None:
    serve, port, _ = serving
    owners = wait_for(lambda: two_listening(port))
    serve.kill()
    serve.wait(10)
    (intake,) = owners - {serve.pid}
    wait_for(lambda: not Path(f"/proc/{intake}").exists() or _zombie(intake), 15)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True
