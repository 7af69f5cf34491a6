"""Security headers, allowed embedding origins (WebSocket and CORS) and the CSP, against the real gateway."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.testclient import TestClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot.conversation.store import ConversationStore
from bot.gateway.app import create_app
from bot.gateway.embedded_redis import redis_client
from bot.origins import normalize_origin
from bot.settings import Settings

TIMEOUT_S = 90
BASIC_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def _directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def _ws_url(gateway, conversation_id: str) -> str:
    return f"{gateway.url.replace('http', 'ws', 1)}/ws/conversations/{conversation_id}"


def _cid() -> str:
    return f"sec-{uuid.uuid4().hex[:12]}"


def test_every_kind_of_response_carries_the_security_headers(gateway):
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        responses = {
            "page": client.get("/"),
            "script": client.get("/widget/widget.js"),
            "health": client.get("/health"),
            "answer": client.post("/api/ask", json={"question": "Was kostet ein Reisepass?"}),
            "validation error": client.post("/api/ask", json={"question": ""}),
            "not found": client.get("/gibt-es-nicht"),
        }
    for name, response in responses.items():
        headers = response.headers
        for header, value in BASIC_HEADERS.items():
            assert headers.get(header) == value, (name, header, headers.get(header))
        assert "camera=()" in headers["permissions-policy"] and "microphone=()" in headers["permissions-policy"]
        assert "strict-transport-security" not in headers, "HSTS is only sent when configured for HTTPS"
        policy = _directives(headers["content-security-policy"])
        assert policy["script-src"] == ["'self'"], (name, policy)
        assert policy["style-src"] == ["'self'"], (name, policy)
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
        assert policy["frame-ancestors"] == ["'self'", gateway.city.origin]
        assert "'unsafe-inline'" not in headers["content-security-policy"]


def test_hsts_only_when_configured(demo_settings):
    """The header is added by the middleware alone, so the app is called without starting its services."""

    def health_headers(**changes: object) -> Headers:
        settings = Settings(**{**demo_settings.model_dump(), **changes})
        # without `with`, TestClient does not run the lifespan: no index, Redis or Rasa is started
        return TestClient(create_app(settings), base_url="https://bot.example.de").get("/health").headers

    assert "strict-transport-security" not in health_headers()
    assert health_headers(hsts_max_age_s=31536000)["strict-transport-security"] == "max-age=31536000"


def test_demo_page_has_no_inline_code_and_its_style_is_a_file(gateway):
    page = httpx.get(f"{gateway.url}/", timeout=30).text
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/widget/widget.js" defer>']
    css = httpx.get(f"{gateway.url}/demo.css", timeout=30)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".site-header" in css.text


def test_docs_allow_only_their_own_inline_script_by_hash(gateway):
    response = httpx.get(f"{gateway.url}/docs", timeout=30)
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    scripts = _directives(response.headers["content-security-policy"])["script-src"]
    assert f"'sha256-{digest}'" in scripts
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("city", True),
        ("self", True),
        (None, True),  # not a browser page: such a client could claim any origin anyway
        ("foreign", False),
        ("null", False),  # sandboxed frames and file:// pages
        ("http://127.0.0.1", False),  # same host, other port: another origin
        ("https://stadt.example.de.evil.example", False),
    ],
)
def test_widget_socket_accepts_only_allowed_origins(gateway, origin: str | None, accepted: bool):
    header = {"city": gateway.city.origin, "foreign": gateway.foreign.origin, "self": gateway.url}.get(
        origin or "", origin
    )
    url = _ws_url(gateway, _cid())
    if accepted:
        with connect(url, origin=header, open_timeout=TIMEOUT_S) as ws:  # type: ignore[arg-type]
            assert json.loads(ws.recv(timeout=TIMEOUT_S)) == {"kind": "ready", "seq": 0}
    else:
        with pytest.raises(InvalidStatus) as refused:
            connect(url, origin=header, open_timeout=TIMEOUT_S)  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403


def test_rest_fallback_cors_only_for_allowed_origins(gateway):
    path = f"/api/conversations/{_cid()}/messages"
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    with httpx.Client(base_url=gateway.url, timeout=60) as client:
        allowed = client.options(path, headers={"Origin": gateway.city.origin, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == gateway.city.origin
        assert "access-control-allow-credentials" not in allowed.headers  # no cookies, ever

        refused = client.options(path, headers={"Origin": gateway.foreign.origin, **preflight})
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        history = client.get(f"/api/conversations/{_cid()}", headers={"Origin": gateway.foreign.origin})
        assert "access-control-allow-origin" not in history.headers
        # CORS is for the widget's conversation endpoints only, not for the rest of the API
        other = client.options("/api/ask", headers={"Origin": gateway.city.origin, **preflight})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize(
    "raw",
    [
        "https://*.muenchen.de",
        "*",
        "https://www.muenchen.de/buergerservice",
        "muenchen.de",
        "ftp://muenchen.de",
        "https://a.de; script-src *",
        "https://user:pw@a.de",
        "https://a.de:99999",
    ],
)
def test_malformed_allowed_origins_fail_at_start_up(raw: str):
    with pytest.raises(ValidationError):
        Settings(allowed_origins=raw)  # type: ignore[arg-type]


def test_allowed_origins_are_normalised_like_browsers_send_them():
    settings = Settings(
        allowed_origins="https://WWW.Muenchen.de/, 'self' https://www.muenchen.de:443,http://[::1]:8080"
    )
    assert settings.allowed_origins == ["https://www.muenchen.de", "http://[::1]:8080"]
    assert normalize_origin("http://localhost:80") == "http://localhost"


def _ask_in_widget(page: Page, text: str) -> None:
    page.get_by_role("button", name="Fragen? Chat mit dem Bürgerservice").click()
    field = page.get_by_label("Ihre Nachricht")
    field.fill(text)
    field.press("Enter")


@pytest.mark.slow  # real Chromium
def test_widget_embedded_on_an_allowed_city_site_works_live(gateway, in_browser):
    def check(page: Page) -> None:
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))
        page.goto(gateway.city.origin + "/")
        _ask_in_widget(page, "Was kostet ein Reisepass?")
        bot = page.locator(".bb-log .bb-msg--bot")
        expect(bot).to_have_count(1)
        expect(bot.first).to_contain_text("Reisepass")
        expect(page.locator(".bb-typing")).to_be_hidden()
        assert sockets and sockets[0].startswith(gateway.url.replace("http", "ws", 1))
        expect(page.locator(".bb-conn")).to_be_hidden()  # the live socket was used, no fallback

    in_browser(check)


@pytest.mark.slow  # real Chromium
def test_widget_on_a_foreign_site_can_neither_connect_nor_send(gateway, in_browser):
    def check(page: Page) -> None:
        page.goto(gateway.foreign.origin + "/")
        _ask_in_widget(page, "Was kostet ein Reisepass?")
        expect(page.locator(".bb-alert")).to_contain_text("Ihre Nachricht konnte nicht gesendet werden")
        expect(page.locator(".bb-log .bb-msg--bot")).to_have_count(0)
        conversation_id = page.evaluate("() => sessionStorage.getItem('buergerbot.conversation')")
        store = ConversationStore(redis_client(gateway.redis_url))
        assert store.get(conversation_id) is None and store.history(conversation_id) == []

    in_browser(check)


@pytest.mark.slow  # real Chromium
def test_csp_blocks_injected_inline_script_on_the_demo_page(gateway, in_browser):
    def check(page: Page) -> None:
        violations: list[str] = []
        page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        page.goto(gateway.url + "/")
        expect(page.get_by_role("button", name="Fragen? Chat mit dem Bürgerservice")).to_be_visible()
        header = page.evaluate("() => getComputedStyle(document.querySelector('.site-header')).backgroundColor")
        assert header == "rgb(0, 75, 135)", "the demo page's stylesheet must load under the policy"
        launcher = page.evaluate("() => getComputedStyle(document.querySelector('.bb-launcher')).position")
        assert launcher == "fixed", "the widget's stylesheet must load under the policy"
        assert violations == [], violations

        outcome = page.evaluate(
            """() => new Promise(resolve => {
                window.__pwned = false;
                document.addEventListener('securitypolicyviolation',
                    e => resolve({pwned: window.__pwned, directive: e.violatedDirective}), {once: true});
                const s = document.createElement('script');
                s.textContent = 'window.__pwned = true';
                document.head.appendChild(s);
            })"""
        )
        assert outcome == {"pwned": False, "directive": "script-src-elem"}

    in_browser(check)
