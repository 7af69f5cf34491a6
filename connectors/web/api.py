"""The widget's REST API: post a message, read a conversation's history (replay), ask one question.

The widget uses these when WebSockets are blocked; the socket itself, the widget's files and the demo
page are in `connectors.web.router`, the citizen's handoff routes in `connectors.web.handoff`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bot.conversation.store import ConversationStore
from bot.settings import Settings
from bot.turns.handler import TurnHandler
from connectors.common import (
    CLIENT_MESSAGE_ID_DOC,
    CLIENT_MESSAGE_ID_SCHEMA,
    HARD_MAX_TEXT_CHARS,
    MAX_PAYLOAD_CHARS,
    PAYLOAD_PATTERN,
    TEXT_PATTERN,
    CitizenInputError,
    ClientMessageIdError,
    ConversationId,
    check_citizen_input,
    check_client_message_id,
)
from connectors.openapi import CITIZEN_TEXT, RATE_LIMITED, TURN_IN_PROGRESS
from connectors.public import PublicConversation, PublicMessage, public_conversation, public_message
from connectors.ratelimit import limit_per_conversation_and_ip, limit_per_ip
from knowledge.answering import Answerer
from knowledge.models import Answer
from wording import texts


def _refused(exc: CitizenInputError) -> PydanticCustomError:
    """A refusal as a validation error: its type is the code, its `msg` the German reason (see
    `connectors.common.request_validation_failed`, which words "too long" with the configured limit)."""
    return PydanticCustomError(exc.code, str(exc))


def citizen_input_or_422(
    text: str, payload: str | None, settings: Settings, field: str = "text"
) -> tuple[str, str | None]:
    """The shared check with the installation's limit (`Settings.max_question_chars`); a 422 like the model's."""
    try:
        return check_citizen_input(text, payload, settings.max_question_chars)
    except CitizenInputError as exc:
        raise RequestValidationError(
            [{"type": exc.code, "loc": ("body", field), "msg": str(exc), "input": None}]
        ) from None


class QuestionIn(BaseModel):
    question: str = Field(
        min_length=1,
        description="The citizen's question: no control characters except tab and line breaks, not only whitespace.",
        json_schema_extra={"pattern": TEXT_PATTERN, CITIZEN_TEXT: True},
    )

    @model_validator(mode="before")
    @classmethod
    def _citizen_input(cls, data: Any) -> Any:
        """The shared check before pydantic's own: that one refuses a lone surrogate in English."""
        if isinstance(data, dict) and "question" in data:
            try:
                question, _ = check_citizen_input(data["question"], None, HARD_MAX_TEXT_CHARS)
            except CitizenInputError as exc:
                raise _refused(exc) from None
            return {**data, "question": question}
        return data


class MessageIn(BaseModel):
    # The patterns document the shared check for clients (and schemathesis); the check itself runs below,
    # so a refusal carries its German reason rather than a regular expression. `maxLength` is the
    # configured limit, written into the schema by `connectors.openapi.document_text_limit`.
    text: str = Field(
        min_length=1,
        description="What the citizen typed or the button title: no control characters except tab and line "
        "breaks, not only whitespace.",
        json_schema_extra={"pattern": TEXT_PATTERN, CITIZEN_TEXT: True},
    )
    payload: str | None = Field(
        default=None,
        max_length=MAX_PAYLOAD_CHARS,
        description="Button payload, if a button was used.",
        json_schema_extra={"pattern": PAYLOAD_PATTERN},
    )
    client_message_id: str | None = Field(
        default=None, description=CLIENT_MESSAGE_ID_DOC, json_schema_extra=CLIENT_MESSAGE_ID_SCHEMA
    )

    @field_validator("client_message_id", mode="before")
    @classmethod
    def _client_message_id(cls, value: Any) -> str | None:
        """The one id rule (`bot.conversation.ids`), refused with its German reason (type `invalid_message_id`)."""
        try:
            return check_client_message_id(value)
        except ClientMessageIdError as exc:
            raise PydanticCustomError(exc.code, str(exc)) from None

    @model_validator(mode="before")
    @classmethod
    def _citizen_input(cls, data: Any) -> Any:
        """The check every channel applies (connectors.common), before pydantic's own string check: that
        one refuses a lone surrogate ("\\ud800" in JSON) in English as "string_unicode", while the widget
        shows its own words for our codes (`type`). The model cannot know the configured limit; the route
        checks again with the settings."""
        if isinstance(data, dict) and "text" in data:
            try:
                text, payload = check_citizen_input(data["text"], data.get("payload"), HARD_MAX_TEXT_CHARS)
            except CitizenInputError as exc:
                raise _refused(exc) from None
            return {**data, "text": text, "payload": payload}
        return data


class MessagesOut(BaseModel):
    """Public models only: the internal record holds staff logins, teams and callback contact data."""

    conversation: PublicConversation
    messages: list[PublicMessage]


questions = APIRouter(prefix="/api", tags=["questions"])
conversations = APIRouter(prefix="/api/conversations", tags=["conversations"])


def get_answerer(request: Request) -> Answerer:
    return request.app.state.answerer


def get_turns(request: Request) -> TurnHandler:
    return request.app.state.turns


def get_store(request: Request) -> ConversationStore:
    return request.app.state.store


@questions.post("/ask", response_model=Answer, dependencies=[Depends(limit_per_ip)], responses={429: RATE_LIMITED})
async def ask(request: Request, body: QuestionIn, answerer: Annotated[Answerer, Depends(get_answerer)]) -> Answer:
    question, _ = citizen_input_or_422(body.question, None, request.app.state.settings, "question")
    return await run_in_threadpool(answerer.answer, question)


@conversations.post(
    "/{conversation_id}/messages",
    response_model=MessagesOut,
    dependencies=[Depends(limit_per_conversation_and_ip)],
    responses={409: TURN_IN_PROGRESS, 429: RATE_LIMITED},
)
async def post_message(
    conversation_id: ConversationId,
    body: MessageIn,
    turns: Annotated[TurnHandler, Depends(get_turns)],
) -> MessagesOut:
    """The bot's replies to one message of the citizen. With `client_message_id`, sending the message again
    (after a lost answer) stores nothing new and returns the first answer; 409 while that is still being made."""
    text, payload = citizen_input_or_422(body.text, body.payload, turns.settings)
    replies = await turns.handle(
        conversation_id, text, channel="rest", payload=payload, client_message_id=body.client_message_id
    )
    conversation = turns.store.get_or_create(conversation_id)
    return MessagesOut(conversation=public_conversation(conversation), messages=[public_message(m) for m in replies])


@conversations.get(
    "/{conversation_id}", response_model=MessagesOut, responses={404: {"description": "No such conversation."}}
)
def get_conversation(
    conversation_id: ConversationId, store: Annotated[ConversationStore, Depends(get_store)], after: int = 0
) -> MessagesOut:
    conversation = store.get(conversation_id)
    if conversation is None:
        raise HTTPException(404, texts.CONVERSATION_NOT_FOUND)
    messages = [public_message(m) for m in store.history(conversation_id, after_seq=after)]
    return MessagesOut(conversation=public_conversation(conversation), messages=messages)
