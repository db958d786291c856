"""A pytest plugin, copied into the sandbox toolbox: coverage of the change, per test.

Loaded with `-p draftsmith_coverage_contexts --draftsmith-coverage=PLAN`, where PLAN is a JSON
file in the workdir: `{"rcfile": ..., "json": ..., "tests": [test files] or null}`. The plugin
runs coverage.py itself, in the pytest process, with Draftsmith's rcfile (the changed source
files only, lines only):

- from before the first conftest is imported until collection ends (imports run module-level
  code), with the empty context;
- then, with `tests` null, for the whole run; with a list of test files, only while a test of
  those files runs: the rest of the suite runs untraced, at full speed.

Each test runs under its node id as coverage's dynamic context, so `--show-contexts` says which
test executed each line. At the end the data is saved and the JSON report (`json`) written.
Nothing the plugin does can change the run's outcome: a coverage failure is only printed (in
pytest's terminal summary, or on stderr at the very end).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Generator
from typing import Any

import pytest

_state: dict[str, Any] = {}
_problems: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plan file's option."""
    parser.addoption("--draftsmith-coverage", default=None, help="Draftsmith's coverage plan")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Start measuring before any conftest (or the code it imports) is loaded."""
    plan_path = getattr(early_config.known_args_namespace, "draftsmith_coverage", None)
    if not plan_path or _state:
        return
    try:
        import coverage

        with open(plan_path, encoding="utf-8") as handle:
            plan = json.load(handle)
        tests = plan.get("tests")
        cov = coverage.Coverage(config_file=plan["rcfile"])
        cov.start()
    except Exception as exc:  # noqa: BLE001 - coverage must never change the run
        _problems.append(f"not started: {exc!r}")
        return
    _state.update(
        cov=cov,
        json=plan["json"],
        tests=None if tests is None else {os.path.abspath(t) for t in tests},
        running=True,
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """With a list of test files, collection is the last thing measured outside their tests."""
    if _state.get("tests") is not None and _state["running"]:
        _state["running"] = False
        _safely(_state["cov"].stop)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, None, None]:
    """Record everything a measured test runs (setup, call, teardown) under its node id."""
    cov, targeted = _state.get("cov"), _state.get("tests")
    measured = cov is not None and (
        targeted is None or os.path.abspath(str(_item_path(item))) in targeted
    )
    if measured:
        _safely(lambda: _measure(cov, item.nodeid, start=targeted is not None))
    yield
    if measured:
        _safely(lambda: _measure(cov, "", stop=targeted is not None))


def _measure(cov: Any, context: str, start: bool = False, stop: bool = False) -> None:
    if start:
        cov.start()
        _state["running"] = True
    cov.switch_context(context)
    if stop:
        cov.stop()
        _state["running"] = False


def _safely(action: Any) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - coverage must never change the run
        _problems.append(repr(exc))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say what went wrong with coverage (output at startup would be captured and lost)."""
    for problem in _problems:
        terminalreporter.write_line(f"draftsmith coverage: {problem}")


def _item_path(item: pytest.Item) -> object:
    return getattr(item, "path", None) or item.fspath


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Save the data and write the JSON report with each line's contexts."""
    cov = _state.pop("cov", None)
    if cov is None:
        return
    try:
        if _state.get("running"):
            cov.stop()
        cov.save()
        cov.json_report(outfile=_state["json"], show_contexts=True)
    except Exception as exc:  # noqa: BLE001 - coverage must never change the run
        print(f"draftsmith coverage: no report: {exc!r}", file=sys.stderr)
    _state.clear()
