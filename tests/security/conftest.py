"""Fixtures for the security tests: the real gateway app on a real port, real Redis, real Chromium.

The gateway runs in this process (uvicorn in a thread) on the demo index the shared fixtures already
built, so no second index or embedding model is loaded; Rasa is off (knowledge-only mode, the same
HTTP and widget protocol). Redis follows the shared policy (tests/support/redis_servers.py): a database of this
folder's own on the machine's server, flushed before and after, or on the session's embedded server.

Two small "city websites" on other loopback ports embed the widget with one script tag: one is in
`BUERGERBOT_ALLOWED_ORIGINS`, the other is not, so cross-origin behaviour is tested in a real browser.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, WAIT_MS
from tests.support.app_server import served_gateway
from tests.support.redis_servers import RedisServer, redis_database
from tests.support.stack import free_port

CITY_PAGE = """<!doctype html>
<html lang="de">
<head><meta charset="utf-8"><title>Stadt Beispielstadt – Bürgerservice</title>
<script src="{gateway}/widget/widget.js" defer></script></head>
<body><main><h1>Bürgerservice der Stadt Beispielstadt</h1><p>Fragen Sie unseren Chat.</p></main></body>
</html>
"""


@dataclass(frozen=True)
class Site:
    """A static web page on its own origin that embeds the widget the way a city does."""

    origin: str
    server: ThreadingHTTPServer


def _serve_city_page(port: int, gateway: str) -> ThreadingHTTPServer:
    page = CITY_PAGE.format(gateway=gateway).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            if self.path == "/":
                self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # quick to shut down
    return server


@dataclass
class Gateway:
    url: str
    settings: Settings
    redis_url: str
    city: Site
    foreign: Site


@pytest.fixture(scope="package")
def security_redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A Redis database for the security tests' gateway (see tests/support/redis_servers.py), released after them."""
    with redis_database(redis_server) as url:
        yield url


@pytest.fixture(scope="package")
def gateway(demo_settings: Settings, demo_index: object, security_redis_url: str) -> Iterator[Gateway]:
    """The real gateway app served over HTTP on a free port, with one allowed embedding city."""
    port, city_port, foreign_port = free_port(), free_port(), free_port()
    url = f"http://127.0.0.1:{port}"
    city = Site(f"http://127.0.0.1:{city_port}", _serve_city_page(city_port, url))
    foreign = Site(f"http://127.0.0.1:{foreign_port}", _serve_city_page(foreign_port, url))
    settings = Settings(
        **{
            **demo_settings.model_dump(),
            "redis_url": security_redis_url,
            "rasa_enabled": False,
            "port": port,
            "allowed_origins": [city.origin],
            # configured as in production, so the partner API answers 401 for wrong keys instead of 503
            "rate_limit_per_ip": 0,  # off: these tests send many requests from one address; ratelimit has its own tests
            "partner_api_keys": {"schema-test": hashlib.sha256(b"not-the-real-key").hexdigest()},
        }
    )
    with served_gateway(settings):
        yield Gateway(url, settings, security_redis_url, city, foreign)
    for site in (city, foreign):
        site.server.shutdown()
        site.server.server_close()


BrowserTest = Callable[[Any], None]


@pytest.fixture
def in_browser() -> Callable[[BrowserTest], None]:
    """Run `test(page)` with a fresh page of Debian's Chromium (never a downloaded browser), headless.

    Playwright's sync API runs its own event loop in the calling thread, and tests/browser keeps a
    session-wide Playwright open in the main thread; a second one there fails ("Sync API inside the
    asyncio loop"). So each call drives its own Playwright in a worker thread and re-raises what the
    test raised there.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's Chromium with 'apt-get install -y chromium'")

    def run(test: BrowserTest) -> None:
        from playwright.sync_api import expect, sync_playwright

        errors: list[BaseException] = []

        def worker() -> None:
            try:
                expect.set_options(timeout=WAIT_MS)
                with sync_playwright() as playwright:
                    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                    try:
                        context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
                        context.set_default_timeout(WAIT_MS)
                        test(context.new_page())
                    finally:
                        browser.close()
            except BaseException as exc:  # handed to the test thread, which reports it
                errors.append(exc)

        thread = threading.Thread(target=worker, name="security-browser")
        thread.start()
        thread.join()
        if errors:
            raise errors[0]

    return run


@pytest.fixture(scope="session")
def content_root() -> Path:
    return Path(__file__).resolve().parent / "data"
