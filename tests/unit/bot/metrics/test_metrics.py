"""Every metric from the known event sequence (scenario.py), compared with hand-computed values."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.conversation.store import ConversationStore
from bot.eventlog.writer import EventWriter
from bot.metrics.compute import Metrics, MetricsQuery
from bot.metrics.gaps import content_gaps
from bot.metrics.retention import run_retention
from tests.unit.bot.metrics.scenario import APOTHEKE, DAY1, DAY2, HUND_1, HUND_2, scenario_events

TZ = "Europe/Berlin"


@pytest.fixture
def metrics(redis_client, engine) -> Metrics:
    store = ConversationStore(redis_client)
    for event in scenario_events():
        store.emit(event)
    EventWriter(redis_client, engine).drain()
    return Metrics(engine, TZ, minutes_per_contact=6.0, minutes_per_service={"personalausweis": 10.0})


def test_headline_figures(metrics: Metrics) -> None:
    s = metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2)))
    assert s["conversations"] == 8
    assert s["citizen_messages"] == 12  # c1 2, c2 2, c3 2, c4 1, c5 2, c6 1, c7 1, c8 1
    assert s["staff_messages"] == 4  # c3 2, c6 2
    assert s["bot_replies"] == 11  # 7 answers + 3 abstentions + 1 clarification
    assert s["contained"] == 2  # c1 and c8 (c2's last feedback was "not helpful")
    assert s["containment_rate"] == 0.25
    assert s["unresolved"] == 2  # c2, c5
    assert s["handoffs"] == 3  # c3, c4, c6
    assert s["handoff_rate"] == 0.375
    assert s["handoff_reasons"] == {"repeated_failure": 1, "requested": 2}
    assert s["handoffs_offered"] == 1
    assert s["callbacks"] == 1  # c7
    assert s["abandoned"] == 1  # c4
    assert s["abandonment_rate"] == round(1 / 3, 4)
    assert s["abstentions"] == 3
    assert s["abstention_rate"] == round(3 / 11, 4)
    assert (s["feedback_helpful"], s["feedback_not_helpful"], s["helpful_rate"]) == (1, 1, 0.5)
    assert s["queue_wait_s_mean"] == 40.0  # c3 50 s, c6 30 s (first request to first acceptance)
    assert s["first_response_s_mean"] == 60.0  # c3 80 s, c6 40 s
    assert s["handling_s_mean"] == 272.5  # c3 240 s; c6 65 s + 240 s = 305 s
    assert s["minutes_saved"] == 20.0  # c1 and c8 are personalausweis: 2 x 10 minutes


def test_per_day_channel_service_and_team(metrics: Metrics) -> None:
    table = metrics.table(MetricsQuery(DAY1, DAY2))
    days = {row["period"]: row for row in metrics.trend(table, "day")}
    assert {d: r["conversations"] for d, r in days.items()} == {"2026-11-02": 5, "2026-11-03": 3}
    assert {d: r["minutes_saved"] for d, r in days.items()} == {"2026-11-02": 10.0, "2026-11-03": 10.0}
    assert [r["period"] for r in metrics.trend(table, "week")] == ["2026-W45"]
    channels = {r["channel"]: r["conversations"] for r in metrics.breakdown(table, "channel")}
    assert channels == {"web": 6, "telegram": 1, "matrix": 1}
    services = {r["service"]: r for r in metrics.breakdown(table, "service")}
    assert {k: v["conversations"] for k, v in services.items()} == {
        "personalausweis": 4, "reisepass": 2, "kfz-zulassung": 1, "-": 1,
    }  # fmt: skip
    assert services["personalausweis"]["containment_rate"] == 0.5
    assert services["personalausweis"]["minutes_saved"] == 20.0
    assert services["reisepass"]["minutes_per_contact"] == 6.0
    teams = {r["team"]: r["conversations"] for r in metrics.breakdown(table, "team")}
    assert teams == {"-": 4, "kfz": 1, "buergerbuero": 2, "auslaender": 1}  # c6 ends with the team it went to

    one_day = metrics.summary(metrics.table(MetricsQuery(DAY2, DAY2)))
    assert (one_day["conversations"], one_day["contained"], one_day["handoffs"]) == (3, 1, 1)
    team = metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2, team="buergerbuero")))
    assert (team["conversations"], team["handoffs"], team["callbacks"], team["abandoned"]) == (2, 1, 1, 1)
    web_pa = metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2, channel="web", service="personalausweis")))
    assert (web_pa["conversations"], web_pa["contained"], web_pa["minutes_saved"]) == (4, 2, 20.0)
    assert (
        metrics.summary(metrics.table(MetricsQuery(DAY2 + dt.timedelta(days=1), DAY2 + dt.timedelta(days=9))))[
            "conversations"
        ]
        == 0
    )


def test_content_gaps_group_similar_questions(metrics: Metrics) -> None:
    gaps = content_gaps(metrics.engine, DAY1, DAY2, TZ)
    assert [g.count for g in gaps] == [2, 1]
    assert sorted(gaps[0].examples) == sorted([HUND_1, HUND_2])
    assert gaps[0].label in (HUND_1, HUND_2)  # named by its most typical question, not by keywords
    assert gaps[0].examples[0] == gaps[0].label
    assert gaps[1].examples == [APOTHEKE] and gaps[1].label == APOTHEKE


def test_content_gap_labels_are_real_questions_and_redacted() -> None:
    from bot.metrics.gaps import group_questions

    bingen = ["Wo in Bingen ist die längste Bar?", "Welche Bar in Bingen hat am längsten offen?",
              "Welche Bar in Bingen hat am längsten offen?", "Bar Bingen längsten geöffnet"]  # fmt: skip
    (group,) = group_questions(bingen)
    assert group.label == "Welche Bar in Bingen hat am längsten offen?"  # the most typical, as asked
    (group,) = group_questions(["Bar Bingen längsten geöffnet", "Welche Bar in Bingen hat am längsten offen?"])
    assert group.label == "Welche Bar in Bingen hat am längsten offen?"  # a sentence before search words
    older = "Schreiben Sie mir an erika.mustermann@example.org, ob Beamen erlaubt ist"  # stored before a rule existed
    (gap,) = group_questions([older])
    assert "erika" not in gap.label and "[E-MAIL]" in gap.label and "Beamen" in gap.label


def test_retention_keeps_the_same_figures_without_transcripts(metrics: Metrics) -> None:
    before = metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2)))
    # 90 days after day 2: everything is expired
    now = dt.datetime.combine(DAY2 + dt.timedelta(days=91), dt.time(3, 0)).timestamp()
    result = run_retention(metrics.engine, 90, TZ, now=now)
    assert (result.conversations, result.events_deleted) == (8, len(scenario_events()))
    after = metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2)))
    assert after == before
    assert content_gaps(metrics.engine, DAY1, DAY2, TZ) == []  # questions go with the transcripts
    assert run_retention(metrics.engine, 90, TZ, now=now).conversations == 0  # nothing counted twice
    assert metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2))) == before


def test_retention_only_expires_old_days(metrics: Metrics) -> None:
    now = dt.datetime.combine(DAY2 + dt.timedelta(days=1), dt.time(3, 0)).timestamp()
    result = run_retention(metrics.engine, 2, TZ, now=now)  # cutoff: local midnight of day 1 -> nothing
    assert result.conversations == 0
    result = run_retention(metrics.engine, 1, TZ, now=now)  # cutoff: day 2 -> the five day-1 conversations
    assert result.conversations == 5
    s = metrics.summary(metrics.table(MetricsQuery(DAY1, DAY2)))
    assert (s["conversations"], s["contained"], s["handling_s_mean"]) == (8, 2, 272.5)
