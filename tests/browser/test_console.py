"""The staff takeover console in real Chromium against real gateway processes and a real Redis.

A citizen uses the widget on the demo page while staff use the console in other browser contexts
(separate profiles, so separate sessions). Nothing is mocked: accounts come from the real CLI
(`buergerbot user add`), messages travel through Redis pub/sub, and a second gateway process (with
office hours that are closed right now) shows that staff and citizen may sit on different processes.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from bot.conversation.store import Button, ConversationStore, Message
from bot.gateway.embedded_redis import redis_client
from bot.handoff.teams import DEFAULT_TEAMS_FILE
from bot.settings import PROJECT_ROOT
from tests.browser.conftest import EMBEDDING_CACHE, WAIT_MS, WidgetStack
from tests.browser.widget_helpers import ask, axe_script, conversation_id, messages, open_widget, wait_idle
from tests.conftest import seed_index

pytestmark = pytest.mark.slow  # real Chromium against gateway processes

PASSWORD = "ein-langes-testpasswort-fuer-die-konsole"
CLOSED_HOURS = "So 00:00-00:01"  # one minute a week: closed whenever these tests run (but for that minute)
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(2)</script> Hallo?"
OVERFLOW_X = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
CONSOLE_VIEWPORT = {"width": 1440, "height": 900}


# --- helpers ---------------------------------------------------------------------------------------


@dataclass
class Tab:
    """One browser profile with one page, collecting uncaught errors and JS dialogs (alert = XSS)."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def clean(self) -> bool:
        return not self.errors and not self.dialogs


@pytest.fixture
def tabs(browser: Browser) -> Iterator[Callable[..., Tab]]:
    opened: list[Tab] = []

    def open_tab(bypass_csp: bool = False, viewport: dict | None = None) -> Tab:
        # bypass_csp only where axe itself must be injected; everything else runs under the strict policy
        context = browser.new_context(viewport=viewport or CONSOLE_VIEWPORT, locale="de-DE", bypass_csp=bypass_csp)
        context.set_default_timeout(WAIT_MS)
        tab = Tab(context=context, page=context.new_page())
        tab.page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        tab.page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        opened.append(tab)
        return tab

    yield open_tab
    for tab in opened:
        tab.context.close()


@pytest.fixture(scope="module")
def add_account(stack: WidgetStack) -> Callable[..., str]:
    """Create a console account the way an administrator does: `buergerbot user add` on the tests' Redis."""

    def add(role: str = "agent", display_name: str = "Frau Test", teams: tuple[str, ...] = ()) -> str:
        username = f"{role[:5]}-{uuid.uuid4().hex[:8]}"
        command = [sys.executable, "-m", "bot.cli", "user", "add", username, "--role", role,
                   "--display-name", display_name, "--password-stdin"]  # fmt: skip
        if teams:
            command += ["--teams", ",".join(teams)]
        done = subprocess.run(
            command, cwd=PROJECT_ROOT, env=stack.env(), input=PASSWORD + "\n", text=True, capture_output=True,
            timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return username

    return add


def console_login(tab: Tab, url: str, username: str) -> Page:
    page = tab.page
    page.goto(url + "/console")
    expect(page).to_have_url(url + "/console/login")  # not signed in: the console sends us to the login page
    page.get_by_label("Benutzername").fill(username)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    expect(page).to_have_url(url + "/console")
    expect(page.locator("#me")).not_to_be_empty()
    expect(page.locator("#transfer-team option").first).to_be_attached()  # config loaded
    return page


def queue_entry(page: Page, cid: str) -> Locator:
    return page.locator(f'#queue-list .cs-entry[data-id="{cid}"]')


def transcript(page: Page, role: str | None = None) -> Locator:
    return page.locator(f"#transcript .cs-msg--{role}" if role else "#transcript .cs-msg")


def citizen_requests_human(stack: WidgetStack, page: Page, question: str = "Was kostet ein Reisepass?") -> str:
    open_widget(page, stack.url)
    ask(page, question)
    expect(messages(page, "bot")).to_have_count(1)
    wait_idle(page)
    page.locator(".bb-human").click()  # "Mit einem Menschen sprechen" below the chat
    expect(page.locator(".bb-state")).to_contain_text("der Warteschlange")
    wait_idle(page)
    return conversation_id(page)


def _serious(results: dict) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} – {[n['target'] for n in v['nodes']]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def axe_violations(page: Page) -> list[str]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_script().read_text())
    return _serious(json.loads(page.evaluate("async () => JSON.stringify(await axe.run(document))")))


def _focused(page: Page) -> dict:
    return page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
        return {id: e.id, cls: e.className, dataId: e.getAttribute('data-id'), tag: e.tagName,
                outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
    )


class ConfiguredStack(WidgetStack):
    """A knowledge-only gateway with extra environment (here: a teams file with closed office hours)."""

    def __init__(self, data_dir: Path, redis_url: str, extra_env: dict[str, str]) -> None:
        super().__init__(data_dir, redis_url)
        self.extra_env = extra_env

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra_env}


@pytest.fixture(scope="module")
def closed_stack(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, stack: WidgetStack, demo_index_dir: Path
) -> Iterator[WidgetStack]:
    """Gateway process B on the same Redis as A, whose teams are all outside office hours now."""
    data_dir = tmp_path_factory.mktemp("console-closed")
    (data_dir / "cache").mkdir(parents=True, exist_ok=True)
    for cached in EMBEDDING_CACHE.glob("embeddings-*.sqlite"):
        shutil.copy(cached, data_dir / "cache" / cached.name)
    seed_index(demo_index_dir, data_dir)
    teams = yaml.safe_load(DEFAULT_TEAMS_FILE.read_text(encoding="utf-8"))
    teams["office_hours"] = CLOSED_HOURS
    for team in teams["teams"]:
        team["office_hours"] = CLOSED_HOURS
    teams_file = data_dir / "teams-closed.yaml"
    teams_file.write_text(yaml.safe_dump(teams, allow_unicode=True, sort_keys=False), encoding="utf-8")
    running = ConfiguredStack(data_dir, redis_url, {"BUERGERBOT_TEAMS_FILE": str(teams_file)})
    running.start(timeout_s=900)
    yield running
    running.stop()


# --- (a) the whole takeover, citizen and agent side by side --------------------------------------------


def test_takeover_round_trip_citizen_and_agent(stack, tabs, add_account, screenshots: Path, redis_url: str):
    agent = add_account("agent", "Frau Berger", ("buergerbuero", "buergerservice"))
    citizen = tabs(viewport={"width": 1280, "height": 800})
    cid = citizen_requests_human(stack, citizen.page)
    expect(citizen.page.locator(".bb-state")).to_have_text(re.compile(r"^Sie sind an Position \d+ der Warteschlange\."))

    staff = tabs()
    page = console_login(staff, stack.url, agent)
    entry = queue_entry(page, cid)
    expect(entry).to_be_visible()
    expect(entry.locator(".cs-quote")).to_have_text("„Was kostet ein Reisepass?“")  # the question, not the click
    expect(entry).to_contain_text("Web-Chat")
    expect(entry).to_contain_text("Deutsch")
    expect(entry).to_contain_text("Reisepass")  # the service, by its title
    expect(entry).to_contain_text(re.compile(r"wartet \d+ (s|Min\.)"))
    expect(entry.locator(".cs-badge--urgent")).to_have_count(0)
    waited = entry.locator(".cs-wait").inner_text()
    expect(entry.locator(".cs-wait")).not_to_have_text(waited)  # the waiting time counts up by itself
    page.screenshot(path=str(screenshots / "console-queue.png"))

    entry.click()
    expect(transcript(page, "citizen").first).to_contain_text("Was kostet ein Reisepass?")
    bot_answer = transcript(page, "bot").first
    expect(bot_answer.locator(".cs-msg-who")).to_have_text("Chatbot")
    expect(bot_answer.locator(".cs-sources a").first).to_have_attribute("href", re.compile(r"^https://"))
    expect(page.locator("#suggestions .cs-suggestion").first).to_be_visible()  # knowledge-base suggestion
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    expect(page.get_by_label("Antwort an die Bürgerin / den Bürger")).to_be_focused()

    # the citizen sees who joined
    expect(citizen.page.locator(".bb-state")).to_have_text("Frau Berger ist jetzt für Sie da.")
    expect(messages(citizen.page, "system").last).to_contain_text("Frau Berger")

    # canned response and a knowledge-base suggestion go into the reply box, staff edit before sending
    page.get_by_label("Textbaustein").select_option(label="Begrüßung")
    page.get_by_role("button", name="Einfügen", exact=True).click()
    reply = page.get_by_label("Antwort an die Bürgerin / den Bürger")
    expect(reply).to_have_value(re.compile(r"^Guten Tag, hier ist das Team der Stadt"))
    reply.fill("Guten Tag, hier ist Frau Berger vom Bürgerbüro. Wie kann ich helfen?")
    reply.press("Control+Enter")
    expect(transcript(page, "staff")).to_contain_text("Wie kann ich helfen?")
    expect(reply).to_have_value("")
    expect(messages(citizen.page, "staff")).to_contain_text("Wie kann ich helfen?")

    bots_before = messages(citizen.page, "bot").count()
    ask(citizen.page, "Kann ich den Pass auch samstags abholen?")
    expect(transcript(page, "citizen").last).to_contain_text("samstags abholen")
    expect(page.locator("#announcer")).to_contain_text("Neue Nachricht")

    page.locator("#suggestions .cs-suggestion button").first.click()
    expect(reply).not_to_have_value("")
    reply.fill("Ja, samstags hat das Bürgerbüro am Marienplatz von 9 bis 12 Uhr geöffnet.")
    page.get_by_role("button", name="Senden", exact=True).click()
    expect(messages(citizen.page, "staff")).to_have_count(2)

    note = "Interne Notiz: Bürger fragt nach Samstagsöffnung – bitte Terminlage prüfen."
    page.get_by_label("Neue interne Notiz").fill(note)
    page.get_by_role("button", name="Notiz speichern").click()
    expect(page.locator("#notes .cs-note")).to_contain_text(note)
    expect(page.locator("#notes .cs-note .cs-badge--internal")).to_have_text("Intern")
    page.screenshot(path=str(screenshots / "console-conversation.png"))
    citizen.page.screenshot(path=str(screenshots / "console-widget-with-staff.png"))

    page.get_by_role("button", name="Zurück an den Chatbot").click()
    expect(page.locator("#conv-meta")).to_contain_text("beim Chatbot")
    expect(messages(citizen.page, "system").last).to_contain_text("an den Chatbot zurückgegeben")
    expect(citizen.page.locator(".bb-state")).to_be_hidden()
    assert messages(citizen.page, "bot").count() == bots_before, "the bot stays silent while staff hold the chat"
    assert note not in citizen.page.locator(".bb-log").inner_text(), "internal notes never reach the citizen"

    ask(citizen.page, "Was kostet ein Personalausweis?")
    expect(messages(citizen.page, "bot")).to_have_count(bots_before + 1)
    expect(messages(citizen.page, "bot").last).to_contain_text("Euro")
    expect(transcript(page, "bot").last).to_contain_text("Euro")  # the console keeps following live
    wait_idle(citizen.page)
    store = ConversationStore(redis_client(redis_url))
    assert store.get(cid).state == "bot"
    assert note not in json.dumps([m.model_dump() for m in store.history(cid)], ensure_ascii=False)
    assert citizen.clean() and staff.clean(), (citizen.errors, citizen.dialogs, staff.errors, staff.dialogs)


# --- (b) two agents race for one conversation -------------------------------------------------------


def test_two_agents_race_exactly_one_wins(stack, tabs, add_account, screenshots: Path, redis_url: str):
    names = {add_account("agent", "Herr Adler"): "Herr Adler", add_account("agent", "Frau Brandt"): "Frau Brandt"}
    cid = f"race-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Ich möchte mit einem Menschen sprechen")  # REST channel: no Rasa, queued directly
    pages: dict[str, Page] = {}
    for username in names:
        tab = tabs()
        pages[username] = console_login(tab, stack.url, username)
        queue_entry(pages[username], cid).click()
        expect(pages[username].get_by_role("button", name="Übernehmen", exact=True)).to_be_enabled()

    # both click "Übernehmen" at the same instant (same machine clock, one browser process)
    at = next(iter(pages.values())).evaluate("() => Date.now() + 1500")
    for page in pages.values():
        page.evaluate("at => setTimeout(() => document.getElementById('act-take').click(), at - Date.now())", at)
    for page in pages.values():
        expect(page.locator("#conv-meta")).to_contain_text("betreut")

    store = ConversationStore(redis_client(redis_url))
    winner = store.get(cid).assignee
    assert winner in names
    (loser,) = [u for u in names if u != winner]
    expect(pages[winner].locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    expect(pages[winner].locator("#action-error")).to_be_hidden()
    refused = f"Diese Unterhaltung hat bereits {names[winner]} übernommen."
    expect(pages[loser].get_by_role("alert")).to_have_text(refused)
    expect(pages[loser].locator("#conv-meta")).to_contain_text(f"betreut von {names[winner]}")
    expect(pages[loser].get_by_role("button", name="Übernehmen", exact=True)).to_be_disabled()
    pages[loser].screenshot(path=str(screenshots / "console-race-lost.png"))
    joined = [m for m in store.history(cid) if m.data.get("kind") == "staff_joined"]
    assert len(joined) == 1, [m.text for m in joined]


# --- (c) agent on gateway A, citizen on gateway B ------------------------------------------------------


def test_agent_and_citizen_on_different_gateway_processes(stack, closed_stack, tabs, add_account, screenshots: Path):
    assert stack.port != closed_stack.port and stack.process.pid != closed_stack.process.pid
    agent = add_account("agent", "Herr Yılmaz")
    staff = tabs()
    page = console_login(staff, stack.url, agent)  # the agent waits on A before the citizen asks on B
    citizen = tabs(viewport={"width": 1280, "height": 800})
    cid = citizen_requests_human(closed_stack, citizen.page, "Wie melde ich mein Auto an?")
    expect(queue_entry(page, cid)).to_be_visible()
    expect(page.locator("#announcer")).to_contain_text("Neue Anfrage in der Warteschlange")
    queue_entry(page, cid).click()
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(citizen.page.locator(".bb-state")).to_have_text("Herr Yılmaz ist jetzt für Sie da.")
    # the citizen on B may hear of the takeover before A's console has its own answer: a reply typed
    # before "Senden" is active is refused with a hint, as for a user
    expect(page.get_by_role("button", name="Senden", exact=True)).to_be_enabled()

    reply = page.get_by_label("Antwort an die Bürgerin / den Bürger")
    reply.fill("Hallo, hier ist die Kfz-Zulassung. Haben Sie schon einen Termin?")
    reply.press("Control+Enter")
    expect(messages(citizen.page, "staff")).to_contain_text("Haben Sie schon einen Termin?")
    ask(citizen.page, "Nein, noch nicht. Geht das online?")
    expect(transcript(page, "citizen").last).to_contain_text("Geht das online?")
    reply.fill("Ja, über den Online-Dienst der Stadt.")
    reply.press("Control+Enter")
    expect(messages(citizen.page, "staff")).to_have_count(2)
    page.screenshot(path=str(screenshots / "console-two-gateways.png"))

    # gateway A (the agent's) goes away: a quiet status, and what the citizen writes meanwhile on B arrives
    stack.stop()
    expect(page.locator("#connection")).to_have_text("Verbindung wird wiederhergestellt …")
    page.screenshot(path=str(screenshots / "console-reconnecting.png"))
    ask(citizen.page, "Sind Sie noch da?")
    expect(messages(citizen.page, "citizen").last).to_have_attribute("data-seq", re.compile(r"^\d+$"))  # stored
    stack.start(timeout_s=600)
    expect(page.locator("#connection")).to_be_empty()
    expect(transcript(page, "citizen").last).to_contain_text("Sind Sie noch da?")
    seqs = transcript(page).evaluate_all("els => els.map(e => Number(e.getAttribute('data-seq')))")
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), f"replayed without gaps or duplicates: {seqs}"
    assert citizen.clean() and staff.clean(), (citizen.errors, staff.errors)


# --- (d) markup from citizens is text in the console ---------------------------------------------------


def test_citizen_markup_is_shown_as_text_in_the_console(stack, tabs, add_account, screenshots: Path):
    agent = add_account("agent", "Frau Berger")
    citizen = tabs(viewport={"width": 1280, "height": 800})
    open_widget(citizen.page, stack.url)
    ask(citizen.page, XSS_IMG)
    expect(messages(citizen.page, "bot")).to_have_count(1)
    wait_idle(citizen.page)
    citizen.page.locator(".bb-human").click()
    expect(citizen.page.locator(".bb-state")).to_contain_text("Warteschlange")
    wait_idle(citizen.page)
    ask(citizen.page, XSS_SCRIPT)  # while queued: stored, no bot reply
    expect(messages(citizen.page, "citizen")).to_have_count(3)
    wait_idle(citizen.page)
    cid = conversation_id(citizen.page)

    staff = tabs()
    page = console_login(staff, stack.url, agent)
    entry = queue_entry(page, cid)
    expect(entry).to_contain_text(XSS_SCRIPT)  # the queue shows the last words as text
    entry.click()
    expect(transcript(page, "citizen").first.locator(".cs-msg-text")).to_have_text(XSS_IMG)
    expect(transcript(page, "citizen").last.locator(".cs-msg-text")).to_have_text(XSS_SCRIPT)
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    page.get_by_label("Antwort an die Bürgerin / den Bürger").fill("<i>kursiv</i> & <b>fett</b>")
    page.get_by_role("button", name="Senden", exact=True).click()
    expect(messages(citizen.page, "staff").locator(".bb-text")).to_have_text("<i>kursiv</i> & <b>fett</b>")
    expect(transcript(page, "staff").locator(".cs-msg-text")).to_have_text("<i>kursiv</i> & <b>fett</b>")
    page.screenshot(path=str(screenshots / "console-markup-as-text.png"))

    injected = "#transcript img, #transcript script, #transcript i, #transcript b, #queue-list img, #queue-list script"
    assert page.locator(injected).count() == 0
    assert citizen.page.locator(".bb-log img, .bb-log script, .bb-log i, .bb-log b").count() == 0
    assert staff.dialogs == [] and citizen.dialogs == [], "no alert() may ever run"
    assert staff.errors == [] and citizen.errors == []


# --- (e) callback form outside office hours; the ticket in the console ---------------------------------


def test_callback_form_outside_office_hours_reaches_the_queue(
    stack, closed_stack, tabs, add_account, screenshots: Path
):
    citizen = tabs(bypass_csp=True, viewport={"width": 1280, "height": 900})  # bypass only to inject axe below
    page = citizen.page
    cid = citizen_requests_human(closed_stack, page)
    status = messages(page, "system").last
    expect(status).to_contain_text("für Sie da, also wieder")  # honest: closed, when it opens again
    button = status.get_by_role("button", name="Rückruf oder E-Mail anfordern")
    count = messages(page).count()
    button.click()
    form = page.get_by_role("form", name="Rückruf oder E-Mail anfordern")
    expect(form).to_be_visible()
    expect(page.get_by_role("radio", name="E-Mail")).to_be_focused()
    assert messages(page).count() == count, "the callback button opens a form, it sends no chat message"

    page.keyboard.press("Escape")  # closes the form only, focus goes back to the button
    expect(form).to_be_hidden()
    expect(page.get_by_role("dialog", name="Chat mit dem Bürgerservice")).to_be_visible()
    expect(button).to_be_focused()
    page.keyboard.press("Enter")
    expect(form).to_be_visible()

    page.get_by_role("radio", name="Telefon").check()
    contact = page.get_by_label("Ihre Telefonnummer")
    contact.fill("bitte zurückrufen")
    consent = page.get_by_label(
        re.compile("^Ich bin einverstanden, dass die Stadt mich zu meinem Anliegen kontaktiert")
    )
    consent.check()
    form.get_by_role("button", name="Absenden").click()
    error = form.get_by_role("alert")
    expect(error).to_have_text("Bitte geben Sie eine gültige Telefonnummer an.")  # the server's 422 detail
    expect(contact).to_have_attribute("aria-invalid", "true")
    expect(contact).to_be_focused()

    contact.fill("+49 89 233-96000")
    consent.uncheck()
    form.get_by_role("button", name="Absenden").click()
    expect(error).to_have_text("Ohne Ihre Einwilligung können wir Sie leider nicht kontaktieren.")
    expect(consent).to_be_focused()
    page.get_by_label("Ihr Anliegen in Stichworten (freiwillig)").fill("Reisepass für mein Kind, Termin nötig")
    form.get_by_role("button", name="Absenden").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshots / "console-widget-callback-form.png"))
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)

    consent.check()
    form.get_by_role("button", name="Absenden").click()
    expect(form).to_be_hidden()
    expect(messages(page, "system").last).to_contain_text("Das Team meldet sich telefonisch bei Ihnen.")
    expect(page.get_by_label("Ihre Nachricht")).to_be_focused()

    agent = add_account("agent", "Frau Berger")
    staff = tabs()
    console = console_login(staff, stack.url, agent)
    entry = queue_entry(console, cid)
    expect(entry.locator(".cs-badge--callback")).to_have_text("Rückruf")
    expect(entry).to_contain_text("+49 89 233-96000")
    expect(entry).to_contain_text("Reisepass für mein Kind, Termin nötig")
    entry.click()
    expect(console.locator("#conv-callback")).to_contain_text("Rückruf erbeten (Telefon): +49 89 233-96000")
    console.screenshot(path=str(screenshots / "console-callback-ticket.png"))
    assert citizen.clean() and staff.clean(), (citizen.errors, staff.errors)


# --- (f) accessibility: axe on login, agent and supervisor views; keyboard-only use ---------------------


def test_login_page_accessibility_and_errors(stack, tabs, screenshots: Path):
    tab = tabs(bypass_csp=True)
    page = tab.page
    page.goto(stack.url + "/console/login")
    expect(page.get_by_label("Benutzername")).to_be_focused()
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)
    page.get_by_label("Benutzername").fill("niemand")
    page.get_by_label("Passwort").fill("falsches-passwort-123")
    page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text("Benutzername oder Passwort ist falsch.")
    expect(page.get_by_label("Passwort")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=str(screenshots / "console-login.png"))
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)
    assert tab.clean(), tab.errors


def test_a_slow_reply_does_not_pull_focus_from_a_note(stack, tabs, add_account):
    # Found in CI: under load the reply's POST answered while the agent was already typing a note
    # (Alt+K), and the console put focus back into the reply field, splitting the note in two.
    agent = add_account("agent", "Frau Berger")
    cid = f"slow-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Was kostet ein Reisepass?")
    stack.send(cid, "Ich möchte mit einem Menschen sprechen")
    page = console_login(tabs(), stack.url, agent)
    queue_entry(page, cid).click()
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")

    held = []  # the reply's request, held back in the browser until the note is half typed
    page.route(
        re.compile(r".*/console/api/conversations/[^/]+/messages$"),
        lambda route: held.append(route) if route.request.method == "POST" else route.continue_(),
    )
    reply = page.get_by_label("Antwort an die Bürgerin / den Bürger")
    reply.fill("Einen Moment bitte.")
    reply.press("Control+Enter")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the reply was never sent"

    page.keyboard.press("Alt+k")
    note = page.get_by_label("Neue interne Notiz")
    expect(note).to_be_focused()
    page.keyboard.type("Per ")
    held[0].continue_()
    expect(transcript(page, "staff")).to_contain_text("Einen Moment bitte.")
    expect(page.get_by_role("button", name="Senden", exact=True)).to_be_enabled()
    page.keyboard.type("Tastatur notiert.")
    expect(note).to_have_value("Per Tastatur notiert.")
    expect(reply).to_have_value("")


def test_agent_keyboard_only_and_axe(stack, tabs, add_account, screenshots: Path, live_redis):
    agent = add_account("agent", "Frau Berger")
    cid = f"kbd-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Was kostet ein Reisepass?")
    stack.send(cid, "Ich möchte mit einem Menschen sprechen")

    tab = tabs(bypass_csp=True)
    page = console_login(tab, stack.url, agent)
    expect(queue_entry(page, cid)).to_be_visible()
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)

    for _ in range(80):  # Tab from the top of the page to this conversation's queue entry
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused["dataId"] == cid:
            break
    else:
        raise AssertionError("Tab never reached the queue entry")
    assert focused["outline"] != "none" and focused["width"] >= 2, "focus must be visible"
    page.screenshot(path=str(screenshots / "console-keyboard-focus.png"))

    page.keyboard.press("Alt+t")  # take over the focused entry
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    expect(page.get_by_label("Antwort an die Bürgerin / den Bürger")).to_be_focused()
    page.keyboard.type("Guten Tag, ich helfe Ihnen gern weiter.")
    page.keyboard.press("Control+Enter")
    expect(transcript(page, "staff")).to_contain_text("ich helfe Ihnen gern weiter")
    stored = ConversationStore(live_redis).history(cid)
    assert stored[-1].role == "staff" and stored[-1].text == "Guten Tag, ich helfe Ihnen gern weiter."

    page.keyboard.press("Alt+k")
    expect(page.get_by_label("Neue interne Notiz")).to_be_focused()
    page.keyboard.type("Per Tastatur notiert.")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#notes .cs-note")).to_contain_text("Per Tastatur notiert.")

    page.locator("#transcript").focus()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Tastenkürzel")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("Alt")
    serious = axe_violations(page)
    assert serious == [], "help dialog: " + "\n".join(serious)
    page.screenshot(path=str(screenshots / "console-help.png"))
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()
    expect(page.locator("#transcript")).to_be_focused()  # focus returns where it was

    serious = axe_violations(page)  # the agent view with a conversation held
    assert serious == [], "\n".join(serious)

    page.keyboard.press("Alt+e")
    close_dialog = page.get_by_role("dialog", name="Unterhaltung beenden")
    expect(close_dialog).to_be_visible()
    expect(page.get_by_label("Abschlusscode")).to_be_focused()
    page.get_by_label("Abschlusscode").select_option("answered")
    page.screenshot(path=str(screenshots / "console-close-dialog.png"))
    page.keyboard.press("Tab")
    expect(close_dialog.get_by_role("button", name="Beenden")).to_be_focused()
    page.keyboard.press("Enter")
    expect(close_dialog).to_be_hidden()
    expect(page.locator("#conv-meta")).to_contain_text("beendet")
    assert ConversationStore(live_redis).get(cid).state == "closed"

    page.set_viewport_size({"width": 640, "height": 400})  # what a 1280 x 800 window shows at 200 % zoom
    overflow = page.evaluate(OVERFLOW_X)
    assert overflow <= 0, f"horizontal scrolling at 200 % zoom: {overflow}px"
    serious = axe_violations(page)
    assert serious == [], "200 %: " + "\n".join(serious)
    page.screenshot(path=str(screenshots / "console-zoom200.png"), full_page=True)
    assert tab.clean(), (tab.errors, tab.dialogs)


def test_supervisor_overview_dashboard_link_and_logout(stack, tabs, add_account, screenshots: Path):
    supervisor = add_account("supervisor", "Frau Schneider")
    holder = add_account("agent", "Herr Conrad")
    waiting = f"sup-{uuid.uuid4().hex[:12]}"
    held = f"sup-{uuid.uuid4().hex[:12]}"
    stack.send(waiting, "Mein Angehöriger ist verstorben, ich brauche Hilfe")  # urgent words: served first
    stack.send(waiting, "Ich möchte mit einem Menschen sprechen")
    stack.send(held, "Ich möchte mit einem Menschen sprechen")

    agent_tab = tabs()
    agent_page = console_login(agent_tab, stack.url, holder)
    queue_entry(agent_page, held).click()
    agent_page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(agent_page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")

    tab = tabs(bypass_csp=True)
    page = console_login(tab, stack.url, supervisor)
    urgent = queue_entry(page, waiting)
    expect(urgent.locator(".cs-badge--urgent")).to_have_text("dringend")
    dashboard = page.get_by_role("link", name="Kennzahlen-Dashboard")
    expect(dashboard).to_have_attribute("href", "/console/metrics/dashboard")
    page.get_by_role("button", name="Teamübersicht").click()
    overview = page.locator("#overview")
    expect(overview).to_be_visible()
    expect(page.get_by_role("button", name="Teamübersicht")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#ov-online")).to_contain_text("Frau Schneider")
    expect(page.locator("#ov-online")).to_contain_text("Herr Conrad")
    expect(page.locator("#ov-queue")).to_have_text(re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#ov-max")).to_have_text(re.compile(r"\d+ (s|Min\.)"))
    expect(page.locator("#ov-staffed")).to_contain_text("Herr Conrad")
    expect(page.locator("#ov-states")).to_contain_text("bei Mitarbeiter/in")
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)
    page.screenshot(path=str(screenshots / "console-supervisor.png"))

    # the overview follows console events: the agent hands back, "who holds what" drops the entry
    agent_page.get_by_role("button", name="Zurück an den Chatbot").click()
    expect(page.locator("#ov-staffed")).not_to_contain_text("Herr Conrad")

    page.get_by_role("button", name="Unterhaltungen", exact=True).click()
    queue_entry(page, waiting).click()
    expect(page.locator("#conv-meta")).to_contain_text("dringend")
    serious = axe_violations(page)
    assert serious == [], "supervisor conversation view: " + "\n".join(serious)

    page.get_by_role("button", name="Abmelden").click()
    expect(page).to_have_url(stack.url + "/console/login")
    page.goto(stack.url + "/console")
    expect(page).to_have_url(stack.url + "/console/login")  # the session is gone on the server
    assert tab.clean() and agent_tab.clean(), (tab.errors, agent_tab.errors)


def test_an_ended_session_sends_the_browser_to_login(stack, tabs, add_account, live_redis):
    agent = add_account("agent", "Frau Berger")
    cid = f"auth-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Ich möchte mit einem Menschen sprechen")
    tab = tabs()
    page = console_login(tab, stack.url, agent)
    expect(queue_entry(page, cid)).to_be_visible()
    for key in live_redis.scan_iter("bb:session:*"):  # every session ends (as after the idle timeout)
        live_redis.delete(key)
    queue_entry(page, cid).click()  # the next API call answers 401
    expect(page).to_have_url(stack.url + "/console/login")
    assert tab.errors == []


# --- (g) issue 16: what staff read, hand-back safeguards, team permissions, counts, dashboard --------


def _api(page: Page, method: str, path: str) -> dict:
    """A console API call from inside the signed-in page (cookie and CSRF token as the console sends them)."""
    return page.evaluate(
        """async ([method, path]) => {
            const me = await (await fetch('/console/api/me')).json();
            const r = await fetch('/console/api' + path, {method, headers: {'X-CSRF-Token': me.csrf}});
            return {status: r.status, body: await r.json()};
        }""",
        [method, path],
    )


def _service_title(page: Page, cid: str) -> str:
    return page.evaluate(
        """async (cid) => {
            const config = await (await fetch('/console/api/config')).json();
            const detail = await (await fetch('/console/api/conversations/' + cid)).json();
            const id = detail.conversation.service;
            return id ? (config.services[id] || id) : 'ohne Thema';
        }""",
        cid,
    )


def test_queue_card_transcript_options_and_header_follow_the_conversation(stack, tabs, add_account, redis_url):
    agent = add_account("agent", "Frau Berger")
    cid = f"ask-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Was kostet ein Personalausweis?")
    store = ConversationStore(redis_client(redis_url))
    offer_text = "Möchten Sie mit einer Mitarbeiterin oder einem Mitarbeiter sprechen?"
    consent = [Button(title="Ja, bitte verbinden", payload="/affirm"), Button(title="Nein, danke", payload="/deny")]
    store.append(Message(conversation_id=cid, role="bot", text=offer_text, buttons=consent))  # as Rasa offers it
    stack.send(cid, "Ja, bitte verbinden", payload="/affirm")  # the citizen clicks the consent button

    tab = tabs()
    page = console_login(tab, stack.url, agent)
    entry = queue_entry(page, cid)
    expect(entry.locator(".cs-quote")).to_have_text("„Was kostet ein Personalausweis?“")
    expect(entry).not_to_contain_text("Ja, bitte verbinden")
    entry.click()
    offer = transcript(page, "bot").filter(has_text="Möchten Sie mit einer Mitarbeiterin")
    expect(offer.locator(".cs-options")).to_contain_text("Angebotene Auswahl:")
    expect(offer.locator(".cs-option")).to_have_text(["Ja, bitte verbinden", "Nein, danke"])
    click = transcript(page, "citizen").filter(has_text="Ja, bitte verbinden")
    expect(click.locator(".cs-badge--choice")).to_have_text("Schaltfläche gewählt")

    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    page.get_by_role("button", name="Zurück an den Chatbot").click()
    expect(page.locator("#conv-meta")).to_contain_text("beim Chatbot")
    before = page.locator("#conversation-heading").inner_text()
    assert before == "Anliegen: " + _service_title(page, cid)

    stack.send(cid, "Wie lange ist ein Reisepass gültig?")  # the bot answers about another service
    expect(transcript(page, "citizen").last).to_contain_text("Reisepass gültig")
    expect(transcript(page, "bot").last).to_be_visible()
    for _ in range(100):  # the store has the new service once the bot's answer is there
        if "Anliegen: " + _service_title(page, cid) != before:
            break
        page.wait_for_timeout(100)
    now = "Anliegen: " + _service_title(page, cid)
    assert now != before, "the second question should be about another service"
    expect(page.locator("#conversation-heading")).to_have_text(now)
    assert tab.clean(), (tab.errors, tab.dialogs)


def test_hand_back_warns_about_an_unanswered_question_and_keeps_callback_tickets(stack, tabs, add_account, redis_url):
    agent = add_account("agent", "Frau Berger")
    cid = f"unans-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Ich möchte mit einem Menschen sprechen")
    tab = tabs(bypass_csp=True)  # bypass only to inject axe
    page = console_login(tab, stack.url, agent)
    queue_entry(page, cid).click()
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    stack.send(cid, "Brauche ich ein biometrisches Foto?")  # staff hold it: nobody answers yet
    expect(transcript(page, "citizen").last).to_contain_text("biometrisches Foto")

    page.get_by_role("button", name="Zurück an den Chatbot").click()
    dialog = page.get_by_role("dialog", name="Frage noch unbeantwortet")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("„Brauche ich ein biometrisches Foto?“")
    expect(dialog.get_by_role("button", name="Erst antworten")).to_be_focused()
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)
    dialog.get_by_role("button", name="Erst antworten").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Antwort an die Bürgerin / den Bürger")).to_be_focused()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")

    page.keyboard.press("Alt+b")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Trotzdem zurückgeben").click()
    expect(page.locator("#conv-meta")).to_contain_text("beim Chatbot")
    left = ConversationStore(redis_client(redis_url)).history(cid)[-1]
    assert left.data.get("kind") == "staff_left" and "noch nicht beantwortet" in left.text

    # a callback ticket stays tracked: no hand-back that would drop it out of the queue
    ticket = f"cb-{uuid.uuid4().hex[:12]}"
    stack.send(ticket, "Ich möchte mit einem Menschen sprechen")
    done = httpx.post(f"{stack.url}/api/conversations/{ticket}/callback", timeout=60,
                      json={"contact_kind": "email", "contact": "erika@example.org", "consent": True})  # fmt: skip
    assert done.status_code == 200, done.text
    queue_entry(page, ticket).click()
    banner = page.locator("#conv-callback")
    expect(banner).to_contain_text("Antwort per E-Mail erbeten: erika@example.org")
    expect(banner).to_contain_text("Offen, bis die Unterhaltung mit einem Abschlusscode beendet wird")
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    page.get_by_role("button", name="Zurück an den Chatbot").click()
    expect(page.locator("#action-error")).to_contain_text("Rückruf- oder E-Mail-Bitte offen")
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    expect(banner).to_be_visible()
    assert ConversationStore(redis_client(redis_url)).get(ticket).callback is not None
    assert tab.clean(), (tab.errors, tab.dialogs)


def test_agents_work_their_own_teams_and_transfer_explicitly(stack, tabs, add_account, screenshots: Path):
    berger = add_account("agent", "Frau Berger", ("buergerbuero",))
    yilmaz = add_account("agent", "Herr Yılmaz", ("kfz",))
    cid = f"team-{uuid.uuid4().hex[:12]}"
    stack.send(cid, "Ich möchte mit einem Menschen sprechen")  # no topic recognised: the general team, open to all

    page = console_login(tabs(), stack.url, berger)
    expect(page.locator("#queue-scope")).to_have_text(
        "Sie sehen die Anfragen Ihrer Teams: Bürgerbüro, Bürgerservice (allgemein) (für alle offen). "
        "Andere Teams erreichen Sie über „Weiterleiten“."
    )
    queue_entry(page, cid).click()
    page.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(page.locator("#conv-meta")).to_contain_text("von Ihnen betreut")
    page.get_by_label("Weiterleiten an Team").select_option(label="Kfz-Zulassung und Führerschein")
    page.get_by_role("button", name="Weiterleiten", exact=True).click()
    notice = page.locator("#conv-notice")
    expect(notice).to_have_text(
        "Weitergeleitet an das Team Kfz-Zulassung und Führerschein. "
        "Die Unterhaltung liegt jetzt in dessen Warteschlange."
    )
    expect(page.locator("#conv-body")).to_be_hidden()
    expect(queue_entry(page, cid)).to_have_count(0)  # Kfz's queue is not hers
    refused = _api(page, "POST", f"/conversations/{cid}/take")
    assert refused["status"] == 403 and "Kfz-Zulassung" in refused["body"]["detail"]
    page.screenshot(path=str(screenshots / "console-transferred-away.png"))

    kfz = console_login(tabs(), stack.url, yilmaz)
    queue_entry(kfz, cid).click()
    kfz.get_by_role("button", name="Übernehmen", exact=True).click()
    expect(kfz.locator("#conv-meta")).to_contain_text("von Ihnen betreut")


def test_running_conversations_are_counted_alike_in_list_and_overview(stack, tabs, add_account, redis_url):
    supervisor = add_account("supervisor", "Frau Schneider")
    store = ConversationStore(redis_client(redis_url))
    for n in range(70):  # more running conversations than the list shows
        cid = f"busy-{n:02d}-{uuid.uuid4().hex[:8]}"
        store.get_or_create(cid)
        store.append(Message(conversation_id=cid, role="citizen", text="Was kostet ein Personalausweis?"))
    tab = tabs(bypass_csp=True)
    page = console_login(tab, stack.url, supervisor)
    expect(page.locator("#live-list .cs-entry")).to_have_count(60)
    total = int(page.locator("#live-count").inner_text())
    assert total >= 70
    expect(page.locator("#live-more")).to_have_text(f"Angezeigt werden die 60 zuletzt aktiven von {total}.")
    expect(page.locator("#live-definition")).to_contain_text("letzte Nachricht vor höchstens 30 Minuten")
    page.get_by_role("button", name="Teamübersicht").click()
    expect(page.locator("#ov-live")).to_have_text(str(total))
    expect(page.locator("#ov-states-total")).to_have_text(str(total))
    states = page.locator("#ov-states tr").all_inner_texts()
    assert sum(int(row.split()[-1]) for row in states) == total, states
    serious = axe_violations(page)
    assert serious == [], "\n".join(serious)


def test_dashboard_in_german_with_team_names_and_a_way_back(stack, browser, add_account, screenshots: Path):
    supervisor = add_account("supervisor", "Frau Schneider")
    stack.send(f"dash-{uuid.uuid4().hex[:12]}", "Ich möchte mit einem Menschen sprechen")  # a handoff, team known
    context = browser.new_context(viewport=CONSOLE_VIEWPORT, locale="en-US", bypass_csp=True)  # an English browser
    context.set_default_timeout(WAIT_MS)
    try:
        page = console_login(Tab(context=context, page=context.new_page()), stack.url, supervisor)
        page.get_by_role("link", name="Kennzahlen-Dashboard").click()
        expect(page).to_have_url(re.compile(r"/console/metrics/dashboard$"))
        team_table = page.locator("table", has=page.locator("caption", has_text="Unterhaltungen nach Team"))
        for _ in range(60):  # the event log writer copies the handoff within a second or two
            if "Bürgerservice (allgemein)" in team_table.inner_text():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(team_table).to_contain_text("Bürgerservice (allgemein)")
        expect(team_table).not_to_contain_text("buergerservice")
        expect(page.get_by_label("Team")).to_contain_text("Bürgerservice (allgemein)")

        start, end = page.get_by_label("von"), page.get_by_label("bis")
        expect(start).to_have_value(re.compile(r"^\d{2}\.\d{2}\.\d{4}$"))  # German, although the browser is English
        expect(end).to_have_value(re.compile(r"^\d{2}\.\d{2}\.\d{4}$"))
        start.fill("01.01.2026")
        page.get_by_role("button", name="Anzeigen").click()
        expect(page.locator(".page-head")).to_contain_text("1. Januar 2026 bis")
        expect(page.get_by_label("von")).to_have_value("01.01.2026")
        page.get_by_label("von").fill("31.02.2026")
        page.get_by_role("button", name="Anzeigen").click()
        expect(page.get_by_role("alert")).to_contain_text("TT.MM.JJJJ")

        reasons = page.locator("figure", has=page.locator("figcaption", has_text="Gründe für Übergaben"))
        channels = page.locator("figure", has=page.locator("figcaption", has_text="Unterhaltungen nach Kanal"))
        expect(reasons.locator("svg")).to_have_count(1)
        expect(channels.locator("svg")).to_have_count(1)
        expect(reasons).not_to_contain_text("Unterhaltungen nach Kanal")
        serious = axe_violations(page)
        assert serious == [], "\n".join(serious)
        page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)

        page.get_by_role("link", name="Zur Mitarbeiterkonsole").click()
        expect(page).to_have_url(stack.url + "/console")
        expect(page.locator("#me")).to_contain_text("Frau Schneider")
    finally:
        context.close()
