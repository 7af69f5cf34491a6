"""End-to-end evaluation through the running stack (gateway → Rasa → actions → knowledge).

Every question is a fresh conversation, sent like a citizen would send it. We read what came
back: an answer with a service, an honest abstention, or an offer of a person.

The gateway limits requests per client IP (`BUERGERBOT_RATE_LIMIT_PER_IP`, 60 a minute by default),
and an evaluation run is one client sending a hundred questions. A 429 is therefore expected: we
wait as long as its `Retry-After` says and send the question again, a bounded number of times.
Every other failure is reported as what it is (status code and the start of the body), so a
gateway that answered is never reported as unreachable.
"""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from knowledge.evaluation import EvalQuestion, contains_fact

MAX_RATE_LIMIT_RETRIES = 8  # per question
MAX_RETRY_WAIT_S = 120.0  # a longer Retry-After means the gateway is configured for something else
BODY_EXCERPT_CHARS = 300


class BotEvalError(RuntimeError):
    """The gateway answered, but not with replies: carries the status code and the start of its body."""

    def __init__(self, message: str, status_code: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


@dataclass
class Outcome:
    question: EvalQuestion
    kind: str  # answer | abstain | handoff
    service: str | None
    text: str


@dataclass
class RetryLog:
    """How often and how long the run waited for the gateway's rate limit (reported with the figures)."""

    retries: int = 0
    waited_s: float = 0.0
    waits: list[float] = field(default_factory=list)


def classify_replies(messages: list[dict[str, Any]], state: str) -> tuple[str, str | None]:
    """('answer', service) | ('handoff', None) | ('abstain', None) from the bot's reply messages."""
    for message in messages:
        data = message.get("data") or {}
        if data.get("handoff_offer") or data.get("handoff"):  # public data lists every field, unset ones as null
            return "handoff", None
    if state in ("queued", "staff"):
        return "handoff", None
    for message in messages:
        data = message.get("data") or {}
        if data.get("kind") == "answer" and data.get("service_id"):
            return "answer", str(data["service_id"])
    return "abstain", None


def retry_after_s(response: httpx.Response, default: float = 1.0) -> float:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP date (RFC 9110)."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:BODY_EXCERPT_CHARS] + ("…" if len(text) > BODY_EXCERPT_CHARS else "")


def post_with_retry(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    log: RetryLog,
    sleep: Callable[[float], None] = time.sleep,
) -> httpx.Response:
    """POST, waiting out 429s as the gateway asks; any other non-2xx raises `BotEvalError` with its details."""
    for attempt in range(MAX_RATE_LIMIT_RETRIES + 1):
        response = client.post(url, json=body)
        if response.status_code != 429:
            break
        wait = retry_after_s(response)
        if attempt == MAX_RATE_LIMIT_RETRIES or wait > MAX_RETRY_WAIT_S:
            raise BotEvalError(
                f"HTTP 429 from POST {url}: still rate limited after {log.retries} retries "
                f"({log.waited_s:.0f} s waited; Retry-After {wait:.0f} s). Raise BUERGERBOT_RATE_LIMIT_PER_IP on "
                f"the gateway for evaluation runs. Body: {_excerpt(response)}",
                429,
                _excerpt(response),
            )
        log.retries += 1
        log.waited_s += wait
        log.waits.append(wait)
        sleep(wait)
    if not response.is_success:
        raise BotEvalError(
            f"HTTP {response.status_code} from POST {url}: {_excerpt(response)}",
            response.status_code,
            _excerpt(response),
        )
    return response


def check_gateway(client: httpx.Client) -> None:
    """`/health` must answer 200; otherwise report its status and body (e.g. 503 while Redis is down)."""
    response = client.get("/health")
    if not response.is_success:
        raise BotEvalError(
            f"HTTP {response.status_code} from GET /health: {_excerpt(response)}",
            response.status_code,
            _excerpt(response),
        )


def evaluate_through_bot(
    base_url: str,
    questions: Sequence[EvalQuestion],
    timeout_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Ask every question as a new conversation through the REST channel and score what came back.

    Raises `httpx.TransportError` when nothing answers at `base_url` and `BotEvalError` when the
    gateway answered with an error.
    """
    outcomes: list[Outcome] = []
    timings: list[float] = []
    log = RetryLog()
    with httpx.Client(base_url=base_url, timeout=timeout_s) as client:
        check_gateway(client)
        for item in questions:
            conversation_id = f"eval-{uuid.uuid4().hex[:16]}"
            url = f"/api/conversations/{conversation_id}/messages"
            started = time.perf_counter()
            waited_before = log.waited_s
            response = post_with_retry(client, url, {"text": item.question}, log, sleep)
            timings.append((time.perf_counter() - started - (log.waited_s - waited_before)) * 1000)
            try:
                body = response.json()
                messages, state = body["messages"], body["conversation"]["state"]
            except (ValueError, KeyError, TypeError) as exc:
                raise BotEvalError(
                    f"HTTP {response.status_code} from POST {url} without the expected reply fields ({exc}): "
                    f"{_excerpt(response)}",
                    response.status_code,
                    _excerpt(response),
                ) from exc
            kind, service = classify_replies(messages, state)
            text = "\n".join(str(m.get("text") or "") for m in messages if m.get("role", "bot") != "user")
            outcomes.append(Outcome(item, kind, service, text))
    figures = summarise(outcomes, timings)
    figures["rate_limit_retries"] = log.retries
    figures["rate_limit_waited_s"] = round(log.waited_s, 1)
    return figures


def summarise(outcomes: Sequence[Outcome], timings: list[float]) -> dict[str, Any]:
    """Figures of the bot run; a hit is an answer with the gold service or any `also` variant."""
    with_service = [o for o in outcomes if o.question.service]
    answered = [o for o in with_service if o.kind == "answer"]
    hit1 = sum(1 for o in answered if o.service in o.question.gold)
    should_abstain = [o.kind for o in outcomes if o.question.expect == "abstain"]
    did_abstain = [o for o in outcomes if o.question.expect != "handoff" and o.kind == "abstain"]
    handoffs = [o.kind for o in outcomes if o.question.expect == "handoff"]
    with_fact = [o for o in outcomes if o.question.fact and o.question.expect != "handoff"]
    facts = sum(1 for o in with_fact if o.kind == "answer" and contains_fact(o.text, o.question.fact or ""))
    return {
        "hit@1": round(hit1 / len(with_service), 4) if with_service else 0.0,
        "answered_hit@1": round(hit1 / len(answered), 4) if answered else 0.0,
        "answered_share": round(len(answered) / len(with_service), 4) if with_service else 0.0,
        "fact_accuracy": round(facts / len(with_fact), 4) if with_fact else 0.0,
        "abstain_recall": round(should_abstain.count("abstain") / len(should_abstain), 4) if should_abstain else 0.0,
        "abstain_precision": round(sum(1 for o in did_abstain if o.question.expect == "abstain") / len(did_abstain), 4)
        if did_abstain
        else 0.0,
        "handoff_recall": round(handoffs.count("handoff") / len(handoffs), 4) if handoffs else 0.0,
        "p50_ms": round(float(np.percentile(timings, 50)), 2) if timings else 0.0,
        "p95_ms": round(float(np.percentile(timings, 95)), 2) if timings else 0.0,
    }
