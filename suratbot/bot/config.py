"""Settings from the environment and `.env` (pydantic-settings); secrets stay SecretStr and never print."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from suratbot.workflow.sop import Sop, load_sop


class Settings(BaseSettings):
    """Every setting of `.env.example`; a channel whose settings are absent is simply off."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    # A secret: a PostgreSQL URL may carry a password, so it never shows in a repr or a log.
    database_url: SecretStr = SecretStr("sqlite+aiosqlite:///./data/suratbot.db")
    data_dir: Path = Path("./data")
    timezone: str | None = None  # overrides the SOP file's calendar.timezone when set
    sop_file: Path | None = None
    public_url: str = "http://localhost:8080"
    web_port: int = 8080

    telegram_bot_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"

    whatsapp_access_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown time zone {value!r}") from exc
        return value or None

    def load_sop(self) -> Sop:
        sop = load_sop(self.sop_file)
        if self.timezone:
            calendar = dataclasses.replace(sop.calendar, timezone=ZoneInfo(self.timezone))
            sop = dataclasses.replace(sop, calendar=calendar)
        return sop
