"""Forged pytest results are caught: the witness stream against the JUnit file and the exit code.

Each forgery runs for real with the toolbox's pytest in each sandbox backend (bubblewrap, and
Docker, where the witness reaches the host through a FIFO): an honest suite with every kind of
outcome (skips, xfails, parametrised and class tests, errors) must never be flagged.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.sandbox.base import Limits, Sandbox
from bot.sandbox.runners import run_pytest
from bot.sandbox.toolbox import build_python_toolbox
from bot.sandbox.witness import TAMPERED
from bot.shared.contracts import TestStatus
from tests.helpers.sandboxes import BACKENDS, make_sandbox

LIMITS = Limits(wall_time_s=60, cpu_time_s=60)
WRONG_MEDIAN = "def median(values):\n    return 0\n"
MEDIAN_TEST = (
    "from stats import median\n\n\ndef test_median():\n    assert median([1, 2, 3]) == 2\n"
)
FORGED_JUNIT = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" '
    'failures="0" skipped="0" tests="1"><testcase classname="tests.test_median" '
    'name="test_median" time="0.001" /></testsuite></testsuites>'
)


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    toolbox = build_python_toolbox(tmp_path_factory.mktemp("toolbox"))
    return make_sandbox(request.param, toolbox=toolbox, uid_base=2_100_300)


def _repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"stats.py": WRONG_MEDIAN, **files}.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))
    return root


FORGERIES = {
    "conftest-makereport-wrapper": {
        "tests/test_median.py": MEDIAN_TEST,
        "tests/conftest.py": """
            import pytest

            @pytest.hookimpl(hookwrapper=True)
            def pytest_runtest_makereport(item, call):
                outcome = yield
                report = outcome.get_result()
                report.outcome = "passed"
                report.longrepr = None
        """,
    },
    "conftest-logreport": {
        "tests/test_median.py": MEDIAN_TEST,
        "conftest.py": """
            import pytest

            @pytest.hookimpl(tryfirst=True)
            def pytest_runtest_logreport(report):
                report.outcome = "passed"
        """,
    },
    "conftest-exitstatus": {
        "tests/test_median.py": MEDIAN_TEST,
        "conftest.py": """
            import pytest

            @pytest.hookimpl(trylast=True)
            def pytest_sessionfinish(session, exitstatus):
                session.exitstatus = 0
        """,
    },
    "junit-rewritten-then-os-exit": {
        "tests/test_median.py": f"""
            import os
            from stats import median

            def test_median():
                if median([1, 2, 3]) != 2:
                    with open(".draftsmith/junit.xml", "w") as handle:
                        handle.write({FORGED_JUNIT!r})
                    os._exit(0)
        """,
    },
    "junit-rewritten-at-exit": {
        "tests/test_median.py": f"""
            import atexit, os
            from stats import median

            def _forge():
                with open(".draftsmith/junit.xml", "w") as handle:
                    handle.write({FORGED_JUNIT!r})
                os._exit(0)

            def test_median():
                atexit.register(_forge)
                assert median([1, 2, 3]) == 2
        """,
    },
    "witness-blocked-by-ini": {
        "tests/test_median.py": MEDIAN_TEST,
        "pytest.ini": "[pytest]\naddopts = -p no:draftsmith_witness\n",
        "conftest.py": """
            import pytest

            @pytest.hookimpl(tryfirst=True)
            def pytest_runtest_logreport(report):
                report.outcome = "passed"
        """,
    },
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_forged_results_are_caught_by_the_cross_check(
    sandbox: Sandbox, tmp_path: Path, forgery: str
) -> None:
    workdir = _repo(tmp_path, FORGERIES[forgery])
    report = await run_pytest(sandbox, workdir, LIMITS)
    assert report.tampered is not None, report
    assert report.status is TestStatus.error
    assert report.tests_passed == 0
    assert report.failure_details.startswith(TAMPERED)


HONEST_SUITE = {
    "tests/test_kinds.py": """
        import pytest
        from stats import median

        def test_passes():
            assert median([]) == 0

        @pytest.mark.parametrize("values", [[1], [1, 2, 3], [3, 2, 1]], ids=["one", "odd", "rev"])
        def test_parametrised(values):
            assert median(values) == 0

        @pytest.mark.skip(reason="not today")
        def test_skipped():
            raise AssertionError

        def test_skipped_inside():
            pytest.skip("later")

        @pytest.mark.xfail(reason="known")
        def test_xfail():
            assert median([1, 2, 3]) == 2

        @pytest.mark.xfail(reason="flaky")
        def test_xpass():
            assert True

        class TestGroup:
            def test_in_class(self):
                assert median([5]) == 0

        @pytest.fixture
        def broken():
            yield
            raise RuntimeError("teardown fails")

        def test_teardown_error(broken):
            assert True

        def test_fails():
            assert median([1, 2, 3]) == 2
    """,
    # a module that skips itself when an optional dependency is missing (a collection skip)
    "tests/test_optional.py": """
        import pytest

        pytest.importorskip("an_optional_dependency_nobody_installs")

        def test_with_it():
            assert False
    """,
}


async def test_an_honest_suite_with_every_outcome_is_not_flagged(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    workdir = _repo(tmp_path, HONEST_SUITE)
    report = await run_pytest(sandbox, workdir, LIMITS)
    assert report.tampered is None, report.tampered
    assert report.status is TestStatus.failed
    assert report.tests_failed == 2  # test_fails and the teardown error
    assert report.tests_skipped == 4  # two skips, the xfail and the module that skips itself


async def test_an_honest_collection_error_is_not_flagged(sandbox: Sandbox, tmp_path: Path) -> None:
    files = {"tests/test_median.py": MEDIAN_TEST, "tests/test_broken.py": "import not_a_module\n"}
    report = await run_pytest(sandbox, _repo(tmp_path, files), LIMITS)
    assert report.tampered is None, report.tampered
    assert report.status is TestStatus.error


async def test_an_honest_passing_suite_is_not_flagged(sandbox: Sandbox, tmp_path: Path) -> None:
    right = {"stats.py": "def median(values):\n    return sorted(values)[len(values) // 2]\n"}
    workdir = _repo(tmp_path, {**right, "tests/test_median.py": MEDIAN_TEST})
    report = await run_pytest(sandbox, workdir, LIMITS)
    assert report.tampered is None
    assert (report.status, report.tests_passed) == (TestStatus.passed, 1)
