"""The widget sends an unanswered message again with the same client message id, and it is stored once.

Real Chromium, the real widget.js and the real gateway process (knowledge-only). Playwright stands
between page and gateway only to lose what a bad network loses: an answer on its way back, or the
socket right after the message went out. Everything the gateway receives it really handles.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, Route, WebSocketRoute, expect

from bot.conversation.ids import CLIENT_MESSAGE_ID_PATTERN
from tests.browser.widget_helpers import ask, assert_no_duplicates, conversation_id, messages, open_widget, wait_idle

pytestmark = pytest.mark.slow  # real Chromium against a gateway process

QUESTION = "Was kostet ein Reisepass?"
MESSAGE_ID = re.compile(CLIENT_MESSAGE_ID_PATTERN)


def _stored_roles(stack: Any, page: Page) -> list[str]:
    history = httpx.get(f"{stack.url}/api/conversations/{conversation_id(page)}", timeout=30).json()
    return [message["role"] for message in history["messages"]]


def test_a_lost_answer_is_fetched_again_with_the_same_id(stack, page: Page, js_errors) -> None:
    """No WebSocket (blocked by a proxy): the POST reaches the gateway, its answer is lost on the way back."""
    page.add_init_script("delete window.WebSocket")
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()

    def lose_first_answer(route: Route) -> None:
        with lock:
            bodies.append(json.loads(route.request.post_data or "{}"))
            first = len(bodies) == 1
        if first:
            route.fetch()  # the gateway stores and answers the message …
            route.abort("connectionreset")  # … and the answer never reaches the page
        else:
            route.continue_()

    page.route("**/api/conversations/*/messages", lose_first_answer)
    open_widget(page, stack.url)
    ask(page, QUESTION)
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)
    assert len(bodies) == 2, bodies
    first, retry = bodies
    assert first == retry and first["text"] == QUESTION
    assert MESSAGE_ID.fullmatch(first["client_message_id"])
    expect(messages(page, "citizen")).to_have_count(1)
    assert_no_duplicates(page)
    assert _stored_roles(stack, page) == ["citizen", "bot"]
    assert js_errors == []


def test_a_message_whose_socket_closed_is_sent_again_by_post_with_the_same_id(stack, page: Page, js_errors) -> None:
    """The socket closes right after the message went out: the widget posts it again with its id."""
    sent: list[dict[str, Any]] = []
    connections: list[WebSocketRoute] = []

    def drop_after_first_message(ws: WebSocketRoute) -> None:
        connections.append(ws)
        server = ws.connect_to_server()
        if len(connections) > 1:
            return  # reconnects are left alone (forwarded both ways)

        def from_page(message: str | bytes) -> None:
            frame = json.loads(message)
            sent.append(frame)
            server.send(message)  # the gateway gets the message …
            ws.close()  # … and the page's socket closes before any answer

        ws.on_message(from_page)

    posted: list[dict[str, Any]] = []

    def record_post(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/messages"):
            posted.append(json.loads(request.post_data or "{}"))

    page.on("request", record_post)
    page.route_web_socket(re.compile(r".*/ws/conversations/.*"), drop_after_first_message)
    open_widget(page, stack.url)
    expect(page.locator(".bb-conn")).to_be_hidden()  # connected
    ask(page, QUESTION)
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)
    assert len(sent) == 1 and sent[0]["text"] == QUESTION and MESSAGE_ID.fullmatch(sent[0]["client_message_id"])
    assert [body["client_message_id"] for body in posted] == [sent[0]["client_message_id"]]
    expect(messages(page, "citizen")).to_have_count(1)
    assert_no_duplicates(page)
    assert _stored_roles(stack, page) == ["citizen", "bot"]
    assert js_errors == []
