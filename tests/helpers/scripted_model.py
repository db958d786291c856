"""A scripted OpenAI-compatible endpoint on a loopback port (a real HTTP server).

Each role (recognised by its system prompt) gets its answers in order, in the exact wire format
of the Chat Completions API with `usage`. A real server, not respx, so a worker subprocess can
reach it too. Every request body is kept, so tests can grep prompts for secrets.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ROLES = ("planner", "coder", "reviewer", "tester")


def role_of(body: dict[str, Any]) -> str:
    """The Draftsmith role that sent a request, from its system prompt."""
    system = next((m["content"] for m in body["messages"] if m["role"] == "system"), "")
    for role in ROLES:
        if f"You are the {role}" in system:
            return role
    raise ValueError(f"unknown role for system prompt {system[:80]!r}")


def completion(
    content: str, model: str, prompt_tokens: int = 120, completion_tokens: int = 80
) -> dict[str, Any]:
    """A Chat Completions response object."""
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@dataclass(frozen=True)
class ToolCalls:
    """A scripted answer that calls tools instead of answering: (name, arguments) pairs."""

    calls: tuple[tuple[str, dict[str, Any]], ...]

    def message(self) -> dict[str, Any]:
        """The assistant message, in the Chat Completions wire format."""
        return {
            "role": "assistant",
            "content": None,
            "refusal": None,
            "tool_calls": [
                {
                    "id": f"call_{time.monotonic_ns()}_{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for index, (name, arguments) in enumerate(self.calls)
            ],
        }


def call(name: str, **arguments: Any) -> ToolCalls:
    """One tool call, e.g. `call("run", command="python -m pytest -q")`."""
    return ToolCalls(((name, arguments),))


def tool_completion(calls: ToolCalls, model: str) -> dict[str, Any]:
    """A Chat Completions response whose answer calls tools."""
    response = completion("", model)
    response["choices"][0]["message"] = calls.message()
    response["choices"][0]["finish_reason"] = "tool_calls"
    return response


def tool_results(body: dict[str, Any]) -> list[str]:
    """The tool answers a request carries back to the model, in order."""
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


@dataclass(frozen=True)
class Failure:
    """A scripted error answer: an HTTP status (429, 503...) and maybe a Retry-After header."""

    status: int
    retry_after: str | None = None

    def headers(self) -> dict[str, str]:
        """The answer's extra headers."""
        return {"retry-after": self.retry_after} if self.retry_after is not None else {}


@dataclass
class ScriptedModel:
    """Answers per role, served in order; a role that runs out answers 500, or its last answer
    again when `repeat` (for runs whose model calls are repeated an unknown number of times)."""

    script: dict[str, list[Any]]
    calls: dict[str, int] = field(default_factory=lambda: {r: 0 for r in ROLES})
    bodies: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold_role: str | None = None
    hold_call: int = 0  # which of `hold_role`'s requests is held (0: the first)
    # Usage as a real endpoint reports it: prompt tokens from the request's size (about four
    # characters a token) and an answer cut at the request's `max_tokens` (finish "length").
    realistic_usage: bool = False
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    failures: list[tuple[str, int]] = field(default_factory=list)
    repeat: bool = False
    # Each answer waits `delay_s` (a model takes time to answer: a kill can land mid-call);
    # `in_flight` holds the client ports of the requests being answered, for the chaos fleet.
    delay_s: float = 0.0
    in_flight: set[int] = field(default_factory=set)

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The status, JSON and extra headers of the next answer for the request's role.

        The first request of `hold_role` is held: `arrived` is set and the answer waits for
        `release` (so a test can kill the worker while it waits for the model)."""
        role = role_of(body)
        held = role == self.hold_role and self.calls[role] == self.hold_call
        if held and not self.arrived.is_set():
            with self.lock:
                self.calls[role] += 1
            self.arrived.set()
            self.release.wait(60)
            return 500, {"error": {"message": "held request released", "type": "test"}}, {}
        with self.lock:
            self.bodies.append(body)
            index = self.calls[role]
            self.calls[role] += 1
            answers = self.script.get(role, [])
            if index >= len(answers) and self.repeat and answers:
                index = len(answers) - 1
            if index >= len(answers):
                error = {"message": f"script for {role} ran out", "type": "test"}
                return 500, {"error": error}, {}
            item = answers[index]
        if isinstance(item, Failure):
            self.failures.append((role, item.status))
            error = {"message": f"scripted {item.status}", "type": "test"}
            return item.status, {"error": error}, item.headers()
        if isinstance(item, ToolCalls):
            answer = tool_completion(item, body.get("model", "scripted"))
            if self.realistic_usage:
                prompt = (len(json.dumps([body["messages"], body.get("tools", [])])) + 3) // 4
                spoken = (len(json.dumps(answer["choices"][0]["message"])) + 3) // 4
                total = {"prompt_tokens": prompt, "completion_tokens": spoken}
                answer["usage"] = {**total, "total_tokens": prompt + spoken}
            return 200, answer, {}
        content = item if isinstance(item, str) else json.dumps(item)
        if not self.realistic_usage:
            return 200, completion(content, body.get("model", "scripted")), {}
        prompt = (len(json.dumps([body["messages"], body.get("tools", [])])) + 3) // 4
        answer = (len(content) + 3) // 4
        limit = body.get("max_tokens")
        if limit is not None and answer > limit:
            content, answer = content[: limit * 4], limit
        return 200, completion(content, body.get("model", "scripted"), prompt, answer), {}

    def bodies_of(self, role: str) -> list[dict[str, Any]]:
        """The request bodies one role sent, in order."""
        return [b for b in self.bodies if role_of(b) == role]

    def prompts_text(self) -> str:
        """Every message the model was sent, as one text."""
        return "\n".join(json.dumps(b["messages"]) for b in self.bodies)


@contextmanager
def serve_model(model: ScriptedModel, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `model` on `host` (0.0.0.0 for containers to reach it); yields the base URL to use
    as OPENAI_BASE_URL (with 127.0.0.1 as its host)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length))
            port = self.client_address[1]
            model.in_flight.add(port)
            try:
                threading.Event().wait(model.delay_s)  # never set: the model's thinking time
                status, payload, headers = model.answer(body)
            finally:
                model.in_flight.discard(port)
            raw = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            return None

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], ConnectionError):
                super().handle_error(request, client_address)
            # else: a client killed mid-call (chaos) reset its connection: expected

    server = Server((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
