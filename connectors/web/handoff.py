"""Citizen-side handoff endpoints: queue status and the callback/e-mail request form.

The callback form exists because nobody should be left waiting in a chat outside office hours:
the citizen leaves a phone number or e-mail address with explicit consent, and the ticket waits
in the staff queue. The contact data lives only in the conversation in Redis (with its TTL); it is
never written to events or the durable transcript.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from bot.conversation.store import Conversation
from bot.handoff.service import HandoffService, HandoffStatus
from connectors.common import ConversationId
from wording import texts

router = APIRouter(prefix="/api/conversations", tags=["handoff"])


def get_handoff(request: Request) -> HandoffService:
    return request.app.state.handoff


EMAIL_PATTERN = r"^[^@ ]{1,64}@[^@ ]{1,190}\.[^@ ]{2,}$"  # no \s: regex engines disagree on Unicode spaces
PHONE_PATTERN = r"^\+?[0-9][0-9 ()/-]{4,30}$"
CONSENT_HELP = "The citizen agreed to be contacted and to the storage of the contact data."


class EmailCallbackIn(BaseModel):
    contact_kind: Literal["email"]
    contact: str = Field(pattern=EMAIL_PATTERN, max_length=200, description="E-mail address.")
    note: str = Field(default="", max_length=1000)
    consent: Literal[True] = Field(description=CONSENT_HELP)


class PhoneCallbackIn(BaseModel):
    contact_kind: Literal["phone"]
    contact: str = Field(pattern=PHONE_PATTERN, max_length=40, description="Phone number.")
    note: str = Field(default="", max_length=1000)
    consent: Literal[True] = Field(description=CONSENT_HELP)


CallbackIn = Annotated[EmailCallbackIn | PhoneCallbackIn, Field(discriminator="contact_kind")]


class CitizenStatus(HandoffStatus):
    """What the widget's status line needs to tell the truth while the citizen waits.

    The line must say the same as the status message in the chat: a queue position only promises
    "someone answers here" while the team is at work and signed in; otherwise it names when the team
    is back (`next_opening`, German; `next_opening_at` in the city's time zone for other languages),
    and after a callback request it says the team will get in touch.
    """

    next_opening_at: str | None = Field(default=None, description="ISO time of the next opening, city time.")
    callback: bool = Field(default=False, description="A callback or e-mail request was left.")


def citizen_status(
    handoff: HandoffService, conversation: Conversation, now: dt.datetime | None = None
) -> CitizenStatus:
    """The handoff status of one conversation as the citizen may see it (one source for socket and REST)."""
    status = handoff.status(conversation, now)
    opening = handoff.teams.hours(conversation.team).next_opening(now)
    return CitizenStatus(
        **status.model_dump(),
        next_opening_at=opening.isoformat(timespec="minutes") if opening else None,
        callback=bool(conversation.callback),
    )


class CallbackOut(BaseModel):
    state: str
    message: str


@router.post("/{conversation_id}/callback", response_model=CallbackOut, responses={404: {}})
def request_callback(
    conversation_id: ConversationId, body: CallbackIn, handoff: Annotated[HandoffService, Depends(get_handoff)]
) -> CallbackOut:
    conversation = handoff.request_callback(
        conversation_id, body.contact_kind, body.contact.strip(), body.note.strip(), body.consent
    )
    return CallbackOut(state=conversation.state, message=texts.CALLBACK_RECEIVED)


@router.get("/{conversation_id}/queue", response_model=CitizenStatus, responses={404: {}})
def queue_status(
    conversation_id: ConversationId, handoff: Annotated[HandoffService, Depends(get_handoff)]
) -> CitizenStatus:
    conversation = handoff.store.get(conversation_id)
    if conversation is None:
        raise HTTPException(404, texts.CONVERSATION_NOT_FOUND)
    return citizen_status(handoff, conversation)
