"""Draftsmith's pytest witness: streams each test's outcome to a pipe Draftsmith holds.

Copied into the sandbox toolbox as the top-level module `draftsmith_witness` and loaded with
`-p draftsmith_witness`, so it is registered before any conftest.py. It writes one JSON line per
test phase (as pytest's own report says, before any later-registered hook wrapper can change
it, plus whether the phase raised) and one line when the session finishes, to the file
descriptor named by `DRAFTSMITH_WITNESS_FD_VAR`: the write end of a pipe whose read end stays
outside the sandbox. Lines already written cannot be taken back. Draftsmith compares them with
the JUnit file and the exit code (`bot.sandbox.witness`).

Only the standard library and pytest: this file runs inside the sandbox, not in the bot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator
from typing import Any

import pytest

WITNESS_FD_VAR = "PYTEST_WITNESS_FD"
_state: dict[str, Any] = {"fd": None, "config": None}


def _emit(record: dict[str, Any]) -> None:
    fd = _state["fd"]
    if fd is None:
        return
    data = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _junit_name(config: pytest.Config, nodeid: str) -> str:
    """The `classname::name` pytest's JUnit report gives this node id."""
    from _pytest.junitxml import mangle_test_address

    names = mangle_test_address(nodeid)
    classnames = names[:-1]
    prefix = getattr(config.option, "junitprefix", None)
    if prefix:
        classnames.insert(0, prefix)
    return f"{'.'.join(classnames)}::{names[-1]}".strip(":")


def pytest_configure(config: pytest.Config) -> None:
    """Open the witness pipe (its number comes from the environment) and say pytest started."""
    _state["config"] = config
    raw = os.environ.get(WITNESS_FD_VAR, "")
    if raw.isdigit():
        # A duplicate: code that closes the inherited number does not silence the witness. A
        # process without the pipe (e.g. a worker that did not inherit it) writes nothing.
        try:
            _state["fd"] = os.dup(int(raw))
        except OSError:
            return
        os.set_inheritable(_state["fd"], False)
    _emit({"event": "start", "pid": os.getpid(), "pytest": pytest.__version__})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Record each phase's outcome as pytest made it, before outer wrappers see the report.

    An old-style wrapper (`hookwrapper=True`): the project's own pytest may come with a pluggy
    older than 1.1, which has no `wrapper=True`."""
    result = yield
    report = result.get_result()
    excinfo = call.excinfo
    skip_types = (pytest.skip.Exception, pytest.xfail.Exception)
    raised = excinfo is not None and not isinstance(excinfo.value, skip_types)
    _emit(
        {
            "event": "case",
            "junit": _junit_name(item.config, report.nodeid),
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "raised": raised,
            "xfail": hasattr(report, "wasxfail"),
        }
    )


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module that fails to collect is an error case in the JUnit report; one that skips
    itself (`pytest.importorskip`, `pytest.skip(allow_module_level=True)`) a skipped case."""
    if (report.failed or report.skipped) and _state["config"] is not None:
        name = _junit_name(_state["config"], report.nodeid)
        outcome = "failed" if report.failed else "skipped"
        _emit({"event": "collect", "junit": name, "nodeid": report.nodeid, "outcome": outcome})


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Generator[None, Any, None]:
    """Record the exit status pytest computed, before any other hook could change it (nothing
    when a later hook raised: pytest then ends with its own internal-error status)."""
    failed = session.testsfailed
    result = yield
    if result.excinfo is None:
        _emit({"event": "finish", "exitstatus": int(exitstatus), "testsfailed": failed})
