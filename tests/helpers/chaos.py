"""Chaos for end-to-end tests: Draftsmith processes killed with SIGKILL at random instants.

A `Fleet` starts `draftsmith` processes (server, workers) from the installed code, kills one of
them at random instants and restarts it at once, as a deploy, an OOM kill or a node loss does.
Webhooks are delivered as GitHub does: each issue's delivery keeps its GUID and is sent again
until the server answers 2xx (it may be down when it is sent).
"""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers.payloads import load_payload, sign

BUSY_WAIT_S = 30.0
SANDBOX = frozenset({"prlimit", "bwrap"})
ANY_CHILD = SANDBOX | {"git"}


def free_port() -> int:
    """A loopback port free at the time of asking (the server binds it on each restart)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Member:
    """One Draftsmith process of the fleet, restartable; its output goes to `log`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n==== start {self.starts} ====\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *self.argv],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def children(self) -> list[str]:
        """The program names of this process's children (git, prlimit/bwrap, ...), if alive."""
        if self.process is None or self.process.poll() is not None:
            return []
        names: list[str] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                pids = (task / "children").read_text().split()
                names += [Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids]
            except OSError:  # the thread or the child ended while we looked
                continue
        return names

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Fleet:
    """The processes of one deployment; `chaos` kills `kills` times at random instants."""

    members: list[Member]
    rng: random.Random = field(default_factory=lambda: random.Random(14))
    kills: int = 0
    killed: list[str] = field(default_factory=list)
    mid_command: list[str] = field(default_factory=list)

    def start(self) -> None:
        for member in self.members:
            member.start()

    def chaos(self, kills: int, victims: Sequence[Member], gap_s: tuple[float, float]) -> None:
        """Kill `kills` times, `gap_s` (uniform) apart, restarting the victim at once.

        Half the kills land at a random instant. A process killed only at random instants
        mostly dies while it starts, so the other half wait up to `BUSY_WAIT_S` for a victim
        running a child: every other one a sandbox command (`bwrap`), the rest any child (git
        clone, fetch or push, or the sandbox); failing that, a random victim."""
        pause = threading.Event()  # never set: random waits, not synchronisation
        for number in range(kills):
            pause.wait(self.rng.uniform(*gap_s))
            wanted = (None, SANDBOX, None, ANY_CHILD)[number % 4]
            victim = self._busy(victims, wanted) if wanted else None
            if victim is not None:
                self.mid_command.append(f"{victim.name}: {' '.join(victim.children())}")
            else:
                victim = self.rng.choice(list(victims))
            victim.kill()
            self.kills += 1
            self.killed.append(victim.name)
            victim.start()

    def _busy(self, victims: Sequence[Member], programs: frozenset[str]) -> Member | None:
        """A victim running one of `programs` as a child, waiting up to BUSY_WAIT_S for one."""
        end = time.monotonic() + BUSY_WAIT_S
        poll = threading.Event()  # never set: the polling interval
        while time.monotonic() < end:
            busy = [v for v in victims if programs & set(v.children())]
            if busy:
                return self.rng.choice(busy)
            poll.wait(0.02)
        return None

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def logs(self) -> str:
        """The tail of every member's output (for a failure message)."""
        return "\n".join(f"--- {m.name}\n{m.log.read_text()[-4000:]}" for m in self.members)


def labelled(number: int, clone_url: str) -> dict[str, object]:
    """An `issues.labeled` payload for issue `number` of octo/widgets, labelled `draftsmith`."""
    return load_payload(
        "issues.labeled",
        label={"name": "draftsmith"},
        installation={"id": 4242},
        repository={"full_name": "octo/widgets", "clone_url": clone_url, "default_branch": "main"},
        issue={"number": number, "title": f"Add subtract {number}", "body": "Add subtract(a, b)."},
        sender={"login": "carol", "id": 3, "type": "User"},
    )


def deliver_until_accepted(
    url: str, secret: str, deliveries: list[tuple[str, dict[str, object]]], deadline_s: float
) -> threading.Thread:
    """Post each (GUID, payload) until the server answers 2xx, in a thread, as GitHub retries."""
    errors: list[str] = []

    def send() -> None:
        end = time.monotonic() + deadline_s
        retry = threading.Event()  # never set: the wait between attempts
        with httpx.Client(timeout=10) as client:
            for guid, payload in deliveries:
                body = json.dumps(payload).encode()
                headers = {
                    "X-GitHub-Event": "issues",
                    "X-GitHub-Delivery": guid,
                    "X-Hub-Signature-256": sign(body, secret),
                    "content-type": "application/json",
                }
                while True:
                    try:
                        answer = client.post(
                            f"{url}/webhooks/github", content=body, headers=headers
                        )
                        if answer.is_success:
                            break
                        errors.append(f"{guid}: {answer.status_code}")
                    except httpx.HTTPError as exc:
                        errors.append(f"{guid}: {exc.__class__.__name__}")
                    if time.monotonic() > end:
                        raise AssertionError(f"delivery {guid} never accepted: {errors[-5:]}")
                    retry.wait(0.3)

    thread = threading.Thread(target=send, name="deliveries", daemon=True)
    thread.start()
    return thread


def wait_until(condition: Callable[[], bool], timeout_s: float, every_s: float = 0.5) -> float:
    """Poll `condition` (state in other processes: there is no event to wait on) until it holds;
    returns the seconds it took, or raises AssertionError after `timeout_s`."""
    started = time.monotonic()
    tick = threading.Event()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not settled after {timeout_s:.0f}s")
        tick.wait(every_s)
    return time.monotonic() - started
