"""What staff read about a conversation (issue 16, item 10): the citizen's question, offered options,
open callback tickets and unanswered questions, over the real console API on a real Redis."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bot.conversation.store import Button, Message
from tests.unit.connectors.console.conftest import login, make_user


def ask(client: TestClient, cid: str, text: str, payload: str | None = None) -> dict:
    response = client.post(f"/api/conversations/{cid}/messages", json={"text": text, "payload": payload})
    assert response.status_code == 200, response.text
    return response.json()


def test_queue_headline_is_the_citizens_question_not_the_consent_click(app_client: TestClient):
    make_user(app_client, "anna")
    clicked, typed = "conv-consent-click", "conv-typed-request"
    ask(app_client, clicked, "Was kostet ein Personalausweis?")
    ask(app_client, clicked, "Ja, bitte verbinden", payload="/affirm")  # the consent button
    ask(app_client, typed, "Wie lange dauert ein Reisepass?")
    ask(app_client, typed, "Ich möchte mit einem Menschen sprechen")  # typed by hand: a request, no question
    login(app_client, "anna")
    entries = {e["conversation"]["id"]: e for e in app_client.get("/console/api/queue").json()}
    assert entries[clicked]["question"] == "Was kostet ein Personalausweis?"
    assert entries[typed]["question"] == "Wie lange dauert ein Reisepass?"

    detail = app_client.get(f"/console/api/conversations/{clicked}").json()
    consent = [m for m in detail["messages"] if m["role"] == "citizen"][-1]
    assert consent["text"] == "Ja, bitte verbinden" and consent["choice"] is True
    assert [m["choice"] for m in detail["messages"] if m["role"] == "citizen"] == [False, True]


def test_transcript_lists_the_options_the_bot_offered(app_client: TestClient):
    make_user(app_client, "anna")
    cid = "conv-options"
    ask(app_client, cid, "Ausweis")
    store = app_client.app.state.handoff.store  # type: ignore[attr-defined]
    store.append(
        Message(conversation_id=cid, role="bot", text="Meinen Sie eine dieser Leistungen?",
                buttons=[Button(title="Personalausweis", payload="/choose_service"),
                         Button(title="Reisepass", payload="/choose_service")])
    )  # fmt: skip
    login(app_client, "anna")
    messages = app_client.get(f"/console/api/conversations/{cid}").json()["messages"]
    assert messages[-1]["options"] == ["Personalausweis", "Reisepass"]


def test_an_open_callback_ticket_is_not_dropped_by_a_hand_back(app_client: TestClient):
    make_user(app_client, "anna")
    cid = "conv-callback-open"
    ask(app_client, cid, "Hallo")
    ok = app_client.post(f"/api/conversations/{cid}/callback",
                         json={"contact_kind": "email", "contact": "erika@example.org", "consent": True})  # fmt: skip
    assert ok.status_code == 200
    headers = {"X-CSRF-Token": login(app_client, "anna")["csrf"]}
    assert app_client.post(f"/console/api/conversations/{cid}/take", headers=headers).status_code == 200
    refused = app_client.post(f"/console/api/conversations/{cid}/handback", headers=headers)
    assert refused.status_code == 409 and "Rückruf- oder E-Mail-Bitte" in refused.json()["detail"]
    conversation = app_client.get(f"/console/api/conversations/{cid}").json()["conversation"]
    assert conversation["state"] == "staff" and conversation["callback"]["kind"] == "email"  # still tracked

    moved = app_client.post(f"/console/api/conversations/{cid}/transfer", json={"team": "buergerservice"},
                            headers=headers)  # fmt: skip
    assert moved.status_code == 200
    queued = [e for e in app_client.get("/console/api/queue").json() if e["conversation"]["id"] == cid]
    assert queued and queued[0]["conversation"]["callback"]["contact"] == "erika@example.org"
    app_client.post(f"/console/api/conversations/{cid}/take", headers=headers)
    closed = app_client.post(f"/console/api/conversations/{cid}/close", json={"resolution": "callback"},
                             headers=headers)  # fmt: skip
    assert closed.status_code == 200 and closed.json()["callback"] is None  # done: the ticket ends here


def test_hand_back_knows_the_citizens_last_question_is_unanswered(app_client: TestClient):
    make_user(app_client, "anna")
    cid = "conv-unanswered"
    ask(app_client, cid, "Was kostet ein Personalausweis?")
    ask(app_client, cid, "Ich möchte mit einem Menschen sprechen")
    headers = {"X-CSRF-Token": login(app_client, "anna")["csrf"]}
    taken = app_client.post(f"/console/api/conversations/{cid}/take", headers=headers).json()
    assert taken["unanswered"] is None  # the bot has replied to everything so far
    ask(app_client, cid, "Brauche ich ein biometrisches Foto?")  # staff hold it: the bot stays silent
    detail = app_client.get(f"/console/api/conversations/{cid}").json()
    assert detail["unanswered"] == "Brauche ich ein biometrisches Foto?"

    assert app_client.post(f"/console/api/conversations/{cid}/handback", headers=headers).status_code == 200
    history = app_client.app.state.handoff.store.history(cid)  # type: ignore[attr-defined]
    left = [m for m in history if m.data.get("kind") == "staff_left"][-1]
    assert "noch nicht beantwortet" in left.text and "noch einmal" in left.text

    answered = "conv-answered"
    ask(app_client, answered, "Ich möchte mit einem Menschen sprechen")
    app_client.post(f"/console/api/conversations/{answered}/take", headers=headers)
    ask(app_client, answered, "Hallo?")
    app_client.post(f"/console/api/conversations/{answered}/messages", json={"text": "Guten Tag!"}, headers=headers)
    assert app_client.get(f"/console/api/conversations/{answered}").json()["unanswered"] is None
    app_client.post(f"/console/api/conversations/{answered}/handback", headers=headers)
    history = app_client.app.state.handoff.store.history(answered)  # type: ignore[attr-defined]
    assert "noch nicht beantwortet" not in history[-1].text
