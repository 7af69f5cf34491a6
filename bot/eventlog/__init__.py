"""The durable event log: copies Redis streams to SQL (SQLite or PostgreSQL) with Alembic migrations."""
