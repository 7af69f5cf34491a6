"""End-to-end evaluation through the running stack (gateway → Rasa → actions → knowledge).

Every question is a fresh conversation, sent like a citizen would send it. We read what came
back: an answer with a service, an honest abstention, or an offer of a person.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from knowledge.evaluation import EvalQuestion


def classify_replies(messages: list[dict[str, Any]], state: str) -> tuple[str, str | None]:
    """('answer', service) | ('handoff', None) | ('abstain', None) from the bot's reply messages."""
    for message in messages:
        data = message.get("data") or {}
        if "handoff_offer" in data or "handoff" in data:
            return "handoff", None
    if state in ("queued", "staff"):
        return "handoff", None
    for message in messages:
        data = message.get("data") or {}
        if data.get("kind") == "answer" and data.get("service_id"):
            return "answer", str(data["service_id"])
    return "abstain", None


def evaluate_through_bot(base_url: str, questions: Sequence[EvalQuestion], timeout_s: float = 30.0) -> dict[str, Any]:
    outcomes: list[tuple[EvalQuestion, str, str | None]] = []
    timings: list[float] = []
    with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
        client.get("/health").raise_for_status()
        for item in questions:
            conversation_id = f"eval-{uuid.uuid4().hex[:16]}"
            started = time.perf_counter()
            response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": item.question})
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            body = response.json()
            kind, service = classify_replies(body["messages"], body["conversation"]["state"])
            outcomes.append((item, kind, service))
    return summarise(outcomes, timings)


def summarise(outcomes: list[tuple[EvalQuestion, str, str | None]], timings: list[float]) -> dict[str, Any]:
    with_service = [(q, kind, service) for q, kind, service in outcomes if q.service]
    hit1 = sum(1 for _, kind, service in with_service if kind == "answer" and service == _.service)
    answered = [(q, service) for q, kind, service in with_service if kind == "answer"]
    answered_hit1 = sum(1 for q, service in answered if service == q.service)
    should_abstain = [kind for q, kind, _ in outcomes if q.expect == "abstain"]
    did_abstain = [(q, kind) for q, kind, _ in outcomes if q.expect != "handoff" and kind == "abstain"]
    handoffs = [kind for q, kind, _ in outcomes if q.expect == "handoff"]
    return {
        "hit@1": round(hit1 / len(with_service), 4) if with_service else 0.0,
        "answered_hit@1": round(answered_hit1 / len(answered), 4) if answered else 0.0,
        "answered_share": round(len(answered) / len(with_service), 4) if with_service else 0.0,
        "abstain_recall": round(should_abstain.count("abstain") / len(should_abstain), 4) if should_abstain else 0.0,
        "abstain_precision": round(
            sum(1 for q, _ in did_abstain if q.expect == "abstain") / len(did_abstain), 4
        ) if did_abstain else 0.0,
        "handoff_recall": round(handoffs.count("handoff") / len(handoffs), 4) if handoffs else 0.0,
        "p50_ms": round(float(np.percentile(timings, 50)), 2) if timings else 0.0,
        "p95_ms": round(float(np.percentile(timings, 95)), 2) if timings else 0.0,
    }
