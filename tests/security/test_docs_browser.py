"""The developer docs (Swagger UI at /docs) render in real Chromium under the gateway's CSP.

This machine, like many city networks, has no internet: a page that loads Swagger UI from a CDN
stays blank. So we open the page in headless Chromium and require that it renders the API, with no
CSP violation, no console error and no request to another origin. ReDoc is not offered (bot/gateway/docs.py
says why); old /redoc links land on Swagger UI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow  # real Chromium

# Registered before any page script runs; Playwright's init scripts are not subject to the page's CSP.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sample || ''));
}, true);
"""


@dataclass
class Observed:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


def _observe(page: Page, own: str) -> Observed:
    seen = Observed()
    page.add_init_script(COLLECT_VIOLATIONS)
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: seen.page_errors.append(str(exc)))
    local = (own, "data:", "blob:")
    page.on("request", lambda r: None if r.url.startswith(local) else seen.foreign_requests.append(r.url))
    page.on("requestfailed", lambda r: seen.failed_requests.append(f"{r.url} {r.failure}"))
    return seen


def _assert_clean(page: Page, seen: Observed) -> None:
    violations = page.evaluate("window.__cspViolations")
    assert violations == [], f"CSP violations: {violations}"
    assert seen.console_errors == [], seen.console_errors
    assert seen.page_errors == [], seen.page_errors
    assert seen.foreign_requests == [], f"requests to other origins: {seen.foreign_requests}"
    assert seen.failed_requests == [], seen.failed_requests


def test_swagger_ui_renders_under_the_csp(gateway, in_browser: Callable[[Callable[[Page], None]], None]):
    def check(page: Page) -> None:
        seen = _observe(page, gateway.url)
        page.goto(f"{gateway.url}/docs")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("buergerbot")
        operation = page.locator(".opblock-summary-path", has_text="/api/ask").first
        expect(operation).to_be_visible()
        operation.click()  # expanding an operation renders its schema: more of Swagger UI's code runs
        expect(page.locator(".opblock-body").first).to_be_visible()
        page.wait_for_load_state("networkidle")
        _assert_clean(page, seen)

    in_browser(check)


def test_old_redoc_links_land_on_swagger_ui(gateway, in_browser: Callable[[Callable[[Page], None]], None]):
    assert httpx.get(f"{gateway.url}/redoc", timeout=30).headers["location"] == "/docs"

    def check(page: Page) -> None:
        seen = _observe(page, gateway.url)
        page.goto(f"{gateway.url}/redoc")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("buergerbot")
        page.wait_for_load_state("networkidle")
        _assert_clean(page, seen)

    in_browser(check)


def test_docs_policy_allows_no_other_origin_and_nothing_inline_but_the_hashed_start_script(gateway):
    response = httpx.get(f"{gateway.url}/docs", timeout=30)
    directives = {p.split()[0]: p.split()[1:] for p in response.headers["content-security-policy"].split(";") if p}
    for name, sources in directives.items():
        if name == "frame-ancestors":
            continue  # the allowed city websites may frame our pages, as everywhere (test_http_security.py)
        assert not [s for s in sources if "://" in s or s in ("*", "https:", "blob:")], (name, sources)
    assert [s for s in directives["script-src"] if s != "'self'" and not s.startswith("'sha256-")] == []
    assert directives["style-src"] == ["'self'"]  # Swagger UI needs no inline style at all
    assert "/docs-assets/swagger-ui-bundle.js" in response.text and "cdn." not in response.text
    assert httpx.get(f"{gateway.url}/openapi.json", timeout=30).json()["info"]["title"] == "buergerbot"
