"""The fake Telegram Bot API, driven by a real python-telegram-bot Application over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from suratbot.bot.fakebotapi import FakeBotApi, SentMessage

PDF = b"%PDF-1.7\n% fake surat\n%%EOF\n"
Context = ContextTypes.DEFAULT_TYPE


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    await fake.start()
    yield fake
    await fake.stop()


def build_app(api: FakeBotApi, token: str | None = None) -> Application:
    return (
        ApplicationBuilder()
        .token(token or api.token)
        .base_url(f"{api.url}/bot")
        .base_file_url(f"{api.url}/file/bot")
        .build()
    )


@pytest.fixture
async def app(api: FakeBotApi) -> AsyncIterator[Application]:
    """A real PTB application; the test adds its handlers, then awaits ``start_polling(app)``."""
    application = build_app(api)
    yield application
    if application.updater is not None and application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await application.shutdown()


async def start_polling(application: Application) -> None:
    await application.initialize()
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.01, timeout=timedelta(seconds=2))


async def echo(update: Update, context: Context) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(f"gema: {update.message.text}")


async def start_command(update: Update, context: Context) -> None:
    assert update.message is not None
    await context.bot.send_chat_action(update.message.chat_id, "typing")
    keyboard = ReplyKeyboardMarkup([[KeyboardButton("Bagikan nomor", request_contact=True)]], one_time_keyboard=True)
    await update.message.reply_text(f"Selamat datang {context.args}", reply_markup=keyboard)


async def test_echo_command_and_reply_keyboard(api: FakeBotApi, app: Application) -> None:
    app.add_handler(CommandHandler("start", start_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    await start_polling(app)
    budi = api.user(1001, "Budi", username="budi")

    update = budi.send_text("halo pak")
    reply = await budi.wait_for_text("gema: halo pak")
    assert update["message"]["message_id"] == 1 and reply.message_id == 2  # one counter per chat
    assert reply.chat_id == 1001 and reply.buttons == [] and reply.reply_keyboard is None

    budi.send_text("/start kode-123")
    welcome = await budi.wait_for_text("Selamat datang", after=reply)
    assert welcome.text == "Selamat datang ['kode-123']"
    assert welcome.reply_keyboard == [[{"text": "Bagikan nomor", "request_contact": True}]]
    assert budi.keyboard == welcome.reply_keyboard
    assert budi.chat_actions == ["typing"]
    assert budi.transcript().splitlines() == [
        "> halo pak",
        "< gema: halo pak",
        "> /start kode-123",
        "< Selamat datang ['kode-123'] {keyboard: Bagikan nomor}",
    ]

    called = [name for name, _ in api.calls]
    assert called[0] == "getMe" and "deleteWebhook" in called and "getUpdates" in called
    sends = [params for name, params in api.calls if name == "sendMessage"]
    assert sends[0]["chat_id"] == 1001 and sends[0]["text"] == "gema: halo pak"
    assert len(api.sent_per_chat_times(1001)) == 2 and api.sent_per_chat_times(999) == []

    # PTB confirms the processed updates with the offset of its next getUpdates.
    for _ in range(200):
        if not api.pending_updates:
            break
        await asyncio.sleep(0.01)
    assert api.pending_updates == []


async def send_surat(update: Update, context: Context) -> None:
    assert update.message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Setujui", callback_data="setuju:7"),
                InlineKeyboardButton("Tolak", callback_data="tolak:7"),
            ]
        ]
    )
    await update.message.reply_document(
        InputFile(PDF, filename="surat-7.pdf"), caption="Surat nomor 7", reply_markup=keyboard
    )


async def on_press(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    if query.data.startswith("setuju:"):
        await query.answer("Disetujui")
        await query.edit_message_reply_markup(None)
    else:
        await query.answer()
        assert query.message is not None
        await context.bot.send_message(query.message.chat.id, f"data tidak dikenal: {query.data}")


async def test_document_with_inline_keyboard_pressed_and_removed(api: FakeBotApi, app: Application) -> None:
    app.add_handler(CommandHandler("surat", send_surat))
    app.add_handler(CallbackQueryHandler(on_press))
    await start_polling(app)
    sari = api.user(1002, "Sari")

    sari.send_text("/surat")
    surat = await sari.wait_for(lambda message: message.document is not None)
    assert surat.document == ("surat-7.pdf", PDF)
    assert surat.caption == "Surat nomor 7"
    assert surat.buttons == [[("✅ Setujui", "setuju:7"), ("Tolak", "tolak:7")]]
    with pytest.raises(KeyError):
        sari.press(surat, "Arsipkan")

    press = sari.press(surat, "Setujui")
    assert press["callback_query"]["data"] == "setuju:7"
    await sari.wait_for(lambda message: message is surat and not message.buttons)
    assert surat.edits == 1
    for _ in range(200):
        if sari.answers:
            break
        await asyncio.sleep(0.01)
    assert sari.answers == ["Disetujui"]
    with pytest.raises(KeyError):
        sari.press(surat, "Tolak")  # the keyboard is gone

    sari.press_data(surat, "palsu:999")
    await sari.wait_for_text("data tidak dikenal: palsu:999")
    assert sari.answers == ["Disetujui", ""]
    assert "< [dokumen surat-7.pdf] Surat nomor 7 [✅ Setujui | Tolak] (diedit)" not in sari.transcript()
    assert "< [dokumen surat-7.pdf] Surat nomor 7 (diedit)" in sari.transcript()
    assert "> (tekan ✅ Setujui)" in sari.transcript()

    # The bot can send the same document again by its file_id: the fake reuses the bytes.
    upload = next(params for name, params in api.calls if name == "sendDocument")
    assert repr(upload["document"]) == f"UploadedFile('surat-7.pdf', {len(PDF)} bytes, 'application/pdf')"
    assert upload["reply_markup"]["inline_keyboard"][0][1] == {"text": "Tolak", "callback_data": "tolak:7"}
    assert surat.file_id is not None
    again = await app.bot.send_document(1002, surat.file_id)
    assert again.document is not None and again.document.file_id == surat.file_id
    assert sari.messages[-1].document == ("surat-7.pdf", PDF)

    with pytest.raises(BadRequest, match="Query is too old"):
        await app.bot.answer_callback_query(press["callback_query"]["id"])  # already answered
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_reply_markup(1002, surat.message_id, reply_markup=None)


async def on_contact(update: Update, context: Context) -> None:
    message = update.message
    assert message is not None and message.contact is not None and message.from_user is not None
    own = message.contact.user_id == message.from_user.id
    await message.reply_text(
        f"kontak {message.contact.phone_number} milik_sendiri={own} diteruskan={message.forward_origin is not None}",
        reply_markup=ReplyKeyboardRemove(),
    )


async def test_contact_sharing(api: FakeBotApi, app: Application) -> None:
    app.add_handler(MessageHandler(filters.CONTACT, on_contact))
    await start_polling(app)
    andi = api.user(1003, "Andi")
    andi.keyboard = [[{"text": "Bagikan nomor", "request_contact": True}]]

    own = andi.share_contact("6281234567890")
    assert own["message"]["contact"] == {"phone_number": "6281234567890", "first_name": "Andi", "user_id": 1003}
    first = await andi.wait_for_text("kontak 6281234567890 milik_sendiri=True diteruskan=False")
    assert andi.keyboard is None

    andi.share_contact("6280000000001", user_id=None)
    second = await andi.wait_for_text("kontak 6280000000001 milik_sendiri=False diteruskan=False", after=first)

    other = andi.share_contact("6289999999999", user_id=2002)
    assert other["message"]["contact"]["user_id"] == 2002
    await andi.wait_for_text("kontak 6289999999999 milik_sendiri=False diteruskan=True", after=second)
    assert "> [kontak 6289999999999 user_id=2002]" in andi.transcript()


async def on_document(update: Update, context: Context) -> None:
    message = update.message
    assert message is not None and message.document is not None
    telegram_file = await context.bot.get_file(message.document.file_id)
    data = await telegram_file.download_as_bytearray()
    await message.reply_text(f"diterima {message.document.file_name} {len(data)} byte {bytes(data[:8])!r}")


async def test_user_document_downloaded_by_the_bot(api: FakeBotApi, app: Application) -> None:
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    await start_polling(app)
    rina = api.user(1004, "Rina")

    update = rina.send_document(PDF, "konsep.pdf", caption="konsep surat")
    document = update["message"]["document"]
    assert document["file_name"] == "konsep.pdf" and document["file_size"] == len(PDF)
    await rina.wait_for_text(f"diterima konsep.pdf {len(PDF)} byte {PDF[:8]!r}")
    assert "> [dokumen konsep.pdf] konsep surat" in rina.transcript()

    # Downloading needs the right token, like Telegram's file endpoint.
    file_path = next(
        f"{api.url}/file/bot{api.token}/documents/file_1.pdf" for name, _ in api.calls if name == "getFile"
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(file_path) as response:
            assert response.status == 200 and await response.read() == PDF
        async with session.get(file_path.replace(api.token, "1:WRONG")) as response:
            assert response.status == 401
    with pytest.raises(BadRequest, match="Invalid file_id"):
        await app.bot.get_file("tidak-ada")


async def delete_both(update: Update, context: Context) -> None:
    message = update.message
    assert message is not None
    await message.delete()
    notice = await message.reply_text("pesan Anda berisi NIK, sudah dihapus", do_quote=False)
    if message.text == "hapus juga balasannya":
        await notice.delete()


async def test_delete_messages(api: FakeBotApi, app: Application) -> None:
    app.add_handler(MessageHandler(filters.TEXT, delete_both))
    await start_polling(app)
    dewi = api.user(1005, "Dewi")

    update = dewi.send_text("NIK saya 3201234567890001")
    notice = await dewi.wait_for_text("sudah dihapus")
    assert (1005, update["message"]["message_id"]) in api.deleted_user_messages
    assert not notice.deleted

    dewi.send_text("hapus juga balasannya")
    second = await dewi.wait_for(lambda message: message.deleted)
    assert second.message_id > notice.message_id
    assert dewi.transcript().splitlines()[-1] == "< pesan Anda berisi NIK, sudah dihapus (dihapus)"
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await app.bot.delete_message(1005, second.message_id)


# PTB itself reads the deprecated int-valued RetryAfter.retry_after while building the exception.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_forced_failures(api: FakeBotApi, app: Application) -> None:
    await app.initialize()
    api.user(1006, "Joko")

    api.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter, match=r"Retry in (3 seconds|0:00:03)"):
        await app.bot.send_message(1006, "satu")
    await app.bot.send_message(1006, "dua")  # only the next call fails

    api.fail_next("sendMessage", status=403, times=2)
    for _ in range(2):
        with pytest.raises(Forbidden):
            await app.bot.send_message(1006, "tiga")
    assert [params["text"] for name, params in api.calls if name == "sendMessage"] == ["satu", "dua", "tiga", "tiga"]
    assert [message.text for message in api.user(1006, "Joko").messages] == ["dua"]


async def test_wrong_token_is_rejected_at_initialize(api: FakeBotApi) -> None:
    application = build_app(api, token="999:SALAH")
    with pytest.raises(InvalidToken):
        await application.initialize()
    assert api.calls == []


async def test_telegram_limits_and_commands(api: FakeBotApi, app: Application) -> None:
    await app.initialize()
    api.user(1007, "Tono")

    with pytest.raises(BadRequest, match="Message is too long"):
        await app.bot.send_message(1007, "x" * 4097)
    await app.bot.send_message(1007, "x" * 4096)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("a", callback_data="d" * 65)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):  # PTB capitalizes the description
        await app.bot.send_message(1007, "pilih", reply_markup=too_long)
    with pytest.raises(BadRequest, match="Chat not found"):
        await app.bot.send_message(4242, "siapa?")
    with pytest.raises(BadRequest, match="Query is too old"):
        await app.bot.answer_callback_query("123")

    commands = [BotCommand("start", "Mulai"), BotCommand("surat", "Surat keluar")]
    assert await app.bot.set_my_commands(commands)
    assert api.commands == [
        {"command": "start", "description": "Mulai"},
        {"command": "surat", "description": "Surat keluar"},
    ]
    assert tuple(await app.bot.get_my_commands()) == tuple(commands)


async def test_http_protocol(api: FakeBotApi) -> None:
    budi = api.user(1008, "Budi")
    base = f"{api.url}/bot{api.token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/sendSticker", json={"chat_id": 1008}) as response:
            assert response.status == 404
            assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        async with session.post(f"{api.url}/bot1:SALAH/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

        # A plain JSON body works too, with native values.
        async with session.post(f"{base}/sendMessage", json={"chat_id": 1008, "text": "123"}) as response:
            body = await response.json()
            assert body["ok"] and body["result"]["text"] == "123" and body["result"]["from"]["is_bot"]

        api.fail_next("getUpdates")
        async with session.post(f"{base}/getUpdates") as response:
            assert response.status == 429
            assert await response.json() == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1},
            }

        first = budi.send_text("satu")
        second = budi.send_text("dua")
        async with session.post(f"{base}/getUpdates", data={"offset": "0", "timeout": "5"}) as response:
            updates = (await response.json())["result"]
        assert [update["update_id"] for update in updates] == [first["update_id"], second["update_id"]]
        async with session.post(f"{base}/getUpdates", data={"offset": str(second["update_id"])}) as response:
            assert (await response.json())["result"] == [second]  # the first one is confirmed and dropped

        # Long polling: an empty queue waits up to `timeout`, and answers as soon as an update arrives.
        started = time.monotonic()
        offset = str(second["update_id"] + 1)
        async with session.post(f"{base}/getUpdates", data={"offset": offset, "timeout": "0.3"}) as response:
            assert (await response.json())["result"] == []
        assert time.monotonic() - started >= 0.25

        async def later() -> None:
            await asyncio.sleep(0.1)
            budi.send_text("tiga")

        task = asyncio.create_task(later())
        started = time.monotonic()
        async with session.post(f"{base}/getUpdates", data={"offset": offset, "timeout": "10"}) as response:
            result = (await response.json())["result"]
        await task
        assert [update["message"]["text"] for update in result] == ["tiga"]
        assert time.monotonic() - started < 5

        # allowed_updates (a JSON-encoded list, as PTB sends it) filters what is delivered.
        budi.press_data(SentMessage(message_id=1, chat_id=1008), "x")
        async with session.post(
            f"{base}/getUpdates",
            data={"offset": str(result[0]["update_id"] + 1), "allowed_updates": '["message"]'},
        ) as response:
            assert (await response.json())["result"] == []


async def test_wait_for_times_out_with_the_chat(api: FakeBotApi) -> None:
    budi = api.user(1009, "Budi")
    budi.send_text("halo?")
    with pytest.raises(TimeoutError, match=r"(?s)within 0.1s.*> halo\?"):
        await budi.wait_for_text("tidak akan datang", timeout=0.1)
