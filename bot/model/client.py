"""ModelClient over `openai`: structured output per contract, re-ask, tools, routing, cost."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httpx
import openai
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError

from bot.model.base import CallGuard, Completion, Tool
from bot.model.errors import endpoint_error, refused
from bot.model.parts import (
    describe,
    is_error,
    reask,
    refuses_json_schema,
    run_tool,
    unfence,
    with_schema,
)
from bot.model.usage import Price, Usage, UsageLedger, load_prices, usage_of
from bot.observe.telemetry import record_model_call, tool_span
from bot.security.masking import process_masker
from bot.shared.config import Role, Settings
from bot.shared.errors import ContractError, ModelError

__all__ = ["CallGuard", "Completion", "ModelClient", "Price", "Tool", "Usage", "UsageLedger"]

logger = logging.getLogger(__name__)

T = TypeVar("T", bound=BaseModel)
MAX_ATTEMPTS = 3  # the first answer plus at most two re-asks


@dataclass
class _Exchange:
    usages: list[Usage] = field(default_factory=list)
    tool_calls: int = 0
    sampling: dict[str, Any] = field(default_factory=dict)


class ModelClient:
    """Asks an OpenAI-compatible endpoint for answers that validate against a contract."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        models: Mapping[str, str] | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        prices: Mapping[str, Price] | None = None,
        timeout_s: float = 120.0,
        max_retries: int | None = None,
        ledger: UsageLedger | None = None,
    ) -> None:
        self._settings = settings if settings is not None else Settings()
        self._models = dict(models or {})
        self._base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or None
        self._http_client = http_client
        self.prices: dict[str, Price] = (
            load_prices(self._settings.model_prices) if prices is None else dict(prices)
        )
        self.guard: CallGuard | None = None
        self._max_answer_tokens = self._settings.max_completion_tokens
        self._timeout_s = timeout_s
        self._max_retries = (
            max_retries if max_retries is not None else self._settings.model_max_retries
        )
        self.ledger = ledger if ledger is not None else UsageLedger()
        self._json_object_models: set[str] = set()
        self._completion_cap_models: set[str] = set()  # take max_completion_tokens instead
        self._client: openai.AsyncOpenAI | None = None

    # -- configuration -------------------------------------------------------------------------

    def model_for(self, role: Role) -> str | None:
        """Role override (repo, then env), else default model (repo, then env), else None."""
        return (
            self._models.get(role)
            or getattr(self._settings, f"model_{role}")
            or self._models.get("default")
            or self._settings.model
        )

    def missing_configuration(self, role: Role) -> list[str]:
        """The environment variables still to set before `role` can call a model."""
        missing = []
        if self.model_for(role) is None:
            missing.append(f"DRAFTSMITH_MODEL (or DRAFTSMITH_MODEL_{role.upper()})")
        if self._api_key is None:
            missing.append("OPENAI_API_KEY")
        return missing

    def _require(self, role: Role) -> tuple[openai.AsyncOpenAI, str]:
        missing = self.missing_configuration(role)
        model = self.model_for(role)
        if missing or model is None:
            raise ModelError(
                f"no model configured for the {role}: missing {', '.join(missing)}",
                "set DRAFTSMITH_MODEL (the model name), OPENAI_BASE_URL (the endpoint, e.g. "
                "http://localhost:11434/v1) and OPENAI_API_KEY",
            )
        if self._client is None:
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self._base_url,
                http_client=self._http_client,
                timeout=self._timeout_s,
                # the client's own retries (DRAFTSMITH_MODEL_MAX_RETRIES): 408/409/429/5xx and
                # connection errors, exponential backoff, Retry-After honoured up to two minutes
                max_retries=self._max_retries,
            )
        return self._client, model

    # -- the main call -------------------------------------------------------------------------

    async def complete(
        self,
        role: Role,
        messages: list[dict[str, Any]],
        contract: type[T],
        *,
        tools: Sequence[Tool] = (),
        tool_budget: int = 20,
        sampling: Mapping[str, Any] | None = None,
    ) -> Completion[T]:
        """Ask `role`'s model for an answer validating against `contract`; re-ask at most twice.

        `sampling` is sent with every request of the answer (e.g. `{"seed": 2}`: one candidate
        of several)."""
        client, model = self._require(role)
        conversation = [dict(m) for m in messages]
        exchange = _Exchange(sampling=dict(sampling or {}))
        errors = ""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            text = await self._answer(
                client, role, model, conversation, contract, tools, tool_budget, exchange
            )
            try:
                value = contract.model_validate_json(unfence(text))
            except ValidationError as exc:
                errors = describe(exc)
                logger.warning(
                    "%s answer %d/%d invalid for %s: %s",
                    role,
                    attempt,
                    MAX_ATTEMPTS,
                    contract.__name__,
                    errors[:500],
                )
                conversation.append({"role": "assistant", "content": text})
                conversation.append({"role": "user", "content": reask(contract, errors)})
                continue
            return Completion(value, model, exchange.usages, exchange.tool_calls, attempt)
        raise ContractError(
            f"the {role}'s answer did not validate as {contract.__name__} after "
            f"{MAX_ATTEMPTS} attempts: {errors[:1000]}",
            "the run needs human review; a stronger model for this role may help",
        )

    async def _answer(
        self,
        client: openai.AsyncOpenAI,
        role: Role,
        model: str,
        conversation: list[dict[str, Any]],
        contract: type[BaseModel],
        tools: Sequence[Tool],
        budget: int,
        exchange: _Exchange,
    ) -> str:
        """One answer text, after as many tool rounds as the budget allows."""
        by_name = {t.name: t for t in tools}
        while True:
            offer = bool(tools) and exchange.tool_calls < budget
            response = await self._request(
                client,
                role,
                model,
                conversation,
                contract,
                [t.spec() for t in tools] if offer else [],
                exchange,
            )
            message = response.choices[0].message
            calls = [c for c in (message.tool_calls or []) if c.type == "function"]
            if not calls:
                return message.content or ""
            if not offer:
                logger.warning("%s called tools after its budget was spent", role)
                return message.content or ""
            conversation.append(message.model_dump(exclude_none=True, exclude_unset=True))
            final: str | None = None
            for call in calls:
                fn = call.function
                tool = by_name.get(fn.name)
                if final is not None:
                    result = "not run: a final tool was called before it"
                elif exchange.tool_calls >= budget:
                    result = f"tool budget of {budget} calls is spent; give your final answer now"
                else:
                    if self.guard is not None:
                        self.guard.before_tool_call(fn.name)
                    exchange.tool_calls += 1
                    with tool_span(fn.name):
                        result = await run_tool(tool, fn.name, fn.arguments)
                    if tool is not None and tool.final and not is_error(result):
                        final = result
                conversation.append({"role": "tool", "tool_call_id": call.id, "content": result})
            if final is not None:
                return final
            if exchange.tool_calls >= budget:
                conversation.append(
                    {
                        "role": "user",
                        "content": (
                            f"The tool budget ({budget} calls) is spent. Give your final answer "
                            f"now as one JSON object matching {contract.__name__}."
                        ),
                    }
                )

    async def _request(
        self,
        client: openai.AsyncOpenAI,
        role: Role,
        model: str,
        conversation: list[dict[str, Any]],
        contract: type[BaseModel],
        tool_specs: list[dict[str, Any]],
        exchange: _Exchange,
    ) -> ChatCompletion:
        """One Chat Completions request (the client retries 429/5xx/connection errors), usage
        recorded; the call guard is asked before every request."""
        while True:
            schema_in_prompt = model in self._json_object_models
            kwargs: dict[str, Any] = {
                "model": model,
                # The one masking function: no secret value or credential reaches a model.
                "messages": process_masker().mask_obj(
                    with_schema(conversation, contract) if schema_in_prompt else conversation
                ),
                "response_format": {"type": "json_object"}
                if schema_in_prompt
                else {
                    "type": "json_schema",
                    "json_schema": {
                        "name": contract.__name__,
                        "schema": contract.model_json_schema(),
                        "strict": False,
                    },
                },
            }
            kwargs.update(exchange.sampling)
            if tool_specs:
                kwargs["tools"] = tool_specs
            if self.guard is not None:
                cap = min(self.guard.before_call(role, model, kwargs), self._max_answer_tokens)
                param = "max_completion_tokens" if model in self._completion_cap_models else None
                kwargs[param or "max_tokens"] = cap
            started = time.monotonic()
            try:
                response = cast(ChatCompletion, await client.chat.completions.create(**kwargs))
            except openai.BadRequestError as exc:
                if "max_tokens" in kwargs and "max_completion_tokens" in str(exc.message):
                    logger.info("%s takes max_completion_tokens instead of max_tokens", model)
                    self._completion_cap_models.add(model)
                    continue
                if schema_in_prompt or not refuses_json_schema(exc):
                    raise refused(exc, model) from exc
                logger.info("%s refuses json_schema; using json_object for it", model)
                self._json_object_models.add(model)
                continue
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                raise endpoint_error(exc, role, model, self._max_retries) from exc
            usage = response.usage
            if usage is None:
                logger.warning("%s returned no usage; counting 0 tokens", model)
            record = usage_of(
                role,
                model,
                usage.prompt_tokens if usage else 0,
                usage.completion_tokens if usage else 0,
                time.monotonic() - started,
                self.prices,
            )
            exchange.usages.append(record)
            self.ledger.record([record])
            if self.guard is not None:
                self.guard.after_call(record)
            record_model_call(record)
            if not response.choices:
                raise ModelError(f"{model} returned no choices", "check the endpoint")
            return response
