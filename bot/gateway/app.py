"""Gateway app factory: knowledge index, Redis, the supervised Rasa process and the HTTP routes.

Start-up order matters for citizens: the index and Redis first (so degraded answers work at
once), then Rasa in the background; until Rasa is ready, the turn handler answers in degraded mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from actions.webhook import build_executor
from actions.webhook import router as actions_router
from bot.conversation.store import ConversationStore
from bot.dialogue.supervisor import RasaSupervisor, RasaUnavailableError, ensure_model, write_endpoints
from bot.eventlog.writer import start_event_writer
from bot.gateway.docs import mount_docs
from bot.gateway.embedded_redis import ensure_redis, redis_client, supervise_embedded_redis
from bot.gateway.security import SecurityMiddleware
from bot.gateway.startup import BusyWhileRebuilding, open_index, rebuild_index
from bot.handoff.service import HandoffError, HandoffService
from bot.handoff.teams import load_teams
from bot.metrics.api import build_metrics_router, build_prometheus_router
from bot.metrics.retention import retention_for
from bot.settings import Settings, get_settings
from bot.turns.handler import TurnHandler, TurnInProgressError
from connectors.common import (
    request_validation_failed,
)
from connectors.console.auth import Accounts, demo_accounts, require
from connectors.console.router import abandonment_sweeper
from connectors.console.router import api as console_api
from connectors.console.router import pages as console_pages
from connectors.messengers import start_channels
from connectors.openapi import document_shared_errors, document_text_limit
from connectors.ratelimit import RateLimiter
from connectors.rest.router import router as partner_router
from connectors.telegram.router import router as telegram_router
from connectors.web.api import conversations, questions
from connectors.web.handoff import router as handoff_router
from connectors.web.router import router as web_router
from connectors.whatsapp.router import router as whatsapp_router
from knowledge.answering import Answerer
from knowledge.index import KnowledgeIndex
from wording import texts

log = logging.getLogger(__name__)
health = APIRouter(tags=["health"])


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
    app.state.turns = TurnHandler(settings, store, answerer, app.state.handoff)
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
    # Redis streams -> SQL, with the metrics retention run hourly
    app.state.event_writer = await start_event_writer(settings, store.redis, retention_for(settings))
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
        content={"detail": texts.BRIEFLY_UNAVAILABLE},
        headers={"Retry-After": "2"},
    )


async def turn_in_progress(request: Request, exc: Exception) -> JSONResponse:
    """A copy of a message (same client message id) that is still being answered: retry shortly, get that answer."""
    assert isinstance(exc, TurnInProgressError)
    return JSONResponse(status_code=409, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after_s)})


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

    # docs page without a CDN (bot/gateway/docs.py): FastAPI's own pages would stay blank offline and under our CSP
    app = FastAPI(title="buergerbot", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.add_exception_handler(RedisError, redis_unavailable)
    app.add_exception_handler(RequestValidationError, request_validation_failed)  # never echoes the input
    app.add_exception_handler(HandoffError, handoff_refused)  # console and citizen handoff routes alike
    app.add_exception_handler(TurnInProgressError, turn_in_progress)  # widget REST and partner API alike
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
    app.add_middleware(SecurityMiddleware, settings=settings, docs_paths=docs_paths)
    return app
