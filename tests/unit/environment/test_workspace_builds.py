"""Which sibling packages a workspace package's tests need built first, and in which order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.environment.workspace_builds import builds_needed, entry_files, record_built

BUILD = {"build": "node build.js"}


def workspace(tmp_path: Path, packages: dict[str, dict[str, Any]]) -> Path:
    (tmp_path / "package.json").write_text(json.dumps({"private": True, "workspaces": ["pkg/*"]}))
    for directory, manifest in packages.items():
        (tmp_path / "pkg" / directory).mkdir(parents=True)
        (tmp_path / "pkg" / directory / "package.json").write_text(json.dumps(manifest))
    return tmp_path


def test_entry_files_are_main_module_and_the_root_export() -> None:
    manifest = {
        "main": "./dist/index.cjs",
        "module": "./dist/index.mjs",
        "exports": {".": {"types": "./dist/index.d.ts", "import": {"default": "./dist/x.mjs"}},
                    "./package.json": "./package.json"},
    }  # fmt: skip
    assert entry_files(manifest) == ["./dist/index.cjs", "./dist/index.mjs", "./dist/x.mjs"]
    assert entry_files({"exports": "./lib/a.js"}) == ["./lib/a.js"]


def test_unbuilt_siblings_are_built_dependencies_first_and_only_those(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "app": {"name": "app", "dependencies": {"@x/ui": "workspace:*", "left-pad": "1"}},
            "ui": {"name": "@x/ui", "main": "dist/ui.js", "scripts": BUILD,
                   "dependencies": {"@x/core": "workspace:^"}},
            "core": {"name": "@x/core", "main": "dist/core.js", "scripts": BUILD},
            "built": {"name": "@x/built", "main": "dist/b.js", "scripts": BUILD},
            "plain": {"name": "@x/plain", "main": "src/plain.js"},
        },
    )  # fmt: skip
    assert builds_needed(root, "pkg/app") == ["pkg/core", "pkg/ui"]
    assert builds_needed(root, "pkg/core") == []
    app = json.loads((root / "pkg/app/package.json").read_text())
    app["devDependencies"] = {"@x/built": "*", "@x/plain": "*"}
    (root / "pkg/app/package.json").write_text(json.dumps(app))
    (root / "pkg/built/dist").mkdir()
    (root / "pkg/built/dist/b.js").write_text("")
    # built already (committed, or by the project's own install), or nothing to build: left alone
    assert builds_needed(root, "pkg/app") == ["pkg/core", "pkg/ui"]


def test_a_package_built_once_is_built_again_before_every_later_run(tmp_path: Path) -> None:
    root = workspace(
        tmp_path,
        {
            "app": {"name": "app", "dependencies": {"core": "*"}},
            "core": {"name": "core", "main": "dist/core.js", "scripts": BUILD},
        },
    )
    assert builds_needed(root, "pkg/app") == ["pkg/core"]
    record_built(root, ["pkg/core"])
    (root / "pkg/core/dist").mkdir()
    (root / "pkg/core/dist/core.js").write_text("")
    # its build is there now, but it was made from the other side's sources (base or change)
    assert builds_needed(root, "pkg/app") == ["pkg/core"]
