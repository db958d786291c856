"""Coverage of the change for JavaScript/TypeScript: the new tests' run with the change, measured.

Which changed source files (not tests) the run of the new test files alone executed, and which
of their changed lines, from each runner's own coverage (bot.analysis.js_lines maps it to lines):
- `node --test` and mocha: V8's own (`NODE_V8_COVERAGE`, a directory under `.draftsmith/`, one
  JSON file per process). TypeScript run through a loader (tsx, ts-node) is not the file on
  disk: V8's offsets are of the transpiled code, mapped back through the loader's source map
  that Node keeps beside them (`source-map-cache`, bot.analysis.source_maps); without one that
  fits, the file's coverage is unknown.
- jest: its own (`--coverage --coverageProvider=v8 --coverageReporters=json`, the changed files
  of the package as `--collectCoverageFrom`), istanbul's `coverage-final.json`, mapped back to
  the original lines (TypeScript through ts-jest's source maps).
- vitest: its own when the project has `@vitest/coverage-v8` (or `-istanbul`) installed (the
  test phase has no network to add it), else unknown; reported when a test fails too (vitest
  writes none then by default).
- `npm test` judged by its exit code runs no chosen files: unknown.
Everything read comes out of the sandbox: bounded (`read_report`), parsed as untrusted JSON. The
tests of the run are the new tests together: V8 and istanbul count per process or per run, not
per test, so each executed changed line is attributed to every case of the run (a new test is
held by the coverage rule only when the new tests together execute none of the change).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlparse

from bot.analysis.coverage import NEW_TESTS, ChangeCoverage, ChangedLine, unavailable
from bot.analysis.js_lines import (
    LineState,
    SourceMismatch,
    istanbul_lines,
    merge,
    v8_lines,
    v8_scripts,
)
from bot.repo.changes import added_lines
from bot.sandbox.runners import MAX_REPORT_BYTES, REPORT_DIR, read_report
from bot.testing.node_script import NodeTestSetup, Runner

logger = logging.getLogger(__name__)

JS_SOURCES = (".js", ".cjs", ".mjs", ".jsx", ".ts", ".cts", ".mts", ".tsx")
MAX_COVERAGE_FILES = 64
"""V8 writes one file per process; more than this many are not read."""
VITEST_PROVIDERS = (("@vitest/coverage-v8", "v8"), ("@vitest/coverage-istanbul", "istanbul"))


def js_sources(diff: str, is_test: Callable[[str], bool]) -> list[str]:
    """The JavaScript/TypeScript source files (not tests, not declarations) the diff adds lines
    to: what coverage measures."""
    return sorted(
        p
        for p in added_lines(diff)
        if p.endswith(JS_SOURCES)
        and not p.endswith((".d.ts", ".d.mts", ".d.cts"))
        and not is_test(p)
        and "node_modules" not in p.split("/")
    )


@dataclass
class NodeCoverage:
    """What the new tests' runs measured of the changed sources, and what could not be."""

    sources: list[str]
    """Changed source files, relative to the repository root."""
    lines: dict[str, dict[int, LineState]] = field(default_factory=dict)
    unknown: dict[str, str] = field(default_factory=dict)
    """Source -> why its coverage is unknown (a runner without coverage, a transpiled file)."""
    problems: list[str] = field(default_factory=list)
    """Why a run's coverage is unknown altogether (no data written, unreadable data)."""

    def instrument(
        self, root: Path, directory: str, index: int, setup: NodeTestSetup
    ) -> NodeTestSetup:
        """The setup that also records coverage of the changed sources (or, noting why not,
        the setup as it is)."""
        out = root / _directory(index)
        if not _remove(root, _directory(index)):
            self.problems.append(f"{REPORT_DIR} is not a plain directory: coverage not recorded")
            return setup
        local = [_glob_literal(p) for s in self.sources if (p := _within(s, directory))]
        if setup.runner in (Runner.node_test, Runner.mocha):
            out.mkdir(parents=True)
            return replace(setup, env=[*setup.env, f"NODE_V8_COVERAGE={shlex.quote(str(out))}"])
        if setup.runner is Runner.jest:
            options = ["--coverage", "--coverageProvider=v8", "--coverageReporters=json",
                       f"--coverageDirectory={out}", "--coverageThreshold={}",
                       *[f"--collectCoverageFrom={s}" for s in local]]  # fmt: skip
            return replace(setup, options=[*setup.options, *map(shlex.quote, options)])
        if setup.runner is Runner.vitest:
            provider = vitest_provider(root, directory)
            if provider is None:
                self._unknown("vitest: @vitest/coverage-v8 not installed in the project")
                return setup
            options = ["--coverage.enabled=true", f"--coverage.provider={provider}",
                       "--coverage.reporter=json", f"--coverage.reportsDirectory={out}",
                       "--coverage.reportOnFailure=true",
                       *[f"--coverage.include={s}" for s in local]]  # fmt: skip
            return replace(setup, options=[*setup.options, *map(shlex.quote, options)])
        self._unknown(f"{setup.runner.value} runs no chosen test files under coverage")
        return setup

    def collect(self, root: Path, directory: str, index: int, runner: Runner) -> None:
        """Read what the run of `instrument`'s setup wrote."""
        relative = _directory(index)
        if runner in (Runner.node_test, Runner.mocha):
            self._read_v8(root, relative, runner)
        elif runner in (Runner.jest, Runner.vitest):
            self._read_istanbul(root, directory, f"{relative}/coverage-final.json", runner)

    def _unknown(self, why: str, sources: Sequence[str] | None = None) -> None:
        for source in self.sources if sources is None else sources:
            self.unknown.setdefault(source, why)

    def _read_v8(self, root: Path, relative: str, runner: Runner) -> None:
        names = _listing(root, relative)
        if not names:
            self.problems.append(f"{runner.value} wrote no V8 coverage")
            return
        wanted = {_url_path(root, s): s for s in self.sources} | {
            _url_path(root, s, real=True): s for s in self.sources
        }
        unread = max(0, len(names) - MAX_COVERAGE_FILES)
        for name in names[:MAX_COVERAGE_FILES]:
            data = _json(read_report(root, f"{relative}/{name}"))
            unread += data is None
            maps = data.get("source-map-cache") if isinstance(data, dict) else None
            for url, functions in v8_scripts(data).items():
                path = unquote(urlparse(url).path) if url.startswith("file:") else ""
                source = wanted.get(path)
                if source is not None:
                    source_map = maps.get(url) if isinstance(maps, dict) else None
                    lines = partial(v8_lines, functions=functions, source_map=source_map,
                                    path=os.path.realpath(root / source))  # fmt: skip
                    self._add(root, source, lines, runner)
        if unread:  # what it held is not known: a file missing from the rest is not "not run"
            self.problems.append(
                f"{runner.value}: {unread} V8 coverage file(s) not read (a link, over "
                f"{MAX_COVERAGE_FILES} files or {MAX_REPORT_BYTES} bytes, or not JSON)"
            )

    def _read_istanbul(self, root: Path, directory: str, relative: str, runner: Runner) -> None:
        data = _json(read_report(root, relative))
        if not isinstance(data, dict):
            self.problems.append(f"{runner.value} wrote no readable coverage report")
            return
        for key, entry in data.items():
            where = Path(key) if os.path.isabs(key) else root / directory / key
            for source in self.sources:
                if str(where) in (str(root / source), os.path.realpath(root / source)):
                    self._add(root, source, partial(istanbul_lines, entry=entry), runner)
        # asked for and not reported (a `rootDir` or an ignore pattern of its configuration
        # kept it out): not known, rather than not run
        asked = [s for s in self.sources if _within(s, directory) and s not in self.lines
                 and (root / s).is_file()]  # fmt: skip
        self._unknown(f"{runner.value} reported no coverage of it", asked)

    def _add(
        self, root: Path, source: str, lines: Callable[[str], dict[int, LineState]], runner: Runner
    ) -> None:
        text = read_report(root, source)
        if text is None:
            return
        try:
            merge(self.lines.setdefault(source, {}), lines(text))
        except SourceMismatch as exc:
            if not self.lines.get(source):
                self.lines.pop(source, None)
            why = f"{runner.value} ran code that is not the file and no source map of it ({exc})"
            self._unknown(why, [source])

    def result(self, root: Path, diff: str, tests: Sequence[str]) -> ChangeCoverage:
        """The coverage of the change: every added executable line of the changed sources,
        executed or not, with the run's cases for lines executed inside a function."""
        unknown = {s: why for s, why in self.unknown.items() if s not in self.lines}
        if unknown:
            listed = "; ".join(f"{s}: {why}" for s, why in sorted(unknown.items()))
            return unavailable(listed)
        present = [s for s in self.sources if (root / s).is_file()]
        if self.problems and any(s not in self.lines for s in present):
            return unavailable("; ".join(self.problems))
        added = added_lines(diff)
        coverage = ChangeCoverage(available=True, scope=NEW_TESTS)
        for source in self.sources:
            if not (root / source).is_file():
                continue  # deleted by the change
            states = self.lines.get(source)
            if states is None:
                coverage.unmeasured.append(source)
                continue
            for n in sorted(added.get(source, set()) & set(states)):
                state = states[n]
                coverage.lines.append(
                    ChangedLine(
                        source,
                        n,
                        state is not LineState.missed,
                        sorted(tests) if state is LineState.called else [],
                        state is LineState.loaded,
                    )
                )
        return coverage


def vitest_provider(root: Path, directory: str) -> str | None:
    """vitest's coverage provider the project installed (`v8`, `istanbul`), or None."""
    for package, provider in VITEST_PROVIDERS:
        for base in {root / directory, root}:
            if (base / "node_modules" / package / "package.json").is_file():
                return provider
    return None


def _directory(index: int) -> str:
    return f"{REPORT_DIR}/coverage-{index}"


def _within(source: str, directory: str) -> str | None:
    if not directory:
        return source
    return source.removeprefix(f"{directory}/") if source.startswith(f"{directory}/") else None


def _glob_literal(path: str) -> str:
    """A file path as a glob matching only itself (jest's micromatch, vitest's picomatch)."""
    return "".join(f"\\{c}" if c in "[]{}()*?!+@" else c for c in path)


def _url_path(root: Path, source: str, real: bool = False) -> str:
    return os.path.realpath(root / source) if real else str(root / source)


def _remove(root: Path, relative: str) -> bool:
    """Remove what an earlier run left at `relative`; False when a directory on the way is not a
    plain one (the sandbox may have made it a link to somewhere else)."""
    path = root
    for part in Path(relative).parts[:-1]:
        path = path / part
        try:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                return False
        except FileNotFoundError:
            return False
    path = root / relative
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)  # never follows a link inside
    else:
        path.unlink()
    return True


def _listing(root: Path, relative: str) -> list[str]:
    """The JSON files of a coverage directory written in the sandbox (not followed if a link)."""
    path = root / relative
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            return []
        return sorted(e.name for e in os.scandir(path) if e.name.endswith(".json"))
    except OSError:
        return []


def _json(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
