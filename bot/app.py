"""Gateway app factory. For now: health, readiness and a JSON question endpoint.

The knowledge index is loaded once at start-up (built from the demo content on a fresh install)
and shared by all requests through dependency injection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from bot.settings import Settings, get_settings
from knowledge.answering import Answerer
from knowledge.ingest import ensure_index
from knowledge.models import Answer


class QuestionIn(BaseModel):
    question: str = Field(min_length=1, max_length=20_000, description="The citizen's question.")
    service_hint: str | None = Field(default=None, max_length=120)


def get_answerer(request: Request) -> Answerer:
    return request.app.state.answerer  # type: ignore[no-any-return]


health = APIRouter(tags=["health"])
questions = APIRouter(prefix="/api", tags=["questions"])


@health.get("/health")
def liveness() -> dict[str, str]:
    return {"status": "ok"}


@health.get("/ready")
def readiness(answerer: Annotated[Answerer, Depends(get_answerer)]) -> dict[str, object]:
    index = answerer.index
    return {"status": "ok", "index": {"services": len(index.services), "passages": len(index.passages)}}


@questions.post("/ask", response_model=Answer)
async def ask(body: QuestionIn, answerer: Annotated[Answerer, Depends(get_answerer)]) -> Answer:
    return await run_in_threadpool(answerer.answer, body.question, body.service_hint)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.answerer = Answerer(await run_in_threadpool(ensure_index, settings))
        yield

    app = FastAPI(title="buergerbot", version="0.1.0", lifespan=lifespan)
    app.include_router(health)
    app.include_router(questions)
    return app
