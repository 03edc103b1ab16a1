"""End-to-end flows on Telegram beyond the happy path: revisions at verifier 2, a return by Kepala Dinas, a
locked passphrase, stale and foreign buttons, a Rahasia letter, the commands, /verifikasi and the outbox pacing.

The real python-telegram-bot Application and outbox sender talk HTTP to the fake Bot API on 127.0.0.1; the
database (SQLite and PostgreSQL), files and signatures are real. Each test checks what people see in their chats
and what the database holds.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

import pytest
from pdfminer.high_level import extract_text
from sqlalchemy import func, select

from suratbot.bot.app import Bot
from suratbot.bot.fakebotapi import FakeBotApi, FakeUser, SentMessage
from suratbot.bot.outbox import Limits
from suratbot.data.concept import example_letter
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.services.verification import verify_letter
from suratbot.storage.models import AuditEvent, IssuedNumber, Letter, OutboxMessage, PendingPrompt, Staff
from tests.conftest import FakeClock, roster_text
from tests.telegram_chat import FAST, member, start_against, with_button

PASSPHRASE = "kunci-demo-2026"
TELEGRAM = Limits(per_second=30, per_chat_interval=1.0)  # Telegram's own: one message a second to a chat

DRAFTER = "Analis Perizinan"
KASI = "Kepala Seksi Perizinan Usaha"
KABID = "Kepala Bidang Pelayanan Perizinan"
CLERK = "Pengelola Surat"
KEPALA = "Kepala Dinas"
OTHER_KABID = "Kepala Bidang Penanaman Modal"
OTHER_KASI = "Kepala Seksi Promosi Penanaman Modal"
OTHER_DRAFTER = "Penata Promosi Investasi"


# --- the harness ------------------------------------------------------------------------------------------------


@dataclass
class Harness:
    office: Office
    api: FakeBotApi
    bot: Bot
    clock: FakeClock


@asynccontextmanager
async def running(office: Office, clock: FakeClock, limits: Limits) -> AsyncIterator[Harness]:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    api = FakeBotApi()
    await api.start()
    bot = await start_against(office, api, limits)
    h = Harness(office, api, bot, clock)
    try:
        yield h
    finally:
        await quiesce(h)
        await h.bot.stop()
        await api.stop()


async def settled(h: Harness) -> None:
    """The outbox has nothing left due or in flight (the last delivery's status is committed)."""
    await quiesce(h)
    async with h.office.uow() as uow:
        assert not await uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sending")
        )


async def quiesce(h: Harness, within: float = 5.0) -> None:
    """Wait (at most `within` seconds) until the outbox has nothing due or in flight, so the bot stops between
    deliveries, not in the middle of one (see test_stopping_the_bot_lets_the_outbox_finish_its_round)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with h.office.uow() as uow:
            busy = await uow.session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    (OutboxMessage.status == "sending")
                    | ((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= h.office.now()))
                )
            )
        if not busy:
            return
        await asyncio.sleep(0.05)


@pytest.fixture
async def harness(office: Office, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(office, clock, FAST) as h:
        yield h


@pytest.fixture
async def paced(office: Office, clock: FakeClock) -> AsyncIterator[Harness]:
    """The bot with Telegram's real limits (one message a second per chat)."""
    extra = (
        "199701012021011012,Dewi Lestari,Analis Perizinan Ahli Pertama,"
        "Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,konseptor,081220000012\n"
        "199802022022012013,Eka Saputra,Pengolah Data Perizinan,"
        "Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,konseptor,081220000013\n"
    )
    await import_roster(office, roster_text().rstrip("\n") + "\n" + extra)  # two more drafters of the Seksi
    async with running(office, clock, TELEGRAM) as h:
        yield h


# --- people and their chats -------------------------------------------------------------------------------------


@dataclass
class People:
    drafter: FakeUser
    kasi: FakeUser
    kabid: FakeUser
    clerk: FakeUser
    kepala: FakeUser


async def people(h: Harness, base: int) -> People:
    return People(
        await member(h, DRAFTER, base + 1),
        await member(h, KASI, base + 2),
        await member(h, KABID, base + 3),
        await member(h, CLERK, base + 4),
        await member(h, KEPALA, base + 5),
    )


def said(m: SentMessage) -> str:
    return m.text or m.caption or ""


def data_of(message: SentMessage, label: str) -> str:
    """The callback_data of the button whose label contains `label` (copied, as a forger would)."""
    return next(data for row in message.buttons for text, data in row if label in text)


def last(user: FakeUser) -> SentMessage | None:
    return user.messages[-1] if user.messages else None


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def messages_after(user: FakeUser, after: SentMessage | None, count: int) -> list[SentMessage]:
    """The next `count` bot messages after `after`, once they have all arrived."""
    floor = after.message_id if after is not None else 0
    await eventually(lambda: len([m for m in user.messages if m.message_id > floor]) >= count)
    return [m for m in user.messages if m.message_id > floor][:count]


# How the bot's answer to a command (or a text) begins, whatever it found: notifications may arrive in between.
ANSWERS = {
    "/antrian": ("Surat yang menunggu Anda (", "Tidak ada surat yang menunggu Anda"),
    "/status": ("Surat Anda yang sedang berjalan", "Tidak ada surat Anda"),
    "/cari": ("Hasil pencarian", "Tidak ada surat yang cocok"),
    "/bantuan": ("Bot surat keluar",),
    "/batal": ("Dibatalkan.", "Tidak ada yang sedang ditunggu bot."),
    "/verifikasi": ("Kirim PDF bertanda tangan",),
}
VERDICT = ("SAH", "TIDAK SAH")
PLAIN = ("Kirim PDF konsep surat",)


async def command(user: FakeUser, text: str, answers: tuple[str, ...] | None = None) -> SentMessage:
    """Send a command (or text) and return the bot's answer to it."""
    before = last(user)
    user.send_text(text)
    starts = answers or ANSWERS[text.split()[0]]
    return await user.wait_for(lambda m: said(m).startswith(starts), after=before)


async def answer_to_file(user: FakeUser, data: bytes, name: str, starts: tuple[str, ...]) -> SentMessage:
    before = last(user)
    user.send_document(data, name)
    return await user.wait_for(lambda m: said(m).startswith(starts), after=before)


def caption(perihal: str, sifat: str = "Biasa") -> str:
    return (
        f"Perihal: {perihal}; Tujuan: Camat se-Kabupaten Sumedang; Sifat: {sifat}; Urgensi: Segera; Klasifikasi: 500.16"
    )


# --- the steps ----------------------------------------------------------------------------------------------------


async def submit(h: Harness, drafter: FakeUser, perihal: str, *, sifat: str = "Biasa", version: int = 1) -> str:
    """The drafter uploads a concept with its data in the caption and sends it on; returns the letter's id."""
    before = last(drafter)
    drafter.send_document(
        example_letter(perihal, "Camat", version=version), "konsep.pdf", caption=caption(perihal, sifat)
    )
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"), after=before)
    drafter.press(summary, "Kirim ke verifikator")
    await drafter.wait_for_text("diajukan", after=summary)
    return await letter_id(h, perihal)


async def letter_id(h: Harness, perihal: str) -> str:
    async with h.office.uow() as uow:
        found = await uow.session.scalar(select(Letter.id).where(Letter.perihal == perihal))
    assert found is not None
    return found


async def letter(h: Harness, letter_id: str) -> Letter:
    async with h.office.uow() as uow:
        row = await uow.session.get(Letter, letter_id)
    assert row is not None
    return row


async def staff_id(h: Harness, jabatan: str) -> int:
    async with h.office.uow() as uow:
        found = await uow.session.scalar(select(Staff.id).where(Staff.jabatan == jabatan))
    assert found is not None
    return found


async def actions(h: Harness, letter_id: str) -> list[str]:
    async with h.office.uow() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(AuditEvent.action).where(AuditEvent.letter_id == letter_id).order_by(AuditEvent.id)
                )
            ).all()
        )


async def approve(user: FakeUser, after: SentMessage | None = None) -> SentMessage:
    """The verifier's next task: Setujui. Returns the task message."""
    task = await user.wait_for(with_button("Setujui"), after=after)
    user.press(task, "Setujui")
    await user.wait_for_text("Paraf Anda tercatat", after=task)
    return task


async def give_number(clerk: FakeUser, after: SentMessage | None = None) -> SentMessage:
    task = await clerk.wait_for(with_button("Beri Nomor"), after=after)
    clerk.press(task, "Beri Nomor")
    proposal = await clerk.wait_for(lambda m: "Nomor berikutnya" in (m.text or ""), after=task)
    clerk.press(proposal, "Beri Nomor (")
    return await clerk.wait_for_text("diberikan", after=proposal)


async def to_signature(h: Harness, p: People, perihal: str, *, sifat: str = "Biasa") -> tuple[str, SentMessage]:
    """A letter through both verifiers and numbering; returns its id and Kepala Dinas' task."""
    kasi, kabid, clerk, kepala = (last(user) for user in (p.kasi, p.kabid, p.clerk, p.kepala))
    lid = await submit(h, p.drafter, perihal, sifat=sifat)
    await approve(p.kasi, kasi)
    await approve(p.kabid, kabid)
    await give_number(p.clerk, clerk)
    task = await p.kepala.wait_for(with_button("Tandatangani"), after=kepala)
    return lid, task


async def type_passphrase(kepala: FakeUser, task: SentMessage, passphrase: str) -> tuple[int, SentMessage]:
    """Tandatangani, then the passphrase; returns the passphrase message's id and the bot's answer to it."""
    before = last(kepala)
    kepala.press(task, "Tandatangani")
    asked = await kepala.wait_for_text("Ketik kata sandi", after=before)
    sent = kepala.send_text(passphrase)
    answer = await kepala.wait_for(lambda m: not m.buttons, after=asked)  # not a task: the answer to it
    return sent["message"]["message_id"], answer


async def sign(kepala: FakeUser, task: SentMessage) -> SentMessage:
    _, signed = await type_passphrase(kepala, task, PASSPHRASE)
    assert signed.document is not None and "ditandatangani" in (signed.caption or ""), kepala.transcript()
    return signed


def pdf_text(data: bytes) -> str:
    return extract_text(io.BytesIO(data))


# --- 1. a revision at verifier 2 --------------------------------------------------------------------------------


async def test_a_revision_asked_by_the_kabid_goes_back_to_the_kabid(harness: Harness) -> None:
    h = harness
    p = await people(h, 1100)
    lid = await submit(h, p.drafter, "Undangan Rapat Koordinasi")
    kasi_task = await approve(p.kasi)

    kabid_task = await p.kabid.wait_for(with_button("Revisi"))
    p.kabid.press(kabid_task, "Revisi")
    await p.kabid.wait_for_text("Tuliskan catatan revisi", after=kabid_task)
    note = 'Mohon ganti jam rapat menjadi 10.00 WIB;\ntempat: Aula "Tampomas" lt. 2 — bukan Ruang Rapat 1 (50% kursi).'
    p.kabid.send_text(note)
    await p.kabid.wait_for_text("Surat dikembalikan ke Rizki Ramadhan", after=kabid_task)

    back = await p.drafter.wait_for(with_button("Unggah revisi"))
    assert f"Catatan: {note}\n" in said(back)  # verbatim, line break and all
    assert "dikembalikan untuk revisi oleh Ir. Bambang Hermawan" in said(back)
    assert "kembali ke Ir. Bambang Hermawan" in said(back)
    row = await letter(h, lid)
    assert row.state == "konsep" and row.return_state == "verifikasi_2"
    assert row.holder_id == await staff_id(h, DRAFTER)
    async with h.office.uow() as uow:
        revisi = await uow.session.scalar(select(AuditEvent).where(AuditEvent.action == "revisi"))
        assert revisi is not None and revisi.note == note and revisi.from_state == "verifikasi_2"

    p.drafter.press(back, "Unggah revisi")
    await p.drafter.wait_for_text("Kirim berkas revisinya", after=back)
    p.drafter.send_document(
        example_letter("Undangan Rapat Koordinasi", "Camat", version=2),
        "undangan-v2.pdf",
        caption="Jam dan tempat sudah diganti.",
    )
    done = await p.drafter.wait_for_text("Revisi terkirim", after=back)
    assert "tahap Verifikasi 2, dipegang Ir. Bambang Hermawan (Kepala Bidang Pelayanan Perizinan)" in said(done)

    again = await p.kabid.wait_for(with_button("Setujui"), after=kabid_task)
    assert "Catatan: Jam dan tempat sudah diganti." in said(again)  # the drafter's caption travels with it
    assert again.document is not None and "(konsep versi 2)" in pdf_text(again.document[1])
    p.kabid.press(again, "Setujui")
    await p.kabid.wait_for_text("Paraf Anda tercatat", after=again)
    await p.clerk.wait_for(with_button("Beri Nomor"))

    # The Kasi, whose paraf stands, was not asked again.
    assert [m for m in p.kasi.messages if m.document is not None] == [kasi_task]
    row = await letter(h, lid)
    assert row.state == "penomoran" and row.holder_id == await staff_id(h, CLERK)
    assert await actions(h, lid) == ["buat", "ajukan", "setujui", "revisi", "ajukan_ulang", "setujui"]


# --- 2. a return by Kepala Dinas -----------------------------------------------------------------------------------


async def test_a_letter_returned_by_kepala_dinas_comes_back_for_signature_with_its_number(harness: Harness) -> None:
    h = harness
    p = await people(h, 1200)
    lid, task = await to_signature(h, p, "Undangan Rapat Koordinasi")
    nomor = (await letter(h, lid)).nomor
    assert nomor == "500.16/1/DPMPTSP/2026"
    clerk_before = len(p.clerk.messages)

    p.kepala.press(task, "Kembalikan")
    await p.kepala.wait_for_text("Tuliskan catatan pengembalian", after=task)
    reason = "Tanggal rapat bentrok dengan kunjungan Bupati; mohon ganti menjadi Kamis, 3 Desember 2026."
    p.kepala.send_text(reason)
    await p.kepala.wait_for_text("Surat dikembalikan ke Rizki Ramadhan", after=task)

    back = await p.drafter.wait_for(lambda m: "dikembalikan untuk revisi oleh Dr. H. Asep Suryana" in said(m))
    assert f"Catatan: {reason}\n" in said(back) and nomor in said(back)
    assert (await letter(h, lid)).state == "konsep"
    p.drafter.press(back, "Unggah revisi")
    await p.drafter.wait_for_text("Kirim berkas revisinya", after=back)
    p.drafter.send_document(example_letter("Undangan Rapat Koordinasi", "Camat", version=2), "undangan-v2.pdf")
    done = await p.drafter.wait_for_text("Revisi terkirim", after=back)
    assert "tahap Tanda tangan, dipegang Dr. H. Asep Suryana (Kepala Dinas)" in said(done)

    again = await p.kepala.wait_for(with_button("Tandatangani"), after=task)
    assert again.document is not None
    text = pdf_text(again.document[1])
    assert nomor in text and "(konsep versi 2)" in text and "${nomor}" not in text
    assert nomor in said(again)
    row = await letter(h, lid)
    assert row.state == "tanda_tangan" and row.nomor == nomor
    async with h.office.uow() as uow:
        issued = (await uow.session.scalars(select(IssuedNumber))).all()
    assert [(i.nomor, i.status) for i in issued] == [(nomor, "aktif")]
    assert not [m for m in p.clerk.messages[clerk_before:] if with_button("Beri Nomor")(m)]  # not numbered again

    signed = await sign(p.kepala, again)
    assert signed.document is not None
    result = await verify_letter(h.office, signed.document[1])
    assert result.ok and result.nomor == nomor
    assert "(konsep versi 2)" in pdf_text(signed.document[1])
    assert (await letter(h, lid)).state == "pengiriman"


# --- 3. a wrong passphrase three times --------------------------------------------------------------------------


async def test_three_wrong_passphrases_lock_signing_for_fifteen_minutes(harness: Harness) -> None:
    h = harness
    p = await people(h, 1300)
    lid, task = await to_signature(h, p, "Undangan Rapat Koordinasi")
    typed: list[int] = []

    for remaining in (2, 1):
        message_id, answer = await type_passphrase(p.kepala, task, f"salah-{remaining}")
        typed.append(message_id)
        assert f"Sisa percobaan: {remaining}." in said(answer)
        assert "Ketik lagi passphrase-nya" in said(answer)
    # The prompt stays after a wrong passphrase: the third try is typed straight away.
    before = last(p.kepala)
    typed.append(p.kepala.send_text("salah-lagi")["message"]["message_id"])
    locked = await p.kepala.wait_for(lambda m: not m.buttons, after=before)
    assert "Kata sandi salah 3 kali" in said(locked) and "dikunci selama 15 menit" in said(locked)

    row = await letter(h, lid)
    assert row.state == "tanda_tangan" and row.holder_id == await staff_id(h, KEPALA)
    audit = await actions(h, lid)
    assert audit.count("tte_kata_sandi_salah") == 3 and audit.count("tte_terkunci") == 1
    assert "tandatangani" not in audit

    # The right passphrase, while locked: refused.
    h.clock.advance(minutes=14)
    message_id, refused = await type_passphrase(p.kepala, task, PASSPHRASE)
    typed.append(message_id)
    assert "dikunci sementara" in said(refused) and "Coba lagi dalam 1 menit" in said(refused)
    assert (await letter(h, lid)).state == "tanda_tangan"

    await eventually(lambda: {(p.kepala.user_id, i) for i in typed} <= h.api.deleted_user_messages)
    for m in p.kepala.messages:  # no passphrase ever shows up in what the bot wrote
        assert PASSPHRASE not in said(m) and "salah-" not in said(m)
    assert not [m for m in p.kepala.messages if m.document is not None and "ditandatangani" in (m.caption or "")]

    # Fifteen minutes after the lock, it signs.
    h.clock.advance(minutes=1)
    signed = await sign(p.kepala, task)
    assert (await letter(h, lid)).state == "pengiriman"
    assert signed.document is not None and (await verify_letter(h.office, signed.document[1])).ok
    await eventually(lambda: len([c for c, _ in h.api.deleted_user_messages if c == p.kepala.user_id]) == 5)


# --- 4. stale and foreign buttons ---------------------------------------------------------------------------------


async def test_stale_and_foreign_buttons_change_nothing(harness: Harness) -> None:
    h = harness
    p = await people(h, 1400)
    other_kabid = await member(h, OTHER_KABID, 1406)
    other_kasi = await member(h, OTHER_KASI, 1407)
    lid = await submit(h, p.drafter, "Undangan Rapat Koordinasi")
    task = await p.kasi.wait_for(with_button("Revisi"))
    revisi = data_of(task, "Revisi")
    p.kasi.press(task, "Setujui")
    await p.kasi.wait_for_text("Paraf Anda tercatat", after=task)
    await eventually(lambda: not task.buttons)  # the old task lost its buttons
    kabid_task = await p.kabid.wait_for(with_button("Setujui"))

    async def unchanged() -> None:
        row = await letter(h, lid)
        assert row.state == "verifikasi_2" and row.holder_id == await staff_id(h, KABID)
        assert await actions(h, lid) == ["buat", "ajukan", "setujui"]
        async with h.office.uow() as uow:
            assert await uow.session.scalar(select(func.count()).select_from(PendingPrompt)) == 0

    # The Kasi presses Revisi on the old task (the button's data, as an old client would still send it).
    answers = len(p.kasi.answers)
    before = last(p.kasi)
    p.kasi.press_data(task, revisi)
    await eventually(lambda: len(p.kasi.answers) > answers)
    answer = p.kasi.answers[-1]
    assert "tidak berlaku lagi" in answer and len(answer) <= 200
    reply = await p.kasi.wait_for_text("Tombol ini tidak berlaku lagi", after=before)
    assert "sekarang di tahap Verifikasi 2" in said(reply)
    assert "Tuliskan catatan" not in said(reply)
    await unchanged()

    # Verifiers of another unit press the Kabid's buttons, copied.
    joined = await other_kabid.wait_for_text("Akun ini sekarang terhubung")
    other_kabid.press_data(joined, data_of(kabid_task, "Setujui"))
    await eventually(lambda: bool(other_kabid.answers))
    assert "tidak berwenang" in other_kabid.answers[-1]
    joined = await other_kasi.wait_for_text("Akun ini sekarang terhubung")
    other_kasi.press_data(joined, data_of(kabid_task, "Revisi"))
    await eventually(lambda: bool(other_kasi.answers))
    assert "tidak berwenang" in other_kasi.answers[-1]
    await unchanged()

    # The Kabid's own buttons still work.
    p.kabid.press(kabid_task, "Setujui")
    await p.kabid.wait_for_text("Paraf Anda tercatat", after=kabid_task)
    assert (await letter(h, lid)).state == "penomoran"


# --- 5. a Rahasia letter ------------------------------------------------------------------------------------------


async def test_a_rahasia_letter_never_shows_its_subject_in_a_notification(harness: Harness) -> None:
    h = harness
    p = await people(h, 1500)
    perihal = "Pemeriksaan Pelanggaran Izin PT Sinar Jaya Abadi"
    lid, task = await to_signature(h, p, perihal, sifat="Rahasia")
    assert "RAHASIA" in said(task)
    await sign(p.kepala, task)
    send = await p.clerk.wait_for(with_button("Kirim"))
    p.clerk.press(send, "Kirim")
    routes = await p.clerk.wait_for(with_button("SRIKANDI"), after=send)
    p.clerk.press(routes, "SRIKANDI")
    await p.clerk.wait_for_text("catatan pengiriman", after=routes)
    p.clerk.send_text("agenda 12")
    await p.clerk.wait_for_text("tercatat terkirim", after=routes)
    sent = await p.drafter.wait_for_text("telah dikirim ke tujuannya")

    row = await letter(h, lid)
    assert row.state == "terkirim" and row.sifat == "Rahasia"
    secret = ("Sinar Jaya", "Pelanggaran")
    for user in (p.kasi, p.kabid, p.clerk, p.kepala):
        for m in user.messages:
            assert not any(word in said(m) for word in secret), user.transcript()
    # The drafter's own chat: only the bot's direct answers to the upload name the subject, no notification does.
    submitted = next(m for m in p.drafter.messages if "diajukan" in said(m) and "Konsep" in said(m))
    later = [m for m in p.drafter.messages if m.message_id > submitted.message_id]
    assert sent in later and len(later) >= 5  # paraf, paraf, numbered, signed, sent
    for m in later:
        assert not any(word in said(m) for word in secret), p.drafter.transcript()
    async with h.office.uow() as uow:
        texts = (await uow.session.scalars(select(OutboxMessage.text).where(OutboxMessage.letter_id == lid))).all()
    assert len(texts) >= 8
    assert not [t for t in texts if any(word in t for word in secret)]


# --- 6. the commands ----------------------------------------------------------------------------------------------


async def test_antrian_status_cari_bantuan_and_batal(harness: Harness) -> None:
    h = harness
    p = await people(h, 1600)
    outsider = await member(h, OTHER_DRAFTER, 1606)
    other_kasi = await member(h, OTHER_KASI, 1607)
    first = await submit(h, p.drafter, "Undangan Rapat Koordinasi")
    h.clock.advance(minutes=30)
    second = await submit(h, p.drafter, "Sosialisasi Perizinan Berusaha", version=2)
    h.clock.advance(minutes=5)
    await p.kasi.wait_for(lambda m: m.document is not None and "Sosialisasi" in said(m))

    header = await command(p.kasi, "/antrian")
    await eventually(lambda: len([m for m in p.kasi.messages[-3:] if "\nTahap " in said(m)]) == 2)
    oldest, newest = [m for m in p.kasi.messages if m.message_id > header.message_id and "\nTahap " in said(m)]
    assert "Surat yang menunggu Anda (2), yang terlama dulu" in said(header)
    assert "Undangan Rapat Koordinasi" in said(oldest) and "menunggu 35 menit" in said(oldest)
    assert "Sosialisasi Perizinan Berusaha" in said(newest) and "menunggu 5 menit" in said(newest)
    assert with_button("Setujui")(oldest) and data_of(oldest, "Setujui") == f"setujui|{first}|verifikasi_1"
    empty = await command(p.kabid, "/antrian")
    assert "Tidak ada surat yang menunggu Anda" in said(empty)

    status = await command(p.drafter, "/status")
    lines = said(status).splitlines()
    assert lines[0] == "Surat Anda yang sedang berjalan:" and len(lines) == 3
    assert "Sosialisasi" in lines[1] and "Undangan" in lines[2]  # newest first
    for line in lines[1:]:
        assert "tahap Verifikasi 1, dipegang Lina Herlina (Kepala Seksi Perizinan Usaha)" in line

    # The first letter goes on to get its number.
    p.kasi.press(oldest, "Setujui")
    await p.kasi.wait_for_text("Paraf Anda tercatat", after=newest)
    await approve(p.kabid)
    await give_number(p.clerk)
    nomor = (await letter(h, first)).nomor
    assert nomor == "500.16/1/DPMPTSP/2026"
    status = await command(p.drafter, "/status")
    assert "tahap Tanda tangan, dipegang Dr. H. Asep Suryana (Kepala Dinas)" in said(status)

    found = await command(p.drafter, "/cari 500.16/1")
    assert "Hasil pencarian" in said(found) and f"Nomor {nomor}" in said(found) and "Sosialisasi" not in said(found)
    found = await command(p.drafter, "/cari sosialisasi")
    assert "(1)" in said(found) and "Sosialisasi Perizinan Berusaha" in said(found) and "Undangan" not in said(found)
    found = await command(p.kepala, "/cari undangan")  # Kepala Dinas sees every letter that is not secret
    assert f"Nomor {nomor}" in said(found)
    for stranger in (outsider, other_kasi):  # neither drafted, held nor acted on them
        for query in ("/cari undangan", f"/cari {nomor}", "/cari sosialisasi"):
            nothing = await command(stranger, query)
            assert "Tidak ada surat yang cocok" in said(nothing), query
            assert "Undangan Rapat" not in said(nothing) and "Sosialisasi Perizinan" not in said(nothing)

    help_ = await command(p.drafter, "/bantuan")
    for name in ("/antrian", "/status", "/cari", "/verifikasi", "/batal"):
        assert name in said(help_)
    assert "Konseptor" in said(help_)
    help_ = await command(p.kasi, "/bantuan")
    assert "Verifikator" in said(help_) and "Konseptor" not in said(help_)

    # /batal: the Kasi starts a revision of the second letter, then thinks better of it.
    task = next(m for m in p.kasi.messages if m.document is not None and "Sosialisasi" in said(m))
    p.kasi.press(task, "Revisi")
    asked = await p.kasi.wait_for_text("Tuliskan catatan revisi", after=task)
    async with h.office.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(PendingPrompt)) == 1
    cancelled = await command(p.kasi, "/batal")
    assert said(cancelled) == "Dibatalkan."
    async with h.office.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(PendingPrompt)) == 0
    plain = await command(p.kasi, "Mohon diperbaiki", PLAIN)  # no longer taken as the note
    assert "Kirim PDF konsep surat" in said(plain) and asked.message_id < plain.message_id
    assert (await letter(h, second)).state == "verifikasi_1"
    assert "revisi" not in await actions(h, second)
    nothing = await command(p.kasi, "/batal")
    assert said(nothing) == "Tidak ada yang sedang ditunggu bot."


# --- 7. /verifikasi -----------------------------------------------------------------------------------------------


async def test_verifikasi_tells_a_signed_letter_from_an_unrelated_pdf(harness: Harness) -> None:
    h = harness
    p = await people(h, 1700)
    _, task = await to_signature(h, p, "Undangan Rapat Koordinasi")
    signed = await sign(p.kepala, task)
    assert signed.document is not None
    async with h.office.uow() as uow:
        letters_before = await uow.session.scalar(select(func.count()).select_from(Letter))

    asked = await command(p.clerk, "/verifikasi")
    assert "Kirim PDF bertanda tangan" in said(asked)
    good = await answer_to_file(p.clerk, signed.document[1], "surat-diterima.pdf", VERDICT)
    assert said(good).startswith("SAH:"), said(good)
    assert "Dr. H. Asep Suryana" in said(good) and "Nomor surat: 500.16/1/DPMPTSP/2026" in said(good)

    asked = await command(p.clerk, "/verifikasi")
    bad = await answer_to_file(p.clerk, example_letter("Undangan Rapat Koordinasi", "Camat"), "palsu.pdf", VERDICT)
    assert said(bad).startswith("TIDAK SAH"), said(bad)
    assert "tidak memiliki tanda tangan elektronik" in said(bad)

    # A drafter's /verifikasi: the PDF is checked, not taken as a new concept.
    asked = await command(p.drafter, "/verifikasi")
    changed = await answer_to_file(p.drafter, signed.document[1] + b"\n% diubah\n", "diubah.pdf", VERDICT)
    assert said(changed).startswith("TIDAK SAH"), said(changed)
    async with h.office.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Letter)) == letters_before
        assert await uow.session.scalar(select(func.count()).select_from(PendingPrompt)) == 0


# --- 8. the outbox pacing -----------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_the_outbox_sends_one_message_a_second_to_a_chat(paced: Harness) -> None:
    h = paced
    kasi = await member(h, KASI, 1802)
    drafters = [
        await member(h, DRAFTER, 1801),
        await member(h, "Analis Perizinan Ahli Pertama", 1803),
        await member(h, "Pengolah Data Perizinan", 1804),
    ]
    joined = len(kasi.messages)
    summaries = []
    for n, drafter in enumerate(drafters, 1):
        drafter.send_document(
            example_letter(f"Surat Uji {n}", "Camat", version=n), f"uji-{n}.pdf", caption=caption(f"Surat Uji {n}")
        )
    for drafter in drafters:
        summaries.append(await drafter.wait_for(with_button("Kirim ke verifikator")))
    for drafter, summary in zip(drafters, summaries, strict=True):  # three submissions at once
        drafter.press(summary, "Kirim ke verifikator")
    confirmations = [await d.wait_for_text("diajukan", after=s) for d, s in zip(drafters, summaries, strict=True)]

    await messages_after(kasi, kasi.messages[joined - 1], 3)
    tasks = kasi.messages[joined:]
    assert len(tasks) == 3 and all(m.document is not None and with_button("Setujui")(m) for m in tasks)
    times = h.api.sent_per_chat_times(kasi.user_id)[joined:]
    gaps = [b - a for a, b in pairwise(times)]
    assert all(gap >= 0.95 for gap in gaps), gaps
    assert times[-1] - times[0] < 4.0, gaps  # paced, not stalled
    # The direct replies to the drafters were not held back by the Kasi's pacing.
    replies = [m.sent_at for m in confirmations]
    assert max(replies) - min(replies) < 0.95
    await settled(h)
    async with h.office.uow() as uow:
        rows = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "tugas"))).all()
    assert sorted((r.status, r.attempts) for r in rows) == [("sent", 1)] * 3


@pytest.mark.slow
async def test_a_429_from_telegram_delays_the_notification_once(paced: Harness) -> None:
    h = paced
    base, started = h.clock.now, time.monotonic()
    h.office.clock = lambda: base + timedelta(seconds=time.monotonic() - started)  # retry_after is real time
    drafter = await member(h, DRAFTER, 1901)
    kasi = await member(h, KASI, 1902)
    joined = len(kasi.messages)
    drafter.send_document(example_letter("Surat Uji", "Camat"), "uji.pdf", caption=caption("Surat Uji"))
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"))

    h.api.fail_next("sendDocument", status=429, retry_after=1)
    drafter.press(summary, "Kirim ke verifikator")
    submitted = await drafter.wait_for_text("diajukan", after=summary)
    task = await kasi.wait_for(with_button("Setujui"))
    delay = task.sent_at - submitted.sent_at
    assert 0.95 <= delay < 3.0, delay

    await settled(h)  # nothing left to send: no second copy is on its way
    assert kasi.messages[joined:] == [task]  # exactly once
    calls = [p for name, p in h.api.calls if name == "sendDocument" and p.get("chat_id") == kasi.user_id]
    assert len(calls) == 2  # the refused one and the one that went through
    await settled(h)
    async with h.office.uow() as uow:
        row = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "tugas"))
    assert row is not None and row.status == "sent" and row.attempts == 2
    assert row.external_id == str(task.message_id)
    assert row.last_error is not None and "retry" in row.last_error.lower()


@pytest.mark.slow
async def test_stopping_the_bot_lets_the_outbox_finish_its_round(paced: Harness) -> None:
    h = paced
    drafter = await member(h, DRAFTER, 2001)
    kasi = await member(h, KASI, 2002)
    joined = kasi.messages[-1]
    await submit(h, drafter, "Surat Uji 1")
    await kasi.wait_for(with_button("Setujui"), after=joined)
    await submit(h, drafter, "Surat Uji 2", version=2)  # the Kasi's second task waits ~1 s for its turn

    async def second_row() -> OutboxMessage:
        async with h.office.uow() as uow:
            rows = (
                await uow.session.scalars(
                    select(OutboxMessage).where(OutboxMessage.kind == "tugas").order_by(OutboxMessage.id)
                )
            ).all()
        assert len(rows) == 2
        return rows[1]

    for _ in range(100):  # the sender has claimed it and waits on the per-chat pacing
        if (await second_row()).status == "sending":
            break
        await asyncio.sleep(0.02)
    started = time.monotonic()
    await h.bot.stop()
    took = time.monotonic() - started

    row = await second_row()
    # Either the round finishes before the channel closes (the task arrives), or the row is left for the next
    # process untouched; never a failed attempt against a connection the bot closed itself.
    assert (row.status, row.last_error) == ("sent", None) or (row.status, row.attempts) == ("pending", 0), (
        row.status,
        row.attempts,
        row.last_error,
    )
    assert took < 3.0
