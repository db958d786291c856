"""`draftsmith doctor`: one line per dependency with a verdict and, when failing, what to do."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from bot.shared.config import Settings
from bot.shared.errors import DraftsmithError

MIN_DASHBOARD_TOKEN = 24


@dataclass(frozen=True)
class Check:
    """One check's verdict: ok, warn or fail."""

    name: str
    verdict: str
    detail: str
    hint: str = ""


def _guard(name: str, fn: Callable[[], Check]) -> Check:
    try:
        return fn()
    except DraftsmithError as exc:
        return Check(name, "fail", exc.message, exc.hint)
    except Exception as exc:  # doctor reports every failure as a line, never a traceback
        return Check(name, "fail", f"{exc.__class__.__name__}: {exc}")


def check_settings(settings: Settings) -> Check:
    """Secrets present and not placeholders (validated when Settings was built)."""
    if settings.webhook_secret is None:
        return Check(
            "settings",
            "warn",
            "DRAFTSMITH_WEBHOOK_SECRET is not set",
            "set it to the App's webhook secret; serve refuses to start without it",
        )
    return Check("settings", "ok", "webhook secret set")


def check_dashboard(settings: Settings) -> Check:
    """Whether the dashboard (plans, diffs, test output of private repositories) is public."""
    from bot.observe.exposure import is_loopback

    if settings.dashboard_token is not None:
        if len(settings.dashboard_token.get_secret_value()) < MIN_DASHBOARD_TOKEN:
            return Check(
                "dashboard",
                "warn",
                "the dashboard is public behind a short DRAFTSMITH_DASHBOARD_TOKEN",
                f"use a random token of at least {MIN_DASHBOARD_TOKEN} characters "
                "(e.g. `openssl rand -hex 24`)",
            )
        return Check("dashboard", "ok", "served on the webhook listener behind the token")
    where = f"{settings.dashboard_host}:{settings.dashboard_port}"
    if is_loopback(settings.dashboard_host):
        return Check("dashboard", "ok", f"served only on {where} (this machine)")
    return Check(
        "dashboard",
        "warn",
        f"the dashboard and /metrics are public on {where} without a token",
        "set DRAFTSMITH_DASHBOARD_TOKEN, or DRAFTSMITH_DASHBOARD_HOST=127.0.0.1 behind a proxy "
        "with its own login (README: The dashboard)",
    )


def check_database(settings: Settings) -> Check:
    """The run store answers and its schema is current."""
    from bot.store.runs import Store

    store = Store(settings.database_url)
    store.migrate()
    store.ping()
    return Check("database", "ok", store.engine.url.render_as_string(hide_password=True))


def check_queue(settings: Settings) -> Check:
    """The queue answers."""
    from bot.jobs.queue import TaskQueue, make_huey

    pending = TaskQueue(make_huey(settings.queue_url)).ping()
    return Check("queue", "ok", f"{settings.queue_url.split('@')[-1]} ({pending} pending)")


def check_sandbox(settings: Settings) -> Check:
    """A sandbox backend is available and runs a command."""
    from bot.sandbox.base import Limits
    from bot.sandbox.choose import get_sandbox

    sandbox = get_sandbox(settings)
    with tempfile.TemporaryDirectory() as tmp:
        result = asyncio.run(
            sandbox.run(
                ["/bin/sh", "-c", "echo ok"], workdir=Path(tmp), limits=Limits(wall_time_s=30)
            )
        )
    if result.exit_code != 0 or "ok" not in result.stdout:
        return Check(
            "sandbox",
            "fail",
            f"{sandbox.name} ran `echo ok` with exit {result.exit_code}",
            result.stderr.strip()[:200],
        )
    return Check("sandbox", "ok", f"{sandbox.name} ({result.duration_s * 1000:.0f} ms for echo)")


def check_model(settings: Settings) -> Check:
    """The OpenAI-compatible endpoint answers with the configured key."""
    base = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
    key = os.environ.get("OPENAI_API_KEY")
    if settings.model is None or key is None:
        return Check(
            "model",
            "fail",
            "no model configured",
            "set DRAFTSMITH_MODEL, OPENAI_BASE_URL and OPENAI_API_KEY",
        )
    response = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    if response.status_code >= 400:
        return Check(
            "model",
            "fail",
            f"{base}/models answered {response.status_code}",
            "check OPENAI_API_KEY and OPENAI_BASE_URL",
        )
    return Check("model", "ok", f"{base} answers; default model {settings.model}")


def check_prices(settings: Settings) -> Check:
    """Every configured model has a price (else its cost is unknown and budgets use tokens)."""
    from bot.model.usage import load_prices, price_for
    from bot.shared.config import ROLES

    prices = load_prices(settings.model_prices)
    models = {settings.model, *(getattr(settings, f"model_{role}") for role in ROLES)}
    unpriced = sorted(m for m in models if m and price_for(m, prices) is None)
    if unpriced:
        return Check(
            "prices",
            "warn",
            f"no price for {', '.join(unpriced)}: costs show as unknown and the cost budget "
            "falls back to the token budget",
            'set DRAFTSMITH_MODEL_PRICES to {"<model>": {"input": <USD/1M>, "output": <USD/1M>}} '
            "(JSON text or a file path)",
        )
    return Check("prices", "ok", f"{len(prices)} model prices known")


def check_github(settings: Settings) -> Check:
    """The App's credentials authenticate (GET /app with the App JWT)."""
    from bot.github.client import GitHubGateway

    if settings.github_app_id is None:
        return Check(
            "github",
            "fail",
            "DRAFTSMITH_GITHUB_APP_ID is not set",
            "register the App from app.yml (README) and set its id and private key",
        )
    gateway = GitHubGateway.from_settings(settings)
    slug = gateway.app_slug()
    if slug != settings.app_slug:
        return Check(
            "github",
            "warn",
            f"authenticated as App {slug}, but mentions are looked for as @{settings.app_slug}",
            f"set DRAFTSMITH_APP_SLUG={slug} so `@{slug} <what to do>` starts a run",
        )
    return Check("github", "ok", f"authenticated as App {slug}")


def run_checks(settings: Settings) -> Iterator[Check]:
    """Every check, in order."""
    for name, fn in (
        ("settings", check_settings),
        ("dashboard", check_dashboard),
        ("database", check_database),
        ("queue", check_queue),
        ("sandbox", check_sandbox),
        ("model", check_model),
        ("prices", check_prices),
        ("github", check_github),
    ):
        yield _guard(name, lambda fn=fn: fn(settings))  # type: ignore[misc]
