"""`suratbot demo`: one letter through the whole SOP on this machine, with a revision round, told as it happens."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from suratbot.bot.app import TelegramSettings, start_bot
from suratbot.bot.fakebotapi import FakeBotApi, SentMessage
from suratbot.bot.outbox import Limits
from suratbot.data.concept import example_letter
from suratbot.services import letters
from suratbot.services.keystore import make_demo_keys
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.services.verification import describe, verify_letter
from suratbot.storage.db import upgrade
from suratbot.storage.models import AuditEvent, FileVersion, IssuedNumber, Letter, Staff
from suratbot.workflow.sop import Sop

DEMO_PERIHAL = "Undangan Rapat Koordinasi Percepatan Perizinan Berusaha"
DEMO_CAPTION = (
    f"Perihal: {DEMO_PERIHAL}; Tujuan: Camat se-Kabupaten Sumedang; Tembusan: Bupati Sumedang; Sifat: Biasa; "
    "Urgensi: Segera; Klasifikasi: 500.16"
)


@dataclass
class DemoClock:
    """Simulated time: the demo moves it forward by the minutes each person takes."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def wait(self, minutes: float) -> None:
        self.now += timedelta(minutes=minutes)


@dataclass
class Transcript:
    out: TextIO
    seen_outbox: set[int] = field(default_factory=set)

    def say(self, text: str = "") -> None:
        print(text, file=self.out)


def _start_moment(sop: Sop, real_now: datetime) -> datetime:
    """The next working morning at 08:00 office time (so the demo's deadlines read like a real day)."""
    tz = sop.calendar.timezone
    day = real_now.astimezone(tz).date() + timedelta(days=1)
    while True:
        morning = datetime(day.year, day.month, day.day, 8, 0, tzinfo=tz)
        if sop.calendar.is_working_time(morning):
            return morning
        day += timedelta(days=1)


DEMO_MARKERS = ("suratbot.db", "jejak-audit.csv")
DEMO_PASSPHRASE = "demo-tte-sumedang"  # the demo's own throwaway keys: printed on purpose


class DemoFolderError(Exception):
    """The --out folder holds something other than an earlier demo's output; it is left alone."""


def prepare_out_dir(out_dir: Path) -> None:
    """Make `out_dir` empty: a missing or empty folder, or an earlier demo's output; never anything else."""
    if out_dir.exists():
        if not out_dir.is_dir():
            raise DemoFolderError(f"{out_dir} bukan folder.")
        if any(out_dir.iterdir()):
            if not all((out_dir / marker).exists() for marker in DEMO_MARKERS):
                raise DemoFolderError(
                    f"Folder {out_dir} berisi berkas lain dan bukan hasil demo sebelumnya; pilih folder lain dengan --out."
                )
            shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def demo_office(
    sop: Sop, out_dir: Path, out: TextIO, *, real_now: datetime | None = None
) -> AsyncIterator[tuple[Office, DemoClock, Transcript]]:
    """The demo's office in `out_dir` (emptied first), whatever the channel: schema, example roster and demo keys,
    on a simulated clock starting the next working morning; closed on the way out."""
    prepare_out_dir(out_dir)
    clock = DemoClock(_start_moment(sop, real_now or datetime.now(UTC)))
    office = Office.open(sop, f"sqlite+aiosqlite:///{out_dir / 'suratbot.db'}", out_dir / "data", clock=clock)
    t = Transcript(out)
    try:
        await upgrade(office.engine)
        roster = resources.files("suratbot.data").joinpath("roster_contoh.csv").read_text("utf-8")
        report = await import_roster(office, roster)
        t.say(f"== {sop.office} — SOP {sop.code} {sop.name}")
        t.say(f"Daftar pegawai contoh: {report.summary()}")
        keys = await make_demo_keys(office, passphrase=DEMO_PASSPHRASE, replace=True)
        t.say(f"Kunci TTE demo untuk Kepala Dinas: {keys.folder} (kata sandi demo: {DEMO_PASSPHRASE})")
        yield office, clock, t
    finally:
        await office.close()


async def run_demo(sop: Sop, out_dir: Path, out: TextIO, *, real_now: datetime | None = None) -> Path:
    """Run the demo into `out_dir` (replaced if it exists); returns the path of the audit log CSV.

    The whole SOP runs through the real Telegram stack: python-telegram-bot's Application and the outbox sender
    talk HTTP to a fake Bot API server in this process, on 127.0.0.1, standing in for Telegram and for the
    people's phones. No account and no network are needed."""
    async with demo_office(sop, out_dir, out, real_now=real_now) as (office, clock, t):
        api = FakeBotApi()
        bot = None
        try:
            await api.start()
            settings = TelegramSettings(api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot",
                                        poll_timeout=1)  # fmt: skip
            bot = await start_bot(office, telegram=settings, limits=Limits(per_second=1000, per_chat_interval=0),
                                  outbox_poll=0.1)  # fmt: skip
            t.say(f"Bot Telegram berjalan (python-telegram-bot) melawan server Bot API tiruan di {api.url}.")
            people = await people_by_jabatan(office)
            return await _story(office, clock, t, people, api, out_dir)
        finally:
            if bot is not None:
                await bot.stop()
            await api.stop()


async def people_by_jabatan(office: Office) -> dict[str, Staff]:
    async with office.uow() as uow:
        staff = (await uow.session.scalars(select(Staff))).all()
    return {s.jabatan: s for s in staff}


class _Chat:
    """One person's phone in the demo: a fake Telegram user bound to a roster member."""

    def __init__(self, api: FakeBotApi, staff: Staff, user_id: int) -> None:
        self.staff = staff
        self.user = api.user(user_id, staff.nama)

    async def join(self) -> None:
        self.user.send_text("/start")
        await self.user.wait_for(lambda m: m.reply_keyboard is not None)
        self.user.share_contact(self.staff.telepon)
        await self.user.wait_for_text("Akun ini sekarang terhubung")

    async def button(self, label: str, *, after: SentMessage | None = None) -> SentMessage:
        return await self.user.wait_for(
            lambda m: any(label in text for row in m.buttons for text, _ in row), after=after
        )


async def _story(
    office: Office, clock: DemoClock, t: Transcript, p: dict[str, Staff], api: FakeBotApi, out_dir: Path
) -> Path:
    drafter = _Chat(api, p["Analis Perizinan"], 7001)
    kasi = _Chat(api, p["Kepala Seksi Perizinan Usaha"], 7002)
    kabid = _Chat(api, p["Kepala Bidang Pelayanan Perizinan"], 7003)
    clerk = _Chat(api, p["Pengelola Surat"], 7004)
    kepala = _Chat(api, p["Kepala Dinas"], 7005)
    outsider = _Chat(api, p["Penata Promosi Investasi"], 7006)
    everyone = [drafter, kasi, kabid, clerk, kepala, outsider]
    for chat in everyone:
        await chat.join()
    t.say(f"{len(everyone)} pegawai bergabung dengan membagikan nomor teleponnya sendiri.")

    def step(chat: _Chat, what: str, minutes: float) -> None:
        say_step(office, clock, t, chat.staff, what, minutes)

    perihal, caption = DEMO_PERIHAL, DEMO_CAPTION
    t.say()
    step(drafter, "mengirim PDF konsep dengan data surat di keterangannya", 0)
    drafter.user.send_document(example_letter(perihal, "Camat se-Kabupaten Sumedang"), "konsep-undangan.pdf",
                               caption=caption)  # fmt: skip
    summary = await drafter.button("Kirim ke verifikator")
    drafter.user.press(summary, "Kirim ke verifikator")
    await drafter.user.wait_for_text("diajukan")

    step(kasi, "menekan Setujui", 12)
    task = await kasi.button("Setujui")
    old_button = _data_of(task, "Setujui")  # the data the old message carried, pressed again below
    kasi.user.press(task, "Setujui")
    await kasi.user.wait_for_text("Paraf Anda tercatat")
    step(kasi, "menekan Setujui lagi pada pesan lama (ditolak)", 1)
    kasi.user.press_data(task, old_button)
    await kasi.user.wait_for(lambda m: "tidak berlaku" in (m.text or ""), after=task)

    step(kabid, "menekan Revisi dan menulis catatan", 20)
    review = await kabid.button("Revisi")
    kabid.user.press(review, "Revisi")
    await kabid.user.wait_for_text("Tuliskan catatan revisi")
    kabid.user.send_text("Tambahkan jam dan tempat rapat pada paragraf kedua.")
    await kabid.user.wait_for_text("dikembalikan")

    step(drafter, "mengirim berkas Word yang rusak (ditolak, dengan alasannya)", 15)
    back = await drafter.button("Unggah revisi")
    drafter.user.press(back, "Unggah revisi")
    await drafter.user.wait_for_text("Kirim berkas revisinya")
    drafter.user.send_document(b"PK\x03\x04 bukan pdf", "konsep.docx",
                               mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")  # fmt: skip
    await drafter.user.wait_for_text("Dokumen Word ini rusak")
    step(drafter, "mengirim PDF revisinya", 5)
    drafter.user.send_document(example_letter(perihal, "Camat se-Kabupaten Sumedang", version=2),
                               "konsep-undangan-rev1.pdf", caption="Jam dan tempat sudah ditambahkan.")  # fmt: skip
    await drafter.user.wait_for_text("Revisi terkirim")

    step(outsider, "menekan tombol Setujui milik surat unit lain (ditolak)", 2)
    again = await kabid.button("Setujui", after=review)
    outsider.user.press_data(outsider.user.messages[-1], _data_of(again, "Setujui"))
    await outsider.user.wait_for_text("tidak berwenang")

    step(kabid, "menekan Setujui", 8)
    kabid.user.press(again, "Setujui")
    await kabid.user.wait_for_text("Paraf Anda tercatat")

    step(clerk, "menekan Beri Nomor, memeriksa nomor usulan, lalu mengonfirmasi", 6)
    number = await clerk.button("Beri Nomor")
    clerk.user.press(number, "Beri Nomor")
    proposal = await clerk.user.wait_for(lambda m: "Nomor berikutnya" in (m.text or ""))
    clerk.user.press(proposal, "Beri Nomor (500.16)")
    await clerk.user.wait_for_text("Surat bernomor diteruskan", after=proposal)

    step(kepala, "menekan Tandatangani dan salah mengetik kata sandi", 25)
    sign = await kepala.button("Tandatangani")
    kepala.user.press(sign, "Tandatangani")
    await kepala.user.wait_for_text("Ketik kata sandi")
    kepala.user.send_text("salah-ketik")
    await kepala.user.wait_for_text("Sisa percobaan")
    step(kepala, "mengetik kata sandi yang benar (pesannya langsung dihapus bot; PAdES dengan pyHanko)", 1)
    kepala.user.send_text(DEMO_PASSPHRASE)
    await kepala.user.wait_for(lambda m: m.document is not None and "ditandatangani" in (m.caption or ""))

    step(clerk, "menekan Kirim lalu memilih SRIKANDI", 4)
    send = await clerk.button("Kirim", after=number)
    clerk.user.press(send, "Kirim")
    routes = await clerk.button("SRIKANDI")
    clerk.user.press(routes, "SRIKANDI")
    await clerk.user.wait_for_text("catatan pengiriman")
    clerk.user.send_text("Agenda SRIKANDI 2026-0142")
    await clerk.user.wait_for_text("tercatat terkirim")
    await drafter.user.wait_for_text("telah dikirim")

    say_chats(t, [(chat.staff, chat.user.transcript()) for chat in everyone])
    deleted = len(api.deleted_user_messages)
    return await final_report(office, t, out_dir, remarks=[f"Pesan berisi kata sandi yang dihapus bot: {deleted}"])


def say_step(office: Office, clock: DemoClock, t: Transcript, staff: Staff, what: str, minutes: float) -> None:
    """One step of the story: `minutes` pass, then who does what, at what office time."""
    clock.wait(minutes)
    t.say(f"[{local_time(office.sop, clock.now)}] {staff.nama} ({staff.jabatan}): {what}")


def say_chats(t: Transcript, chats: Sequence[tuple[Staff, str]]) -> None:
    """Each person's chat with the bot, as on their phone."""
    t.say()
    t.say("== Obrolan setiap orang dengan bot (seperti di layar ponselnya)")
    for staff, text in chats:
        t.say()
        t.say(f"--- {staff.nama} ({staff.jabatan})")
        t.say(text)


async def final_report(office: Office, t: Transcript, out_dir: Path, *, remarks: Sequence[str] = ()) -> Path:
    """Where the letter ended, the channel's own `remarks`, the signed PDF verified, the audit log and the
    register; writes the signed PDF, the archive copy and the audit CSV into `out_dir` and returns the CSV's path."""
    async with office.uow() as uow:
        letter = await uow.session.scalar(select(Letter))
    assert letter is not None
    t.say()
    t.say(f"Surat {letter.id}: tahap {office.sop.states[letter.state].name}; nomor {letter.nomor}")
    for line in remarks:
        t.say(line)
    await _show_verification(office, t, letter.id, out_dir)
    return await _write_records(office, t, letter.id, out_dir)


def _data_of(message: SentMessage, label: str) -> str:
    for row in message.buttons:
        for text, data in row:
            if label in text:
                return data
    raise KeyError(label)


async def _show_verification(office: Office, t: Transcript, letter_id: str, out_dir: Path) -> None:
    letter = await letters.get_letter(office, letter_id)
    signed = office.files.get(letter.current_version)
    path = out_dir / "surat-ditandatangani.pdf"
    path.write_bytes(signed)
    result = await verify_letter(office, signed)
    t.say()
    t.say(f"Surat bertanda tangan: {path}")
    t.say(
        "Hasil `suratbot verify` (waktu tanda tangan di dalam berkas memakai jam nyata mesin ini, bukan jam simulasi demo):"
    )
    for line in describe(office, result):
        t.say(f"  {line}")
    async with office.uow() as uow:
        archive = await uow.session.scalar(
            select(FileVersion.sha256).where(FileVersion.letter_id == letter_id, FileVersion.kind == "arsip")
        )
    if archive is not None:
        copy = out_dir / "surat-arsip-paraf.pdf"
        copy.write_bytes(office.files.get(archive))
        t.say(f"Salinan arsip kantor dengan blok paraf para verifikator (ikut ditandatangani, tidak dikirim): {copy}")


async def _write_records(office: Office, t: Transcript, letter_id: str, out_dir: Path) -> Path:
    async with office.uow() as uow:
        events = (
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.letter_id == letter_id).order_by(AuditEvent.id)
            )
        ).all()
        names = {s.id: s.nama for s in (await uow.session.scalars(select(Staff))).all()}
        numbers = (await uow.session.scalars(select(IssuedNumber))).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["waktu", "pelaku", "aksi", "dari", "ke", "versi_sha256", "catatan"])
    t.say()
    t.say("Jejak audit:")
    for e in events:
        when = local_time(office.sop, e.at)
        who = names.get(e.actor_id or 0, "-")
        writer.writerow(
            [
                e.at.isoformat(),
                who,
                e.action,
                e.from_state or "",
                e.to_state or "",
                e.version_sha256 or "",
                e.note or "",
            ]
        )
        note = f" — {e.note}" if e.note else ""
        t.say(f"  {when}  {who:<24} {e.action:<13} {e.from_state or '-'} → {e.to_state or '-'}{note}")
    audit_path = out_dir / "jejak-audit.csv"
    audit_path.write_text(buffer.getvalue(), encoding="utf-8")
    t.say()
    t.say("Buku nomor: " + "; ".join(f"{n.nomor} ({n.status})" for n in numbers))
    t.say(f"Basis data, berkas dan jejak audit ada di: {out_dir}")
    return audit_path
