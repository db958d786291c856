"""Python applications that are not packages, end to end with no .github/draftsmith.yml: real git,
the real sandbox, real installs from PyPI, a scripted model.

Each converges with fail-before/pass-after proven, its dependencies installed without the project,
its tests run from the source tree, and the evidence says which way and why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.run.states import Status
from tests.helpers.local_runs import evidence_of, outcome_of, run_locally
from tests.helpers.python_shapes import (
    FLAT_LAYOUT,
    REQUEST,
    REQUIREMENTS_ONLY,
    SRC_TOOL_CONFIG,
    Shape,
    script,
)
from tests.helpers.repos import git


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(FLAT_LAYOUT, id="flat-layout-application"),
        pytest.param(REQUIREMENTS_ONLY, id="requirements-only-application"),
        pytest.param(SRC_TOOL_CONFIG, id="src-tree-with-tool-config-only"),
    ],
)
def test_an_application_that_is_not_a_package_converges_with_proof(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shape: Shape
) -> None:
    code, store, run, model = run_locally(
        tmp_path, monkeypatch, shape.files, script(shape), REQUEST
    )
    assert code == 0, run.status_reason
    assert run.status == Status.approved and run.revision == 0
    outcome = outcome_of(store, run)
    # fail-before/pass-after: the base run imported the base's code, which has no average()
    assert outcome["pinned"] == ["tests.test_average::test_average"]
    assert outcome["pinned_why"]["tests.test_average::test_average"] == (
        "could not be collected on the base: imports what it adds"
    )
    report = outcome["report"]
    assert (report["status"], report["tests_passed"], report["tests_failed"]) == ("passed", 2, 0)
    environment = outcome["environment"]
    assert environment["plan"]["source_tree"] is not None
    assert not any(" -e " in r["command"] for r in environment["records"] if r["exit_code"] == 0)
    (note,) = environment["notes"]
    assert shape.note in note
    assert shape.note in evidence_of(store, run).replace("\\[", "[").replace("\\]", "]")
    assert "average" in git(Path(run.clone_url), "show", f"{run.branch}:{shape.module}")
    assert model.calls["coder"] == 1
