"""Which new tests pin a change, what was already failing, what is not the code's (pure)."""

from __future__ import annotations

import pytest

from bot.testing.cases import CaseResults, CaseStatus, read_cases, read_go_cases
from bot.testing.command import parse_test_command
from bot.testing.proof import (
    already_failing,
    already_failing_cases,
    environment_problem,
    project_packages,
    prove,
)

P, F, E = CaseStatus.passed, CaseStatus.failed, CaseStatus.error
PACKAGES = {"calc", "tests"}
NEW = ["tests/test_new.py"]
IMPORT_ERROR = "E   ImportError: cannot import name 'subtract' from 'calc'"


def results(cases: dict[str, CaseStatus], errors: dict[str, str] | None = None) -> CaseResults:
    return CaseResults(cases, errors or {})


def test_only_cases_that_failed_or_could_not_import_on_the_base_are_pinned() -> None:
    after = results({"tests.test_new::test_a": P, "tests.test_new::test_b": P})
    base = results({"tests.test_new::test_a": F, "tests.test_new::test_b": P})
    proof = prove(after, base, NEW, PACKAGES)
    assert proof.pinned == {"tests.test_new::test_a": "failed on the base"}
    assert proof.new_tests == ["tests.test_new::test_a", "tests.test_new::test_b"]
    not_collected = prove(after, results({}, {"tests.test_new": IMPORT_ERROR}), NEW, PACKAGES)
    assert sorted(not_collected.pinned) == proof.new_tests


def test_a_case_that_fails_alone_with_the_change_too_pins_nothing() -> None:
    """structlog: tests that pass in the whole suite (another module imported what they rely on)
    and fail when their file runs alone, before and after the change alike."""
    after = results({"tests.test_new::test_a": P, "tests.test_new::test_b": P})
    base = results({"tests.test_new::test_a": F, "tests.test_new::test_b": F})
    alone = results({"tests.test_new::test_a": P, "tests.test_new::test_b": F})
    proof = prove(after, base, NEW, PACKAGES, alone)
    assert proof.pinned == {"tests.test_new::test_a": "failed on the base"}
    assert proof.new_tests == ["tests.test_new::test_a", "tests.test_new::test_b"]


def test_a_collection_error_that_is_not_an_import_pins_nothing() -> None:
    after = results({"tests.test_new::test_a": P})
    base = results({}, {"tests.test_new": "E   SyntaxError: invalid syntax"})
    assert prove(after, base, NEW, PACKAGES).pinned == {}


@pytest.mark.parametrize(
    ("base", "why"),
    [
        pytest.param(results({}), "nothing was collected", id="nothing-collected"),
        pytest.param(
            results({}, {"tests.test_new": "E   ModuleNotFoundError: No module named 'calc'"}),
            "the project's own package 'calc' is not importable",
            id="own-package-missing",
        ),
    ],
)
def test_a_base_that_fails_as_a_whole_claims_no_proof(base: CaseResults, why: str) -> None:
    proof = prove(results({"tests.test_new::test_a": P}), base, NEW, PACKAGES)
    assert proof.pinned == {} and why in (proof.base_problem or "")


def test_a_new_module_the_change_adds_is_not_an_environment_problem() -> None:
    base = results({}, {"tests.test_new": "E   ModuleNotFoundError: No module named 'calc2'"})
    proof = prove(results({"tests.test_new::test_a": P}), base, NEW, PACKAGES)
    assert proof.base_problem is None and list(proof.pinned) == ["tests.test_new::test_a"]


def test_failures_already_on_the_base_are_told_from_new_ones() -> None:
    after = results({"tests.test_x::test_old": F, "tests.test_x::test_new": E})
    base = results({"tests.test_x::test_old": F, "tests.test_x::test_new": P})
    assert already_failing(after, base) == (["tests.test_x::test_old"], ["tests.test_x::test_new"])


def test_a_case_failing_the_same_way_on_the_base_in_the_same_kind_of_run_is_already_failing() -> (
    None
):
    """Only cases the change adds, or that pass on the base and fail with it, are the change's."""
    old, added, broken = (
        "tests.test_x::test_old",
        "tests.test_x::test_added",
        "tests.test_x::test_b",
    )
    cases = [old, added, broken]
    base_suite = results({old: P, broken: P})  # the base's own version of the modified file
    # the file alone: `old` fails alone on the base and with the change (order-dependent)
    after_alone = results({old: F, added: F, broken: F})
    base_alone = results({old: F, added: F, broken: P})
    assert already_failing_cases(cases, after_alone, base_alone, base_suite) == [old]
    # the whole suite: `old` passes on the base there, so its failure would be the change's
    after_suite = results({old: F, added: F, broken: P})
    assert already_failing_cases(cases, after_suite, base_suite, base_suite) == []
    failing_base = results({old: E, broken: P})
    assert already_failing_cases(cases, after_suite, failing_base, failing_base) == [old]


def test_a_collection_error_in_an_untouched_file_that_the_base_shares_is_not_the_code() -> None:
    error = {"tests.test_old": "E   DeprecationWarning: turned into an error"}
    after = results({"tests.test_new::test_a": P}, error)
    problem = environment_problem(after, results({}, error), None, touched=["calc/__init__.py"])
    assert problem is not None and "tests.test_old" in problem
    # the same error caused by the change (not on the base) is the code's
    assert environment_problem(after, results({"a::b": P}), None, ["calc/__init__.py"]) is None


def test_collection_errors_and_cases_are_read_from_pytest_junit() -> None:
    xml = (
        '<testsuites><testsuite><testcase classname="" name="tests.test_bad">'
        '<error message="collection failure">ImportError</error></testcase>'
        '<testcase classname="tests.test_ok.TestA" name="test_a"/>'
        '<testcase classname="tests.test_ok" name="test_b"><skipped/></testcase>'
        "</testsuite></testsuites>"
    )
    found = read_cases(xml)
    assert found.collection_errors == {"tests.test_bad": "ImportError"}
    assert found.cases == {"tests.test_ok.TestA::test_a": P, "tests.test_ok::test_b": "skipped"}


def test_project_packages_include_the_src_layout() -> None:
    paths = ["src/jinja2/__init__.py", "tests/test_api.py", "setup.py", "README.md"]
    assert project_packages(paths) == {"jinja2", "tests", "setup"}


@pytest.mark.parametrize(
    ("text", "pytest_args"),
    [
        pytest.param("pytest -q tests/unit", ["-q", "tests/unit"], id="pytest"),
        pytest.param(".venv/bin/python -m pytest -x", ["-x"], id="python-m-pytest"),
        pytest.param("make test", None, id="exit-code"),
    ],
)
def test_a_pytest_test_command_keeps_its_options(text: str, pytest_args: list[str] | None) -> None:
    assert parse_test_command(text).pytest_args == pytest_args


GO_BASE_EVENTS = "\n".join(
    [
        '{"Action":"run","Package":"example.com/calc","Test":"TestAdd"}',
        '{"Action":"pass","Package":"example.com/calc","Test":"TestAdd"}',
        '{"Action":"pass","Package":"example.com/calc"}',
        '{"Action":"output","Package":"example.com/calc/sub","Output":"FAIL\\texample.com/calc/sub'
        ' [build failed]\\n"}',
        '{"Action":"fail","Package":"example.com/calc/sub","Elapsed":0}',
        "FAIL\texample.com/calc/old [build failed]",  # Go before 1.24: a plain line
    ]
)


def test_a_go_package_that_does_not_build_on_the_base_pins_its_new_tests() -> None:
    base = read_go_cases(GO_BASE_EVENTS)
    assert base.cases == {"example.com/calc.TestAdd": CaseStatus.passed}
    assert "build failed" in base.collection_errors["example.com/calc/sub"]
    assert "build failed" in base.collection_errors["example.com/calc/old"]
    after = read_go_cases(
        '{"Action":"pass","Package":"example.com/calc/sub","Test":"TestSubtract"}\n'
        '{"Action":"skip","Package":"example.com/calc/sub","Test":"TestLater"}\n'
    )
    assert after.cases["example.com/calc/sub.TestLater"] is CaseStatus.skipped
    proof = prove(after, base, ["sub/subtract_test.go"], set())
    assert proof.new_tests == [
        "example.com/calc/sub.TestLater",
        "example.com/calc/sub.TestSubtract",
    ]
    assert list(proof.pinned) == ["example.com/calc/sub.TestSubtract"]


@pytest.mark.parametrize(
    "error",
    [
        "E   TypeError: cachedmethod() got an unexpected keyword argument 'info'",
        "E   TypeError: Cache.__init__() takes 2 positional arguments but 3 were given",
        "E   TypeError: wrap() missing 1 required keyword-only argument: 'key'",
    ],
)
def test_a_module_that_calls_with_a_parameter_the_change_adds_is_pinned(error: str) -> None:
    """The module's own top-level code (a decorator, a class body) passes what the change adds:
    the base cannot collect it for the same reason a missing name would stop it."""
    base = results({}, {"tests.test_new": error})
    proof = prove(results({"tests.test_new::test_a": P}), base, NEW, PACKAGES)
    assert list(proof.pinned) == ["tests.test_new::test_a"]
    broken = results({}, {"tests.test_new": "E   TypeError: unsupported operand type(s)"})
    assert prove(results({"tests.test_new::test_a": P}), broken, NEW, PACKAGES).pinned == {}


def test_a_javascript_case_absent_on_the_base_pins_only_when_its_file_failed_to_load() -> None:
    spec = "test/serialize.js"
    after = results({f"{spec}::a": P, f"{spec}::b": P, f"{spec}::c": P})
    # the runner stopped at the first failure (mocha --bail in a config file): b and c never ran
    stopped = results({f"{spec}::a": CaseStatus.failed})
    assert prove(after, stopped, [spec], set()).pinned == {f"{spec}::a": "failed on the base"}
    # the file could not load on the base (it requires what the change adds): every case pins
    unloaded = results({}, {spec: "Error: Cannot find module '../lib/new'"})
    assert set(prove(after, unloaded, [spec], set()).pinned) == set(after.cases)
    other = results({"test/other.js::x": CaseStatus.failed}, {"test/other.js": "broken"})
    assert prove(after, other, [spec], set()).pinned == {}
