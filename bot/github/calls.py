"""What the per-area GitHub modules need of a client: small protocols, so `client.py` can build
`pulls`/`checks` and offer `catch_up` without those modules importing `client.py` back."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from githubkit import Response

from bot.github.models import DeliveryPage


class RestClient(Protocol):
    """REST and GraphQL calls made as one installation."""

    def request(self, method: str, url: str, **kwargs: Any) -> Response[Any]:
        """One REST request."""
        ...

    def paginate(
        self, path: str, params: Mapping[str, str | int] | None = None, key: str | None = None
    ) -> Iterator[Any]:
        """Every item of a paginated list."""
        ...

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """One GraphQL query's data."""
        ...


class DeliveryClient(Protocol):
    """The App's webhook deliveries."""

    def clock(self) -> datetime:
        """The current time (UTC)."""
        ...

    def list_deliveries(self, cursor: str | None = None, per_page: int = 100) -> DeliveryPage:
        """One page of deliveries, newest first."""
        ...

    def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send a delivery again."""
        ...
