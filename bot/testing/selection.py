"""Which of the base's tests must run, when its whole suite is not already cached.

The base's suite answers three questions about the change's run (bot.testing.proof): which of
the change's failures were already failing, whether the base could run at all, and which cases
of the test modules the change edits the base already had. When the change's whole suite passed
(pytest, judged per case), the first has no failure to ask about, and the base's run of the new
test files (the proof's own) answers the second. The third is read from the base's versions of
the edited test modules: their test functions and the methods of their test classes, by name
(`defined_tests`). A module whose source cannot say for sure runs on the base instead: a syntax
error, or a class the change's cases of it are in that has base classes (it may inherit tests)
or defines under a condition. The evidence says what was
done (`describe`). Any failure with the change, another runner, or a suite judged by its exit
code runs the whole suite on the base, as before, and that result is cached per base commit.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from bot.github.markdown import code
from bot.shared.contracts import TestReport, TestStatus
from bot.testing.cases import CaseResults, in_module, module_of

MAX_SOURCE_CHARS = 1_000_000  # a larger test module runs on the base instead of being read
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass
class BaseSelection:
    """What the verdict needs of the base instead of its whole suite."""

    run: list[str] = field(default_factory=list)
    """Base test modules to run (their source cannot say which tests they have)."""
    read: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)
    """Base test modules read instead: path -> the tests they define (`defined_tests`)."""

    def known(self, cases: Iterable[str]) -> list[str]:
        """The `cases` (`module.Class::name[param]`) that a module read here defines."""
        found = []
        for case in cases:
            name = case.partition("::")[2]
            for path, tests in self.read.items():
                module = module_of(path)
                if (
                    in_module(case, module)
                    and (*case_class(case, module), name.split("[")[0]) in tests
                ):
                    found.append(case)
        return sorted(found)


def test_module(path: str) -> bool:
    """Whether a path is a module pytest collects by its default name (`test_*.py`, `*_test.py`)."""
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


@dataclass
class ModuleTests:
    """What a test module's source says about its tests (`defined_tests`)."""

    tests: set[tuple[str, ...]]
    """(`test_x`,) for a function, (`TestX`, `test_y`) for a method, nested classes deeper; a
    name bound at the top level by assignment or import counts too."""
    unsure: set[tuple[str, ...]]
    """Classes whose tests the source cannot list: a class with base classes (it may inherit
    tests), one that defines under a condition, a loop or a `with`; () for the whole module."""

    def says(self, classes: Iterable[tuple[str, ...]]) -> bool:
        """Whether the source lists every test of these classes (() is the module's top level)."""
        return not any(c[: len(u)] == u for c in classes for u in self.unsure)


def defined_tests(source: str) -> ModuleTests | None:
    """What a module's source defines, parsed, never run (`ModuleTests`); None when it cannot be
    read (no parse, over 1 MB)."""
    if len(source) > MAX_SOURCE_CHARS:  # repository text, parsed (never run) in the worker
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = ModuleTests(set(), set())

    def walk(body: list[ast.stmt], prefix: tuple[str, ...]) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef):
                if node.bases or node.keywords:
                    found.unsure.add((*prefix, node.name))
                walk(node.body, (*prefix, node.name))
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.tests.add((*prefix, node.name))
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                found.tests.update((*prefix, t.id) for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Import | ast.ImportFrom) and not prefix:
                found.tests.update(((a.asname or a.name).split(".")[0],) for a in node.names)
            elif any(isinstance(n, DEFINITIONS) for n in ast.walk(node)):
                found.unsure.add(prefix)  # defined under `if`, `try`, `with`, a loop: may not exist

    walk(tree.body, ())
    return found


def case_class(case: str, module: str) -> tuple[str, ...]:
    """The class path of a case (`module.Class.Inner::name`) of `module`; () at its top level."""
    classname = case.partition("::")[0]
    return (
        tuple(filter(None, classname[len(module) + 1 :].split("."))) if classname != module else ()
    )


def base_selection(
    report: TestReport,
    after: CaseResults,
    touched: Iterable[str],
    base_paths: Iterable[str],
    source_at_base: Callable[[str], str],
) -> BaseSelection | None:
    """What to run or read on the base instead of its whole suite; None for the whole suite.
    Only for pytest judged case by case (not an exit code, not another runner). A module is read
    when its base source lists every test of the classes the change's cases of it are in: a
    helper class with base classes (`class _Type(click.ParamType)`) that holds none of them does
    not stop it (`ModuleTests.says`)."""
    if report.status is not TestStatus.passed or after.failing() or after.empty:
        return None
    on_base = set(base_paths)
    selection = BaseSelection()
    for path in sorted(p for p in set(touched) if test_module(p) and p in on_base):
        defined = defined_tests(source_at_base(path))
        module = module_of(path)
        classes = {case_class(c, module) for c in after.cases if in_module(c, module)}
        if defined is None or not defined.says(classes):
            selection.run.append(path)
        else:
            selection.read[path] = defined.tests
    return selection


def describe(selection: BaseSelection) -> str:
    """What was done on the base instead of its whole suite, for the evidence (Markdown: our
    words, the paths as code spans)."""
    text = "The base's whole suite did not run: the change's suite passed, so no result there "
    text += "could change the verdict."
    if selection.read:
        text += " The tests the edited test modules already had were read from the base's "
        text += f"versions of {_listed(selection.read)}"
        text += (
            f" and, by running them there, of {_listed(selection.run)}." if selection.run else "."
        )
    elif selection.run:
        text += (
            f" The tests the edited test modules already had were found by running the base's "
            f"versions of {_listed(selection.run)}."
        )
    return text


def _listed(paths: Iterable[str]) -> str:
    names = sorted(paths)
    listed = ", ".join(code(p) for p in names[:5])  # repository paths: data, quoted inertly
    return listed + (f" and {len(names) - 5} more" if len(names) > 5 else "")
