"""`suratbot run`: the channels whose settings are present, and the outbox sender, until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Update

from suratbot.bot.channels.telegram import TelegramChannel
from suratbot.bot.outbox import Channel, Limits, OutboxSender
from suratbot.services.office import Office

log = logging.getLogger(__name__)


@dataclass
class TelegramSettings:
    token: str = field(repr=False)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_interval: float = 0.0
    poll_timeout: int = 10


@dataclass
class Bot:
    """A running bot: its channels and its outbox sender (`start`, then `stop`)."""

    office: Office
    telegram: TelegramChannel | None = None
    sender: OutboxSender | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        return [name for name, on in (("telegram", self.telegram is not None),) if on]

    async def stop(self) -> None:
        self._stop.set()
        if self.telegram is not None:
            app = self.telegram.application
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        for task in self._tasks:
            await task


async def start_bot(
    office: Office,
    *,
    telegram: TelegramSettings | None,
    limits: Limits | None = None,
    outbox_poll: float = 2.0,
    on_ready: Callable[[Bot], None] | None = None,
) -> Bot:
    """Start every configured channel (long polling) and the outbox sender; a restart picks up what was pending."""
    bot = Bot(office)
    channels: dict[str, Channel] = {}
    if telegram is not None:
        bot.telegram = TelegramChannel(
            office, telegram.token, base_url=telegram.base_url, base_file_url=telegram.base_file_url
        )
        channels["telegram"] = bot.telegram
    bot.sender = OutboxSender(office, channels, limits=limits, poll=outbox_poll)
    if bot.telegram is not None:
        bot.telegram.on_handled = bot.sender.wake
        app = bot.telegram.application
        await app.initialize()
        await bot.telegram.register_commands()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=telegram.poll_interval if telegram else 0.0,
            timeout=telegram.poll_timeout if telegram else 10,
            allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
        )
    bot._tasks.append(asyncio.create_task(bot.sender.run(bot._stop)))
    if on_ready is not None:
        on_ready(bot)
    return bot
