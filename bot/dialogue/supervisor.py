"""Rasa as a separate, supervised process: train when its inputs changed, start, watch, restart, stop.

Rasa 3.6 needs Python 3.10 and pydantic 1, so it lives in `.venv-rasa` and we talk to it over
its REST channel. Its tracker and lock stores are in the same Redis as the gateway, so a Rasa
restart continues every conversation where it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import yaml

from bot.settings import PROJECT_ROOT, Settings
from knowledge.index import KnowledgeIndex

log = logging.getLogger(__name__)
DIALOGUE_DIR = PROJECT_ROOT / "bot" / "dialogue"
GENERATED_NLU = "knowledge_nlu.yml"
_TEMPLATES = ("Was kostet {name}?", "Welche Unterlagen brauche ich für {name}?", "Wo bekomme ich {name}?", "{name}")


class RasaUnavailableError(RuntimeError):
    """Rasa's virtualenv or model is missing; the message says what to run."""


def rasa_python(settings: Settings) -> Path:
    return settings.rasa_venv / "bin" / "python"


def rasa_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "3", "OMP_NUM_THREADS": "2"})
    env.pop("PYTHONPATH", None)
    return env


def _entity_name(name: str) -> str:
    """A title as a citizen would type it, safe inside Rasa's `[text]{...}` markup.

    A parenthetical ("Wohnsitz ummelden (Umzug innerhalb Münchens)") explains rather than names,
    and the whitespace tokenizer drops brackets, so an entity ending in ")" would not line up with
    the tokens and Rasa would skip the annotation.
    """
    without = re.sub(r"\s*[([{][^)\]}]*[)\]}]", "", name)
    return " ".join(re.sub(r"[()\[\]{}]", " ", without).split()).strip(" ,.;:!?")


def knowledge_nlu(index: KnowledgeIndex) -> dict[str, object]:
    """NLU data generated from the content: service names and keywords teach the `service` entity.

    New content thus teaches the bot new names at the next training, without editing NLU files.
    """
    from knowledge.text import synonym_table

    examples: list[str] = []
    synonyms: dict[str, set[str]] = {}
    lookup: set[str] = set()
    for service in sorted(index.services.values(), key=lambda s: s.id):
        cleaned = (_entity_name(n) for n in [service.title, *service.keywords])
        names = list(dict.fromkeys(n for n in cleaned if 2 < len(n) < 60))
        for i, name in enumerate(names[:6]):
            template = _TEMPLATES[i % len(_TEMPLATES)]
            annotated = f'[{name}]{{"entity": "service", "value": "{service.id}"}}'
            examples.append(template.format(name=annotated))
        for clean in names:
            lookup.add(clean)
            if clean.lower() != service.id:
                synonyms.setdefault(service.id, set()).add(clean)
    for colloquial in synonym_table():
        lookup.discard(colloquial)
    nlu: list[dict[str, str]] = [{"intent": "ask_service", "examples": "".join(f"- {e}\n" for e in examples)}]
    for service_id, synonym_names in sorted(synonyms.items()):
        nlu.append({"synonym": service_id, "examples": "".join(f"- {n}\n" for n in sorted(synonym_names))})
    nlu.append({"lookup": "service", "examples": "".join(f"- {n}\n" for n in sorted(lookup))})
    return {"version": "3.1", "nlu": nlu}


def render_nlu(data: dict[str, object]) -> str:
    """Rasa's usual layout (examples as a literal block), so the generated file reads like a hand-written one."""
    lines = ['version: "3.1"', "nlu:"]
    for block in data["nlu"]:  # type: ignore[attr-defined]
        kind = next(k for k in ("intent", "synonym", "lookup") if k in block)
        lines.append(f"  - {kind}: {block[kind]}")
        lines.append("    examples: |")
        lines.extend(f"      {example}" for example in block["examples"].splitlines())
    return "\n".join(lines) + "\n"


def _dialogue_files() -> list[Path]:
    return sorted(p for p in DIALOGUE_DIR.rglob("*.yml") if "tests" not in p.parts)


def prepare_training_data(settings: Settings, index: KnowledgeIndex) -> tuple[Path, str]:
    """Write the generated NLU file and return (its path, fingerprint of everything training reads)."""
    out_dir = settings.data_dir / "rasa"
    out_dir.mkdir(parents=True, exist_ok=True)
    generated = out_dir / GENERATED_NLU
    text = render_nlu(knowledge_nlu(index))
    if not generated.exists() or generated.read_text(encoding="utf-8") != text:
        generated.write_text(text, encoding="utf-8")
    digest = hashlib.sha256()
    for path in [*_dialogue_files(), generated]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return generated, digest.hexdigest()[:16]


def model_path(settings: Settings, fingerprint: str) -> Path:
    return settings.data_dir / "rasa" / "models" / f"bb-{fingerprint}.tar.gz"


def ensure_model(settings: Settings, index: KnowledgeIndex) -> Path:
    """Train only when dialogue data, config or generated knowledge NLU changed."""
    python = rasa_python(settings)
    if not python.exists():
        raise RasaUnavailableError(f"Rasa virtualenv missing at {settings.rasa_venv}: run `make setup`")
    generated, fingerprint = prepare_training_data(settings, index)
    model = model_path(settings, fingerprint)
    if model.exists():
        return model
    model.parent.mkdir(parents=True, exist_ok=True)
    log.info("training Rasa model %s (dialogue data changed)", model.name)
    started = time.perf_counter()
    command = [
        str(python), "-m", "rasa", "train",
        "--config", str(DIALOGUE_DIR / "config.yml"),
        "--domain", str(DIALOGUE_DIR / "domain.yml"),
        "--data", str(DIALOGUE_DIR / "data"), str(generated),
        "--out", str(model.parent),
        "--fixed-model-name", model.name.removesuffix(".tar.gz"),
        "--force",  # our fingerprint decided to train; Rasa's own check may otherwise skip writing the model
    ]  # fmt: skip
    result = subprocess.run(command, cwd=settings.data_dir / "rasa", env=rasa_env(settings), capture_output=True)
    if result.returncode != 0 or not model.exists():
        tail = result.stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"rasa train failed ({result.returncode}):\n{tail}")
    log.info("Rasa model trained in %.0f s", time.perf_counter() - started)
    for old in model.parent.glob("bb-*.tar.gz"):
        if old != model:
            old.unlink(missing_ok=True)
    return model


def write_endpoints(settings: Settings, redis_url: str) -> Path:
    """Rasa's endpoints: our action webhook, Redis tracker and lock store (same Redis as the gateway)."""
    parsed = urlparse(redis_url)
    redis_conf = {
        "type": "redis",
        "url": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 6379,
        "db": int((parsed.path or "/0").lstrip("/") or 0),
        "key_prefix": "bbrasa",
    }
    if parsed.password:
        redis_conf["password"] = parsed.password
    endpoints = {
        "action_endpoint": {"url": settings.action_webhook_url},
        "tracker_store": {**redis_conf, "record_exp": settings.conversation_ttl_s},
        "lock_store": {"type": "redis", **{k: v for k, v in redis_conf.items() if k != "type"}},
    }
    path = settings.data_dir / "rasa" / "endpoints.yml"
    path.write_text(yaml.safe_dump(endpoints, sort_keys=False), encoding="utf-8")
    return path


class RasaSupervisor:
    """Starts `rasa run`, checks its health, restarts it when it dies, stops it cleanly."""

    def __init__(self, settings: Settings, model: Path, endpoints: Path) -> None:
        self.settings = settings
        self.model = model
        self.endpoints = endpoints
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stopping = False
        self._watch: asyncio.Task[None] | None = None
        self.log_path = settings.data_dir / "rasa" / "rasa.log"

    def command(self) -> list[str]:
        return [
            str(rasa_python(self.settings)), "-m", "rasa", "run",
            "--model", str(self.model),
            "--endpoints", str(self.endpoints),
            "--credentials", str(DIALOGUE_DIR / "credentials.yml"),
            "--interface", "127.0.0.1",
            "--port", str(self.settings.rasa_port),
        ]  # fmt: skip

    def spawn(self) -> None:
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.settings.data_dir / "rasa",
            env=rasa_env(self.settings),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        log.info("rasa started (pid %s)", self.process.pid)

    async def healthy(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(f"{self.settings.rasa_url}/")
                return response.status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self) -> bool:
        deadline = time.monotonic() + self.settings.rasa_start_timeout_s
        while time.monotonic() < deadline:
            if await self.healthy():
                return True
            if self.process and self.process.poll() is not None:
                return False
            await asyncio.sleep(0.5)
        return False

    async def start(self) -> None:
        if await self.healthy():
            log.info("a Rasa server already answers on %s; using it", self.settings.rasa_url)
        else:
            self.spawn()
        self._watch = asyncio.create_task(self._watchdog())

    async def _watchdog(self) -> None:
        while not self._stopping:
            await asyncio.sleep(2.0)
            if self.process is not None and self.process.poll() is not None and not self._stopping:
                self.restarts += 1
                log.warning("rasa exited with %s; restarting (restart #%d)", self.process.returncode, self.restarts)
                self.spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._watch:
            self._watch.cancel()
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def main() -> None:
    """`python -m bot.dialogue.supervisor train`: train the model ahead of `make run` / tests."""
    from bot.settings import get_settings
    from knowledge.ingest import ensure_index

    logging.basicConfig(level=logging.INFO)
    settings = get_settings()
    print(ensure_model(settings, ensure_index(settings)))
    sys.exit(0)


if __name__ == "__main__":
    main()
