"""Partner REST channel: API keys (hashes only), per-partner namespaces, limits, OpenAPI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from bot.settings import PROJECT_ROOT
from tests.unit.connectors.conftest import conversation_keys

ACME_KEY = "bbp_acme-test-key"
OTHER_KEY = "bbp_other-test-key"
KEYS = {
    "acme": hashlib.sha256(ACME_KEY.encode()).hexdigest(),
    "other": hashlib.sha256(OTHER_KEY.encode()).hexdigest(),
}
BASE = "/api/v1/partner/conversations"


@pytest.fixture
def client(make_client):
    return make_client(partner_api_keys=KEYS)


def post(client, conversation: str, key: str | None, **kwargs):
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post(f"{BASE}/{conversation}/messages", headers={**headers, **kwargs.pop("headers", {})}, **kwargs)


def test_message_reply_and_history(client):
    response = post(client, "order-17", ACME_KEY, json={"text": "Was kostet ein Personalausweis?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["conversation_id"] == "order-17" and body["state"] == "bot"
    [reply] = body["messages"]
    assert reply["role"] == "bot" and "Personalausweis" in reply["text"]
    assert reply["sources"] and reply["sources"][0]["url"].startswith("https://")
    assert reply["buttons"]

    button = reply["buttons"][0]
    chosen = post(client, "order-17", ACME_KEY, json={"text": button["title"], "payload": button["payload"]})
    assert chosen.status_code == 200

    history = client.get(f"{BASE}/order-17", headers={"X-API-Key": ACME_KEY}).json()
    assert [m["role"] for m in history["messages"]] == ["citizen", "bot", "citizen", "bot"]
    after = history["messages"][1]["seq"]
    newer = client.get(f"{BASE}/order-17", params={"after": after}, headers={"X-API-Key": ACME_KEY}).json()
    assert [m["seq"] for m in newer["messages"]] == [m["seq"] for m in history["messages"][2:]]


def test_partners_cannot_see_each_others_conversations(client, redis_db):
    assert post(client, "shared-id", ACME_KEY, json={"text": "Hallo"}).status_code == 200
    other = client.get(f"{BASE}/shared-id", headers={"X-API-Key": OTHER_KEY})
    assert other.status_code == 404
    assert post(client, "shared-id", OTHER_KEY, json={"text": "Guten Tag"}).status_code == 200
    acme = client.get(f"{BASE}/shared-id", headers={"X-API-Key": ACME_KEY}).json()
    assert [m["text"] for m in acme["messages"] if m["role"] == "citizen"] == ["Hallo"]
    keys = conversation_keys(redis_db)
    assert len(keys) == 2 and not any("shared-id" in k for k in keys)  # namespaced, not guessable


def test_missing_or_wrong_key_is_401_and_changes_nothing(client, redis_db):
    for key in (None, "", "bbp_wrong", KEYS["acme"]):  # the stored hash itself is not a key
        response = post(client, "order-1", key, json={"text": "Hallo"})
        assert response.status_code == 401, key
        assert "API-Schlüssel" in response.json()["detail"]
    assert client.get(f"{BASE}/order-1", headers={"X-API-Key": "nope"}).status_code == 401
    assert conversation_keys(redis_db) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{broken", 400),
        (b'{"text": "\xff\xfe"}', 400),
        (b'{"text": "Hallo\\u0000"}', 400),
        (b'{"text": "\\ud800"}', 400),
        (b'{"text": "Hallo", "unknown": 1}', 400),
        (b'{"text": ""}', 400),
        (b'{"text": "   "}', 400),
        (b'{"text": 5}', 400),
        (b"[]", 400),
        (b"[" * 3000 + b"]" * 3000, 400),
        (('{"text": "' + "a" * 70_000 + '"}').encode(), 413),
    ],
)
def test_bad_bodies_get_clean_4xx(client, redis_db, body, status):
    response = post(client, "order-2", ACME_KEY, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert conversation_keys(redis_db) == []


def test_partner_key_rate_limit(make_client):
    client = make_client(partner_api_keys=KEYS, rate_limit_per_partner_key=2)
    assert post(client, "a-1", ACME_KEY, json={"text": "Hallo"}).status_code == 200
    assert client.get(f"{BASE}/a-1", headers={"X-API-Key": ACME_KEY}).status_code == 200
    limited = post(client, "a-2", ACME_KEY, json={"text": "Hallo"})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert "warten" in limited.json()["detail"]
    assert post(client, "a-2", OTHER_KEY, json={"text": "Hallo"}).status_code == 200  # per key


def test_unconfigured_partner_api_is_503(make_client):
    client = make_client()
    response = post(client, "order-1", ACME_KEY, json={"text": "Hallo"})
    assert response.status_code == 503 and "nicht eingerichtet" in response.json()["detail"]


def test_openapi_documents_the_partner_api(client):
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/api/v1/partner/conversations/{conversation_id}/messages"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"text", "payload", "client_message_id"}
    assert operation["security"] == [{"APIKeyHeader": []}]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert "/api/v1/partner/conversations/{conversation_id}" in spec["paths"]


def test_cli_creates_a_key_that_works(make_client, tmp_path):
    env = {**os.environ, "BUERGERBOT_DATA_DIR": str(tmp_path), "BUERGERBOT_PARTNER_API_KEYS": "{}"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "apikey", "stadtportal"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    key, line = result.stdout.strip().splitlines()
    assert line.startswith("BUERGERBOT_PARTNER_API_KEYS='") and key not in line
    configured = line.split("=", 1)[1].strip("'")
    client = make_client(partner_api_keys=json.loads(configured))
    assert post(client, "p-1", key, json={"text": "Hallo"}).status_code == 200

    bad = subprocess.run(
        [sys.executable, "-m", "bot.cli", "apikey", "Not Valid"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
