"""A JavaScript/TypeScript project's package manager, workspaces and install, from its own files.

- The package manager comes from the lock file present (`package-lock.json`/`npm-shrinkwrap.json`:
  npm, `pnpm-lock.yaml`: pnpm, `yarn.lock`: yarn, berry when the lock has a `__metadata` block)
  and from `packageManager` in package.json when the project pins one. pnpm and yarn run through
  corepack (Node's own manager of package managers), which fetches the pinned version from the
  npm registry in the setup phase (the only phase with network, through the egress filter).
- Installs are frozen when there is a lock file (`npm ci`, `pnpm install --frozen-lockfile`,
  `yarn install --frozen-lockfile` / `--immutable`); dependencies' install scripts run then, in
  the setup phase only.
- Workspaces: `workspaces` in package.json (npm, yarn; a list or `{packages: [...]}`) or
  `pnpm-workspace.yaml`'s `packages`; one installation at the root serves every package.
"""

from __future__ import annotations

import json
import logging
import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from bot.sandbox.egress import proxy_environment

logger = logging.getLogger(__name__)

NODE_LOCKFILES = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock")
WORKSPACE_FILES = ("pnpm-workspace.yaml", ".yarnrc.yml", ".npmrc")
MAX_PACKAGES = 500
NPM_REGISTRY = "https://registry.npmjs.org"


class PackageManager(StrEnum):
    """Who installs the project: npm, pnpm, yarn 1 (classic) or yarn 2+ (berry)."""

    npm = "npm"
    pnpm = "pnpm"
    yarn_classic = "yarn classic"
    yarn_berry = "yarn berry"


@dataclass(frozen=True)
class ManagerChoice:
    """The package manager, the version the project pins (if any) and why it was chosen."""

    manager: PackageManager
    pinned: str | None
    why: str
    lockfile: str | None


@dataclass(frozen=True)
class NodeInstall:
    """The setup commands of a Node project and what they came from."""

    commands: list[list[str]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_manifest(directory: Path) -> dict[str, Any]:
    """package.json of `directory` as a dict; {} when it is missing or not a JSON object."""
    try:
        data = json.loads((directory / "package.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pinned_manager(manifest: dict[str, Any]) -> tuple[str, str] | None:
    """`packageManager: "pnpm@9.12.0+sha512..."` -> ("pnpm", "9.12.0+sha512...")."""
    value = manifest.get("packageManager")
    if not isinstance(value, str) or "@" not in value:
        return None
    name, _, version = value.partition("@")
    return (name, version) if name in ("npm", "pnpm", "yarn") and version else None


def _berry_lock(root: Path) -> bool:
    try:
        head = (root / "yarn.lock").read_text(errors="replace")[:2000]
    except OSError:
        return False
    return "__metadata:" in head


def choose_manager(root: Path) -> ManagerChoice:
    """The package manager of the project at `root` (a workspace root or a single package)."""
    manifest = read_manifest(root)
    pinned = _pinned_manager(manifest)
    lockfile = next((name for name in NODE_LOCKFILES if (root / name).is_file()), None)
    if pinned is not None:
        name, version = pinned
        if name == "yarn":
            berry = not version.startswith("1.")
            manager = PackageManager.yarn_berry if berry else PackageManager.yarn_classic
        else:
            manager = PackageManager(name)
        why = f"packageManager {name}@{version.split('+')[0]} in package.json"
        return ManagerChoice(manager, version, why, lockfile)
    if lockfile == "pnpm-lock.yaml":
        return ManagerChoice(PackageManager.pnpm, None, "pnpm-lock.yaml", lockfile)
    if lockfile == "yarn.lock":
        berry = _berry_lock(root) or (root / ".yarnrc.yml").is_file()
        manager = PackageManager.yarn_berry if berry else PackageManager.yarn_classic
        return ManagerChoice(manager, None, f"yarn.lock ({manager.value})", lockfile)
    if lockfile is not None:
        return ManagerChoice(PackageManager.npm, None, lockfile, lockfile)
    return ManagerChoice(PackageManager.npm, None, "no lock file: npm", None)


def _corepack(name: str, pinned: str | None) -> list[str]:
    """corepack running `name` at the pinned version (else corepack's own known-good one)."""
    return ["corepack", f"{name}@{pinned.split('+')[0]}" if pinned else name]


def install_plan(root: Path) -> NodeInstall:
    """The commands that install the project at `root` (frozen when it has a lock file; without
    one, no lock file is written, so none can slip into the change)."""
    manifest = read_manifest(root)
    choice = choose_manager(root)
    present = [f for f in (*NODE_LOCKFILES, *WORKSPACE_FILES) if (root / f).is_file()]
    inputs = ["package.json", *present]
    inputs += [f"{p}/package.json" for p in workspace_packages(root)]
    locked = choice.lockfile is not None
    notes: list[str] = []
    if choice.manager is PackageManager.npm:
        if locked:
            command = ["npm", "ci"]
        elif _declares_packages(root, manifest):
            command = ["npm", "install", "--no-package-lock"]
        else:
            return NodeInstall([], [], inputs, notes)
    elif choice.manager is PackageManager.pnpm:
        command = [*_corepack("pnpm", choice.pinned), "install"]
        command += ["--frozen-lockfile"] if locked else ["--no-lockfile"]
    elif choice.manager is PackageManager.yarn_classic:
        command = [*_corepack("yarn", choice.pinned), "install"]
        command += ["--frozen-lockfile"] if locked else ["--no-lockfile"]
    else:
        command = [*_corepack("yarn", choice.pinned), "install"]
        command += ["--immutable"] if locked else []  # writes a yarn.lock: kept_out_of_change
        notes.append(
            "yarn berry installed with nodeLinker node-modules (YARN_NODE_LINKER): the test "
            "runner is run from node_modules, not through Plug'n'Play"
        )
    how = "frozen" if locked else "no lock file, versions resolved now"
    source = f"{choice.why} ({shlex.join(command)}; {how})"
    if choice.manager is not PackageManager.npm and not choice.pinned:
        notes.append(
            f"{choice.manager.value}: the project pins no version (packageManager); corepack's "
            "own default version was used"
        )
    return NodeInstall([command], [source], sorted(set(inputs)), notes)


def _declares_packages(root: Path, manifest: dict[str, Any]) -> bool:
    if manifest.get("dependencies") or manifest.get("devDependencies"):
        return True
    return any(read_manifest(root / p).get("devDependencies") for p in workspace_packages(root))


def workspace_patterns(root: Path) -> list[str]:
    """The workspace globs of the project at `root` (package.json or pnpm-workspace.yaml)."""
    patterns: list[str] = []
    try:
        pnpm = yaml.safe_load((root / "pnpm-workspace.yaml").read_text())
    except (OSError, yaml.YAMLError):
        pnpm = None
    if isinstance(pnpm, dict) and isinstance(pnpm.get("packages"), list):
        patterns += [p for p in pnpm["packages"] if isinstance(p, str)]
    declared = read_manifest(root).get("workspaces")
    if isinstance(declared, dict):
        declared = declared.get("packages")
    if isinstance(declared, list):
        patterns += [p for p in declared if isinstance(p, str)]
    return patterns


def workspace_packages(root: Path) -> list[str]:
    """The workspace packages (directories with a package.json, relative to `root`), sorted."""
    patterns = workspace_patterns(root)
    included: set[str] = set()
    excluded = [p[1:].strip("/") for p in patterns if p.startswith("!")]
    for pattern in (p.strip().rstrip("/") for p in patterns if not p.startswith("!")):
        if not pattern or pattern.startswith(("/", "..")) or ".." in pattern.split("/"):
            continue
        for found in sorted(root.glob(pattern))[:MAX_PACKAGES]:
            relative = found.relative_to(root).as_posix()
            if "node_modules" in relative.split("/") or not (found / "package.json").is_file():
                continue
            if found.is_symlink() or any(PurePosixPath(relative).match(x) for x in excluded):
                continue
            if relative != ".":
                included.add(relative)
    return sorted(included)[:MAX_PACKAGES]


def package_of(path: str, packages: list[str]) -> str | None:
    """The deepest workspace package holding `path`, or None when it is outside every one."""
    holders = [p for p in packages if path.startswith(p + "/")]
    return max(holders, key=len) if holders else None


def touched_packages(root: Path, changed: list[str]) -> list[str]:
    """The workspace packages the changed files lie in (none for a single-package project)."""
    packages = workspace_packages(root)
    found = {package_of(path, packages) for path in changed}
    return sorted(p for p in found if p is not None)


def node_setup_env(root: Path, downloads: Path | None) -> dict[str, str]:
    """The setup phase's variables for npm, corepack, pnpm and yarn: caches in the lent download
    directory (else the sandbox's /tmp), no prompts, no rewrite of package.json."""
    # without a lent download cache: the sandbox's private /tmp, never the tree (linters and
    # runners that walk the tree would walk the caches too)
    cache = downloads if downloads is not None else Path("/tmp/draftsmith-node-cache")
    pnpm = {
        # a store of its own, copied (not hard-linked) into node_modules, so that a run writing
        # into node_modules cannot change what the next run installs from the store
        "npm_config_store_dir": str(cache / "pnpm-store"),
        "npm_config_package_import_method": "copy",
    }
    manager = choose_manager(root).manager if (root / "package.json").is_file() else None
    # yarn itself (yarn, @yarnpkg/cli-dist) and yarn 2+'s packages from the npm registry: the
    # defaults, repo.yarnpkg.com and registry.yarnpkg.com, are not on the setup egress allow-list
    berry = {"YARN_NPM_REGISTRY_SERVER": NPM_REGISTRY}
    # yarn reads no HTTP(S)_PROXY variable: its own settings send it through the egress filter
    proxy = proxy_environment()["HTTPS_PROXY"]
    yarn = {"YARN_HTTP_PROXY": proxy, "YARN_HTTPS_PROXY": proxy, "YARN_REGISTRY": NPM_REGISTRY,
            "COREPACK_NPM_REGISTRY": NPM_REGISTRY}  # fmt: skip
    return {
        **(pnpm if manager is PackageManager.pnpm else {}),
        **(yarn if manager in (PackageManager.yarn_classic, PackageManager.yarn_berry) else {}),
        **(berry if manager is PackageManager.yarn_berry else {}),
        "npm_config_cache": str(cache / "npm"),
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
        "COREPACK_HOME": str(cache / "corepack"),
        "COREPACK_ENABLE_DOWNLOAD_PROMPT": "0",
        "COREPACK_ENABLE_AUTO_PIN": "0",
        "COREPACK_DEFAULT_TO_LATEST": "0",
        "YARN_CACHE_FOLDER": str(cache / "yarn"),
        "YARN_ENABLE_GLOBAL_CACHE": "false",
        "YARN_NODE_LINKER": "node-modules",
        "YARN_ENABLE_TELEMETRY": "0",
    }


def keep_lock_out_of_change(root: Path) -> str | None:
    """yarn 2+ writes a yarn.lock even where the project has none (it has no option not to):
    such a file is listed in `.git/info/exclude`, so that no commit takes it into the change.
    Returns the note for the evidence, or None when nothing was excluded."""
    if (root / "yarn.lock").exists() or choose_manager(
        root
    ).manager is not PackageManager.yarn_berry:
        return None
    exclude = root / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text() if exclude.exists() else ""
    if "/yarn.lock" not in current.splitlines():
        exclude.write_text(current + "/yarn.lock\n")
    return "the project has no yarn.lock: the one yarn writes is kept out of the change"
