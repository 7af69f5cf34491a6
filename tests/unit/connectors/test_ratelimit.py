"""Rate limits live in Redis: they hold across gateway processes and answer with 429 / a widget error frame."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json

import pytest
import redis

from bot.settings import Settings
from connectors.ratelimit import Limit, RateLimiter
from connectors.web.router import ERRORS
from wording.texts import RATE_LIMITED as RATE_LIMITED_TEXT


def limiter(client: redis.Redis, url: str) -> RateLimiter:
    return RateLimiter(client, Settings(redis_url=url))


def test_sliding_window_counts_only_accepted_requests(redis_db, redis_url):
    limits = limiter(redis_db, redis_url)
    conversation = Limit("conv", "c1", 2, 60)
    ip = Limit("ip", "10.0.0.1", 3, 60)
    assert limits.wait_s(conversation, ip) == 0
    assert limits.wait_s(conversation, ip) == 0
    wait = limits.wait_s(conversation, ip)
    assert 0 < wait <= 60
    # the refused request was not recorded against the IP: one more for another conversation still fits
    assert limits.wait_s(Limit("conv", "c2", 2, 60), ip) == 0
    assert limits.wait_s(Limit("conv", "c3", 2, 60), ip) > 0


def test_limits_are_shared_between_processes(redis_db, redis_url):
    other = redis.Redis.from_url(redis_url, decode_responses=True)  # another gateway's connection
    one, two = limiter(redis_db, redis_url), limiter(other, redis_url)
    shared = Limit("conv", "same", 2, 60)
    assert one.wait_s(shared) == 0
    assert two.wait_s(shared) == 0
    assert one.wait_s(shared) > 0 and two.wait_s(shared) > 0


def test_zero_disables_a_limit(redis_db, redis_url):
    limits = limiter(redis_db, redis_url)
    for _ in range(5):
        assert limits.wait_s(Limit("ip", "x", 0, 60)) == 0


def test_conversation_endpoint_answers_429_with_retry_after_across_two_apps(make_client):
    first = make_client(rate_limit_per_conversation=2)
    second = make_client(rate_limit_per_conversation=2)
    url = "/api/conversations/rl-conversation-1/messages"
    assert first.post(url, json={"text": "Hallo"}).status_code == 200
    assert second.post(url, json={"text": "Hallo"}).status_code == 200
    limited = first.post(url, json={"text": "Hallo"})
    assert limited.status_code == 429
    assert limited.json() == {"detail": RATE_LIMITED_TEXT}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert first.post("/api/conversations/rl-conversation-2/messages", json={"text": "Hallo"}).status_code == 200


def test_ask_is_limited_per_ip(make_client):
    client = make_client(rate_limit_per_ip=2)
    for _ in range(2):
        assert client.post("/api/ask", json={"question": "Was kostet ein Reisepass?"}).status_code == 200
    limited = client.post("/api/ask", json={"question": "Was kostet ein Reisepass?"})
    assert limited.status_code == 429 and "Retry-After" in limited.headers


def test_widget_socket_gets_rate_limited_error_frame(make_client, redis_db, redis_url):
    client = make_client(rate_limit_per_conversation=2)
    conversation = "web-ratelimit-0001"
    other_process = limiter(redis_db, redis_url)  # another gateway already took this conversation's two messages
    busy = Limit("conv", conversation, 2, client.app.state.settings.rate_limit_window_s)
    assert other_process.wait_s(busy) == 0 and other_process.wait_s(busy) == 0
    received: list[dict[str, object]] = []
    # Leaving the TestClient socket cancels the handler while connectors/web/router.py still awaits its
    # pub/sub relay in `finally`; that surfaces as CancelledError from the test client's teardown. The
    # frame is checked outside the block, so a real failure inside cannot be hidden by it.
    with (
        contextlib.suppress(concurrent.futures.CancelledError),
        client.websocket_connect(f"/ws/conversations/{conversation}") as socket,
    ):
        while socket.receive_json().get("kind") != "ready":
            pass
        socket.send_text(json.dumps({"text": "Hallo"}))
        received.append(socket.receive_json())
    assert received == [{"kind": "error", "code": "rate_limited", "message": ERRORS["rate_limited"]}]
    assert redis_db.llen(f"bb:hist:{conversation}") == 0  # refused, not processed


@pytest.mark.parametrize("code", sorted(ERRORS))
def test_widget_translates_every_error_code(code, demo_settings):
    from connectors.web.router import render_widget_js

    widget = render_widget_js(demo_settings).decode("utf-8")  # as served: its texts come from wording.texts
    assert widget.count(f'"{code}":') >= 2  # German and English text
