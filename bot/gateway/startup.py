"""Opening the knowledge index at start-up — and what citizens get while it has to be rebuilt.

A missing or corrupted index (disk trouble, a half-copied backup, someone deleted the directory)
must not keep the gateway down for the minutes a rebuild takes, nor make it answer from a broken
index. So: detect at start, rebuild from the configured content in the background, and meanwhile
answer every request that needs the knowledge base with a clear, retryable "busy" message
(HTTP 503 with Retry-After; on the widget socket an error frame, after which the widget
reconnects by itself). Health and readiness keep answering, so operators see what is going on.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.settings import Settings
from knowledge.index import KnowledgeIndex
from knowledge.ingest import ingest, load_index, reset_index
from wording import texts

log = logging.getLogger(__name__)
ALWAYS_SERVED = ("/health", "/ready", "/widget/", "/docs", "/openapi.json", "/redoc", "/console/login",
                 "/console/static/")  # fmt: skip


def open_index(settings: Settings) -> KnowledgeIndex | None:
    """The index if it opens and is consistent; None when it must be rebuilt (logged with the reason)."""
    try:
        return load_index(settings)
    except Exception as exc:  # any defect means: rebuild from content, never serve from a broken index
        log.error("knowledge index unusable, rebuilding from %s: %s", settings.content_dir, exc)
        return None


def rebuild_index(settings: Settings) -> KnowledgeIndex:
    reset_index(settings)
    ingest(settings, settings.content_dir)
    return load_index(settings)


class BusyWhileRebuilding:
    """Pure ASGI middleware (HTTP and WebSocket) that answers "busy" while `app.state.rebuilding`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = getattr(scope.get("app"), "state", None)
        if scope["type"] not in ("http", "websocket") or not getattr(state, "rebuilding", False):
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if path == "/" or path.startswith(ALWAYS_SERVED):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            frame = {"kind": "error", "code": "busy", "message": texts.BUSY_REBUILDING}
            await send({"type": "websocket.send", "text": json.dumps(frame, ensure_ascii=False)})
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        body = json.dumps({"detail": texts.BUSY_REBUILDING}, ensure_ascii=False).encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"retry-after", b"10"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def rebuilding_state(app: Any) -> bool:
    return bool(getattr(app.state, "rebuilding", False))
