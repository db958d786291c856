"""The coverage plugin (bot.sandbox.coverage_contexts) in a real pytest process, outside the
sandbox: what it measures, and that a coverage failure never changes the run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.sandbox.runners import coverage_config

PLUGIN = "bot.sandbox.coverage_contexts"
ROOT = Path(__file__).resolve().parents[3]


def _project(tmp_path: Path) -> Path:
    (tmp_path / "calc.py").write_text("X = 1\n\n\ndef add(a, b):\n    return a + b\n")
    (tmp_path / "test_old.py").write_text(
        "from calc import add\n\ndef test_old():\n    assert add(1, 1) == 2\n"
    )
    (tmp_path / "test_new.py").write_text(
        "from calc import add\n\ndef test_new():\n    assert add(2, 2) == 4\n"
    )
    (tmp_path / "cov.rc").write_text(coverage_config(["calc.py"]))
    return tmp_path


def _pytest(root: Path, plan: dict[str, object]) -> subprocess.CompletedProcess[str]:
    (root / "plan.json").write_text(json.dumps(plan))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", PLUGIN]
    command += ["--draftsmith-coverage=plan.json", "--rootdir", str(root)]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_only_the_listed_test_files_are_measured_after_collection(tmp_path: Path) -> None:
    root = _project(tmp_path)
    done = _pytest(root, {"rcfile": "cov.rc", "json": "out.json", "tests": ["test_new.py"]})
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    calc = json.loads((root / "out.json").read_text())["files"]["calc.py"]
    assert calc["contexts"]["5"] == ["test_new.py::test_new"]  # test_old ran untraced
    assert calc["contexts"]["1"] == [""]  # module level, at collection


def test_a_coverage_failure_is_printed_and_changes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "test_old.py").write_text("def test_old():\n    assert False\n")
    done = _pytest(root, {"rcfile": "missing.rc", "json": "out.json", "tests": None})
    assert done.returncode == 1 and "1 failed, 1 passed" in done.stdout, done.stdout
    assert "draftsmith coverage: not started" in done.stdout
    assert not (root / "out.json").exists()
