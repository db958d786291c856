"""The README's example workflow, played by a test: each event is a fresh runner that restores
the run store from the cache, runs `draftsmith action` as a process, and saves the store again.

The cache is keyed as the workflow keys it: restored by the event's issue or PR number, saved
(always, even when the step fails) under that number and the `issue-number` and `pr-number`
the step printed to `$GITHUB_OUTPUT`. GitHub's API is the fake served over HTTP, the model the
scripted one; everything else (git, the sandbox, SQLite) is real.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOKEN = "ghs_workflowToken0123456789abcdefABCDEF"


@dataclass
class Step:
    """One `draftsmith action` step: its exit code, output and `$GITHUB_OUTPUT` values."""

    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr[-4000:]}"


def event_number(payload: dict[str, Any]) -> str:
    """`github.event.issue.number || github.event.pull_request.number`."""
    thread = payload.get("issue") or payload.get("pull_request") or {}
    return str(thread.get("number") or "")


@dataclass
class Workflow:
    """Fresh runners sharing only the cache (a folder per key) and GitHub."""

    root: Path
    github_url: str
    model_url: str
    repository: str = "octo/widgets"
    cache: dict[str, Path] = field(default_factory=dict)
    _runs: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))

    def env(self, runner: Path, event: str, event_path: Path, output: Path) -> dict[str, str]:
        """What GitHub and the workflow's `env:` give the step (nothing of this machine's
        DRAFTSMITH_ or OPENAI_ settings)."""
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTSMITH_", "OPENAI_"))}
        return {
            **base,
            "HOME": str(runner / "home"),
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_API_URL": self.github_url,
            "GITHUB_RUN_ID": str(next(self._runs)),
            "GITHUB_OUTPUT": str(output),
            "GITHUB_TOKEN": TOKEN,
            "RUNNER_TEMP": str(runner / "temp"),
            "DRAFTSMITH_MODEL": "scripted-model",
            "OPENAI_BASE_URL": self.model_url,
            "OPENAI_API_KEY": "sk-test-not-a-real-key-000000000000",
            "DRAFTSMITH_LOG_LEVEL": "WARNING",
        }

    def run(self, event: str, payload: dict[str, Any], *, restore: bool = True) -> Step:
        """One workflow run for `event` on a fresh runner; `restore=False` plays a cache miss."""
        runner = self.root / f"runner-{len(list(self.root.glob('runner-*')))}"
        (runner / "home").mkdir(parents=True)
        store = runner / "temp" / "draftsmith" / "draftsmith.db"
        number = event_number(payload)
        if restore and number in self.cache:
            store.parent.mkdir(parents=True)
            shutil.copy(self.cache[number], store)
        event_path = runner / "event.json"
        event_path.write_text(json.dumps(payload))
        output = runner / "output"
        output.touch()
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "action"],
            env=self.env(runner, event, event_path, output),
            cwd=runner,
            capture_output=True,
            text=True,
            timeout=300,
        )
        outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        if store.exists():  # actions/cache/save with `if: always()`
            for key in {number, outputs.get("issue-number", ""), outputs.get("pr-number", "")}:
                if key:
                    saved = self.root / "cache" / f"{key}-{runner.name}.db"
                    saved.parent.mkdir(exist_ok=True)
                    shutil.copy(store, saved)
                    self.cache[key] = saved
        return Step(result.returncode, result.stdout, result.stderr, outputs)
