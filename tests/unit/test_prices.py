"""Model prices: DRAFTSMITH_MODEL_PRICES beside the built-in table, and unknown costs said so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.model.usage import (
    DEFAULT_PRICES,
    Price,
    estimate_prompt_tokens,
    format_cost,
    load_prices,
    usage_of,
)
from bot.runtime.doctor import check_prices
from bot.shared.config import Settings
from bot.shared.errors import ConfigError

LOCAL = {"my-local-model": {"input": 0.5, "output": 1.5}}


def test_prices_from_json_text_join_the_built_in_table() -> None:
    table = load_prices(json.dumps(LOCAL))
    assert table["my-local-model"] == Price(0.5, 1.5)
    assert table["gpt-4o"] == DEFAULT_PRICES["gpt-4o"]


def test_prices_from_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(LOCAL))
    assert load_prices(str(path))["my-local-model"] == Price(0.5, 1.5)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        pytest.param("{not json", "not valid JSON", id="bad-json"),
        pytest.param('["gpt-4o"]', "must be a JSON object", id="not-an-object"),
        pytest.param('{"m": {"input": 1}}', "invalid price entry", id="no-output-price"),
        pytest.param("/nonexistent/prices.json", "cannot be read", id="missing-file"),
    ],
)
def test_a_bad_price_setting_is_a_clear_error(setting: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_prices(setting)


def test_an_unknown_model_is_unpriced_and_its_cost_shown_as_unknown() -> None:
    usage = usage_of("coder", "my-local-model", 100, 50, 0.1, DEFAULT_PRICES)
    assert not usage.priced
    assert format_cost(None) == "cost unknown" and format_cost(0.0123) == "$0.0123"


def test_doctor_warns_about_a_model_without_a_price() -> None:
    check = check_prices(Settings(model="my-local-model"))
    assert check.verdict == "warn" and "my-local-model" in check.detail
    assert "DRAFTSMITH_MODEL_PRICES" in check.hint
    priced = check_prices(Settings(model="my-local-model", model_prices=json.dumps(LOCAL)))
    assert priced.verdict == "ok"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("def add(a, b):\n    return a + b\n" * 40, id="code"),
        pytest.param("Ünïcödé ✓ 漢字 " * 50, id="non-ascii"),
    ],
)
def test_the_prompt_estimate_is_above_four_characters_a_token(text: str) -> None:
    request = {"messages": [{"role": "user", "content": text}]}
    assert estimate_prompt_tokens(request) >= len(text.encode()) // 4
