"""Which channel adapters a process runs, built from settings (vendor SDKs imported lazily)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from channels.base import ChannelAdapter
from channels.webchat import WebchatAdapter
from crm_core.channel_state import ChannelStateStore
from crm_core.db import Database
from omnicrm.settings import Settings

log = logging.getLogger(__name__)

ALL_CHANNELS = ("telegram", "zalo", "sms", "email", "slack", "webchat")


def build_adapters(settings: Settings, db: Database) -> dict[str, ChannelAdapter]:
    """One adapter per channel whose credentials are set; the rest are off (and say why)."""
    adapters: dict[str, ChannelAdapter] = {"webchat": WebchatAdapter()}  # type: ignore[dict-item]
    builders: dict[str, Callable[[Settings, Database], ChannelAdapter | str]] = {
        "telegram": _telegram,
        "zalo": _zalo,
        "sms": _sms,
        "email": _email,
    }
    for name, build in builders.items():
        built = build(settings, db)
        if isinstance(built, str):
            log.info("channel %s is off: %s", name, built)
        else:
            adapters[name] = built
    return adapters


def _missing(settings: Settings, *names: str) -> list[str]:
    return [f"OMNICRM_{name.upper()}" for name in names if not settings.secret(name)]


def _telegram(settings: Settings, db: Database) -> ChannelAdapter | str:
    if missing := _missing(settings, "telegram_bot_token", "telegram_webhook_secret"):
        return "set " + ", ".join(missing)
    # Imported here: aiogram's type models cost ~150 MB, paid only when Telegram is on.
    from channels.telegram import TelegramAdapter

    return TelegramAdapter(  # type: ignore[return-value]
        token=settings.secret("telegram_bot_token") or "",
        webhook_secret=settings.secret("telegram_webhook_secret") or "",
        api_base=settings.telegram_api_base,
        max_sends_per_second=settings.telegram_max_sends_per_second,
    )


def _zalo(settings: Settings, db: Database) -> ChannelAdapter | str:
    if missing := _missing(settings, "zalo_app_id", "zalo_app_secret", "zalo_oa_secret_key"):
        return "set " + ", ".join(missing)
    if not (settings.secret("zalo_access_token") or settings.secret("zalo_refresh_token")):
        return "set OMNICRM_ZALO_ACCESS_TOKEN or OMNICRM_ZALO_REFRESH_TOKEN"
    from channels.zalo import ZaloAdapter

    return ZaloAdapter(  # type: ignore[return-value]
        app_id=settings.secret("zalo_app_id") or "",
        app_secret=settings.secret("zalo_app_secret") or "",
        oa_secret_key=settings.secret("zalo_oa_secret_key") or "",
        access_token=settings.secret("zalo_access_token"),
        refresh_token=settings.secret("zalo_refresh_token"),
        api_base=settings.zalo_api_base,
        oauth_base=settings.zalo_oauth_base,
        state=ChannelStateStore(db, "zalo"),
        max_sends_per_second=settings.zalo_max_sends_per_second,
        region=settings.default_region,
    )


def _sms(settings: Settings, db: Database) -> ChannelAdapter | str:
    needed = ("twilio_account_sid", "twilio_auth_token", "twilio_from_number")
    if missing := _missing(settings, *needed):
        return "set " + ", ".join(missing)
    from channels.sms import SmsAdapter

    return SmsAdapter(  # type: ignore[return-value]
        account_sid=settings.secret("twilio_account_sid") or "",
        auth_token=settings.secret("twilio_auth_token") or "",
        from_number=settings.secret("twilio_from_number") or "",
        api_base=settings.twilio_api_base,
        status_callback_url=settings.public_url.rstrip("/") + "/webhooks/twilio/status",
        region=settings.default_region,
        max_sends_per_second=settings.twilio_max_sends_per_second,
    )


def _email(settings: Settings, db: Database) -> ChannelAdapter | str:
    if missing := _missing(settings, "smtp_host", "email_from"):
        return "set " + ", ".join(missing)
    from channels.email import EmailAdapter

    return EmailAdapter(  # type: ignore[return-value]
        webhook_secret=settings.secret("email_webhook_secret"),
        smtp_host=settings.secret("smtp_host") or "",
        smtp_port=settings.smtp_port,
        smtp_username=settings.secret("smtp_username"),
        smtp_password=settings.secret("smtp_password"),
        smtp_starttls=settings.smtp_starttls,
        email_from=settings.secret("email_from") or "",
        max_sends_per_second=settings.email_max_sends_per_second,
        business_name=settings.business_name,
    )
