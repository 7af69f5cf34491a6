"""The citizen's view of the web widget in real Chromium against the real gateway (knowledge-only mode)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from bot.conversation.store import ConversationStore, Message
from bot.gateway.embedded_redis import redis_client
from tests.browser.conftest import WIDGET_LIMIT
from tests.browser.widget_helpers import (
    DIALOG,
    INPUT,
    LAUNCHER,
    ask,
    assert_no_duplicates,
    axe_script,
    conversation_id,
    messages,
    open_widget,
    wait_idle,
)

pytestmark = pytest.mark.slow  # real Chromium against a gateway process

QUEUED = re.compile(  # the status from the state frame (also after a reload): position, or why nobody answers now
    r"^Sie sind an Position \d+ der Warteschlange\. (Eine Mitarbeiterin oder ein Mitarbeiter meldet sich hier|"
    r"Gerade sind alle Mitarbeitenden im Gespräch oder nicht angemeldet)\.$"
    r"|^Ihr Anliegen ist in der Warteschlange\. Das Chat-Team ist wieder .+ für Sie da\.$"
)
DATE = re.compile(r"Stand: \d{2}\.\d{2}\.\d{4}")
XSS = "<img src=x onerror=alert(1)>"
OVERFLOW_X = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def test_full_conversation_with_sources_sections_and_queue(stack, page: Page, js_errors, screenshots: Path):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    open_widget(page, stack.url)
    ask(page, "Was kostet ein Reisepass?")

    first = messages(page, "bot").nth(0)
    expect(first).to_contain_text("Euro")
    expect(first).to_have_attribute("lang", "de")
    source = first.locator(".bb-sources a").first
    expect(source).to_have_attribute("href", re.compile(r"^https://"))
    expect(source).to_contain_text("Gebühren")
    expect(first.locator(".bb-sources")).to_contain_text(DATE)
    wait_idle(page)
    page.screenshot(path=str(screenshots / "widget-answer.png"))

    first.get_by_role("button", name="Unterlagen").click()
    second = messages(page, "bot").nth(1)
    expect(second).to_contain_text("Unterlagen")
    expect(second.locator(".bb-sources a").first).to_contain_text("Unterlagen")
    wait_idle(page)
    expect(messages(page, "citizen").locator(".bb-text")).to_have_text(["Was kostet ein Reisepass?", "Unterlagen"])
    assert_no_duplicates(page)

    page.get_by_role("button", name="Mit einem Menschen sprechen").click()
    expect(page.locator(".bb-state")).to_have_text(QUEUED)
    expect(messages(page, "bot").nth(2)).to_contain_text("weitergegeben")
    expect(page.get_by_role("button", name="Mit einem Menschen sprechen")).to_be_hidden()
    wait_idle(page)
    assert_no_duplicates(page)
    page.screenshot(path=str(screenshots / "widget-queued.png"))

    shown = messages(page).count()
    page.reload()  # same tab: the conversation id in sessionStorage brings the whole chat back
    expect(page.get_by_role("dialog", name=DIALOG)).to_be_visible()
    expect(messages(page)).to_have_count(shown)
    expect(page.locator(".bb-state")).to_have_text(QUEUED)
    assert_no_duplicates(page)

    assert page.context.cookies() == [], "the widget must not set cookies"
    foreign = [u for u in requests if not u.startswith((stack.url, "data:"))]
    assert foreign == [], f"third-party requests: {foreign}"
    assert js_errors == []


def test_reconnect_after_gateway_restart_keeps_history(stack, page: Page, js_errors, screenshots: Path):
    open_widget(page, stack.url)
    ask(page, "Was kostet ein Reisepass?")
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)
    before = messages(page).count()

    stack.stop()
    expect(page.locator(".bb-conn")).to_contain_text("Verbindung unterbrochen")
    page.screenshot(path=str(screenshots / "widget-reconnecting.png"))
    stack.start(timeout_s=600)  # a new gateway process: same port, data dir and Redis
    expect(page.locator(".bb-conn")).to_be_hidden()
    expect(messages(page)).to_have_count(before)

    # a message stored by another process (here: the REST channel) reaches the page live
    stack.send(conversation_id(page), "Was kostet ein Personalausweis?")
    expect(messages(page)).to_have_count(before + 2)
    ask(page, "Wo melde ich meinen Hund an?")
    expect(messages(page)).to_have_count(before + 4)
    wait_idle(page)
    assert_no_duplicates(page)
    page.screenshot(path=str(screenshots / "widget-after-restart.png"))

    page.reload()
    expect(messages(page)).to_have_count(before + 4)
    assert_no_duplicates(page)
    assert js_errors == []


def _focused(page: Page) -> dict:
    return page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
        return {id: e.id, cls: e.className, text: (e.textContent || '').trim(),
                outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
    )


def _tab_to(page: Page, css_class: str, key: str = "Tab", limit: int = 60) -> dict:
    for _ in range(limit):
        page.keyboard.press(key)
        focused = _focused(page)
        if css_class in focused["cls"].split():
            return focused
    raise AssertionError(f"{key} never reached .{css_class}")


def test_keyboard_only(stack, page: Page, js_errors, screenshots: Path):
    page.goto(stack.url + "/")
    launcher = _tab_to(page, "bb-launcher")
    assert launcher["outline"] != "none" and launcher["width"] >= 2, "focus must be visible"
    page.screenshot(path=str(screenshots / "widget-keyboard-launcher.png"))

    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name=DIALOG)).to_be_visible()
    assert _focused(page)["id"] == "bb-input", "opening the chat puts the cursor into the input"
    page.keyboard.type("Was kostet ein Reisepass?")
    page.keyboard.press("Enter")
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)
    page.get_by_label(INPUT).focus()

    assert "bb-send" in _tab_to(page, "bb-send")["cls"]
    human = _tab_to(page, "bb-human")
    assert human["outline"] != "none"
    page.get_by_label(INPUT).focus()
    option = _tab_to(page, "bb-option", key="Shift+Tab")  # back into the answer's buttons
    page.keyboard.press("Enter")
    expect(messages(page, "bot")).to_have_count(2)
    expect(messages(page, "citizen").nth(1)).to_contain_text(option["text"])
    wait_idle(page)
    page.screenshot(path=str(screenshots / "widget-keyboard-dialog.png"))

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name=DIALOG)).to_be_hidden()
    assert "bb-launcher" in _focused(page)["cls"], "Escape returns focus to the launcher"
    expect(page.get_by_role("button", name=LAUNCHER)).to_have_attribute("aria-expanded", "false")
    assert js_errors == []


def test_markup_from_the_server_is_shown_as_text(stack, page: Page, js_errors, screenshots: Path, redis_url: str):
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    open_widget(page, stack.url)
    ask(page, XSS)
    expect(messages(page, "citizen").first).to_contain_text(XSS)
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)

    # a hostile message written by another process (as staff or a compromised source would) arrives live
    store = ConversationStore(redis_client(redis_url))
    store.append(
        Message(
            conversation_id=conversation_id(page),
            role="bot",
            text=f"Achtung {XSS} <script>alert(2)</script> Mehr: https://example.org/info. "
            "Nicht verlinkt: http://plain.example/ und javascript:alert(3)",
            buttons=[{"title": "<b>fett</b>", "payload": "/greet"}],
            data={
                "language": "de",
                "sources": [
                    {
                        "title": XSS,
                        "section": "gebuehren",
                        "section_label": "Gebühren",
                        "url": "javascript:alert(5)",
                        "updated": "2026-01-31",
                    }
                ],
            },
        )
    )
    hostile = messages(page, "bot").nth(1)
    expect(hostile).to_contain_text(f"Achtung {XSS} <script>alert(2)</script>")
    expect(hostile.locator(".bb-sources")).to_contain_text(f"{XSS} – Gebühren")
    expect(hostile.locator(".bb-sources")).to_contain_text("Stand: 31.01.2026")
    expect(hostile.get_by_role("button", name="<b>fett</b>")).to_be_visible()
    hrefs = hostile.locator("a").evaluate_all("links => links.map(a => a.href)")
    assert hrefs == ["https://example.org/info"], hrefs
    assert page.locator(".bb-log img, .bb-log script, .bb-log b").count() == 0
    page.screenshot(path=str(screenshots / "widget-xss-as-text.png"))
    assert alerts == [] and js_errors == []


def _serious(results: dict) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} – {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_accessibility_axe_and_reflow(browser, stack, screenshots: Path):
    axe = axe_script().read_text()
    # bypass_csp: only so axe itself can be injected; the widget runs under the page's strict policy elsewhere
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="de-DE", bypass_csp=True)
    context.set_default_timeout(90_000)
    page = context.new_page()
    try:
        open_widget(page, stack.url)
        ask(page, "Was kostet ein Reisepass?")
        expect(messages(page, "bot")).to_have_count(1)
        wait_idle(page)
        page.add_script_tag(content=axe)
        results = page.evaluate("async () => JSON.stringify(await axe.run(document))")
        serious = _serious(json.loads(results))
        assert serious == [], "\n".join(serious)

        for name, width, height in (("widget-360px.png", 360, 740), ("widget-zoom200.png", 640, 360)):
            # 640 x 360 CSS pixels is what a 1280 x 720 window shows at 200 % zoom
            page.set_viewport_size({"width": width, "height": height})
            overflow = page.evaluate(OVERFLOW_X)
            assert overflow <= 0, f"horizontal scrolling at {width}px: {overflow}px"
            box = page.get_by_role("dialog", name=DIALOG).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
            page.get_by_label(INPUT).scroll_into_view_if_needed()
            expect(page.get_by_label(INPUT)).to_be_in_viewport()
            expect(page.get_by_role("button", name="Senden")).to_be_in_viewport()
            results = page.evaluate("async () => JSON.stringify(await axe.run(document))")
            serious = _serious(json.loads(results))
            assert serious == [], f"{width}px: " + "\n".join(serious)
            page.screenshot(path=str(screenshots / name))
    finally:
        context.close()


def test_english_page_gets_english_widget(stack, page: Page, js_errors, screenshots: Path):
    def english(route) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=response.text().replace('lang="de"', 'lang="en"', 1))

    page.route(stack.url + "/", english)
    page.goto(stack.url + "/")
    page.get_by_role("button", name="Questions? Chat with Citizen Services").click()
    field = page.get_by_label("Your message")
    field.fill("How much does a passport cost?")
    field.press("Enter")
    expect(messages(page, "bot")).to_have_count(1)
    expect(messages(page, "citizen").first).to_have_attribute("lang", "en")
    expect(page.get_by_role("button", name="Talk to a person")).to_be_visible()
    wait_idle(page)
    page.screenshot(path=str(screenshots / "widget-english.png"))
    assert js_errors == []


def test_rest_fallback_when_websockets_are_blocked(stack, page: Page, js_errors, redis_url: str):
    # a proxy that refuses WebSockets: the widget must still send (POST) and receive (GET ?after=SEQ)
    page.route_web_socket(re.compile(r"/ws/conversations/"), lambda ws: ws.close(code=1011, reason="blocked"))
    open_widget(page, stack.url)
    expect(page.locator(".bb-conn")).to_contain_text("Verbindung unterbrochen")
    ask(page, "Was kostet ein Reisepass?")
    expect(messages(page, "bot")).to_have_count(1)
    expect(messages(page, "bot").first.locator(".bb-sources a").first).to_have_attribute(
        "href", re.compile("^https://")
    )
    wait_idle(page)

    ConversationStore(redis_client(redis_url)).append(
        Message(conversation_id=conversation_id(page), role="staff", text="Hier ist das Bürgerbüro.")
    )
    expect(messages(page, "staff")).to_contain_text("Hier ist das Bürgerbüro.")  # picked up by polling
    expect(messages(page)).to_have_count(3)
    assert_no_duplicates(page)
    assert js_errors == []


def test_the_widget_takes_its_length_limit_from_the_server(stack, page: Page, js_errors):
    """The stack's limit is BUERGERBOT_MAX_QUESTION_CHARS=2400, not the widget's old 2000."""
    open_widget(page, stack.url)
    field = page.get_by_label(INPUT)
    expect(field).to_have_attribute("maxlength", str(WIDGET_LIMIT))
    field.fill("x" * WIDGET_LIMIT)  # up to the server's limit is accepted as typed
    expect(field).to_have_value("x" * WIDGET_LIMIT)
    # a pasted text that bypasses maxlength is refused in the widget with the server's number
    field.evaluate("(node, size) => { node.value = 'y'.repeat(size); }", WIDGET_LIMIT + 1)
    field.press("Enter")
    expect(page.get_by_role("dialog", name=DIALOG).get_by_role("alert")).to_have_text(
        f"Ihre Nachricht ist zu lang (höchstens {WIDGET_LIMIT} Zeichen). Bitte kürzen Sie sie etwas."
    )
    expect(messages(page, "citizen")).to_have_count(0)
    assert js_errors == []
