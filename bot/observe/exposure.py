"""Where the run dashboard is served, decided from the token and the listeners' addresses.

The webhook listener faces the internet. The dashboard (`/runs`, `/runs/{id}`, `/metrics`) shows
plans, diffs and test output of private repositories, so it faces it only behind
`DRAFTSMITH_DASHBOARD_TOKEN`; without a token it gets its own listener on
`DRAFTSMITH_DASHBOARD_HOST` (default 127.0.0.1). `serve` and `doctor` say which.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DashboardExposure:
    """Where the dashboard is served and what `serve` and `doctor` say about it."""

    on_webhook_listener: bool
    host: str
    port: int
    public_without_token: bool
    message: str


def dashboard_exposure(
    *, token: str | None, webhook_host: str, webhook_port: int, host: str, port: int
) -> DashboardExposure:
    """Decide where the dashboard goes from the token and the listeners' addresses."""
    if token:
        return DashboardExposure(
            True,
            webhook_host,
            webhook_port,
            False,
            f"the dashboard (/runs, /metrics) is served on {webhook_host}:{webhook_port} behind "
            "DRAFTSMITH_DASHBOARD_TOKEN (Authorization: Bearer <token>, or the login form)",
        )
    if is_loopback(host):
        return DashboardExposure(
            False,
            host,
            port,
            False,
            f"the dashboard (/runs, /metrics) is served only on http://{host}:{port} (this "
            "machine), not on the webhook listener, because DRAFTSMITH_DASHBOARD_TOKEN is not "
            "set; set it, or put a proxy with its own login in front (README: The dashboard)",
        )
    return DashboardExposure(
        False,
        host,
        port,
        True,
        f"the dashboard (/runs, /metrics) is served on {host}:{port} without a token: anyone "
        "who can reach it reads run plans, diffs and costs; set DRAFTSMITH_DASHBOARD_TOKEN, or "
        "DRAFTSMITH_DASHBOARD_HOST=127.0.0.1 behind a proxy with its own login",
    )
