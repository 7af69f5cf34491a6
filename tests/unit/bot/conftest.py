"""Fixtures for the event log and metrics: a real Redis (the shared policy, tests/conftest.py), real SQL databases.

Every test that takes `db_url` runs twice, against SQLite and PostgreSQL (127.0.0.1:5432, a
database created for this test session and dropped afterwards). Each test starts from an empty,
freshly migrated schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import sqlalchemy as sa

from bot.eventlog.db import make_engine, metadata, upgrade

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def create_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the test's own Redis database (empty at the start), decoding as the gateway does."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    name = f"bb_test_{uuid.uuid4().hex[:10]}"
    create_pg_database(name)
    yield name
    drop_pg_database(name)


def _reset(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        metadata.drop_all(connection)
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'eventlog.sqlite'}"
        return
    url = pg_url(request.getfixturevalue("pg_database"))
    _reset(url)
    yield url
    _reset(url)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()
