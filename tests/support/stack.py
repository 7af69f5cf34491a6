"""Start the real stack (gateway process + supervised Rasa + Redis) for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from bot.handoff.teams import DEFAULT_TEAMS_FILE
from bot.settings import PROJECT_ROOT

STACK_DIR = PROJECT_ROOT / ".data" / "test-stack"  # persistent: the trained Rasa model is reused
ALWAYS_OPEN = "Mo-So 00:00-24:00"


def always_open_teams(data_dir: Path) -> Path:
    """The shipped teams file with every team at work around the clock and no closed days.

    A test stack must not depend on the hour it runs (CI may run at night or on a holiday): queue
    positions and "meldet sich" need the team at work. After-hours behaviour has its own stacks with
    closed hours (tests/browser/test_console.py, test_widget_trust.py).
    """
    teams = yaml.safe_load(DEFAULT_TEAMS_FILE.read_text(encoding="utf-8"))
    teams["office_hours"] = ALWAYS_OPEN
    teams["closed_dates"] = []
    for team in teams["teams"]:
        team["office_hours"] = ALWAYS_OPEN
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "teams-always-open.yaml"
    path.write_text(yaml.safe_dump(teams, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Stack:
    """A gateway process (`buergerbot serve`) on free ports.

    `redis_url` is the Redis it uses: tests pass a database from the shared policy (tests/support/redis_servers.py);
    "" leaves BUERGERBOT_REDIS_URL unset, so the gateway starts its own embedded Redis (as `make run` does).
    """

    def __init__(self, data_dir: Path = STACK_DIR, redis_url: str = "", rasa: bool = True) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.rasa_port = free_port()
        self.redis_url = redis_url
        self.rasa = rasa
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"gateway-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "BUERGERBOT_DATA_DIR": str(self.data_dir),
            "BUERGERBOT_PORT": str(self.port),
            "BUERGERBOT_RASA_PORT": str(self.rasa_port),
            "BUERGERBOT_RASA_ENABLED": "true" if self.rasa else "false",
            "BUERGERBOT_EMBEDDED_REDIS_PORT": str(free_port()),
            "BUERGERBOT_TEAMS_FILE": str(always_open_teams(self.data_dir)),
        }
        if self.redis_url:
            env["BUERGERBOT_REDIS_URL"] = self.redis_url
        return env

    def start(self, timeout_s: float = 2700.0) -> Stack:
        """Start and wait until ready; a cold start includes training the Rasa model from scratch, which
        took 2 min on an idle machine and 13 min on a busy one, so the default wait is generous."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                cwd=PROJECT_ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()  # a stack that never became ready must not outlive the test (and hold Rasa's RAM)
            raise
        return self

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                raise RuntimeError(f"gateway exited; see {self.log}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"stack not ready after {timeout_s} s; see {self.log}")

    def send(self, conversation_id: str, text: str, payload: str | None = None) -> dict:
        body = {"text": text, **({"payload": payload} if payload else {})}
        response = httpx.post(f"{self.url}/api/conversations/{conversation_id}/messages", json=body, timeout=60)
        response.raise_for_status()
        return response.json()

    def kill_rasa(self) -> None:
        subprocess.run(["pkill", "-9", "-f", f"rasa run.*--port {self.rasa_port}"], check=False)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.kill_rasa()
