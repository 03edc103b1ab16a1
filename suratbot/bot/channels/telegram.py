"""The Telegram channel (python-telegram-bot): updates become inbound events for the core, replies become Bot API
calls, and the outbox sender delivers notifications through it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, ContextTypes, TypeHandler

from suratbot.bot.outbox import RetryLater, Undeliverable
from suratbot.handlers import router
from suratbot.handlers.types import Button, Contact, Inbound, IncomingFile, Reply, Response
from suratbot.services.office import Office
from suratbot.workflow.machine import Refusal

log = logging.getLogger(__name__)

NAME = "telegram"
CAPTION_LIMIT = 1024  # Telegram's limit for a document caption
TEXT_LIMIT = 4096


class TelegramChannel:
    """One bot: its PTB `Application`, the handler that feeds the core, and `send` for the outbox."""

    name = NAME

    def __init__(
        self,
        office: Office,
        token: str,
        *,
        base_url: str = "https://api.telegram.org/bot",
        base_file_url: str = "https://api.telegram.org/file/bot",
        on_handled: Callable[[], None] | None = None,
    ) -> None:
        self.office = office
        self.on_handled = on_handled  # e.g. wake the outbox sender: the update probably queued notifications
        self.application: Application = (  # type: ignore[type-arg]
            ApplicationBuilder()
            .token(token)
            .base_url(base_url)
            .base_file_url(base_file_url)
            .concurrent_updates(8)  # different people at once; PTB still keeps one person's updates apart below
            .build()
        )
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.application.add_error_handler(self._on_error)
        self._locks: dict[int, asyncio.Lock] = {}

    @property
    def bot(self):  # type: ignore[no-untyped-def]
        return self.application.bot

    async def register_commands(self) -> None:
        await self.bot.set_my_commands([BotCommand(name, text) for name, text in router.COMMANDS.items()])

    # --- inbound ------------------------------------------------------------------------------------------------

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = update.effective_user
        chat = update.effective_chat
        if user is None or chat is None or user.is_bot:
            return
        if chat.type != ChatType.PRIVATE:  # letters (and secret ones above all) only ever go to private chats
            message = update.effective_message  # only a command gets an answer: chatter in a group is not for us
            if message is not None and (message.text or "").startswith("/"):
                await message.reply_text("Bot ini hanya melayani obrolan pribadi.")
            return
        inbound = self._inbound(update)
        if inbound is None:
            return
        # One person's updates are handled one at a time, in order (a double tap is two updates).
        lock = self._locks.setdefault(user.id, asyncio.Lock())
        async with lock:
            response = await router.handle(self.office, inbound)
            await self._perform(update, response)
        if self.on_handled is not None:
            self.on_handled()

    def _inbound(self, update: Update) -> Inbound | None:
        user = update.effective_user
        assert user is not None
        chat_id = user.id
        base: dict[str, Any] = {"channel": NAME, "address": str(user.id), "name": user.full_name}
        bot = self.bot

        async def working() -> None:
            with contextlib.suppress(TelegramError):  # cosmetic: never worth failing the person's action for
                await bot.send_chat_action(chat_id, ChatAction.TYPING)

        async def send_to(target: str, reply: Reply) -> None:
            chat: int | str = int(target) if target.lstrip("-").isdigit() else target
            if isinstance(chat, str) and not chat.startswith("@"):
                chat = "@" + chat
            try:
                await self._send(chat, reply)
            except (BadRequest, Forbidden) as exc:
                raise Refusal(
                    "chat_gagal",
                    f"Bot tidak bisa mengirim ke {target}: pastikan chat itu ada dan bot sudah menjadi anggotanya. "
                    "Ketik chat lain, atau /batal.",
                ) from exc

        base["send_to"] = send_to
        if update.callback_query is not None:
            return Inbound(**base, callback=update.callback_query.data or "", working=working)
        message = update.message
        if message is None:
            return None

        async def discard() -> None:
            try:
                await message.delete()
            except (BadRequest, Forbidden, NetworkError) as exc:
                log.warning("could not delete a message holding a passphrase: %s", type(exc).__name__)

        common = {**base, "working": working, "discard": discard}
        if message.contact is not None:
            own = message.contact.user_id is not None and message.contact.user_id == user.id
            return Inbound(**common, contact=Contact(message.contact.phone_number, own))
        attachment = message.document or (message.photo[-1] if message.photo else None)
        if attachment is not None:
            file_id = attachment.file_id
            name = getattr(attachment, "file_name", None) or ("foto.jpg" if message.photo else None)
            media = getattr(attachment, "mime_type", None) or ("image/jpeg" if message.photo else None)

            async def fetch() -> bytes:
                remote = await bot.get_file(file_id)
                return bytes(await remote.download_as_bytearray())

            file = IncomingFile(name, media, attachment.file_size, fetch)
            return Inbound(**common, file=file, text=message.caption)
        if message.video or message.audio or message.voice or message.sticker or message.animation:
            return Inbound(**common, file=IncomingFile("berkas", "application/octet-stream", None, _empty))
        text = message.text
        if text is None:
            return None
        if text.startswith("/"):
            head, _, args = text[1:].partition(" ")
            command = head.split("@", 1)[0].lower()
            return Inbound(**common, text=text, command=command, args=args.strip())
        return Inbound(**common, text=text)

    async def _perform(self, update: Update, response: Response) -> None:
        chat_id = update.effective_user.id  # type: ignore[union-attr]
        query = update.callback_query
        if response.delete_inbound and update.message is not None:
            with contextlib.suppress(BadRequest, Forbidden):  # deleted already (by `discard`)
                await update.message.delete()
        if query is not None:  # the toast and the button removal are cosmetic: the replies below matter
            with contextlib.suppress(TelegramError):  # too old to answer, or a hiccup: the reply still tells them
                await query.answer(response.answer or None)
            if response.clear_buttons and query.message is not None:
                with contextlib.suppress(TelegramError):  # no buttons left, or the message is too old to edit
                    await query.edit_message_reply_markup(reply_markup=None)
        for reply in response.replies:
            await self._send(chat_id, reply)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: update failed: %s", type(context.error).__name__, exc_info=context.error)
        if isinstance(update, Update) and update.effective_user is not None:
            with contextlib.suppress(TelegramError):  # the error may be the network itself
                await self.bot.send_message(
                    update.effective_user.id, "Maaf, terjadi kesalahan di bot. Coba lagi sebentar lagi."
                )

    # --- outbound -----------------------------------------------------------------------------------------------

    async def _send(self, chat_id: int | str, reply: Reply) -> Message:
        markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None
        if reply.buttons:
            markup = InlineKeyboardMarkup([[_inline_button(b) for b in row] for row in reply.buttons])
        elif reply.ask_contact:
            markup = ReplyKeyboardMarkup(
                [[KeyboardButton("\U0001f4f1 Bagikan nomor telepon", request_contact=True)]],
                resize_keyboard=True,
                one_time_keyboard=True,
            )
        elif reply.remove_keyboard:
            markup = ReplyKeyboardRemove()
        attachment = reply.document or reply.photo
        if attachment is None:
            return await self.bot.send_message(chat_id, reply.text[:TEXT_LIMIT], reply_markup=markup)
        data = await asyncio.to_thread(self.office.files.get, attachment.sha256)
        caption = reply.text
        if len(caption) > CAPTION_LIMIT:  # the text on its own first, the file (with the buttons) after it
            await self.bot.send_message(chat_id, caption[:TEXT_LIMIT])
            caption = ""
        if reply.document is None:
            return await self.bot.send_photo(
                chat_id, photo=data, filename=attachment.filename, caption=caption or None, reply_markup=markup
            )
        return await self.bot.send_document(
            chat_id, document=data, filename=reply.document.filename, caption=caption or None, reply_markup=markup
        )

    async def send(self, address: str, reply: Reply) -> str:
        """For the outbox: deliver one notification; platform errors become RetryLater / Undeliverable."""
        try:
            message = await self._send(int(address), reply)
        except RetryAfter as exc:
            seconds = exc.retry_after.total_seconds() if hasattr(exc.retry_after, "total_seconds") else exc.retry_after
            raise RetryLater(float(seconds), "Telegram: retry after") from exc
        except BadRequest as exc:  # a NetworkError in PTB's tree, but Telegram will never take this message
            raise Undeliverable(f"Telegram: {exc.message}") from exc
        except (TimedOut, NetworkError) as exc:
            raise RetryLater(5.0, f"Telegram: {type(exc).__name__}") from exc
        except Forbidden as exc:
            raise Undeliverable(f"Telegram: {exc.message}") from exc
        return str(message.message_id)

    async def clear_buttons(self, address: str, message_id: str) -> None:
        await self.bot.edit_message_reply_markup(chat_id=int(address), message_id=int(message_id), reply_markup=None)


async def _empty() -> bytes:
    return b""


def _inline_button(button: Button) -> InlineKeyboardButton:
    """A callback button, or a page: a Web App (opened inside Telegram) where asked and https, as Telegram
    requires, else a plain link."""
    if button.url is None:
        return InlineKeyboardButton(button.label, callback_data=button.data)
    if button.web_app and button.url.startswith("https://"):
        return InlineKeyboardButton(button.label, web_app=WebAppInfo(button.url))
    return InlineKeyboardButton(button.label, url=button.url)
