"""No bad input gets a 5xx from any channel endpoint, and none of it creates a conversation."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest

from tests.unit.connectors.conftest import TG_SECRET, WA_SECRET, conversation_keys, telegram_settings, whatsapp_settings
from tests.unit.connectors.fakes import FakeApi

PARTNER_KEY = "bbp_fuzz"
BODIES = [
    b"",
    b"null",
    b"0",
    b'"text"',
    b"{}",
    b'{"update_id": 1, "message": null}',
    b'{"update_id": 1, "callback_query": {"id": "1", "chat_instance": "c", "from": {"id": 1}}}',
    b'{"update_id": 99999999999999999999999999}',
    b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": 5}]}]}',
    b'{"text": {"nested": true}}',
    b'{"text": "a", "payload": 7}',
    b"\x00\x01\x02",
    b"\xed\xa0\x80",  # an encoded surrogate: invalid UTF-8
    b'{"text": "a\\u0085b"}',  # a C1 control character
    b'{"text": "NaN", "x": NaN}',
    b"{" * 200,
]


@pytest.fixture
def api() -> Iterator[FakeApi]:
    fake = FakeApi(lambda r: (200, {"ok": True, "result": True})).start()
    yield fake
    fake.stop()


def test_no_5xx_for_garbage(make_client, api, redis_db):
    client = make_client(
        **telegram_settings(api.url),
        **whatsapp_settings(api.url),
        partner_api_keys={"fuzz": hashlib.sha256(PARTNER_KEY.encode()).hexdigest()},
    )
    for body in BODIES:
        signature = "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
        requests = [
            ("/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}),
            ("/webhooks/whatsapp", {"X-Hub-Signature-256": signature}),
            ("/api/v1/partner/conversations/fuzz-1/messages", {"X-API-Key": PARTNER_KEY}),
        ]
        for path, headers in requests:
            for extra in ({}, {"Content-Type": "text/plain"}, {"Content-Length": "abc"}):
                response = client.post(path, content=body, headers={**headers, **extra})
                assert response.status_code < 500, (path, body, extra, response.status_code, response.text)
    assert conversation_keys(redis_db) == []
