"""The notifications a transition causes, written in Indonesian for whoever must be told."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.storage.models import Letter, OutboxMessage, Staff, StaffRole
from suratbot.workflow.letter import SECRET_SIFAT
from suratbot.workflow.sop import Sop

_MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip

DISPATCH_ROUTES = {
    "email": "surel (e-mail)",
    "chat": "pesan chat",
    "kurir": "kurir",
    "srikandi": "SRIKANDI",
    "lainnya": "jalur lain",
}


SIGNED = "hasil_ttd"  # the signer's own copy of what they signed on the signing page
TASK_KINDS = frozenset({"tugas", "revisi"})  # notices that hand someone a step to take, with its buttons


@dataclass(frozen=True)
class Notice:
    recipient_id: int
    kind: str
    text: str
    actions: list[str] = field(default_factory=list)
    attachment_sha256: str | None = None
    expected_state: str | None = None


def outbox_row(notice: Notice, letter_id: str | None, now: datetime) -> OutboxMessage:
    """The outbox row that carries `notice` (pending, due now), to be added in the caller's transaction."""
    return OutboxMessage(**outbox_values(notice, letter_id, now))


def outbox_values(notice: Notice, letter_id: str | None, now: datetime) -> dict[str, Any]:
    """The same row as column values, for a bulk INSERT of many notices at once."""
    return {
        "recipient_id": notice.recipient_id,
        "letter_id": letter_id,
        "kind": notice.kind,
        "text": notice.text,
        "actions": list(notice.actions),
        "attachment_sha256": notice.attachment_sha256,
        "expected_state": notice.expected_state,
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def local_time(sop: Sop, moment: datetime) -> str:
    """`Senin, 30 November 2026 08.20 WIB`-style, in the office's time zone."""
    days = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
    local = moment.astimezone(sop.calendar.timezone)
    zone = local.tzname() or ""
    return f"{days[local.weekday()]}, {local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H.%M} {zone}".strip()


def indonesian_date(day: date) -> str:
    """`26 November 2026` (the long date of Indonesian letters)."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def letter_title(letter: Letter) -> str:
    """How a letter is named in a notification: no subject for Rahasia and Sangat Rahasia letters."""
    label = f"Nomor {letter.nomor}" if letter.nomor else f"ID {letter.id[:8]}"
    if letter.sifat in SECRET_SIFAT:
        return f"surat {letter.sifat.upper()} ({label})"
    return f"surat \u201c{letter.perihal}\u201d ({label})"


def letter_heading(letter: Letter) -> str:
    """`letter_title` to start a sentence with (first letter capitalised, nothing else touched)."""
    title = letter_title(letter)
    return title[:1].upper() + title[1:]


SECRET_NOTE = "(surat rahasia: buka surat ini di bot untuk membaca catatannya)"


def shown_note(letter: Letter, note: str) -> str:
    """A note as a notification may show it: verbatim, except on a Rahasia / Sangat Rahasia letter."""
    return SECRET_NOTE if letter.sifat in SECRET_SIFAT else note


def person(staff: Staff) -> str:
    return f"{staff.nama} ({staff.jabatan})"


def task_notice(sop: Sop, letter: Letter, holder: Staff, *, sender: Staff | None, note: str | None) -> Notice:
    """Tell the new holder what waits for them, with the buttons of the step."""
    state = sop.states[letter.state]
    actions = sop.holder_actions(letter.state)
    lines = [f"\U0001f4e8 {letter_heading(letter)} menunggu Anda: tahap {state.name}."]
    if sender is not None:
        lines.append(f"Dari: {person(sender)}.")
    if letter.sifat not in SECRET_SIFAT:
        lines.append(f"Tujuan: {letter.tujuan}. Sifat: {letter.sifat}. Urgensi: {letter.urgensi}.")
    else:
        lines.append(f"Sifat: {letter.sifat}. Urgensi: {letter.urgensi}.")
    if state.standard_minutes and letter.step_due_at:
        lines.append(
            f"Standar waktu SOP: {state.standard_minutes} menit (batas {local_time(sop, letter.step_due_at)})."
        )
    if note:
        lines.append(f"Catatan: {shown_note(letter, note)}")
    kind = "revisi" if state.holder and state.holder.kind == "drafter" else "tugas"
    return Notice(
        recipient_id=holder.id,
        kind=kind,
        text="\n".join(lines),
        actions=actions,
        attachment_sha256=letter.current_version,
        expected_state=letter.state,
    )


def revision_notice(sop: Sop, letter: Letter, drafter: Staff, *, asker: Staff, note: str) -> Notice:
    """Tell the drafter their letter came back, and why, verbatim."""
    text = (
        f"\u21a9\ufe0f {letter_heading(letter)} dikembalikan untuk revisi oleh {person(asker)}."
        f"\nCatatan: {shown_note(letter, note)}\nUnggah versi revisinya; surat akan kembali ke {asker.nama}."
    )
    if sop.resubmit_to == "start":
        text = text.replace(f"kembali ke {asker.nama}", "kembali ke verifikator pertama")
    return Notice(
        recipient_id=drafter.id,
        kind="revisi",
        text=text,
        actions=["ajukan_ulang"],
        attachment_sha256=letter.current_version,
        expected_state=letter.state,
    )


def progress_notice(
    sop: Sop, letter: Letter, drafter: Staff, *, actor: Staff, verb: str, holder: Staff | None
) -> Notice:
    """Tell the drafter what just happened to their letter and who holds it now."""
    text = f"\u2139\ufe0f {letter_heading(letter)} {verb} oleh {person(actor)}."
    if holder is not None:
        text += f" Sekarang di tahap {sop.states[letter.state].name}, dipegang {person(holder)}."
    return Notice(recipient_id=drafter.id, kind="kabar", text=text)


def plain_notice(recipient: Staff, kind: str, text: str, *, attachment: str | None = None) -> Notice:
    return Notice(recipient_id=recipient.id, kind=kind, text=text, attachment_sha256=attachment)


UNDELIVERED = "gagal_kirim"  # an admin told that a notification could not be delivered


CHANNEL_NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp"}
UNDELIVERED_QUIET = timedelta(hours=24)  # the admins hear of one person's failing chat once a day


async def tell_admins_undelivered(
    session: AsyncSession, row: OutboxMessage, channel: str | None, reason: str, now: datetime
) -> None:
    """A notification failed for good: the active admins (but not its own recipient) hear of it, in the caller's
    transaction, so that someone can tell the person another way; once a day per person (a blocked bot fails
    every notification), and never about such a report itself."""
    if row.kind == UNDELIVERED:
        return
    recipient = await session.get(Staff, row.recipient_id)
    who = f"{recipient.nama} ({recipient.jabatan})" if recipient is not None else "seseorang"
    told = await session.scalar(
        select(OutboxMessage.id)
        .where(
            OutboxMessage.kind == UNDELIVERED,
            OutboxMessage.created_at >= now - UNDELIVERED_QUIET,
            OutboxMessage.text.contains(f"untuk {who} tidak terkirim"),
        )
        .limit(1)
    )
    if told is not None:
        return
    admins = (
        await session.scalars(
            select(Staff)
            .join(StaffRole, StaffRole.staff_id == Staff.id)
            .where(StaffRole.role == "admin", Staff.active.is_(True), Staff.id != row.recipient_id)
            .order_by(Staff.id)
            .distinct()
        )
    ).all()
    first_line = (row.text or "").split("\n", 1)[0][:200]
    text = (
        f"\u26a0\ufe0f Pemberitahuan untuk {who} tidak terkirim lewat {CHANNEL_NAMES.get(channel or '', 'chat')}: "
        f"{reason}.\nIsinya: {first_line}\nMohon sampaikan dengan cara lain. (Pemberitahuan lain yang gagal untuk "
        "orang yang sama hari ini tidak dilaporkan lagi.)"
    )
    for admin in admins:
        session.add(outbox_row(Notice(admin.id, UNDELIVERED, text), row.letter_id, now))
