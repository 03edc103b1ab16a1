"""People on the fake WhatsApp in the end-to-end tests: the bot's web app on 127.0.0.1 (uvicorn) taking signed
webhooks, the fake Graph API recording what the bot sends, and (for a mixed office) the fake Telegram too."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from sqlalchemy import select

from suratbot.bot.app import Bot, TelegramSettings, start_bot
from suratbot.bot.channels.whatsapp import WhatsAppSettings
from suratbot.bot.fakebotapi import FakeBotApi
from suratbot.bot.fakegraphapi import FakeGraphApi, FakePhone, Received, WhatsAppPeer
from suratbot.bot.web import web_app
from suratbot.data.concept import example_letter
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.storage.models import Staff
from tests.telegram_chat import FAST

APP_SECRET = "rahasia-aplikasi-uji"
VERIFY_TOKEN = "token-verifikasi-uji"
CAPTION = (
    "Perihal: Undangan Rapat; Tujuan: Camat se-Kabupaten Sumedang; Sifat: Biasa; Urgensi: Segera; Klasifikasi: 500.16"
)


@dataclass
class Harness:
    office: Office
    api: FakeGraphApi
    bot: Bot
    peer: WhatsAppPeer
    url: str
    telegram: FakeBotApi | None = None  # the mixed office's other channel

    async def phone_of(self, jabatan: str) -> FakePhone:
        async with self.office.reading() as uow:
            staff = await uow.session.scalar(select(Staff).where(Staff.jabatan == jabatan))
        assert staff is not None
        return self.api.phone(staff.telepon.lstrip("+"), staff.nama)

    async def join(self, jabatan: str) -> FakePhone:
        phone = await self.phone_of(jabatan)
        await self.peer.say(phone, "halo")
        await phone.wait_for_text("Akun ini sekarang terhubung")
        await phone.wait_for_text("ketik /bantuan")  # and the answer to the "halo" itself
        return phone


PASSPHRASE = "kunci-demo-2026"  # of the demo keys made for Kepala Dinas


@asynccontextmanager
async def running_with_keys(office: Office) -> AsyncIterator[Harness]:
    """`running`, with the demo signing keys in place (Kepala Dinas can sign with PASSPHRASE)."""
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    async with running(office) as h:
        yield h


def with_button(title: str) -> Callable[[Received], bool]:
    return lambda m: any(title in t for _, t in m.buttons)


async def submitted(h: Harness, drafter: FakePhone, kasi: FakePhone) -> Received:
    """The drafter sends a concept with its caption and submits it: the Kasi's task, with its buttons."""
    await h.peer.send_document(drafter, example_letter("Undangan Rapat", "Camat"), "undangan.pdf", caption=CAPTION)
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"))
    await h.peer.press(drafter, summary, "Kirim ke verifikator")
    return await kasi.wait_for(with_button("Setujui"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def running(office: Office, *, with_telegram: bool = False) -> AsyncIterator[Harness]:
    """The bot with WhatsApp (and Telegram, if asked) and its web app on a free port; the office's public URL
    is that web app, so the signing links in chat lead to it."""
    api = FakeGraphApi()
    await api.start()
    telegram_api = None
    telegram = None
    if with_telegram:
        telegram_api = FakeBotApi()
        await telegram_api.start()
        telegram = TelegramSettings(
            telegram_api.token,
            base_url=f"{telegram_api.url}/bot",
            base_file_url=f"{telegram_api.url}/file/bot",
            poll_timeout=1,
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    office.public_url = url
    settings = WhatsAppSettings(api.token, api.phone_number_id, APP_SECRET, VERIFY_TOKEN, graph_url=api.graph_url)
    bot = await start_bot(office, telegram=telegram, whatsapp=settings, limits=FAST, outbox_poll=0.2)
    server = uvicorn.Server(
        uvicorn.Config(web_app(bot), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
        await asyncio.sleep(0.01)
    peer = WhatsAppPeer(api, f"{url}/webhooks/whatsapp", APP_SECRET)
    peer.report_statuses()
    try:
        yield Harness(office, api, bot, peer, url, telegram_api)
    finally:
        server.should_exit = True
        await task
        await bot.stop()
        await api.stop()
        if telegram_api is not None:
            await telegram_api.stop()
