"""ModelClient against scripted Chat Completions answers (wire format, with usage) via respx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import respx

from bot.model.client import ModelClient, Tool
from bot.model.usage import Price, UsageLedger, parse_prices, price_for
from bot.shared.config import Settings
from bot.shared.contracts import ImplementationPlan, ReviewResult
from bot.shared.errors import ContractError, ModelError, ModelUnavailable

BASE = "http://llm.test/v1"
PLAN = {
    "summary": "Add mul",
    "files_to_modify": ["pkg/calc.py"],
    "acceptance_criteria": ["mul(2, 3) == 6"],
    "risk_level": "low",
}


def completion(
    content: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    prompt_tokens: int = 1000,
    completion_tokens: int = 200,
    model: str = "gpt-4o-mini",
) -> httpx.Response:
    """A Chat Completions response in the exact wire format."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1763856000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }
    return httpx.Response(200, json=body)


def tool_call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def api_error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return httpx.Response(status, json={"error": error}, headers=headers)


SOON = {"retry-after-ms": "1"}
"""The endpoint asks to retry after a millisecond: the client's retries do not slow the tests."""


def bodies(route: respx.Route) -> list[dict[str, Any]]:
    return [json.loads(call.request.content) for call in route.calls]


@pytest.fixture()
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture()
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def make_client(http: httpx.AsyncClient, **kwargs: Any) -> ModelClient:
    settings = kwargs.pop("settings", Settings(model="gpt-4o-mini"))
    return ModelClient(settings, base_url=BASE, api_key="sk-test", http_client=http, **kwargs)


USER = [{"role": "user", "content": "Plan: add mul to pkg/calc.py"}]


async def test_final_answer_requested_as_json_schema_named_for_the_contract(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = mock.post("/chat/completions").mock(return_value=completion(json.dumps(PLAN)))
    result = await make_client(http).complete("planner", USER, ImplementationPlan)
    assert result.value.acceptance_criteria == ["mul(2, 3) == 6"]
    assert result.attempts == 1 and result.model == "gpt-4o-mini"
    fmt = bodies(route)[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "ImplementationPlan"
    assert fmt["json_schema"]["schema"] == ImplementationPlan.model_json_schema()
    assert "tools" not in bodies(route)[0]


async def test_refused_json_schema_falls_back_to_json_object_and_is_remembered(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    answers = iter(
        [
            api_error(400, "response_format json_schema is not supported by this model"),
            completion(json.dumps(PLAN)),
            completion("```json\n" + json.dumps(PLAN) + "\n```"),
        ]
    )
    route = mock.post("/chat/completions").mock(side_effect=lambda _: next(answers))
    client = make_client(http)
    await client.complete("planner", USER, ImplementationPlan)
    second = await client.complete("planner", USER, ImplementationPlan)
    sent = bodies(route)
    assert [b["response_format"]["type"] for b in sent] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    assert "validates against this JSON schema" in sent[1]["messages"][0]["content"]
    assert '"acceptance_criteria"' in sent[1]["messages"][0]["content"]
    assert second.value.summary == "Add mul"


async def test_other_bad_request_is_a_model_error_not_a_fallback(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = mock.post("/chat/completions").mock(return_value=api_error(400, "context too long"))
    with pytest.raises(ModelError, match="context too long"):
        await make_client(http).complete("planner", USER, ImplementationPlan)
    assert route.call_count == 1


async def test_invalid_answer_twice_then_valid_is_accepted_after_reasking(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    answers = iter(
        [
            completion("{not json"),
            completion(json.dumps({**PLAN, "acceptance_criteria": []})),
            completion(json.dumps(PLAN)),
        ]
    )
    route = mock.post("/chat/completions").mock(side_effect=lambda _: next(answers))
    result = await make_client(http).complete("planner", USER, ImplementationPlan)
    assert result.attempts == 3 and len(result.usages) == 3
    last = bodies(route)[2]["messages"]
    assert last[-2] == {
        "role": "assistant",
        "content": json.dumps({**PLAN, "acceptance_criteria": []}),
    }
    assert "acceptance_criteria: List should have at least 1 item" in last[-1]["content"]
    assert "Invalid JSON" in bodies(route)[1]["messages"][-1]["content"]


async def test_invalid_answer_three_times_raises_contract_error(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = mock.post("/chat/completions").mock(
        return_value=completion(json.dumps({**PLAN, "risk_level": "extreme"}))
    )
    ledger = UsageLedger()
    with pytest.raises(ContractError, match="ImplementationPlan after 3 attempts.*risk_level"):
        await make_client(http, ledger=ledger).complete("planner", USER, ImplementationPlan)
    assert route.call_count == 3
    assert ledger.total().calls == 3  # spent tokens are still counted


async def test_tool_calls_are_answered_until_the_budget_is_spent(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    seen: list[str] = []

    def open_file(path: str) -> str:
        seen.append(path)
        return f"contents of {path}"

    async def search(pattern: str) -> str:
        seen.append(pattern)
        return "pkg/calc.py:1: def add"

    tools = [
        Tool(
            "open_file",
            "Open a file",
            {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
            open_file,
        ),
        Tool(
            "search",
            "Search",
            {
                "type": "object",
                "properties": {"pattern": {"type": "string"}},
                "required": ["pattern"],
            },
            search,
        ),
    ]
    answers = iter(
        [
            completion(
                tool_calls=[
                    tool_call("c1", "open_file", {"path": "a.py"}),
                    tool_call("c2", "search", {"pattern": "def add"}),
                ]
            ),
            completion(
                tool_calls=[
                    tool_call("c3", "open_file", {"path": "b.py"}),
                    tool_call("c4", "nope", {}),
                ]
            ),
            completion(json.dumps(PLAN)),
        ]
    )
    route = mock.post("/chat/completions").mock(side_effect=lambda _: next(answers))
    result = await make_client(http).complete(
        "coder", USER, ImplementationPlan, tools=tools, tool_budget=3
    )
    assert seen == ["a.py", "def add", "b.py"]
    assert result.tool_calls == 3 and len(result.usages) == 3
    sent = bodies(route)
    assert [t["function"]["name"] for t in sent[0]["tools"]] == ["open_file", "search"]
    assert "tools" not in sent[2]  # budget spent: the final request offers no tools
    tool_msgs = [m for m in sent[2]["messages"] if m["role"] == "tool"]
    assert [m["content"] for m in tool_msgs] == [
        "contents of a.py",
        "pkg/calc.py:1: def add",
        "contents of b.py",
        "tool budget of 3 calls is spent; give your final answer now",
    ]
    assert "tool budget (3 calls) is spent" in sent[2]["messages"][-1]["content"]


async def test_model_answering_at_once_with_tools_offered_is_fine(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    mock.post("/chat/completions").mock(return_value=completion(json.dumps(PLAN)))
    tool = Tool("t", "t", {"type": "object", "properties": {}}, lambda: "x")
    result = await make_client(http).complete("coder", USER, ImplementationPlan, tools=[tool])
    assert result.tool_calls == 0


async def test_rate_limit_then_success_is_retried(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    answers = iter(
        [
            api_error(429, "slow down", SOON),
            api_error(503, "overloaded", SOON),
            completion(json.dumps(PLAN)),
        ]
    )
    route = mock.post("/chat/completions").mock(side_effect=lambda _: next(answers))
    result = await make_client(http).complete("planner", USER, ImplementationPlan)
    assert route.call_count == 3 and result.value.summary == "Add mul"
    assert len(result.usages) == 1


async def test_server_errors_beyond_the_retry_limit_raise_model_error(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = mock.post("/chat/completions").mock(return_value=api_error(500, "boom", SOON))
    with pytest.raises(ModelUnavailable, match="failed 3 times") as info:
        await make_client(http, max_retries=2).complete("planner", USER, ImplementationPlan)
    assert route.call_count == 3
    assert info.value.retry_after_s == pytest.approx(0.001)


async def test_the_retry_setting_sets_the_clients_retries_and_the_outage_names_its_cause(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = mock.post("/chat/completions").mock(return_value=api_error(429, "slow", SOON))
    settings = Settings(model="gpt-4o-mini", model_max_retries=1)  # DRAFTSMITH_MODEL_MAX_RETRIES
    with pytest.raises(ModelUnavailable, match="failed 2 times") as info:
        await make_client(http, settings=settings).complete("planner", USER, ImplementationPlan)
    assert route.call_count == 2
    assert info.value.cause == "rate limited (429)"


async def test_a_long_retry_after_is_not_waited_out_but_reported(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = mock.post("/chat/completions").mock(
        return_value=api_error(429, "quota", {"retry-after": "300"})
    )
    with pytest.raises(ModelUnavailable) as info:
        await make_client(http).complete("planner", USER, ImplementationPlan)
    assert route.call_count == 1  # the client does not sleep five minutes inside a phase
    assert info.value.retry_after_s == 300.0 and "wait 300s" in info.value.message


async def test_an_unreachable_endpoint_is_unavailable_without_a_retry_after(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    mock.post("/chat/completions").mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(ModelUnavailable) as info:
        await make_client(http, max_retries=0).complete("planner", USER, ImplementationPlan)
    assert info.value.retry_after_s is None
    assert "OPENAI_BASE_URL" in info.value.hint


async def test_unauthorised_is_a_model_error_with_a_hint(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    mock.post("/chat/completions").mock(return_value=api_error(401, "bad key"))
    with pytest.raises(ModelError) as info:
        await make_client(http).complete("planner", USER, ImplementationPlan)
    assert info.value.hint == "check OPENAI_API_KEY"


async def test_cost_is_computed_per_call_and_summed_per_role(
    mock: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    answers = iter(
        [
            completion(json.dumps(PLAN), prompt_tokens=1_000_000, completion_tokens=100_000),
            completion(
                json.dumps({"status": "approved", "score": 0.9}),
                prompt_tokens=2000,
                completion_tokens=10,
            ),
        ]
    )
    mock.post("/chat/completions").mock(side_effect=lambda _: next(answers))
    settings = Settings(model="gpt-4o-mini", model_reviewer="local-llama")
    client = make_client(http, settings=settings)
    plan = await client.complete("planner", USER, ImplementationPlan)
    review = await client.complete("reviewer", USER, ReviewResult)
    usage = plan.usages[0]
    assert (usage.prompt_tokens, usage.completion_tokens) == (1_000_000, 100_000)
    assert usage.cost_usd == pytest.approx(0.15 + 0.06) and usage.priced
    assert review.model == "local-llama"
    assert review.usages[0].cost_usd == 0.0 and not review.usages[0].priced
    per_role = client.ledger.by_role()
    assert per_role["planner"].cost_usd == pytest.approx(0.21)
    assert per_role["reviewer"].total_tokens == 2010 and per_role["reviewer"].unpriced_calls == 1
    assert client.ledger.total().calls == 2
    again = UsageLedger.from_json(client.ledger.to_json())
    assert again.total().cost_usd == pytest.approx(0.21)


def test_price_table_is_configurable_and_matches_dated_model_names() -> None:
    table = parse_prices(
        {"my-model": {"input": 1, "output": 2}, "gpt-4o": {"input": 3, "output": 4}}
    )
    assert price_for("my-model", table) == Price(1.0, 2.0)
    assert price_for("gpt-4o-2024-08-06", table) == Price(3.0, 4.0)
    assert price_for("other", table) is None


def test_per_role_models_prefer_role_overrides_then_repo_then_env() -> None:
    settings = Settings(model="env-default", model_coder="env-coder")
    client = ModelClient(
        settings, models={"default": "repo-default", "tester": "repo-tester"}, api_key="sk-test"
    )
    assert client.model_for("planner") == "repo-default"
    assert client.model_for("coder") == "env-coder"
    assert client.model_for("tester") == "repo-tester"


async def test_no_model_configured_names_the_variables_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    client = ModelClient(Settings(model=None))
    with pytest.raises(ModelError) as info:
        await client.complete("planner", USER, ImplementationPlan)
    text = str(info.value)
    for name in ("DRAFTSMITH_MODEL", "OPENAI_BASE_URL", "OPENAI_API_KEY"):
        assert name in text
