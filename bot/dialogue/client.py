"""The gateway's client of the Rasa server: one citizen message in, Rasa's reply items out.

Kept beside the supervisor that starts the server, so everything that knows Rasa's REST channel
(its URL, its JSON) is in `bot/dialogue`; the turn handler only sees `RasaUnreachableError` and
answers in degraded mode.
"""

from __future__ import annotations

from typing import Any

import httpx


class RasaUnreachableError(RuntimeError):
    """Rasa did not answer (down, restarting, too slow or an error status)."""


class RasaClient:
    def __init__(self, base_url: str, timeout_s: float) -> None:
        self.base_url = base_url
        self.timeout_s = timeout_s

    async def send(self, conversation_id: str, text: str) -> list[dict[str, Any]]:
        """Rasa's reply items (text and buttons, or an action's custom JSON) for one message of the citizen."""
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(
                    f"{self.base_url}/webhooks/rest/webhook",
                    json={"sender": conversation_id, "message": text},
                )
        except httpx.HTTPError as exc:
            raise RasaUnreachableError(str(exc)) from exc
        if response.status_code != 200:
            raise RasaUnreachableError(f"rasa answered {response.status_code}")
        return list(response.json() or [])
