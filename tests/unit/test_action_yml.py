"""The composite action (`action.yml`) and `draftsmith action` agree: the store the cache steps
restore and save is the one the command opens, and the token reaches it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.action.drive import action_settings
from bot.shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def steps() -> list[dict[str, Any]]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    result: list[dict[str, Any]] = action["runs"]["steps"]
    return result


def test_the_cached_file_is_the_store_draftsmith_action_opens(tmp_path: Path) -> None:
    settings = action_settings(Settings(), {"RUNNER_TEMP": str(tmp_path)})
    cached = {
        step["with"]["path"].replace("${{ runner.temp }}", str(tmp_path))
        for step in steps()
        if str(step.get("uses", "")).startswith("actions/cache/")
    }
    assert cached == {settings.database_url.removeprefix("sqlite:///")}


def test_every_store_save_runs_even_when_the_step_failed_and_keys_match_the_restore() -> None:
    (restore,) = [s for s in steps() if str(s.get("uses", "")).startswith("actions/cache/restore")]
    saves = [s for s in steps() if str(s.get("uses", "")).startswith("actions/cache/save")]
    assert len(saves) == 3 and all(s["if"].startswith("always()") for s in saves)
    prefix = restore["with"]["restore-keys"]
    assert restore["with"]["key"].startswith(prefix)
    assert saves[0]["with"]["key"] == restore["with"]["key"]


def test_the_step_runs_draftsmith_action_with_the_token_and_the_model_key() -> None:
    (step,) = [s for s in steps() if s.get("id") == "draftsmith"]
    assert 'draftsmith" action' in step["run"]
    assert step["env"]["DRAFTSMITH_GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    assert step["env"]["OPENAI_API_KEY"] == "${{ inputs.openai-api-key }}"
