"""Simulated staff for `buergerbot simulate --staff-user …`: they work the queue through the real console API.

Why: handoff figures (waiting time, first response, handling time, resolution codes, hand-backs)
only mean something when real console actions produce the events. One desk logs in like a person,
takes the next queued conversation, answers (a canned text or the knowledge-base suggestion), and
then hands back to the bot, transfers or closes with a resolution code.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import httpx


class StaffDesk:
    def __init__(self, base_url: str, username: str, password: str, seed: int = 1) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.rng = random.Random(seed)
        self.stats = {"taken": 0, "staff_messages": 0, "handed_back": 0, "closed": 0, "transferred": 0, "errors": 0}

    def _post(self, client: httpx.Client, path: str, csrf: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response = client.post(f"{self.base_url}{path}", json=body, headers={"X-CSRF-Token": csrf})
        if response.status_code >= 400 and response.status_code != 409:  # 409: a colleague was faster
            self.stats["errors"] += 1
        return response

    def work(self, citizens_done: threading.Event, think_s: float = 0.05, idle_limit_s: float = 5.0) -> dict[str, int]:
        """Serve the queue until the citizens are done and the queue stayed empty for `idle_limit_s`."""
        with httpx.Client(timeout=60) as client:
            login = client.post(f"{self.base_url}/console/api/login",
                                json={"username": self.username, "password": self.password})  # fmt: skip
            login.raise_for_status()
            csrf = login.json()["csrf"]
            config = client.get(f"{self.base_url}/console/api/config").json()
            canned = [c["text"] for c in config["canned_responses"]] or ["Guten Tag, ich helfe Ihnen gern."]
            codes = [r["code"] for r in config["resolutions"]] or ["answered"]
            teams = [t["id"] for t in config["teams"]]
            idle_since = time.monotonic()
            while True:
                queue = client.get(f"{self.base_url}/console/api/queue").json()
                if not queue:
                    if citizens_done.is_set() and time.monotonic() - idle_since > idle_limit_s:
                        break
                    time.sleep(0.5)
                    continue
                idle_since = time.monotonic()
                self._serve(client, csrf, queue[0]["conversation"]["id"], canned, codes, teams)
                time.sleep(think_s)
        return self.stats

    def _serve(self, client: httpx.Client, csrf: str, cid: str, canned: list[str], codes: list[str],
               teams: list[str]) -> None:  # fmt: skip
        base = f"/console/api/conversations/{cid}"
        if self._post(client, f"{base}/take", csrf).status_code != 200:
            return
        self.stats["taken"] += 1
        suggestions = client.get(f"{self.base_url}{base}/suggestions").json()
        text = suggestions[0]["text"][:3000] if suggestions and self.rng.random() < 0.6 else self.rng.choice(canned)
        self._post(client, f"{base}/messages", csrf, {"text": text})
        self.stats["staff_messages"] += 1
        roll = self.rng.random()
        if roll < 0.05 and len(teams) > 1:
            self._post(client, f"{base}/transfer", csrf, {"team": self.rng.choice(teams)})
            self.stats["transferred"] += 1
        elif roll < 0.55:
            self._post(client, f"{base}/handback", csrf)
            self.stats["handed_back"] += 1
        else:
            self._post(client, f"{base}/close", csrf, {"resolution": self.rng.choice(codes)})
            self.stats["closed"] += 1
