"""Staff takeover latency under load: N concurrent staffed conversations through the real gateway.

Usage: python -m bench.takeover [--conversations 50] [--messages 10] [--interval 1.0] [--gateways 1]

It starts a real Redis and real gateway process(es) (knowledge-only: the takeover path does not
involve Rasa), then for every conversation: a citizen on the widget WebSocket asks for a person,
an agent (own account, own console session, own SSE stream) clicks "take over". Measured:
- take → citizen sees "… ist jetzt für Sie da" (the staff_joined system message on the socket);
- staff message POST → citizen receives it on the socket (staff → citizen delivery);
- citizen frame sent → agent receives it on the console's SSE stream (citizen → staff delivery).
All clocks are this process's monotonic clock; nothing is timed inside the server.
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

import httpx
import numpy as np
import redis
import websockets

from bench.machine import machine_info
from bot.settings import Settings
from connectors.console.auth import Accounts
from tests.conftest import make_settings
from tests.support.redis_proc import RedisProcess
from tests.support.stack import Stack

PASSWORD = "bench-passwort-lang-genug"


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


async def sse_lines(client: httpx.AsyncClient, url: str, inbox: asyncio.Queue) -> None:
    async with client.stream("GET", url, timeout=None) as response:
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "message":
                await inbox.put((time.perf_counter(), json.loads(line[5:])))


async def one_conversation(index: int, citizen_url: str, staff_url: str, args: argparse.Namespace,
                           results: dict[str, list[float]], errors: list[str], ready: list[int],
                           all_ready: asyncio.Event) -> None:  # fmt: skip
    cid = f"bench-takeover-{index}-{uuid.uuid4().hex[:6]}"
    ws_url = citizen_url.replace("http", "ws") + f"/ws/conversations/{cid}?after=0"
    try:
        async with (
            websockets.connect(ws_url, open_timeout=60) as ws,
            httpx.AsyncClient(base_url=staff_url, timeout=60) as staff,
        ):
            seen: asyncio.Queue = asyncio.Queue()

            async def read_socket() -> None:
                async for raw in ws:
                    await seen.put((time.perf_counter(), json.loads(raw)))

            reader = asyncio.create_task(read_socket())
            await ws.send(json.dumps({"text": "Ich möchte mit einem Menschen sprechen"}))
            await wait_for(seen, lambda f: f.get("kind") == "state" and f.get("state") == "queued")
            login = await staff.post("/console/api/login", json={"username": f"agent{index}", "password": PASSWORD})
            login.raise_for_status()
            headers = {"X-CSRF-Token": login.json()["csrf"]}
            # staff start their shift together, then take over at their own pace (spread over one interval)
            ready.append(index)
            if len(ready) == args.conversations:
                all_ready.set()
            await all_ready.wait()
            await asyncio.sleep(random.uniform(0, args.interval))
            started = time.perf_counter()
            taken = await staff.post(f"/console/api/conversations/{cid}/take", headers=headers)
            taken.raise_for_status()
            at, _frame = await wait_for(seen, lambda f: f.get("kind") == "message"
                                        and f["message"].get("data", {}).get("kind") == "staff_joined")  # fmt: skip
            results["take_to_citizen_ms"].append((at - started) * 1000)
            last_seq = max(m["seq"] for m in taken.json()["messages"])
            staff_inbox: asyncio.Queue = asyncio.Queue()
            stream = asyncio.create_task(
                sse_lines(staff, f"/console/api/stream?conversation={cid}&after={last_seq}", staff_inbox)
            )
            for k in range(args.messages):
                text = f"Antwort {k} an {cid}"
                sent = time.perf_counter()
                (await staff.post(f"/console/api/conversations/{cid}/messages", json={"text": text},
                                  headers=headers)).raise_for_status()  # fmt: skip
                at, _ = await wait_for(seen, lambda f, t=text: f.get("kind") == "message" and f["message"]["text"] == t)
                results["staff_to_citizen_ms"].append((at - sent) * 1000)
                question = f"Rückfrage {k} von {cid}"
                sent = time.perf_counter()
                await ws.send(json.dumps({"text": question}))
                at, _ = await wait_for(staff_inbox, lambda m, q=question: m.get("text") == q)
                results["citizen_to_staff_ms"].append((at - sent) * 1000)
                await asyncio.sleep(args.interval)
            stream.cancel()
            reader.cancel()
            (await staff.post(f"/console/api/conversations/{cid}/close", json={"resolution": "answered"},
                              headers=headers)).raise_for_status()  # fmt: skip
    except Exception as exc:  # counted and reported, never hidden
        errors.append(f"{cid}: {type(exc).__name__}: {exc}")
        if index not in ready:  # do not keep the others waiting for a desk that failed
            ready.append(index)
            if len(ready) == args.conversations:
                all_ready.set()


async def wait_for(queue: asyncio.Queue, match, timeout: float = 60.0):
    deadline = time.perf_counter() + timeout
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError("expected frame did not arrive")
        at, frame = await asyncio.wait_for(queue.get(), remaining)
        if match(frame):
            return at, frame


async def drive(urls: list[str], args: argparse.Namespace) -> dict[str, object]:
    results: dict[str, list[float]] = {"take_to_citizen_ms": [], "staff_to_citizen_ms": [], "citizen_to_staff_ms": []}
    errors: list[str] = []
    started = time.perf_counter()
    # with two gateways, citizens use one process and staff the other: delivery crosses processes
    ready: list[int] = []
    all_ready = asyncio.Event()
    tasks = [
        one_conversation(i, urls[0], urls[-1], args, results, errors, ready, all_ready)
        for i in range(args.conversations)
    ]
    await asyncio.gather(*tasks)
    return {
        "conversations": args.conversations,
        "errors": len(errors),
        "error_examples": errors[:3],
        "wall_s": round(time.perf_counter() - started, 1),
        **{
            name: {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "max": pct(values, 100)}
            for name, values in results.items()
        },
    }


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--messages", type=int, default=10, help="staff messages (and citizen replies) each")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds per conversation")
    parser.add_argument("--gateways", type=int, default=1, choices=[1, 2])
    args = parser.parse_args()
    # one load generator plays all citizens from one IP: per-IP limits would (rightly) stop it
    os.environ["BUERGERBOT_RATE_LIMIT_PER_IP"] = "0"
    work = Path(tempfile.mkdtemp(prefix="bench-takeover-"))
    server = RedisProcess(work / "redis", fsync="everysec").start()
    data = work / "data"
    settings: Settings = make_settings(data, redis_url=server.url)
    accounts = Accounts(redis.Redis.from_url(server.url, decode_responses=True), settings)
    for i in range(args.conversations):
        accounts.create(f"agent{i}", PASSWORD, "agent", f"Agent {i}", [])
    stacks = [Stack(data_dir=data, redis_url=server.url, rasa=False).start() for _ in range(args.gateways)]
    try:
        result = asyncio.run(drive([s.url for s in stacks], args))
        result["gateway_rss_mb"] = [rss_mb(s.process.pid) for s in stacks if s.process]
    finally:
        for stack in stacks:
            stack.stop()
        server.stop()
    print(json.dumps({"machine": machine_info(), "settings": vars(args) | {"rasa": "off", "redis": "redis-server"},
                      "result": result}, indent=2, ensure_ascii=False))  # fmt: skip


if __name__ == "__main__":
    main()
