"""Retrying a request the way our clients do, for fault tests that take Redis or a gateway away."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx


def retrying(call: Callable[[], httpx.Response], attempts: int = 240) -> httpx.Response:
    """What the widget and console do: the same request again after a 503 (Redis away) or a dropped connection."""
    for _ in range(attempts):
        try:
            response = call()
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if response.status_code != 503:
            return response
        time.sleep(0.5)
    raise AssertionError("gave up retrying")
