"""What a citizen must be able to trust in the widget (issue 16, items 4–8), in real Chromium.

Two gateways: the session's (default teams file) and one whose chat team is away for the next days,
so "after hours" does not depend on the clock when the tests run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from playwright.sync_api import Page, expect

from bot.conversation.store import ConversationStore, Message
from bot.gateway.embedded_redis import redis_client
from bot.handoff.office_hours import describe_next
from bot.handoff.service import HandoffService, StaffMember
from bot.handoff.teams import DEFAULT_TEAMS_FILE, load_teams
from tests.browser.conftest import WidgetStack
from tests.browser.widget_helpers import DIALOG, ask, conversation_id, messages, open_widget, wait_idle

pytestmark = pytest.mark.slow  # real Chromium against gateway processes

HUMAN = "Mit einem Menschen sprechen"
CALLBACK = "Rückruf oder E-Mail anfordern"
SUPERVISOR = StaffMember(username="sup-trust", display_name="Frau Berger", role="supervisor")
AWAY_DAYS = 4


class TeamsFileStack(WidgetStack):
    """A second knowledge-only gateway on the session's data and Redis, with its own teams file."""

    def __init__(self, data_dir: Path, redis_url: str, teams_file: Path) -> None:
        super().__init__(data_dir, redis_url)
        self.teams_file = teams_file

    def env(self) -> dict[str, str]:
        return {**super().env(), "BUERGERBOT_TEAMS_FILE": str(self.teams_file)}


@pytest.fixture(scope="module")
def away_teams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default teams, all with the same hours, and the team away from today for AWAY_DAYS days."""
    config = yaml.safe_load(DEFAULT_TEAMS_FILE.read_text(encoding="utf-8"))
    today = dt.datetime.now(ZoneInfo(config["timezone"])).date()
    config["office_hours"] = "Mo-So 08:00-18:00"
    config["closed_dates"] = [str(today + dt.timedelta(days=n)) for n in range(AWAY_DAYS)]
    for team in config["teams"]:
        team.pop("office_hours", None)
    path = tmp_path_factory.mktemp("away-teams") / "teams.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def away(stack, redis_url: str, away_teams: Path) -> Iterator[TeamsFileStack]:
    running = TeamsFileStack(stack.data_dir, redis_url, away_teams)  # the index is built already
    running.start(timeout_s=900)
    yield running
    running.stop()


def _store(redis_url: str) -> ConversationStore:
    return ConversationStore(redis_client(redis_url))


def _request_person(page: Page) -> None:
    ask(page, "Was kostet ein Reisepass?")
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)
    page.get_by_role("button", name=HUMAN).click()
    expect(page.get_by_role("button", name=CALLBACK)).to_be_visible()
    wait_idle(page)


def test_after_hours_the_status_line_says_what_the_chat_says(away, away_teams: Path, page: Page, js_errors):
    open_widget(page, away.url)
    _request_person(page)
    hours = load_teams(away_teams).hours(None)
    now = dt.datetime.now(ZoneInfo(hours.timezone))
    describe = describe_next(hours.next_opening(now), now)  # "am Montag um 08:00 Uhr"
    notice = messages(page, "system").last
    expect(notice).to_contain_text(f"also wieder {describe}")
    state = page.locator(".bb-state")
    expect(state).to_have_text(
        f"Ihr Anliegen ist in der Warteschlange. Das Chat-Team ist wieder {describe} für Sie da."
    )
    assert "meldet sich hier" not in state.inner_text()  # no promise that nobody is there to keep

    page.reload()  # the status comes with the socket's first state frame, not only with the live change
    expect(page.get_by_role("dialog", name=DIALOG)).to_be_visible()
    expect(state).to_contain_text(f"wieder {describe}")
    assert js_errors == []


def test_callback_button_is_used_once_and_the_last_message_stays_visible_at_360px(
    away, page: Page, js_errors, redis_url: str, screenshots: Path
):
    page.set_viewport_size({"width": 360, "height": 740})
    open_widget(page, away.url)
    _request_person(page)
    page.get_by_role("button", name=CALLBACK).click()
    page.get_by_label("Ihre E-Mail-Adresse").fill("erika@example.org")
    page.get_by_label(re.compile("Ich bin einverstanden")).check()
    page.get_by_role("button", name="Absenden").click()
    expect(messages(page, "system").last).to_contain_text("Danke! Ihre Bitte ist bei uns eingegangen.")
    done = page.locator(".bb-log .bb-option[data-callback]")
    expect(done).to_be_disabled()
    expect(done).to_have_text("Rückruf oder E-Mail angefordert")
    expect(page.get_by_role("button", name=CALLBACK)).to_have_count(0)
    expect(page.locator(".bb-state")).to_have_text(
        "Ihre Rückruf- oder E-Mail-Bitte ist eingegangen. Das Team meldet sich bei Ihnen."
    )

    HandoffService(_store(redis_url), load_teams(), {}).close(conversation_id(page), SUPERVISOR, "callback")
    expect(page.locator(".bb-state")).to_have_text("Diese Unterhaltung wurde beendet.")
    last = messages(page).last
    expect(last).to_contain_text("Das Gespräch wurde beendet.")
    page.wait_for_timeout(300)  # layout settles after the status line appeared
    box, log = last.bounding_box(), page.locator(".bb-log").bounding_box()
    assert box and log
    assert box["y"] + box["height"] <= log["y"] + log["height"] + 1, (box, log)  # not cut off at the bottom
    assert box["y"] >= log["y"] - 1, (box, log)
    assert log["y"] + log["height"] <= 740 + 1, log
    page.screenshot(path=str(screenshots / "widget-closed-360px.png"))

    page.reload()  # the history still shows the request as done
    expect(page.locator(".bb-log .bb-option[data-callback]")).to_be_disabled()
    assert js_errors == []


def _as_rasa_would_reply(ws) -> None:
    """Relay the widget's socket, turning the answer into a long one followed by "War das hilfreich?".

    That is how a Rasa turn arrives (two bot messages before the typing indicator goes); the
    knowledge-only gateway of the browser tests sends one.
    """
    server = ws.connect_to_server()
    changed: list[int] = []

    def from_server(raw: str | bytes) -> None:
        frame = json.loads(raw)
        message = frame.get("message") or {}
        if frame.get("kind") == "message" and message.get("role") == "bot" and not changed:
            changed.append(message["seq"])
            lines = "\n".join(f"- Unterlage Nummer {n}: ein Nachweis, den Sie mitbringen" for n in range(1, 41))
            message["text"] = f"{message['text']}\n\n{lines}"
            ws.send(json.dumps(frame))
            feedback = {"role": "bot", "text": "War das hilfreich?", "seq": message["seq"] + 0.5, "data": {},
                        "buttons": [{"title": "👍 Ja", "payload": "/feedback_positive"}]}  # fmt: skip
            ws.send(json.dumps({"kind": "message", "message": {**message, **feedback}}))
            return
        ws.send(raw)

    server.on_message(from_server)


def test_a_long_reply_is_shown_from_its_start_in_a_taller_log(stack, page: Page, js_errors):
    page.route_web_socket(re.compile(r"/ws/conversations/"), _as_rasa_would_reply)
    open_widget(page, stack.url)
    log = page.locator(".bb-log")
    height = log.evaluate("el => el.clientHeight")
    assert height >= 420, f"the log uses the room of a 800 px high window: {height}px"
    assert page.get_by_role("dialog", name=DIALOG).evaluate("el => el.scrollHeight <= el.clientHeight + 1")

    ask(page, "Was kostet ein Reisepass?")
    expect(messages(page, "bot")).to_have_count(2)
    wait_idle(page)
    answer = messages(page, "bot").first
    assert answer.evaluate("el => el.offsetHeight") > height, "the answer is longer than the log"
    top = answer.evaluate("(el) => el.getBoundingClientRect().top - el.parentElement.getBoundingClientRect().top")
    assert 0 <= top <= 40, f"the answer starts {top}px below the top of the log (negative: scrolled past it)"
    assert js_errors == []


def test_english_question_marks_the_official_german_text(stack, page: Page, js_errors):
    open_widget(page, stack.url)
    ask(page, "How much does a passport cost?")
    answer = messages(page, "bot").first
    expect(answer).to_have_attribute("lang", "en")
    expect(answer.locator(".bb-text [lang='en']").first).to_contain_text("German")
    german = answer.locator(".bb-text [lang='de']")
    expect(german).to_have_count(1)
    expect(german).to_contain_text("Reisepass")
    expect(answer.locator(".bb-who")).to_have_attribute("lang", "de")  # the page's language labels the sender
    assert js_errors == []


def test_the_source_link_appears_once(stack, page: Page, js_errors):
    open_widget(page, stack.url)
    ask(page, "Was kostet ein Reisepass?")
    answer = messages(page, "bot").first
    source = answer.locator(".bb-sources a").first
    expect(source).to_have_attribute("href", re.compile(r"^https://"))
    href = source.get_attribute("href")
    links = answer.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert links.count(href) == 1, links
    assert "Quelle:" not in answer.locator(".bb-text").inner_text()
    expect(answer.locator(".bb-sources")).to_contain_text(re.compile(r"Stand: \d{2}\.\d{2}\.\d{4}"))

    # an older message (or degraded mode) that still carries the raw line shows the link once as well
    store_text = f"Reisepass\n\nGebühren: 70 Euro\n\nQuelle: {href} (Stand: 01.02.2026)"
    sources = [{"title": "Reisepass", "section": "gebuehren", "section_label": "Gebühren", "url": href}]
    ConversationStore(redis_client(stack.redis_url)).append(
        Message(conversation_id=conversation_id(page), role="bot", text=store_text, data={"sources": sources})
    )
    older = messages(page, "bot").nth(1)
    expect(older).to_contain_text("70 Euro")
    assert older.locator("a").evaluate_all("links => links.map(a => a.href)").count(href) == 1
    assert "Quelle:" not in older.locator(".bb-text").inner_text()
    assert js_errors == []
