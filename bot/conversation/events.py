"""Everything that happens in a conversation, as one small event type.

Events are appended to the Redis stream `bb:events` (the durable SQL event log consumes it in
batches, so a slow or absent database never delays a citizen's answer) and, where clients care,
published on the conversation's channel, so every gateway process and the staff console see them
live. Message texts never travel in events: transcripts go through their own stream
(`bb:messages`, see `bot.conversation.store`), already redacted.

Payload conventions (all keys optional unless stated), so metrics can be computed from events only:
- message_in: channel, language
- bot_answer / bot_clarify / bot_abstain: service, confidence; bot_abstain also `question`
  (redacted text, for the content-gap report) and `reason` (abstain | out_of_scope | refused)
- handoff_offered: reason (a `bot.handoff.service.HandoffReason` value)
- handoff_requested: reason (a `bot.handoff.service.HandoffReason` value: requested | repeated_failure |
  negative_feedback | staff_takeover | callback),
  service, team, priority, channel, language
- handoff_accepted: staff, team, waited_s
- staff_message: staff
- note_added: staff
- transferred: staff, from_team, to_team
- handed_back: staff
- callback_requested: team, contact_kind (email | phone)
- feedback: helpful (bool)
- closed: by (staff | citizen | timeout), resolution (for staff closes)
- abandoned: waited_s (the citizen left the queue before anyone took over)
- degraded: (none)
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
    NOTE_ADDED = "note_added"
    TRANSFERRED = "transferred"
    HANDED_BACK = "handed_back"
    CALLBACK_REQUESTED = "callback_requested"
    FEEDBACK = "feedback"
    DEGRADED = "degraded"
    CLOSED = "closed"
    ABANDONED = "abandoned"


class Event(BaseModel):
    conversation_id: str
    type: EventType
    actor: str = "bot"  # citizen | bot | staff:<name> | system
    ts: float = Field(default_factory=time.time)
    payload: dict[str, Any] = Field(default_factory=dict)
