"""Settings: defaults, the TIMEZONE override, and secrets that never show."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from suratbot.bot.config import Settings


def test_secrets_never_show_in_a_repr(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql://suratbot:pg-s3cret@127.0.0.1/suratbot")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:bot-s3cret")
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "wa-s3cret")
    settings = Settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("pg-s3cret", "bot-s3cret", "wa-s3cret"):
        assert secret not in shown
    assert settings.database_url.get_secret_value().endswith("@127.0.0.1/suratbot")


def test_defaults_and_empty_values(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("SOP_FILE=\nTELEGRAM_BOT_TOKEN=\nTIMEZONE=\n", encoding="utf-8")
    settings = Settings()
    assert settings.sop_file is None and settings.telegram_bot_token is None and settings.timezone is None
    assert settings.database_url.get_secret_value() == "sqlite+aiosqlite:///./data/suratbot.db"
    assert settings.load_sop().calendar.timezone.key == "Asia/Jakarta"


def test_timezone_overrides_the_sop_calendar(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIMEZONE", "Asia/Makassar")
    assert Settings().load_sop().calendar.timezone.key == "Asia/Makassar"
    monkeypatch.setenv("TIMEZONE", "Asia/Bandung")
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings()
