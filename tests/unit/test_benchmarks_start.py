"""Every benchmark script starts: its imports still resolve after the code it measures moved.

The scripts print figures and are run by hand, so nothing else would notice one that no longer
imports (benchmarks/replay.py did not, after `get_sandbox` moved to bot.sandbox.choose)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parents[2] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_the_benchmark_script_imports_and_answers_help(script: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage" in (result.stdout + result.stderr).lower()
