"""More than one process answering webhooks on the same port (`serve --intake-processes N`).

One interpreter answers about 600 deliveries a second at most (its CPU a request, measured in
benchmarks/README.md), and queues behind bursts long before that. With N > 1, `serve` starts N-1
intake processes beside itself; each binds the webhook port with SO_REUSEPORT, so the kernel
spreads connections across them, and each runs only the webhook app on its own store connection:
verify, store the delivery, answer. The outbox stays where the consumers run: the embedded worker
in `serve` finds a delivery another process stored at its next poll (within a second), a
`draftsmith worker` as always. Each intake process dies with `serve` (PR_SET_PDEATHSIG, even
when `serve` is killed) and is started again by it when it dies; connections waiting in a dying
process's accept queue are reset (GitHub shows those deliveries failed; redeliver them). Linux
only lets processes of the same user share the port. `/metrics` counts what the process serving
the scrape answered: the deliveries metric of an intake process is not in it (the store has all).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import threading
from multiprocessing.process import BaseProcess

from webhooks.listeners import Listener, serve_listeners

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
RESTART_DELAY_S = 1.0


class IntakeProcesses:
    """The extra intake processes of one `serve`, started and restarted by one thread (the
    thread that starts a process is the parent PR_SET_PDEATHSIG watches: it lives until `stop`)."""

    def __init__(self, count: int, host: str, port: int) -> None:
        self.count, self.host, self.port = count, host, port
        self._context = multiprocessing.get_context("spawn")  # no threads or sockets inherited
        self._processes: list[BaseProcess] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = 0
        """Processes started so far, restarts included."""

    def start(self) -> None:
        """Start the processes and keep them running until `stop()`."""
        self._thread = threading.Thread(target=self._keep, name="intake-processes", daemon=True)
        self._thread.start()

    def pids(self) -> list[int]:
        """The running intake processes' ids."""
        return [p.pid for p in list(self._processes) if p.pid is not None and p.is_alive()]

    def _spawn(self) -> BaseProcess:
        process = self._context.Process(
            target=serve_intake,
            args=(self.host, self.port),
            name="draftsmith-intake",
            daemon=True,
        )
        process.start()
        self.started += 1
        return process

    def _keep(self) -> None:
        self._processes = [self._spawn() for _ in range(self.count - 1)]
        while not self._stopping.wait(RESTART_DELAY_S):
            for index, process in enumerate(self._processes):
                if not process.is_alive() and not self._stopping.is_set():
                    logger.warning(
                        "intake process %s ended (exit code %s); starting another",
                        process.pid,
                        process.exitcode,
                    )
                    self._processes[index] = self._spawn()
        for process in self._processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for process in self._processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join(5)

    def stop(self) -> None:
        """Stop every intake process (waits for them)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(30)


def serve_intake(host: str, port: int) -> None:
    """An intake process: the webhook app alone on a shared port, until SIGTERM (its own, or
    `serve`'s death). SIGINT is left to `serve`, which stops its intake processes itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from bot.runtime import Runtime, setup_process
    from bot.runtime.serving import webhook_app
    from bot.shared.config import load_settings

    settings = load_settings()  # `serve` checked them: the same environment
    setup_process(settings)
    app = webhook_app(Runtime.from_settings(settings), embedded_worker=False, background=False)
    serve_listeners([Listener("webhooks", app, host, port, reuse_port=True)], (signal.SIGTERM,))
