"""Sources exactly once on every channel, and the languages of an answer marked (issue 16, items 6 and 7).

The knowledge engine hands sources over as data (`Answer.sources`); text-only channels render them in
one place (`bot.turns.presentation`, used by `connectors.common.display_text` and the partner API).
"""

from __future__ import annotations

import hashlib

import pytest

from bot.conversation.store import Message
from bot.turns.answers import reply_to
from bot.turns.presentation import language_parts, reply_data
from connectors.common import display_text
from connectors.whatsapp.connector import WhatsAppSender
from tests.unit.connectors.conftest import conversation_keys

URL = "https://stadt.muenchen.de/service/info/reisepass"
SOURCES = [
    {"title": "Reisepass", "section": "gebuehren", "section_label": "Gebühren", "url": URL, "updated": "2026-01-31"},
    {"title": "Reisepass", "section": "unterlagen", "section_label": "Unterlagen", "url": URL, "updated": None},
]
ANSWER = "Reisepass\n\nGebühren:\n- 70 Euro für Personen ab 24 Jahren"
PARTNER_KEY = "bbp_sources-test-key"


def bot_message(text: str, **data: object) -> Message:
    return Message(conversation_id="conv-sources", role="bot", text=text, data={"sources": SOURCES, **data})


def test_text_channels_show_the_sources_from_the_data_once():
    shown = display_text(bot_message(ANSWER))  # the engine no longer writes the source into the text
    assert shown.startswith(ANSWER)
    assert shown.count(URL) == 1, shown
    assert "Quelle: Reisepass (Gebühren, Unterlagen): " + URL + " (Stand: 31.01.2026)" in shown


def test_a_raw_source_line_in_the_text_is_not_repeated():
    older = bot_message(f"{ANSWER}\n\nQuelle: {URL} (Stand: 31.01.2026)")  # stored before the change
    shown = display_text(older)
    assert shown.count(URL) == 1, shown
    assert shown.count("Stand: 31.01.2026") == 1, shown


def test_several_pages_are_listed_and_english_gets_english_labels():
    other = {"title": "Kinderreisepass", "section_label": "Gebühren", "url": URL + "-kind", "updated": "2026-02-01"}
    message = bot_message(ANSWER, language="en")
    message.data["sources"] = [*SOURCES, other]
    shown = display_text(message)
    assert "Sources:\n- Reisepass (Gebühren, Unterlagen): " + URL + " (as of: 2026-01-31)" in shown
    assert f"- Kinderreisepass (Gebühren): {URL}-kind (as of: 2026-02-01)" in shown


def test_messages_without_sources_are_unchanged():
    staff = Message(conversation_id="conv-sources", role="staff", text=f"Siehe {URL}")
    assert display_text(staff) == f"Mitarbeiterin oder Mitarbeiter:\nSiehe {URL}"
    hostile = Message(conversation_id="c", role="bot", text="Hallo", data={"sources": "kaputt"})
    assert display_text(hostile) == "Hallo"


def test_english_question_marks_the_official_german_text(answerer):
    reply = reply_to(answerer, "How much does a passport cost?")
    assert reply.kind == "answer" and reply.answer.language == "en"
    data = reply_data(reply)
    parts = data["parts"]
    assert "\n\n".join(p["text"] for p in parts) == reply.text
    assert parts[0]["lang"] == "en" and "German" in parts[0]["text"]
    assert parts[-1]["lang"] == "de" and "Reisepass" in parts[-1]["text"]
    german = reply_data(reply_to(answerer, "Was kostet ein Reisepass?"))
    assert "parts" not in german and german["language"] == "de"


def test_language_parts_keep_short_and_mixed_paragraphs_german():
    text = "Here is what the official page says:\n\nOnline-Dienst\n\nGebühren:\n- 37,50 Euro"
    assert language_parts(text, "en") == [
        {"lang": "en", "text": "Here is what the official page says:"},
        {"lang": "de", "text": "Online-Dienst\n\nGebühren:\n- 37,50 Euro"},
    ]


@pytest.fixture
def partner(make_client):
    return make_client(partner_api_keys={"acme": hashlib.sha256(PARTNER_KEY.encode()).hexdigest()})


def test_partner_api_text_and_display_text_carry_each_source_once(partner, redis_db):
    response = partner.post(
        "/api/v1/partner/conversations/src-1/messages",
        headers={"X-API-Key": PARTNER_KEY},
        json={"text": "Was kostet ein Reisepass?"},
    )
    assert response.status_code == 200, response.text
    [reply] = response.json()["messages"]
    url = reply["sources"][0]["url"]
    assert url not in reply["text"], "the sources travel in `sources`, not as a raw line in the text"
    assert reply["display_text"].count(url) == 1 and "Stand: " in reply["display_text"]
    assert conversation_keys(redis_db)


def test_whatsapp_renders_the_sources_too(redis_db):
    sender = WhatsAppSender.__new__(WhatsAppSender)  # render() needs Redis for the options, no API client
    sender.redis = redis_db
    contents = sender.render(bot_message(ANSWER))
    text = "\n".join(c["text"]["body"] for c in contents if c["type"] == "text")
    assert text.count(URL) == 1 and "Stand: 31.01.2026" in text
