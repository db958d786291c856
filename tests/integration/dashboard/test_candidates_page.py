"""Best of N on the run page: how many candidates were tried, which one won and why each other
lost, and each candidate's own loop, every repository-controlled name escaped."""

from __future__ import annotations

from dataclasses import asdict

import httpx

from bot.agents.loop import LoopStep
from bot.run.candidates import Trial, choose
from tests.integration.dashboard.conftest import Seeded


def test_the_run_page_names_the_candidates_and_why_each_other_lost(
    open_server: str, seeded: Seeded
) -> None:
    verdict = choose(
        [
            Trial(1, proven=False, not_proven="New test `<b>t</b>` fails with the change."),
            Trial(2, proven=True, coverage=1.0, size=4),
            Trial(3, proven=True, coverage=1.0, size=9),
        ]
    )
    seeded.store.put_artifact(seeded.done, "candidates.r0", asdict(verdict))
    for number in (1, 2):
        step = LoopStep(1, "submit", {"explanation": "x"}, None, "{}", 0.0)
        seeded.store.put_artifact(seeded.done, f"transcript.c{number}.r0", asdict(step))
    html = httpx.get(f"{open_server}/runs/{seeded.done}").text
    section = html[html.index("<h2>Candidates</h2>") : html.index("<h2>Coder's loop</h2>")]
    assert "3 candidates tried" in section and "the change is candidate 2" in section
    assert "candidate 1 lost: not proven: New test `&lt;b&gt;t&lt;/b&gt;` fails" in section
    assert "candidate 3 lost: larger: 9 changed lines against 4" in section
    loops = html[html.index("<h2>Coder's loop</h2>") : html.index("<h2>Artifacts</h2>")]
    assert "Revision 0, candidate 1</strong>" in loops
    assert "Revision 0, candidate 2</strong>" in loops
    detail = httpx.get(
        f"{open_server}/runs/{seeded.done}", headers={"accept": "application/json"}
    ).json()
    assert [(c["revision"], c["content"]["winner"]) for c in detail["candidates"]] == [(0, 2)]
    loops_json = [(t["revision"], t["candidate"]) for t in detail["transcripts"]]
    assert (0, 1) in loops_json and (0, 2) in loops_json
