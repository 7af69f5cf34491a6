"""`GET/POST /webhooks/whatsapp`: Meta's verification handshake and the signed message webhook.

Answers: the challenge (200) or 403 for the handshake; for messages 200 (processed, ignored or
replayed: Meta retries anything else for days), 401 for a missing or wrong signature, 400 for
malformed bodies, 413 for oversized ones, 404 when WhatsApp is not configured on this server.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import ValidationError

from bot.settings import Settings
from connectors.common import client_ip, constant_time_equal, decode_json, read_body
from connectors.messaging import MessengerGateway
from connectors.whatsapp.connector import CHANNEL, WaWebhook, signature_valid, to_inbound
from wording import texts

log = logging.getLogger(__name__)
router = APIRouter(tags=["whatsapp"])
_CHALLENGE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")  # echoed back: nothing that could become markup


def _gateway(request: Request) -> MessengerGateway:
    channels = getattr(request.app.state, "channels", None)
    gateway = channels.gateways.get(CHANNEL) if channels is not None else None
    if gateway is None:
        raise HTTPException(404, texts.WHATSAPP_NOT_CONFIGURED)
    return gateway


@router.get(
    "/webhooks/whatsapp",
    response_class=PlainTextResponse,
    summary="Meta's webhook verification handshake",
    responses={403: {"description": "Wrong verify token or mode"}, 404: {"description": "Not configured"}},
)
def whatsapp_verify(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    settings: Settings = request.app.state.settings
    _gateway(request)
    expected = settings.whatsapp_verify_token.get_secret_value() if settings.whatsapp_verify_token else None
    if (
        expected is None
        or mode != "subscribe"
        or not constant_time_equal(token, expected)
        or not challenge
        or not _CHALLENGE.fullmatch(challenge)
    ):
        log.warning("whatsapp verification refused (from %s)", client_ip(request))
        raise HTTPException(403, texts.VERIFICATION_FAILED)
    return PlainTextResponse(challenge)


@router.post(
    "/webhooks/whatsapp",
    summary="WhatsApp Cloud API webhook (messages)",
    responses={
        400: {"description": "Malformed body"},
        401: {"description": "Missing or wrong X-Hub-Signature-256"},
        404: {"description": "WhatsApp is not configured"},
        413: {"description": "Body too large"},
    },
)
async def whatsapp_webhook(
    request: Request,
    x_hub_signature_256: Annotated[str | None, Header(description="sha256=HMAC of the raw body.")] = None,
) -> dict[str, str]:
    gateway = _gateway(request)
    body = await read_body(request, gateway.settings.max_webhook_body_bytes)
    if not signature_valid(gateway.settings, body, x_hub_signature_256):
        log.warning("whatsapp webhook refused: bad signature (from %s)", client_ip(request))
        raise HTTPException(401, texts.BAD_SIGNATURE)
    data = decode_json(body)
    try:
        webhook = WaWebhook.model_validate(data)
    except ValidationError as exc:
        log.warning("whatsapp webhook refused: malformed (%d errors)", exc.error_count())
        raise HTTPException(400, texts.BAD_SHAPE) from exc
    if webhook.object != "whatsapp_business_account":
        return {"status": "ignored"}
    statuses = [await gateway.receive(item) for item in to_inbound(gateway.settings, webhook)]
    return {"status": ",".join(statuses) or "ignored"}
