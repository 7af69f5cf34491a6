"""Handoff reasons are one enum from the answer action to the council report.

The action used to send "repeated_abstention" while events, metrics and report labels said
"repeated_failure", so the report printed a raw key; the metrics tests did not notice because their
scenario writes the reason by hand. Here the reason comes from the real rasa_sdk actions (through
the executor the gateway mounts at /webhooks/actions), is read by the turn handler, queued by the
handoff service on real Redis, copied to SQL by the event writer and rendered in the report.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

import redis
import sqlalchemy as sa

from actions.webhook import build_executor
from bot.conversation.store import ConversationStore
from bot.eventlog.writer import EventWriter
from bot.handoff.service import HandoffReason, HandoffService
from bot.handoff.teams import load_teams
from bot.metrics.compute import Metrics, MetricsQuery
from bot.metrics.render import render_report
from bot.metrics.service import REASON_NAMES, build_view, reason_name
from bot.settings import Settings
from bot.turns.handler import TurnHandler

TZ = "Europe/Berlin"
UNANSWERABLE = ["Wie hoch ist der Eiffelturm in Metern genau?", "Welche Farbe hat der Mond bei einer Mondfinsternis?"]


def _call(action: str, cid: str, slots: dict[str, Any], text: str, intent: str) -> dict[str, Any]:
    """An action call as Rasa 3.6 sends it to the action server (tracker state and domain)."""
    return {
        "next_action": action,
        "sender_id": cid,
        "version": "3.6.21",
        "domain": {"slots": {name: {"type": "any"} for name in slots}},
        "tracker": {
            "sender_id": cid,
            "slots": slots,
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


def _rest_output(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What Rasa's REST channel returns for the action's messages: text (with buttons), then custom JSON apart."""
    out: list[dict[str, Any]] = []
    for response in responses:
        if response.get("text"):
            out.append({"text": response["text"], "buttons": response.get("buttons") or []})
        if response.get("custom"):
            out.append({"custom": response["custom"]})
    return out


def _run(executor: Any, call: dict[str, Any], slots: dict[str, Any]) -> list[dict[str, Any]]:
    """Run one action; its slot events update `slots` the way Rasa's tracker would."""
    # in its own thread: in the full suite the browser tests' sync Playwright leaves an event loop
    # running in the main thread, where asyncio.run() refuses to start another one
    with ThreadPoolExecutor(max_workers=1) as worker:
        result = worker.submit(asyncio.run, executor.run(json.loads(json.dumps(call)))).result().model_dump()
    for event in result["events"]:
        if event.get("event") == "slot":
            slots[event["name"]] = event["value"]
    return _rest_output(result["responses"])


def _action_stack(redis_client: redis.Redis, answerer: Any, settings: Settings) -> tuple[Any, ...]:
    """Store, handoff service, turn handler and action executor over one Redis, as the gateway wires them."""
    store = ConversationStore(redis_client)
    handoff = HandoffService(store, load_teams(), answerer.index.services)
    return store, handoff, TurnHandler(settings, store, answerer, handoff), build_executor(answerer)


def _fresh_slots() -> dict[str, Any]:
    return {"abstain_count": 0.0, "service": None, "handoff_reason": None, "handoff_offered": None}


def test_repeated_failure_from_the_action_reaches_the_report_in_german(
    redis_client: redis.Redis, engine: sa.Engine, answerer: Any, demo_settings: Settings
) -> None:
    store, handoff, router, executor = _action_stack(redis_client, answerer, demo_settings)
    cid = f"reason-{uuid.uuid4().hex[:8]}"
    slots = _fresh_slots()
    handoffs: list[tuple[HandoffReason, str | None]] = []

    for question in UNANSWERABLE:  # two unanswered questions: the action offers a person
        store.get_or_create(cid, "web")
        raw = _run(executor, _call("action_answer_from_knowledge", cid, slots, question, "nlu_fallback"), slots)
        router._from_rasa(cid, raw, handoffs, question)
    assert slots["handoff_offered"] is True, slots
    raw = _run(executor, _call("action_handoff", cid, slots, "Ja, bitte verbinden", "affirm"), slots)
    router._from_rasa(cid, raw, handoffs)
    assert handoffs == [(HandoffReason.REPEATED_FAILURE, None)]
    for reason, service in handoffs:  # as TurnHandler.handle does after the bot's words
        handoff.request(cid, reason, service, "citizen", False)

    events = [json.loads(entry["event"]) for _, entry in redis_client.xrange("bb:events")]
    offered = [e["payload"]["reason"] for e in events if e["type"] == "handoff_offered"]
    requested = [e["payload"]["reason"] for e in events if e["type"] == "handoff_requested"]
    assert offered == requested == [HandoffReason.REPEATED_FAILURE.value]

    EventWriter(redis_client, engine).drain()
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    view = build_view(Metrics(engine, TZ, 6.0), MetricsQuery(today, today), demo_settings)
    assert view["summary"]["handoff_reasons"] == {HandoffReason.REPEATED_FAILURE.value: 1}
    html = render_report(view, dt.datetime.now())
    assert REASON_NAMES[HandoffReason.REPEATED_FAILURE] in html
    assert "repeated_" not in html  # no raw key, neither the old nor the new one


def test_every_handoff_reason_has_a_german_report_label() -> None:
    assert set(REASON_NAMES) == set(HandoffReason)
    for reason in HandoffReason:
        label = REASON_NAMES[reason]
        assert label and label != reason.value and "_" not in label


def test_old_spellings_in_trackers_and_event_logs_are_read_as_the_enum() -> None:
    assert HandoffReason.parse("repeated_abstention") is HandoffReason.REPEATED_FAILURE
    assert reason_name("repeated_abstention") == REASON_NAMES[HandoffReason.REPEATED_FAILURE]
    assert HandoffReason.parse(None) is HandoffReason.REQUESTED
    assert HandoffReason.parse("no-such-reason") is HandoffReason.REQUESTED


def test_daily_aggregates_with_the_old_spelling_count_under_the_enum() -> None:
    from collections import Counter

    from bot.metrics.compute import summarize

    counters = Counter({"handoff_reason:repeated_abstention": 2, "handoff_reason:repeated_failure": 1})
    assert summarize(counters)["handoff_reasons"] == {HandoffReason.REPEATED_FAILURE.value: 3}


def test_a_request_for_a_person_that_nlu_took_for_a_question_is_offered_a_person_at_once(
    redis_client: redis.Redis, answerer: Any, demo_settings: Settings
) -> None:
    """The answer action does what `action_offer_handoff` does, not wait for a second failure."""
    store, _handoff, router, executor = _action_stack(redis_client, answerer, demo_settings)
    cid = f"person-{uuid.uuid4().hex[:8]}"
    slots = _fresh_slots()
    handoffs: list[tuple[HandoffReason, str | None]] = []
    store.get_or_create(cid, "web")
    question = "Ich möchte bitte mit einem Menschen sprechen."
    raw = _run(executor, _call("action_answer_from_knowledge", cid, slots, question, "nlu_fallback"), slots)
    router._from_rasa(cid, raw, handoffs, question)
    assert slots["handoff_offered"] is True and slots["abstain_count"] == 0.0, slots
    assert slots["handoff_reason"] == HandoffReason.REQUESTED.value, slots
    texts_shown = [message["text"] for message in raw if message.get("text")]
    assert texts_shown and all("Sozialdienst" not in text for text in texts_shown)
