"""Partner REST channel: partner portals (e.g. a city's service portal app) talk to the assistant by API key.

Why it looks like this:
- Keys are stored only as SHA-256 hashes in settings (`BUERGERBOT_PARTNER_API_KEYS`, created with
  `buergerbot apikey NAME`), so a leaked configuration does not leak usable keys. The presented key
  is hashed and compared with every configured hash in constant time.
- Conversation ids are namespaced per partner: the internal id is a keyed hash of partner name and
  the partner's own id, so one partner can never address, read or even guess another partner's
  conversations (nor can anyone reach them through the public widget API).
- Partners poll (`GET ...?after=SEQ`) for replies written later by staff; nothing is pushed to them.
- The body is read by us (not by FastAPI) so the size limit applies before anything is buffered and
  authentication runs before the body is even looked at; its schema is still in the OpenAPI docs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Security
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.conversation.store import ConversationState, ConversationStore, Message
from bot.settings import Settings
from bot.turns.presentation import strip_source_lines, text_with_sources
from connectors.common import (
    CLIENT_MESSAGE_ID_DOC,
    CLIENT_MESSAGE_ID_SCHEMA,
    MAX_PAYLOAD_CHARS,
    CitizenInputError,
    ClientMessageIdError,
    check_citizen_input,
    check_client_message_id,
    client_ip,
    decode_json,
    pseudonymous_id,
    read_body,
)
from connectors.openapi import CITIZEN_TEXT, TURN_IN_PROGRESS
from connectors.public import public_message
from connectors.ratelimit import RateLimiter
from knowledge.models import Source
from wording import texts

log = logging.getLogger(__name__)

PartnerConversationId = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="The partner's own id for the conversation (1-64 of A-Z a-z 0-9 _ . : -). "
        "Ids are private to each API key.",
    ),
]
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="Partner API key (issued with `buergerbot apikey NAME`)."
)


class PartnerMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # maxLength is the configured limit (connectors.openapi.document_text_limit); the route checks it
    text: str = Field(
        min_length=1, description="What the citizen wrote (or the title).", json_schema_extra={CITIZEN_TEXT: True}
    )
    payload: str | None = Field(
        default=None, max_length=MAX_PAYLOAD_CHARS, description="Payload of a button the citizen chose."
    )
    client_message_id: str | None = Field(
        default=None, description=CLIENT_MESSAGE_ID_DOC, json_schema_extra=CLIENT_MESSAGE_ID_SCHEMA
    )


class PartnerButton(BaseModel):
    title: str = Field(description="Show this to the citizen.")
    payload: str = Field(description="Send this back as `payload` (with the title as `text`) when chosen.")


class PartnerMessage(BaseModel):
    id: str
    role: str = Field(description="citizen, bot, staff or system")
    text: str = Field(description="The message; an answer's sources are not repeated in it (see `sources`).")
    display_text: str = Field(
        default="",
        description="For a text-only display: the text followed by the sources with their date, each link once "
        "(what Telegram, WhatsApp and Matrix show). Show either this or `text` with `sources`.",
    )
    buttons: list[PartnerButton] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list, description="Official sources of an answer.")
    ts: float = Field(description="Unix time")
    seq: int = Field(description="Order in the conversation; poll with `?after=` the last one you saw.")


class PartnerConversation(BaseModel):
    conversation_id: str = Field(description="The partner's own id.")
    state: ConversationState = Field(description="bot, queued (waiting for staff), staff or closed")
    messages: list[PartnerMessage]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Invalid UTF-8 or JSON, a text the citizen-input check refuses (control characters, "
        "empty, longer than BUERGERBOT_MAX_QUESTION_CHARS) or an invalid `client_message_id`; `detail` says why "
        "in German"
    },
    401: {"description": "Missing or invalid API key"},
    413: {"description": "Body larger than BUERGERBOT_MAX_WEBHOOK_BODY_BYTES"},
    429: {"description": "Too many requests for this API key; see Retry-After"},
    503: {"description": "No partner keys configured"},
}

router = APIRouter(prefix="/api/v1/partner", tags=["partner"], responses=ERROR_RESPONSES)


def partner_name(request: Request, api_key: Annotated[str | None, Security(api_key_header)]) -> str:
    """Authenticate the key (constant time, all hashes compared) and apply the partner's rate limit."""
    settings: Settings = request.app.state.settings
    if not settings.partner_api_keys:
        raise HTTPException(503, texts.PARTNER_API_NOT_CONFIGURED)
    digest = hashlib.sha256(api_key.encode()).hexdigest() if api_key else ""
    matched: str | None = None
    for name, stored in settings.partner_api_keys.items():
        if hmac.compare_digest(digest, stored):
            matched = name
    if matched is None:
        log.warning("partner API: %s key from %s", "invalid" if api_key else "missing", client_ip(request))
        raise HTTPException(401, texts.BAD_API_KEY, headers={"WWW-Authenticate": "X-API-Key"})
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)
    if limiter is not None:
        limiter.enforce(limiter.partner(matched))
    return matched


Partner = Annotated[str, Depends(partner_name)]


def internal_id(store: ConversationStore, partner: str, conversation_id: str) -> str:
    """The partner's id in its own namespace (see module docstring)."""
    return pseudonymous_id(store.redis, f"partner-{partner}", conversation_id)


def _public(message: Message) -> PartnerMessage:
    """Built from the citizens' public model, so partners never see more than the widget does."""
    public = public_message(message)
    return PartnerMessage(
        id=public.id,
        role=public.role,
        text=strip_source_lines(public.text, message.data),
        display_text=text_with_sources(public.text, message.data),
        buttons=[PartnerButton(title=b.title, payload=b.payload) for b in public.buttons],
        sources=public.data.sources,
        ts=public.ts,
        seq=public.seq,
    )


def _checked(data: Any, max_chars: int) -> Any:
    """The body with its text checked and stripped by the check every channel applies (connectors.common),
    and its client message id checked by the one id rule.

    It runs before the model: pydantic refuses a lone surrogate only as "not the expected format" and
    knows nothing of the configured limit. Refusals are 400 with the German reason.
    """
    if not isinstance(data, dict) or "text" not in data:
        return data  # the model names what is missing
    try:
        check_client_message_id(data.get("client_message_id"))
    except ClientMessageIdError as exc:
        raise HTTPException(400, str(exc)) from exc
    try:
        text, payload = check_citizen_input(data["text"], data.get("payload"), max_chars)
    except CitizenInputError as exc:
        raise HTTPException(400, texts.BAD_TEXT if exc.code == "control_chars" else str(exc)) from exc
    return {**data, "text": text, "payload": payload}


@router.post(
    "/conversations/{conversation_id}/messages",
    response_model=PartnerConversation,
    summary="Send a citizen's message and get the assistant's replies",
    responses={409: TURN_IN_PROGRESS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PartnerMessageIn.model_json_schema()}},
        }
    },
)
async def partner_post_message(
    conversation_id: PartnerConversationId, request: Request, partner: Partner
) -> PartnerConversation:
    """Replies come back at once; replies from staff arrive later and are fetched with GET.

    With `client_message_id`, a message sent again (its answer was lost) is not stored or answered a second
    time: the retry gets the first answer. 409 while the first request is still answering it: retry later.
    """
    settings: Settings = request.app.state.settings
    data = decode_json(await read_body(request, settings.max_webhook_body_bytes))
    try:
        body = PartnerMessageIn.model_validate(_checked(data, settings.max_question_chars))
    except ValidationError as exc:
        raise HTTPException(400, texts.BAD_SHAPE) from exc
    text, payload = body.text, body.payload
    store: ConversationStore = request.app.state.store
    internal = internal_id(store, partner, conversation_id)
    replies = await request.app.state.turns.handle(
        internal, text, channel="partner", payload=payload, client_message_id=body.client_message_id
    )
    conversation = store.get_or_create(internal, "partner")
    return PartnerConversation(
        conversation_id=conversation_id, state=conversation.state, messages=[_public(m) for m in replies]
    )


@router.get(
    "/conversations/{conversation_id}",
    response_model=PartnerConversation,
    summary="History of a conversation (poll with after=SEQ for new messages, e.g. from staff)",
    responses={404: {"description": "No such conversation for this API key"}},
)
def partner_get_conversation(
    conversation_id: PartnerConversationId,
    request: Request,
    partner: Partner,
    after: Annotated[int, Query(ge=0, description="Only messages with a higher seq.")] = 0,
) -> PartnerConversation:
    store: ConversationStore = request.app.state.store
    internal = internal_id(store, partner, conversation_id)
    conversation = store.get(internal)
    if conversation is None:
        raise HTTPException(404, texts.CONVERSATION_NOT_FOUND)
    messages = [_public(m) for m in store.history(internal, after_seq=after)]
    return PartnerConversation(conversation_id=conversation_id, state=conversation.state, messages=messages)
