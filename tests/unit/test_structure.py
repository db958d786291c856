"""The code's shape: no import cycle in bot/ or webhooks/, no module past ~400 lines, the run
core against its ports (no concrete adapter imported under bot/run), analysis/ below agents/,
no raw stored vocabulary outside its enum (nor in a test's assert), one reader per format."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "webhooks")
MAX_LINES = 400


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of our packages by dotted name (a package is its __init__)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules `name` imports anywhere: top level, in functions, under TYPE_CHECKING."""
    is_package = path.name == "__init__.py"
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    found: set[str] = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return result


def test_the_import_walk_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bot.store.runs import Store\n"
        "def f():\n    from bot.run import engine\n"
    )
    path = tmp_path / "probe.py"
    path.write_text(source)
    known = {"bot", "bot.store.runs", "bot.run", "bot.run.engine"}
    assert imports_of("bot.probe", path, known) == {"bot.store.runs", "bot.run", "bot.run.engine"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_bot_or_webhooks() -> None:
    found = modules()
    graph = {name: imports_of(name, path, set(found)) for name, path in found.items()}
    assert cycles(graph) == []


def test_the_top_of_bot_keeps_only_the_cli_and_the_composition_root() -> None:
    """Everything else lives in a package named for what it is, with a docstring saying so."""
    loose = sorted(p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py")
    assert loose == ["cli.py"]
    for package in (ROOT / "bot").iterdir():
        if package.is_dir() and package.name != "__pycache__":
            init = package / "__init__.py"
            assert init.exists(), package
            tree = ast.parse(init.read_text())
            assert ast.get_docstring(tree), f"{init} says nothing of what the package is"


def test_the_shared_package_imports_nothing_else_of_ours() -> None:
    found = modules()
    known = set(found)
    for name, path in found.items():
        if name.startswith("bot.shared"):
            outside = {m for m in imports_of(name, path, known) if not m.startswith("bot.shared")}
            assert not outside, f"{name} imports {sorted(outside)}"


def test_no_module_in_bot_or_webhooks_is_over_400_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


# ------------------------------------------------------------------ the run core against its ports
ADAPTERS = {
    # the run store's SQL: bot.store.tables (the rows) and bot.store.vocabulary (enums) are data
    "bot.store.runs",
    "bot.store.engine",
    "bot.store.intake",
    # GitHub calls: bot.github.objects (answers, Published), markdown and codeowners are data or
    # pure text
    "bot.github.client",
    "bot.github.transport",
    "bot.github.effects",
    "bot.github.publish",
    "bot.github.branch",
    "bot.github.gitdata",
    "bot.github.pulls",
    "bot.github.checks",
    "bot.github.gate",
    "bot.github.deliveries",
    # the model endpoint: bot.model.base (the port), usage (prices) and errors are ours to use
    "bot.model.client",
    # the queue and crash safety
    "bot.jobs.queue",
    "bot.jobs.outbox",
    "bot.jobs.leases",
    # concrete sandboxes: bot.sandbox.base (the port) and what runs over any sandbox are allowed
    "bot.sandbox.bwrap",
    "bot.sandbox.docker",
    "bot.sandbox.docker_fds",
    "bot.sandbox.docker_orphans",
    "bot.sandbox.choose",
    "bot.sandbox.process",
    "bot.sandbox.egress",
}
COMPOSITION_ROOTS = {
    "bot.runtime",
    "bot.runtime.local",
    "bot.runtime.doctor",
    "bot.runtime.serving",
    "bot.cli",
    "bot.action.drive",
    "bot.demo.run",
}
ADAPTER_LIBRARIES = {"sqlalchemy", "alembic", "githubkit", "openai", "httpx", "huey", "docker"}
LAYERS: dict[str, set[str]] = {
    "bot.run": ADAPTERS | COMPOSITION_ROOTS,
    "bot.analysis": {"bot.agents"},  # agents -> analysis, never back
}
"""Package -> modules (or packages) no module under it may import, anywhere in the file."""


def libraries_of(path: Path) -> set[str]:
    """The third-party or stdlib top-level packages a module imports (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


def within(name: str, package: str) -> bool:
    """Whether module `name` is `package` or under it."""
    return name == package or name.startswith(package + ".")


def layer_violations(root: Path = ROOT) -> dict[str, list[str]]:
    """Each module breaking `LAYERS` (or, under bot/run, importing an adapter library) and what
    it imports that it may not.

    The run core (bot/run, steps included) types against `bot.run.ports`: the concrete adapters
    (`ADAPTERS`: SQL, GitHub calls, the model endpoint, the queue, concrete sandboxes) and the
    libraries they are built on (`ADAPTER_LIBRARIES`) are wired in at the composition root
    (`bot/runtime/__init__.py`), which bot/run does not import either (`COMPOSITION_ROOTS`). Data
    and vocabulary modules stay allowed: bot.store.tables (the rows a run is read as),
    bot.store.vocabulary, bot.run.states, bot.shared.contracts, bot.shared.errors,
    bot.github.objects, and the ports' own modules bot.sandbox.base and bot.model.base.
    """
    found = modules(root)
    known = set(found)
    bad: dict[str, list[str]] = {}
    for name, path in found.items():
        for package, forbidden in LAYERS.items():
            if not within(name, package):
                continue
            hits = sorted(
                target
                for target in imports_of(name, path, known)
                if any(within(target, f) for f in forbidden)
            )
            if package == "bot.run":
                hits += sorted(libraries_of(path) & ADAPTER_LIBRARIES)
            if hits:
                bad[name] = hits
    return bad


def test_the_layer_walk_finds_adapters_imported_by_the_run_core(tmp_path: Path) -> None:
    files = {
        "bot/__init__.py": "",
        "bot/run/__init__.py": "",
        "bot/run/steps/__init__.py": "",
        "bot/run/steps/deep.py": "def f():\n    from bot.github.client import InstallationClient\n",
        "bot/run/typed.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from bot.store.runs import Store\n"
        ),
        "bot/run/data.py": "from bot.store.tables import Run\nfrom bot.run import ports\n",
        "bot/run/ports.py": "from bot.sandbox.base import Sandbox\n",
        "bot/run/sql.py": "from sqlalchemy import select\n",
        "bot/run/back_door.py": "import bot.runtime\n",
        "bot/store/__init__.py": "",
        "bot/store/runs.py": "from bot.run import ports\n",
        "bot/store/tables.py": "",
        "bot/github/__init__.py": "",
        "bot/github/client.py": "",
        "bot/sandbox/__init__.py": "",
        "bot/sandbox/base.py": "",
        "bot/runtime/__init__.py": "from bot.store.runs import Store\n",
        "bot/analysis/__init__.py": "",
        "bot/analysis/render.py": "from bot.agents.tester import TestOutcome\n",
        "bot/agents/__init__.py": "",
        "bot/agents/tester.py": "from bot.analysis import render\n",
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    (tmp_path / "webhooks").mkdir()
    assert layer_violations(tmp_path) == {
        "bot.run.steps.deep": ["bot.github.client"],
        "bot.run.typed": ["bot.store.runs"],
        "bot.run.sql": ["sqlalchemy"],
        "bot.run.back_door": ["bot.runtime"],
        "bot.analysis.render": ["bot.agents.tester"],
    }


def test_every_named_adapter_and_root_exists() -> None:
    """A renamed adapter must be renamed here too, or the rule would guard nothing."""
    found = set(modules())
    named = ADAPTERS | COMPOSITION_ROOTS | set(LAYERS) | set().union(*LAYERS.values())
    assert sorted(named - found) == []


def test_the_run_core_imports_no_concrete_adapter_and_analysis_no_agent() -> None:
    assert layer_violations() == {}


# ------------------------------------------------------------------ stored vocabularies are enums
VOCABULARY_MODULES = {"bot.run.states", "bot.store.vocabulary"}
VOCABULARY_FIELDS = {"status", "phase", "outcome", "kind"}


def stored_vocabulary() -> set[str]:
    """Every stored string of a run's phase and status, a delivery's state and an event's kind."""
    from bot.run.states import Phase, Status
    from bot.store.vocabulary import DeliveryState, EventKind

    return {m.value for enum in (Phase, Status, DeliveryState, EventKind) for m in enum}


OTHER_STATUSES = {"tool"}
"""Owners whose `.status` is another vocabulary: an analysis tool's `RunStatus` (a Literal that
mypy checks), which shares "failed" with a run's `Status`."""


def is_vocabulary_field(node: ast.AST) -> bool:
    """`x.status`, `x.phase`, `x.kind`, and a delivery's `outcome` (a test case's `outcome` is
    the JUnit reader's Literal); an analysis tool's `.status` is not one."""
    if not isinstance(node, ast.Attribute) or node.attr not in VOCABULARY_FIELDS:
        return False
    owner = node.value
    name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
    if node.attr == "outcome":
        return "deliver" in name.lower()
    return not (node.attr == "status" and name in OTHER_STATUSES)


def raw_vocabulary(source: str, vocabulary: set[str]) -> list[int]:
    """Lines spelling a stored vocabulary string where its enum belongs: compared with a
    `.status`/`.phase`/`.outcome`/`.kind` attribute, passed as `outcome=`/`kind=`/`status=`/
    `phase=`, or named as an event kind to `add_event`/`events`."""

    def raw(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and node.value in vocabulary

    def raw_any(node: ast.AST | None) -> bool:
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(raw(e) for e in node.elts)
        return raw(node)

    field = is_vocabulary_field

    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(field(s) for s in sides) and any(raw_any(s) for s in sides):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            named = [k.value for k in node.keywords if k.arg in VOCABULARY_FIELDS]
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"add_event", "events"} and len(node.args) > 1:
                named.append(node.args[1])
            if name == "in_" and isinstance(func, ast.Attribute) and field(func.value):
                named.extend(node.args)
            if name in {"Outcome", "finish_delivery"}:
                named.extend(node.args)
            if any(raw_any(v) for v in named):
                lines.append(node.lineno)
    return sorted(set(lines))


def test_the_vocabulary_walk_finds_raw_strings() -> None:
    source = (
        'if run.status == "failed": pass\n'
        'q.where(Delivery.outcome.in_(("queued", "dispatched")))\n'
        'store.add_event(run.id, "input", text)\n'
        'store.finish_delivery(d, "failed", "x")\n'
        "if run.status == Status.failed: pass\n"
        'if check.status == "completed": pass\n'
        'if case.outcome == "failed": pass\n'
        'if delivery.outcome == "failed": pass\n'
    )
    found = raw_vocabulary(source, {"failed", "queued", "dispatched", "input"})
    assert found == [1, 2, 3, 4, 8]


def test_no_raw_status_phase_delivery_state_or_event_kind_outside_its_enum() -> None:
    vocabulary = stored_vocabulary()
    found = {
        name: lines
        for name, path in modules().items()
        if name not in VOCABULARY_MODULES
        and (lines := raw_vocabulary(path.read_text(), vocabulary))
    }
    assert found == {}


VOCABULARY_ENUMS = {"Phase", "Status", "DeliveryState", "EventKind"}


def raw_strings(node: ast.AST, vocabulary: set[str]) -> list[str]:
    """The vocabulary strings a constant (or a tuple, list or set of them) spells."""
    elements = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [
        e.value
        for e in elements
        if isinstance(e, ast.Constant) and isinstance(e.value, str) and e.value in vocabulary
    ]


def pins_an_enum(node: ast.AST) -> bool:
    """`Status.approved` or `f"{Status.approved}"`: a test pinning the stored string itself."""
    if isinstance(node, ast.JoinedStr):
        return any(pins_an_enum(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in VOCABULARY_ENUMS
    )


def raw_vocabulary_in_asserts(source: str, vocabulary: set[str]) -> list[int]:
    """Lines of a test's `assert` comparing with a raw stored string where its enum belongs.

    Inside an `assert`, a comparison is flagged when one side is a vocabulary field (`x.status`,
    `x.phase`, `x.kind`, a delivery's `outcome`, or a tuple holding one) and another spells a
    string of that vocabulary; or when a side spells an unambiguous one (with an underscore, e.g.
    "needs_human_review": no English word collides) anywhere, unless the other side is the enum
    member itself (the test pinning the stored string). A store's `events(run, "kind")` inside an
    assert is flagged too. Words that collide ("failed", "setup", "testing") compared with
    anything else (a JUnit case, a CLI's stdout, a JSON field) are left alone: a check of what a
    user sees keeps its literal or spells `Status.x.value`.
    """
    unambiguous = {v for v in vocabulary if "_" in v}
    lines: set[int] = set()
    for statement in ast.walk(ast.parse(source)):
        if not isinstance(statement, ast.Assert):
            continue
        for node in ast.walk(statement.test):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                fields = any(
                    is_vocabulary_field(s)
                    or (isinstance(s, ast.Tuple) and any(is_vocabulary_field(e) for e in s.elts))
                    for s in sides
                )
                pinned = len(sides) == 2 and any(pins_an_enum(s) for s in sides)
                for side in sides:
                    spelled = raw_strings(side, vocabulary)
                    if (fields and spelled) or (set(spelled) & unambiguous and not pinned):
                        lines.add(node.lineno)
            elif isinstance(node, ast.Call):
                func = node.func
                named = func.attr == "events" if isinstance(func, ast.Attribute) else False
                if named and len(node.args) > 1 and raw_strings(node.args[1], vocabulary):
                    lines.add(node.lineno)
    return sorted(lines)


def test_the_assert_walk_finds_raw_strings_in_tests() -> None:
    source = (
        'assert run.status == "approved"\n'  # 1: a field against its raw string
        'assert (run.status, run.phase) == ("waiting", "plan_approval")\n'  # 2: a tuple of fields
        'assert delivery.outcome == "queued"\n'  # 3: a delivery's outcome
        'assert body["status"] == "needs_human_review"\n'  # 4: unambiguous, anywhere
        'assert len(store.events(run.id, "input")) == 1\n'  # 5: an event kind by name
        "assert run.status == Status.approved\n"
        'assert Status.needs_human_review == "needs_human_review"\n'  # pins the stored string
        'assert f"{Status.blocked_by_policy}" == "blocked_by_policy"\n'
        'assert case.outcome == "failed"\n'  # a JUnit case, not a delivery
        'assert "failed" in listing.stdout\n'  # what a user sees: a common word
        'assert tool.status == "failed"\n'  # an analysis tool's RunStatus, not a run's
        'assert body["status"] == Status.needs_human_review.value\n'
        'if run.status == "approved": pass\n'  # not an assert: the product walk\'s business
    )
    vocabulary = {"approved", "waiting", "plan_approval", "queued", "needs_human_review"}
    vocabulary |= {"input", "failed", "blocked_by_policy"}
    assert raw_vocabulary_in_asserts(source, vocabulary) == [1, 2, 3, 4, 5]


def test_no_test_asserts_a_raw_status_phase_delivery_state_or_event_kind() -> None:
    vocabulary = stored_vocabulary()
    found = {
        str(path.relative_to(ROOT)): lines
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if (lines := raw_vocabulary_in_asserts(path.read_text(), vocabulary))
    }
    assert found == {}


# ------------------------------------------------------------------- one reader per format
READERS = {
    "JUnit XML": ("bot/sandbox/junit.py", re.compile(r"xml\.etree|defusedxml|[\"']testcase[\"']")),
    "unified diff": ("bot/repo/changes.py", re.compile(r"@@ -|\^@@")),
}


@pytest.mark.parametrize("fmt", sorted(READERS))
def test_each_format_has_one_reader(fmt: str) -> None:
    owner, marker = READERS[fmt]
    readers = sorted(
        str(path.relative_to(ROOT))
        for folder in (*PACKAGES, "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if marker.search(path.read_text())
    )
    assert readers == [owner]
