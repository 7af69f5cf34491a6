"""Everything that happens in a conversation, as one small event type.

Events are appended to a Redis stream (the durable SQL log reads from it later) and published on
the conversation's channel, so every gateway process and the staff console see them live.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class EventType(StrEnum):
    MESSAGE_IN = "message_in"
    BOT_ANSWER = "bot_answer"
    BOT_ABSTAIN = "bot_abstain"
    BOT_CLARIFY = "bot_clarify"
    HANDOFF_OFFERED = "handoff_offered"
    HANDOFF_REQUESTED = "handoff_requested"
    HANDOFF_ACCEPTED = "handoff_accepted"
    STAFF_MESSAGE = "staff_message"
    HANDED_BACK = "handed_back"
    FEEDBACK = "feedback"
    DEGRADED = "degraded"
    CLOSED = "closed"


class Event(BaseModel):
    conversation_id: str
    type: EventType
    actor: str = "bot"  # citizen | bot | staff:<name> | system
    ts: float = Field(default_factory=time.time)
    payload: dict[str, Any] = Field(default_factory=dict)
