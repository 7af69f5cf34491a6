"""Start and stop the messenger channels with the gateway (called from the app's lifespan).

Only configured channels are built: an unconfigured channel has no gateway here, and its webhook
answers 404 with a clear message. The outbox task runs when at least one messenger is configured,
the Matrix sync loop only when Matrix is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI

from bot.conversation.store import ConversationStore
from bot.settings import Settings
from bot.turns.handler import TurnHandler
from connectors.common import ChannelSender
from connectors.matrix.connector import MatrixBot
from connectors.messaging import MessengerGateway
from connectors.outbox import Outbox
from connectors.ratelimit import RateLimiter
from connectors.telegram.connector import TelegramSender
from connectors.whatsapp.connector import WhatsAppSender

log = logging.getLogger(__name__)


@dataclass
class Channels:
    gateways: dict[str, MessengerGateway] = field(default_factory=dict)
    senders: dict[str, ChannelSender] = field(default_factory=dict)
    outbox: Outbox | None = None
    matrix: MatrixBot | None = None
    http: httpx.AsyncClient | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.matrix is not None:
            await self.matrix.close()
        if self.http is not None:
            await self.http.aclose()


async def start_channels(app: FastAPI) -> Channels:
    """Build the configured channels from `app.state` (settings, store, turn handler, limiter, redis_url)."""
    settings: Settings = app.state.settings
    store: ConversationStore = app.state.store
    turns: TurnHandler = app.state.turns
    limiter: RateLimiter | None = getattr(app.state, "limiter", None)
    channels = Channels()
    if settings.telegram_enabled or settings.whatsapp_enabled:
        channels.http = httpx.AsyncClient(timeout=settings.outbound_timeout_s)
    if settings.telegram_enabled:
        assert channels.http is not None
        channels.senders["telegram"] = TelegramSender(settings, channels.http, store.redis)
    if settings.whatsapp_enabled:
        assert channels.http is not None
        channels.senders["whatsapp"] = WhatsAppSender(settings, channels.http, store.redis)
    for name, sender in channels.senders.items():
        channels.gateways[name] = MessengerGateway(settings, store, turns, limiter, sender)
    if settings.matrix_enabled:
        channels.matrix = MatrixBot(settings, store, turns, limiter)
        channels.senders["matrix"] = channels.matrix.sender
        channels.gateways["matrix"] = channels.matrix.gateway
        channels.tasks.append(asyncio.create_task(channels.matrix.run(), name="matrix-sync"))
    if channels.senders:
        channels.outbox = Outbox(app.state.redis_url, store, channels.senders)
        channels.tasks.append(asyncio.create_task(channels.outbox.run(), name="outbox"))
        log.info("messenger channels on: %s", ", ".join(sorted(channels.senders)))
    return channels
