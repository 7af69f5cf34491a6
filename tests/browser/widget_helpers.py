"""Small helpers shared by the widget browser tests (kept out of conftest so tests import them plainly)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from bot.settings import PROJECT_ROOT

LAUNCHER = "Fragen? Chat mit dem Bürgerservice"
DIALOG = "Chat mit dem Bürgerservice"
INPUT = "Ihre Nachricht"
AXE_VERSION = "4.14.1"
NPM_PREFIX = PROJECT_ROOT / ".cache" / "npm"


def open_widget(page: Page, url: str) -> None:
    page.goto(url + "/")
    page.get_by_role("button", name=LAUNCHER).click()
    expect(page.get_by_role("dialog", name=DIALOG)).to_be_visible()


def ask(page: Page, text: str) -> None:
    field = page.get_by_label(INPUT)
    field.fill(text)
    field.press("Enter")


def messages(page: Page, role: str | None = None) -> Locator:
    return page.locator(f".bb-log .bb-msg--{role}" if role else ".bb-log .bb-msg")


def wait_idle(page: Page) -> None:
    """The reply is complete when the typing indicator is gone and nothing waits for confirmation."""
    expect(page.locator(".bb-typing")).to_be_hidden()
    expect(page.locator(".bb-log .bb-pending")).to_have_count(0)


def conversation_id(page: Page) -> str:
    return str(page.evaluate("() => sessionStorage.getItem('buergerbot.conversation')"))


def shown_seqs(page: Page) -> list[float]:
    raw = page.eval_on_selector_all(".bb-log .bb-msg", "els => els.map(e => e.getAttribute('data-seq'))")
    return [float(value) for value in raw if value is not None]


def assert_no_duplicates(page: Page) -> None:
    """Every stored message is shown once, in order: what replay after reconnect must guarantee."""
    seqs = shown_seqs(page)
    assert seqs == sorted(seqs), f"messages out of order: {seqs}"
    assert len(seqs) == len(set(seqs)), f"duplicate messages: {seqs}"
    assert len(seqs) == messages(page).count(), "a message without a server sequence number is still shown"


def axe_script() -> Path:
    """axe-core from the npm registry into a project folder (no global install, no CDN at test time)."""
    script = NPM_PREFIX / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_PREFIX), "--no-audit", "--no-fund", f"axe-core@{AXE_VERSION}"],
            check=True,
            timeout=600,
        )
    return script
