"""The system Chromium (/usr/bin/chromium), driven over the DevTools protocol.

Tests read what a person sees (`document.body.innerText` after the page loaded), the DOM, and
screenshots. No browser is downloaded: Debian's `chromium` package is used, and a test fails
(never skips) without it.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1400",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")
# Markup shown as text: a tag, or an entity that was escaped a second time.
ESCAPED_MARKUP = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?>|&(?:lt|gt|amp|quot|#\d+);")


def chromium() -> str:
    """The Chromium binary; the browser test fails (never skips) without it."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: run `apt-get install -y chromium` (Debian's package)")


@dataclass(frozen=True)
class Page:
    """A loaded page: what a person reads, and the DOM after rendering."""

    url: str
    status: int | None
    text: str
    dom: str


class Browser:
    """One headless Chromium and one tab, over the DevTools protocol (flat sessions)."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self._call("Page.enable", session=True)
        self._call("Network.enable", session=True)

    def _send(self, method: str, params: dict[str, Any] | None, session: bool) -> int:
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._socket.send(json.dumps(message))
        return ident

    def _events_until(self, ident: int) -> Iterator[dict[str, Any]]:
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise AssertionError(f"DevTools error: {message['error']}")
                yield message
                return
            yield message

    def _call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        ident = self._send(method, params, session)
        *_, answer = self._events_until(ident)
        result: dict[str, Any] = answer.get("result", {})
        return result

    def _evaluate(self, expression: str) -> Any:
        result = self._call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        return result["result"].get("value")

    def open(self, url: str) -> Page:
        """Navigate and wait for the load event; the page's text and DOM."""
        ident = self._send("Page.navigate", {"url": url}, True)
        status: int | None = None
        loaded = navigated = False
        while not (loaded and navigated):
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == ident:
                if "errorText" in message.get("result", {}):
                    raise AssertionError(f"navigation failed: {message['result']['errorText']}")
                navigated = True
            elif message.get("method") == "Network.responseReceived":
                params = message["params"]
                if params.get("type") == "Document":
                    status = int(params["response"]["status"])
            elif message.get("method") == "Page.loadEventFired":
                loaded = True
        return Page(
            url=url,
            status=status,
            text=str(self._evaluate("document.body.innerText")),
            dom=str(self._evaluate("document.documentElement.outerHTML")),
        )

    def screenshot(self, path: Path) -> None:
        """A PNG of the current page."""
        data = self._call("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.write_bytes(base64.b64decode(data))


@contextmanager
def browser(profile: Path) -> Iterator[Browser]:
    """Start the system Chromium with a fresh profile; stop it afterwards."""
    process = subprocess.Popen(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                break
        else:
            raise AssertionError(f"chromium exited ({process.wait()}): {''.join(seen)[-2000:]}")
        # Keep reading Chromium's log so a full pipe never blocks it.
        threading.Thread(target=seen.extend, args=(process.stderr,), daemon=True).start()
        with connect(match.group(1), max_size=None, open_timeout=30) as socket:
            yield Browser(socket)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def escaped_markup(text: str) -> list[str]:
    """Pieces of markup a person would see as text on the page."""
    return ESCAPED_MARKUP.findall(text)
