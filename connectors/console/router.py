"""The staff takeover console: pages, JSON API and a live event stream (SSE) under /console.

Why SSE: staff need updates pushed (new queue entries, citizen messages) but send little; plain
HTTP POSTs for actions plus one EventSource per open console keep proxies and the code simple,
reconnect by themselves, and resume with `Last-Event-ID` (the message `seq`) without duplicates.
Updates come from Redis pub/sub, so a console on gateway process A sees what a citizen on
process B writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field, field_validator
from redis.exceptions import RedisError

from bot.conversation.ids import CONVERSATION_ID_PATTERN, is_conversation_id
from bot.conversation.store import CONSOLE_CHANNEL, Conversation, Message, channel_name
from bot.handoff.service import LIVE_WINDOW_S, HandoffError, HandoffService, Note, QueueEntry, StaffMember, staff_view
from connectors.common import has_bad_chars, live_redis, script_response, script_with
from connectors.console.auth import (
    COOKIE,
    Accounts,
    AuthError,
    Staff,
    get_accounts,
    require,
    session_info,
)
from knowledge.answering import Answerer
from wording import texts

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 20.0
LIVE_SHOWN = 60  # the console lists the newest running conversations; counts always cover all

pages = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Ungültige Eingabe oder Aktion"},
    401: {"description": "Nicht angemeldet"},
    403: {"description": "Keine Berechtigung oder CSRF-Prüfung fehlgeschlagen"},
    404: {"description": "Unterhaltung nicht gefunden"},
    409: {"description": "Zustand erlaubt die Aktion nicht (z. B. schon übernommen)"},
}
api = APIRouter(prefix="/console/api", tags=["console"], responses=_ERRORS)


def get_handoff(request: Request) -> HandoffService:
    return request.app.state.handoff


Handoff = Annotated[HandoffService, Depends(get_handoff)]
Agent = Annotated[Staff, Depends(require("agent"))]
Supervisor = Annotated[Staff, Depends(require("supervisor"))]
Admin = Annotated[Staff, Depends(require("admin"))]


# --- pages ---------------------------------------------------------------------------------------


@pages.get("")
@pages.get("/")
def console_page(request: Request, accounts: Annotated[Accounts, Depends(get_accounts)]) -> Response:
    if accounts.session(request.cookies.get(COOKIE)) is None:
        return RedirectResponse("/console/login", status_code=302)
    return FileResponse(STATIC_DIR / "console.html", headers={"Cache-Control": "no-store"})


@pages.get("/login")
def login_page() -> FileResponse:
    return FileResponse(STATIC_DIR / "login.html", headers={"Cache-Control": "no-store"})


# The scripts' texts (`wording.texts`), written in when they are served (`connectors.common.script_with`).
SCRIPT_TEXTS: dict[str, tuple[str, Any]] = {
    "console.js": ("__BUERGERBOT_CONSOLE_TEXTS__", texts.CONSOLE_TEXTS),
    "login.js": ("__BUERGERBOT_LOGIN_TEXTS__", texts.LOGIN_TEXTS),
}


@pages.get("/static/{name}")
def static_file(name: str, request: Request) -> Response:
    if name in SCRIPT_TEXTS:
        placeholder, values = SCRIPT_TEXTS[name]
        return script_response(request, script_with(STATIC_DIR / name, {placeholder: values}))
    if name != "console.css":
        raise HTTPException(404, texts.FILE_NOT_FOUND)
    return FileResponse(STATIC_DIR / name, media_type="text/css", headers={"Cache-Control": "no-cache"})


# --- session -------------------------------------------------------------------------------------


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class SessionOut(BaseModel):
    username: str
    display_name: str
    role: str
    teams: list[str]
    csrf: str


@api.post("/login", response_model=SessionOut, responses={401: {}, 429: {}})
def login(
    body: LoginIn, request: Request, response: Response, accounts: Annotated[Accounts, Depends(get_accounts)]
) -> SessionOut:
    ip = request.client.host if request.client else "unknown"
    try:
        token, session, account = accounts.login(body.username.strip().lower(), body.password, ip)
    except AuthError as exc:
        log.warning("console login refused for %r from %s: %s", body.username[:40], ip, exc)
        raise HTTPException(exc.status, str(exc)) from None
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=accounts.settings.console_secure_cookies,
        path="/console",
        max_age=accounts.settings.console_session_ttl_s,
    )
    log.info("console login: %s (%s)", account.username, account.role)
    return SessionOut(**session_info(Staff(account=account, session=session)))


@api.post("/logout", status_code=204)
def logout(
    request: Request, staff: Agent, accounts: Annotated[Accounts, Depends(get_accounts)], handoff: Handoff
) -> Response:
    accounts.logout(request.cookies.get(COOKIE))
    handoff.sign_off(staff.member)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/console")
    return response


@api.get("/me", response_model=SessionOut)
def me(staff: Agent) -> SessionOut:
    return SessionOut(**session_info(staff))


# --- queue and conversations ---------------------------------------------------------------------


class ConversationDetail(BaseModel):
    conversation: Conversation
    messages: list[dict[str, Any]]
    notes: list[Note]
    position: int | None
    unanswered: str | None = None  # the citizen's last message, if nobody replied to it yet


class TextIn(BaseModel):
    text: str = Field(min_length=1, max_length=4000)

    @field_validator("text", mode="before")
    @classmethod
    def _clean(cls, value: object) -> object:
        """Staff words reach citizens: the citizens' character rule (connectors.common), checked before
        pydantic's own string check, which refuses a lone surrogate only in English."""
        if not isinstance(value, str):
            return value  # pydantic names the wrong type
        if has_bad_chars(value):
            raise ValueError(texts.BAD_TEXT)
        value = value.strip()
        if not value:
            raise ValueError(texts.ENTER_TEXT)
        return value


class TransferIn(BaseModel):
    team: str = Field(min_length=2, max_length=40)


class CloseIn(BaseModel):
    resolution: str = Field(min_length=2, max_length=40)


@api.get("/queue", response_model=list[QueueEntry])
def queue(staff: Agent, handoff: Handoff) -> list[QueueEntry]:
    """The queue this staff member works: agents their teams' (and the general team's), leads all."""
    handoff.heartbeat(staff.member)
    return handoff.queue(staff.member)


class LiveOut(BaseModel):
    """Running conversations (see `HandoffService.live`): the true count, the newest few in full."""

    total: int
    by_state: dict[str, int]
    window_min: int
    conversations: list[Conversation]


@api.get("/live", response_model=LiveOut)
def live(staff: Agent, handoff: Handoff, limit: int = Query(default=LIVE_SHOWN, ge=1, le=500)) -> LiveOut:
    running = handoff.live(staff.member)
    return LiveOut(
        total=len(running),
        by_state=_count_states(running),
        window_min=int(LIVE_WINDOW_S // 60),
        conversations=running[:limit],
    )


def _count_states(conversations: list[Conversation]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in conversations:
        counts[item.state] = counts.get(item.state, 0) + 1
    return counts


def _detail(handoff: HandoffService, conversation_id: str, staff: Staff) -> ConversationDetail:
    conversation = handoff.accessible(conversation_id, staff.member)
    return ConversationDetail(
        conversation=conversation,
        messages=[staff_view(m) for m in handoff.store.history(conversation_id)],
        notes=handoff.notes(conversation_id),
        position=handoff.position(conversation_id),
        unanswered=handoff.unanswered(conversation_id),
    )


def _checked(conversation_id: str) -> str:
    if not is_conversation_id(conversation_id):
        raise HTTPException(400, texts.INVALID_CONVERSATION_ID)
    return conversation_id


@api.get("/conversations/{conversation_id}", response_model=ConversationDetail)
def conversation(conversation_id: str, staff: Agent, handoff: Handoff) -> ConversationDetail:
    return _detail(handoff, _checked(conversation_id), staff)


@api.post("/conversations/{conversation_id}/take", response_model=ConversationDetail)
def take(conversation_id: str, staff: Agent, handoff: Handoff) -> ConversationDetail:
    handoff.take(_checked(conversation_id), staff.member)
    return _detail(handoff, conversation_id, staff)


@api.post("/conversations/{conversation_id}/messages", response_model=dict[str, Any])
def reply(conversation_id: str, body: TextIn, staff: Agent, handoff: Handoff) -> dict[str, Any]:
    message = handoff.reply(_checked(conversation_id), staff.member, body.text)
    return staff_view(message)


@api.post("/conversations/{conversation_id}/notes", response_model=Note)
def add_note(conversation_id: str, body: TextIn, staff: Agent, handoff: Handoff) -> Note:
    return handoff.add_note(_checked(conversation_id), staff.member, body.text)


@api.post("/conversations/{conversation_id}/transfer", response_model=Conversation)
def transfer(conversation_id: str, body: TransferIn, staff: Agent, handoff: Handoff) -> Conversation:
    return handoff.transfer(_checked(conversation_id), staff.member, body.team)


@api.post("/conversations/{conversation_id}/handback", response_model=Conversation)
def hand_back(conversation_id: str, staff: Agent, handoff: Handoff) -> Conversation:
    return handoff.hand_back(_checked(conversation_id), staff.member)


@api.post("/conversations/{conversation_id}/close", response_model=Conversation)
def close(conversation_id: str, body: CloseIn, staff: Agent, handoff: Handoff) -> Conversation:
    return handoff.close(_checked(conversation_id), staff.member, body.resolution)


class Suggestion(BaseModel):
    question: str
    text: str
    service_id: str | None
    service_title: str | None
    confidence: float
    sources: list[dict[str, Any]]


@api.get("/conversations/{conversation_id}/suggestions", response_model=list[Suggestion])
async def suggestions(conversation_id: str, request: Request, staff: Agent, handoff: Handoff) -> list[Suggestion]:
    """Knowledge-base answers to the citizen's last question, for staff to check and reuse."""
    handoff.accessible(_checked(conversation_id), staff.member)
    history = handoff.store.history(conversation_id)
    questions = [m.text for m in history if m.role == "citizen" and not m.text.startswith("/")]
    answerer: Answerer = request.app.state.answerer
    found: list[Suggestion] = []
    # "Mit einem Menschen sprechen" is no question to answer; a guess (`Answer.is_guess`) is no suggestion
    for question in reversed(questions[-5:]):
        answer = await run_in_threadpool(answerer.answer, question)
        if answer.abstained or answer.is_guess or any(s.service_id == answer.service_id for s in found):
            continue
        service = answerer.index.services.get(answer.service_id or "")
        found.append(
            Suggestion(
                question=question,
                text=answer.text,
                service_id=answer.service_id,
                service_title=service.title if service else None,
                confidence=round(answer.confidence, 3),
                sources=[s.model_dump(mode="json") for s in answer.sources],
            )
        )
        if len(found) == 2:
            break
    return found


@api.get("/config", response_model=dict[str, Any])
def console_config(staff: Agent, handoff: Handoff) -> dict[str, Any]:
    teams = handoff.teams
    return {
        "teams": [{"id": t.id, "name": t.name, "hours": teams.hours(t.id).describe()} for t in teams.teams],
        "default_team": teams.default_team,  # open to every agent (see HandoffService.may_handle)
        "resolutions": [r.model_dump() for r in teams.resolutions],
        "canned_responses": [c.model_dump() for c in teams.canned_responses],
        "services": {sid: service.title for sid, service in handoff.services.items()},  # names for queue entries
    }


@api.get("/overview", response_model=dict[str, Any])
def overview(staff: Supervisor, handoff: Handoff) -> dict[str, Any]:
    """Supervisor view: who is online, queue length and waiting times, live conversations."""
    entries = handoff.queue()
    waits = [e.waiting_s for e in entries]
    live_conversations = handoff.live()
    by_state = _count_states(live_conversations)
    by_team: dict[str, int] = {}
    for entry in entries:
        team = entry.conversation.team or handoff.teams.default_team
        by_team[team] = by_team.get(team, 0) + 1
    return {
        "online": [m.model_dump() for m in handoff.online_staff()],
        "queue_length": len(entries),
        "max_wait_s": max(waits, default=0.0),
        "mean_wait_s": round(sum(waits) / len(waits), 1) if waits else 0.0,
        "queue_by_team": by_team,
        "live_total": len(live_conversations),
        "live_by_state": by_state,
        "live_window_min": int(LIVE_WINDOW_S // 60),
        "staffed": [
            {"id": c.id, "assignee": c.assignee_name, "team": c.team, "since": c.taken_at}
            for c in live_conversations
            if c.assignee
        ],
    }


class AccountIn(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    display_name: str = Field(min_length=1, max_length=80)
    role: str = Field(pattern="^(agent|supervisor|admin)$")
    teams: list[str] = Field(default_factory=list, max_length=20)
    password: str = Field(min_length=12, max_length=1000)


class AccountOut(BaseModel):
    username: str
    display_name: str
    role: str
    teams: list[str]


@api.get("/users", response_model=list[AccountOut])
def users(staff: Admin, accounts: Annotated[Accounts, Depends(get_accounts)]) -> list[AccountOut]:
    return [AccountOut(**a.model_dump()) for a in accounts.all()]


@api.post("/users", response_model=AccountOut, status_code=201)
def create_user(body: AccountIn, staff: Admin, accounts: Annotated[Accounts, Depends(get_accounts)]) -> AccountOut:
    try:
        account = accounts.create(body.username, body.password, body.role, body.display_name, body.teams)
    except AuthError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    log.info("console account %s (%s) created by %s", account.username, account.role, staff.account.username)
    return AccountOut(**account.model_dump())


# --- live stream ---------------------------------------------------------------------------------


def _may_watch(handoff: HandoffService, conversation_id: str, member: StaffMember) -> None:
    """A transcript stream needs the same right as reading the conversation (unknown ids stream nothing)."""
    if handoff.store.get(conversation_id) is not None:
        handoff.accessible(conversation_id, member)


def _still_may_watch(handoff: HandoffService, conversation_id: str, member: StaffMember) -> bool:
    try:
        _may_watch(handoff, conversation_id, member)
    except HandoffError:
        return False
    return True


def _sse(event: str, data: object, event_id: int | None = None) -> bytes:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False))
    return ("\n".join(lines) + "\n\n").encode()


@api.get("/stream", response_class=StreamingResponse)
async def stream(
    request: Request,
    staff: Agent,
    handoff: Handoff,
    conversation: str | None = Query(default=None, pattern=CONVERSATION_ID_PATTERN),
    after: int = Query(default=0, ge=0),
) -> StreamingResponse:
    """Queue changes for everyone; plus the transcript of one open conversation (replay from `after`)."""
    last_event = request.headers.get("last-event-id", "")
    if last_event.isdigit():
        after = max(after, int(last_event))
    member = staff.member
    if conversation:
        _may_watch(handoff, conversation, member)

    async def events() -> AsyncIterator[bytes]:
        pubsub = live_redis(request.app).pubsub()  # shared pool with the widget sockets
        try:
            channels = [CONSOLE_CHANNEL] + ([channel_name(conversation)] if conversation else [])
            await pubsub.subscribe(*channels)
            await run_in_threadpool(handoff.heartbeat, member)
            yield b"retry: 2000\n\n"
            seen = after
            if conversation:  # replay after subscribing, so nothing falls between the two
                for message in await run_in_threadpool(handoff.store.history, conversation, after):
                    seen = max(seen, message.seq)
                    yield _sse("message", staff_view(message), message.seq)
            yield _sse("ready", {"conversation": conversation})
            idle = 0.0
            while not await request.is_disconnected():
                item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if item is None:
                    idle += 1.0
                    if idle >= KEEPALIVE_S:
                        idle = 0.0
                        await run_in_threadpool(handoff.heartbeat, member)
                        yield b": keepalive\n\n"
                    continue
                frame = json.loads(item["data"])
                if item["channel"] == CONSOLE_CHANNEL:
                    yield _sse("console", frame)
                elif frame.get("kind") == "message":
                    seq = int(frame["message"].get("seq", 0))
                    if seq > seen:
                        seen = seq
                        yield _sse("message", staff_view(Message.model_validate(frame["message"])), seq)
                else:
                    yield _sse("state", frame)
                    if conversation and not await run_in_threadpool(_still_may_watch, handoff, conversation, member):
                        yield _sse("forbidden", {"conversation": conversation})  # e.g. transferred to another team
                        return
        except (RedisError, OSError) as exc:  # the browser reconnects and resumes from Last-Event-ID
            log.warning("console stream ended: %s", exc)
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def abandonment_sweeper(handoff: HandoffService, idle_s: float, every_s: float = 60.0) -> None:
    """Background task: queued citizens who left are counted as abandoned (for honest metrics)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await run_in_threadpool(handoff.sweep_abandoned, idle_s)
        except RedisError as exc:
            log.warning("abandonment sweep skipped: %s", exc)
