"""End-to-end latency of a question through gateway → Rasa → action → knowledge, with hop shares.

Usage: python -m bench.dialogue_latency [--url http://127.0.0.1:8000] [--rounds 3]
Without --url it starts its own stack (gateway process + Rasa + Redis) like the integration tests.
Hops: gateway = client time − Rasa call; Rasa = Rasa call − knowledge (dialogue core, action
HTTP round trip, tracker in Redis); knowledge = retrieval and answer inside the action.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from bench.machine import machine_info
from knowledge.evaluation import load_questions

DEFAULT_QUESTIONS = Path(__file__).resolve().parent / "data" / "holdout_questions.jsonl"


def run(url: str, questions: list[str], rounds: int) -> dict[str, object]:
    total: list[float] = []
    rasa: list[float] = []
    knowledge: list[float] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        for warm in questions[:5]:  # warm-up, not measured
            client.post(f"/api/conversations/warm-{uuid.uuid4().hex[:8]}/messages", json={"text": warm})
        for _ in range(rounds):
            for question in questions:
                cid = f"bench-{uuid.uuid4().hex[:12]}"
                started = time.perf_counter()
                body = client.post(f"/api/conversations/{cid}/messages", json={"text": question}).json()
                elapsed = (time.perf_counter() - started) * 1000
                timing = next(
                    (m["data"]["timing"] for m in body["messages"] if "timing" in (m.get("data") or {})), None
                )
                if not timing or "rasa_ms" not in timing:
                    continue  # answered by a Rasa response (greeting, out of scope) without an action
                total.append(elapsed)
                rasa.append(timing["rasa_ms"])
                knowledge.append(timing["knowledge_ms"])

    def pct(values: list[float], q: float) -> float:
        return round(float(np.percentile(values, q)), 1)

    t, r, k = np.array(total), np.array(rasa), np.array(knowledge)
    return {
        "n": len(total),
        "total_ms": {"p50": pct(total, 50), "p95": pct(total, 95)},
        "share_of_median": {
            "gateway": round(float(np.median(t - r) / np.median(t)), 3),
            "rasa_and_action_http": round(float(np.median(r - k) / np.median(t)), 3),
            "knowledge": round(float(np.median(k) / np.median(t)), 3),
        },
        "hop_ms_p50": {
            "gateway": round(float(np.median(t - r)), 1),
            "rasa_and_action_http": round(float(np.median(r - k)), 1),
            "knowledge": round(float(np.median(k)), 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    args = parser.parse_args()
    questions = [q.question for q in load_questions(args.questions) if q.expect == "answer"]
    stack = None
    if not args.url:
        from tests.support.stack import Stack

        stack = Stack().start()
        args.url = stack.url
    try:
        result = run(args.url, questions, args.rounds)
    finally:
        if stack:
            stack.stop()
    print(json.dumps({"machine": machine_info(), "url": args.url, "rounds": args.rounds, **result}, indent=1))


if __name__ == "__main__":
    main()
