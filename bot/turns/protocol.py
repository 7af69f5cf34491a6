"""The typed contract between the custom actions and the turn handler.

Rasa runs in its own process; our actions tell the gateway what they did as custom JSON on a reply
(`json_message`). That JSON used to be an untyped dict read with `.get()` on the other side, and it
drifted (the action sent a handoff reason no report knew). Now both sides use these models: the
action builds a `Directive`, Rasa carries `directive.as_json()` unchanged, and the turn handler reads
it back with `Directive.read()`. The degraded mode builds the same `Directive` from the same reply,
so `Message.data` has one shape whether Rasa answered or not.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from bot.handoff.service import HandoffReason
from bot.turns.answers import Reply, ReplyKind
from bot.turns.presentation import reply_data

log = logging.getLogger(__name__)


class HandoffOffer(BaseModel):
    """The action offered a person (consent buttons shown); the reason waits in a slot until consent."""

    model_config = ConfigDict(extra="forbid")

    reason: HandoffReason

    @field_validator("reason", mode="before")
    @classmethod
    def _known_reason(cls, value: object) -> HandoffReason:
        """A tracker from before the enum may still hold an old spelling: parse it, never pass it on."""
        return HandoffReason.parse(value)


class HandoffRequest(HandoffOffer):
    """The citizen agreed: the turn handler queues the conversation for staff."""

    service: str | None = None


class Feedback(BaseModel):
    """The citizen's answer to "War das hilfreich?"."""

    model_config = ConfigDict(extra="forbid")

    helpful: bool
    service: str | None = None


class Directive(BaseModel):
    """Everything an action tells the turn handler about one reply; also the reply's `Message.data`.

    The reply fields (`kind` … `parts`) describe how to show the reply on every channel
    (`bot.turns.presentation.reply_data` fills them); the last three ask the turn handler to act.
    Unset fields are left out of the JSON, so a message's data holds only what was said.
    """

    model_config = ConfigDict(extra="forbid")

    kind: ReplyKind | None = None
    service_id: str | None = None
    sections: list[str] | None = None
    sources: list[dict[str, Any]] | None = None
    confidence: float | None = None
    language: str | None = None
    options: list[str] | None = None
    parts: list[dict[str, str]] | None = None
    timing: dict[str, float] | None = None
    degraded: bool | None = None
    guess: bool | None = None  # an answer introduced as a guess: it does not become the conversation's service

    handoff_offer: HandoffOffer | None = None
    handoff: HandoffRequest | None = None
    feedback: Feedback | None = None

    @classmethod
    def for_reply(cls, reply: Reply, *, degraded: bool = False, timing: dict[str, float] | None = None) -> Directive:
        """The directive of an answer attempt: the same in the Rasa action and in the degraded mode."""
        fields = reply_data(reply)
        if timing is not None:
            fields["timing"] = timing
        if degraded:
            fields["degraded"] = True
        return cls(**fields)

    def as_json(self) -> dict[str, Any]:
        """The JSON the action sends through Rasa and the message keeps as its data (unset fields left out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def read(cls, custom: object) -> Directive | None:
        """The directive in Rasa's custom JSON; None (and an error in the log) when it breaks the contract."""
        try:
            return cls.model_validate(custom)
        except ValidationError as exc:
            log.error("action sent a reply the turn handler does not understand, ignored: %s", exc)
            return None
