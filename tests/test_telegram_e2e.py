"""End to end on Telegram: the real python-telegram-bot Application and outbox sender over HTTP against the fake
Bot API server on 127.0.0.1, the real database, real files and real signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from suratbot.bot.app import Bot
from suratbot.bot.fakebotapi import FakeBotApi
from suratbot.data.concept import example_letter
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.services.reminders import SweepResult
from suratbot.services.verification import verify_letter
from suratbot.storage.models import Letter, OutboxMessage, Staff
from tests.conftest import FakeClock
from tests.telegram_chat import member, start_against, with_button

PASSPHRASE = "kunci-demo-2026"
CAPTION = (
    "Perihal: Undangan Rapat Koordinasi; Tujuan: Camat se-Kabupaten Sumedang; Sifat: Biasa; Urgensi: Segera; "
    "Klasifikasi: 500.16"
)


@dataclass
class Harness:
    office: Office
    api: FakeBotApi
    bot: Bot

    async def restart(self) -> None:
        """The bot process stops and a new one starts on the same database (a new Application)."""
        await self.bot.stop()
        self.bot = await start_against(self.office, self.api)


@pytest.fixture
async def harness(office: Office) -> AsyncIterator[Harness]:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    api = FakeBotApi()
    await api.start()
    bot = await start_against(office, api)
    h = Harness(office, api, bot)
    yield h
    await h.bot.stop()
    await api.stop()


async def test_the_whole_sop_on_telegram(harness: Harness) -> None:
    h = harness
    drafter = await member(h, "Analis Perizinan", 1001)
    kasi = await member(h, "Kepala Seksi Perizinan Usaha", 1002)
    kabid = await member(h, "Kepala Bidang Pelayanan Perizinan", 1003)
    clerk = await member(h, "Pengelola Surat", 1004)
    kepala = await member(h, "Kepala Dinas", 1005)
    assert {c["command"] for c in h.api.commands} >= {"antrian", "status", "cari", "bantuan", "verifikasi"}

    drafter.send_document(example_letter("Undangan Rapat Koordinasi", "Camat"), "undangan.pdf", caption=CAPTION)
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"))
    drafter.press(summary, "Kirim ke verifikator")
    await drafter.wait_for_text("diajukan")

    task = await kasi.wait_for(with_button("Setujui"))
    assert task.document is not None and task.document[1].startswith(b"%PDF")
    kasi.press(task, "Revisi")
    await kasi.wait_for_text("Tuliskan catatan revisi")
    kasi.send_text("Mohon tambahkan jam dan tempat rapat.")
    back = await drafter.wait_for(lambda m: "Mohon tambahkan jam dan tempat rapat." in (m.text or m.caption or ""))
    drafter.press(back, "Unggah revisi")
    await drafter.wait_for_text("Kirim berkas revisinya")
    drafter.send_document(example_letter("Undangan Rapat Koordinasi", "Camat", version=2), "undangan-v2.pdf")
    await drafter.wait_for_text("Revisi terkirim")

    task2 = await kasi.wait_for(with_button("Setujui"), after=task)
    assert not task.buttons or task.edits  # the old task lost its buttons
    kasi.press(task2, "Setujui")
    kasi.press(task2, "Setujui")  # a double tap: the second press changes nothing
    await kasi.wait_for_text("Paraf Anda tercatat")
    kabid_task = await kabid.wait_for(with_button("Setujui"))
    kabid.press(kabid_task, "Setujui")

    number = await clerk.wait_for(with_button("Beri Nomor"))
    clerk.press(number, "Beri Nomor")
    proposal = await clerk.wait_for(lambda m: "Nomor berikutnya" in (m.text or ""))
    clerk.press(proposal, "Beri Nomor (500.16)")
    await clerk.wait_for_text("Nomor 500.16/1/DPMPTSP/2026 diberikan")

    sign = await kepala.wait_for(with_button("Tandatangani"))
    assert "500.16/1/DPMPTSP/2026" in (sign.caption or sign.text or "")
    kepala.press(sign, "Tandatangani")
    await kepala.wait_for_text("Ketik kata sandi")
    kepala.send_text(PASSPHRASE)
    signed = await kepala.wait_for(lambda m: m.document is not None and "ditandatangani" in (m.caption or ""))
    assert (kepala.user_id, signed.message_id - 2) in h.api.deleted_user_messages or any(
        chat == kepala.user_id for chat, _ in h.api.deleted_user_messages
    )  # the passphrase message is gone
    assert "typing" in kepala.chat_actions
    assert signed.document is not None
    result = await verify_letter(h.office, signed.document[1])
    assert result.ok and result.nomor == "500.16/1/DPMPTSP/2026"

    send = await clerk.wait_for(with_button("Kirim"), after=number)
    clerk.press(send, "Kirim")
    routes = await clerk.wait_for(with_button("SRIKANDI"))
    clerk.press(routes, "SRIKANDI")
    await clerk.wait_for_text("catatan pengiriman")
    clerk.send_text("agenda 77")
    await clerk.wait_for_text("tercatat terkirim melalui SRIKANDI (agenda 77)")
    await drafter.wait_for_text("telah dikirim ke Camat se-Kabupaten Sumedang")
    async with h.office.uow() as uow:
        letter = await uow.session.scalar(select(Letter))
        assert letter is not None and letter.state == "terkirim"


async def test_strangers_forged_buttons_and_wrong_files(harness: Harness) -> None:
    h = harness
    admin = await member(h, "Pengelola Surat", 2001)  # the example clerk is also an admin
    stranger = h.api.user(2999, "Asing")
    stranger.send_text("halo")
    await stranger.wait_for(lambda m: m.reply_keyboard is not None)
    stranger.share_contact("+6281299990000")
    await stranger.wait_for_text("tidak ada di daftar pegawai")
    await admin.wait_for_text("mencoba memakai bot dengan nomor +6281299990000")

    drafter = h.api.user(2002, "Rizki")
    async with h.office.uow() as uow:
        phone = await uow.session.scalar(select(Staff.telepon).where(Staff.jabatan == "Analis Perizinan"))
    drafter.send_text("/start")
    await drafter.wait_for(lambda m: m.reply_keyboard is not None)
    drafter.share_contact(phone or "", user_id=4242)  # someone else's contact card, forwarded
    await drafter.wait_for_text("bukan milik Anda")
    drafter.share_contact(phone or "")
    joined = await drafter.wait_for_text("Akun ini sekarang terhubung")

    drafter.send_document(
        b"PK\x03\x04 not really",
        "konsep.docx",
        mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    await drafter.wait_for_text("Dokumen Word ini rusak")
    drafter.send_document(b"%PDF-1.7 cut short", "rusak.pdf")
    await drafter.wait_for_text("rusak atau tidak lengkap")
    drafter.send_document(b"GIF89a", "gambar.gif", mime_type="image/gif")
    await drafter.wait_for_text("bukan PDF")

    drafter.press_data(joined, "setujui|AAAAAAAAAAAAAAAAAAAAAA|verifikasi_1")
    await drafter.wait_for_text("tidak ditemukan")
    assert any("tidak ditemukan" in a for a in drafter.answers)
    async with h.office.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Letter)) == 0


async def test_a_restart_mid_flow_loses_nothing_and_sends_nothing_twice(harness: Harness) -> None:
    h = harness
    drafter = await member(h, "Analis Perizinan", 3001)
    kasi = await member(h, "Kepala Seksi Perizinan Usaha", 3002)
    drafter.send_document(example_letter("Undangan", "Camat"), "undangan.pdf", caption=CAPTION)
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"))
    await h.restart()  # the pending prompt (the summary) lives in the database
    drafter.press(summary, "Kirim ke verifikator")
    await drafter.wait_for_text("diajukan")
    task = await kasi.wait_for(with_button("Setujui"))
    await h.restart()
    kasi.press(task, "Setujui")
    await kasi.wait_for_text("Paraf Anda tercatat")
    statuses = await drained(h)
    assert set(statuses) <= {"sent", "usang", "tanpa_saluran"}  # the Kabid never joined: theirs waits for them
    assert "tanpa_saluran" in statuses
    assert len([m for m in kasi.messages if m.document is not None]) == 1  # the task arrived once
    assert len([m for m in drafter.messages if "diajukan" in (m.text or "")]) == 1


async def drained(h: Harness, seconds: float = 10.0) -> list[str]:
    """The outbox statuses once the sender has nothing left to do now."""
    import asyncio

    for _ in range(int(seconds / 0.1)):
        async with h.office.uow() as uow:
            statuses = list((await uow.session.scalars(select(OutboxMessage.status))).all())
        if not {"pending", "sending"} & set(statuses):
            return statuses
        await asyncio.sleep(0.1)
    raise AssertionError(f"outbox not drained: {statuses}")


class _Mailbox:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) keeping what it receives."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


async def test_the_clerk_sends_by_e_mail_or_forwards_to_a_chat(harness: Harness) -> None:
    import email
    import socket

    from aiosmtpd.controller import Controller

    from suratbot.services.mail import SmtpSetup
    from tests.helpers import letter_at, people

    h = harness
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mailbox = _Mailbox()
    server = Controller(mailbox, hostname="127.0.0.1", port=port)
    server.start()
    try:
        h.office.smtp = SmtpSetup(host="127.0.0.1", port=port, sender="surat@dpmptsp.example.go.id", starttls=False)
        p = await people(h.office)
        first = await letter_at(h.office, p, "pengiriman")
        clerk = await member(h, "Pengelola Surat", 4001)  # notifications queued before they joined arrive now
        task = await clerk.wait_for(with_button("Kirim"))
        clerk.press(task, "Kirim")
        routes = await clerk.wait_for(with_button("surel"))
        clerk.press(routes, "surel")
        await clerk.wait_for_text("alamat surel")
        clerk.send_text("bukan alamat")
        await clerk.wait_for_text("bukan alamat surel (e-mail) yang valid")
        clerk.send_text("camat@sumedang.example.go.id")
        await clerk.wait_for_text("tercatat terkirim melalui surel (e-mail) (ke camat@sumedang.example.go.id)")
        [raw] = mailbox.messages
        mail = email.message_from_bytes(raw)
        assert mail["To"] == "camat@sumedang.example.go.id" and first.nomor in mail["Subject"]  # type: ignore[operator]
        [attachment] = [part for part in mail.walk() if part.get_content_type() == "application/pdf"]
        assert attachment.get_payload(decode=True) == h.office.files.get(first.current_version)

        second = await letter_at(h.office, p, "pengiriman")
        group = h.api.user(-1007, "Grup Sekretariat")  # a chat the bot is in
        task2 = await clerk.wait_for(with_button("Kirim"), after=task)
        clerk.press(task2, "Kirim")
        routes2 = await clerk.wait_for(with_button("Teruskan ke chat"), after=routes)
        clerk.press(routes2, "Teruskan ke chat")
        await clerk.wait_for_text("Ketik chat tujuan")
        clerk.send_text("@grup_yang_tidak_ada")
        await clerk.wait_for_text("Bot tidak bisa mengirim ke @grup_yang_tidak_ada")
        clerk.send_text("-1007")
        await clerk.wait_for_text("tercatat terkirim melalui pesan chat (ke -1007)")
        forwarded = await group.wait_for(lambda m: m.document is not None)
        assert forwarded.document is not None and forwarded.document[1] == h.office.files.get(second.current_version)
    finally:
        server.stop()


async def test_a_reminder_that_fell_due_while_the_bot_was_down_arrives_once_after_restart(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    drafter = await member(h, "Analis Perizinan", 4001)
    kasi = await member(h, "Kepala Seksi Perizinan Usaha", 4002)
    kabid = await member(h, "Kepala Bidang Pelayanan Perizinan", 4003)
    drafter.send_document(example_letter("Undangan", "Camat"), "undangan.pdf", caption=CAPTION)
    drafter.press(await drafter.wait_for(with_button("Kirim ke verifikator")), "Kirim ke verifikator")
    await kasi.wait_for(with_button("Setujui"))
    await h.bot.stop()
    clock.advance(hours=2, minutes=40)  # down across the reminders of +60, +90, +120, +150 min and the escalation
    h.bot = await start_against(h.office, h.api)
    reminder = await kasi.wait_for_text("Pengingat")
    escalation = await kabid.wait_for_text("Eskalasi")
    assert "Kepala Seksi Perizinan Usaha" in (escalation.text or "") and not escalation.buttons
    await h.restart()  # and again: nothing more is due, nothing is sent twice
    import asyncio

    for _ in range(100):  # the new scheduler's first sweep has run
        if h.bot.reminders is not None and h.bot.reminders.last is not None:
            break
        await asyncio.sleep(0.05)
    assert h.bot.reminders is not None and h.bot.reminders.last == SweepResult()
    await drained(h)
    assert len([m for m in kasi.messages if "Pengingat" in (m.text or "")]) == 1
    assert len([m for m in kabid.messages if "Eskalasi" in (m.text or "")]) == 1
    kasi.press(reminder, "Setujui")  # the reminder's buttons act like the task's
    await kasi.wait_for_text("Paraf Anda tercatat")
    await kabid.wait_for(with_button("Setujui"))


async def test_laporan_arrives_as_a_picture_and_a_workbook(harness: Harness) -> None:
    from tests.helpers import letter_at, people

    h = harness
    kepala = await member(h, "Kepala Dinas", 5001)
    await letter_at(h.office, await people(h.office), "tanda_tangan")  # numbered this month: in the register
    kepala.send_text("/laporan")
    chart = await kepala.wait_for(lambda m: m.photo is not None)
    assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
    assert "Laporan November 2026" in (chart.caption or "")
    book = await kepala.wait_for(lambda m: m.document is not None and m.document[0].endswith(".xlsx"))
    assert book.document is not None and book.document[0] == "buku-agenda-2026-11.xlsx"
    assert book.document[1].startswith(b"PK")  # a zip: the XLSX


async def test_telegram_offers_the_signing_page_as_a_web_app_when_the_bot_is_on_https(harness: Harness) -> None:
    from tests.helpers import letter_at, people

    h = harness
    h.office.public_url = "https://surat.dpmptsp.example.go.id"
    kepala = await member(h, "Kepala Dinas", 5005)
    letter = await letter_at(h.office, await people(h.office), "tanda_tangan")
    sign = await kepala.wait_for(with_button("Tandatangani"))
    kepala.press(sign, "Tandatangani")
    prompt = await kepala.wait_for_text("Ketik kata sandi")
    assert "halaman tanda tangan" in (prompt.text or "")
    (label, target), *_ = [b for row in prompt.buttons for b in row]
    assert label == "Buka halaman TTE"  # a Web App (the fake refuses one that is not https)
    assert target.startswith("https://surat.dpmptsp.example.go.id/tandatangan/")
    kepala.send_text(PASSPHRASE)  # the chat way still works beside it
    await kepala.wait_for(lambda m: m.document is not None and "ditandatangani" in (m.caption or ""))
    async with h.office.reading() as uow:
        assert (await uow.session.get_one(Letter, letter.id)).state == "pengiriman"


async def test_a_word_concept_through_the_whole_sop_on_telegram(harness: Harness) -> None:
    from suratbot.services.converter import soffice_path
    from tests.conftest import postgres_required
    from tests.word_docs import concept_docx, text_of_docx

    if soffice_path() is None and not postgres_required():
        pytest.skip("LibreOffice is not installed (make test installs it)")
    h = harness
    drafter = await member(h, "Analis Perizinan", 6001)
    kasi = await member(h, "Kepala Seksi Perizinan Usaha", 6002)
    kabid = await member(h, "Kepala Bidang Pelayanan Perizinan", 6003)
    clerk = await member(h, "Pengelola Surat", 6004)
    kepala = await member(h, "Kepala Dinas", 6005)
    drafter.send_document(
        concept_docx(), "undangan.docx",
        mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document", caption=CAPTION,
    )  # fmt: skip
    await drafter.wait_for_text("Konsep Word", timeout=60)
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"))
    drafter.press(summary, "Kirim ke verifikator")
    task = await kasi.wait_for(with_button("Setujui"))
    assert task.document is not None and task.document[1].startswith(b"%PDF")  # verifiers see the PDF
    kasi.press(task, "Berkas Word")  # and the Word file is one tap away
    sent = await kasi.wait_for(lambda m: m.document is not None and m.document[0].endswith(".docx"))
    assert sent.document is not None and "${nomor}" in text_of_docx(sent.document[1])
    kasi.press(task, "Setujui")
    kabid.press(await kabid.wait_for(with_button("Setujui")), "Setujui")
    number = await clerk.wait_for(with_button("Beri Nomor"))
    clerk.press(number, "Beri Nomor")
    proposal = await clerk.wait_for(lambda m: "Nomor berikutnya" in (m.text or ""))
    clerk.press(proposal, "Beri Nomor (500.16)")
    await clerk.wait_for_text("diberikan", timeout=60)
    sign = await kepala.wait_for(with_button("Tandatangani"))
    kepala.press(sign, "Tandatangani")
    await kepala.wait_for_text("Ketik kata sandi")
    kepala.send_text(PASSPHRASE)
    signed = await kepala.wait_for(lambda m: m.document is not None and "ditandatangani" in (m.caption or ""))
    assert signed.document is not None
    result = await verify_letter(h.office, signed.document[1])
    assert result.ok and result.nomor == "500.16/1/DPMPTSP/2026"
    async with h.office.reading() as uow:
        letter = await uow.session.scalar(select(Letter))
    assert letter is not None and letter.word_version is not None
    assert "Nomor    : 500.16/1/DPMPTSP/2026" in text_of_docx(h.office.files.get(letter.word_version))
