"""The event log's SQL database: engine factory, schema and migrations.

SQLite (default, one file under the data directory) keeps a fresh install dependency-free;
PostgreSQL (`BUERGERBOT_DATABASE_URL=postgresql+psycopg://...`) serves several gateway processes.
The schema lives here as SQLAlchemy Core tables so metrics, retention and the writer share one
definition; Alembic migrations in `bot/eventlog/migrations/` create and evolve it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

metadata = sa.MetaData()

# One row per event (bot/conversation/events.py). `stream_id` (the Redis stream entry id) makes writes idempotent:
# a writer that crashes between commit and XACK re-delivers the entry and the insert is ignored.
# channel/service/team/detail are copied out of the payload so dashboards can group cheaply.
events = sa.Table(
    "bb_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("stream_id", sa.String(64), nullable=False, unique=True),
    sa.Column("conversation_id", sa.String(100), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("ts", sa.Float(), nullable=False),
    sa.Column("channel", sa.String(32)),
    sa.Column("service", sa.String(100)),
    sa.Column("team", sa.String(100)),
    sa.Column("detail", sa.String(64)),  # reason / helpful / by: the one label a chart groups by
    sa.Column("payload", sa.JSON(), nullable=False),
    sa.Index("ix_bb_events_ts", "ts"),
    sa.Index("ix_bb_events_conversation_ts", "conversation_id", "ts"),
    sa.Index("ix_bb_events_type_ts", "type", "ts"),
)

# Transcripts, already redacted (bot.conversation.privacy) before they reach Redis; deleted after retention_days.
messages = sa.Table(
    "bb_messages",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # Message.id: idempotent like stream_id
    sa.Column("conversation_id", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("seq", sa.Integer(), nullable=False),
    sa.Column("ts", sa.Float(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Index("ix_bb_messages_conversation_seq", "conversation_id", "seq"),
    sa.Index("ix_bb_messages_ts", "ts"),
)

# Anonymous daily counters that survive retention: conversation-level figures of expired days,
# keyed by local day and the report's dimensions. No conversation ids, no texts.
daily_aggregates = sa.Table(
    "bb_daily_aggregates",
    metadata,
    sa.Column("day", sa.String(10), nullable=False),  # YYYY-MM-DD in metrics_timezone
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("service", sa.String(100), nullable=False),
    sa.Column("team", sa.String(100), nullable=False),
    sa.Column("metric", sa.String(64), nullable=False),
    sa.Column("value", sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint("day", "channel", "service", "team", "metric"),
)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    """WAL lets the dashboard read while the writer writes; NORMAL sync is durable enough with WAL."""
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3, the driver this project ships."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for the event log; SQLite files get their directory and WAL pragmas."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, connect_args={"connect_timeout": 5})


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and pool) per URL and process."""
    return make_engine(url)


def ensure_sqlite_dir(url: str) -> None:
    """SQLite cannot create the data directory itself."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def alembic_config(engine: Engine) -> Config:
    """Programmatic Alembic configuration: no alembic.ini, the engine is handed over directly."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations; safe to call on every start and from several processes (PostgreSQL lock)."""
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
