"""Gateway app factory: knowledge index, Redis, the supervised Rasa process and the HTTP routes.

Start-up order matters for citizens: the index and Redis first (so degraded answers work at
once), then Rasa in the background; until Rasa is ready, the router answers in degraded mode.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from actions.webhook import build_executor
from actions.webhook import router as actions_router
from bot.conversations import Conversation, ConversationStore, Message
from bot.rasa_process import RasaSupervisor, RasaUnavailableError, ensure_model, write_endpoints
from bot.redis_server import ensure_redis, redis_client
from bot.router import ConversationRouter
from bot.settings import Settings, get_settings
from connectors.web.router import router as web_router
from knowledge.answering import Answerer
from knowledge.ingest import ensure_index
from knowledge.models import Answer

log = logging.getLogger(__name__)
ConversationId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{6,100}$", description="Chosen by the client.")]


class QuestionIn(BaseModel):
    question: str = Field(min_length=1, max_length=20_000, description="The citizen's question.")


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=20_000, description="What the citizen typed or the button title.")
    payload: str | None = Field(default=None, max_length=500, description="Button payload, if a button was used.")


class MessagesOut(BaseModel):
    conversation: Conversation
    messages: list[Message]


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


@health.get("/ready")
async def readiness(request: Request) -> dict[str, object]:
    state = request.app.state
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


@questions.post("/ask", response_model=Answer)
async def ask(body: QuestionIn, answerer: Annotated[Answerer, Depends(get_answerer)]) -> Answer:
    return await run_in_threadpool(answerer.answer, body.question)


@conversations.post("/{conversation_id}/messages", response_model=MessagesOut)
async def post_message(
    conversation_id: ConversationId,
    body: MessageIn,
    router: Annotated[ConversationRouter, Depends(get_router)],
) -> MessagesOut:
    replies = await router.handle(conversation_id, body.text, channel="rest", payload=body.payload)
    conversation = router.store.get_or_create(conversation_id)
    return MessagesOut(conversation=conversation, messages=replies)


@conversations.get("/{conversation_id}", response_model=MessagesOut)
def get_conversation(
    conversation_id: ConversationId, store: Annotated[ConversationStore, Depends(get_store)], after: int = 0
) -> MessagesOut:
    conversation = store.get(conversation_id)
    if conversation is None:
        raise HTTPException(404, "Unterhaltung nicht gefunden")
    return MessagesOut(conversation=conversation, messages=store.history(conversation_id, after_seq=after))


async def _start_rasa(app: FastAPI, settings: Settings, redis_url: str) -> None:
    try:
        model = await run_in_threadpool(ensure_model, settings, app.state.answerer.index)
    except (RasaUnavailableError, RuntimeError) as exc:
        log.error("Rasa not started, degraded mode only: %s", exc)
        return
    supervisor = RasaSupervisor(settings, model, write_endpoints(settings, redis_url))
    app.state.rasa = supervisor
    await supervisor.start()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.rasa = None
        answerer = Answerer(await run_in_threadpool(ensure_index, settings))
        redis_url = await run_in_threadpool(ensure_redis, settings)
        store = ConversationStore(redis_client(redis_url), settings.history_limit, settings.conversation_ttl_s)
        app.state.answerer = answerer
        app.state.store = store
        app.state.redis_url = redis_url  # the web widget's live pub/sub subscriptions
        app.state.router = ConversationRouter(settings, store, answerer)
        app.state.action_executor = build_executor(answerer)
        starter = asyncio.create_task(_start_rasa(app, settings, redis_url)) if settings.rasa_enabled else None
        yield
        if starter and not starter.done():
            starter.cancel()
        if app.state.rasa:
            await app.state.rasa.stop()

    app = FastAPI(title="buergerbot", version="0.1.0", lifespan=lifespan)
    app.include_router(health)
    app.include_router(questions)
    app.include_router(conversations)
    app.include_router(actions_router)
    app.include_router(web_router)
    return app
