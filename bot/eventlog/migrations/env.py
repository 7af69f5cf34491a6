"""Alembic environment: runs on the engine handed over by `bot.eventlog.db.upgrade` (no alembic.ini).

On PostgreSQL an advisory lock serialises migrations, because every gateway process upgrades the
schema on start and several may start at once.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from bot.eventlog.db import metadata

MIGRATION_LOCK_ID = 0x6262_6576  # "bbev"

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        connection.commit()
    try:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if postgres:
            connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
