"""`suratbot run`: the channels whose settings are present, and the outbox sender, until stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from telegram import Update

from suratbot.bot.channels.telegram import TelegramChannel
from suratbot.bot.channels.whatsapp import WhatsAppChannel, WhatsAppSettings
from suratbot.bot.outbox import Channel, Limits, OutboxSender
from suratbot.bot.scheduler import ReminderScheduler
from suratbot.services.converter import ColdConverter, WarmConverter, soffice_path
from suratbot.services.office import Office
from suratbot.signing.pool import shared_pool

log = logging.getLogger(__name__)


@dataclass
class TelegramSettings:
    token: str = field(repr=False)
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    poll_interval: float = 0.0
    poll_timeout: int = 10


@dataclass
class WebhookSettings:
    """Telegram pushes updates to `{public base}/webhooks/telegram`, with `secret` in a header we check."""

    base_url: str  # the public https address of this app (WEBHOOK_URL)
    secret: str = field(repr=False)

    @property
    def telegram_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/webhooks/telegram"


@dataclass
class Bot:
    """A running bot: its channels, its outbox sender and its reminders (`start`, then `stop`)."""

    office: Office
    telegram: TelegramChannel | None = None
    whatsapp: WhatsAppChannel | None = None
    sender: OutboxSender | None = None
    reminders: ReminderScheduler | None = None
    webhook: WebhookSettings | None = None
    own_converter: WarmConverter | None = None  # the warm LibreOffice this bot started: stopped with it
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def channels(self) -> list[str]:
        names = []
        if self.telegram is not None:
            names.append("telegram (webhook)" if self.webhook else "telegram (long polling)")
        if self.whatsapp is not None:
            names.append("whatsapp (webhook)")
        return names

    def wake_outbox(self) -> None:
        """Something outside the chats (the signing page) queued notifications: send them now."""
        if self.sender is not None:
            self.sender.wake()

    async def stop(self) -> None:
        """The outbox sender first (a send in flight finishes, nothing new starts), then the channels: a message
        is never sent through a connection already closed."""
        if self.reminders is not None:
            self.reminders.stop()
        self._stop.set()
        for task in self._tasks:
            await task
        self._tasks.clear()
        if self.telegram is not None:
            app = self.telegram.application
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        if self.whatsapp is not None:
            await self.whatsapp.close()
        if self.own_converter is not None:
            if self.office.converter is self.own_converter:
                self.office.converter = ColdConverter()  # first: nothing new reaches the one being stopped
            await self.own_converter.close()
            self.own_converter = None


async def start_bot(
    office: Office,
    *,
    telegram: TelegramSettings | None,
    webhook: WebhookSettings | None = None,
    whatsapp: WhatsAppSettings | None = None,
    limits: Limits | None = None,
    outbox_poll: float = 2.0,
    reminders: bool = True,
    on_ready: Callable[[Bot], None] | None = None,
    libreoffice_python: str = "/usr/bin/python3",
) -> Bot:
    """Start every configured channel (long polling, or a webhook the web app serves), the outbox sender and
    the reminders' timer; a restart picks up what was pending and what fell due meanwhile."""
    bot = Bot(office, webhook=webhook)
    if isinstance(office.converter, ColdConverter) and soffice_path() is not None:
        # Word concepts: a LibreOffice kept warm, started at the first Word file (or by `suratbot run` at once).
        bot.own_converter = WarmConverter(python=libreoffice_python)
        office.converter = bot.own_converter
    if office.signing.backend == "pkcs12":  # the signing worker imports pyHanko now, not at the first signature
        shared_pool().start()
    channels: dict[str, Channel] = {}
    if telegram is not None:
        bot.telegram = TelegramChannel(
            office, telegram.token, base_url=telegram.base_url, base_file_url=telegram.base_file_url
        )
        channels["telegram"] = bot.telegram
    if whatsapp is not None:  # its updates arrive at the web app's /webhooks/whatsapp
        bot.whatsapp = WhatsAppChannel(office, whatsapp)
        try:
            await bot.whatsapp.check()  # a refused token is said now, not at the first notification
        except BaseException:
            await bot.whatsapp.close()
            raise
        channels["whatsapp"] = bot.whatsapp
    bot.sender = OutboxSender(office, channels, limits=limits, poll=outbox_poll)
    if bot.whatsapp is not None:
        bot.whatsapp.on_handled = bot.sender.wake
    if bot.telegram is not None:
        bot.telegram.on_handled = bot.sender.wake
        app = bot.telegram.application
        await app.initialize()
        await bot.telegram.register_commands()
        await app.start()
        allowed = [Update.MESSAGE, Update.CALLBACK_QUERY]
        if webhook is not None:  # updates arrive at the web app, which puts them on the application's queue
            await app.bot.set_webhook(webhook.telegram_url, secret_token=webhook.secret, allowed_updates=allowed)
        else:
            await app.bot.delete_webhook()
            assert app.updater is not None and telegram is not None
            await app.updater.start_polling(
                poll_interval=telegram.poll_interval, timeout=telegram.poll_timeout, allowed_updates=allowed
            )
    if channels:  # with no channel the sender would park every row as "not bound anywhere": nothing to send
        bot._tasks.append(asyncio.create_task(bot.sender.run(bot._stop)))
        if reminders:
            bot.reminders = ReminderScheduler(office, on_sent=bot.sender.wake)
            bot.reminders.start()
    if on_ready is not None:
        on_ready(bot)
    return bot
