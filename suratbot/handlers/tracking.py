"""What waits for me (/antrian), my letters (/status), finding a letter (/cari) and help (/bantuan)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name
from suratbot.handlers.notifications import render
from suratbot.handlers.types import Document, Reply, Response
from suratbot.services.notices import letter_heading, letter_title
from suratbot.services.office import Office
from suratbot.storage.models import AuditEvent, Letter, OutboxMessage, Staff
from suratbot.workflow.letter import SECRET_SIFAT

LIST_LIMIT = 20


def _elapsed(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} menit"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} jam {rest} menit"
    return f"{hours // 24} hari {hours % 24} jam"


async def queue(office: Office, staff: Staff) -> Response:
    """/antrian: the letters waiting on me, oldest first, with the time against the SOP standard and buttons."""
    open_states = [k for k, s in office.sop.states.items() if not s.final]
    async with office.reading() as uow:
        waiting = (
            await uow.session.scalars(
                select(Letter)
                .where(Letter.holder_id == staff.id, Letter.state.in_(open_states))
                .order_by(Letter.step_started_at)
                .limit(LIST_LIMIT)
            )
        ).all()
    if not waiting:
        return Response.say("Tidak ada surat yang menunggu Anda. \U0001f44d")
    now = office.now()
    replies = [Reply(f"Surat yang menunggu Anda ({len(waiting)}), yang terlama dulu:")]
    for letter in waiting:
        state = office.sop.states[letter.state]
        line = f"{letter_heading(letter)}\nTahap {state.name}, menunggu {_elapsed(letter.step_started_at, now)}"
        if state.standard_minutes:
            late = letter.step_due_at is not None and now > letter.step_due_at
            line += f" (standar SOP {state.standard_minutes} menit{', TERLAMBAT' if late else ''})"
        actions = office.sop.holder_actions(letter.state)
        replies.append(Reply(line, buttons=buttons.step_buttons(office.sop, actions, letter.id, letter.state)))
    return Response(replies)


async def _acted_on(session: AsyncSession, letter: Letter, staff: Staff) -> bool:
    """Whether `staff` took any step on `letter` (and so may look at it)."""
    found = await session.scalar(
        select(AuditEvent.id).where(AuditEvent.letter_id == letter.id, AuditEvent.actor_id == staff.id).limit(1)
    )
    return found is not None


async def open_letter(office: Office, staff: Staff, letter_id: str | None) -> Response:
    """A digest's button: the letter as it stands, its PDF, and for its holder the buttons of the step."""
    async with office.reading() as uow:
        letter = await uow.session.get(Letter, letter_id) if letter_id else None
        acted = letter is not None and await _acted_on(uow.session, letter, staff)
        holder = await uow.session.get(Staff, letter.holder_id) if letter is not None and letter.holder_id else None
    if letter is None:
        return Response(answer="Surat untuk tombol ini tidak ditemukan.", clear_buttons=True)
    if staff.id not in (letter.holder_id, letter.drafter_id) and not acted:
        return Response(answer="Surat ini bukan untuk Anda.")
    now = office.now()
    state = office.sop.states[letter.state]
    line = f"{letter_heading(letter)}\nTahap {state.name}"
    if state.final:
        line += " (selesai)."
        return Response([Reply(line)], answer="Surat dibuka.")
    line += f", menunggu {_elapsed(letter.step_started_at, now)}"
    if state.standard_minutes:
        late = letter.step_due_at is not None and now > letter.step_due_at
        line += f" (standar SOP {state.standard_minutes} menit{', TERLAMBAT' if late else ''})"
    if letter.holder_id != staff.id:
        who = f"{holder.nama} ({holder.jabatan})" if holder else "-"
        return Response([Reply(f"{line}\nSekarang dipegang {who}.")], answer="Surat dibuka.")
    actions = office.sop.holder_actions(letter.state)
    document = Document(letter.current_version, pdf_name(letter))
    reply = Reply(line, buttons=buttons.step_buttons(office.sop, actions, letter.id, letter.state), document=document)
    return Response([reply], answer="Surat dibuka.")


async def word_file(office: Office, staff: Staff, letter_id: str | None) -> Response:
    """The Word file of a Word concept, for whoever may see the letter (its holder, its drafter, anyone who
    acted on it)."""
    async with office.reading() as uow:
        letter = await uow.session.get(Letter, letter_id) if letter_id else None
        acted = letter is not None and await _acted_on(uow.session, letter, staff)
    if letter is None:
        return Response(answer="Surat untuk tombol ini tidak ditemukan.")
    finished = office.sop.states[letter.state].final
    if staff.id not in (letter.holder_id, letter.drafter_id) and not (acted and not finished):
        return Response(answer="Surat ini bukan untuk Anda.")  # (those who acted on it: while it is under way)
    if not letter.word_version:
        return Response(answer="Surat ini tidak punya berkas Word (dikirim sebagai PDF).")
    name = pdf_name(letter).removesuffix(".pdf") + ".docx"
    text = f"Berkas Word {letter_title(letter)}. Yang diperiksa dan ditandatangani tetap PDF-nya."
    return Response([Reply(text, document=Document(letter.word_version, name))], answer="Berkas Word dikirim.")


async def missed(office: Office, staff: Staff, row_id: str | None) -> Response:
    """A WhatsApp template's quick reply: the notification it stood for, now that the person has written (their
    window is open), with its PDF and buttons; if the letter has moved on since, where it stands now."""
    row = None
    if row_id and row_id.isdigit() and len(row_id) <= 18:  # a forged huge number is no row (nor an overflow)
        async with office.reading() as uow:
            row = await uow.session.get(OutboxMessage, int(row_id))
            letter = await uow.session.get(Letter, row.letter_id) if row is not None and row.letter_id else None
    if row is None or row.recipient_id != staff.id:
        return Response(answer="Tombol ini tidak dikenal.")
    if letter is not None and row.expected_state and letter.state != row.expected_state:
        now_open = await open_letter(office, staff, letter.id)
        stale = Reply("Pemberitahuan itu sudah usang: surat sudah berpindah tahap. Keadaannya sekarang:")
        return Response([stale, *now_open.replies], answer="Surat sudah berpindah tahap.")
    return Response([render(office, row, letter)], answer="Pemberitahuan dibuka.")


async def my_letters(office: Office, staff: Staff) -> Response:
    """/status: the letters I drafted that are still under way, and who holds them."""
    open_states = [k for k, s in office.sop.states.items() if not s.final]
    async with office.reading() as uow:
        rows = (
            await uow.session.execute(
                select(Letter, Staff)
                .outerjoin(Staff, Staff.id == Letter.holder_id)
                .where(Letter.drafter_id == staff.id, Letter.state.in_(open_states))
                .order_by(Letter.created_at.desc())
                .limit(LIST_LIMIT)
            )
        ).all()
    if not rows:
        return Response.say("Tidak ada surat Anda yang sedang berjalan.")
    now = office.now()
    lines = ["Surat Anda yang sedang berjalan:"]
    for letter, holder in rows:
        who = f"{holder.nama} ({holder.jabatan})" if holder else "-"
        lines.append(
            f"\u2022 {letter_heading(letter)}: tahap {office.sop.states[letter.state].name}, dipegang {who}, "
            f"sejak {_elapsed(letter.step_started_at, now)} lalu"
        )
    return Response.say("\n".join(lines))


async def search(office: Office, staff: Staff, query: str) -> Response:
    """/cari <nomor atau kata>: letters I may see (mine, held by me, acted on by me; everything not secret for
    Kepala Dinas and admins) whose number or subject matches."""
    words = query.split()
    if not words:
        return Response.say(
            "Ketik /cari lalu nomor surat atau kata dari perihalnya, mis. /cari 500.16/7 atau /cari undangan."
        )
    wide = bool(staff.roles & {"kepala", "admin"})
    async with office.reading() as uow:
        acted = select(AuditEvent.letter_id).where(AuditEvent.actor_id == staff.id)
        mine = or_(Letter.drafter_id == staff.id, Letter.holder_id == staff.id, Letter.id.in_(acted))
        visible = or_(mine, Letter.sifat.not_in(list(SECRET_SIFAT))) if wide else mine
        statement = select(Letter).where(visible)
        for word in words[:5]:
            pattern = f"%{word.replace('%', '').replace('_', '')}%"
            statement = statement.where(or_(Letter.nomor.ilike(pattern), Letter.perihal.ilike(pattern)))
        found = (await uow.session.scalars(statement.order_by(Letter.created_at.desc()).limit(LIST_LIMIT))).all()
    if not found:
        return Response.say(f"Tidak ada surat yang cocok dengan \u201c{query}\u201d.")
    lines = [f"Hasil pencarian \u201c{query}\u201d ({len(found)}):"]
    for letter in found:
        lines.append(f"\u2022 {letter_heading(letter)}: tahap {office.sop.states[letter.state].name}")
    return Response.say("\n".join(lines))


def help_text(office: Office, staff: Staff) -> Response:
    lines = [f"Bot surat keluar {office.sop.office} (SOP {office.sop.code}).", ""]
    if staff.roles & office.sop.drafting_roles:
        lines.append(
            "\u2022 Konseptor: kirim PDF konsep surat. Data surat boleh ditulis di keterangan (caption): "
            "Perihal: ...; Tujuan: ...; Sifat: Biasa; Urgensi: Segera; Klasifikasi: 500.16"
        )
    if any(office.sop.roles[r].verifier_level for r in staff.roles if r in office.sop.roles):
        lines.append("\u2022 Verifikator: tekan Setujui (paraf) atau Revisi (dengan catatan) pada surat yang masuk.")
    if "pengelola" in staff.roles:
        lines.append(
            "\u2022 Pengelola surat: Beri Nomor pada surat yang disetujui; Kirim surat yang sudah ditandatangani."
        )
    if "kepala" in staff.roles:
        lines.append("\u2022 Kepala Dinas: Tandatangani (dengan passphrase) atau Kembalikan (dengan alasan).")
    lines += [
        "",
        "/antrian \u2014 surat yang menunggu Anda",
        "/status \u2014 surat Anda dan siapa yang memegangnya",
        "/cari <nomor atau kata> \u2014 cari surat",
        "/verifikasi \u2014 periksa keaslian PDF bertanda tangan",
        "/plh <nama atau NIP> <sampai tanggal> \u2014 tunjuk pengganti (Plh) selama Anda tidak ada",
        "/laporan [YYYY-MM] \u2014 laporan bulanan: grafik kepatuhan dan buku agenda (pimpinan, pengelola, admin)",
        "/saluran [telegram|whatsapp|otomatis] \u2014 ke mana pemberitahuan dikirim",
        "/dasbor \u2014 tautan masuk ke dasbor kantor di peramban (pimpinan dan admin)",
        "/templat \u2014 templat surat kantor (Word); konsep boleh dikirim sebagai Word (.docx/.odt) atau PDF",
        "/batal \u2014 batalkan pertanyaan yang sedang ditunggu bot",
    ]
    return Response.say("\n".join(lines))
