"""Errors of the model endpoint as Draftsmith's typed errors, after the openai client's retries."""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import parsedate_to_datetime

import openai

from bot.shared.errors import ModelError, ModelUnavailable

UNAVAILABLE_STATUSES = frozenset({408, 409, 429})
"""Besides 5xx, the statuses the openai client retries and that mean "not now" (after retries)."""
CLIENT_LONGEST_RETRY_AFTER_S = 120.0
"""The openai client honours `Retry-After` up to two minutes and does not retry a longer wait."""


def endpoint_error(
    exc: openai.APIConnectionError | openai.APIStatusError, role: str, model: str, max_retries: int
) -> ModelError:
    """What the openai client raised once its `max_retries` were spent, as a typed error:
    ModelUnavailable (the run waits for the model) or ModelError (the request was refused)."""
    if isinstance(exc, openai.APIStatusError) and not _unavailable(exc.status_code):
        return refused(exc, model)
    wait = retry_after(exc)
    attempts = max_retries + 1
    if wait is not None and wait > CLIENT_LONGEST_RETRY_AFTER_S:
        attempts = 1  # the client does not retry when asked to wait that long
    asked = f"; it asks to wait {wait:.0f}s" if wait is not None else ""
    return ModelUnavailable(
        f"model endpoint failed {attempts} times for the {role}, unavailable "
        f"({type(exc).__name__}: {exc}){asked}"[:1000],
        "check OPENAI_BASE_URL and the provider's status; the run resumes by itself",
        cause=outage_cause(exc),
        retry_after_s=wait,
    )


def _unavailable(status: int) -> bool:
    return status >= 500 or status in UNAVAILABLE_STATUSES


def retry_after(exc: Exception) -> float | None:
    """Seconds the endpoint asks to wait: `retry-after-ms`, `retry-after` (seconds or a date)."""
    response = exc.response if isinstance(exc, openai.APIStatusError) else None
    if response is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            pass
        if name == "retry-after":
            try:
                moment = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return max(0.0, moment.timestamp() - time.time())
    return None


def outage_cause(exc: Exception) -> str:
    """A short cause for people: rate limited (429), server error (503), timeout, unreachable."""
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code == 429:
            return "rate limited (429)"
        if exc.status_code >= 500:
            return f"server error ({exc.status_code})"
        return f"not available now ({exc.status_code})"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    return "unreachable"


def refused(exc: openai.APIStatusError, model: str) -> ModelError:
    """A request the endpoint refused (not retried): what to check, by status."""
    hints = {
        401: "check OPENAI_API_KEY",
        403: "check the key's permissions for this model",
        404: f"check the model name {model!r} (DRAFTSMITH_MODEL*) and OPENAI_BASE_URL",
    }
    return ModelError(
        f"model endpoint refused the request ({exc.status_code}): {exc.message}"[:1000],
        hints.get(exc.status_code, "check the request against the endpoint's documentation"),
    )
