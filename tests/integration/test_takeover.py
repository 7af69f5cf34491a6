"""Staff takeover across real processes: two gateways on one Redis, and a Redis restart mid-takeover.

Citizen and staff talk through different gateway processes; then Redis is restarted while they
keep writing. Clients retry on the clean 503 the gateway answers while Redis is away. At the end
we count: every message sent is stored exactly once, and every staff message reached the citizen.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from bot.settings import PROJECT_ROOT
from tests.support.http_retry import retrying
from tests.support.redis_proc import RedisProcess
from tests.support.stack import Stack

pytestmark = pytest.mark.slow  # two gateway processes and a Redis restart

PASSWORD = "ein-langes-test-passwort"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def gateways(tmp_path: Path, redis_server: RedisProcess, demo_index_dir: Path) -> Iterator[tuple[Stack, Stack]]:
    from tests.conftest import make_settings, seed_index

    data = tmp_path / "data"
    make_settings(data)  # shares the embedding cache
    seed_index(demo_index_dir, data)  # and the session's demo index: no gateway builds one
    first = Stack(data_dir=data, redis_url=redis_server.url, rasa=False).start()
    second = Stack(data_dir=data, redis_url=redis_server.url, rasa=False).start()
    yield first, second
    first.stop()
    second.stop()


def add_agent(redis_url: str, data: Path) -> None:
    env = {"BUERGERBOT_REDIS_URL": redis_url, "BUERGERBOT_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "user", "add", "anna", "--display-name", "Frau Berger",
         "--teams", "buergerbuero,buergerservice", "--password-stdin"],
        input=PASSWORD + "\n", text=True, check=True, cwd=PROJECT_ROOT, env=env, capture_output=True,
    )  # fmt: skip


def test_staff_on_one_gateway_citizen_on_the_other_survive_a_redis_restart(gateways, redis_server, tmp_path):
    citizen_gateway, staff_gateway = gateways
    add_agent(redis_server.url, tmp_path / "data")
    cid = "takeover-durable-1"
    citizen = httpx.Client(base_url=citizen_gateway.url, timeout=60)
    staff = httpx.Client(base_url=staff_gateway.url, timeout=60)

    def say(text: str) -> httpx.Response:
        return retrying(lambda: citizen.post(f"/api/conversations/{cid}/messages", json={"text": text}))

    assert say("Mein Perso läuft ab").status_code == 200
    assert say("Ich möchte mit einem Menschen sprechen").json()["conversation"]["state"] == "queued"
    session = staff.post("/console/api/login", json={"username": "anna", "password": PASSWORD}).json()
    headers = {"X-CSRF-Token": session["csrf"]}

    def staff_says(text: str) -> httpx.Response:
        return retrying(lambda: staff.post(f"/console/api/conversations/{cid}/messages", json={"text": text},
                                           headers=headers))  # fmt: skip

    received: list[str] = []
    with connect(f"ws://127.0.0.1:{citizen_gateway.port}/ws/conversations/{cid}?after=0", open_timeout=60) as ws:
        assert staff.post(f"/console/api/conversations/{cid}/take", headers=headers).status_code == 200
        citizen_sent, staff_sent = [], []
        for round_no in range(3):
            text = f"Bürgerin Nachricht {round_no}"
            assert say(text).status_code == 200
            citizen_sent.append(text)
            reply = f"Mitarbeiterin Antwort {round_no}"
            assert staff_says(reply).status_code == 200
            staff_sent.append(reply)
        redis_server.restart(down_s=2.0)  # mid-takeover: both sides keep writing and retry on 503
        for round_no in range(3, 6):
            text = f"Bürgerin Nachricht {round_no}"
            assert say(text).status_code == 200
            citizen_sent.append(text)
            reply = f"Mitarbeiterin Antwort {round_no}"
            assert staff_says(reply).status_code == 200
            staff_sent.append(reply)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(r in received for r in staff_sent):
            try:
                frame = json.loads(ws.recv(timeout=2))
            except TimeoutError:
                continue
            except Exception:  # the socket closed when Redis went away: the widget reconnects with ?after=
                break
            if frame.get("kind") == "message" and frame["message"]["role"] == "staff":
                received.append(frame["message"]["text"])
    # reconnect like the widget does and replay what the socket missed
    history = retrying(lambda: citizen.get(f"/api/conversations/{cid}")).json()["messages"]
    texts = [m["text"] for m in history]
    for text in citizen_sent + staff_sent:
        assert texts.count(text) == 1, text  # stored exactly once: nothing lost, nothing doubled
    seqs = [m["seq"] for m in history]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert set(received) <= set(staff_sent) and received, "live delivery before the restart"
    conversation = retrying(lambda: staff.get(f"/console/api/conversations/{cid}", headers=headers)).json()
    assert conversation["conversation"]["state"] == "staff" and conversation["conversation"]["assignee"] == "anna"
    # staff hand back on one gateway, the citizen's next question is answered by the bot on the other
    handed_back = retrying(lambda: staff.post(f"/console/api/conversations/{cid}/handback", headers=headers))
    assert handed_back.status_code == 200
    answer = say("Und was kostet der?").json()["messages"]
    assert answer and answer[0]["role"] == "bot" and "Euro" in answer[0]["text"]


def test_killing_one_gateway_during_a_staffed_conversation_loses_nothing(gateways, redis_server, tmp_path):
    """The staff member's gateway dies (SIGKILL); the console reconnects to the other and carries on."""
    first, second = gateways
    add_agent(redis_server.url, tmp_path / "data")
    cid = "takeover-gateway-kill"
    citizen = httpx.Client(base_url=first.url, timeout=60)
    staff = httpx.Client(base_url=second.url, timeout=60)
    citizen.post(f"/api/conversations/{cid}/messages", json={"text": "Bitte verbinden Sie mich mit einem Menschen"})
    session = staff.post("/console/api/login", json={"username": "anna", "password": PASSWORD}).json()
    headers = {"X-CSRF-Token": session["csrf"]}
    assert staff.post(f"/console/api/conversations/{cid}/take", headers=headers).status_code == 200
    staff.post(f"/console/api/conversations/{cid}/messages", json={"text": "Vor dem Absturz"}, headers=headers)
    assert second.process is not None
    import os
    import signal

    os.killpg(second.process.pid, signal.SIGKILL)
    second.process.wait(30)
    staff.base_url = httpx.URL(first.url)  # the load balancer sends the console to the surviving process
    assert staff.get("/console/api/me").status_code == 200  # the session lives in Redis, not in the process
    after = staff.post(f"/console/api/conversations/{cid}/messages", json={"text": "Nach dem Absturz"}, headers=headers)
    assert after.status_code == 200
    citizen.post(f"/api/conversations/{cid}/messages", json={"text": "Danke, angekommen"})
    texts = [m["text"] for m in citizen.get(f"/api/conversations/{cid}").json()["messages"]]
    for text in ("Vor dem Absturz", "Nach dem Absturz", "Danke, angekommen"):
        assert texts.count(text) == 1
    detail = staff.get(f"/console/api/conversations/{cid}").json()
    assert detail["conversation"]["assignee"] == "anna" and detail["messages"][-1]["text"] == "Danke, angekommen"
