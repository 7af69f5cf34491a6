"""The real gateway app served over HTTP in a thread of the test process (uvicorn), for tests that
need real sockets and the real middleware but not a separate process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from bot.settings import Settings

START_TIMEOUT_S = 300  # two busy cores: opening the index can take a while


@contextmanager
def served_gateway(settings: Settings) -> Iterator[str]:
    """Serve `create_app(settings)` on 127.0.0.1:`settings.port` until the block ends; yields the URL."""
    from bot.gateway.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=settings.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start; see the log above")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        thread.join(30)
