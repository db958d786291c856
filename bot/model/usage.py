"""Token usage and cost of model calls: price table, one record per call, sums per role/run."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.shared.errors import ConfigError


@dataclass(frozen=True)
class Price:
    """USD per one million tokens, for prompt (input) and completion (output) tokens."""

    input_per_m: float
    output_per_m: float


# Public list prices (USD / 1M tokens) of a few common models; override with your own table.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4.1": Price(2.00, 8.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
    "gpt-4.1-nano": Price(0.10, 0.40),
    "o4-mini": Price(1.10, 4.40),
}


def parse_prices(raw: Mapping[str, Any]) -> dict[str, Price]:
    """A price table from config data: `{model: {input: USD/1M, output: USD/1M}}`."""
    table: dict[str, Price] = {}
    for model, entry in raw.items():
        try:
            table[str(model)] = Price(float(entry["input"]), float(entry["output"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"invalid price entry for model {model!r}: {entry!r}",
                "write it as {input: <USD per 1M prompt tokens>, output: <USD per 1M output>}",
            ) from exc
    return table


def load_prices(setting: str | None) -> dict[str, Price]:
    """The built-in table with `DRAFTSMITH_MODEL_PRICES` (JSON text or a JSON file's path) over it.

    The format is `{"model": {"input": USD per 1M prompt tokens, "output": USD per 1M}}`.
    """
    table = dict(DEFAULT_PRICES)
    if not setting or not setting.strip():
        return table
    text = setting.strip()
    if not text.startswith(("{", "[")):
        path = Path(text).expanduser()
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(
                f"DRAFTSMITH_MODEL_PRICES names {path}, which cannot be read: {exc.strerror}",
                "set it to JSON text or the path of a readable JSON file",
            ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"DRAFTSMITH_MODEL_PRICES is not valid JSON: {exc.msg} at line {exc.lineno}",
            'write it as {"model": {"input": 2.5, "output": 10}} (USD per 1M tokens)',
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(
            "DRAFTSMITH_MODEL_PRICES must be a JSON object of models",
            'write it as {"model": {"input": 2.5, "output": 10}} (USD per 1M tokens)',
        )
    table.update(parse_prices(raw))
    return table


def estimate_prompt_tokens(request: Mapping[str, Any]) -> int:
    """A conservative token count of a Chat Completions request, without a tokenizer.

    Counts every message, tool and response-format schema: ASCII at three characters a token
    (tokenizers average about four on English and code), any other character at one token per
    UTF-8 byte (the worst case of byte-level BPE), plus four tokens of framing per message.
    """
    parts = [request.get("messages", []), request.get("tools", []), request.get("response_format")]
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    other_bytes = len(text.encode()) - ascii_chars
    messages = len(request.get("messages", []))
    return math.ceil(ascii_chars / 3) + other_bytes + 4 * messages + 3


def format_cost(cost: float | None) -> str:
    """A cost for people: `cost unknown` when a call had no price (None), never a false $0."""
    return "cost unknown" if cost is None else f"${cost:.4f}"


def price_for(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of `model`: an exact entry, else the longest entry it starts with, else None."""
    if model in prices:
        return prices[model]
    matches = [name for name in prices if model.startswith(name)]
    return prices[max(matches, key=len)] if matches else None


@dataclass(frozen=True)
class Usage:
    """One request to the model endpoint: who asked, which model, tokens, cost and latency."""

    role: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float
    priced: bool

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def usage_of(
    role: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    latency_s: float,
    prices: Mapping[str, Price],
) -> Usage:
    """A Usage record with its cost from the price table (unknown model: cost 0, `priced=False`:
    readers show such a cost as unknown, never as $0)."""
    price = price_for(model, prices)
    cost = 0.0
    if price is not None:
        cost = (prompt_tokens * price.input_per_m + completion_tokens * price.output_per_m) / 1e6
    return Usage(role, model, prompt_tokens, completion_tokens, cost, latency_s, price is not None)


@dataclass
class Totals:
    """Sums over a set of calls."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    unpriced_calls: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, usage: Usage) -> None:
        """Count one call."""
        self.calls += 1
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        self.cost_usd += usage.cost_usd
        self.latency_s += usage.latency_s
        self.unpriced_calls += 0 if usage.priced else 1


@dataclass
class UsageLedger:
    """Every call of one run, with sums per role and for the whole run."""

    usages: list[Usage] = field(default_factory=list)

    def record(self, usages: Iterable[Usage]) -> None:
        """Add calls to the ledger."""
        self.usages.extend(usages)

    def total(self) -> Totals:
        """Sums over the whole run."""
        totals = Totals()
        for usage in self.usages:
            totals.add(usage)
        return totals

    def by_role(self) -> dict[str, Totals]:
        """Sums per role, in the order roles first appeared."""
        result: dict[str, Totals] = {}
        for usage in self.usages:
            result.setdefault(usage.role, Totals()).add(usage)
        return result

    def to_json(self) -> list[dict[str, Any]]:
        """The calls as plain data, for the store."""
        return [asdict(u) for u in self.usages]

    @classmethod
    def from_json(cls, data: Iterable[Mapping[str, Any]]) -> UsageLedger:
        """A ledger from `to_json` data (resuming a run)."""
        return cls([Usage(**dict(item)) for item in data])
