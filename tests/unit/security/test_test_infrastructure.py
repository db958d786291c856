"""Test infrastructure is not a test: the tester may not write it, a coder change to it is gated."""

from __future__ import annotations

import pytest

from bot.policy.decide import TEST_INFRASTRUCTURE_REASON, evaluate, is_test_infrastructure
from bot.policy.decide import load_default_policy as default_policy
from bot.security.test_infrastructure import (
    infrastructure_refusal,
    plugin_hooks,
    pytest_config_reasons,
    pytest_section_changed,
)
from bot.shared.contracts import EditOperation, FileEdit, Gate, SearchReplace

INFRASTRUCTURE = [
    "conftest.py",
    "tests/conftest.py",
    "src/pkg/tests/unit/conftest.py",
    "pytest.ini",
    "sub/tox.ini",
    "tests/pytest_forge.py",
    "jest.config.js",
    "web/vitest.config.ts",
    ".mocharc.yml",
    ".draftsmith/junit.xml",
]


@pytest.mark.parametrize("path", INFRASTRUCTURE)
def test_test_infrastructure_paths_are_named_by_the_policy(path: str) -> None:
    assert is_test_infrastructure(path, default_policy())


@pytest.mark.parametrize("path", ["tests/test_median.py", "calc/stats.py", "src/a_test.go"])
def test_tests_and_code_are_not_test_infrastructure(path: str) -> None:
    assert not is_test_infrastructure(path, default_policy())


@pytest.mark.parametrize("path", ["tests/conftest.py", "pytest.ini", "vitest.config.mjs"])
def test_a_coder_change_to_test_infrastructure_is_gated_with_the_reason(path: str) -> None:
    decision = evaluate([path, "calc/stats.py"], {}, default_policy())
    assert decision.gate is Gate.needs_approval
    assert decision.reasons == [f"touches {path} ({TEST_INFRASTRUCTURE_REASON})"]
    assert decision.risky_paths == [path]


def test_the_tester_may_not_write_a_conftest() -> None:
    edits = [
        FileEdit(path="tests/test_median.py", operation=EditOperation.create, content="x = 1\n"),
        FileEdit(path="tests/conftest.py", operation=EditOperation.create, content="x = 1\n"),
    ]
    why = infrastructure_refusal(edits, default_policy())
    assert why is not None and "tests/conftest.py (changes how tests run)" in why
    assert "tests/test_median.py" not in why


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("pytest_plugins = [__name__]\n", id="pytest_plugins"),
        pytest.param(
            "import pytest\n\ndef pytest_runtest_makereport(item, call):\n    pass\n", id="hook"
        ),  # fmt: skip
        pytest.param("import sys\nsys.modules[__name__].pytest_plugins = ['x']\n", id="attr"),
        pytest.param("pytest_plugins = ['x'\n", id="unparseable"),
    ],
)
def test_the_tester_may_not_declare_hooks_in_a_test_file(content: str) -> None:
    edits = [FileEdit(path="tests/test_median.py", operation=EditOperation.create, content=content)]
    why = infrastructure_refusal(edits, default_policy())
    assert why is not None and "tests/test_median.py (declares" in why


def test_hooks_added_by_a_search_replace_block_are_refused() -> None:
    block = SearchReplace(search="x = 1\n", replace="pytest_plugins = ['evil']\n")
    edits = [FileEdit(path="tests/test_a.py", operation=EditOperation.update, blocks=[block])]
    assert infrastructure_refusal(edits, default_policy()) is not None


def test_plain_tests_are_accepted() -> None:
    content = "from calc import median\n\n\ndef test_median():\n    assert median([1, 3]) == 2\n"
    edits = [FileEdit(path="tests/test_median.py", operation=EditOperation.create, content=content)]
    assert infrastructure_refusal(edits, default_policy()) is None
    assert plugin_hooks("tests/test_median.py", content) == []


@pytest.mark.parametrize(
    ("path", "before", "after", "changed"),
    [
        ("pyproject.toml", '[project]\nname = "a"\n', '[project]\nname = "b"\n', False),
        ("pyproject.toml", "", '[tool.pytest.ini_options]\naddopts = "-p forge"\n', True),
        ("pyproject.toml", "[tool.pytest]\nx = 1\n", "[tool.pytest]\nx = 2\n", True),
        ("setup.cfg", "[metadata]\nname = a\n", "[metadata]\nname = b\n", False),
        ("setup.cfg", "[metadata]\n", "[tool:pytest]\naddopts = -p forge\n", True),
        ("calc/stats.py", "a", "b", False),
    ],
)
def test_a_changed_pytest_section_is_found(
    path: str, before: str, after: str, changed: bool
) -> None:
    assert pytest_section_changed(path, before, after) is changed


def test_a_changed_pytest_section_is_a_gate_reason() -> None:
    before = {"pyproject.toml": '[project]\nname = "a"\n'}
    after = {"pyproject.toml": '[project]\nname = "a"\n[tool.pytest.ini_options]\naddopts = "-x"\n'}
    reasons = pytest_config_reasons(["pyproject.toml", "calc/x.py"], before.get, after.get)
    expected = f"touches the pytest section of pyproject.toml ({TEST_INFRASTRUCTURE_REASON})"
    assert reasons == [expected]
