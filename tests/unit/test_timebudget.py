"""The run's time budget (bot.observe.timebudget) from a real SQLite store: runs that went
beside the change's suite are shown each, and the rest of testing counts their wall time once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from bot.observe.timebudget import time_budget
from bot.run.states import Phase
from bot.store.runs import Store
from bot.store.tables import PhaseRecord, utcnow


def _store_with_testing(tmp_path: Path, seconds: float, timings: dict[str, float | None]) -> int:
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    store.migrate()
    run, _ = store.create_run(
        repo="o/r", issue_number=1, clone_url="https://x/o/r.git", title="t", request="r"
    )
    phase = store.start_phase(run.id, Phase.testing, 1)
    store.finish_phase(phase, "ok")
    started = utcnow()
    with store.session() as s:
        s.execute(
            update(PhaseRecord)
            .where(PhaseRecord.id == phase)
            .values(started_at=started, finished_at=started + timedelta(seconds=seconds))
        )
    store.put_artifact(run.id, "testoutcome.r1", {"timings": timings})
    return run.id


def _budget(
    tmp_path: Path, seconds: float, timings: dict[str, float | None]
) -> dict[str, float | None]:
    run_id = _store_with_testing(tmp_path, seconds, timings)
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    return {row.part: row.seconds for row in time_budget(store, run_id)}


def test_runs_beside_the_suite_count_once_in_the_rest(tmp_path: Path) -> None:
    timings = {
        "base_view_s": 0.1, "change_s": 2.5, "new_tests_s": 0.9, "base_new_tests_s": 0.5,
        "beside_s": 2.6, "base_suite_s": None,
    }  # fmt: skip
    budget = _budget(tmp_path, 3.0, timings)
    assert budget["change"] == 2.5 and budget["new_tests"] == 0.9 and budget["beside"] == 2.6
    rest = budget["rest of testing"]
    assert rest is not None and abs(rest - 0.3) < 1e-6  # 3.0 - (0.1 + 2.6), not unknown


def test_runs_one_after_another_are_summed(tmp_path: Path) -> None:
    timings = {"change_s": 2.5, "new_tests_s": 0.9, "base_new_tests_s": 0.5}
    budget = _budget(tmp_path, 4.0, timings)
    rest = budget["rest of testing"]
    assert rest is not None and abs(rest - 0.1) < 1e-6
