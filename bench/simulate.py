"""`buergerbot simulate`: realistic citizen traffic through the running gateway's public REST API.

Why through the real stack and not by writing rows: the demo and tests then exercise the turn handler,
the answerer, the handoff queue, redaction and the event-log writer exactly as production does,
so the dashboard and report show what a fresh install would really record.

Citizens are generated from the demo content (titles, colloquial keywords, typical section
questions), with typos and colloquial variants, button presses with the payloads the bot offers,
feedback, questions the content does not cover (content gaps), some personal data (redaction),
and some who ask for a person. With staff credentials, `simulate_staff.StaffDesk` works the queue
through the console API at the same time.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

SECTION_QUESTIONS = (
    "Was kostet {x}?",
    "Welche Unterlagen brauche ich für {x}?",
    "Wo beantrage ich {x}?",
    "Wie lange dauert {x}?",
    "Kann ich {x} online erledigen?",
    "{x} – was muss ich mitbringen?",
    "wie funktioniert das mit {x}",
    "Brauche ich einen Termin für {x}?",
)
COLLOQUIAL = ("hey, ", "Hallo, ", "Guten Tag, ", "moin ", "", "", "kurze Frage: ")
UNCOVERED = (
    "Darf mein Hund im Englischen Garten ohne Leine laufen?",
    "Muss mein Hund im Park an die Leine?",
    "Wo darf man an der Isar grillen?",
    "Ist Grillen an der Isar erlaubt?",
    "Wie melde ich Bienenvölker an?",
    "Muss ich meine Bienen beim Veterinäramt melden?",
    "Die Straßenlaterne vor meinem Haus ist kaputt, wem melde ich das?",
    "Wo melde ich eine defekte Straßenlaterne?",
    "Wann hat das Hallenbad am Sonntag geöffnet?",
    "Wie beschwere ich mich über Baulärm in der Nacht?",
    "Lärmbeschwerde wegen Baustelle nachts, wer ist zuständig?",
    "Bekomme ich einen Zuschuss für ein Balkonkraftwerk?",
    "Gibt es Förderung für Balkonkraftwerke in München?",
)
WANTS_HUMAN = (
    "Kann ich bitte mit einem Mitarbeiter sprechen?",
    "Ich möchte mit einem Menschen reden",
    "verbinden sie mich bitte mit einer Sachbearbeiterin",
)
PERSONAL = (
    "Ich heiße Maria Huber, ",
    "Mein Name ist Jonas Weber und ",
    "Tel. 0171 2345678 – ",
    "meine Mail ist m.huber@example.org, ",
)
FEEDBACK = (("Hilfreich", "/feedback_positive"), ("Nicht hilfreich", "/feedback_negative"))


def load_topics(content_dir: Path) -> list[dict[str, Any]]:
    """Service title and keywords of the configured content, whatever its format (DLDB, YAML, …)."""
    from knowledge.importers import load_path

    return [
        {"id": service.id, "title": service.title, "keywords": list(service.keywords)}
        for service in load_path(content_dir).services
    ]


def typo(text: str, rng: random.Random) -> str:
    """A realistic slip: swapped letters, a dropped letter, umlauts spelled out or lower case."""
    kind = rng.randrange(4)
    if kind == 0 and len(text) > 8:
        i = rng.randrange(1, len(text) - 2)
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1 and len(text) > 8:
        i = rng.randrange(1, len(text) - 1)
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    return text.lower()


def citizen_question(topics: list[dict[str, Any]], weights: list[float], rng: random.Random) -> str:
    topic = rng.choices(topics, weights=weights)[0]
    subject = rng.choice([topic["title"], *topic["keywords"]]) if topic["keywords"] else topic["title"]
    question = rng.choice(COLLOQUIAL) + rng.choice(SECTION_QUESTIONS).format(x=subject)
    return typo(question, rng) if rng.random() < 0.25 else question


class Simulation:
    def __init__(
        self, base_url: str, topics: list[dict[str, Any]], seed: int, client: httpx.Client | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client  # shared client (tests: the app's TestClient); default one per citizen
        self.topics = topics
        # a few services carry most of the demand, as in every citizen office (Zipf-like)
        self.weights = [1 / (rank + 1) for rank in range(len(topics))]
        random.Random(seed).shuffle(self.weights)
        self.seed = seed
        self.lock = threading.Lock()
        self.stats = {"conversations": 0, "messages": 0, "handoff_requests": 0, "feedback": 0, "errors": 0}

    def _count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.stats[key] += n

    def _send(self, client: httpx.Client, cid: str, text: str, payload: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"text": text}
        if payload:
            body["payload"] = payload
        for attempt in range(4):
            response = client.post(f"{self.base_url}/api/conversations/{cid}/messages", json=body)
            if response.status_code == 429:  # rate limit: a real citizen would wait, too
                time.sleep(float(response.headers.get("Retry-After", "1")) * (attempt + 1))
                continue
            self._count("messages")
            if response.status_code != 200:
                self._count("errors")
                return {}
            return response.json()
        self._count("errors")
        return {}

    def citizen(self, index: int) -> None:
        rng = random.Random(self.seed * 1_000_003 + index)
        cid = f"sim-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}"
        with contextlib.nullcontext(self.client) if self.client else httpx.Client(timeout=60) as client:
            self._count("conversations")
            persona = rng.random()
            if persona < 0.22:
                first = rng.choice(UNCOVERED)
            elif persona < 0.30:
                first = rng.choice(WANTS_HUMAN)
            else:
                first = citizen_question(self.topics, self.weights, rng)
            if rng.random() < 0.08:
                first = rng.choice(PERSONAL) + first[0].lower() + first[1:]
            reply = self._send(client, cid, first)
            if persona < 0.30 and persona >= 0.22:
                self._count("handoff_requests")
                return
            for _turn in range(rng.choice((0, 1, 1, 2))):
                buttons = [b for m in reply.get("messages", []) for b in m.get("buttons", [])]
                if buttons and rng.random() < 0.6:
                    button = rng.choice(buttons)
                    reply = self._send(client, cid, button["title"], button["payload"])
                elif persona < 0.22 and rng.random() < 0.5:
                    reply = self._send(client, cid, rng.choice(UNCOVERED))
                else:
                    reply = self._send(client, cid, citizen_question(self.topics, self.weights, rng))
            if rng.random() < 0.35:
                helpful = rng.random() < (0.3 if persona < 0.22 else 0.8)
                title, payload = FEEDBACK[0] if helpful else FEEDBACK[1]
                self._send(client, cid, title, payload)
                self._count("feedback")
            if rng.random() < (0.35 if persona < 0.22 else 0.07):
                self._send(client, cid, rng.choice(WANTS_HUMAN))
                self._count("handoff_requests")


def run_simulation(
    base_url: str,
    conversations: int,
    concurrency: int = 4,
    seed: int = 1,
    content_dir: Path | None = None,
    client: httpx.Client | None = None,
    staff: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Simulate `conversations` citizens (and, given credentials, one staff desk); returns counts."""
    from bot.settings import PROJECT_ROOT

    topics = load_topics(content_dir or PROJECT_ROOT / "knowledge" / "content")
    health = f"{base_url.rstrip('/')}/health"
    (client.get(health) if client else httpx.get(health, timeout=10)).raise_for_status()
    simulation = Simulation(base_url, topics, seed, client)
    started = time.perf_counter()
    citizens_done = threading.Event()
    desk_result: dict[str, int] = {}
    desk_thread = None
    if staff:
        from bench.simulate_staff import StaffDesk

        desk = StaffDesk(base_url, staff[0], staff[1], seed)
        desk_thread = threading.Thread(target=lambda: desk_result.update(desk.work(citizens_done)), daemon=True)
        desk_thread.start()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(simulation.citizen, range(conversations)))
    citizens_done.set()
    if desk_thread:
        desk_thread.join(timeout=600)
    staff_stats = {f"staff_{k}": v for k, v in desk_result.items()}
    return {**simulation.stats, **staff_stats, "seconds": round(time.perf_counter() - started, 2)}
