"""Settings from the environment (prefix OMNICRM_) and `.env`, built by the composition root."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of a deployment; a channel whose credentials are unset is off."""

    model_config = SettingsConfigDict(
        env_prefix="OMNICRM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite+aiosqlite:///./omnicrm.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    timezone: str = "Asia/Ho_Chi_Minh"
    default_region: str = "VN"
    default_language: str = "vi"
    business_name: str = "Omni Spa & Clinic"
    business_hours: str = ""  # "mon-fri 08:00-18:00; sat 08:00-12:00" in TIMEZONE; empty: always
    secret_key: SecretStr | None = None  # signs console cookies; random per process when unset
    log_level: str = "INFO"

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base: str = "https://api.telegram.org"
    telegram_max_sends_per_second: float = Field(default=25.0, gt=0)

    zalo_app_id: str | None = None
    zalo_app_secret: SecretStr | None = None
    zalo_oa_secret_key: SecretStr | None = None
    zalo_access_token: SecretStr | None = None
    zalo_refresh_token: SecretStr | None = None
    zalo_api_base: str = "https://openapi.zalo.me"
    zalo_oauth_base: str = "https://oauth.zaloapp.com"
    zalo_max_sends_per_second: float = Field(default=10.0, gt=0)

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_from_number: str | None = None
    twilio_api_base: str = "https://api.twilio.com"
    twilio_max_sends_per_second: float = Field(default=1.0, gt=0)  # a US long code: 1 MPS

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    email_from: str | None = None
    imap_host: str | None = None
    imap_port: int = 993
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    email_webhook_secret: SecretStr | None = None
    imap_ssl: bool = True
    imap_folder: str = "INBOX"
    imap_poll_seconds: float = Field(default=30.0, gt=0)
    email_max_sends_per_second: float = Field(default=5.0, gt=0)
    media_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    email_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)  # raw mail with attachments

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_inbox_channel: str | None = None
    slack_api_base: str = "https://slack.com/api/"
    slack_sync_seconds: float = Field(default=1.0, gt=0)  # how often new threads/messages go out

    nlu_backend: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str | None = None

    # Engine tuning (documented in the README).
    worker_partitions: int = Field(default=4, ge=1, le=64)
    dispatch_max_attempts: int = Field(default=8, ge=1, le=50)
    dispatch_poll_seconds: float = Field(default=2.0, gt=0)
    max_webhook_body_bytes: int = Field(default=1_048_576, ge=1024)
    embedded_worker: bool = True
    auto_migrate: bool = True

    def secret(self, name: str) -> str | None:
        """Return a secret setting's plain value, or None when unset or empty."""
        value = getattr(self, name)
        if value is None:
            return None
        plain = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return plain or None
