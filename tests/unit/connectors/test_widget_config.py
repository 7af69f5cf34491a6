"""The widget learns the installation's length limit and id rule from the gateway that serves it.

It used to carry its own 2000 and its own copy of the id pattern: an installation with
`BUERGERBOT_MAX_QUESTION_CHARS=3000` refused 2,500 characters in the widget that every other channel
accepted. (`tests/browser/test_widget.py` checks the same in Chromium.)
"""

from __future__ import annotations

import json
import re

from bot.conversation.ids import CONVERSATION_ID_PATTERN
from connectors.web.router import STATIC_DIR, WIDGET_CONFIG_PLACEHOLDER

CONFIG_LINE = re.compile(r"^  var CONFIG = (\{.*\});$", re.MULTILINE)


def _served_config(body: str) -> dict[str, object]:
    match = CONFIG_LINE.search(body)
    assert match, "the served widget has no configuration line"
    return json.loads(match.group(1))


def test_the_served_widget_carries_the_configured_limit_and_the_id_rule(make_client, redis_db):
    response = make_client(max_question_chars=3000).get("/widget/widget.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert WIDGET_CONFIG_PLACEHOLDER not in response.text
    assert _served_config(response.text) == {"maxChars": 3000, "conversationId": CONVERSATION_ID_PATTERN}


def test_the_static_file_holds_no_copy_of_the_rules():
    """Only the placeholder: a limit or id pattern written into the file could drift from the server's."""
    source = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    assert source.count(WIDGET_CONFIG_PLACEHOLDER) == 1
    assert not re.search(r"\b2000\b", source) and "{6,100}" not in source


def test_a_changed_limit_changes_the_etag_and_an_unchanged_file_costs_a_304(make_client, redis_db):
    small, large = make_client(max_question_chars=1000), make_client(max_question_chars=3000)
    first = small.get("/widget/widget.js")
    assert first.headers["cache-control"] == "no-cache"
    again = small.get("/widget/widget.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    other = large.get("/widget/widget.js", headers={"If-None-Match": first.headers["etag"]})
    assert other.status_code == 200 and other.headers["etag"] != first.headers["etag"]
