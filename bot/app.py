"""Gateway app factory: knowledge index, Redis, the supervised Rasa process and the HTTP routes.

Start-up order matters for citizens: the index and Redis first (so degraded answers work at
once), then Rasa in the background; until Rasa is ready, the router answers in degraded mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError
from redis.exceptions import RedisError

from actions.webhook import build_executor
from actions.webhook import router as actions_router
from bot.conversations import ConversationStore
from bot.docs import mount_docs
from bot.eventlog import start_event_writer
from bot.handoff import HandoffError, HandoffService
from bot.metrics.api import build_metrics_router, build_prometheus_router
from bot.openapi import CITIZEN_TEXT, RATE_LIMITED, document_shared_errors, document_text_limit
from bot.rasa_process import RasaSupervisor, RasaUnavailableError, ensure_model, write_endpoints
from bot.ratelimit import RateLimiter, limit_per_conversation_and_ip, limit_per_ip
from bot.redis_server import ensure_redis, redis_client, supervise_embedded_redis
from bot.router import ConversationRouter
from bot.security import SecurityMiddleware
from bot.settings import Settings, get_settings
from bot.startup import BusyWhileRebuilding, open_index, rebuild_index
from bot.teams import load_teams
from connectors.channels import start_channels
from connectors.common import (
    HARD_MAX_TEXT_CHARS,
    MAX_PAYLOAD_CHARS,
    PAYLOAD_PATTERN,
    TEXT_PATTERN,
    CitizenInputError,
    check_citizen_input,
    request_validation_failed,
)
from connectors.console.auth import Accounts, demo_accounts, require
from connectors.console.router import abandonment_sweeper
from connectors.console.router import api as console_api
from connectors.console.router import pages as console_pages
from connectors.public import PublicConversation, PublicMessage, public_conversation, public_message
from connectors.rest.router import router as partner_router
from connectors.telegram.router import router as telegram_router
from connectors.web.handoff import router as handoff_router
from connectors.web.router import router as web_router
from connectors.whatsapp.router import router as whatsapp_router
from knowledge.answering import Answerer
from knowledge.index import KnowledgeIndex
from knowledge.models import Answer

log = logging.getLogger(__name__)
ConversationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{6,100}$", description="Chosen by the client.")]


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
    # configured limit, written into the schema by `bot.openapi.document_text_limit`.
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


def get_answerer(request: Request) -> Answerer:
    return request.app.state.answerer  # type: ignore[no-any-return]


def get_router(request: Request) -> ConversationRouter:
    return request.app.state.router  # type: ignore[no-any-return]


def get_store(request: Request) -> ConversationStore:
    return request.app.state.store  # type: ignore[no-any-return]


health = APIRouter(tags=["health"])
questions = APIRouter(prefix="/api", tags=["questions"])
conversations = APIRouter(prefix="/api/conversations", tags=["conversations"])


@health.get("/health")
def liveness() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/ready", responses={503: {"description": "Starting or Redis unreachable; `detail` lists the checks."}})
async def readiness(request: Request) -> dict[str, object]:
    state = request.app.state
    if getattr(state, "rebuilding", False):
        raise HTTPException(503, detail={"status": "rebuilding", "index": "rebuilding from content"})
    checks: dict[str, object] = {}
    try:
        checks["redis"] = bool(await run_in_threadpool(state.store.redis.ping))
    except Exception:
        checks["redis"] = False
    supervisor: RasaSupervisor | None = state.rasa
    checks["rasa"] = bool(supervisor and await supervisor.healthy())
    checks["index"] = {"services": len(state.answerer.index.services), "passages": len(state.answerer.index.passages)}
    ready = bool(checks["redis"]) and (checks["rasa"] or not state.settings.rasa_enabled)
    if not ready:
        raise HTTPException(503, detail={"status": "starting", **checks})
    return {"status": "ok", **checks}


@questions.post("/ask", response_model=Answer, dependencies=[Depends(limit_per_ip)], responses={429: RATE_LIMITED})
async def ask(request: Request, body: QuestionIn, answerer: Annotated[Answerer, Depends(get_answerer)]) -> Answer:
    question, _ = citizen_input_or_422(body.question, None, request.app.state.settings, "question")
    return await run_in_threadpool(answerer.answer, question)


@conversations.post(
    "/{conversation_id}/messages",
    response_model=MessagesOut,
    dependencies=[Depends(limit_per_conversation_and_ip)],
    responses={429: RATE_LIMITED},
)
async def post_message(
    conversation_id: ConversationId,
    body: MessageIn,
    router: Annotated[ConversationRouter, Depends(get_router)],
) -> MessagesOut:
    text, payload = citizen_input_or_422(body.text, body.payload, router.settings)
    replies = await router.handle(conversation_id, text, channel="rest", payload=payload)
    conversation = router.store.get_or_create(conversation_id)
    return MessagesOut(conversation=public_conversation(conversation), messages=[public_message(m) for m in replies])


@conversations.get(
    "/{conversation_id}", response_model=MessagesOut, responses={404: {"description": "No such conversation."}}
)
def get_conversation(
    conversation_id: ConversationId, store: Annotated[ConversationStore, Depends(get_store)], after: int = 0
) -> MessagesOut:
    conversation = store.get(conversation_id)
    if conversation is None:
        raise HTTPException(404, "Unterhaltung nicht gefunden")
    messages = [public_message(m) for m in store.history(conversation_id, after_seq=after)]
    return MessagesOut(conversation=public_conversation(conversation), messages=messages)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def _start_components(
    app: FastAPI, settings: Settings, index: KnowledgeIndex, stoppers: list[Callable[[], Awaitable[None]]]
) -> None:
    """Redis, conversation core, console, channels, event log and Rasa, on an opened index.

    Order matters for citizens: the index and Redis first (degraded answers work at once), Rasa last,
    in the background. Each started part registers how to stop it; shutdown runs them in reverse.
    """
    answerer = Answerer(index)
    redis_url = await run_in_threadpool(ensure_redis, settings)
    redis_supervisor = supervise_embedded_redis(settings)  # the embedded server comes back if it dies
    if redis_supervisor:
        stoppers.append(redis_supervisor.stop)
    store = ConversationStore(redis_client(redis_url), settings.history_limit, settings.conversation_ttl_s)
    app.state.answerer = answerer
    app.state.store = store
    app.state.redis_url = redis_url  # the web widget's live pub/sub subscriptions
    app.state.handoff = HandoffService(store, load_teams(settings.teams_file), answerer.index.services)
    app.state.router = ConversationRouter(settings, store, answerer, app.state.handoff)
    app.state.accounts = Accounts(store.redis, settings)
    if settings.demo_accounts:
        for username, role, _password in demo_accounts(app.state.accounts, settings):
            log.warning("demo console account %s (%s): password in %s", username, role,
                        settings.data_dir / "console-demo-accounts.txt")  # fmt: skip
    sweeper = asyncio.create_task(abandonment_sweeper(app.state.handoff, settings.queue_abandon_after_s))
    stoppers.append(lambda: _cancel(sweeper))
    app.state.action_executor = build_executor(answerer)
    app.state.limiter = RateLimiter(store.redis, settings)  # shared by all processes (Redis)
    app.state.channels = await start_channels(app)  # configured messengers, their outbox, Matrix sync
    stoppers.append(app.state.channels.stop)
    if settings.rasa_enabled:
        starter = asyncio.create_task(_start_rasa(app, settings, redis_url))

        async def stop_rasa() -> None:
            if not starter.done():
                await _cancel(starter)
            if app.state.rasa:
                await app.state.rasa.stop()

        stoppers.append(stop_rasa)
    app.state.event_writer = await start_event_writer(settings, store.redis)  # Redis streams -> SQL
    if app.state.event_writer:
        stoppers.append(app.state.event_writer.stop)


async def _start_rasa(app: FastAPI, settings: Settings, redis_url: str) -> None:
    try:
        model = await run_in_threadpool(ensure_model, settings, app.state.answerer.index)
    except (RasaUnavailableError, RuntimeError) as exc:
        log.error("Rasa not started, degraded mode only: %s", exc)
        return
    supervisor = RasaSupervisor(settings, model, write_endpoints(settings, redis_url))
    app.state.rasa = supervisor
    await supervisor.start()


async def redis_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """Redis down (restart, network): a clear, retryable answer instead of a 500; nothing half-stored."""
    log.warning("redis unavailable during %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        status_code=503,
        content={"detail": "Der Dienst ist gerade kurz nicht erreichbar. Bitte versuchen Sie es gleich noch einmal."},
        headers={"Retry-After": "2"},
    )


async def handoff_refused(request: Request, exc: Exception) -> JSONResponse:
    """A handoff step not allowed now (already taken, not held, unknown team): its status, its German text."""
    assert isinstance(exc, HandoffError)
    return JSONResponse(status_code=exc.status, content={"detail": str(exc)})


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.rasa = None
        app.state.rebuilding = False
        stoppers: list[Callable[[], Awaitable[None]]] = []
        index = await run_in_threadpool(open_index, settings)
        if index is None:  # serve "busy" at once and start the components once the rebuild is done
            app.state.rebuilding = True

            async def rebuild_then_start() -> None:
                rebuilt = await run_in_threadpool(rebuild_index, settings)
                await _start_components(app, settings, rebuilt, stoppers)
                app.state.rebuilding = False
                log.info("knowledge index rebuilt; serving again")

            rebuild = asyncio.create_task(rebuild_then_start())
            stoppers.append(lambda: _cancel(rebuild))
        else:
            await _start_components(app, settings, index, stoppers)
        yield
        for stop in reversed(stoppers):
            await stop()

    # docs page without a CDN (bot/docs.py): FastAPI's own pages would stay blank offline and under our CSP
    app = FastAPI(title="buergerbot", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_exception_handler(RedisError, redis_unavailable)
    app.add_exception_handler(RequestValidationError, request_validation_failed)  # never echoes the input
    app.add_exception_handler(HandoffError, handoff_refused)  # console and citizen handoff routes alike
    app.include_router(health)
    app.include_router(questions)
    app.include_router(conversations)
    app.include_router(actions_router)
    app.include_router(web_router)
    app.include_router(partner_router)
    app.include_router(telegram_router)
    app.include_router(whatsapp_router)
    app.include_router(handoff_router)
    app.include_router(console_pages)
    app.include_router(console_api)
    app.include_router(build_prometheus_router())  # GET /metrics (Prometheus)
    # dashboard and metrics API for supervisors, below /console where the session cookie lives
    app.include_router(
        build_metrics_router(require("supervisor"), "/console/metrics", "/console/api/metrics", console_url="/console")
    )
    document_shared_errors(app)  # 400 (unreadable body) and 503 (Redis down) from shared layers, for clients
    document_text_limit(app, settings.max_question_chars)  # citizen texts: the configured maxLength
    docs_paths = mount_docs(app)
    app.add_middleware(BusyWhileRebuilding)  # inside the security headers, so "busy" answers carry them too
    app.add_middleware(SecurityMiddleware, settings=settings, docs_paths=docs_paths)  # type: ignore[arg-type]
    return app
