"""People on the fake Telegram in the end-to-end tests: start the bot against the fake, join, find buttons."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select

from suratbot.bot.app import Bot, TelegramSettings, start_bot
from suratbot.bot.fakebotapi import FakeBotApi, FakeUser, SentMessage
from suratbot.bot.outbox import Limits
from suratbot.services.office import Office
from suratbot.storage.models import Staff

FAST = Limits(per_second=200.0, per_chat_interval=0.0)  # the fake server has no flood limits to respect


class OnFake(Protocol):
    office: Office
    api: FakeBotApi


async def start_against(office: Office, api: FakeBotApi, limits: Limits = FAST) -> Bot:
    """The real bot (PTB Application, long polling, outbox sender) against the fake Bot API."""
    settings = TelegramSettings(
        api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot", poll_timeout=1
    )
    return await start_bot(office, telegram=settings, limits=limits, outbox_poll=0.2)


async def member(h: OnFake, jabatan: str, user_id: int) -> FakeUser:
    """A roster member who joins: /start, then shares their own contact."""
    async with h.office.uow() as uow:
        staff = await uow.session.scalar(select(Staff).where(Staff.jabatan == jabatan))
    assert staff is not None
    user = h.api.user(user_id, staff.nama.split()[0])
    user.send_text("/start")
    await user.wait_for(lambda m: m.reply_keyboard is not None)
    user.share_contact(staff.telepon)
    await user.wait_for_text("Akun ini sekarang terhubung")
    return user


def with_button(label: str) -> Callable[[SentMessage], bool]:
    return lambda m: any(label in text for row in m.buttons for text, _ in row)
