"""Small real git repositories for pipeline tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(repo: Path, *args: str) -> str:
    """Run git in `repo` and return its output."""
    import os

    result = subprocess.run(
        ["git", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
    )
    return result.stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at `path` with `files` committed on `main`."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


PYTHON_FILES = {
    "README.md": "# calc\n\nA tiny calculator.\n",
    "calc/__init__.py": '"""A tiny calculator."""\n\n\ndef add(a, b):\n    return a + b\n',
    "tests/test_add.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
}

NODE_FILES = {
    "package.json": '{"name": "calc", "version": "1.0.0", "type": "module"}\n',
    "calc.js": "export function add(a, b) {\n  return a + b;\n}\n",
    "test/add.test.js": (
        "import { test } from 'node:test';\nimport assert from 'node:assert';\n"
        "import { add } from '../calc.js';\n\n"
        "test('add', () => { assert.strictEqual(add(2, 3), 5); });\n"
    ),
}


def commit_change(root: Path, files: dict[str, str]) -> str:
    """Write `files` on a new branch `draftsmith/change` of `root` and commit them, as a run's
    change; returns the base commit's sha."""
    base = git(root, "rev-parse", "HEAD").strip()
    git(root, "checkout", "-q", "-b", "draftsmith/change")
    for path, text in files.items():
        (root / path).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "change")
    return base
