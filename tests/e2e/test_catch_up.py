"""Deliveries missed while the server was down are caught up from GitHub, and handled once.

GitHub lists the App's deliveries (`GET /app/hook/deliveries`); the labelled issue's delivery
failed (502: nobody was listening). The server's catch-up loop, sweeping every second, asks
GitHub to redeliver it; GitHub sends it again under the same guid, the run goes through to its
draft PR, and later sweeps see the successful attempt and redeliver nothing more.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.run.states import Status
from bot.shared.config import Settings
from tests.e2e.test_github_flow import labeled
from tests.helpers import github_objects as objects
from tests.helpers.draftsmith import Harness, draftsmith
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.repos import PYTHON_FILES
from tests.helpers.scripted_model import ScriptedModel
from tests.helpers.scripts import happy_path

MISSED = "5f1e3c00-missed-while-down"


def test_a_delivery_missed_while_down_is_redelivered_by_the_loop_and_handled_once(
    settings: Settings, fake_github: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the branch's commits are made through the Git Data API
    remote = fake_github.serve_remote(tmp_path, PYTHON_FILES)
    fake_github.permissions["carol"] = "write"
    at = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake_github.hook_deliveries = [
        objects.delivery(501, MISSED, at, status="Bad Gateway", code=502),
        objects.delivery(500, "an-earlier-one-that-arrived", at),
    ]
    fake_github.hook_payloads[MISSED] = ("issues", labeled(remote))
    redelivered, ready = threading.Event(), threading.Event()
    harness: list[Harness] = []

    def deliver(guid: str, event: str, payload: dict[str, Any]) -> int:
        # the loop may sweep before the harness is handed back: GitHub's redelivery waits for it
        assert ready.wait(30), "the harness never started"
        status = harness[0].deliver(event, payload, delivery=guid)
        redelivered.set()
        return status

    fake_github.deliver = deliver
    settings.catchup_interval_s = 1
    with draftsmith(settings, ScriptedModel(happy_path()), monkeypatch) as h:
        harness.append(h)
        ready.set()
        assert redelivered.wait(30), "the catch-up loop asked for no redelivery"
        h.settle()

        def sweeps() -> int:
            return sum(r.url.path == "/app/hook/deliveries" for r in fake_github.requests)

        after_settling, pause = sweeps(), threading.Event()
        for _ in range(100):  # two more sweeps after the run settled (a condition, bounded)
            if sweeps() >= after_settling + 2:
                break
            pause.wait(0.1)
        assert sweeps() >= after_settling + 2
        store = h.runtime.store
        [run] = store.list_runs()
        assert run.status == Status.approved, run.status_reason
        assert run.delivery_id == MISSED and run.pr_number is not None
        assert store.get_delivery(MISSED) is not None
    attempts = [r for r in fake_github.requests if r.url.path.endswith("/attempts")]
    assert [r.url.path for r in attempts] == ["/app/hook/deliveries/501/attempts"]
    assert len(fake_github.pulls) == 1
    assert fake_github.unexpected == []
