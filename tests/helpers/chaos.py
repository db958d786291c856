"""Chaos for end-to-end tests: Draftsmith processes killed with SIGKILL at random instants.

A `Fleet` starts `draftsmith` processes (server, workers) from the installed code, kills one of
them at random instants and restarts it at once, as a deploy, an OOM kill or a node loss does.
Webhooks are delivered as GitHub does: each issue's delivery keeps its GUID and is sent again
until the server answers 2xx (it may be down when it is sent).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.helpers.payloads import load_payload, sign

BUSY_WAIT_S = 30.0
SANDBOX = frozenset({"prlimit", "bwrap", "setpriv"})  # a sandbox command's launchers
# A kill mid-sandbox-command is required of every chaos run: the targeted kills aimed at one
# wait this long for a run's sandbox command until one has landed.
SANDBOX_WAIT_S = 180.0
# What the targeted kills aim at, in turn (see `Member.doing`).
TARGETS = ("sandbox", "model", "clone", "sandbox", "push")


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

    def children(self) -> list[list[str]]:
        """The argv of each of this process's children (git, prlimit/bwrap, ...), if alive."""
        if self.process is None or self.process.poll() is not None:
            return []
        argvs: list[list[str]] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                for pid in (task / "children").read_text().split():
                    raw = Path(f"/proc/{pid}/cmdline").read_bytes()
                    argvs.append([a.decode(errors="replace") for a in raw.split(b"\0") if a])
            except OSError:  # the thread or the child ended while we looked
                continue
        return argvs

    def doing(self, model_ports: set[int]) -> set[str]:
        """What this process is in the middle of: `sandbox` (a run's sandbox command, under
        its work directory; not the start-up probe), `clone` (git clone or fetch), `push`,
        `git` (any other git command), `model` (a request the model is answering now:
        `model_ports` are the client ports of those requests)."""
        kinds: set[str] = set()
        work = self.env.get("DRAFTSMITH_WORK_DIR", "\0")
        for argv in self.children():
            program = Path(argv[0]).name if argv else ""
            if program in SANDBOX and any(a.startswith(work) for a in argv):
                kinds.add("sandbox")
            elif program == "git":
                verb = next((a for a in argv[1:] if a in ("clone", "fetch", "push")), "")
                kinds.add({"clone": "clone", "fetch": "clone", "push": "push"}.get(verb, "git"))
        pid = self.process.pid if self.process is not None else None
        if model_ports and pid and _socket_inodes(pid) & _tcp_inodes(model_ports):
            kinds.add("model")
        return kinds

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
    """The processes of one deployment; `chaos` kills `kills` times at random instants.

    `model_ports` gives the client ports of the requests the model is answering now (the
    scripted model's `in_flight`), so kills can be aimed at a model call."""

    members: list[Member]
    model_ports: Callable[[], set[int]] = set
    rng: random.Random = field(default_factory=lambda: random.Random(14))
    kills: int = 0
    killed: list[str] = field(default_factory=list)
    # What each killed process was in the middle of when it died (see Member.doing).
    mid: list[set[str]] = field(default_factory=list)

    def start(self) -> None:
        for member in self.members:
            member.start()

    def chaos(self, kills: int, victims: Sequence[Member], gap_s: tuple[float, float]) -> None:
        """Kill `kills` times, `gap_s` (uniform) apart, restarting the victim at once.

        Half the kills land at a random instant. A process killed only at random instants
        mostly dies while it starts, so the other half are aimed, in turn, at each of
        `TARGETS`: they wait up to `BUSY_WAIT_S` for a victim in the middle of one (a
        sandbox command: until one kill has landed mid-sandbox, up to `SANDBOX_WAIT_S`);
        failing that, a random victim."""
        pause = threading.Event()  # never set: random waits, not synchronisation
        for number in range(kills):
            pause.wait(self.rng.uniform(*gap_s))
            target = TARGETS[(number // 2) % len(TARGETS)] if number % 2 else None
            victim = self._busy(victims, target) if target else None
            if victim is None:
                victim = self.rng.choice(list(victims))
            self.mid.append(victim.doing(self.model_ports()))
            victim.kill()
            self.kills += 1
            self.killed.append(victim.name)
            victim.start()

    def mid_kinds(self) -> Counter[str]:
        """How many kills landed mid-sandbox-command, mid-model-call, mid-clone..."""
        return Counter(kind for kinds in self.mid for kind in kinds)

    def _busy(self, victims: Sequence[Member], target: str) -> Member | None:
        """A victim in the middle of `target`, waiting for one (see `chaos`)."""
        wait = BUSY_WAIT_S
        if target == "sandbox" and not self.mid_kinds()["sandbox"]:
            wait = SANDBOX_WAIT_S
        end = time.monotonic() + wait
        poll = threading.Event()  # never set: the polling interval
        while time.monotonic() < end:
            ports = self.model_ports() if target == "model" else set()
            busy = [v for v in victims if target in v.doing(ports)]
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


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process `pid` holds open."""
    inodes: set[str] = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                link = os.readlink(fd)
            except OSError:  # closed while we looked
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:  # the process ended while we looked
        pass
    return inodes


def _tcp_inodes(local_ports: set[int]) -> set[str]:
    """The inodes of the loopback TCP sockets bound to one of `local_ports` (client ends)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) in local_ports:
                inodes.add(fields[9])
    return inodes


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
