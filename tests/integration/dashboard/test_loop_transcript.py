"""The run page shows the coder's loop step by step, each step folded, its output escaped."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import httpx

from bot.agents.loop import LoopStep
from tests.integration.dashboard.conftest import Seeded

STEPS = [
    LoopStep(1, "edit", {"path": "calc/ops.py", "search": "x", "replace": "y"}, None, "ok", 0.01),
    LoopStep(
        2,
        "run",
        {"command": "python3 -m pytest -q"},
        1,
        "exit code: 1 (0.40s)\nE   AssertionError: <script>alert(1)</script>",
        0.4,
    ),
    LoopStep(3, "edit", {"path": ".env"}, None, "error: refused: touches .env", 0.0),
    LoopStep(4, "submit", {"explanation": "Add mul."}, None, '{"explanation": "Add mul."}', 0.0),
]


def test_the_run_page_shows_each_loop_step_folded_with_its_exit_code(
    open_server: str, seeded: Seeded
) -> None:
    for step in STEPS:
        seeded.store.put_artifact(seeded.done, "transcript.r1", asdict(step))
    html = httpx.get(f"{open_server}/runs/{seeded.done}").text
    section = html[html.index("<h2>Coder's loop</h2>") : html.index("<h2>Artifacts</h2>")]
    assert "Revision 1</strong>: 4 steps" in section
    summaries = re.findall(r'<details class="step"><summary>(.*?)</summary>', section, re.S)
    assert len(summaries) == 4
    assert "<code>python3 -m pytest -q</code> &rarr; exit code 1" in summaries[1]
    assert "&rarr; refused" in summaries[2]
    assert "<script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
    detail = httpx.get(
        f"{open_server}/runs/{seeded.done}", headers={"accept": "application/json"}
    ).json()
    assert [(t["revision"], len(t["steps"])) for t in detail["transcripts"]] == [(1, 4)]
    assert detail["transcripts"][0]["steps"][1]["exit_code"] == 1
    assert json.dumps(detail).count("transcript.r1") == 1  # listed once among the artifacts


def test_a_run_without_a_loop_says_so(open_server: str, seeded: Seeded) -> None:
    html = httpx.get(f"{open_server}/runs/{seeded.failed}").text
    assert "The coder ran no loop steps." in html
