"""Settings from the environment (prefix OMNICRM_) and `.env`, built by the composition root."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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
    pdf_font: str | None = None  # a Unicode .ttf for PDF transcripts; else a system font

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
    slack_mask_contacts: bool = False  # show agents "+8491****678" / "l***@example.com"
    mask_contacts: bool = False  # the same for the agent role in the console and the API
    slack_routes: str = ""  # "zalo=C0ZALO, sms=C0SMS, skill:complaints=C0CARE"; else INBOX_CHANNEL
    slack_escalation_mention: str = "<!here>"  # who an SLA breach pings in the thread

    # Handoff routing and SLA (documented in the README).
    handoff_auto_assign: bool = True  # round-robin new handoffs among available agents
    handoff_requeue_minutes: float = Field(default=10.0, ge=0)  # claimed, no agent reply: requeue
    sla_first_response_minutes: float = Field(default=15.0, ge=0)  # 0 switches the SLA off
    handoff_skill_map: str = "complaint=complaints, negative_sentiment=complaints, vip=vip"
    handoff_agent_capacity: int = Field(default=0, ge=0)  # open conversations per agent; 0: no cap
    handoff_tick_seconds: float = Field(default=5.0, gt=0)  # how often assignment and SLA run

    # Bookings, reminders and tickets (issue 6; documented in the README).
    booking_hours: str = "mon-sat 09:00-19:00"  # when appointments can start/end, in TIMEZONE
    booking_slot_minutes: int = Field(default=15, ge=5, le=120)  # the booking grid
    booking_lead_minutes: int = Field(default=60, ge=0)  # earliest start from now
    booking_horizon_days: int = Field(default=60, ge=1, le=366)  # how far ahead one can book
    reminder_hours: str = "24,2"  # reminders this many hours before an appointment
    quiet_hours: str = "21:00-08:00"  # no proactive messages then (customer's local time)
    no_show_grace_minutes: int = Field(default=30, ge=0)
    ticket_sla_hours: str = "urgent=2, high=8, normal=24, low=72"
    flow_timeout_minutes: float = Field(default=30.0, gt=0)  # a silent customer's flow closes
    automation_tick_seconds: float = Field(default=30.0, gt=0)

    nlu_backend: Literal["builtin", "rasa"] = "builtin"
    rasa_url: str | None = None
    rasa_timeout_seconds: float = Field(default=2.0, gt=0, le=30)  # then the built-in NLU answers

    # Engine tuning (documented in the README).
    worker_partitions: int = Field(default=4, ge=1, le=64)
    dispatch_max_attempts: int = Field(default=8, ge=1, le=50)
    dispatch_poll_seconds: float = Field(default=2.0, gt=0)
    max_webhook_body_bytes: int = Field(default=1_048_576, ge=1024)
    embedded_worker: bool = True
    auto_migrate: bool = True

    # Redis Streams bus (used when REDIS_URL is set; see conversations/redis_bus.py).
    redis_prefix: str = Field(default="omnicrm", min_length=1, max_length=64)
    redis_stream_maxlen: int = Field(default=100_000, ge=1000)
    bus_max_deliveries: int = Field(default=5, ge=1, le=100)  # then the dead-letter stream
    bus_lease_seconds: float = Field(default=10.0, gt=0)  # a dead worker's partitions move after
    bus_claim_idle_seconds: float = Field(default=30.0, gt=0)  # a pending entry is then claimed
    bus_retry_seconds: float = Field(default=1.0, ge=0)
    outbox_relay_seconds: float = Field(default=5.0, gt=0)  # unpublished events older than this
    outbox_republish_seconds: float = Field(default=300.0, gt=0)  # published but still pending

    @field_validator("handoff_skill_map")
    @classmethod
    def _readable_skill_map(cls, value: str) -> str:
        from handoff.assignment import parse_skill_map

        parse_skill_map(value)  # a ValueError here is reported with the setting's name
        return value

    @field_validator("business_hours", "booking_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        from crm_core.hours import BusinessHours

        BusinessHours.parse(value, timezone="UTC")
        return value

    @field_validator("reminder_hours")
    @classmethod
    def _readable_reminders(cls, value: str) -> str:
        from crm_core.automation.rules import parse_reminder_hours

        parse_reminder_hours(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _readable_quiet_hours(cls, value: str) -> str:
        from crm_core.outreach import QuietHours

        QuietHours.parse(value, timezone="UTC")
        return value

    @field_validator("ticket_sla_hours")
    @classmethod
    def _readable_sla_hours(cls, value: str) -> str:
        from crm_core.tickets import parse_sla_hours

        parse_sla_hours(value)
        return value

    @field_validator("slack_routes")
    @classmethod
    def _readable_slack_routes(cls, value: str) -> str:
        from handoff.slack.routing import parse_routes

        parse_routes(value, default="C0DEFAULT")
        return value

    @model_validator(mode="after")
    def _rasa_needs_url(self) -> Settings:
        if self.nlu_backend == "rasa" and not self.rasa_url:
            raise ValueError("OMNICRM_NLU_BACKEND=rasa needs OMNICRM_RASA_URL")
        return self

    def secret(self, name: str) -> str | None:
        """Return a secret setting's plain value, or None when unset or empty."""
        value = getattr(self, name)
        if value is None:
            return None
        plain = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return plain or None
