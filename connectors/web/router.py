"""The citizen web channel: a demo city page, the widget's static files and its live WebSocket.

Why it looks like this:
- The widget is plain JS/CSS served from `static/` (no build step, no third-party requests), so a
  city can embed it on any page with one `<script src=".../widget/widget.js" defer>` tag.
- No cookies: the widget keeps a random conversation id in `sessionStorage` (gone when the tab
  closes). The id is the only secret that binds a browser tab to a conversation.
- Replies are not sent from the request that caused them. The socket relays the conversation's
  Redis pub/sub channel instead, so messages stored by *any* gateway process (another worker,
  later a member of staff in the console) reach the citizen the same way. On (re)connect the
  client says which `seq` it saw last and gets only what it missed (replay without duplicates).
- Each open socket holds one Redis pub/sub connection: simple and correct (a broken Redis link
  closes the socket, and the client reconnects and replays). A shared per-process subscriber
  would be the next step for many hundreds of simultaneous chats per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from redis.exceptions import RedisError

from bot.conversation.ids import CONVERSATION_ID_PATTERN, is_conversation_id
from bot.conversation.store import ConversationState, ConversationStore, channel_name
from bot.handoff.teams import load_teams
from bot.origins import origin_allowed
from bot.settings import Settings
from bot.turns.handler import TurnInProgressError
from connectors.common import (
    MAX_TEXT_CHARS,
    CitizenInputError,
    ClientMessageIdError,
    check_citizen_input,
    check_client_message_id,
    citizen_text,
    live_redis,
    script_response,
    script_with,
)
from connectors.public import public_message, public_message_json
from connectors.web.demo import render_demo_page
from connectors.web.handoff import citizen_status
from wording import texts

log = logging.getLogger(__name__)

router = APIRouter(tags=["web"])
STATIC_DIR = Path(__file__).resolve().parent / "static"
FRAME_OVERHEAD_CHARS = 1000  # a frame may be 4 x the text limit plus this (JSON escapes); bigger is refused unread
MAX_FRAME_CHARS = 4 * MAX_TEXT_CHARS + FRAME_OVERHEAD_CHARS  # with the default limit
PUBSUB_POLL_S = 25.0  # how long we wait for a live message before checking the Redis link with PING

# Error frames carry a code (the widget translates known codes) and a friendly German text
# (`wording.texts.WIDGET_ERRORS`).
ERRORS: dict[str, str] = {**texts.WIDGET_ERRORS, "too_long": texts.too_long(MAX_TEXT_CHARS)}


class FrameError(ValueError):
    """A client frame we refuse; `code` selects the friendly message from `ERRORS`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_frame(raw: str | None, max_chars: int = MAX_TEXT_CHARS) -> tuple[str, str | None, str | None]:
    """Validate one client frame `{"text": str, "payload": str|null, "client_message_id": str|null}` and
    return (text, payload, client_message_id).

    `max_chars` is the installation's limit (`Settings.max_question_chars`), the same on every channel.
    Raises FrameError instead of closing the socket: a citizen who pasted something odd should get
    a polite hint and keep their conversation.
    """
    frame = _frame_object(raw, max_chars)
    try:  # the same checks as every other channel (connectors.common)
        client_message_id = check_client_message_id(frame.get("client_message_id"))
        text, payload = check_citizen_input(frame.get("text"), frame.get("payload"), max_chars)
    except (CitizenInputError, ClientMessageIdError) as exc:
        raise FrameError(exc.code) from exc
    return text, payload, client_message_id


def _frame_object(raw: str | None, max_chars: int) -> dict[str, Any]:
    if raw is None:
        raise FrameError("invalid")  # binary frames
    if len(raw) > 4 * max_chars + FRAME_OVERHEAD_CHARS:
        raise FrameError("too_long")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise FrameError("invalid") from exc
    if not isinstance(frame, dict):
        raise FrameError("invalid")
    return frame


def frame_message_id(raw: str | None, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    """The client message id of a frame if it has a valid one (even if the rest is refused), else None:
    the widget matches error and typing frames to the message it sent by this id."""
    try:
        return check_client_message_id(_frame_object(raw, max_chars).get("client_message_id"))
    except (FrameError, ClientMessageIdError):
        return None


def error_frame(code: str, max_chars: int = MAX_TEXT_CHARS, client_message_id: str | None = None) -> dict[str, str]:
    """The widget's error frame; "too long" names the configured limit, as on every other channel.

    It names the message it is about (`client_message_id`) when the frame carried a valid id."""
    message = citizen_text(code, max_chars) if code == "too_long" else ERRORS[code]
    frame = {"kind": "error", "code": code, "message": message}
    if client_message_id is not None:
        frame["client_message_id"] = client_message_id
    return frame


def typing_frame(active: bool, client_message_id: str | None) -> dict[str, Any]:
    """The typing indicator; when it goes off for a message with an id, that message has been answered."""
    frame: dict[str, Any] = {"kind": "typing", "active": active}
    if client_message_id is not None:
        frame["client_message_id"] = client_message_id
    return frame


# --- demo page and static files -------------------------------------------------------------------

_STATIC_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def demo_page(request: Request) -> HTMLResponse:
    """A city service page with the widget embedded the way a city would do it: one script tag."""
    # The strict Content-Security-Policy (no inline script or style) comes from bot.gateway.security for every response.
    state = request.app.state
    settings: Settings = state.settings
    handoff = getattr(state, "handoff", None)  # not there while the index is rebuilt at start-up
    teams = handoff.teams if handoff is not None else load_teams(settings.teams_file)
    answerer = getattr(state, "answerer", None)
    services = answerer.index.services.values() if answerer is not None else []
    return HTMLResponse(render_demo_page(settings.city_name, teams, services))


@router.get("/demo.css", include_in_schema=False)
def demo_css() -> FileResponse:
    return FileResponse(STATIC_DIR / "demo.css", media_type="text/css; charset=utf-8", headers=_STATIC_HEADERS)


WIDGET_CONFIG_PLACEHOLDER = "__BUERGERBOT_WIDGET_CONFIG__"
WIDGET_TEXTS_PLACEHOLDER = "__BUERGERBOT_WIDGET_TEXTS__"


def widget_config(settings: Settings) -> dict[str, Any]:
    """What the widget must know of this installation: the same limit and id rule the server applies."""
    return {"maxChars": settings.max_question_chars, "conversationId": CONVERSATION_ID_PATTERN}


def render_widget_js(settings: Settings) -> bytes:
    """widget.js with this installation's configuration and the widget's texts (`wording.texts`) written in.

    Why written in rather than fetched: the widget needs the limit before the citizen types and its
    texts before it shows its button (`connectors.common.script_with`).
    """
    return script_with(
        STATIC_DIR / "widget.js",
        {
            WIDGET_CONFIG_PLACEHOLDER: widget_config(settings),
            WIDGET_TEXTS_PLACEHOLDER: texts.widget_texts(settings.max_question_chars),
        },
    )


@router.get("/widget/widget.js", include_in_schema=False)
def widget_js(request: Request) -> Response:
    # no-cache + ETag: cities get fixes (a changed limit or text) at once, unchanged files cost a 304
    return script_response(request, render_widget_js(request.app.state.settings))


@router.get("/widget/widget.css", include_in_schema=False)
def widget_css() -> FileResponse:
    return FileResponse(STATIC_DIR / "widget.css", media_type="text/css; charset=utf-8", headers=_STATIC_HEADERS)


# --- live socket ----------------------------------------------------------------------------------


class _Socket:
    """Serialises sends: the replay, the live relay and the receive loop all write to one socket."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.lock = asyncio.Lock()
        self.relayed = asyncio.Condition()
        self.last_seq = 0

    async def send(self, frame: dict[str, Any]) -> None:
        async with self.lock:
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def mark_relayed(self, seq: int) -> None:
        async with self.relayed:
            self.last_seq = max(self.last_seq, seq)
            self.relayed.notify_all()

    async def wait_relayed(self, seq: int, timeout_s: float = 5.0) -> None:
        """Let the replies reach the client before "typing off", so the indicator never blinks out early."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self.relayed:
                await self.relayed.wait_for(lambda: self.last_seq >= seq)


_ISO_MINUTE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:[+-]\d{2}:\d{2}|Z)?$")


def state_frame(frame: dict[str, Any]) -> dict[str, Any]:
    """What the widget may show of a state change: the state, the queue position, the staff member's name,
    and while queued whether someone can answer now (see `connectors.web.handoff.CitizenStatus`)."""
    out: dict[str, Any] = {"kind": "state", "state": frame.get("state")}
    position = frame.get("position")
    if isinstance(position, int) and not isinstance(position, bool) and position > 0:
        out["position"] = position
    staff = frame.get("staff")
    if isinstance(staff, str) and staff and frame.get("state") == "staff":
        out["staff"] = staff[:80]
    if frame.get("state") == "queued":
        for flag in ("office_open", "staff_online", "callback"):
            if isinstance(frame.get(flag), bool):
                out[flag] = frame[flag]
        if isinstance(frame.get("next_opening"), str):
            out["next_opening"] = frame["next_opening"][:80]
        if isinstance(frame.get("next_opening_at"), str) and _ISO_MINUTE.match(frame["next_opening_at"]):
            out["next_opening_at"] = frame["next_opening_at"]
    return out


async def _with_status(websocket: WebSocket, conversation_id: str, frame: dict[str, Any]) -> dict[str, Any]:
    """A "queued" frame completed with the citizen's current status, computed when it is sent.

    Whoever publishes "queued" (handoff request, callback, transfer, a colleague served first) need not
    know about office hours; and the answer is fresh, because the team's hours move on by themselves.
    """
    if frame.get("state") != "queued":
        return frame
    handoff = websocket.app.state.handoff
    conversation = await run_in_threadpool(handoff.store.get, conversation_id)
    if conversation is None or conversation.state is not ConversationState.QUEUED:
        return frame
    status = await run_in_threadpool(citizen_status, handoff, conversation)
    return {**frame, **status.model_dump()}


async def _relay(sock: _Socket, pubsub: aioredis.client.PubSub, last_seq: int, conversation_id: str) -> None:
    """Forward live frames; messages at or below `last_seq` were already replayed and are skipped."""
    while True:
        # Subscribe confirmations and PONGs are *not* ignored here: with ignore_subscribe_messages=True they
        # come back as None too, and "None → PING → None" would spin the event loop without ever waiting.
        item = await pubsub.get_message(timeout=PUBSUB_POLL_S)
        if item is None:  # really nothing for PUBSUB_POLL_S seconds
            await pubsub.ping()  # raises if the Redis link is gone, so the client reconnects and replays
            continue
        if item.get("type") != "message":
            continue
        try:
            frame = json.loads(item["data"])
        except (TypeError, ValueError):
            continue
        kind = frame.get("kind") if isinstance(frame, dict) else None
        if kind == "message":
            message = public_message_json(frame.get("message"))  # internal fields stay on the server
            if message is None:
                continue
            seq = message["seq"]
            if seq and seq <= last_seq:
                continue
            last_seq = max(last_seq, seq)
            await sock.send({"kind": "message", "message": message})
            await sock.mark_relayed(seq)
        elif kind == "state":
            await sock.send(state_frame(await _with_status(sock.websocket, conversation_id, frame)))


async def _receive(sock: _Socket, conversation_id: str) -> None:
    """Hand each valid citizen frame to the turn handler; replies arrive through the relay.

    Frames and answers name the message they are about by its client message id (the widget's own),
    so the widget knows which of its messages was answered, refused or must be sent again.
    """
    websocket = sock.websocket
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        max_chars = websocket.app.state.settings.max_question_chars
        raw = message.get("text")
        message_id = frame_message_id(raw, max_chars)
        limiter = getattr(websocket.app.state, "limiter", None)  # connectors.ratelimit, shared via Redis
        if limiter is not None:
            peer = websocket.client.host if websocket.client else "unknown"
            limits = (limiter.conversation(conversation_id), limiter.ip(peer))
            if await run_in_threadpool(limiter.wait_s, *limits) > 0:
                await sock.send(error_frame("rate_limited", client_message_id=message_id))
                continue
        try:
            text, payload, client_message_id = parse_frame(raw, max_chars)
        except FrameError as exc:
            await sock.send(error_frame(exc.code, max_chars, message_id))
            continue
        await sock.send(typing_frame(True, client_message_id))
        try:
            replies = await websocket.app.state.turns.handle(
                conversation_id, text, channel="web", payload=payload, client_message_id=client_message_id
            )
            if replies:
                await sock.wait_relayed(max(m.seq for m in replies))
        except TurnInProgressError:  # the same message, sent again while another request answers it
            await sock.send(error_frame("in_progress", client_message_id=client_message_id))
        except Exception:
            log.exception("web message failed for %s", conversation_id)
            await sock.send(error_frame("failed", client_message_id=client_message_id))
        finally:
            await sock.send(typing_frame(False, client_message_id))


@router.websocket("/ws/conversations/{conversation_id}")
async def conversation_socket(websocket: WebSocket, conversation_id: str, after: int = 0) -> None:
    """Replay history after `after`, then relay live frames and accept citizen messages."""
    if not is_conversation_id(conversation_id):
        await websocket.close(code=1008, reason="invalid conversation id")
        return
    settings: Settings = websocket.app.state.settings
    if not origin_allowed(websocket.scope, settings.allowed_origins, settings.public_base_url):
        # browsers apply no CORS to WebSockets: a page of another site must not open a citizen's chat
        log.info("websocket refused for origin %s", websocket.headers.get("origin"))
        await websocket.close(code=1008, reason="origin not allowed")
        return
    await websocket.accept()
    sock = _Socket(websocket)
    store: ConversationStore = websocket.app.state.store
    pubsub = live_redis(websocket.app).pubsub()
    tasks: set[asyncio.Task[None]] = set()
    try:
        # subscribe before reading the history: nothing stored in between can fall through the gap
        await pubsub.subscribe(channel_name(conversation_id))
        last_seq = max(after, 0)
        for stored in await run_in_threadpool(store.history, conversation_id, last_seq):
            await sock.send(
                {"kind": "message", "message": public_message(stored).model_dump(mode="json", exclude_none=True)}
            )
            last_seq = max(last_seq, stored.seq)
        conversation = await run_in_threadpool(store.get, conversation_id)
        if conversation is not None:
            position = await run_in_threadpool(websocket.app.state.handoff.position, conversation_id)
            current = {"state": conversation.state.value, "position": position, "staff": conversation.assignee_name}
            await sock.send(state_frame(await _with_status(websocket, conversation_id, current)))
        await sock.mark_relayed(last_seq)
        await sock.send({"kind": "ready", "seq": last_seq})
        tasks = {
            asyncio.create_task(_relay(sock, pubsub, last_seq, conversation_id)),
            asyncio.create_task(_receive(sock, conversation_id)),
        }
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # re-raise what ended the session, handled below
    except RedisError as exc:
        log.warning("live channel lost for %s: %s", conversation_id, exc)
        with contextlib.suppress(Exception):
            await sock.send(error_frame("unavailable"))
            await websocket.close(code=1011)  # the widget reconnects and replays what it missed
    except (WebSocketDisconnect, OSError, RuntimeError) as exc:  # the client went away mid-send
        log.debug("socket for %s ended: %s", conversation_id, exc)
    finally:
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:  # even when the server cancels us mid-teardown, the pub/sub connection is released
            with contextlib.suppress(Exception):
                await pubsub.aclose()
