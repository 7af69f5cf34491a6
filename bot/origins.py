"""Browser origins: the configured list of city websites, and whether a request's `Origin` is one of them.

The lowest layer of the bot (beside settings): settings parse `BUERGERBOT_ALLOWED_ORIGINS` with it, the
gateway's security headers and the widget's WebSocket check use it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import Scope

_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


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


def own_origin(scope: Scope) -> str:
    """The origin the client used to reach us (scheme and Host header; ws/wss map to http/https)."""
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"), scope.get("scheme", "http"))
    host = Headers(scope=scope).get("host", "")
    try:
        return normalize_origin(f"{scheme}://{host}")
    except ValueError:
        return ""


def origin_allowed(scope: Scope, allowed_origins: Sequence[str], public_base_url: str = "") -> bool:
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
    allowed = {own_origin(scope), *allowed_origins}
    if public_base_url:
        with contextlib.suppress(ValueError):
            allowed.add(normalize_origin(public_base_url.rstrip("/")))
    return normalized in allowed
