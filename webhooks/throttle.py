"""Failed dashboard logins, counted per client and in total, to stop token guessing.

After `max_failures` wrong tokens from one client within `window_s` seconds (or `max_total`
from everyone, which covers clients behind one proxy and address-hopping), every login attempt
is refused with 429 until the window has passed, the right token included: a guesser cannot
tell a right guess from a refused one.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    """A sliding window of failed logins; thread-safe."""

    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_total: int = 50,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_total = max_total
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        while self._all and self._all[0] <= horizon:
            self._all.popleft()
        for client in list(self._failures):
            times = self._failures[client]
            while times and times[0] <= horizon:
                times.popleft()
            if not times:
                del self._failures[client]

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again; 0 when it may try now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            blocking: list[float] = []
            times = self._failures.get(client)
            if times is not None and len(times) >= self.max_failures:
                blocking.append(times[-self.max_failures])
            if len(self._all) >= self.max_total:
                blocking.append(self._all[-self.max_total])
            if not blocking:
                return 0
            return max(1, int(max(blocking) + self.window_s - now + 0.999))

    def failed(self, client: str) -> None:
        """Count one wrong token from `client`."""
        with self._lock:
            now = self._clock()
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)
