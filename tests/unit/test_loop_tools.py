"""The loop's plumbing: a final tool ends the model exchange, the run core's stops are never the
model's, and the pieces of a `run`'s answer (output head and tail, environment, syntax check)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from bot.agents.loop import command_env, head_and_tail, syntax_error
from bot.model.client import ModelClient, Tool
from bot.sandbox.base import TOOLBOX_MOUNT
from bot.shared.config import Settings
from bot.shared.contracts import CodeSubmission
from bot.shared.errors import RunStopped, WorkspaceError
from tests.unit.test_llm import BASE, USER, bodies, completion, tool_call

NO_ARGS: dict[str, Any] = {"type": "object", "properties": {}}


@pytest.fixture()
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture()
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def client(http: httpx.AsyncClient) -> ModelClient:
    return ModelClient(
        Settings(model="gpt-4o-mini"), base_url=BASE, api_key="sk-test", http_client=http
    )


async def test_a_final_tool_ends_the_exchange_and_its_answer_is_the_value(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    ran: list[str] = []
    submit = Tool("submit", "s", NO_ARGS, lambda: json.dumps({"explanation": "done"}), final=True)
    other = Tool("other", "o", NO_ARGS, lambda: ran.append("other") or "x")
    calls = [tool_call("c1", "submit", {}), tool_call("c2", "other", {})]
    route = mock.post("/chat/completions").mock(return_value=completion(tool_calls=calls))
    result = await client(http).complete("coder", USER, CodeSubmission, tools=[submit, other])
    assert result.value.explanation == "done" and result.value.edits == []
    assert route.call_count == 1 and ran == []  # nothing after the final tool runs


async def test_a_refused_final_tool_lets_the_model_go_on(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    def refuse() -> str:
        raise WorkspaceError("nothing to submit", "edit a file first")

    submit = Tool("submit", "s", NO_ARGS, refuse, final=True)
    answers = iter(
        [
            completion(tool_calls=[tool_call("c1", "submit", {})]),
            completion(json.dumps({"explanation": "answered instead"})),
        ]
    )
    route = mock.post("/chat/completions").mock(side_effect=lambda _: next(answers))
    result = await client(http).complete("coder", USER, CodeSubmission, tools=[submit])
    assert result.value.explanation == "answered instead"
    told = [m["content"] for m in bodies(route)[1]["messages"] if m["role"] == "tool"]
    assert told == ["error: nothing to submit (edit a file first)"]


async def test_a_stop_inside_a_tool_is_the_run_cores_not_an_answer_to_the_model(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    def stopped() -> str:
        raise RunStopped("run 1 was stopped")

    run = Tool("run", "r", NO_ARGS, stopped)
    mock.post("/chat/completions").mock(
        return_value=completion(tool_calls=[tool_call("c1", "run", {})])
    )
    with pytest.raises(RunStopped):
        await client(http).complete("coder", USER, CodeSubmission, tools=[run])


@pytest.mark.parametrize(
    ("size", "cut"),
    [pytest.param(5_000, None, id="fits"), pytest.param(12_345, 7_345, id="cut-in-the-middle")],
)
def test_a_runs_output_keeps_its_head_and_tail_and_says_how_much_was_cut(
    size: int, cut: int | None
) -> None:
    text = "h" * 100 + "m" * (size - 200) + "t" * 100
    shown = head_and_tail(text)
    if cut is None:
        assert shown == text
    else:
        assert shown.startswith("h" * 100) and shown.endswith("t" * 100)
        assert f"[... {cut} of {size} characters cut ...]" in shown


def test_a_run_uses_the_prepared_venv_first_else_the_toolbox(tmp_path: Path) -> None:
    bare = command_env(tmp_path)
    assert bare["PYTHONPATH"] == TOOLBOX_MOUNT
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").touch()
    prepared = command_env(tmp_path)
    assert prepared["PATH"].split(":")[0] == str(tmp_path / ".venv" / "bin")
    assert "PYTHONPATH" not in prepared
    assert set(prepared) == {"PATH", "PYTHONDONTWRITEBYTECODE", "CI"}  # nothing of the worker's


@pytest.mark.parametrize(
    ("path", "text", "broken"),
    [
        pytest.param("a.py", "def f(:\n", True, id="python-broken"),
        pytest.param("a.py", "def f():\n    return 1\n", False, id="python-fine"),
        pytest.param("a.txt", "def f(:\n", False, id="not-python"),
        pytest.param("a.py", None, False, id="deleted"),
    ],
)
def test_only_a_python_file_that_does_not_compile_has_a_syntax_error(
    path: str, text: str | None, broken: bool
) -> None:
    found = syntax_error(path, text)
    if broken:
        assert found is not None and found.startswith("a.py:1:")
    else:
        assert found is None
