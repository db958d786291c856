"""JavaScript projects prepared and tested in the real bubblewrap sandbox: real installs from the
npm registry (npm, and pnpm through corepack), the runner's own per-test results, checks chained
in scripts.test, test files that fail to load, and workspaces tested by the touched package."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bot.environment.cache import RepositoryCache
from bot.environment.prepare import PreparedEnvironment, prepare_environment
from bot.policy.decide import load_default_policy
from bot.sandbox.base import Limits
from bot.sandbox.bwrap import BwrapSandbox, bwrap_problem
from bot.sandbox.setup_env import DEFAULT_SETUP_ENV, SetupNetwork
from bot.shared.contracts import TestStatus
from bot.testing.cases import CaseStatus
from bot.testing.node import run_node_tests
from tests.helpers.node_projects import keep_downloads, locked_project, seed_downloads
from tests.helpers.repos import make_repo

pytestmark = [
    pytest.mark.skipif(bwrap_problem() is not None, reason=f"bwrap: {bwrap_problem()}"),
    pytest.mark.skipif(shutil.which("npm") is None, reason="needs node and npm"),
]
LIMITS = Limits(wall_time_s=300, cpu_time_s=300)
MOCHA = {"mocha": "10.8.2"}
PASSING = "const assert = require('node:assert');\nit('{name}', () => assert.ok(true));\n"
FAILING = "const assert = require('node:assert');\nit('{name}', () => assert.strictEqual(1, 2));\n"


@pytest.fixture(scope="module")
def sandbox() -> BwrapSandbox:
    # The registry this machine reaches serves package metadata without npm's signatures, which
    # corepack verifies by default: operators behind such a mirror pass COREPACK_INTEGRITY_KEYS=0
    # to setup (DRAFTSMITH_SETUP_ENV's defaults include it). The npm registry itself signs.
    environ = {**os.environ, "COREPACK_INTEGRITY_KEYS": "0"}
    setup = SetupNetwork.build("", DEFAULT_SETUP_ENV, environ)
    return BwrapSandbox(uid_base=2_100_400, uid_slots=4, setup=setup)


def prepare(sandbox: BwrapSandbox, root: Path, cache_dir: Path) -> PreparedEnvironment:
    """Setup with the default allow-list and a download cache seeded from the shared one."""
    cache = RepositoryCache(cache_dir, root.name)
    downloads = seed_downloads(cache, root)
    environment = asyncio.run(
        prepare_environment(
            sandbox,
            root,
            language="node",
            limits=LIMITS,
            allow=load_default_policy().setup_allow,
            cache=cache,
        )
    )
    assert environment.ok, environment.problem
    keep_downloads(downloads)
    return environment


def mocha_project(tmp_path: Path, test_script: str, files: dict[str, str]) -> Path:
    manifest: dict[str, Any] = {
        "name": "calc",
        "private": True,
        "scripts": {"test": test_script},
        "devDependencies": MOCHA,
    }
    return make_repo(tmp_path / "calc", locked_project(manifest, files))


def test_a_failing_check_chained_after_mocha_is_reported_as_a_check_not_as_tests(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    files = {
        "test/a.spec.js": PASSING.format(name="adds"),
        "lint.js": "process.exit(require('node:fs').existsSync('lint-fails') ? 1 : 0);\n",
    }
    root = mocha_project(tmp_path, "mocha 'test/**/*.spec.js' && node lint.js", files)
    environment = prepare(sandbox, root, tmp_path / "cache")
    assert environment.plan.commands == [["npm", "ci"]] and environment.installer == "npm"
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, []))
    check = "scripts.test check: node lint.js"
    assert (report.status, report.tests_passed, report.tests_failed) == (TestStatus.passed, 1, 0)
    assert cases.cases == {"test/a.spec.js::adds": CaseStatus.passed, check: CaseStatus.passed}
    (root / "lint-fails").write_text("")
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, []))
    assert (report.status, report.tests_passed, report.tests_failed) == (TestStatus.failed, 1, 0)
    assert cases.cases[check] is CaseStatus.failed
    assert cases.failing() == {check}
    assert f"{check}: failed by its exit code (1)" in report.failure_details


def test_chosen_files_run_alone_and_a_file_that_cannot_load_is_a_collection_error(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    files = {
        "test/a.spec.js": PASSING.format(name="adds"),
        "test/b.spec.js": FAILING.format(name="fails"),
    }
    root = mocha_project(tmp_path, "mocha 'test/**/*.spec.js'", files)
    prepare(sandbox, root, tmp_path / "cache")
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, [], files=["test/a.spec.js"]))
    assert report.status is TestStatus.passed and list(cases.cases) == ["test/a.spec.js::adds"]
    (root / "test" / "new.spec.js").write_text("require('../lib/not-there');\nit('x', () => {});\n")
    report, cases = asyncio.run(
        run_node_tests(sandbox, root, LIMITS, [], files=["test/new.spec.js"])
    )
    assert list(cases.collection_errors) == ["test/new.spec.js"]
    assert "Cannot find module '../lib/not-there'" in cases.collection_errors["test/new.spec.js"]
    assert report.status is TestStatus.error and cases.failing() == {
        "test/new.spec.js (collection)"
    }
    # a test that ends the runner (process.exit, as a CLI library's error path does): no report
    (root / "test" / "exits.spec.js").write_text("it('exits', () => process.exit(1));\n")
    report, cases = asyncio.run(
        run_node_tests(sandbox, root, LIMITS, [], files=["test/exits.spec.js"])
    )
    assert list(cases.collection_errors) == ["test/exits.spec.js"]
    assert "mocha ended (exit 1) before its report" in cases.collection_errors["test/exits.spec.js"]


def test_a_pnpm_workspace_installs_through_corepack_and_tests_the_touched_package(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    def package(name: str, test: str) -> dict[str, str]:
        manifest = {"name": name, "version": "1.0.0", "scripts": {"test": "mocha"},
                    "devDependencies": MOCHA}  # fmt: skip
        return {
            f"packages/{name}/package.json": json.dumps(manifest),
            f"packages/{name}/test/{name}.spec.js": test.format(name=f"{name} works"),
        }

    root_manifest = {"name": "mono", "private": True, "packageManager": "pnpm@9.15.0"}
    root = make_repo(
        tmp_path / "mono",
        {
            "package.json": json.dumps(root_manifest),
            "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n",
            **package("good", PASSING),
            **package("broken", FAILING),
        },
    )
    environment = prepare(sandbox, root, tmp_path / "cache")
    assert environment.plan.commands == [["corepack", "pnpm@9.15.0", "install", "--no-lockfile"]]
    assert environment.installer == "pnpm"
    assert (root / "packages" / "good" / "node_modules" / ".bin" / "mocha").exists()
    assert not (root / "pnpm-lock.yaml").exists()  # none written: none slips into the change
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, ["packages/good/lib.js"]))
    assert report.status is TestStatus.passed
    assert cases.cases == {"packages/good/test/good.spec.js::good works": CaseStatus.passed}
    assert "cd packages/good &&" in report.command
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, ["packages/broken/x.js"]))
    assert report.status is TestStatus.failed
    assert cases.failing() == {"packages/broken/test/broken.spec.js::broken works"}
    new = "packages/good/test/new.spec.js"  # a new test file, alone, that cannot load
    (root / new).write_text("require('../not-yet');\nit('uses it', () => {});\n")
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, [new], files=[new]))
    assert list(cases.collection_errors) == [new] and not cases.cases


def test_a_sibling_package_imported_through_its_build_is_built_before_the_tests(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    build = (
        "const fs = require('node:fs');\nfs.mkdirSync('dist', { recursive: true });\n"
        "fs.copyFileSync('src/index.js', 'dist/index.js');\n"
    )
    lib = {"name": "lib", "main": "dist/index.js", "scripts": {"build": "node build.js"}}
    app = {"name": "app", "scripts": {"test": "mocha"}, "dependencies": {"lib": "*"}}
    test = "const assert = require('node:assert');\nit('adds', () => assert.strictEqual(require('lib').add(1, 2), 3));\n"  # noqa: E501
    root = make_repo(
        tmp_path / "mono",
        {
            "package.json": json.dumps({"name": "mono", "private": True,
                                        "workspaces": ["packages/*"], "devDependencies": MOCHA}),
            ".gitignore": "dist/\nnode_modules/\n",
            "packages/lib/package.json": json.dumps(lib),
            "packages/lib/build.js": build,
            "packages/lib/src/index.js": "exports.add = (a, b) => a + b;\n",
            "packages/app/package.json": json.dumps(app),
            "packages/app/test/app.spec.js": test,
        },
    )  # fmt: skip
    prepare(sandbox, root, tmp_path / "cache")
    assert not (root / "packages" / "lib" / "dist").exists()  # as after the project's install
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, ["packages/app/x.js"]))
    assert report.status is TestStatus.passed, report.failure_details
    assert cases.cases == {
        "workspace build (in packages/lib): npm run build": CaseStatus.passed,
        "packages/app/test/app.spec.js::adds": CaseStatus.passed,
    }
    assert report.tests_passed == 1  # the build is a check, not a test
    assert report.command.startswith("(cd packages/lib && npm run build) ; (cd packages/app &&")
    # the other side's sources (the base's, or a change to the sibling): built again, not reused
    (root / "packages/lib/src/index.js").write_text("exports.add = (a, b) => a - b;\n")
    files = ["packages/app/test/app.spec.js"]
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, files, files=files))
    assert cases.cases == {"packages/app/test/app.spec.js::adds": CaseStatus.failed}


def test_a_yarn_berry_workspace_installs_through_corepack_into_node_modules(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    root_manifest = {
        "name": "mono",
        "private": True,
        "packageManager": "yarn@4.5.3",
        "workspaces": ["packages/*"],
        "devDependencies": MOCHA,  # the root's runner serves every package
    }
    root = make_repo(
        tmp_path / "mono",
        {
            "package.json": json.dumps(root_manifest),
            "packages/lib/package.json": json.dumps({"name": "lib", "scripts": {"test": "mocha"}}),
            "packages/lib/test/lib.spec.js": PASSING.format(name="lib works"),
        },
    )
    environment = prepare(sandbox, root, tmp_path / "cache")
    assert environment.plan.commands == [["corepack", "yarn@4.5.3", "install"]]
    assert environment.installer == "yarn berry"
    assert any("nodeLinker node-modules" in source for source in environment.plan.sources)
    assert not (root / ".pnp.cjs").exists() and (root / "node_modules" / ".bin" / "mocha").exists()
    # yarn 2+ writes a yarn.lock the project does not have: it stays out of the change
    assert "/yarn.lock" in (root / ".git" / "info" / "exclude").read_text().splitlines()
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, ["packages/lib/index.js"]))
    assert report.status is TestStatus.passed, report.failure_details
    assert cases.cases == {"packages/lib/test/lib.spec.js::lib works": CaseStatus.passed}


def test_a_script_of_an_unknown_runner_runs_as_npm_test_judged_by_its_exit_code(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    manifest = {"name": "own", "scripts": {"test": "node run-my-tests.js"}}
    root = make_repo(
        tmp_path / "own",
        {"package.json": json.dumps(manifest), "run-my-tests.js": "process.exit(3);\n"},
    )
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, []))
    assert (report.status, report.judged_by, report.tests_passed) == (
        TestStatus.failed,
        "exit code",
        0,
    )
    assert cases.failing() == {"scripts.test (judged by its exit code): npm test"}
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, [], files=["test/x.js"]))
    assert cases.empty and "cannot run chosen test files" in report.failure_details


def test_a_second_workspace_gets_a_copy_of_what_setup_made_and_no_writes_of_the_first(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    # a pnpm workspace (symbolic links, shims naming absolute paths, a node_modules per package)
    # whose root `prepare` script builds a file the tests import, as many libraries' builds do
    build = (
        "node -e \"const fs = require('fs'); fs.mkdirSync('packages/good/dist', {recursive: true});"
        " fs.writeFileSync('packages/good/dist/built.js', 'module.exports = 42;');\""
    )
    root_manifest = {"name": "mono", "private": True, "packageManager": "pnpm@9.15.0",
                     "scripts": {"prepare": build}}  # fmt: skip
    good = {"name": "good", "version": "1.0.0", "scripts": {"test": "mocha"},
            "devDependencies": MOCHA}  # fmt: skip
    test = (
        "const assert = require('node:assert');\n"
        "it('uses the build', () => assert.strictEqual(require('../dist/built.js'), 42));\n"
    )
    files = {
        "package.json": json.dumps(root_manifest),
        "pnpm-workspace.yaml": "packages:\n  - 'packages/*'\n",
        ".gitignore": "dist/\n",
        "packages/good/package.json": json.dumps(good),
        "packages/good/test/good.spec.js": test,
    }
    first_root = make_repo(tmp_path / "run-1" / "mono", files)
    first = prepare(sandbox, first_root, tmp_path / "cache")
    assert not first.restored and first.records
    assert (first_root / "packages/good/dist/built.js").is_file()
    (first_root / "packages/good/node_modules/planted.txt").write_text("written by run 1")

    second_root = make_repo(tmp_path / "run-2" / "mono", files)
    second = prepare(sandbox, second_root, tmp_path / "cache")
    assert second.restored and second.records == []  # nothing installed
    assert not (second_root / "packages/good/node_modules/planted.txt").exists()
    report, cases = asyncio.run(
        run_node_tests(sandbox, second_root, LIMITS, ["packages/good/index.js"])
    )
    assert report.status is TestStatus.passed, report.failure_details
    assert cases.cases == {"packages/good/test/good.spec.js::uses the build": CaseStatus.passed}
    # nothing in the copy leads back to the first workspace: shims, state files, links
    shims = [p for p in (second_root / "packages/good/node_modules/.bin").iterdir() if p.is_file()]
    states = [p for p in second_root.glob("**/node_modules/.modules.yaml")]
    assert shims and states  # pnpm writes them naming its workspace: rewritten
    for path in shims + states:
        assert str(first_root) not in path.read_text(errors="replace"), path
    links = [p for p in second_root.rglob("*") if p.is_symlink()]
    assert links and not [p for p in links if str(first_root) in os.readlink(p)]


def test_a_dependency_whose_install_script_fails_is_installed_again_without_scripts(
    sandbox: BwrapSandbox, tmp_path: Path
) -> None:
    # a dependency whose postinstall fetches a data set from a website (top-sites does): the
    # setup phase reaches the registries only, so the script fails there
    dep = tmp_path / "broken-dep"
    dep.mkdir()
    (dep / "package.json").write_text(json.dumps(
        {"name": "broken-dep", "version": "1.0.0", "scripts": {"postinstall": "node fetch.js"}}
    ))  # fmt: skip
    (dep / "fetch.js").write_text("console.error('getaddrinfo EAI_AGAIN moz.com'); process.exit(1)")
    subprocess.run(["npm", "pack", "-q", "--pack-destination", str(tmp_path)], cwd=dep,
                   check=True, capture_output=True)  # fmt: skip
    vendored = {"broken-dep": "file:vendor/broken-dep-1.0.0.tgz"}
    manifest = {"name": "calc", "private": True, "scripts": {"test": "mocha"},
                "devDependencies": {**MOCHA, **vendored}}  # fmt: skip
    files = {"package.json": json.dumps(manifest), "test/a.spec.js": PASSING.format(name="works")}
    root = make_repo(tmp_path / "calc", files)
    (root / "vendor").mkdir()
    shutil.copy(tmp_path / "broken-dep-1.0.0.tgz", root / "vendor")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "vendored"], cwd=root, check=True)

    environment = prepare(sandbox, root, tmp_path / "cache")
    assert [(r.command, r.exit_code) for r in environment.records] == [
        ("npm install --no-package-lock", 1),
        ("npm install --no-package-lock --ignore-scripts", 0),
    ]
    [note] = [n for n in environment.notes if "install script" in n]
    assert "broken-dep: `node fetch.js`" in note and "--ignore-scripts" in note
    report, cases = asyncio.run(run_node_tests(sandbox, root, LIMITS, ["index.js"]))
    assert report.status is TestStatus.passed, report.failure_details
    assert cases.cases == {"test/a.spec.js::works": CaseStatus.passed}
