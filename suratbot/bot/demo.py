"""`suratbot demo`: one letter through the whole SOP on this machine, with a revision round, told as it happens."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from suratbot.data.concept import example_letter
from suratbot.services import letters
from suratbot.services.keystore import make_demo_keys
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.services.signature import sign_letter
from suratbot.services.uploads import Upload
from suratbot.services.verification import describe, verify_letter
from suratbot.storage.db import upgrade
from suratbot.storage.models import AuditEvent, FileVersion, IssuedNumber, Letter, OutboxMessage, Staff
from suratbot.workflow.letter import LetterMeta
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop


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


async def run_demo(sop: Sop, out_dir: Path, out: TextIO, *, real_now: datetime | None = None) -> Path:
    """Run the demo into `out_dir` (replaced if it exists); returns the path of the audit log CSV."""
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
        people = await _people(office)
        return await _story(office, clock, t, people, out_dir)
    finally:
        await office.close()


async def _people(office: Office) -> dict[str, Staff]:
    async with office.uow() as uow:
        staff = (await uow.session.scalars(select(Staff))).all()
    return {s.jabatan: s for s in staff}


async def _story(office: Office, clock: DemoClock, t: Transcript, p: dict[str, Staff], out_dir: Path) -> Path:
    sop = office.sop
    drafter = p["Analis Perizinan"]
    kasi = p["Kepala Seksi Perizinan Usaha"]
    kabid = p["Kepala Bidang Pelayanan Perizinan"]
    clerk = p["Pengelola Surat"]
    kepala = p["Kepala Dinas"]
    outsider = p["Penata Promosi Investasi"]

    async def step(who: Staff, what: str, minutes: float, action: Callable[[], object]) -> Letter | None:
        clock.wait(minutes)
        t.say()
        t.say(f"[{local_time(sop, clock.now)}] {who.nama} ({who.jabatan}): {what}")
        try:
            letter = await action()  # type: ignore[misc]
        except Refusal as refusal:
            t.say(f"   ✗ ditolak: {refusal.message}")
            return None
        await _show_state(office, t, letter)
        return letter

    meta = LetterMeta(
        perihal="Undangan Rapat Koordinasi Percepatan Perizinan Berusaha",
        tujuan="Camat se-Kabupaten Sumedang",
        sifat="Biasa",
        urgensi="Segera",
        klasifikasi="500.16",
        tembusan="Bupati Sumedang",
    )
    concept = Upload(example_letter(meta.perihal, meta.tujuan), "konsep-undangan.pdf")
    letter = await step(
        drafter, "mengunggah konsep surat", 0, lambda: letters.submit(office, drafter.id, concept, meta)
    )
    assert letter is not None
    lid = letter.id
    await step(
        kasi, "menekan Setujui", 12, lambda: letters.approve(office, lid, kasi.id, expected_state="verifikasi_1")
    )
    await step(
        kasi,
        "menekan Setujui lagi di pesan lama",
        1,
        lambda: letters.approve(office, lid, kasi.id, expected_state="verifikasi_1"),
    )
    await step(
        kabid,
        "menekan Revisi",
        20,
        lambda: letters.request_revision(
            office, lid, kabid.id, "Tambahkan jam dan tempat rapat pada paragraf kedua.", expected_state="verifikasi_2"
        ),
    )
    await step(
        drafter,
        "mengunggah berkas yang bukan PDF",
        15,
        lambda: letters.resubmit(
            office, lid, drafter.id, Upload(b"PK\x03\x04 bukan pdf", "konsep.docx", "application/zip")
        ),
    )
    revised = Upload(example_letter(meta.perihal, meta.tujuan, version=2), "konsep-undangan-rev1.pdf")
    await step(drafter, "mengunggah revisi", 5, lambda: letters.resubmit(office, lid, drafter.id, revised))
    await step(outsider, "mencoba menyetujui surat unit lain", 2, lambda: letters.approve(office, lid, outsider.id))
    await step(
        kabid, "menekan Setujui", 8, lambda: letters.approve(office, lid, kabid.id, expected_state="verifikasi_2")
    )
    t.say(f"   (nomor yang diusulkan ke Pengelola Surat: {await letters.preview_number(office, '500.16')})")
    await step(
        clerk, "menekan Beri Nomor", 6, lambda: letters.assign_number(office, lid, clerk.id, expected_state="penomoran")
    )
    keys = await make_demo_keys(office, passphrase=DEMO_PASSPHRASE, replace=True)
    t.say()
    t.say(f"   (kunci TTE demo untuk Kepala Dinas dibuat di {keys.folder}; kata sandinya: {DEMO_PASSPHRASE})")
    await step(
        kepala,
        "menekan Tandatangani, tetapi salah mengetik kata sandi",
        25,
        lambda: sign_letter(office, lid, kepala.id, "salah-ketik", expected_state="tanda_tangan"),
    )
    await step(
        kepala,
        "menekan Tandatangani dan mengetik kata sandi yang benar (PAdES, pyHanko)",
        1,
        lambda: sign_letter(office, lid, kepala.id, DEMO_PASSPHRASE, expected_state="tanda_tangan"),
    )
    await step(
        clerk,
        "menekan Kirim (lewat SRIKANDI)",
        4,
        lambda: letters.dispatch(office, lid, clerk.id, route="srikandi", note="Terkirim via SRIKANDI"),
    )
    await _show_outbox(office, t)
    await _show_verification(office, t, lid, out_dir)
    return await _write_records(office, t, lid, out_dir)


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


async def _show_state(office: Office, t: Transcript, letter: Letter) -> None:
    sop = office.sop
    async with office.uow() as uow:
        holder = await uow.session.get(Staff, letter.holder_id) if letter.holder_id else None
        new = (
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.letter_id == letter.id).order_by(OutboxMessage.id)
            )
        ).all()
        names = {s.id: s.nama for s in (await uow.session.scalars(select(Staff))).all()}
    line = f"   → tahap: {sop.states[letter.state].name}"
    if holder:
        line += f"; dipegang {holder.nama}"
    if letter.step_due_at:
        line += f"; batas {local_time(sop, letter.step_due_at)}"
    if letter.nomor:
        line += f"; nomor {letter.nomor}"
    t.say(line)
    for message in new:
        if message.id in t.seen_outbox:
            continue
        t.seen_outbox.add(message.id)
        buttons = "".join(f" [{_label(office, a)}]" for a in message.actions)
        first, *rest = message.text.splitlines()
        t.say(f"   ✉ ke {names[message.recipient_id]}: {first}{buttons}")
        for extra in rest:
            t.say(f"       {extra}")


def _label(office: Office, action: str) -> str:
    return next((tr.label for tr in office.sop.transitions if tr.action == action), action)


async def _show_outbox(office: Office, t: Transcript) -> None:
    async with office.uow() as uow:
        pending = len((await uow.session.scalars(select(OutboxMessage.id))).all())
    t.say()
    t.say(f"{pending} pemberitahuan menunggu di outbox (kanal Telegram/WhatsApp yang akan mengirimnya).")


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
