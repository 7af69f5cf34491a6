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

from bot.conversation.privacy import redact


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


# --- one named constructor per event kind -----------------------------------------------------------
# The payload conventions above, as typed functions: a caller cannot misspell a key or forget one,
# and metrics (which read payloads by these keys) see one shape per kind.

_ABSTAIN_REASONS = {"refuse": "refused", "problem": "out_of_scope"}


def message_in(conversation_id: str, channel: str, language: str) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.MESSAGE_IN,
        actor="citizen",
        payload={"channel": channel, "language": language},
    )


def bot_reply(
    conversation_id: str, kind: str, service: str | None, confidence: float | None, question: str = ""
) -> Event:
    """bot_answer, bot_clarify or bot_abstain (refusals and problems count as abstentions, with their reason).

    An abstention keeps what was asked, redacted, for the content-gap report.
    """
    event_type = {"answer": EventType.BOT_ANSWER, "clarify": EventType.BOT_CLARIFY}.get(kind, EventType.BOT_ABSTAIN)
    payload: dict[str, Any] = {"service": service, "confidence": confidence}
    if event_type is EventType.BOT_ABSTAIN:
        payload.update(
            reason=_ABSTAIN_REASONS.get(kind, "abstain"), question=redact(question)[:500] if question else None
        )
    return Event(conversation_id=conversation_id, type=event_type, payload=payload)


def handoff_offered(conversation_id: str, reason: str) -> Event:
    """`reason` is a `bot.handoff.service.HandoffReason` value."""
    return Event(conversation_id=conversation_id, type=EventType.HANDOFF_OFFERED, payload={"reason": reason})


def handoff_requested(
    conversation_id: str,
    actor: str,
    *,
    reason: str,
    service: str | None,
    team: str | None,
    channel: str,
    language: str,
    priority: int | None = None,
) -> Event:
    """`reason` is a `bot.handoff.service.HandoffReason` value; a staff takeover has no queue priority."""
    payload: dict[str, Any] = {"reason": reason, "service": service, "team": team}
    if priority is not None:
        payload["priority"] = priority
    payload.update(channel=channel, language=language)
    return Event(conversation_id=conversation_id, type=EventType.HANDOFF_REQUESTED, actor=actor, payload=payload)


def handoff_accepted(conversation_id: str, staff: str, team: str | None, waited_s: float) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.HANDOFF_ACCEPTED,
        actor=f"staff:{staff}",
        payload={"staff": staff, "team": team, "waited_s": round(waited_s, 1)},
    )


def staff_message(conversation_id: str, staff: str, team: str | None) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.STAFF_MESSAGE,
        actor=f"staff:{staff}",
        payload={"staff": staff, "team": team},
    )


def note_added(conversation_id: str, staff: str) -> Event:
    return Event(
        conversation_id=conversation_id, type=EventType.NOTE_ADDED, actor=f"staff:{staff}", payload={"staff": staff}
    )


def transferred(conversation_id: str, staff: str, from_team: str | None, to_team: str) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.TRANSFERRED,
        actor=f"staff:{staff}",
        payload={"staff": staff, "from_team": from_team, "to_team": to_team},
    )


def handed_back(conversation_id: str, staff: str, team: str | None) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.HANDED_BACK,
        actor=f"staff:{staff}",
        payload={"staff": staff, "team": team},
    )


def callback_requested(conversation_id: str, team: str | None, contact_kind: str) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.CALLBACK_REQUESTED,
        actor="citizen",
        payload={"team": team, "contact_kind": contact_kind},
    )


def feedback(conversation_id: str, helpful: bool, service: str | None = None, *, with_service: bool = True) -> Event:
    """The citizen's "helpful?" answer; Rasa's action names the service, the degraded mode does not know it."""
    payload: dict[str, Any] = {"helpful": helpful}
    if with_service:
        payload["service"] = service
    return Event(conversation_id=conversation_id, type=EventType.FEEDBACK, actor="citizen", payload=payload)


def degraded(conversation_id: str) -> Event:
    return Event(conversation_id=conversation_id, type=EventType.DEGRADED, actor="system")


def closed(conversation_id: str, actor: str, by: str, resolution: str | None, team: str | None) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.CLOSED,
        actor=actor,
        payload={"by": by, "resolution": resolution, "team": team},
    )


def abandoned(conversation_id: str, waited_s: float, team: str | None) -> Event:
    return Event(
        conversation_id=conversation_id,
        type=EventType.ABANDONED,
        actor="system",
        payload={"waited_s": round(waited_s, 1), "team": team},
    )
