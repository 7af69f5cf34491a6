"""What every partner and messenger connector shares: careful input handling and small Redis records.

Why these live in one place:
- Every webhook is untrusted input from the internet. Bodies are read with a hard size limit (a
  declared Content-Length over the limit is refused before anything is read), then decoded strictly:
  invalid UTF-8, invalid or absurdly nested JSON and text with control characters are clean 4xx
  answers, never a 5xx and never a half-processed message.
- What a citizen writes passes one check, `check_citizen_input`, on every channel (widget REST and
  WebSocket, partner REST, `/api/ask`, Telegram, WhatsApp, Matrix): type, length (one limit,
  `Settings.max_question_chars`, passed in by every caller), control characters and lone
  surrogates. The rule itself is `knowledge.input.check_input`, which the answerer applies too; this
  module only words its refusals for citizens. One check at the door keeps the channels consistent
  and every later layer free of text that cannot be encoded.
- Messenger addresses (Telegram chat ids, WhatsApp phone numbers, Matrix rooms) never become
  conversation ids. The id is a keyed hash (HMAC with a per-installation key kept in Redis), so it
  reveals nothing and cannot be computed by someone who knows a phone number; the public
  conversation API treats ids as secrets, exactly like the widget's random ids. The address itself
  sits in a separate Redis key with the conversation's lifetime, for sending replies later.
- "Exactly once" across several gateway processes is a Redis `SET NX` claim with a TTL
  (`bot.conversation.claims`, shared with the turn handler's client message ids): used for webhook
  replays (update/message/event ids) and for outbound delivery (`bb:delivered:{message_id}`).
- Buttons travel through messengers as short references (`o:<token>:<index>`, or typed numbers on
  channels without buttons) that point at the options we stored, because Telegram allows only 64
  bytes of callback data and Rasa payloads are longer. A citizen can thus only choose options we
  actually offered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import pathlib
import re
import secrets
from typing import Annotated, Any, Protocol

import redis
import redis.asyncio as aioredis
from fastapi import FastAPI, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from bot.conversation.claims import claim as claim  # re-exported: the messengers and the outbox use it
from bot.conversation.ids import CLIENT_MESSAGE_ID_PATTERN, CONVERSATION_ID_PATTERN, is_client_message_id
from bot.conversation.store import PREFIX, Button, Message
from bot.turns.presentation import text_with_sources
from knowledge.input import (
    DEFAULT_MAX_CHARS,
    HARD_MAX_CHARS,
    InputRefusedError,
    check_input,
    has_bad_chars,
    refusal,
)
from knowledge.input import (
    MAX_PAYLOAD_CHARS as MAX_PAYLOAD_CHARS,  # re-exported: the channels' models use it
)
from wording import texts

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = DEFAULT_MAX_CHARS  # the default of Settings.max_question_chars; callers pass the configured limit
HARD_MAX_TEXT_CHARS = HARD_MAX_CHARS  # no configuration allows more (Settings.max_question_chars has the same bound)
DELIVERED_TTL_S = 24 * 3600
ID_KEY = f"{PREFIX}:channel-id-key"
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
_OPTION_REF = re.compile(r"^o:([0-9a-f]{8}):(\d{1,2})$")

# Friendly German replies for messenger citizens (they never see HTTP status codes); wording in
# `wording.texts`. "too_long" names the default limit: `citizen_text("too_long", max_chars)`.
TEXTS: dict[str, str] = {**texts.MESSENGER_REFUSALS, "too_long": texts.too_long(MAX_TEXT_CHARS)}
TRANSIENT = "transient"  # in Message.data: a notice outside the history; it keeps the offered options

# A conversation id in a widget URL (`bot.conversation.ids`): the client chose it, the rule is the bot's.
ConversationId = Annotated[str, Path(pattern=CONVERSATION_ID_PATTERN, description="Chosen by the client.")]


class DeliveryError(RuntimeError):
    """A messenger API refused or did not answer; the message must not be marked as a success."""


class ChannelSender(Protocol):
    """Sends one stored message to the citizen on a messenger (address looked up by conversation id)."""

    channel: str

    async def send(self, message: Message) -> None: ...


# --- request bodies ---------------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most `limit` bytes; a bigger body is refused with 413 without buffering the rest."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, texts.BAD_SHAPE)
        if int(declared) > limit:
            raise HTTPException(413, texts.BODY_TOO_LARGE)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, texts.BODY_TOO_LARGE)
    return bytes(body)


def decode_json(body: bytes) -> Any:
    """Strict UTF-8 + JSON; deep nesting (RecursionError) is a client error too, not a crash."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, texts.BAD_ENCODING) from exc
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise HTTPException(400, texts.BAD_JSON) from exc


# --- citizen input: the one check every channel applies ---------------------------------------------


# The check below as JSON Schema patterns, for API documentation: no C0/C1 control characters except
# tab, line feed and carriage return, and (for text) at least one character that is not whitespace.
_ALLOWED = r"[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
_VISIBLE = r"[^\s\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"
TEXT_PATTERN = rf"^{_ALLOWED}*{_VISIBLE}{_ALLOWED}*$"
PAYLOAD_PATTERN = rf"^{_ALLOWED}*$"


def citizen_text(code: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """The friendly German reply for a refused message, naming the configured length limit."""
    if code == "too_long":
        return texts.too_long(max_chars)
    return TEXTS[code]


class CitizenInputError(ValueError):
    """A citizen's message that is not processed; `code` names the friendly reply (a key of TEXTS)."""

    def __init__(self, code: str, max_chars: int = MAX_TEXT_CHARS) -> None:
        super().__init__(citizen_text(code, max_chars))
        self.code = code


def check_citizen_input(
    text: object, payload: object = None, max_chars: int = MAX_TEXT_CHARS
) -> tuple[str, str | None]:
    """The text (stripped) and payload of a citizen's message, or `CitizenInputError` saying why not.

    `max_chars` is the installation's limit (`Settings.max_question_chars`): every channel passes it,
    so a question is never accepted on one channel and refused on another. The rule is
    `knowledge.input.check_input` (the answerer's too); here the refusal gets its German reply.
    """
    try:
        return check_input(text, payload, max_chars)
    except InputRefusedError as exc:
        raise CitizenInputError(exc.code, max_chars) from None


# --- client message ids: the same message sent again is answered once (bot.conversation.receipts) -------

CLIENT_MESSAGE_ID_DOC = (
    "Optional: the client's own id of this message (8-64 of A-Z a-z 0-9 _ -), e.g. a random UUID, new for "
    "every message. Send the same id again when you retry the message (no answer, a timeout, 409 or 503): "
    "it is answered and stored once, and the retry gets the first answer (kept for 24 hours). Without an id "
    "a retried message is answered and stored again."
)
CLIENT_MESSAGE_ID_SCHEMA: dict[str, Any] = {"pattern": CLIENT_MESSAGE_ID_PATTERN, "minLength": 8, "maxLength": 64}


class ClientMessageIdError(ValueError):
    """A client message id that breaks the rule of `bot.conversation.ids`; the message says so in German."""

    code = "invalid_message_id"

    def __init__(self) -> None:
        super().__init__(texts.INVALID_CLIENT_MESSAGE_ID)


def check_client_message_id(value: object) -> str | None:
    """The client message id of a citizen's message: None when the client sent none, the id when it
    follows the one rule (`bot.conversation.ids`), `ClientMessageIdError` otherwise (every channel)."""
    if value is None:
        return None
    if not is_client_message_id(value):
        raise ClientMessageIdError()
    assert isinstance(value, str)
    return value


def text_problem(text: str, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """Why a citizen's text cannot be processed (a key of TEXTS), or None when it is fine."""
    return refusal(text, max_chars)


def usable_identifier(value: str, max_chars: int = 256) -> bool:
    """Whether an id a messenger sent (sender, message or event id) can be hashed, logged and stored.

    Ids are not citizen text, but they reach Redis keys and logs the same way; one with a lone
    surrogate would fail there with a 500 (and the messenger would retry it for days).
    """
    return 0 < len(value) <= max_chars and not has_bad_chars(value)


def _printable(value: object, limit: int = 200) -> object:
    """A value that JSON can always encode as UTF-8: lone surrogates become visible escapes."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    text = str(value)[:limit]
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


async def request_validation_failed(request: Request, exc: Exception) -> JSONResponse:
    """422 like FastAPI's own answer, but without echoing the input back.

    FastAPI's default handler repeats the offending input in the response. For a string with a lone
    surrogate (valid JSON: `"\\ud800"`) that echo cannot be encoded, and the handler itself failed
    with a 500. Echoing a citizen's text back is needless anyway (it may hold personal data), so the
    answer names the field and the problem only; `type`, `loc` and `msg` keep FastAPI's schema.
    """
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    settings = getattr(request.app.state, "settings", None)
    max_chars = getattr(settings, "max_question_chars", MAX_TEXT_CHARS)

    def message(error: dict[str, Any]) -> object:
        # a refused citizen text names the installation's limit, whichever layer refused it
        return citizen_text("too_long", max_chars) if error.get("type") == "too_long" else error.get("msg", "")

    detail = [
        {
            "type": _printable(error.get("type", "value_error")),
            "loc": [_printable(part) for part in error.get("loc", ())][:10],
            "msg": _printable(message(error)),
        }
        for error in errors[:20]
    ]
    return JSONResponse(status_code=422, content={"detail": detail})


def constant_time_equal(given: str | None, expected: str) -> bool:
    """Compare secrets without leaking their length of common prefix through timing."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


# --- ids, addresses and claims ----------------------------------------------------------------------


def _id_key(client: redis.Redis) -> bytes:
    key = client.get(ID_KEY)
    if key is None:
        client.set(ID_KEY, secrets.token_hex(32), nx=True)  # first process wins; all share it
        key = client.get(ID_KEY)
    return str(key).encode()


def pseudonymous_id(client: redis.Redis, prefix: str, address: str) -> str:
    """A stable conversation id for a messenger address that reveals nothing about it."""
    digest = hmac.new(_id_key(client), f"{prefix}:{address}".encode(), hashlib.sha256).hexdigest()
    return f"{prefix}-{digest[:32]}"


def address_key(conversation_id: str) -> str:
    return f"{PREFIX}:addr:{conversation_id}"


def save_address(client: redis.Redis, conversation_id: str, address: dict[str, Any], ttl_s: int) -> None:
    client.set(address_key(conversation_id), json.dumps(address), ex=ttl_s)


def load_address(client: redis.Redis, conversation_id: str) -> dict[str, Any] | None:
    raw = client.get(address_key(conversation_id))
    return json.loads(raw) if raw else None


def delivered_key(message_id: str) -> str:
    return f"{PREFIX}:delivered:{message_id}"


# --- options (buttons) --------------------------------------------------------------------------------


def _options_key(conversation_id: str, token: str) -> str:
    return f"{PREFIX}:opts:{conversation_id}:{token}"


def remember_options(
    client: redis.Redis, conversation_id: str, buttons: list[Button], ttl_s: int, numbered: bool = False
) -> str:
    """Store offered buttons; returns the token that button references carry.

    `numbered`: the options were shown as a numbered list, so a typed "2" picks the second one.
    """
    token = secrets.token_hex(4)
    raw = json.dumps([b.model_dump() for b in buttons])
    pipe = client.pipeline()
    pipe.set(_options_key(conversation_id, token), raw, ex=ttl_s)
    if numbered:
        pipe.set(_options_key(conversation_id, "last"), raw, ex=ttl_s)
    pipe.execute()
    return token


def forget_numbered_options(client: redis.Redis, message: Message) -> None:
    """A newer message without a numbered list: "1" must no longer pick an older option.

    Transient notices ("only text, please") do not count: the citizen may still answer the list.
    """
    if not message.data.get(TRANSIENT):
        client.delete(_options_key(message.conversation_id, "last"))


def _pick(raw: str | bytes | None, index: int) -> Button | None:
    if not raw:
        return None
    buttons = json.loads(raw)
    if 0 <= index < len(buttons):
        return Button.model_validate(buttons[index])
    return None


def option_ref(token: str, index: int) -> str:
    return f"o:{token}:{index}"


def resolve_option_ref(client: redis.Redis, conversation_id: str, ref: str) -> Button | None:
    """The button behind a reference we created; None for expired or foreign references."""
    match = _OPTION_REF.fullmatch(ref)
    if not match:
        return None
    return _pick(client.get(_options_key(conversation_id, match.group(1))), int(match.group(2)))


def resolve_number(client: redis.Redis, conversation_id: str, text: str) -> Button | None:
    """A typed "2" after a numbered list of options means the second option."""
    match = _NUMBER.fullmatch(text)
    if not match:
        return None
    return _pick(client.get(_options_key(conversation_id, "last")), int(match.group(1)) - 1)


def numbered_text(text: str, buttons: list[Button]) -> str:
    """Options as a numbered list under the text, for channels without (enough) buttons."""
    lines = [f"{i}. {b.title}" for i, b in enumerate(buttons, start=1)]
    return f"{text}\n\n" + "\n".join(lines) + f"\n\n{TEXTS['choose_number']}"


def display_text(message: Message) -> str:
    """What the citizen reads on a text-only channel: who speaks (staff and system messages, like the
    widget's labels), the text, and the sources of an answer with their date, each link once."""
    label = texts.ROLE_LABELS.get(message.role)
    text = text_with_sources(message.text, message.data)
    return f"{label}:\n{text}" if label else text


def split_text(text: str, limit: int) -> list[str]:
    """Split long texts at paragraph or line breaks where possible (messenger length limits)."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max(rest.rfind("\n\n", 0, limit), rest.rfind("\n", 0, limit), rest.rfind(" ", 0, limit))
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [p for p in parts if p] or [""]


def client_ip(request: Request) -> str:
    """The peer address (uvicorn rewrites it from X-Forwarded-For for trusted proxies only)."""
    return request.client.host if request.client else "unknown"


LIVE_CONNECTIONS = 10_000  # simultaneous live chats (and console streams) per gateway process


def live_redis(app: FastAPI) -> aioredis.Redis:
    """One asyncio Redis client per app for live streams (widget sockets and console streams share its pool;
    the pool hands each subscription its own connection)."""
    client: aioredis.Redis | None = getattr(app.state, "web_redis", None)
    if client is None:
        # one connection per open chat: the default pool (100) would refuse the 101st citizen
        client = aioredis.Redis.from_url(
            app.state.redis_url, decode_responses=True, socket_connect_timeout=5, max_connections=LIVE_CONNECTIONS
        )
        app.state.web_redis = client
    return client


# --- scripts served with this installation's values (the widget, the console) ---------------------------

SCRIPT_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


def script_with(path: pathlib.Path, values: dict[str, Any]) -> bytes:
    """A static script with JSON values written in for its placeholders (configuration, `wording.texts`).

    Why written in rather than fetched: the script needs them before it shows anything, one request (the
    script tag) stays one request, and the strict CSP is untouched (still a file from our origin, no
    inline code). The file holds only placeholders, so a forgotten substitution fails loudly instead of
    showing a stale copy; each must occur exactly once.
    """
    source = path.read_text(encoding="utf-8")
    for placeholder in values:
        if source.count(placeholder) != 1:
            raise RuntimeError(f"{path.name} must contain {placeholder} exactly once")
    for placeholder, value in values.items():
        source = source.replace(placeholder, json.dumps(value))
    return source.encode("utf-8")


def script_response(request: Request, body: bytes) -> Response:
    """no-cache + ETag: browsers get a changed text or limit at once, an unchanged script costs a 304."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**SCRIPT_HEADERS, "ETag": etag}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)
