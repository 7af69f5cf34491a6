"""HTTP security of the gateway: response headers, the origins allowed to embed the widget, CORS.

Why it looks like this:
- One pure ASGI middleware adds the headers to every HTTP response (pages, API, static files), so a
  route added later by another connector is covered without remembering to do anything.
- The Content-Security-Policy allows scripts and styles from our own origin only, never inline:
  the widget and the demo page need nothing else, so an injected `<script>` cannot run even if some
  text ever slipped into markup. Only the developer docs (`/docs`: Swagger UI's files from our own
  origin, bot/docs.py) start with one inline script: that script is allowed by its hash, computed
  from the response itself, never by 'unsafe-inline'.
- `BUERGERBOT_ALLOWED_ORIGINS` lists the city websites that embed the widget. The same list decides
  who may frame our pages (`frame-ancestors`), open the widget's WebSocket (browsers do not apply
  CORS to WebSockets, so the Origin header is checked here) and call the REST fallback (CORS, only
  for the widget's conversation endpoints). Same-origin is always allowed.
- Origins are validated strictly when settings load: a typo must fail loudly at start-up, and a
  value with spaces or semicolons must never be able to rewrite the policy header.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from bot.settings import Settings

WIDGET_API_PREFIX = "/api/conversations/"  # the widget's REST fallback; the only paths with CORS
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_INLINE_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


def normalize_origin(raw: str) -> str:
    """`https://WWW.Muenchen.de:443/` → `https://www.muenchen.de`, the form browsers send in `Origin`.

    Raises ValueError for anything that is not exactly scheme://host[:port]: paths, wildcards,
    credentials or characters that would break the policy header are configuration mistakes.
    """
    value = raw.strip()
    if value.endswith("/") and value.count("/") == 3:
        value = value[:-1]
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not an origin (scheme://host[:port]): {raw!r}") from exc
    host = (parts.hostname or "").lower()
    if parts.netloc.startswith("["):
        host = f"[{host}]"
    if (
        parts.scheme not in ("http", "https")
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or not (_HOST.fullmatch(host) or _IPV6.fullmatch(host))
    ):
        raise ValueError(f"not an origin (scheme://host[:port], no path, no wildcard): {raw!r}")
    if port is None or port == _DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def parse_origins(value: object) -> list[str]:
    """Allowed origins from the environment (comma or space separated) or a list, normalised, deduplicated.

    `'self'` is accepted and dropped, because our own origin is always allowed anyway.
    """
    if value is None:
        return []
    items: Iterable[object] = re.split(r"[\s,]+", value) if isinstance(value, str) else value  # type: ignore[assignment]
    origins: list[str] = []
    for item in items:
        text = str(item).strip()
        if not text or text in ("'self'", "self"):
            continue
        origin = normalize_origin(text)
        if origin not in origins:
            origins.append(origin)
    return origins


def content_security_policy(allowed_origins: Sequence[str]) -> str:
    """The policy for everything we serve: own origin only, no inline code, framing by the listed cities."""
    ancestors = " ".join(["'self'", *allowed_origins])
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


def _hashes(pattern: re.Pattern[bytes], body: bytes) -> str:
    found = {base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode() for m in pattern.finditer(body)}
    return " ".join(f"'sha256-{digest}'" for digest in sorted(found))


def docs_content_security_policy(body: bytes, allowed_origins: Sequence[str]) -> str:
    """The developer docs: Swagger UI's files from our own origin (bot/docs.py), started by one inline script.

    That script (and an inline style, should the page ever carry one) is allowed by its hash, so
    nothing else inline can run there, and no other origin is allowed at all.
    """
    ancestors = " ".join(["'self'", *allowed_origins])
    return (
        f"default-src 'self'; script-src 'self' {_hashes(_INLINE_SCRIPT, body)}; "
        f"style-src 'self' {_hashes(_INLINE_STYLE, body)}; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; "
        f"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )


def own_origin(scope: Scope) -> str:
    """The origin the client used to reach us (scheme and Host header; ws/wss map to http/https)."""
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
    host = Headers(scope=scope).get("host", "")
    try:
        return normalize_origin(f"{scheme}://{host}")
    except ValueError:
        return ""


def origin_allowed(scope: Scope, settings: Settings) -> bool:
    """May a browser page with this request's `Origin` talk to us (WebSocket upgrade or API call)?

    A request without `Origin` is not from a browser page (browsers always send it on WebSocket
    upgrades); such clients can claim any origin anyway, so the check would protect nothing there.
    `Origin: null` (sandboxed frames, file://) and malformed values are refused.
    """
    origin = Headers(scope=scope).get("origin")
    if origin is None:
        return True
    try:
        normalized = normalize_origin(origin)
    except ValueError:
        return False
    allowed = {own_origin(scope), *settings.allowed_origins}
    if settings.public_base_url:
        with contextlib.suppress(ValueError):
            allowed.add(normalize_origin(settings.public_base_url.rstrip("/")))
    return normalized in allowed


class SecurityMiddleware:
    """Adds the security headers to every HTTP response and answers CORS for the widget's REST fallback."""

    def __init__(self, app: ASGIApp, settings: Settings, docs_paths: Iterable[str | None] = ()) -> None:
        self.app = app
        self.allowed_origins = list(settings.allowed_origins)
        self.docs_paths = {path for path in docs_paths if path}
        self.headers = {
            "content-security-policy": content_security_policy(self.allowed_origins),
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "permissions-policy": PERMISSIONS_POLICY,
            "cross-origin-opener-policy": "same-origin",
        }
        if settings.hsts_max_age_s > 0:
            self.headers["strict-transport-security"] = f"max-age={settings.hsts_max_age_s}"
        # No credentials: the widget never sends cookies, so a city page cannot act as a logged-in user.
        self.cors = CORSMiddleware(
            app,
            allow_origins=self.allowed_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            allow_credentials=False,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inner = self.cors if scope["path"].startswith(WIDGET_API_PREFIX) else self.app
        if scope["path"] in self.docs_paths:
            await inner(scope, receive, self._docs_sender(send))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._apply(message, self.headers)
            await send(message)

        await inner(scope, receive, send_with_headers)

    @staticmethod
    def _apply(message: Message, values: dict[str, str]) -> None:
        headers = MutableHeaders(scope=message)
        for name, value in values.items():
            headers.setdefault(name, value)  # a route that sets its own (stricter) value keeps it

    def _docs_sender(self, send: Send) -> Send:
        """Hold the docs page until its body is complete, then send it with a policy hashing its inline code."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def sender(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            policy = docs_content_security_policy(body, self.allowed_origins)
            values = {**self.headers, "content-security-policy": policy}
            self._apply(start, values)
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        return sender
