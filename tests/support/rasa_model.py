"""Train the integration stack's Rasa model in the background while other tests run.

Training takes minutes (2 on an idle machine, far more on two busy cores). It used to start only when
the first test that needs it started its gateway, and the whole session waited. Now, when the session
has such tests (they take the `dialogue_model` fixture of tests/conftest.py), training starts at
collection in a process of its own at low CPU priority, those tests run last, and the fixture waits for
it. With a model already trained for the same data (the usual case) the process ends at once.

A failed prebuild is only logged: the gateway (or `ensure_model`) then trains as before and reports
the error where it always did.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.settings import PROJECT_ROOT

PREBUILD = """
import sys
from bot.dialogue.supervisor import ensure_model
from bot.settings import Settings
from knowledge.ingest import ensure_index

settings = Settings(data_dir=sys.argv[1])
print("Rasa model ready:", ensure_model(settings, ensure_index(settings)), flush=True)
"""
WAIT_S = 2700.0  # as long as a cold stack start may take (Stack.start); a deadline only against hanging


def _lower_priority() -> None:
    os.nice(10)  # the tests in the foreground keep their speed; training gets the idle time


class BackgroundTraining:
    """`buergerbot`'s own `ensure_model` for one data directory, in a background process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.log = data_dir / "rasa-prebuild.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BackgroundTraining:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", PREBUILD, str(self.data_dir)],
                cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_lower_priority,
            )  # fmt: skip
        return self

    def wait(self) -> int | None:
        """Wait until training has ended; its exit code (None if it never started or took too long)."""
        if self.process is None:
            return None
        try:
            return self.process.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.stop()
            return None

    def stop(self) -> None:
        """End the training (and `rasa train` under it) if it still runs, e.g. when the session is interrupted."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
