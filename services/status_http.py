"""The HTTP side every service shares: GET /health, GET /metrics, serving until SIGTERM.

Health and metrics answer on HTTP_HOST:HTTP_PORT (127.0.0.1 unless told otherwise) and
never touch Kafka or Redis, so a health check measures the process, not the faults
injected around it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

from aiohttp import web

from services.config import CommonConfig
from services.log import JsonLog

T = TypeVar("T")

STARTUP_FAILURE_EXIT_CODE = 1


class Counters:
    """Thread-safe event counters served on /metrics; the deployer compares instances by them."""

    def __init__(self, names: Iterable[str]) -> None:
        self._values = {name: 0 for name in names}
        self._lock = threading.Lock()

    def inc(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def set(self, name: str, value: int) -> None:
        with self._lock:
            self._values[name] = value

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)


def add_status_routes(app: web.Application, metrics: Callable[[], dict[str, Any]] | None = None) -> None:
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/health", health)
    if metrics is not None:

        async def metrics_view(_: web.Request) -> web.Response:
            return web.json_response(metrics())

        app.router.add_get("/metrics", metrics_view)


async def start_site(app: web.Application, config: CommonConfig, log: JsonLog) -> web.AppRunner:
    """Bind the app; a port that cannot be bound stops the service with exit code 1."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, config.http_host, config.http_port, reuse_address=True).start()
    except OSError as exc:
        await runner.cleanup()
        log.error("cannot serve HTTP", host=config.http_host, port=config.http_port, error=str(exc))
        raise SystemExit(STARTUP_FAILURE_EXIT_CODE) from None
    return runner


async def serve_until_signalled(app: web.Application, config: CommonConfig, log: JsonLog) -> None:
    """Serve `app` until SIGTERM or SIGINT, then run its cleanup hooks (e.g. a producer flush)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = await start_site(app, config, log)
    log.info("started", host=config.http_host, port=config.http_port)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()
    log.info("stopped")


class LoopThread:
    """An asyncio loop in a daemon thread, for the consumer services.

    Their Kafka loop is synchronous (confluent-kafka's consumer is), while /health,
    /metrics and the document-service client are aiohttp; this thread hosts the latter
    and the Kafka loop hands it coroutines with `run()`.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop and wait for its result (at most `timeout` seconds)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()
