"""The webhook app of `draftsmith serve`, wired from a Runtime: in `serve` itself, and in each
extra intake process (`--intake-processes`, webhooks/intake_processes.py)."""

from __future__ import annotations

from bot.runtime import Runtime
from webhooks.app import WebhookFirst, create_app


def webhook_app(
    runtime: Runtime, *, embedded_worker: bool, background: bool = True
) -> WebhookFirst:
    """The app answering webhooks on this runtime's store. `background`: this process also runs
    the server's background work (catch-up; with the embedded worker the outbox and consumers),
    as `serve` does and an extra intake process does not: it only stores deliveries."""
    settings = runtime.settings
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    token = settings.dashboard_token.get_secret_value() if settings.dashboard_token else None
    return create_app(
        dashboard_token=token,
        trace_url_template=settings.trace_url,
        store=runtime.store,
        queue=runtime.queue,
        webhook_secret=secret,
        app_id=settings.github_app_id,
        mention_login=settings.app_slug,
        max_body_bytes=settings.max_body_bytes,
        on_startup=(lambda: runtime.start_server(embedded_worker)) if background else None,
        on_shutdown=runtime.stop if background else None,
        on_accepted=runtime.outbox.notify if embedded_worker and background else None,
    )
