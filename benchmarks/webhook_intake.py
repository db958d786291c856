"""Webhook intake benchmark: signed `issues.labeled` deliveries against a real `draftsmith serve`.

Usage: .venv/bin/python benchmarks/webhook_intake.py [-n 5000] [--dup 0.1] [-c 32] [--rate R]
       [--embedded-worker | --no-embedded-worker] [--intake-processes N] [--json] [--profile FILE]

Starts `draftsmith serve` as a subprocess on a free loopback port, with a random webhook secret
and its SQLite store and queue in a temporary directory, and no GitHub App configured: the
embedded worker's handling of each delivery then fails fast ("the GitHub App is not
configured"), which is fine, since this measures intake (verify, route, store, enqueue, answer).
Sends N signed deliveries (real payloads from tests/fixtures/webhooks, each with its own
delivery id and issue number; a fraction are redeliveries of an earlier id, sent well after
the original) at concurrency C, paced at R deliveries/s with --rate, else as fast as possible.

Prints throughput, ack latency percentiles, duplicates sent and answered as duplicates, and
what the store holds afterwards (read with bot.store.runs.Store). No run is created without App
credentials, so `runs created` is 0 by design: `deliveries stored` and their outcomes
(`queued` = stored and still waiting for the worker) are the figures of record.
The client runs on the same machine and competes with the server for its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import httpx  # noqa: E402

from bot.jobs.queue import make_huey  # noqa: E402
from bot.store.runs import Store  # noqa: E402
from tests.helpers.payloads import body_of, load_payload, sign  # noqa: E402

DRAFTSMITH = REPO_ROOT / ".venv" / "bin" / "draftsmith"
OUTCOMES = ("queued", "processing", "processed", "failed", "ignored")


@dataclass(frozen=True)
class Delivery:
    """One request to send: a delivery id, its signed body, and whether it is a redelivery."""

    delivery_id: str
    body: bytes
    signature: str
    duplicate: bool


@dataclass
class Result:
    """What one request got back."""

    delivery_id: str
    duplicate: bool
    status: int
    answered_duplicate: bool
    latency_ms: float
    lag_ms: float  # how late the send started against its pacing schedule (0 when unpaced)
    error: str | None = None


@dataclass
class Server:
    """A running `draftsmith serve` subprocess."""

    process: subprocess.Popen[bytes]
    url: str
    database_url: str
    queue_url: str
    log_path: Path
    cpu_ticks: list[int] = field(default_factory=list)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_deliveries(
    n: int, dup_fraction: float, concurrency: int, secret: str, seed: int
) -> list[Delivery]:
    """N requests: unique labelled issues plus redeliveries placed well after their original."""
    rng = random.Random(seed)
    dups = int(round(n * dup_fraction))
    uniques = n - dups
    originals: list[Delivery] = []
    for i in range(uniques):
        payload = load_payload(
            "issues.labeled",
            label={"name": "draftsmith"},
            installation={"id": 4242},
            issue={"number": 1000 + i, "title": f"Benchmark issue {i}"},
        )
        body = body_of(payload)
        delivery_id = f"bench-{seed}-{i:07d}"
        originals.append(Delivery(delivery_id, body, sign(body, secret), False))
    keyed: list[tuple[float, Delivery]] = [(float(i), d) for i, d in enumerate(originals)]
    gap = 2 * concurrency
    for k in rng.choices(range(uniques), k=dups):
        d = originals[k]
        keyed.append(
            (k + gap + rng.uniform(0, 200), Delivery(d.delivery_id, d.body, d.signature, True))
        )
    keyed.sort(key=lambda item: item[0])
    return [d for _, d in keyed]


def start_server(
    tmp: Path,
    secret: str,
    embedded_worker: bool,
    log_level: str,
    profile: Path | None,
    intake_processes: int = 1,
) -> Server:
    """Start `draftsmith serve` on a free loopback port and wait until /healthz answers 200 and
    every intake process listens."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTSMITH_", "OTEL_"))}
    database_url = f"sqlite:///{tmp / 'draftsmith.db'}"
    queue_url = f"sqlite:///{tmp / 'queue.db'}"
    env.update(
        DRAFTSMITH_WEBHOOK_SECRET=secret,
        DRAFTSMITH_DATABASE_URL=database_url,
        DRAFTSMITH_QUEUE_URL=queue_url,
        DRAFTSMITH_WORK_DIR=str(tmp / "work"),
        DRAFTSMITH_LOG_LEVEL=log_level,
    )
    argv = [
        str(DRAFTSMITH),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--embedded-worker" if embedded_worker else "--no-embedded-worker",
        "--intake-processes",
        str(intake_processes),
    ]
    if profile is not None:
        py_spy = shutil.which("py-spy") or str(REPO_ROOT / ".venv" / "bin" / "py-spy")
        fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(profile.suffix, "raw")
        argv = [
            py_spy,
            "record",
            "--threads",
            "--gil",
            "--rate",
            "200",
            "--format",
            fmt,
            "--output",
            str(profile),
            "--",
            *argv,
        ]
    log_path = tmp / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, start_new_session=True
        )
    server = Server(process, f"http://127.0.0.1:{port}", database_url, queue_url, log_path)
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(
                    f"draftsmith serve exited with {process.returncode}:\n"
                    f"{log_path.read_text()[-3000:]}"
                )
            with contextlib.suppress(httpx.TransportError):
                answered = client.get(f"{server.url}/healthz").status_code == 200
                if answered and len(listening(port)) >= intake_processes:
                    return server
            time.sleep(0.1)  # polling a starting process, not synchronising threads
    stop_server(server)
    raise SystemExit(
        f"draftsmith serve did not answer /healthz in 60 s:\n{log_path.read_text()[-3000:]}"
    )


def server_pid(server: Server) -> int:
    """The pid of the Python server process (a child of py-spy when profiling)."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    if children.exists():
        pids = children.read_text().split()
        if pids and "py-spy" in Path(f"/proc/{server.process.pid}/cmdline").read_text():
            return int(pids[0])
    return server.process.pid


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its descendants (intake processes) have used."""
    total = 0.0
    for one in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc's children lists."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in map(int, (task / "children").read_text().split()):
                found += [child, *descendants(child)]
    return found


def listening(port: int) -> set[str]:
    """The socket inodes listening on a loopback TCP port (one per intake process)."""
    inodes: set[str] = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
            inodes.add(fields[9])
    return inodes


def stop_server(server: Server) -> None:
    """Stop the server gracefully (SIGINT, like Ctrl-C), killing it after 20 s."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


HEADERS = {
    "X-GitHub-Event": "issues",
    "Content-Type": "application/json",
    "User-Agent": "GitHub-Hookshot/benchmark",
}


class HttpxPoster:
    """Posts through one shared httpx.AsyncClient (its pool holds `concurrency` connections)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, d: Delivery) -> tuple[int, bytes]:
        """Send one delivery; returns the status and the body."""
        response = await self.client.post(
            "/webhooks/github",
            content=d.body,
            headers={
                **HEADERS,
                "X-GitHub-Delivery": d.delivery_id,
                "X-Hub-Signature-256": d.signature,
            },
        )
        return response.status_code, response.content


class RawPoster:
    """Posts prebuilt HTTP/1.1 requests on one keep-alive connection (a light load generator)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the connection."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def request(self, d: Delivery) -> bytes:
        """The request bytes of one delivery."""
        head = "".join(
            f"{k}: {v}\r\n"
            for k, v in {
                **HEADERS,
                "X-GitHub-Delivery": d.delivery_id,
                "X-Hub-Signature-256": d.signature,
                "Host": f"{self.host}:{self.port}",
                "Content-Length": str(len(d.body)),
            }.items()
        )
        return f"POST /webhooks/github HTTP/1.1\r\n{head}\r\n".encode() + d.body

    async def post(self, d: Delivery) -> tuple[int, bytes]:
        """Send one delivery; returns the status and the body."""
        if self.reader is None or self.writer is None:
            await self.connect()
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(self.request(d))
            await self.writer.drain()
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            body = await self.reader.readexactly(length)
            if b"connection: close" in head.lower():
                self.close()
            return status, body
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise

    def close(self) -> None:
        """Close the connection (the next post reconnects)."""
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def send_all(
    url: str, deliveries: list[Delivery], concurrency: int, rate: float | None, client_kind: str
) -> tuple[list[Result], float]:
    """Send every delivery from `concurrency` connections; returns the results and wall time."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results: list[Result] = []
    next_index = 0
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        posters: list[HttpxPoster | RawPoster]
        if client_kind == "httpx":
            # One warm connection per sender before the clock starts.
            await asyncio.gather(*(client.get("/healthz") for _ in range(concurrency)))
            posters = [HttpxPoster(client) for _ in range(concurrency)]
        else:
            port = int(url.rsplit(":", 1)[1])
            raw = [RawPoster("127.0.0.1", port) for _ in range(concurrency)]
            await asyncio.gather(*(p.connect() for p in raw))
            posters = list(raw)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def sender(poster: HttpxPoster | RawPoster) -> None:
            nonlocal next_index
            while next_index < len(deliveries):
                index = next_index
                next_index += 1
                d = deliveries[index]
                lag = 0.0
                if rate is not None:
                    due = start + index / rate
                    delay = due - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)  # pacing, not synchronisation
                    lag = max(0.0, loop.time() - due)
                t0 = time.perf_counter()
                try:
                    status, body = await asyncio.wait_for(poster.post(d), 30)
                except (
                    httpx.HTTPError,
                    OSError,
                    asyncio.IncompleteReadError,
                    ValueError,
                    TimeoutError,
                ) as exc:
                    ms = (time.perf_counter() - t0) * 1000
                    results.append(
                        Result(
                            d.delivery_id,
                            d.duplicate,
                            0,
                            False,
                            ms,
                            lag * 1000,
                            f"{exc.__class__.__name__}: {exc}",
                        )
                    )
                    continue
                ms = (time.perf_counter() - t0) * 1000
                answered_dup = status == 200 and bool(json.loads(body).get("duplicate"))
                results.append(
                    Result(d.delivery_id, d.duplicate, status, answered_dup, ms, lag * 1000)
                )

        await asyncio.gather(*(sender(p) for p in posters))
        elapsed = loop.time() - start
        for p in posters:
            if isinstance(p, RawPoster):
                p.close()
    return results, elapsed


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 100)))
    return ordered[min(rank, len(ordered)) - 1]


def store_figures(server: Server) -> dict[str, Any]:
    """Deliveries, their outcomes, runs and pending queue messages, read from the store."""
    store = Store(server.database_url)
    try:
        figures: dict[str, Any] = {
            "deliveries_stored": store.count_deliveries(),
            "outcomes": {o: store.count_deliveries(o) for o in OUTCOMES},
            "runs_created": len(store.list_runs()),
        }
    finally:
        store.engine.dispose()
    figures["queue_pending"] = int(make_huey(server.queue_url).pending_count())
    return figures


def drain(server: Server, timeout_s: float) -> float | None:
    """Seconds until the worker has handled every stored delivery, or None on timeout."""
    store = Store(server.database_url)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout_s:
            if store.count_deliveries("queued") + store.count_deliveries("processing") == 0:
                return time.monotonic() - start
            time.sleep(0.2)  # polling another process's progress
    finally:
        store.engine.dispose()
    return None


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the server, send, read the store, stop the server; returns the figures."""
    load = os.getloadavg()[0]
    secret = secrets.token_hex(24)
    deliveries = build_deliveries(args.n, args.dup, args.concurrency, secret, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="draftsmith-intake-"))
    server = start_server(
        tmp, secret, args.embedded_worker, args.log_level, args.profile, args.intake_processes
    )
    try:
        pid = server_pid(server)
        cpu_before = cpu_seconds(pid)
        client_before = time.process_time()
        results, elapsed = asyncio.run(
            asyncio.wait_for(
                send_all(server.url, deliveries, args.concurrency, args.rate, args.client),
                args.max_seconds,
            )
        )
        server_cpu = cpu_seconds(pid) - cpu_before
        client_cpu = time.process_time() - client_before
        after_send = store_figures(server)
        drained = (
            drain(server, args.drain_seconds)
            if args.embedded_worker and args.drain_seconds > 0
            else None
        )
        after_drain = store_figures(server) if drained is not None else None
    finally:
        stop_server(server)
    latencies = [r.latency_ms for r in results if r.error is None]
    dups = [r for r in results if r.duplicate]
    unique_ids = {d.delivery_id for d in deliveries}
    statuses: dict[str, int] = {}
    accepted: dict[str, int] = {}
    for r in results:
        key = str(r.status) if r.error is None else "error"
        statuses[key] = statuses.get(key, 0) + 1
        if r.status == 202:
            accepted[r.delivery_id] = accepted.get(r.delivery_id, 0) + 1
    figures: dict[str, Any] = {
        "config": {
            "deliveries": args.n,
            "duplicate_fraction": args.dup,
            "concurrency": args.concurrency,
            "rate": args.rate,
            "embedded_worker": args.embedded_worker,
            "intake_processes": args.intake_processes,
            "log_level": args.log_level,
            "client": args.client,
            "cores": os.cpu_count(),
        },
        "load_average_at_start": round(load, 2),
        "elapsed_s": round(elapsed, 3),
        "deliveries_per_s": round(len(results) / elapsed, 1),
        "ack_ms": {f"p{q}": round(percentile(latencies, q), 2) for q in (50, 95, 99)}
        | {"max": round(max(latencies, default=float("nan")), 2)},
        "pacing_lag_ms_p99": round(percentile([r.lag_ms for r in results], 99), 2),
        "statuses": dict(sorted(statuses.items())),
        "errors": sorted({r.error for r in results if r.error})[:5],
        "duplicates_sent": len(dups),
        "duplicates_answered_as_duplicates": sum(r.answered_duplicate for r in dups),
        "originals_answered_as_duplicates": sum(
            r.answered_duplicate for r in results if not r.duplicate
        ),
        "duplicate_answers": sum(r.answered_duplicate for r in results),
        "ids_accepted_once": sum(1 for v in accepted.values() if v == 1),
        "ids_accepted_more_than_once": sum(1 for v in accepted.values() if v > 1),
        "unique_sent": len(unique_ids),
        "server_cpu_s": round(server_cpu, 2),
        "server_cpu_ms_per_delivery": round(1000 * server_cpu / max(1, len(results)), 3),
        "client_cpu_s": round(client_cpu, 2),
        "after_send": after_send,
        "deliveries_lost": len(unique_ids) - after_send["deliveries_stored"],
        "worker_drain_s": None if drained is None else round(drained, 2),
        "after_drain": after_drain,
        "server_log": str(server.log_path) if args.keep else None,
    }
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


def components(n: int, threads: int) -> dict[str, Any]:
    """Time each step of the intake in this process, one call at a time (ms per call, median and
    p99), then the store+queue writes from `threads` threads at once (what the server's thread
    pool does). Logging is configured as `draftsmith serve` does (JSON, masked) into a file."""
    import statistics
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from contextlib import redirect_stderr

    from pydantic import SecretStr

    from bot.jobs.queue import TaskQueue
    from bot.runtime import setup_process
    from bot.shared.config import Settings
    from bot.steering.commands import Command, dump_command
    from webhooks.routing import route
    from webhooks.signature import verify

    secret = secrets.token_hex(24)
    tmp = Path(tempfile.mkdtemp(prefix="draftsmith-intake-parts-"))
    try:
        deliveries = build_deliveries(n, 0.0, 1, secret, 7)
        payloads = [json.loads(d.body) for d in deliveries]
        settings = Settings(
            webhook_secret=SecretStr(secret),
            database_url=f"sqlite:///{tmp / 'db.sqlite'}",
            queue_url=f"sqlite:///{tmp / 'queue.db'}",
        )
        store = Store(settings.database_url)
        store.migrate()
        queue = TaskQueue(make_huey(settings.queue_url))
        log_file = (tmp / "server.log").open("w")
        with redirect_stderr(log_file):
            setup_process(settings)
        log = logging.getLogger("webhooks.app")
        steps: dict[str, Any] = {
            "verify signature (HMAC-SHA256)": lambda i: verify(
                deliveries[i].body, secret, deliveries[i].signature
            ),
            "json.loads(body)": lambda i: json.loads(deliveries[i].body),
            "route + dump_command": lambda i: dump_command(
                cast(Command, route("issues", payloads[i]))
            ),
            "one INFO log line (JSON, masked)": lambda i: log.info(
                "webhook accepted: %s",
                "start_run",
                extra={
                    "delivery_id": deliveries[i].delivery_id,
                    "event": "issues",
                    "action": "labeled",
                    "repo": "Codertocat/Hello-World",
                },
            ),
            "store.record_delivery (SQLite)": lambda i: store.record_delivery(
                deliveries[i].delivery_id,
                event="issues",
                action="labeled",
                installation_id=4242,
                repo="Codertocat/Hello-World",
                command="{}",
                outcome="queued",
            ),
            "queue.enqueue_delivery (SqliteHuey)": lambda i: queue.enqueue_delivery(
                deliveries[i].delivery_id
            ),
        }
        figures: dict[str, Any] = {
            "calls": n,
            "body_bytes": len(deliveries[0].body),
            "sequential_ms": {},
        }
        for name, step in steps.items():
            times = []
            for i in range(n):
                t = time.perf_counter()
                step(i)
                times.append((time.perf_counter() - t) * 1000)
            figures["sequential_ms"][name] = {
                "median": round(statistics.median(times), 3),
                "p99": round(percentile(times, 99), 3),
            }
        log_file.close()
        logging.getLogger().handlers.clear()
        # The same writes from a thread pool, as the server's run_in_threadpool does them.
        store2 = Store(f"sqlite:///{tmp / 'db2.sqlite'}")
        store2.migrate()
        queue2 = TaskQueue(make_huey(f"sqlite:///{tmp / 'queue2.db'}"))
        lock = threading.Lock()
        per_step: dict[str, list[float]] = {"record": [], "enqueue": []}

        def write(i: int) -> None:
            d = deliveries[i].delivery_id
            t = time.perf_counter()
            store2.record_delivery(
                d,
                event="issues",
                action="labeled",
                installation_id=4242,
                repo="Codertocat/Hello-World",
                command="{}",
                outcome="queued",
            )
            t2 = time.perf_counter()
            queue2.enqueue_delivery(d)
            t3 = time.perf_counter()
            with lock:
                per_step["record"].append((t2 - t) * 1000)
                per_step["enqueue"].append((t3 - t2) * 1000)

        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(write, range(n)))
        elapsed = time.perf_counter() - start
        figures["threaded"] = {
            "threads": threads,
            "writes_per_s": round(n / elapsed, 1),
            "record_delivery_ms": {
                "p50": round(percentile(per_step["record"], 50), 2),
                "p99": round(percentile(per_step["record"], 99), 2),
            },
            "enqueue_delivery_ms": {
                "p50": round(percentile(per_step["enqueue"], 50), 2),
                "p99": round(percentile(per_step["enqueue"], 99), 2),
            },
        }
        return figures
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def components_report(f: dict[str, Any]) -> str:
    """The component figures as text."""
    lines = [f"intake steps, in-process, {f['calls']} calls each, body {f['body_bytes']} bytes:"]
    for name, v in f["sequential_ms"].items():
        lines.append(f"  {name:<38} median {v['median']:.3f} ms  p99 {v['p99']:.3f} ms")
    t = f["threaded"]
    lines.append(
        f"  store+queue writes from {t['threads']} threads: {t['writes_per_s']:.1f}/s; "
        f"record_delivery p50 {t['record_delivery_ms']['p50']:.2f} ms p99 "
        f"{t['record_delivery_ms']['p99']:.2f} ms; enqueue_delivery p50 "
        f"{t['enqueue_delivery_ms']['p50']:.2f} ms p99 {t['enqueue_delivery_ms']['p99']:.2f} ms"
    )
    return "\n".join(lines)


def report(f: dict[str, Any]) -> str:
    """The figures as text."""
    c, a, s = f["config"], f["ack_ms"], f["after_send"]
    pace = f"{c['rate']:g}/s" if c["rate"] else "unpaced"
    lines = [
        f"webhook intake: {c['deliveries']} deliveries ({f['duplicates_sent']} redeliveries), "
        f"concurrency {c['concurrency']} ({c['client']} client), {pace}, embedded worker "
        f"{'on' if c['embedded_worker'] else 'off'}, {c.get('intake_processes', 1)} intake "
        f"process(es), {c['cores']} cores shared with the client, "
        f"load average {f['load_average_at_start']:.2f} at start",
        f"  throughput          {f['deliveries_per_s']:.1f} deliveries/s ({f['elapsed_s']:.2f} s)",
        f"  ack latency         p50 {a['p50']:.2f} ms  p95 {a['p95']:.2f} ms  "
        f"p99 {a['p99']:.2f} ms  max {a['max']:.2f} ms",
        f"  pacing lag p99      {f['pacing_lag_ms_p99']:.2f} ms (send start behind schedule)",
        f"  HTTP statuses       {f['statuses']}"
        + (f" errors {f['errors']}" if f["errors"] else ""),
        f"  duplicates          sent {f['duplicates_sent']}, duplicate answers "
        f"{f['duplicate_answers']}; ids accepted (202) once {f['ids_accepted_once']}, more than "
        f"once {f['ids_accepted_more_than_once']}",
        f"                      (a redelivery that overtook its slow original: "
        f"{f['originals_answered_as_duplicates']}; then the original is the one deduped)",
        f"  server CPU          {f['server_cpu_s']:.2f} s "
        f"({f['server_cpu_ms_per_delivery']:.3f} ms per request); client CPU "
        f"{f['client_cpu_s']:.2f} s (same machine)",
        f"  deliveries stored   {s['deliveries_stored']} of {f['unique_sent']} unique sent; "
        f"lost {f['deliveries_lost']}",
        f"  outcomes after send {s['outcomes']}; queue pending {s['queue_pending']}",
        f"  runs created        {s['runs_created']} (no GitHub App configured: the worker fails "
        "each delivery fast and creates no run; see deliveries stored / queued)",
    ]
    if c["embedded_worker"]:
        d = f["after_drain"]
        lines.append(
            f"  worker drain        {f['worker_drain_s']} s after the last ack; outcomes "
            f"{d['outcomes'] if d else 'not drained'}"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse options, run once, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="requests to send (default 5000)")
    parser.add_argument(
        "--dup",
        type=float,
        default=0.10,
        help="fraction of requests that are redeliveries (default 0.1)",
    )
    parser.add_argument("-c", "--concurrency", type=int, default=32, help="connections (32)")
    parser.add_argument(
        "--rate",
        type=float,
        default=None,
        help="pace at R deliveries/s (default: as fast as possible)",
    )
    parser.add_argument(
        "--embedded-worker",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="consumer threads in the server (default on)",
    )
    parser.add_argument(
        "--intake-processes",
        type=int,
        default=1,
        help="processes answering on the port (`serve --intake-processes`, default 1)",
    )
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="load generator: httpx.AsyncClient (default) or raw keep-alive "
        "HTTP/1.1 on asyncio streams (lighter, leaves more CPU to the server)",
    )
    parser.add_argument("--log-level", default="INFO", help="server log level (default INFO)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--max-seconds", type=float, default=300, help="bound on the sending phase (default 300)"
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=60,
        help="wait at most this long for the worker to drain (0: do not wait)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="run the server under py-spy, writing FILE (.svg, .json or raw)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir and server log")
    parser.add_argument(
        "--components",
        action="store_true",
        help="instead: time each intake step in-process (-n calls, -c threads)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    if args.n < 1 or not 0 <= args.dup < 1 or args.concurrency < 1:
        parser.error("need -n >= 1, 0 <= --dup < 1, --concurrency >= 1")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")
    if args.components:
        parts = components(min(args.n, 20000), args.concurrency)
        print(json.dumps(parts, indent=2) if args.json else components_report(parts))
        return
    figures = run(args)
    print(json.dumps(figures, indent=2) if args.json else report(figures))


if __name__ == "__main__":
    main()
