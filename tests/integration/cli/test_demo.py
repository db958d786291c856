"""`draftsmith demo` with no variable set: a real run on recorded answers, then its dashboard."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTSMITH_", "OPENAI_"))}
    return {**env, "HOME": str(home)}


def test_the_demo_proves_its_change_on_recorded_answers(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "demo", "--no-serve", "--folder", str(tmp_path / "d")],
        env=clean_env(tmp_path), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "recorded answers, not a live model" in out
    for phase in ("planning", "setup", "coding", "testing", "reviewing", "deploying"):
        assert f"{phase} done" in out
    assert "status: approved" in out
    evidence = Path(out.split("evidence: ", 1)[1].split()[0])
    text = evidence.read_text()
    assert "2 of 2 new test(s) fail before the change and pass after it" in text
    assert "recorded answers, not a live model" in text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_demo_serves_its_run_on_the_dashboard(tmp_path: Path) -> None:
    port = free_port()
    demo = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo", "--folder", str(tmp_path / "d"),
         "--port", str(port)],
        env=clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert demo.stdout is not None
        lines = []
        for line in demo.stdout:  # until the dashboard line (bounded by the test's timeout)
            lines.append(line)
            if line.startswith("dashboard: "):
                break
        url = lines[-1].split()[1]
        assert url == f"http://127.0.0.1:{port}/runs/1", "".join(lines)
        page = None
        for _ in range(100):
            try:
                page = httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                continue
        assert page is not None and page.status_code == 200
        assert "Count words regardless of case and punctuation" in page.text
        assert "Where the time went" in page.text
        detail = httpx.get(url, headers={"Accept": "application/json"}, timeout=10).json()
        budget = {(row["part"], row["within"]): row["seconds"] for row in detail["time_budget"]}
        phases = ("planning", "setup", "coding", "testing", "reviewing", "deploying")
        assert all(budget[(phase, "")] > 0 for phase in phases), budget
        assert budget[("base_new_tests", "testing")] > 0 and budget[("change", "testing")] > 0
        assert ("base_suite", "testing") not in budget  # the change passed: not needed
        # the environment is the setup phase's: the rest of testing is measured, not unknown
        assert budget[("environment", "setup")] > 0 and ("setup", "testing") not in budget
        assert budget[("rest of testing", "testing")] is not None
        assert budget[("model: coder", "model")] >= 0
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(30)
