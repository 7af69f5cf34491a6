"""A local OpenAI-compatible chat server for tests, in its own process, behaving as the test says.

Why a process: the gateway talks to a city's model over HTTP from worker threads with a hard
timeout; a server in the test's own process and event loop would not show what a slow or dead
endpoint does to a real request. The test steers the server over two extra routes:
`POST /_control` (reply text, delay, HTTP status, or a raw body) and `GET|DELETE /_requests` (what the model was
sent). `stop()` kills the process, so the endpoint is down for real.

Run alone: `python -m tests.support.fake_llm --port 8765`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.settings import PROJECT_ROOT


def build_app() -> FastAPI:
    """The server: `/v1/chat/completions` answers as the last `/_control` call said."""
    app = FastAPI()
    behaviour: dict[str, Any] = {"reply": "", "delay_s": 0.0, "status": 200, "raw": None}
    received: list[dict[str, Any]] = []

    @app.post("/_control")
    async def control(request: Request) -> dict[str, Any]:
        behaviour.update(await request.json())
        return behaviour

    @app.get("/_requests")
    async def requests() -> list[dict[str, Any]]:
        return received

    @app.delete("/_requests")
    async def clear() -> dict[str, int]:
        received.clear()
        return {"cleared": 1}

    @app.post("/v1/chat/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        received.append(body)
        if behaviour["delay_s"]:
            await asyncio.sleep(float(behaviour["delay_s"]))
        if behaviour["raw"] is not None:  # a broken server: this body as it is
            return Response(str(behaviour["raw"]), media_type="application/json")
        if behaviour["status"] != 200:
            error = {"error": {"message": "model failed", "type": "server_error", "code": behaviour["status"]}}
            return JSONResponse(error, status_code=int(behaviour["status"]))
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": behaviour["reply"]},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    return app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeLlm:
    """Handle on the server process: `reply`, `slow()`, `fail()`, `requests`, `stop()`."""

    def __init__(self) -> None:
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._control = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeLlm:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_llm", "--port", str(self.port)], cwd=PROJECT_ROOT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self._control.get("/_requests").raise_for_status()
                return self
            except httpx.HTTPError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("fake LLM server did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._control.close()

    def behave(self, *, reply: str = "", delay_s: float = 0.0, status: int = 200, raw: str | None = None) -> None:
        """Set how the next completions are answered (and forget what was asked before)."""
        self._control.post("/_control", json={"reply": reply, "delay_s": delay_s, "status": status, "raw": raw})
        self.clear_requests()

    @property
    def reply(self) -> str:
        return str(self._control.post("/_control", json={}).json()["reply"])

    @reply.setter
    def reply(self, text: str) -> None:
        self._control.post("/_control", json={"reply": text})

    def slow(self, delay_s: float, reply: str = "") -> None:
        self.behave(reply=reply, delay_s=delay_s)

    def fail(self, status: int = 500) -> None:
        self.behave(status=status)

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The request bodies the server received since the last `clear_requests()`."""
        return list(self._control.get("/_requests").json())

    def clear_requests(self) -> None:
        self._control.delete("/_requests")

    def stop(self) -> None:
        """Kill the server: from now on the endpoint refuses connections."""
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    uvicorn.run(build_app(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
