"""Browser tests drive Debian's Chromium (never a downloaded browser) against the real gateway process.

The gateway runs in knowledge-only mode (no Rasa: fast to start, same widget protocol) with its own data
directory under tmp and a Redis database of this folder's own (the shared policy, tests/support/redis_servers.py)
that outlives the gateway process, so a gateway restart in a test keeps the conversations, exactly like
production with an external Redis.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bot.settings import PROJECT_ROOT
from tests.conftest import seed_index
from tests.support.redis_servers import RedisServer, redis_database
from tests.support.stack import Stack

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
EMBEDDING_CACHE = PROJECT_ROOT / ".data" / "cache"
# Not the default (2000): the widget must show the server's limit, not a number of its own.
WIDGET_LIMIT = 2400
WAIT_MS = 90_000  # two busy cores: answers and restarts can be slow, so wait generously (never assert timings)


class WidgetStack(Stack):
    """A knowledge-only gateway pinned to one Redis URL, so a restart on the same port finds its data.

    Like every test stack, its staff teams are at work around the clock (`always_open_teams`).
    """

    def __init__(self, data_dir: Path, redis_url: str) -> None:
        super().__init__(data_dir=data_dir, redis_url=redis_url, rasa=False)

    def env(self) -> dict[str, str]:
        return {**super().env(), "BUERGERBOT_MAX_QUESTION_CHARS": str(WIDGET_LIMIT)}

    def restart(self) -> None:
        """Stop the gateway process and start a new one on the same port, data dir and Redis."""
        self.stop()
        self.start()


@pytest.fixture(scope="package")
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """One Redis database for the browser tests' gateways: it outlives gateway restarts, like a real one."""
    with redis_database(redis_server) as url:
        yield url


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, redis_url: str, demo_index_dir: Path) -> Iterator[WidgetStack]:
    data_dir = tmp_path_factory.mktemp("widget-data")
    (data_dir / "cache").mkdir(parents=True, exist_ok=True)
    for cached in EMBEDDING_CACHE.glob("embeddings-*.sqlite"):  # vectors computed once per machine
        shutil.copy(cached, data_dir / "cache" / cached.name)
    seed_index(demo_index_dir, data_dir)  # the session's demo index: the gateway need not build one
    running = WidgetStack(data_dir, redis_url)
    running.start(timeout_s=900)
    yield running
    running.stop()


@pytest.fixture(scope="package")
def live_redis(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url, decode_responses=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's Chromium with 'apt-get install -y chromium'")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser) -> Iterator[object]:
    """A fresh browser profile per test: empty sessionStorage, so a new conversation id."""
    created = browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE")
    created.set_default_timeout(WAIT_MS)
    yield created
    created.close()


@pytest.fixture
def page(context) -> Iterator[object]:
    opened = context.new_page()
    yield opened
    opened.close()


@pytest.fixture
def js_errors(page) -> list[str]:
    """Uncaught errors in the page: the widget must never throw, whatever the server sends."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
