"""Event log, transcripts and anonymous daily aggregates.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "bb_events",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("channel", sa.String(32)),
        sa.Column("service", sa.String(100)),
        sa.Column("team", sa.String(100)),
        sa.Column("detail", sa.String(64)),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.UniqueConstraint("stream_id", name="uq_bb_events_stream_id"),
    )
    op.create_index("ix_bb_events_ts", "bb_events", ["ts"])
    op.create_index("ix_bb_events_conversation_ts", "bb_events", ["conversation_id", "ts"])
    op.create_index("ix_bb_events_type_ts", "bb_events", ["type", "ts"])
    op.create_table(
        "bb_messages",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("conversation_id", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_bb_messages_conversation_seq", "bb_messages", ["conversation_id", "seq"])
    op.create_index("ix_bb_messages_ts", "bb_messages", ["ts"])
    op.create_table(
        "bb_daily_aggregates",
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("service", sa.String(100), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("day", "channel", "service", "team", "metric"),
    )


def downgrade() -> None:
    op.drop_table("bb_daily_aggregates")
    op.drop_table("bb_messages")
    op.drop_table("bb_events")
