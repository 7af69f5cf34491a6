"""What citizens and partners may see of a conversation: public models, built from the internal records.

Why a separate model instead of the internal one with a few fields excluded: the internal
`Conversation` and `Message.data` grow with every feature (staff login names, teams, priorities,
callback contact data, confidence and timing figures, handoff flags). A staff login name alone was
enough to lock that person out of the console with five wrong passwords. With an allow-list, a new
internal field stays internal until someone decides to publish it here.

Used by the widget's REST answers and history, its WebSocket frames (replay and live relay) and
the partner API's sources.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError

from bot.conversation.store import Conversation, ConversationState, Message
from knowledge.models import Source


class PublicConversation(BaseModel):
    """A conversation as the citizen's own client sees it."""

    id: str
    state: ConversationState = Field(description="bot, queued (waiting for staff), staff or closed")
    language: str = "de"
    assignee_name: str | None = Field(
        default=None, description="Display name of the member of staff holding the chat (never the login)."
    )
    callback_requested: bool = Field(default=False, description="A callback or e-mail request was left.")


class PublicButton(BaseModel):
    title: str
    payload: str


class PublicPart(BaseModel):
    """A run of the text in one language (an English lead, then the official German text)."""

    lang: str = Field(pattern=r"^[a-zA-Z-]{2,12}$")
    text: str


class PublicHandoffOffer(BaseModel):
    """Why the bot offers a person: asked for, not answered twice, or "not helpful" feedback."""

    reason: str | None = None


class PublicMessageData(BaseModel):
    """The parts of a message's internal data that the citizen's client renders."""

    kind: str | None = Field(default=None, description="answer, clarify, abstain, queue_status, staff_joined, …")
    language: str | None = None
    service_id: str | None = Field(default=None, description="The service an answer is about.")
    sources: list[Source] = Field(default_factory=list, description="Official sources of an answer.")
    parts: list[PublicPart] | None = Field(
        default=None, description="The text split by language, so screen readers switch voice (bot.turns.presentation)."
    )
    sections: list[str] | None = Field(
        default=None, description="The sections of the service an answer quotes (e.g. gebuehren), for its buttons."
    )
    handoff_offer: PublicHandoffOffer | None = Field(
        default=None, description="The bot offers a person (the client shows the consent question's buttons)."
    )
    degraded: bool | None = Field(
        default=None, description="Answered without the dialogue engine (it was restarting): fewer follow-up features."
    )
    staff: str | None = Field(default=None, description="Display name of the member of staff who wrote.")
    position: int | None = Field(default=None, description="Queue position (queue status messages).")
    office_open: bool | None = None
    staff_online: bool | None = None
    next_opening: str | None = None


class PublicMessage(BaseModel):
    id: str
    role: str = Field(description="citizen, bot, staff or system")
    text: str
    buttons: list[PublicButton] = Field(default_factory=list)
    data: PublicMessageData = Field(default_factory=PublicMessageData)
    ts: float
    seq: int


_DATA_FIELDS = tuple(PublicMessageData.model_fields)


def _public_data(data: dict[str, Any]) -> PublicMessageData:
    picked = {key: data[key] for key in _DATA_FIELDS if data.get(key) is not None}
    try:
        return PublicMessageData.model_validate(picked)
    except ValidationError:
        # an odd value in one field must not cost the citizen the message: keep what is well-formed
        kept = {}
        for key, value in picked.items():
            try:
                PublicMessageData.model_validate({key: value})
            except ValidationError:
                continue
            kept[key] = value
        return PublicMessageData.model_validate(kept)


def public_message(message: Message) -> PublicMessage:
    return PublicMessage(
        id=message.id,
        role=message.role,
        text=message.text,
        buttons=[PublicButton(title=b.title, payload=b.payload) for b in message.buttons],
        data=_public_data(message.data),
        ts=message.ts,
        seq=message.seq,
    )


def public_message_json(raw: Any) -> dict[str, Any] | None:
    """A stored or published message (JSON dict) as the public JSON shape; None if it is no message."""
    try:
        message = Message.model_validate(raw)
    except ValidationError:
        return None
    return public_message(message).model_dump(mode="json", exclude_none=True)


def public_conversation(conversation: Conversation) -> PublicConversation:
    return PublicConversation(
        id=conversation.id,
        state=conversation.state,
        language=conversation.language,
        assignee_name=conversation.assignee_name if conversation.state is ConversationState.STAFF else None,
        callback_requested=bool(conversation.callback),
    )
