"""Which of the base's tests must run or be read (bot.testing.selection): pure decisions."""

from __future__ import annotations

from bot.shared.contracts import TestReport, TestStatus
from bot.testing.cases import CaseResults, CaseStatus
from bot.testing.selection import BaseSelection, base_selection, defined_tests, describe

PASSED = TestReport(
    status=TestStatus.passed, tests_passed=2, tests_failed=0, command="pytest", duration_s=1
)
FAILED = TestReport(
    status=TestStatus.failed, tests_passed=1, tests_failed=1, command="pytest", duration_s=1
)
CASES = CaseResults({"tests.test_a::test_a": CaseStatus.passed})
BASE = ["pkg/__init__.py", "tests/test_a.py", "tests/conftest.py", "tests/b_test.py"]
PLAIN = "def test_a():\n    pass\n"
INHERITS = (
    "import unittest\n\n\nclass TestB(unittest.TestCase):\n    def test_b(self):\n        pass\n"
)
SOURCES = {"tests/test_a.py": PLAIN, "tests/b_test.py": INHERITS}


def test_edited_test_modules_are_read_when_their_source_says_which_tests_they_have() -> None:
    touched = ["pkg/__init__.py", "tests/test_a.py", "tests/conftest.py", "tests/data/x.json",
               "tests/b_test.py", "tests/test_new.py"]  # fmt: skip
    cases = CaseResults({**CASES.cases, "tests.b_test.TestB::test_b": CaseStatus.passed})
    selection = base_selection(PASSED, cases, touched, BASE, SOURCES.__getitem__)
    assert selection is not None
    assert selection.run == ["tests/b_test.py"]  # a class with base classes may inherit tests
    assert selection.read == {"tests/test_a.py": {("test_a",)}}


def test_no_edited_test_module_on_the_base_needs_nothing_there() -> None:
    selection = base_selection(PASSED, CASES, ["pkg/__init__.py", "tests/test_new.py"], BASE,
                               SOURCES.__getitem__)  # fmt: skip
    assert selection == BaseSelection()
    assert describe(selection).startswith("The base's whole suite did not run")


def test_any_failure_or_a_run_that_ran_nothing_needs_the_whole_suite() -> None:
    read = SOURCES.__getitem__
    failing = CaseResults({"tests.test_a::test_a": CaseStatus.failed})
    assert base_selection(PASSED, failing, ["tests/test_a.py"], BASE, read) is None
    assert base_selection(FAILED, CASES, ["tests/test_a.py"], BASE, read) is None
    broken = CaseResults(collection_errors={"tests.test_a": "ImportError"})
    assert base_selection(PASSED, broken, ["tests/test_a.py"], BASE, read) is None
    assert base_selection(PASSED, CaseResults(), [], BASE, read) is None


def test_defined_tests_names_functions_methods_nested_classes_and_bound_names() -> None:
    source = (
        "from helpers import test_shared\nimport os.path\n\n"
        "test_made = make()\n\n\ndef test_x():\n    pass\n\n\n"
        "class TestY:\n    def test_y(self):\n        pass\n\n"
        "    class TestInner:\n        async def test_z(self):\n            pass\n"
    )
    defined = defined_tests(source)
    assert defined is not None and defined.unsure == set()
    assert defined.tests == {
        ("test_shared",), ("os",), ("test_made",), ("test_x",), ("TestY", "test_y"),
        ("TestY", "TestInner", "test_z"),
    }  # fmt: skip
    inherits = defined_tests("class TestX(Base):\n    def test_own(self):\n        pass\n")
    assert inherits is not None and inherits.unsure == {("TestX",)}  # may inherit tests
    assert not inherits.says({("TestX",)}) and inherits.says({()})
    conditional = "import sys\n\nif sys.platform == 'linux':\n\n    def test_x():\n        pass\n"
    unsure = defined_tests(conditional)  # may not exist where the suite runs
    assert unsure is not None and unsure.unsure == {()} and not unsure.says({()})
    guarded = "class TestX:\n    try:\n        def test_y(self):\n            pass\n"
    unsure = defined_tests(guarded + "    except Exception:\n        pass\n")
    assert unsure is not None and not unsure.says({("TestX",)}) and unsure.says({()})
    optional = "try:\n    import trio\nexcept ImportError:\n    trio = None\n"
    unsure = defined_tests(optional)  # no test defined under the condition
    assert unsure is not None and unsure.tests == set() and unsure.unsure == set()
    assert defined_tests("def broken(:\n") is None


def test_a_helper_class_with_base_classes_holding_none_of_the_cases_does_not_stop_reading() -> None:
    """click's tests/test_termui.py: `class _CustomTypeNoValue(click.ParamType)` beside test
    functions; the change's cases are top-level functions, so the module is read."""
    helper = "import click\n\n\nclass _Type(click.ParamType):\n    name = 't'\n\n\n" + PLAIN
    sources = {"tests/test_a.py": helper}
    selection = base_selection(PASSED, CASES, ["tests/test_a.py"], BASE, sources.__getitem__)
    assert selection is not None and selection.run == []
    assert ("test_a",) in selection.read["tests/test_a.py"]
    in_class = CaseResults({"tests.test_a._Type::test_a": CaseStatus.passed})  # a TestCase, maybe
    selection = base_selection(PASSED, in_class, ["tests/test_a.py"], BASE, sources.__getitem__)
    assert selection is not None and selection.run == ["tests/test_a.py"]


def test_known_cases_match_parameters_classes_and_modules() -> None:
    selection = BaseSelection(read={"tests/test_a.py": {("test_a",), ("TestK", "test_k")}})
    cases = [
        "tests.test_a::test_a[1-2]", "tests.test_a.TestK::test_k", "tests.test_a::test_new",
        "tests.test_ab::test_a", "tests.test_a.TestOther::test_k",
    ]  # fmt: skip
    assert selection.known(cases) == ["tests.test_a.TestK::test_k", "tests.test_a::test_a[1-2]"]


def test_the_evidence_names_what_was_read_and_run_quoting_paths_as_data() -> None:
    read = {f"tests/test_{i}.py": set() for i in range(7)}
    text = describe(BaseSelection(run=["tests/test_`x`.py"], read=read))
    assert "`tests/test_0.py`" in text and "and 2 more" in text
    assert "by running them there, of ``tests/test_`x`.py``" in text
