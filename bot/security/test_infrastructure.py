"""Test infrastructure is not a test: what the tester may not write and what a change to it means.

Tests are the run's evidence, and they run in the same process as the code they judge. A file
that changes how tests are collected, run or reported (a `conftest.py`, a pytest plugin, pytest's
settings, a jest/vitest/mocha config) can rewrite the verdict, so the tester may never write one
and a coder change to one is gated (`bot.policy.decide.TEST_INFRASTRUCTURE_REASON`). Paths come from
the policy's `test_infrastructure` patterns; the functions here add what a path cannot say:
hooks declared inside a test file, and a change to the pytest section of `pyproject.toml` or
`setup.cfg`.
"""

from __future__ import annotations

import ast
import configparser
import tomllib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.policy.decide import TEST_INFRASTRUCTURE_REASON, Policy, is_test_infrastructure
from bot.shared.contracts import FileEdit

PYTEST_TOML_TABLES = (("tool", "pytest", "ini_options"), ("tool", "pytest"))
PYTEST_CFG_SECTIONS = ("tool:pytest", "pytest")
HOOK_PREFIX = "pytest_"


def plugin_hooks(path: str, content: str) -> list[str]:
    """What in a Python test file acts as a pytest plugin: `pytest_plugins`, `pytest_*` hooks.

    A test module's `pytest_plugins` loads plugins (itself included) whose hooks then run for
    every test; a file that cannot be parsed is judged by its text.
    """
    if not path.endswith(".py"):
        return []
    try:
        tree = ast.parse(content)
    except SyntaxError:
        return ["pytest_plugins"] if "pytest_plugins" in content else []
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            HOOK_PREFIX
        ):
            found.append(f"def {node.name}")
        elif getattr(node, "id", getattr(node, "attr", None)) == "pytest_plugins":
            found.append("pytest_plugins")
    return list(dict.fromkeys(found))


def infrastructure_refusal(edits: Sequence[FileEdit], policy: Policy) -> str | None:
    """Why the tester's files are refused as test infrastructure, or None when they are tests."""
    problems: list[str] = []
    for edit in edits:
        if is_test_infrastructure(edit.path, policy):
            problems.append(f"{edit.path} (changes how tests run)")
            continue
        texts = [edit.content or ""] + [block.replace for block in edit.blocks]
        hooks = [hook for text in texts for hook in plugin_hooks(edit.path, text)]
        if hooks:
            problems.append(f"{edit.path} (declares {', '.join(dict.fromkeys(hooks))})")
    if not problems:
        return None
    return (
        "The tester may not write test infrastructure (files or hooks that change how tests are "
        "collected, run or reported); refused: "
        + "; ".join(problems)
        + ". Write plain test files whose tests assert the behaviour."
    )


def _toml_section(text: str) -> Any:
    try:
        data: Any = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return ("unparseable", text)
    found = []
    for keys in PYTEST_TOML_TABLES:
        table = data
        for key in keys:
            table = table.get(key) if isinstance(table, dict) else None
        found.append(table)
    return found


def _cfg_section(text: str) -> Any:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return ("unparseable", text)
    return [dict(parser[s]) if parser.has_section(s) else None for s in PYTEST_CFG_SECTIONS]


def pytest_section_changed(path: str, before: str | None, after: str | None) -> bool:
    """Whether a change to `pyproject.toml` or `setup.cfg` changes its pytest section."""
    name = path.rsplit("/", 1)[-1].lower()
    reader: Callable[[str], Any] | None = {
        "pyproject.toml": _toml_section,
        "setup.cfg": _cfg_section,
    }.get(name)
    if reader is None:
        return False
    return bool(reader(before or "") != reader(after or ""))


def pytest_config_reasons(
    changed: Iterable[str],
    read_before: Callable[[str], str | None],
    read_after: Callable[[str], str | None],
) -> list[str]:
    """Gate reasons for changed pytest sections of `pyproject.toml`/`setup.cfg` (whole files that
    change how tests run are named by the policy's `test_infrastructure` patterns)."""
    return [
        f"touches the pytest section of {path} ({TEST_INFRASTRUCTURE_REASON})"
        for path in changed
        if pytest_section_changed(path, read_before(path), read_after(path))
    ]
