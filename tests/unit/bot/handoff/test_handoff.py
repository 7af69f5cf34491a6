"""The handoff state machine on a real Redis: queueing, the take race, transfer, hand-back, close, callback."""

from __future__ import annotations

import datetime as dt
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import redis

from bot.conversation.events import EventType
from bot.conversation.store import ConversationState, ConversationStore, Message
from bot.handoff.office_hours import OfficeHours, OfficeHoursError, describe_next
from bot.handoff.service import HandoffError, HandoffService, StaffMember
from bot.handoff.teams import load_teams

BERLIN = ZoneInfo("Europe/Berlin")
ANNA = StaffMember(username="anna", display_name="Frau Berger", role="agent", teams=["buergerbuero"])
BEN = StaffMember(username="ben", display_name="Herr Yılmaz", role="agent", teams=["kfz"])


@pytest.fixture
def handoff(redis_url: str, demo_index) -> HandoffService:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    return HandoffService(ConversationStore(client), load_teams(), demo_index.services)


def events(handoff: HandoffService, conversation_id: str) -> list[dict]:
    import json

    rows = handoff.redis.xrange("bb:events")
    found = [json.loads(fields["event"]) for _id, fields in rows]
    return [e for e in found if e["conversation_id"] == conversation_id]


def citizen_says(handoff: HandoffService, conversation_id: str, text: str) -> None:
    handoff.store.get_or_create(conversation_id, channel="web")
    handoff.store.append(Message(conversation_id=conversation_id, role="citizen", text=text))


def test_office_hours_parse_open_and_next_opening():
    hours = OfficeHours.parse("Mo-Fr 08:00-18:00; Sa 09:00-12:00", closed_dates=["2026-12-24"])
    wednesday_noon = dt.datetime(2026, 11, 25, 12, 0, tzinfo=BERLIN)
    assert hours.is_open(wednesday_noon)
    assert not hours.is_open(wednesday_noon.replace(hour=19))
    friday_evening = dt.datetime(2026, 11, 27, 19, 0, tzinfo=BERLIN)
    assert hours.next_opening(friday_evening) == dt.datetime(2026, 11, 28, 9, 0, tzinfo=BERLIN)
    assert describe_next(hours.next_opening(friday_evening), friday_evening) == "morgen um 09:00 Uhr"
    christmas_eve = dt.datetime(2026, 12, 24, 10, 0, tzinfo=BERLIN)  # a Thursday, but closed
    assert not hours.is_open(christmas_eve)
    assert hours.describe() == "Mo–Fr 08:00–18:00 Uhr; Sa 09:00–12:00 Uhr"
    with pytest.raises(OfficeHoursError):
        OfficeHours.parse("Montag bis Freitag")
    with pytest.raises(OfficeHoursError):
        OfficeHours.parse("Mo 18:00-08:00")


def test_responsible_team_comes_from_the_zustaendige_stelle(demo_index):
    teams = load_teams()
    services = demo_index.services
    assert teams.team_for(services["personalausweis"]) == "buergerbuero"
    assert teams.team_for(services["hundesteuer"]) == "finanzen"
    assert teams.team_for(None) == "buergerservice"
    kfz = [s for s in services.values() if "zulassung" in s.id]
    assert kfz and all(teams.team_for(s) == "kfz" for s in kfz)


def test_request_queues_once_with_team_and_honest_status(handoff: HandoffService):
    citizen_says(handoff, "conv-aaaa", "Mein Perso läuft ab")
    handoff.store.update("conv-aaaa", service="personalausweis")
    first = handoff.request("conv-aaaa", "requested")
    again = handoff.request("conv-aaaa", "requested")
    assert first.state is ConversationState.QUEUED and again.queued_at == first.queued_at
    assert first.team == "buergerbuero" and first.priority == 0
    assert handoff.position("conv-aaaa") == 1
    status = [m for m in handoff.store.history("conv-aaaa") if m.role == "system"]
    assert len(status) == 1  # idempotent: one status line, one event
    requested = [e for e in events(handoff, "conv-aaaa") if e["type"] == EventType.HANDOFF_REQUESTED]
    assert len(requested) == 1 and requested[0]["payload"]["team"] == "buergerbuero"


def test_status_message_depends_on_office_hours_and_staff_online(handoff: HandoffService):
    citizen_says(handoff, "conv-hours", "Frage")
    handoff.store.update("conv-hours", service="personalausweis")  # Bürgerbüro's, not the general team's
    conversation = handoff.request("conv-hours", "requested", announce=False)
    open_now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)
    night = dt.datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN)
    nobody = handoff.status_message(conversation, open_now)
    assert "alle Mitarbeitenden" in nobody.text and nobody.buttons[0].payload == "/request_callback"
    handoff.heartbeat(BEN)  # online, but in another team: does not count for this conversation
    assert "alle Mitarbeitenden" in handoff.status_message(conversation, open_now).text
    handoff.heartbeat(StaffMember(username="cem", display_name="Herr Cem", teams=["buergerbuero"]))
    someone = handoff.status_message(conversation, open_now)
    assert "Position 1" in someone.text and not someone.buttons
    closed = handoff.status_message(conversation, night)
    assert "morgen um 08:00 Uhr" in closed.text and closed.buttons


def test_urgent_topics_jump_the_queue(handoff: HandoffService):
    citizen_says(handoff, "conv-normal", "Ich brauche einen neuen Reisepass")
    handoff.request("conv-normal", "requested")
    time.sleep(0.01)
    citizen_says(handoff, "conv-urgent", "Mein Vater ist gestorben, was muss ich tun?")
    urgent = handoff.request("conv-urgent", "requested")
    assert urgent.priority == 1
    assert [e.conversation.id for e in handoff.queue()] == ["conv-urgent", "conv-normal"]


def test_exactly_one_agent_wins_the_race(handoff: HandoffService):
    citizen_says(handoff, "conv-race", "Hallo")
    handoff.request("conv-race", "requested")
    agents = [StaffMember(username=f"agent{i}", display_name=f"Agent {i}") for i in range(8)]
    winners: list[str] = []
    losers: list[str] = []
    barrier = threading.Barrier(len(agents))

    def attempt(agent: StaffMember) -> None:
        barrier.wait()
        try:
            handoff.take("conv-race", agent)
            winners.append(agent.username)
        except HandoffError as exc:
            losers.append(str(exc))

    threads = [threading.Thread(target=attempt, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1 and len(losers) == 7
    conversation = handoff.store.get("conv-race")
    assert conversation and conversation.assignee == winners[0] and conversation.state is ConversationState.STAFF
    joined = [m for m in handoff.store.history("conv-race") if m.data.get("kind") == "staff_joined"]
    assert len(joined) == 1
    assert handoff.position("conv-race") is None


def test_reply_note_transfer_hand_back_and_close(handoff: HandoffService):
    citizen_says(handoff, "conv-flow", "Wie melde ich mein Auto an?")
    handoff.request("conv-flow", "requested")
    handoff.take("conv-flow", ANNA)
    handoff.reply("conv-flow", ANNA, "Guten Tag, ich schaue nach.")
    with pytest.raises(HandoffError):
        handoff.reply("conv-flow", BEN, "Ich bin nicht zuständig")  # not holding it
    handoff.add_note("conv-flow", ANNA, "Kfz-Thema, an Team Kfz")
    assert [n.text for n in handoff.notes("conv-flow")] == ["Kfz-Thema, an Team Kfz"]
    assert all("Kfz-Thema" not in m.text for m in handoff.store.history("conv-flow"))  # notes stay internal
    moved = handoff.transfer("conv-flow", ANNA, "kfz")
    assert moved.state is ConversationState.QUEUED and moved.team == "kfz" and handoff.position("conv-flow") == 1
    handoff.take("conv-flow", BEN)
    handoff.hand_back("conv-flow", BEN)
    back = handoff.store.get("conv-flow")
    assert back and back.state is ConversationState.BOT and back.assignee is None
    handoff.take("conv-flow", ANNA)  # stepping into a live bot conversation is allowed
    with pytest.raises(HandoffError):
        handoff.close("conv-flow", ANNA, "no-such-code")
    closed = handoff.close("conv-flow", ANNA, "answered")
    assert closed.state is ConversationState.CLOSED
    kinds = [e["type"] for e in events(handoff, "conv-flow")]
    for expected in ("handoff_requested", "handoff_accepted", "staff_message", "note_added", "transferred",
                     "handed_back", "closed"):  # fmt: skip
        assert expected in kinds
    system = [m.data.get("kind") for m in handoff.store.history("conv-flow") if m.role == "system"]
    assert system.count("staff_joined") == 3 and "staff_left" in system and system[-1] == "closed"


def test_callback_ticket_needs_consent_and_keeps_contact_out_of_events(handoff: HandoffService):
    citizen_says(handoff, "conv-call", "Bitte um Rückruf wegen Hundesteuer")
    with pytest.raises(HandoffError):
        handoff.request_callback("conv-call", "phone", "089 123456", "", consent=False)
    conversation = handoff.request_callback("conv-call", "phone", "089 123456", "Hundesteuer", consent=True)
    assert conversation.state is ConversationState.QUEUED
    assert conversation.callback and conversation.callback["contact"] == "089 123456"
    assert all("089 123456" not in str(e) for e in events(handoff, "conv-call"))
    entry = handoff.queue()[0]
    assert entry.conversation.callback and entry.conversation.id == "conv-call"


def test_silent_queued_citizens_count_as_abandoned(handoff: HandoffService):
    citizen_says(handoff, "conv-gone", "Hallo?")
    handoff.request("conv-gone", "requested")
    assert handoff.sweep_abandoned(idle_s=3600) == []
    assert handoff.sweep_abandoned(idle_s=0) == ["conv-gone"]
    assert handoff.position("conv-gone") is None
    assert [e["type"] for e in events(handoff, "conv-gone")][-1] == "abandoned"


def test_waiting_citizens_learn_their_new_position(handoff: HandoffService):
    import json

    for cid in ("conv-pos-1", "conv-pos-2", "conv-pos-3"):
        citizen_says(handoff, cid, "Hallo")
        handoff.request(cid, "requested")
    pubsub = handoff.redis.pubsub()
    pubsub.subscribe("bb:live:conv-pos-3")
    pubsub.get_message(timeout=1)  # subscription confirmation
    handoff.take("conv-pos-1", ANNA)
    frames = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        item = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if item:
            frames.append(json.loads(item["data"]))
        if {"kind": "state", "state": "queued", "position": 2} in frames:
            break
    pubsub.close()
    assert {"kind": "state", "state": "queued", "position": 2} in frames
    assert handoff.position("conv-pos-3") == 2
