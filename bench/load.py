"""Load on the real stack: many widget conversations over WebSocket, paced questions, answer latency.

Usage:
  python -m bench.load fixed --conversations 200 --interval 2 --duration 60 [--gateways 1|2] [--rasa]
  python -m bench.load ramp  [--start-rate 2] [--max-rate 64] [--step-s 30] [--refine 2] [--rasa]
  python -m bench.load soak  --rate R --duration 600 [--rasa]
  (all modes: [--turns 8] questions per conversation before a new citizen takes the seat)

Each simulated citizen keeps one widget WebSocket open and asks a question every `interval`
seconds (never two at once: the next waits for the answer, like a person). Latency is measured
from sending the frame to the bot's first message on the socket (`turn_p95_ms`: to the last one of
that turn, e.g. "War das hilfreich?" after a Rasa answer). Errors are counted, never
hidden: socket failures, error frames, and answers that take longer than 30 s.
`ramp` raises the question rate step by step and reports the highest rate at which p95 stays
<= 1 s with zero errors; `soak` holds one rate and samples the processes' memory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import websockets

from bench.machine import machine_info
from knowledge.evaluation import load_questions
from tests.conftest import make_settings
from tests.support.redis_proc import RedisProcess
from tests.support.stack import Stack

QUESTIONS_FILE = Path(__file__).resolve().parent / "data" / "holdout_questions.jsonl"
ANSWER_TIMEOUT_S = 30.0


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def questions() -> list[str]:
    found = [q.question for q in load_questions(QUESTIONS_FILE) if q.expect != "handoff"]
    return found or ["Was kostet ein Personalausweis?"]


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []  # question sent → first bot message (what the citizen waits for)
        self.turn_latencies: list[float] = []  # question sent → last bot message of the turn
        self.errors: list[str] = []
        self.sent = 0


async def citizen(url: str, interval: float, until: float, pool: list[str], tally: Tally, turns: int) -> None:
    """One seat of simulated citizens: a conversation of `turns` questions, then the next citizen.

    Real chats are short. A single chat of hundreds of questions makes Rasa load and store an
    ever longer tracker on every turn, which measures that chat rather than the service (see the
    soak figures in README); `--turns 0` keeps one conversation per seat for the whole run.
    """
    await asyncio.sleep(random.uniform(0, interval))  # spread the first questions
    while time.monotonic() < until:
        cid = f"load-{uuid.uuid4().hex[:16]}"
        ws_url = url.replace("http", "ws", 1) + f"/ws/conversations/{cid}?after=0"
        try:
            async with websockets.connect(ws_url, open_timeout=60, max_size=2**20) as ws:
                asked = 0
                while time.monotonic() < until and (turns <= 0 or asked < turns):
                    began = time.monotonic()
                    tally.sent += 1
                    asked += 1
                    sent_at = time.perf_counter()
                    await ws.send(json.dumps({"text": random.choice(pool)}))
                    try:
                        first, done = await asyncio.wait_for(_bot_turn(ws, tally), ANSWER_TIMEOUT_S)
                        if first is not None and done is not None:
                            tally.latencies.append((first - sent_at) * 1000)
                            tally.turn_latencies.append((done - sent_at) * 1000)
                    except TimeoutError:
                        tally.errors.append("timeout")
                    await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))
        except Exception as exc:  # counted, reported
            tally.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            return


async def _bot_turn(ws: websockets.ClientConnection, tally: Tally) -> tuple[float | None, float | None]:
    """(first bot message, end of the turn) as perf_counter times; (None, None) when refused.

    A turn can hold several bot messages (with Rasa: the answer, then "War das hilfreich?"). The
    gateway closes each turn with a `typing: false` frame after relaying all of them, so waiting
    for it keeps a late message of one question from being counted as the next one's answer.
    """
    typing, first = False, None
    async for raw in ws:
        frame = json.loads(raw)
        kind = frame.get("kind")
        if kind == "typing":
            if frame.get("active"):
                typing = True
            elif typing:
                return first, time.perf_counter()
        elif kind == "error":
            tally.errors.append(f"error frame {frame.get('code')}")
            if not typing:  # refused before it was handled (rate limit, bad frame): no typing frames follow
                return None, None
        elif kind == "message" and frame["message"]["role"] in ("bot", "system") and first is None:
            first = time.perf_counter()
    raise ConnectionError("socket closed mid-turn")


async def run_rate(
    urls: list[str], conversations: int, interval: float, duration: float, turns: int = 0
) -> dict[str, object]:
    tally = Tally()
    pool = questions()
    until = time.monotonic() + duration
    started = time.monotonic()
    await asyncio.gather(
        *(citizen(urls[i % len(urls)], interval, until, pool, tally, turns) for i in range(conversations))
    )
    wall = time.monotonic() - started
    return {
        "conversations": conversations,
        "target_rate_qps": round(conversations / interval, 2),
        "answered": len(tally.latencies),
        "achieved_rate_qps": round(len(tally.latencies) / wall, 2),
        "errors": len(tally.errors),
        "error_examples": sorted(set(tally.errors))[:3],
        "p50_ms": pct(tally.latencies, 50),
        "p95_ms": pct(tally.latencies, 95),
        "p99_ms": pct(tally.latencies, 99),
        "max_ms": pct(tally.latencies, 100),
        "turn_p95_ms": pct(tally.turn_latencies, 95),
    }


def ramp_step(urls: list[str], rate: float, args: argparse.Namespace) -> dict[str, object]:
    conversations = max(1, round(rate * args.interval))
    step = asyncio.run(run_rate(urls, conversations, args.interval, args.step_s, args.turns))
    print(json.dumps(step), flush=True)
    return step


def step_ok(step: dict[str, object]) -> bool:
    """The ramp's criterion: no error at all and p95 of the first answer within one second."""
    return not step["errors"] and float(step["p95_ms"]) <= 1000  # type: ignore[arg-type]


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            continue
    return round(total, 1)


def process_tree(stack: Stack) -> list[int]:
    """The gateway and its children (Rasa runs as the gateway's child)."""
    if not stack.process:
        return []
    pids = [stack.process.pid]
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().split(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) in pids:
            pids.append(int(path.parent.name))
    return pids


def start(args: argparse.Namespace) -> tuple[list[Stack], RedisProcess]:
    # all simulated citizens come from this one IP: the per-IP limit would (rightly) stop them
    os.environ["BUERGERBOT_RATE_LIMIT_PER_IP"] = "0"
    # a question every 2 s is above the per-conversation policy (20/min): lift it for the capacity test
    os.environ["BUERGERBOT_RATE_LIMIT_PER_CONVERSATION"] = "0"
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    server = RedisProcess(work / "redis", fsync="everysec").start()
    data = Path(args.data_dir) if args.data_dir else work / "data"
    make_settings(data)
    stacks = [Stack(data_dir=data, redis_url=server.url, rasa=args.rasa).start() for _ in range(args.gateways)]
    return stacks, server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["fixed", "ramp", "soak"])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=10.0, help="questions per second (soak)")
    parser.add_argument("--start-rate", type=float, default=2.0)
    parser.add_argument("--max-rate", type=float, default=128.0)
    parser.add_argument("--step-s", type=float, default=30.0)
    parser.add_argument("--refine", type=int, default=2, help="ramp: bisection steps after the first failing rate")
    parser.add_argument(
        "--turns", type=int, default=8, help="questions per conversation, then a new citizen (0: one for the whole run)"
    )
    parser.add_argument("--gateways", type=int, default=1, choices=[1, 2])
    parser.add_argument("--rasa", action="store_true", help="full stack with Rasa (default: knowledge-only)")
    parser.add_argument("--data-dir", default="", help="reuse a data dir (e.g. .data/test-stack with a trained model)")
    args = parser.parse_args()
    stacks, server = start(args)
    urls = [s.url for s in stacks]
    pids = [pid for s in stacks for pid in process_tree(s)]
    report: dict[str, object] = {"machine": machine_info(), "settings": vars(args)}
    try:
        if args.mode == "fixed":
            asyncio.run(run_rate(urls, 10, 1.0, 10))  # warm-up
            report["rss_before_mb"] = rss_mb(pids)
            report["result"] = asyncio.run(run_rate(urls, args.conversations, args.interval, args.duration, args.turns))
            report["rss_after_mb"] = rss_mb(pids)
        elif args.mode == "ramp":
            asyncio.run(run_rate(urls, 10, 1.0, 10))
            steps, rate, best = [], args.start_rate, None
            failed: float | None = None
            while rate <= args.max_rate:
                step = ramp_step(urls, rate, args)
                steps.append(step)
                if not step_ok(step):
                    failed = rate
                    break
                best, rate = step, rate * 1.5
            # the 1.5x steps are coarse: halve the gap between the last good and the first bad rate
            good = rate / 1.5
            for _ in range(args.refine if failed is not None and best else 0):
                middle = (good + failed) / 2
                step = ramp_step(urls, middle, args)
                steps.append(step)
                if step_ok(step):
                    best, good = step, middle
                else:
                    failed = middle
            report["steps"] = steps
            report["highest_rate_p95_le_1s"] = best["achieved_rate_qps"] if best else None
        else:
            conversations = max(1, round(args.rate * args.interval))
            samples: list[tuple[float, float]] = []

            async def sample() -> None:
                began = time.monotonic()
                while True:
                    samples.append((round(time.monotonic() - began), rss_mb(pids)))
                    await asyncio.sleep(10)

            async def soak() -> dict[str, object]:
                sampler = asyncio.create_task(sample())
                result = await run_rate(urls, conversations, args.interval, args.duration, args.turns)
                sampler.cancel()
                return result

            asyncio.run(run_rate(urls, 10, 1.0, 10))
            report["result"] = asyncio.run(soak())
            first = [m for t, m in samples if t >= 60][:1] or [samples[0][1]]
            report["rss_samples_mb"] = samples
            report["rss_growth_after_first_minute_mb"] = round(samples[-1][1] - first[0], 1)
    finally:
        for stack in stacks:
            stack.stop()
        server.stop()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
