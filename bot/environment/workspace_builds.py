"""Builds a workspace package's tests need: the sibling packages it imports through their builds.

In a workspace, a package often depends on a sibling (`"@scope/core": "workspace:*"`) whose
package.json points at what its `build` script makes (`"main": "./dist/index.mjs"`), absent from
a fresh checkout and from the install. The project's own `npm test` at the root builds first
(`pretest`, a task runner's `dependsOn: ["^build"]`); a package's runner started alone fails to
resolve the import, on the base and with the change alike, and nothing could be proven. So before
a touched package's tests run, each workspace package it depends on (transitively, dependencies
first) that has a `build` script and whose declared entry file is missing is built with
`npm run build` in its directory. One built so once is built again before every later run of the
same checkout (a marker in `.draftsmith/`), so that the base runs on a build of the base's sources
and the change on one of the change's, never on a build left by the other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.environment.node import read_manifest, workspace_packages

BUILT_MARKER = ".draftsmith/workspace-builds"
DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")


def entry_files(manifest: dict[str, Any]) -> list[str]:
    """The files a package.json declares as its entry points (`main`, `module`, `exports["."]`)."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if key in (".", "import", "require", "default", "node", "module"):
                    walk(inner)

    for key in ("main", "module"):
        walk(manifest.get(key))
    exports = manifest.get("exports")
    walk(exports if not isinstance(exports, dict) or "." not in exports else exports["."])
    return [f for f in dict.fromkeys(found) if f and "*" not in f]


def _built_before(root: Path) -> set[str]:
    try:
        return set((root / BUILT_MARKER).read_text().split())
    except OSError:
        return set()


def builds_needed(root: Path, package: str) -> list[str]:
    """The workspace packages (directories) to build before `package`'s tests, in build order."""
    packages = workspace_packages(root)
    manifests = {p: read_manifest(root / p) for p in packages}
    by_name = {str(m["name"]): p for p, m in manifests.items() if isinstance(m.get("name"), str)}
    built = _built_before(root)
    order: list[str] = []
    seen = {package}

    def visit(directory: str) -> None:
        manifest = manifests.get(directory) or read_manifest(root / directory)
        for field in DEPENDENCY_FIELDS:
            declared = manifest.get(field)
            for name in declared if isinstance(declared, dict) else {}:
                sibling = by_name.get(name)
                if sibling is None or sibling in seen:
                    continue
                seen.add(sibling)
                visit(sibling)  # its own dependencies are built first
                if _needs_build(root, sibling, manifests[sibling], built):
                    order.append(sibling)

    visit(package)
    return order


def _needs_build(root: Path, directory: str, manifest: dict[str, Any], built: set[str]) -> bool:
    scripts = manifest.get("scripts")
    if not isinstance(scripts, dict) or not isinstance(scripts.get("build"), str):
        return False
    if directory in built:
        return True
    return any(not (root / directory / entry).exists() for entry in entry_files(manifest))


def record_built(root: Path, directories: list[str]) -> None:
    """Remember the packages built in this checkout: every later run builds them again."""
    if not directories:
        return
    marker = root / BUILT_MARKER
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("\n".join(sorted(_built_before(root) | set(directories))) + "\n")
