"""HTTP security of the gateway: response headers, the origins allowed to embed the widget, CORS.

Why it looks like this:
- One pure ASGI middleware adds the headers to every HTTP response (pages, API, static files), so a
  route added later by another connector is covered without remembering to do anything.
- The Content-Security-Policy allows scripts and styles from our own origin only, never inline:
  the widget and the demo page need nothing else, so an injected `<script>` cannot run even if some
  text ever slipped into markup. Only the developer docs (`/docs`: Swagger UI's files from our own
  origin, bot/gateway/docs.py) start with one inline script: that script is allowed by its hash, computed
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
import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from bot.settings import Settings

WIDGET_API_PREFIX = "/api/conversations/"  # the widget's REST fallback; the only paths with CORS
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()"
)
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)
_INLINE_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


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
    """The developer docs: Swagger UI's files from our own origin (bot/gateway/docs.py), started by one inline script.

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
