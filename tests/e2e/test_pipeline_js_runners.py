"""The local pipeline on real JavaScript/TypeScript projects tested with jest, vitest and mocha:
each installed by the real npm from the registry in the sandbox's setup phase, its suite run by
its own runner with per-test results, and the new test proven fail-before/pass-after."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.shared.config import Settings
from tests.helpers.local_pipeline import RunPipeline, local_pipeline
from tests.helpers.node_projects import keep_downloads, locked_project, run_cache, seed_downloads
from tests.helpers.repos import git, make_repo
from tests.helpers.scripts import APPROVED

__all__ = ["local_pipeline"]
pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="needs node and npm")

CJS_ADD = "function add(a, b) {\n  return a + b;\n}\n"
CJS_SUBTRACT = "\nfunction subtract(a, b) {\n  return a - b;\n}\n"
TS_ADD = "export function add(a: number, b: number): number {\n  return a + b;\n}\n"
TS_SUBTRACT = "\nexport function subtract(a: number, b: number): number {\n  return a - b;\n}\n"


@dataclass(frozen=True)
class Project:
    """A small real project on one runner, and the change and test the model answers with."""

    runner: str
    files: dict[str, str]
    source: str
    search: str
    replace: str
    new_test: str
    new_test_text: str
    new_case: str
    """The new test's case as the runner's report names it (mocha joins titles itself)."""


def jest_project() -> Project:
    manifest = {
        "name": "calc-jest",
        "version": "1.0.0",
        "private": True,
        # a check chained after the runner: run as a check of its own, not as tests
        "scripts": {"test": "jest && node scripts/check-exports.js"},
        "devDependencies": {"jest": "29.7.0"},
    }
    files = {
        "calc.js": f"{CJS_ADD}\nmodule.exports = {{ add }};\n",
        "scripts/check-exports.js": "const calc = require('../calc');\n"
        "if (typeof calc.add !== 'function') process.exit(1);\n",
        "test/add.test.js": "const { add } = require('../calc');\n\n"
        "describe('add', () => {\n  test('adds', () => {\n    expect(add(2, 3)).toBe(5);\n"
        "  });\n});\n",
    }
    return Project(
        "jest",
        locked_project(manifest, files),
        "calc.js",
        f"{CJS_ADD}\nmodule.exports = {{ add }};\n",
        f"{CJS_ADD}{CJS_SUBTRACT}\nmodule.exports = {{ add, subtract }};\n",
        "test/subtract.test.js",
        "const { subtract } = require('../calc');\n\n"
        "describe('subtract', () => {\n  test('returns the difference', () => {\n"
        "    expect(subtract(5, 3)).toBe(2);\n  });\n});\n",
        "test/subtract.test.js::subtract > returns the difference",
    )


def vitest_project() -> Project:
    manifest = {
        "name": "calc-vitest",
        "version": "1.0.0",
        "private": True,
        "type": "module",
        "scripts": {"test": "vitest"},  # watch mode outside CI: Draftsmith runs `vitest run`
        "devDependencies": {"vitest": "2.1.9"},
    }
    files = {
        "src/calc.ts": TS_ADD,
        "test/add.test.ts": "import { describe, expect, test } from 'vitest';\n"
        "import { add } from '../src/calc';\n\n"
        "describe('add', () => {\n  test('adds', () => {\n    expect(add(2, 3)).toBe(5);\n"
        "  });\n});\n",
    }
    return Project(
        "vitest",
        {"package.json": _json(manifest), **files},  # no lock file: `npm install`
        "src/calc.ts",
        TS_ADD,
        TS_ADD + TS_SUBTRACT,
        "test/subtract.test.ts",
        "import { describe, expect, test } from 'vitest';\n"
        "import { subtract } from '../src/calc';\n\n"
        "describe('subtract', () => {\n  test('returns the difference', () => {\n"
        "    expect(subtract(5, 3)).toBe(2);\n  });\n});\n",
        "test/subtract.test.ts::subtract > returns the difference",
    )


def mocha_project() -> Project:
    manifest = {
        "name": "calc-mocha",
        "version": "1.0.0",
        "private": True,
        "scripts": {"test": "mocha 'test/**/*.spec.js'"},
        "devDependencies": {"mocha": "10.8.2"},
    }
    files = {
        "lib/calc.js": f"{CJS_ADD}\nmodule.exports = {{ add }};\n",
        "test/add.spec.js": "const assert = require('node:assert');\n"
        "const { add } = require('../lib/calc');\n\n"
        "describe('add', () => {\n  it('adds', () => {\n    assert.strictEqual(add(2, 3), 5);\n"
        "  });\n});\n",
    }
    return Project(
        "mocha",
        locked_project(manifest, files),
        "lib/calc.js",
        f"{CJS_ADD}\nmodule.exports = {{ add }};\n",
        f"{CJS_ADD}{CJS_SUBTRACT}\nmodule.exports = {{ add, subtract }};\n",
        "test/subtract.spec.js",
        "const assert = require('node:assert');\n"
        "const { subtract } = require('../lib/calc');\n\n"
        "describe('subtract', () => {\n  it('returns the difference', () => {\n"
        "    assert.strictEqual(subtract(5, 3), 2);\n  });\n});\n",
        "test/subtract.spec.js::subtract returns the difference",
    )


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"


def script_for(project: Project) -> dict[str, list[Any]]:
    """The planner's, coder's, tester's and reviewer's answers for the subtract feature."""
    plan = {
        "summary": f"Export subtract(a, b) from {project.source}.",
        "files_to_modify": [project.source],
        "acceptance_criteria": ["subtract(5, 3) returns 2"],
        "risk_level": "low",
    }
    change = {
        "edits": [
            {
                "path": project.source,
                "operation": "update",
                "blocks": [{"search": project.search, "replace": project.replace}],
            }
        ],
        "explanation": "Add subtract next to add.",
    }
    tests = {
        "focus": ["subtract returns the difference"],
        "files": [
            {"path": project.new_test, "operation": "create", "content": project.new_test_text}
        ],
    }
    return {"planner": [plan], "coder": [change], "tester": [tests], "reviewer": [APPROVED]}


@pytest.mark.parametrize(
    "make", [jest_project, vitest_project, mocha_project], ids=["jest", "vitest", "mocha"]
)
def test_a_project_on_its_own_runner_converges_with_its_new_test_pinned(
    make: Any, tmp_path: Path, local_pipeline: RunPipeline
) -> None:
    project = make()
    repo = make_repo(tmp_path / f"calc-{project.runner}", project.files)

    seeded: list[Path] = []

    def seed(settings: Settings) -> None:
        seeded.append(seed_downloads(run_cache(settings, repo), repo))

    result = local_pipeline(repo, script_for(project), before=seed)
    keep_downloads(seeded[0])
    assert result.code == 0, result.run.status_reason
    report = result.artifact("testreport.r0")
    # the runner's own figures: the existing test and the new one, nothing else counted
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    launched = "jest-run.js" if project.runner == "jest" else f"exec {project.runner} "
    assert launched in report["command"]
    outcome = result.artifact("testoutcome.r0")
    assert outcome["new_tests"] == outcome["pinned"] == [project.new_case]
    assert outcome["before"] == {project.new_case: False}
    assert outcome["after"] == {project.new_case: True}
    assert outcome["new_failures"] == [] and outcome["base_problem"] is None
    assert outcome["environment"]["installer"] == "npm"
    sources = "; ".join(outcome["environment"]["plan"]["sources"])
    assert ("npm install" if project.runner == "vitest" else "npm ci") in sources
    notes = "\n".join(outcome["environment"]["notes"])
    assert f"runner {project.runner} from scripts.test" in notes
    changed = git(repo, "diff", "--name-only", "main", result.run.branch).split()
    assert sorted(changed) == sorted([project.source, project.new_test])

    coverage = outcome["coverage"]  # of the new test's run (bot.testing.node_coverage)
    if project.runner == "vitest":  # the project has no @vitest/coverage-v8: unknown, not 0
        assert not coverage["available"] and coverage["lines"] == []
        assert coverage["reason"] == (
            "src/calc.ts: vitest: @vitest/coverage-v8 not installed in the project"
        )
    else:  # subtract's lines ran in the test; the exports line ran when the module loaded
        lines = {c["line"]: (c["executed"], c["tests"]) for c in coverage["lines"]}
        called = (True, [project.new_case])
        assert lines == {5: called, 6: called, 7: called, 9: (True, [])}, coverage

    if project.runner == "jest":  # `jest && node scripts/check-exports.js`
        assert report["command"].endswith("; (cd . && node scripts/check-exports.js)")
        assert "1 other command(s) of it run as checks of their own" in notes


def test_a_pnpm_workspace_tests_only_the_package_the_change_touches(
    tmp_path: Path, local_pipeline: RunPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # this machine's registry mirror serves no npm signatures for corepack to verify
    # (docs/javascript.md); the npm registry itself does
    monkeypatch.setenv("COREPACK_INTEGRITY_KEYS", "0")

    def package(name: str, source: str, test: str) -> dict[str, str]:
        manifest = {"name": name, "version": "1.0.0", "private": True,
                    "scripts": {"test": "mocha 'test/*.spec.js'"},
                    "devDependencies": {"mocha": "10.8.2"}}  # fmt: skip
        return {
            f"packages/{name}/package.json": _json(manifest),
            f"packages/{name}/index.js": source,
            f"packages/{name}/test/{name}.spec.js": test,
        }

    core = mocha_project()
    broken_elsewhere = (
        "const assert = require('node:assert');\n"
        "it('fails on the default branch already', () => assert.fail('not this change'));\n"
    )
    files = {
        "package.json": _json({"name": "mono", "private": True, "packageManager": "pnpm@9.15.0"}),
        "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n",
        **package(
            "core",
            core.search,
            core.files["test/add.spec.js"].replace("../lib/calc", "../index.js"),
        ),
        **package("app", "module.exports = {};\n", broken_elsewhere),
    }
    repo = make_repo(tmp_path / "mono", files)
    project = Project(
        "mocha",
        files,
        "packages/core/index.js",
        core.search,
        core.replace,
        "packages/core/test/subtract.spec.js",
        core.new_test_text.replace("../lib/calc", "../index.js"),
        "packages/core/test/subtract.spec.js::subtract returns the difference",
    )
    seeded: list[Path] = []
    result = local_pipeline(
        repo,
        script_for(project),
        before=lambda settings: seeded.append(seed_downloads(run_cache(settings, repo), repo)),
    )
    keep_downloads(seeded[0])
    assert result.code == 0, result.run.status_reason
    report = result.artifact("testreport.r0")
    # only the touched package ran: its existing test and the new one; app's failure never ran
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    assert report["command"].startswith("(cd packages/core && exec mocha ")
    assert "packages/app" not in report["command"]
    outcome = result.artifact("testoutcome.r0")
    assert outcome["new_tests"] == outcome["pinned"] == [project.new_case]
    assert outcome["environment"]["installer"] == "pnpm"
    assert outcome["environment"]["plan"]["commands"] == [
        ["corepack", "pnpm@9.15.0", "install", "--no-lockfile"]
    ]
    assert "package packages/core: runner mocha from scripts.test" in "\n".join(
        outcome["environment"]["notes"]
    )
    # V8's coverage of the run in the package's directory, named from the repository's root
    coverage = outcome["coverage"]
    lines = {(c["path"], c["line"]): bool(c["tests"]) for c in coverage["lines"]}
    source = "packages/core/index.js"
    assert lines == {(source, 5): True, (source, 6): True, (source, 7): True, (source, 9): False}


def test_a_jest_test_that_never_calls_the_changed_code_sends_the_run_back(
    tmp_path: Path, local_pipeline: RunPipeline
) -> None:
    project = jest_project()
    repo = make_repo(tmp_path / "calc-jest", project.files)
    module = "function subtract(a, b) {\n  return a - b;\n}\n\nmodule.exports = { subtract };\n"
    create = {"path": "subtract.js", "operation": "create", "content": module}
    block = {"search": "function subtract", "replace": "// a - b\nfunction subtract"}
    comment = {"path": "subtract.js", "operation": "update", "blocks": [block]}
    # requires subtract.js (so it fails to load on the base) but only ever calls add
    loads_only = ("const { add } = require('../calc');\nrequire('../subtract');\n\n"
                  "test('subtract', () => {\n  expect(add(5, -3)).toBe(2);\n});\n")  # fmt: skip
    calls = loads_only.replace("add(5, -3)", "require('../subtract').subtract(5, 3)")
    script = script_for(project)
    script["coder"] = [
        {"edits": [create], "explanation": "subtract.js"},
        {"edits": [comment], "explanation": "say what it does", "revision": 1},
    ]
    script["tester"] = [
        {"focus": ["subtract"], "files": [{"path": "test/subtract.test.js",
                                           "operation": "create", "content": text}]}
        for text in (loads_only, calls)
    ]  # fmt: skip
    script["reviewer"] = [APPROVED, APPROVED]
    seeded: list[Path] = []
    result = local_pipeline(
        repo, script, before=lambda s: seeded.append(seed_downloads(run_cache(s, repo), repo))
    )
    keep_downloads(seeded[0])
    case = "test/subtract.test.js::subtract"
    first = result.artifact("testoutcome.r0")
    assert first["pinned"] == first["new_tests"] == [case]
    lines = {c["line"]: (c["executed"], c["tests"]) for c in first["coverage"]["lines"]}
    assert lines == {1: (False, []), 2: (False, []), 3: (False, []), 5: (True, [])}
    problems = [i["problem"] for i in result.artifact("review.r0")["issues"]]
    assert any(f"New test `{case}` executes none of the changed code" in p for p in problems)
    second = result.artifact("testoutcome.r1")
    assert {c["line"] for c in second["coverage"]["lines"] if c["tests"] == [case]} == {2, 3, 4}
    assert result.code == 0, result.run.status_reason
