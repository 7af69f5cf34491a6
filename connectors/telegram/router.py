"""`POST /webhooks/telegram`: authenticate, bound, parse, then hand over to the messenger gateway.

Answers: 200 for everything Telegram should not send again (processed, ignored, replayed), 401 for
a wrong or missing secret, 400 for malformed bodies, 413 for oversized ones, 404 when Telegram is
not configured on this server. Each refusal is logged and changes nothing in Redis.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request

from connectors.common import client_ip, decode_json, read_body
from connectors.messaging import MessengerGateway
from connectors.telegram.connector import (
    CHANNEL,
    MalformedUpdateError,
    TelegramSender,
    authentic,
    parse_update,
    to_inbound,
)
from wording import texts

log = logging.getLogger(__name__)
router = APIRouter(tags=["telegram"])


def _gateway(request: Request) -> MessengerGateway:
    channels = getattr(request.app.state, "channels", None)
    gateway = channels.gateways.get(CHANNEL) if channels is not None else None
    if gateway is None:
        raise HTTPException(404, texts.TELEGRAM_NOT_CONFIGURED)
    return gateway


@router.post(
    "/webhooks/telegram",
    summary="Telegram Bot API webhook (register with setWebhook and secret_token)",
    responses={
        400: {"description": "Malformed body"},
        401: {"description": "Missing or wrong X-Telegram-Bot-Api-Secret-Token"},
        404: {"description": "Telegram is not configured"},
        413: {"description": "Body too large"},
    },
)
async def telegram_webhook(
    request: Request,
    x_telegram_bot_api_secret_token: Annotated[str | None, Header(description="The webhook's secret_token.")] = None,
) -> dict[str, str]:
    gateway = _gateway(request)
    if not authentic(gateway.settings, x_telegram_bot_api_secret_token):
        log.warning("telegram webhook refused: wrong secret token (from %s)", client_ip(request))
        raise HTTPException(401, texts.BAD_WEBHOOK_SECRET)
    data = decode_json(await read_body(request, gateway.settings.max_webhook_body_bytes))
    try:
        update = parse_update(data)
    except MalformedUpdateError as exc:
        log.warning("telegram webhook refused: malformed update (%s)", exc)
        raise HTTPException(400, texts.BAD_SHAPE) from exc
    inbound = to_inbound(update)
    if inbound is None:
        return {"status": "ignored"}
    status = await gateway.receive(inbound)
    callback_id = inbound.extra.get("callback_query_id")
    if callback_id and isinstance(gateway.sender, TelegramSender):
        await gateway.sender.answer_callback(str(callback_id))
    return {"status": status}
