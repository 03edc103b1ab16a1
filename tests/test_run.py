"""`suratbot run` as a process would run it: settings, long polling or a webhook behind the project's web app,
logs without secrets, and a clean stop."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from suratbot.bot.config import Settings
from suratbot.bot.fakebotapi import FakeBotApi
from suratbot.bot.serve import Redact, configure_logging, serve
from suratbot.services.office import Office
from suratbot.storage.models import Staff

TOKEN = "987654:RAHASIA-token-uji"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi(TOKEN)
    await fake.start()
    yield fake
    await fake.stop()


def settings_for(office: Office, api: FakeBotApi, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=office.engine.url.render_as_string(hide_password=False),
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_base_url=f"{api.url}/bot",
        telegram_base_file_url=f"{api.url}/file/bot",
        web_host="127.0.0.1",
        web_port=free_port(),
        **extra,
    )


async def running(settings: Settings) -> tuple[asyncio.Event, asyncio.Task[int], io.StringIO]:
    stop, out = asyncio.Event(), io.StringIO()
    task = asyncio.create_task(serve(settings, stop=stop, out=out))
    for _ in range(100):
        if "berjalan" in out.getvalue() or task.done():
            break
        await asyncio.sleep(0.05)
    assert not task.done(), out.getvalue()
    return stop, task, out


async def kepala_phone(office: Office) -> str:
    async with office.uow() as uow:
        phone = await uow.session.scalar(select(Staff.telepon).where(Staff.jabatan == "Kepala Dinas"))
    assert phone is not None
    return phone


async def test_run_polls_serves_health_and_stops_cleanly(office: Office, api: FakeBotApi, tmp_path: Path) -> None:
    settings = settings_for(office, api, tmp_path)
    stop, task, out = await running(settings)
    assert "Saluran chat: telegram (long polling)" in out.getvalue()
    user = api.user(501, "Asep")
    user.send_text("/start")
    await user.wait_for(lambda m: m.reply_keyboard is not None)
    user.share_contact(await kepala_phone(office))
    await user.wait_for_text("Akun ini sekarang terhubung")
    async with httpx.AsyncClient() as client:
        health = await client.get(f"http://127.0.0.1:{settings.web_port}/healthz")
        assert health.json() == {"ok": True, "channels": ["telegram (long polling)"]}
        hook = await client.post(f"http://127.0.0.1:{settings.web_port}/webhooks/telegram", json={})
        assert hook.status_code == 404  # no webhook in polling mode
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0
    assert "suratbot berhenti." in out.getvalue()


async def test_webhook_mode_checks_the_secret_token(office: Office, api: FakeBotApi, tmp_path: Path) -> None:
    settings = settings_for(
        office, api, tmp_path, webhook_url="https://surat.example.go.id", telegram_webhook_secret="rahasia-webhook"
    )
    stop, task, out = await running(settings)
    assert "telegram (webhook)" in out.getvalue()
    assert api.webhook_url == "https://surat.example.go.id/webhooks/telegram"
    [(_, params)] = [c for c in api.calls if c[0] == "setWebhook"]
    assert params.get("secret_token") == "rahasia-webhook"

    user = api.user(502, "Asep")
    update = user.send_text("/start")  # queued at the fake; we deliver it the way Telegram would, by POST
    url = f"http://127.0.0.1:{settings.web_port}/webhooks/telegram"
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, json=update)).status_code == 403
        wrong = {"X-Telegram-Bot-Api-Secret-Token": "tebakan"}
        assert (await client.post(url, json=update, headers=wrong)).status_code == 403
        assert user.messages == []  # neither was processed
        right = {"X-Telegram-Bot-Api-Secret-Token": "rahasia-webhook"}
        assert (await client.post(url, content=b"{not json", headers=right)).status_code == 400
        assert (await client.post(url, json=update, headers=right)).status_code == 200
    await user.wait_for(lambda m: m.reply_keyboard is not None)
    stop.set()
    assert await asyncio.wait_for(task, 10) == 0


async def test_run_refuses_an_old_schema(api: FakeBotApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'kosong.db'}",
        data_dir=tmp_path / "data",
        telegram_bot_token=TOKEN,
        telegram_base_url=f"{api.url}/bot",
    )
    assert await serve(settings, stop=asyncio.Event()) == 1
    assert "suratbot db upgrade" in capsys.readouterr().err


def test_logs_never_show_the_token(capfd: pytest.CaptureFixture[str]) -> None:
    settings = Settings(_env_file=None, telegram_bot_token=TOKEN, smtp_password="sandi-surel")  # type: ignore[call-arg]
    try:
        configure_logging(settings)
        logging.getLogger("telegram.ext").info("POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
        logging.getLogger("suratbot").warning("login with sandi-surel failed")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    finally:
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])
    err = capfd.readouterr().err
    assert TOKEN not in err and "sandi-surel" not in err
    assert "bot<rahasia>/getUpdates" in err
    assert "sendMessage" not in err  # httpx's request lines are not logged at all
    assert Redact(["x"]).filter(logging.LogRecord("n", logging.INFO, "p", 1, "plain", None, None))


async def test_a_rejected_token_is_reported_without_printing_it(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = FakeBotApi("111111:ANOTHER-token")  # answers 401 to our token, as Telegram does to a wrong one
    await other.start()
    try:
        settings = settings_for(office, other, tmp_path)
        assert await serve(settings, stop=asyncio.Event()) == 1
    finally:
        await other.stop()
    err = capsys.readouterr().err
    assert "Telegram menolak token bot" in err and TOKEN not in err
