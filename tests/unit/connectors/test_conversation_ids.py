"""One conversation-id rule (`bot.conversation.ids`) at every door that takes a client's id.

The widget's REST routes, its handoff routes and its WebSocket each carried a copy of the pattern
(and the console a fourth); these tests hold every door to the one definition by behaviour.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import CancelledError

import pytest
from starlette.websockets import WebSocketDisconnect

from bot.conversation.ids import CONVERSATION_ID_PATTERN, is_conversation_id

GOOD_IDS = ["web-" + "0123456789abcdef" * 2, "tg-" + "f" * 32, "a.b:c_d-e", "x" * 100]
BAD_IDS = ["web12", "x" * 101, "web-abc*def", "web-äbcdef", "web-abc~def"]


@pytest.mark.parametrize("value", GOOD_IDS)
def test_good_ids(value: str) -> None:
    assert is_conversation_id(value)


@pytest.mark.parametrize("value", [*BAD_IDS, "", None, 42, "web-abcdef\n"])
def test_bad_ids(value: object) -> None:
    assert not is_conversation_id(value)


@pytest.mark.parametrize("value", BAD_IDS)
def test_every_widget_door_refuses_the_same_ids(make_client, redis_db, value: str) -> None:
    client = make_client()
    assert client.get(f"/api/conversations/{value}").status_code == 422
    assert client.get(f"/api/conversations/{value}/queue").status_code == 422
    assert client.post(f"/api/conversations/{value}/messages", json={"text": "Hallo"}).status_code == 422
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(f"/ws/conversations/{value}") as socket:
        socket.receive_json()
    assert closed.value.code == 1008


@pytest.mark.parametrize("value", GOOD_IDS)
def test_every_widget_door_takes_the_same_ids(make_client, redis_db, value: str) -> None:
    client = make_client()
    assert client.get(f"/api/conversations/{value}").status_code != 422
    assert client.get(f"/api/conversations/{value}/queue").status_code != 422
    frames = []
    # closing the test client's socket while the server waits for Redis cancels that wait (as in test_public_views)
    with contextlib.suppress(CancelledError), client.websocket_connect(f"/ws/conversations/{value}") as socket:
        frames.append(socket.receive_json())
    assert [frame["kind"] for frame in frames] == ["ready"]


def test_the_documented_pattern_is_the_one_rule(make_client, redis_db) -> None:
    """Clients read the pattern from the OpenAPI schema: every widget path documents the same one."""
    schema = make_client().get("/openapi.json").json()
    patterns = {
        (path, param["schema"].get("pattern"))
        for path, methods in schema["paths"].items()
        if path.startswith("/api/conversations/{conversation_id}")
        for operation in methods.values()
        for param in operation.get("parameters", [])
        if param["name"] == "conversation_id"
    }
    assert patterns and {pattern for _, pattern in patterns} == {CONVERSATION_ID_PATTERN}
