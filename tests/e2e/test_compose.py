"""The compose stack (compose.yaml) as an operator runs it: images built here from the repository,
PostgreSQL, Redis, the server and two workers in containers, the bwrap sandbox inside the
workers with compose.yaml's privileges. GitHub and the model are the test's servers on the host.

A signed labelled-issue webhook ends in a draft PR; then, for a second issue, the worker
container running its sandbox command is killed with SIGKILL (and started again, as its
restart policy would), and that issue still ends with exactly one draft PR.
Skipped only when no Docker engine or no Docker Compose v2 answers (.ci/run provides both).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.helpers.chaos import deliver_until_accepted, free_port, labelled, wait_until
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.github_server import serve_github
from tests.helpers.repos import PYTHON_FILES, make_repo
from tests.helpers.scripted_model import ScriptedModel, serve_model
from tests.helpers.scripts import APPROVED, PLAN, TESTS, change

ROOT = Path(__file__).resolve().parents[2]
SECRET = "compose-webhook-secret-0123456789abcdef"
API_KEY = "sk-test-not-a-real-key-000000000000"
DASHBOARD_TOKEN = "compose-dashboard-token-0123456789abcdef"
RUN_TIMEOUT_S = 300
HOST = "host.docker.internal"


def _compose_problem() -> str | None:
    try:
        if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode:
            return "no Docker engine answers (start dockerd; .ci/run does)"
        version = subprocess.run(
            ["docker", "compose", "version", "--short"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker is unavailable: {exc}"
    if version.returncode or not version.stdout.strip().lstrip("v").startswith("2."):
        return "Docker Compose v2 is missing (`docker compose`; .ci/run installs it)"
    return None


PROBLEM = _compose_problem()
pytestmark = pytest.mark.skipif(PROBLEM is not None, reason=PROBLEM or "")


def _build(script: str) -> str:
    out = subprocess.run(
        [str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=900
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout.strip().splitlines()[-1]


class Stack:
    """One compose project of compose.yaml plus the test's override."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.project = f"draftsmith-test-{uuid.uuid4().hex[:8]}"
        self.base = ["docker", "compose", "-p", self.project, "-f", str(ROOT / "compose.yaml"),
                     "-f", str(ROOT / "tests/e2e/compose.test.yaml")]  # fmt: skip

    def compose(self, *args: str, timeout: float = 300) -> str:
        out = subprocess.run(
            [*self.base, *args], env=self.env, cwd=ROOT, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        assert out.returncode == 0, f"docker compose {' '.join(args)}: {out.stderr[-4000:]}"
        return out.stdout

    def workers(self) -> list[str]:
        return self.compose("ps", "-q", "worker").split()

    def logs(self) -> str:
        out = subprocess.run([*self.base, "logs", "--no-color"], env=self.env, cwd=ROOT,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        self.log.write_text(out.stdout + out.stderr)
        return f"compose logs in {self.log}:\n{out.stdout[-6000:]}"


def _processes(container: str) -> str:
    out = subprocess.run(["docker", "top", container, "-eo", "pid,args"],
                         capture_output=True, text=True, timeout=30)  # fmt: skip
    return out.stdout if out.returncode == 0 else ""


@contextmanager
def stack(tmp_path: Path, private_key: str) -> Iterator[tuple[Stack, FakeGitHub, str, str]]:
    bot_image = _build("build_bot_image.sh")
    services_image = _build("build_services_image.sh")
    remote = tmp_path / "remote"
    remote.mkdir()
    upstream = make_repo(tmp_path / "upstream", PYTHON_FILES)
    bare = remote / "widgets.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(upstream), str(bare)], check=True)
    (remote / "gitconfig").write_text(f"[safe]\n\tdirectory = {bare}\n")
    for path in [tmp_path, *remote.rglob("*")]:  # the workers' uid reads it
        path.chmod(path.stat().st_mode | 0o055)
    github = FakeGitHub(repo="octo/widgets")
    github.serve_git(bare, signed_branches=["draftsmith/*"])
    github.permissions["carol"] = "write"
    model = ScriptedModel(
        {"planner": [PLAN], "coder": [change()], "reviewer": [APPROVED], "tester": [TESTS]},
        repeat=True,
        delay_s=0.5,
    )
    port = free_port()
    with serve_github(github, "0.0.0.0") as github_url, serve_model(model, "0.0.0.0") as model_url:
        env = {
            **os.environ,
            "DRAFTSMITH_IMAGE": bot_image,
            "SERVICES_IMAGE": services_image,
            "REMOTE_DIR": str(remote),
            "POSTGRES_PASSWORD": secrets.token_hex(16),
            "DRAFTSMITH_PUBLISH": f"127.0.0.1:{port}",
            "DRAFTSMITH_GITHUB_APP_ID": "4242",
            "DRAFTSMITH_GITHUB_PRIVATE_KEY": private_key,
            "DRAFTSMITH_GITHUB_API_URL": github_url.replace("127.0.0.1", HOST),
            "DRAFTSMITH_WEBHOOK_SECRET": SECRET,
            "DRAFTSMITH_MODEL": "scripted-model",
            "OPENAI_BASE_URL": model_url.replace("127.0.0.1", HOST),
            "OPENAI_API_KEY": API_KEY,
            "DRAFTSMITH_DASHBOARD_TOKEN": DASHBOARD_TOKEN,
            "DRAFTSMITH_LEASE_TTL_S": "4",
            "DRAFTSMITH_STALE_RUN_S": "10",
        }
        s = Stack(env, tmp_path / "compose.log")
        try:
            s.compose("up", "-d", "--no-build", "--wait", "--wait-timeout", "240", timeout=300)
            yield s, github, f"http://127.0.0.1:{port}", f"file://{bare}"
        except BaseException as exc:
            raise AssertionError(f"{exc}\n{s.logs()}") from exc
        finally:
            s.compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout=180)


def _pulls(github: FakeGitHub, number: int) -> list[dict[str, object]]:
    return [
        p for p in github.pulls.values() if p["head"]["ref"].startswith(f"draftsmith/{number}-")
    ]


def _runs(url: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{url}/runs",
        headers={"accept": "application/json", "authorization": f"Bearer {DASHBOARD_TOKEN}"},
        timeout=10,
    )
    runs: list[dict[str, object]] = json.loads(answer.text)["runs"]
    return runs


def _settled(url: str, number: int) -> bool:
    runs = [r for r in _runs(url) if r.get("issue") == number]
    return bool(runs) and all(r.get("status") == "approved" for r in runs)


@pytest.mark.timeout(1500)
def test_compose_stack_opens_one_draft_pr_even_when_a_worker_is_killed(
    tmp_path: Path, private_key: str
) -> None:
    started = time.monotonic()
    with stack(tmp_path, private_key) as (s, github, url, clone_url):
        up_s = time.monotonic() - started
        assert len(s.workers()) == 2

        sender = deliver_until_accepted(url, SECRET, [(str(uuid.uuid4()), labelled(1, clone_url))],
                                        deadline_s=60)  # fmt: skip
        sender.join(60)
        first_s = wait_until(lambda: _settled(url, 1), RUN_TIMEOUT_S)
        (pull,) = _pulls(github, 1)
        assert pull["draft"] is True

        # Issue 2: SIGKILL the worker container that runs its sandbox command.
        sender = deliver_until_accepted(url, SECRET, [(str(uuid.uuid4()), labelled(2, clone_url))],
                                        deadline_s=60)  # fmt: skip
        sender.join(60)
        victim: list[str] = []

        def sandboxing() -> bool:
            victim[:] = [c for c in s.workers() if "bwrap" in _processes(c)][:1]
            return bool(victim)

        wait_until(sandboxing, RUN_TIMEOUT_S, every_s=0.2)
        subprocess.run(["docker", "kill", "--signal", "KILL", victim[0]], check=True, timeout=60)
        subprocess.run(["docker", "start", victim[0]], check=True, timeout=60)
        second_s = wait_until(lambda: _settled(url, 2), RUN_TIMEOUT_S)
        assert [p["draft"] for p in _pulls(github, 2)] == [True]
        assert len(_pulls(github, 1)) == 1
        assert github.unexpected == []
        print(
            f"\ncompose: images and stack up in {up_s:.0f}s, issue 1's draft PR in {first_s:.0f}s,"
            f" issue 2's in {second_s:.0f}s after its worker was SIGKILLed mid-sandbox-command"
        )
