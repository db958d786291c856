"""The parts of the model client that are plain functions and types: tools, the call guard
protocol, and the text handling of structured answers (fences, errors, re-asks, schema notes)."""

from __future__ import annotations

import inspect
import json
import logging
import re
from typing import Any

import openai
from pydantic import BaseModel, ValidationError

from bot.model.base import Tool
from bot.shared.errors import BudgetExhausted, DraftsmithError, RunStopped

logger = logging.getLogger(__name__)

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


async def run_tool(tool: Tool | None, name: str, arguments: str) -> str:
    """The text a tool call answers; errors the model can act on are told to it."""
    if tool is None:
        return f"error: there is no tool named {name!r}"
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError as exc:
        return f"error: arguments are not valid JSON ({exc.msg}); call {name} again"
    if not isinstance(args, dict):
        return f"error: arguments must be a JSON object; call {name} again"
    try:
        result = tool.handler(**args)
        if inspect.isawaitable(result):
            result = await result
    except TypeError as exc:
        return f"error: wrong arguments for {name}: {exc}"
    except (RunStopped, BudgetExhausted):
        raise  # the run core's, never the model's to act on
    except DraftsmithError as exc:
        logger.info("tool %s refused: %s", name, exc)
        return f"error: {exc}"
    return str(result)


def is_error(result: str) -> bool:
    """Whether a tool's answer is a refusal or failure (`run_tool`'s `error:` answers)."""
    return result.startswith("error:")


def unfence(text: str) -> str:
    match = _FENCE.match(text)
    return match.group(1) if match else text.strip()


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def reask(contract: type[BaseModel], errors: str) -> str:
    return (
        f"Your answer is not a valid {contract.__name__}: {errors}. Answer again with one JSON "
        "object only, matching the schema exactly (no prose, no extra fields)."
    )


def with_schema(conversation: list[dict[str, Any]], contract: type[BaseModel]) -> list[Any]:
    schema = json.dumps(contract.model_json_schema(), separators=(",", ":"))
    note = {
        "role": "system",
        "content": f"Give your final answer as one JSON object, named {contract.__name__}, "
        f"that validates against this JSON schema: {schema}",
    }
    return [note, *conversation]


def refuses_json_schema(exc: openai.BadRequestError) -> bool:
    text = f"{exc.message} {exc.body}".lower()
    return "response_format" in text or "json_schema" in text
