"""A known sequence of events whose metrics are computed by hand in test_metrics.py.

Days are local (Europe/Berlin): five conversations on Monday 2 November 2026, three on Tuesday.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bot.conversation.events import Event, EventType

TZ = ZoneInfo("Europe/Berlin")
DAY1 = dt.date(2026, 11, 2)
DAY2 = dt.date(2026, 11, 3)
T1 = dt.datetime.combine(DAY1, dt.time(9, 0), TZ).timestamp()
T2 = dt.datetime.combine(DAY2, dt.time(14, 0), TZ).timestamp()

HUND_1 = "Darf mein Hund ohne Leine in den Park?"
HUND_2 = "Muss mein Hund im Park an die Leine?"
APOTHEKE = "Kann ich meinen Perso in der Apotheke abholen?"


def _e(cid: str, kind: EventType, ts: float, actor: str = "bot", **payload: object) -> Event:
    return Event(conversation_id=cid, type=kind, actor=actor, ts=ts, payload=payload)


def scenario_events() -> list[Event]:
    t, u = T1, T2
    E = EventType  # noqa: N806 - short alias keeps the table of events readable
    return [
        # c1: web, personalausweis, two answers, helpful -> contained
        _e("c1", E.MESSAGE_IN, t + 0, "citizen", channel="web", language="de"),
        _e("c1", E.BOT_ANSWER, t + 2, service="personalausweis", confidence=0.8),
        _e("c1", E.MESSAGE_IN, t + 10, "citizen", channel="web"),
        _e("c1", E.BOT_ANSWER, t + 12, service="personalausweis", confidence=0.7),
        _e("c1", E.FEEDBACK, t + 20, "citizen", helpful=True),
        # c2: web, reisepass, abstain then answer, not helpful -> unresolved
        _e("c2", E.MESSAGE_IN, t + 100, "citizen", channel="web"),
        _e("c2", E.BOT_ABSTAIN, t + 101, reason="abstain", question=HUND_1),
        _e("c2", E.MESSAGE_IN, t + 110, "citizen", channel="web"),
        _e("c2", E.BOT_ANSWER, t + 111, service="reisepass", confidence=0.4),
        _e("c2", E.FEEDBACK, t + 120, "citizen", helpful=False),
        # c3: telegram, kfz-zulassung, handed over to team kfz, waited 50 s, first reply 80 s, handled 240 s
        _e("c3", E.MESSAGE_IN, t + 200, "citizen", channel="telegram"),
        _e("c3", E.BOT_ANSWER, t + 201, service="kfz-zulassung", confidence=0.3),
        _e("c3", E.HANDOFF_OFFERED, t + 202, reason="low_confidence"),
        _e("c3", E.HANDOFF_REQUESTED, t + 210, "citizen", reason="requested", service="kfz-zulassung", team="kfz",
           channel="telegram"),
        _e("c3", E.HANDOFF_ACCEPTED, t + 260, "staff:anna", staff="anna", team="kfz", waited_s=50),
        _e("c3", E.STAFF_MESSAGE, t + 290, "staff:anna", staff="anna", team="kfz"),
        _e("c3", E.MESSAGE_IN, t + 300, "citizen", channel="telegram"),
        _e("c3", E.STAFF_MESSAGE, t + 320, "staff:anna", staff="anna", team="kfz"),
        _e("c3", E.CLOSED, t + 500, "staff:anna", by="staff", resolution="erledigt", team="kfz"),
        # c4: web, personalausweis, handoff after repeated failure, left the queue after 600 s
        _e("c4", E.MESSAGE_IN, t + 1000, "citizen", channel="web"),
        _e("c4", E.BOT_ABSTAIN, t + 1001, reason="abstain", question=APOTHEKE),
        _e("c4", E.HANDOFF_REQUESTED, t + 1010, "system", reason="repeated_failure", service="personalausweis",
           team="buergerbuero", channel="web"),
        _e("c4", E.ABANDONED, t + 1610, "system", waited_s=600, team="buergerbuero"),
        # c5: matrix, no service, clarify then abstain -> unresolved
        _e("c5", E.MESSAGE_IN, t + 2000, "citizen", channel="matrix"),
        _e("c5", E.BOT_CLARIFY, t + 2001, confidence=0.2),
        _e("c5", E.MESSAGE_IN, t + 2010, "citizen", channel="matrix"),
        _e("c5", E.BOT_ABSTAIN, t + 2011, reason="abstain", question=HUND_2),
        # c6 (day 2): web, personalausweis, buergerbuero -> transferred to auslaender; wait 30, first 40, handled 305
        _e("c6", E.MESSAGE_IN, u + 0, "citizen", channel="web"),
        _e("c6", E.BOT_ANSWER, u + 1, service="personalausweis", confidence=0.6),
        _e("c6", E.HANDOFF_REQUESTED, u + 5, "citizen", reason="requested", service="personalausweis",
           team="buergerbuero", channel="web"),
        _e("c6", E.HANDOFF_ACCEPTED, u + 35, "staff:ben", staff="ben", team="buergerbuero", waited_s=30),
        _e("c6", E.STAFF_MESSAGE, u + 45, "staff:ben", staff="ben"),
        _e("c6", E.TRANSFERRED, u + 100, "staff:ben", staff="ben", from_team="buergerbuero", to_team="auslaender"),
        _e("c6", E.HANDOFF_ACCEPTED, u + 160, "staff:cem", staff="cem", team="auslaender", waited_s=95),
        _e("c6", E.STAFF_MESSAGE, u + 170, "staff:cem", staff="cem"),
        _e("c6", E.CLOSED, u + 400, "staff:cem", by="staff", resolution="erledigt", team="auslaender"),
        # c7 (day 2): web, reisepass, answered, then asked for a call back -> neither contained nor handoff
        _e("c7", E.MESSAGE_IN, u + 1000, "citizen", channel="web"),
        _e("c7", E.BOT_ANSWER, u + 1001, service="reisepass", confidence=0.5),
        _e("c7", E.CALLBACK_REQUESTED, u + 1010, "citizen", team="buergerbuero", contact_kind="email"),
        # c8 (day 2): web, personalausweis, one answer, no feedback -> contained
        _e("c8", E.MESSAGE_IN, u + 2000, "citizen", channel="web"),
        _e("c8", E.BOT_ANSWER, u + 2001, service="personalausweis", confidence=0.9),
    ]  # fmt: skip
