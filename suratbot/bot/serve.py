"""`suratbot run` as a process: logging that never shows a secret, the bot, the web app, and a clean stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import sys
from typing import TextIO

import uvicorn
from telegram.error import InvalidToken, TelegramError

from suratbot.bot.app import TelegramSettings, WebhookSettings, start_bot
from suratbot.bot.channels.whatsapp import WhatsAppRefused
from suratbot.bot.config import Settings
from suratbot.bot.web import web_app
from suratbot.services.converter import WarmConverter
from suratbot.services.office import Office
from suratbot.storage import db

log = logging.getLogger(__name__)


class Redact(logging.Filter):
    """Takes every secret out of every log line (the bot token is part of Telegram's API URLs)."""

    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets_ if s]

    def scrub(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "<rahasia>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            record.msg, record.args = self.scrub(message), None
        return True


class RedactingFormatter(logging.Formatter):
    """Scrubs the whole formatted record, tracebacks included (an exception's text may hold the token)."""

    def __init__(self, redact: Redact, fmt: str) -> None:
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self.redact.scrub(super().format(record))


def configure_logging(settings: Settings) -> None:
    secret_values = [
        v.get_secret_value()
        for v in (
            settings.telegram_bot_token,
            settings.telegram_webhook_secret,
            settings.smtp_password,
            settings.whatsapp_access_token,
            settings.whatsapp_app_secret,
            settings.whatsapp_verify_token,
        )
        if v is not None
    ]
    redact = Redact(secret_values)
    handler = logging.StreamHandler()
    handler.addFilter(redact)
    handler.setFormatter(RedactingFormatter(redact, "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "apscheduler", "aiosqlite"):  # httpx logs every URL, token included
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def serve(settings: Settings, *, stop: asyncio.Event | None = None, out: TextIO = sys.stdout) -> int:
    """Run until SIGINT/SIGTERM (or `stop`); exit status for the CLI."""
    office = settings.open_office()
    try:
        if await db.current_revision(office.engine) != db.head_revision():
            print("Skema basis data belum mutakhir: jalankan `suratbot db upgrade` dahulu.", file=sys.stderr)
            return 1
        telegram = webhook = None
        if settings.telegram_bot_token is not None:
            telegram = TelegramSettings(
                settings.telegram_bot_token.get_secret_value(),
                base_url=settings.telegram_base_url,
                base_file_url=settings.telegram_base_file_url,
            )
            if settings.webhook_url:
                secret = (
                    settings.telegram_webhook_secret.get_secret_value()
                    if settings.telegram_webhook_secret
                    else secrets.token_urlsafe(32)
                )
                webhook = WebhookSettings(settings.webhook_url, secret)
        whatsapp = settings.whatsapp()
        if whatsapp is not None and not office.public_url.startswith("https://"):
            print(
                f"Peringatan: PUBLIC_URL ({office.public_url}) bukan https. Tautan halaman tanda tangan yang dikirim "
                "lewat WhatsApp harus bisa dibuka dari ponsel: pasang bot di balik https dan isi PUBLIC_URL.",
                file=sys.stderr,
            )
        try:
            bot = await start_bot(
                office,
                telegram=telegram,
                webhook=webhook,
                whatsapp=whatsapp,
                libreoffice_python=settings.libreoffice_python,
            )
        except WhatsAppRefused as exc:  # says which setting, never its value
            print(str(exc), file=sys.stderr)
            return 1
        except InvalidToken:  # its text holds the token: never print it
            print("Telegram menolak token bot: periksa TELEGRAM_BOT_TOKEN (dari @BotFather).", file=sys.stderr)
            return 1
        except TelegramError as exc:
            print(f"Telegram tidak dapat dihubungi saat memulai ({type(exc).__name__}). Coba lagi nanti.",
                  file=sys.stderr)  # fmt: skip
            return 1
        server = uvicorn.Server(
            uvicorn.Config(
                web_app(bot),
                host=settings.web_host,
                port=settings.web_port,
                log_level="warning",
                lifespan="off",
                access_log=False,  # a signing link's path is a secret: no request lines in the log
                proxy_headers=True,
                forwarded_allow_ips=settings.forwarded_allow_ips,
            )
        )
        server_task = asyncio.create_task(server.serve())
        warming = asyncio.create_task(_warm_up(office))  # LibreOffice ready before the first Word concept
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread (tests): no signals
                loop.add_signal_handler(sig, stop.set)
        channels = ", ".join(bot.channels) or "tidak ada (isi TELEGRAM_BOT_TOKEN atau WHATSAPP_* di .env)"
        print(f"suratbot berjalan. Saluran chat: {channels}. Web: port {settings.web_port}. Ctrl+C untuk berhenti.",
              file=out, flush=True)  # fmt: skip
        await stop.wait()
        warming.cancel()
        server.should_exit = True
        await server_task
        await bot.stop()
        print("suratbot berhenti.", file=out, flush=True)
        return 0
    finally:
        await office.close()


async def _warm_up(office: Office) -> None:
    converter = office.converter
    if isinstance(converter, WarmConverter):
        try:
            await converter.start()
        except Exception:  # Word concepts are refused with a message until it works; PDFs go on
            log.warning("LibreOffice could not be started: Word concepts cannot be converted for now")
