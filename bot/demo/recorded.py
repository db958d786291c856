"""A recorded model: an OpenAI-compatible endpoint on a loopback port that plays `answers.yml`.

Each role (known by its system prompt, "You are the <role>") gets its recorded answers in order,
in the Chat Completions wire format with `usage`. When a role asks for more than was recorded,
the answer is a 400 naming the role, so the run ends with a clear reason instead of waiting.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

import yaml

ROLES = ("planner", "coder", "reviewer", "tester")
MODEL_NAME = "recorded-answers"


def load_answers() -> dict[str, Any]:
    """The recording shipped with Draftsmith: the request and each role's answers."""
    text = resources.files("bot.demo").joinpath("answers.yml").read_text(encoding="utf-8")
    answers: dict[str, Any] = yaml.safe_load(text)
    return answers


def _role(body: dict[str, Any]) -> str | None:
    system = next(
        (m.get("content") for m in body.get("messages", []) if m.get("role") == "system"), ""
    )
    return next((r for r in ROLES if f"You are the {r}" in str(system or "")), None)


def _message(answer: dict[str, Any], number: int) -> tuple[dict[str, Any], str]:
    if "tool_calls" in answer:
        calls = [
            {
                "id": f"call_demo_{number}_{index}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
            for index, (name, arguments) in enumerate(answer["tool_calls"])
        ]
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": calls}
        return message, "tool_calls"
    content = json.dumps(answer["content"])
    return {"role": "assistant", "content": content, "refusal": None}, "stop"


class RecordedModel:
    """The recording and how far each role has got in it."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked = {role: 0 for role in ROLES}
        self._lock = threading.Lock()

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON of the next recorded answer for the request's role."""
        role = _role(body)
        with self._lock:
            if role is None:
                return 400, {"error": {"message": "not a Draftsmith role", "type": "demo"}}
            number = self.asked[role]
            self.asked[role] += 1
        recorded = self.answers.get(role) or []
        if number >= len(recorded):
            error = f"the demo recording has no answer {number + 1} for the {role}"
            return 400, {"error": {"message": error, "type": "invalid_request_error"}}
        message, finish = _message(recorded[number], number)
        prompt = (len(json.dumps(body.get("messages", []))) + 3) // 4
        spoken = (len(json.dumps(message)) + 3) // 4
        return 200, {
            "id": f"chatcmpl-demo-{role}-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_NAME,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": spoken,
                "total_tokens": prompt + spoken,
            },
        }


@contextmanager
def serve_recording(model: RecordedModel) -> Iterator[str]:
    """Serve the recording on 127.0.0.1; yields the base URL for OPENAI_BASE_URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("content-length", "0"))
            status, payload = model.answer(json.loads(self.rfile.read(length) or b"{}"))
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="recorded-model", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
