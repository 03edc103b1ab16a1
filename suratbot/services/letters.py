"""The letter services: submit, approve, revise, resubmit, number, return, sign, dispatch, cancel.

Each service is one transaction: it checks the action against the SOP (workflow.machine), writes the
letter's new state, the audit event and the outbox rows for everyone who must be told, and commits them
together. A refused action raises Refusal (an Indonesian sentence for the chat) and changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, raiseload

from suratbot.services import word as word_files
from suratbot.services.notices import (
    DISPATCH_ROUTES,
    TASK_KINDS,
    Notice,
    indonesian_date,
    letter_heading,
    outbox_row,
    person,
    plain_notice,
    progress_notice,
    revision_notice,
    shown_note,
    task_notice,
)
from suratbot.services.office import Office
from suratbot.services.uploads import Upload, check_upload
from suratbot.signing import stamping
from suratbot.storage.db import insert_or_skip
from suratbot.storage.models import (
    AuditEvent,
    FileVersion,
    IssuedNumber,
    Letter,
    NumberCounter,
    Staff,
    StaffRole,
    UnitVerifier,
    new_letter_id,
)
from suratbot.storage.uow import UnitOfWork
from suratbot.workflow.letter import SECRET_SIFAT, LetterMeta, check_klasifikasi, clean_note
from suratbot.workflow.machine import Actor, LetterFacts, Move, Refusal, decide, first_move, may_take
from suratbot.workflow.sop import HolderSpec, Sop

__all__ = [
    "Refusal",
    "approve",
    "assign_number",
    "cancel",
    "dispatch",
    "get_letter",
    "preview_number",
    "record_signature",
    "request_revision",
    "resubmit",
    "return_letter",
    "submit",
]

log = logging.getLogger(__name__)


# --- lookups ------------------------------------------------------------------------------------------


# People the service only names (holder, drafter) are loaded without their roles: one statement, not two.
# Touching their roles would raise rather than silently read an empty list.
_NAMES_ONLY = (raiseload(Staff.role_rows),)


async def load_actor(session: AsyncSession, staff_id: int) -> Staff:
    """The person acting, with their roles (one statement), or Refusal when they are not active staff."""
    staff = await session.get(Staff, staff_id, options=[joinedload(Staff.role_rows)])
    if staff is None or not staff.active:
        raise Refusal("tidak_dikenal", "Anda tidak terdaftar sebagai pegawai aktif di kantor ini.")
    return staff


async def _lock_letter(session: AsyncSession, letter_id: str) -> Letter:
    letter = (
        await session.execute(select(Letter).where(Letter.id == letter_id).with_for_update())
    ).scalar_one_or_none()
    if letter is None:
        raise Refusal("surat_tidak_ada", "Surat tidak ditemukan. Mungkin tautannya sudah tidak berlaku.")
    return letter


async def resolve_holder(session: AsyncSession, sop: Sop, spec: HolderSpec, letter: Letter) -> Staff:
    """The one person who holds `letter` in a state whose holder is `spec`."""
    if spec.kind == "drafter":
        drafter = await session.get_one(Staff, letter.drafter_id, options=_NAMES_ONLY)
        if not drafter.active:
            raise Refusal(
                "konseptor_nonaktif",
                "Konseptor surat ini sudah tidak aktif, jadi surat tidak bisa dikembalikan kepadanya. "
                "Hubungi admin untuk membatalkan surat ini.",
            )
        return drafter
    if spec.kind == "verifier":
        staff = (
            (
                await session.scalars(
                    select(Staff)
                    .options(*_NAMES_ONLY)
                    .join(UnitVerifier, UnitVerifier.staff_id == Staff.id)
                    .where(UnitVerifier.unit_id == letter.unit_id, UnitVerifier.level == spec.level)
                )
            )
            .unique()
            .one_or_none()
        )
        if staff is None or not staff.active:
            raise Refusal(
                "rantai_tidak_lengkap",
                f"Unit pengirim belum punya Verifikator {spec.level} yang aktif. Hubungi admin untuk memperbarui daftar pegawai.",
            )
        return staff
    assert spec.role is not None
    first_id = (
        select(Staff.id)
        .join(StaffRole, StaffRole.staff_id == Staff.id)
        .where(StaffRole.role == spec.role, Staff.active.is_(True))
        .order_by(Staff.id)
        .limit(1)
        .scalar_subquery()
    )
    staff = (await session.scalars(select(Staff).options(*_NAMES_ONLY).where(Staff.id == first_id))).one_or_none()
    if staff is None:
        role = sop.roles[spec.role].name
        raise Refusal("peran_kosong", f"Belum ada pegawai aktif dengan peran {role}. Hubungi admin.")
    return staff


async def get_letter(office: Office, letter_id: str) -> Letter:
    async with office.reading() as uow:
        letter = await uow.session.get(Letter, letter_id)
        if letter is None:
            raise Refusal("surat_tidak_ada", "Surat tidak ditemukan.")
        return letter


# --- the transition skeleton ---------------------------------------------------------------------------


@dataclass
class _Step:
    """What one service call did, handed to the service's own notices."""

    uow: UnitOfWork
    letter: Letter
    actor: Staff
    move: Move
    holder: Staff | None
    drafter: Staff
    now: datetime


def facts_of(letter: Letter) -> LetterFacts:
    return LetterFacts(
        state=letter.state, holder_id=letter.holder_id, drafter_id=letter.drafter_id, return_state=letter.return_state
    )


async def _transition(
    uow: UnitOfWork,
    office: Office,
    letter: Letter,
    actor: Staff,
    action: str,
    *,
    now: datetime,
    note: str | None = None,
    expected_state: str | None = None,
    version_sha256: str | None = None,
    details: dict[str, Any] | None = None,
) -> _Step:
    """Apply `action` to a locked letter: new state, holder, clock and the audit event (no notices)."""
    sop = office.sop
    move = decide(
        sop,
        facts_of(letter),
        Actor(actor.id, actor.roles),
        action,
        now=now,
        note=note,
        expected_state=expected_state,
    )
    if version_sha256 is not None:
        letter.current_version = version_sha256
    holder = await _apply(
        uow.session, sop, letter, move, actor.id, action, now=now, note=clean_note(note), details=details
    )
    holder = await pass_over(uow.session, sop, letter, holder, reviewed_by=actor.id, actor_id=actor.id, now=now)
    drafter = (
        actor
        if actor.id == letter.drafter_id
        else await uow.session.get_one(Staff, letter.drafter_id, options=_NAMES_ONLY)
    )
    return _Step(uow, letter, actor, move, holder, drafter, now)


async def _apply(
    session: AsyncSession,
    sop: Sop,
    letter: Letter,
    move: Move,
    actor_id: int | None,
    action: str,
    *,
    now: datetime,
    note: str | None,
    details: dict[str, Any] | None,
) -> Staff | None:
    """Write one move onto the letter (state, holder, clock) and its audit event; returns the new holder.

    The holder is the step's own, or whoever stands in for them (Plh / Plt) now; a stand-in's own action is
    recorded as done on behalf of the official."""
    from suratbot.services.stand_ins import acting_for, stand_in_for

    period = await acting_for(session, sop, letter, actor_id, now) if actor_id is not None else None
    holder = await resolve_holder(session, sop, move.holder, letter) if move.holder else None
    if holder is not None:
        holder = await stand_in_for(session, holder, now)
    letter.state = move.to_state
    letter.holder_id = holder.id if holder else None
    letter.return_state = move.return_state
    letter.step_started_at = move.started_at
    letter.step_due_at = move.due_at
    letter.step_escalate_at = move.escalate_at
    letter.updated_at = now
    session.add(
        AuditEvent(
            letter_id=letter.id,
            actor_id=actor_id,
            on_behalf_of_id=period.official_id if period is not None else None,
            action=action,
            from_state=move.from_state,
            to_state=move.to_state,
            version_sha256=letter.current_version,
            note=note,
            details=details,
            at=now,
        )
    )
    return holder


def handover_event(
    letter: Letter, note: str, details: dict[str, Any], now: datetime, *, on_behalf_of: int | None = None
) -> AuditEvent:
    """The audit event of a letter handed to another holder within its step (`alihkan`): roster change, Plh."""
    return AuditEvent(
        letter_id=letter.id,
        action="alihkan",
        on_behalf_of_id=on_behalf_of,
        from_state=letter.state,
        to_state=letter.state,
        version_sha256=letter.current_version,
        note=note,
        details=details,
        at=now,
    )


async def pass_over(
    session: AsyncSession,
    sop: Sop,
    letter: Letter,
    holder: Staff | None,
    *,
    reviewed_by: int | None,
    actor_id: int | None,
    now: datetime,
) -> Staff | None:
    """A review the drafter would do on their own letter, or the same person's second review in a row, is no
    review: that step is passed over (recorded as `lewati`) and the letter goes on. Returns the holder."""
    for _ in range(len(sop.states)):  # each pass moves forward; a custom SOP cannot make it loop for ever
        spec = sop.states[letter.state].holder
        if holder is None or spec is None or spec.kind != "verifier":
            return holder
        if holder.id not in (letter.drafter_id, reviewed_by):
            return holder
        onward = next((t for t in sop.transitions_from(letter.state) if t.kind == "forward" and "holder" in t.by), None)
        if onward is None:
            return holder
        move = decide(sop, facts_of(letter), Actor(holder.id, frozenset()), onward.action, now=now)
        why = "konseptor surat ini" if holder.id == letter.drafter_id else "baru saja memeriksa surat ini"
        holder = await _apply(
            session, sop, letter, move, actor_id, "lewati", now=now,
            note=f"Tahap {sop.states[move.from_state].name} dilewati: pemegangnya ({holder.nama}) adalah {why}.",
            details={"pemegang": holder.id},
        )  # fmt: skip
    return holder


def _queue(uow: UnitOfWork, letter: Letter | None, notices: list[Notice], *, actor: Staff, now: datetime) -> None:
    """Write the outbox rows. Nobody is told the news of their own action (the chat reply does that), but a
    task that lands on the actor (they hold the next step too) is sent like any other."""
    seen: set[tuple[int, str]] = set()
    for n in notices:
        own_news = n.recipient_id == actor.id and n.kind not in TASK_KINDS
        if own_news or (n.recipient_id, n.kind) in seen:
            continue
        seen.add((n.recipient_id, n.kind))
        uow.session.add(outbox_row(n, letter.id if letter else None, now))


def _forward_notices(office: Office, step: _Step, verb: str, note: str | None = None) -> list[Notice]:
    notices: list[Notice] = []
    if step.holder is not None:
        notices.append(task_notice(office.sop, step.letter, step.holder, sender=step.actor, note=note))
    notices.append(
        progress_notice(office.sop, step.letter, step.drafter, actor=step.actor, verb=verb, holder=step.holder)
    )
    return notices


async def _save(office: Office, upload: Upload | None) -> str | None:
    """Check an upload and put its bytes in the store, before the transaction opens: a 20 MB write must not
    hold SQLite's write lock. A refused action may leave unreferenced bytes behind; they are harmless (the
    store is content-addressed) and nothing points at them."""
    if upload is None:
        return None
    check_upload(upload, office.max_file_bytes)
    return await asyncio.to_thread(office.files.put, upload.data)  # keep the event loop free


WORD_KIND = "word"  # a file version that is the Word (DOCX) form of the letter


async def _save_word(office: Office, word: Upload | None) -> str | None:
    if word is None:
        return None
    if not word.data.startswith(b"PK\x03\x04") or len(word.data) > office.max_file_bytes:
        raise Refusal("bukan_word", "Berkas Word ini tidak bisa dipakai.")
    return await asyncio.to_thread(office.files.put, word.data)


def _version_row(
    uow: UnitOfWork, letter_id: str, upload: Upload, digest: str, kind: str, by: Staff | None, now: datetime
) -> FileVersion:
    version = FileVersion(
        letter_id=letter_id,
        sha256=digest,
        kind=kind,
        media_type=upload.media_type,
        size=len(upload.data),
        filename=upload.display_name,
        uploaded_by=by.id if by else None,
        created_at=now,
    )
    uow.session.add(version)
    return version


def _now(office: Office, now: datetime | None) -> datetime:
    return now if now is not None else office.now()


# --- the services --------------------------------------------------------------------------------------


async def submit(
    office: Office,
    drafter_id: int,
    upload: Upload,
    meta: LetterMeta,
    *,
    word: Upload | None = None,
    now: datetime | None = None,
) -> Letter:
    """A drafter's new concept: stored, recorded and sent to the unit's first verifier in one go. `word`: the
    DOCX `upload` (the PDF) was made from, kept as the editable version and numbered in place later."""
    now = _now(office, now)
    meta = meta.validated()
    digest = await _save(office, upload)
    assert digest is not None
    word_digest = await _save_word(office, word)
    async with office.uow() as uow:
        drafter = await load_actor(uow.session, drafter_id)
        if not drafter.roles & office.sop.drafting_roles:
            raise Refusal(
                "bukan_konseptor", "Anda tidak terdaftar sebagai konseptor, jadi tidak bisa mengajukan konsep surat."
            )
        # One submission at a time per drafter (a double tap, a redelivered webhook): lock their row, then look.
        await uow.session.execute(select(Staff.id).where(Staff.id == drafter.id).with_for_update())
        open_states = [key for key, st in office.sop.states.items() if not st.final]
        same = await uow.session.scalar(
            select(Letter.id).where(
                Letter.drafter_id == drafter.id, Letter.current_version == digest, Letter.state.in_(open_states)
            )
        )
        if same is not None:
            raise Refusal(
                "konsep_ganda",
                f"Berkas yang sama persis sudah Anda ajukan (ID {same[:8]}) dan masih diproses; tidak diajukan dua kali.",
            )
        state, _holder, due = first_move(office.sop, now=now)
        letter = Letter(
            id=new_letter_id(),
            perihal=meta.perihal,
            tujuan=meta.tujuan,
            tembusan=meta.tembusan,
            sifat=meta.sifat,
            urgensi=meta.urgensi,
            klasifikasi=meta.klasifikasi,
            unit_id=drafter.unit_id,
            drafter_id=drafter.id,
            state=state,
            holder_id=drafter.id,
            current_version="",
            step_started_at=now,
            step_due_at=due,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(letter)  # written once, at commit, with the state it ends in
        version = _version_row(uow, letter.id, upload, digest, "konsep", drafter, now)
        letter.current_version = version.sha256
        if word is not None and word_digest is not None:
            letter.word_version = _version_row(uow, letter.id, word, word_digest, WORD_KIND, drafter, now).sha256
        uow.session.add(
            AuditEvent(
                letter_id=letter.id,
                actor_id=drafter.id,
                action="buat",
                from_state=None,
                to_state=state,
                version_sha256=version.sha256,
                details={"filename": upload.display_name, "size": len(upload.data)},
                at=now,
            )
        )
        step = await _transition(uow, office, letter, drafter, "ajukan", now=now)
        _queue(uow, letter, _forward_notices(office, step, "diajukan"), actor=drafter, now=now)
        return letter


async def approve(
    office: Office,
    letter_id: str,
    actor_id: int,
    *,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """A verifier's paraf: the letter goes to the next step."""
    now = _now(office, now)
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        paraf = {"paraf": {"nip": actor.nip, "nama": actor.nama, "jabatan": actor.jabatan, "at": now.isoformat()}}
        step = await _transition(
            uow, office, letter, actor, "setujui", now=now, expected_state=expected_state, details=paraf
        )
        _queue(uow, letter, _forward_notices(office, step, "disetujui (paraf)"), actor=actor, now=now)
        return letter


async def request_revision(
    office: Office,
    letter_id: str,
    actor_id: int,
    note: str,
    *,
    annotated: Upload | None = None,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """A verifier sends the concept back to its drafter with a note (and maybe an annotated file)."""
    return await _send_back(office, letter_id, actor_id, note, "revisi", annotated, expected_state, now)


async def return_letter(
    office: Office,
    letter_id: str,
    actor_id: int,
    note: str,
    *,
    annotated: Upload | None = None,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """Kepala Dinas returns the letter (kembalikan) to its drafter with a reason."""
    return await _send_back(office, letter_id, actor_id, note, "kembalikan", annotated, expected_state, now)


async def _send_back(
    office: Office,
    letter_id: str,
    actor_id: int,
    note: str,
    action: str,
    annotated: Upload | None,
    expected_state: str | None,
    now: datetime | None,
) -> Letter:
    now = _now(office, now)
    note = clean_note(note)  # type: ignore[assignment]  # None is refused by decide (catatan_wajib)
    annotated_digest = await _save(office, annotated)
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        details = None
        if annotated is not None:
            # Check the move first so a refused action stores nothing.
            decide(
                office.sop,
                facts_of(letter),
                Actor(actor.id, actor.roles),
                action,
                now=now,
                note=note,
                expected_state=expected_state,
            )
            assert annotated_digest is not None
            version = _version_row(uow, letter.id, annotated, annotated_digest, "anotasi", actor, now)
            details = {"anotasi_sha256": version.sha256}
        step = await _transition(
            uow, office, letter, actor, action, now=now, note=note, expected_state=expected_state, details=details
        )
        notice = revision_notice(
            office.sop,
            letter,
            step.drafter,
            asker=actor,
            note=note.strip(),
        )
        if details:
            notice = Notice(**{**notice.__dict__, "attachment_sha256": details["anotasi_sha256"]})
        _queue(uow, letter, [notice], actor=actor, now=now)
        return letter


async def resubmit(
    office: Office,
    letter_id: str,
    actor_id: int,
    upload: Upload,
    *,
    note: str | None = None,
    word: Upload | None = None,
    now: datetime | None = None,
) -> Letter:
    """The drafter's revised version goes back to the reviewer who asked for it (`word`: the DOCX the PDF was
    made from, as for `submit`; a revision sent as PDF leaves the letter without a Word file)."""
    now = _now(office, now)
    note = clean_note(note)
    digest = await _save(office, upload)
    word_digest = await _save_word(office, word)
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        move = decide(office.sop, facts_of(letter), Actor(actor.id, actor.roles), "ajukan_ulang", now=now)
        assert digest is not None
        current = _version_row(uow, letter.id, upload, digest, "revisi", actor, now).sha256
        letter.word_version = None
        if word is not None and word_digest is not None:
            letter.word_version = _version_row(uow, letter.id, word, word_digest, WORD_KIND, actor, now).sha256
        if letter.nomor is not None and move.to_state == _numbered_state(office.sop):
            # Returned by Kepala Dinas after numbering: the revision goes back for signature with its number on.
            current = await _numbered_version(uow, office, letter, actor, now, source=upload.data)
        step = await _transition(uow, office, letter, actor, "ajukan_ulang", now=now, note=note, version_sha256=current)
        _queue(uow, letter, _forward_notices(office, step, "direvisi dan diajukan ulang", note), actor=actor, now=now)
        return letter


async def assign_number(
    office: Office,
    letter_id: str,
    actor_id: int,
    *,
    klasifikasi: str | None = None,
    letter_date: date | None = None,
    numbered: Upload | None = None,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """The clerk gives the letter its official number (never given twice) and sends it for signature.

    `klasifikasi` corrects the drafter's classification code; `letter_date` defaults to today in the office's
    time zone; `numbered` is the file with the number written on it, when the caller made one.
    """
    now = _now(office, now)
    code = check_klasifikasi(klasifikasi) if klasifikasi else None
    numbered_digest = await _save(office, numbered)
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        decide(
            office.sop,
            facts_of(letter),
            Actor(actor.id, actor.roles),
            "beri_nomor",
            now=now,
            expected_state=expected_state,
        )
        if letter.nomor is not None:
            # Back in numbering after a return and a revision (resubmit_to = "start"): a number once given is
            # kept, never silently replaced, so the letter goes on to signature with the number it has.
            if code and code != letter.klasifikasi:
                raise Refusal(
                    "sudah_bernomor",
                    f"Surat ini sudah bernomor {letter.nomor}; klasifikasinya tidak bisa diubah lagi. "
                    "Batalkan surat ini bila nomornya harus diganti.",
                )
            kept = await _numbered_version(uow, office, letter, actor, now)
            step = await _transition(
                uow, office, letter, actor, "beri_nomor", now=now, expected_state=expected_state,
                version_sha256=kept, details={"nomor": letter.nomor, "nomor_tetap": True},
            )  # fmt: skip
            _queue(
                uow,
                letter,
                _forward_notices(office, step, "diteruskan dengan nomor yang sama"),
                actor=actor,
                now=now,
            )
            return letter
        if code:
            letter.klasifikasi = code
        today = now.astimezone(office.sop.calendar.timezone).date()
        day = letter_date or today
        if day > today:
            raise Refusal(
                "tanggal_mendatang", f"Tanggal surat tidak boleh setelah hari ini ({indonesian_date(today)})."
            )
        serial = await _next_serial(uow.session, str(day.year))
        nomor = office.sop.numbering.render(klasifikasi=letter.klasifikasi, serial=serial, letter_date=day)
        letter.nomor = nomor
        letter.letter_date = day
        uow.session.add(
            IssuedNumber(
                letter_id=letter.id,
                scope=str(day.year),
                serial=serial,
                nomor=nomor,
                klasifikasi=letter.klasifikasi,
                letter_date=day,
                status="aktif",
                issued_by=actor.id,
                issued_at=now,
            )
        )
        if numbered is not None:  # the caller wrote the number on the file itself
            assert numbered_digest is not None
            version_sha = _version_row(uow, letter.id, numbered, numbered_digest, "bernomor", actor, now).sha256
        else:
            version_sha = await _numbered_version(uow, office, letter, actor, now)
        step = await _transition(
            uow,
            office,
            letter,
            actor,
            "beri_nomor",
            now=now,
            version_sha256=version_sha,
            details={"nomor": nomor, "serial": serial, "klasifikasi": letter.klasifikasi, "tanggal": day.isoformat()},
        )
        _queue(uow, letter, _forward_notices(office, step, "diberi nomor"), actor=actor, now=now)
        return letter


async def _numbered_version(
    uow: UnitOfWork, office: Office, letter: Letter, actor: Staff, now: datetime, source: bytes | None = None
) -> str:
    """Write the letter's number and date into its PDF (at `${nomor}` / `${tanggal}`, else the configured box)
    and store that as the `bernomor` version; returns its SHA-256. A PDF that cannot take it is refused."""
    assert letter.nomor is not None and letter.letter_date is not None
    data = source if source is not None else await asyncio.to_thread(uow.files.get, letter.current_version)
    values = {"nomor": letter.nomor, "tanggal": indonesian_date(letter.letter_date)}
    fallback = office.number_boxes
    if letter.word_version:
        # A Word concept: the number and date go into the DOCX itself, and the PDF is made again from it, so
        # that it looks as the office's own Word letter. (Held within this transaction: a warm conversion
        # takes a fraction of a second, and the same document already converted when it was sent.)
        docx = await asyncio.to_thread(uow.files.get, letter.word_version)
        filled, found = await asyncio.to_thread(word_files.fill, docx, values)
        # What the Word file already shows written out (a numbered Word file sent back as a revision): that
        # is not stamped again in the box.
        text = await asyncio.to_thread(word_files.text_of, docx)
        shown = {key for key, value in values.items() if key not in found and _written_in(value, text)}
        if found:
            try:
                pdf = await office.converter.convert(filled, ".docx", "pdf")
            except Refusal:
                # LibreOffice failed now: the PDF the letter has (with its literal placeholders) is stamped.
                log.warning("numbering: the Word file of letter %s could not be converted; stamping its PDF", letter.id)
            else:
                word_digest = await asyncio.to_thread(uow.files.put, filled)
                named = Upload(filled, "surat-bernomor.docx", word_files.DOCX)
                letter.word_version = _version_row(uow, letter.id, named, word_digest, WORD_KIND, actor, now).sha256
                # Whatever the Word file had in places we could not reach is still stamped in the PDF; the
                # configured box only takes what the Word file did not have at all.
                data = pdf
                shown |= found
        fallback = {key: box for key, box in office.number_boxes.items() if key not in shown}
    if await asyncio.to_thread(stamping.has_signatures, data):
        # Already signed by someone (e.g. a co-signed concept): rewriting it would break that signature, so the
        # number stays in the register and the audit log only; Kepala Dinas' signature is added incrementally.
        return hashlib.sha256(data).hexdigest() if source is not None else letter.current_version
    try:
        stamped = await asyncio.to_thread(stamping.fill, data, values, fallback=fallback)
    except stamping.StampingError as exc:
        raise Refusal(exc.code, exc.message) from None
    digest = await asyncio.to_thread(uow.files.put, stamped)
    _version_row(uow, letter.id, Upload(stamped, "surat-bernomor.pdf"), digest, "bernomor", actor, now)
    return digest


def _written_in(value: str, text: str) -> bool:
    """`value` (a number, a date) appears in `text` as itself, not inside a longer one (…/1 in …/12)."""
    return re.search(rf"(?<![\w/.]){re.escape(value)}(?![\w/.])", text) is not None


def _numbered_state(sop: Sop) -> str:
    """The state a letter enters when it gets its number (the target of `beri_nomor`)."""
    target = next(t.target for t in sop.transitions if t.action == "beri_nomor")
    assert target is not None
    return target


def _numbering_state(sop: Sop) -> str:
    """The state in which the clerk gives numbers (the source of the `beri_nomor` action)."""
    return next(t.sources[0] for t in sop.transitions if t.action == "beri_nomor")


async def _next_serial(session: AsyncSession, scope: str) -> int:
    """Take the next serial of `scope` atomically: the counter row is locked until the transaction ends."""
    await session.execute(
        insert_or_skip(session, NumberCounter)
        .values(scope=scope, last_serial=0)
        .on_conflict_do_nothing(index_elements=["scope"])
    )
    result = await session.execute(
        update(NumberCounter)
        .where(NumberCounter.scope == scope)
        .values(last_serial=NumberCounter.last_serial + 1)
        .returning(NumberCounter.last_serial)
    )
    return int(result.scalar_one())


async def preview_number(office: Office, klasifikasi: str, *, letter_date: date | None = None) -> str:
    """The number the next letter would get now (for the clerk to confirm); it reserves nothing."""
    day = letter_date or office.now().astimezone(office.sop.calendar.timezone).date()
    async with office.reading() as uow:
        last = await uow.session.scalar(select(NumberCounter.last_serial).where(NumberCounter.scope == str(day.year)))
    return office.sop.numbering.render(
        klasifikasi=check_klasifikasi(klasifikasi), serial=(last or 0) + 1, letter_date=day
    )


async def record_signature(
    office: Office,
    letter_id: str,
    actor_id: int,
    signed: Upload,
    *,
    archive: Upload | None = None,
    details: dict[str, Any] | None = None,
    signed_from: str | None = None,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """Kepala Dinas has signed: the signed file becomes the letter, and the clerk is told to send it.

    `signed_from` is the SHA-256 of the version that was signed: if the letter has another version by now
    (returned and revised while the signature was being made), nothing is recorded. `archive` is the office's
    own signed copy with the paraf block, kept beside the letter (never sent).
    """
    now = _now(office, now)
    digest = await _save(office, signed)
    archive_digest = await _save(office, archive)
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        decide(
            office.sop,
            facts_of(letter),
            Actor(actor.id, actor.roles),
            "tandatangani",
            now=now,
            expected_state=expected_state,
        )
        if signed_from is not None and signed_from != letter.current_version:
            raise Refusal(
                "tahap_berubah",
                "Surat ini berubah saat sedang ditandatangani (ada versi baru). Tanda tangani versi terbarunya.",
            )
        assert digest is not None
        version = _version_row(uow, letter.id, signed, digest, "ditandatangani", actor, now)
        if archive is not None and archive_digest is not None:
            _version_row(uow, letter.id, archive, archive_digest, "arsip", actor, now)
            details = {**(details or {}), "arsip": archive_digest}
        step = await _transition(
            uow,
            office,
            letter,
            actor,
            "tandatangani",
            now=now,
            version_sha256=version.sha256,
            expected_state=expected_state,
            details=details,
        )
        _queue(uow, letter, _forward_notices(office, step, "ditandatangani secara elektronik"), actor=actor, now=now)
        return letter


async def dispatch(
    office: Office,
    letter_id: str,
    actor_id: int,
    *,
    route: str,
    note: str | None = None,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """The clerk has sent the signed letter to its destination (e-mail, chat, courier, SRIKANDI, ...)."""
    now = _now(office, now)
    note = clean_note(note)
    if route not in DISPATCH_ROUTES:
        raise Refusal("jalur_tidak_dikenal", f"Jalur pengiriman harus salah satu dari: {', '.join(DISPATCH_ROUTES)}.")
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        step = await _transition(
            uow,
            office,
            letter,
            actor,
            "kirim",
            now=now,
            note=note,
            expected_state=expected_state,
            details={"jalur": route},
        )
        addressee = "tujuannya" if letter.sifat in SECRET_SIFAT else letter.tujuan  # no preview of a secret letter
        text = (
            f"\u2705 {letter_heading(letter)} telah dikirim ke {addressee} melalui "
            f"{DISPATCH_ROUTES[route]} oleh {person(actor)}."
        )
        _queue(uow, letter, [plain_notice(step.drafter, "terkirim", text)], actor=actor, now=now)
        return letter


async def cancel(
    office: Office,
    letter_id: str,
    actor_id: int,
    note: str,
    *,
    now: datetime | None = None,
) -> Letter:
    """The drafter (or an admin) cancels a letter; a number it had stays recorded as cancelled."""
    now = _now(office, now)
    note = clean_note(note)  # type: ignore[assignment]  # None is refused by decide (catatan_wajib)
    async with office.uow() as uow:
        actor = await load_actor(uow.session, actor_id)
        letter = await _lock_letter(uow.session, letter_id)
        previous_holder_id = letter.holder_id
        if letter.nomor is not None:
            # A letter that has its number (even when it is back with the drafter after a return) is cancelled
            # only by whoever may cancel a numbered letter: the SOP's rule for the state numbering leads to.
            numbered = office.sop.transition("batalkan", _numbered_state(office.sop))
            if numbered is not None and not may_take(numbered, facts_of(letter), Actor(actor.id, actor.roles)):
                raise Refusal(
                    "bukan_pemegang",
                    f"Surat ini sudah bernomor {letter.nomor}; hanya admin atau Kepala Dinas yang bisa membatalkannya.",
                )
        step = await _transition(uow, office, letter, actor, "batalkan", now=now, note=note)
        if letter.nomor is not None:
            await uow.session.execute(
                update(IssuedNumber)
                .where(IssuedNumber.letter_id == letter.id, IssuedNumber.status == "aktif")
                .values(status="dibatalkan", cancelled_at=now, cancel_note=note.strip())
            )
        text = f"\u26d4 {letter_heading(letter)} dibatalkan oleh {person(actor)}.\nAlasan: {shown_note(letter, note)}"
        notices = [plain_notice(step.drafter, "dibatalkan", text)]
        if previous_holder_id is not None:
            previous = await uow.session.get_one(Staff, previous_holder_id, options=_NAMES_ONLY)
            notices.append(plain_notice(previous, "dibatalkan", text))
        if letter.nomor is not None:  # the clerk keeps the number register: a cancelled number is their business
            clerk_spec = office.sop.states[_numbering_state(office.sop)].holder
            if clerk_spec is not None:
                clerk = await resolve_holder(uow.session, office.sop, clerk_spec, letter)
                register = f"{text}\nNomor {letter.nomor} dicatat sebagai dibatalkan."
                notices.insert(0, plain_notice(clerk, "dibatalkan", register))  # first: the one kept per person
        _queue(uow, letter, notices, actor=actor, now=now)
        return letter
