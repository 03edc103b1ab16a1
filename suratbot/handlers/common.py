"""What several handlers share: receiving a file, naming a letter's holder, answering a refusal."""

from __future__ import annotations

import asyncio

from suratbot.handlers.types import Inbound, Reply, Response
from suratbot.services import prompts, word
from suratbot.services.office import Office
from suratbot.services.uploads import PDF, Upload, check_upload
from suratbot.storage.models import Letter, Staff
from suratbot.workflow.machine import Refusal

WORD_TYPES = {
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
}


async def receive(office: Office, inbound: Inbound) -> Upload:
    """The file a person sent, checked (type, size, a damaged or encrypted PDF) before it is downloaded when
    the channel says what it is, and again after."""
    file = inbound.file
    assert file is not None
    name = (file.name or "").lower()
    if file.media_type in WORD_TYPES or name.endswith((".doc", ".docx", ".odt", ".docm")):
        raise Refusal(
            "belum_word",
            "Berkas Word tidak diterima di sini; yang diperiksa atau dilampirkan di sini adalah PDF. Kirim PDF-nya.",
        )
    if file.media_type not in (None, PDF) and not name.endswith(".pdf"):
        raise Refusal("bukan_pdf", "Berkas ini bukan PDF. Kirim konsep surat dalam bentuk PDF.")
    if file.size is not None and file.size > office.max_file_bytes:
        raise Refusal(
            "berkas_terlalu_besar",
            f"Berkas terlalu besar ({file.size / 1_048_576:.1f} MB); batasnya {office.max_file_bytes / 1_048_576:.0f} MB.",
        )
    data = await file.fetch()
    upload = Upload(data, file.name, PDF)
    check_upload(upload, office.max_file_bytes)
    return upload


async def receive_concept(office: Office, inbound: Inbound) -> tuple[Upload, word.WordConcept | None]:
    """A concept as a drafter sends it: a PDF, or a Word / OpenDocument file (the DOCX kept and the PDF made
    from it by LibreOffice; the chat says the bot is working meanwhile)."""
    file = inbound.file
    assert file is not None
    if not word.is_word(file.name, file.media_type):
        return await receive(office, inbound), None
    if file.size is not None and file.size > office.max_file_bytes:
        raise Refusal(
            "berkas_terlalu_besar",
            f"Berkas terlalu besar ({file.size / 1_048_576:.1f} MB); batasnya {office.max_file_bytes / 1_048_576:.0f} MB.",
        )
    data = await file.fetch()
    await inbound.working()
    concept = await word.concept_from_word(office.converter, data, file.name, office.max_file_bytes)
    return concept.pdf, concept


async def store(office: Office, upload: Upload) -> str:
    return await asyncio.to_thread(office.files.put, upload.data)


async def staff_name(office: Office, staff_id: int | None) -> str:
    if staff_id is None:
        return "-"
    async with office.reading() as uow:
        staff = await uow.session.get(Staff, staff_id)
        return f"{staff.nama} ({staff.jabatan})" if staff else "-"


def refused(refusal: Refusal, *, button: bool = False) -> Response:
    """A refusal as the person sees it: a short answer on a button press (and the reason as a message)."""
    if button:
        return Response([Reply(refusal.message)], answer=_short(refusal.message), clear_buttons=is_stale(refusal))
    return Response.say(refusal.message)


async def refused_waiting(office: Office, staff: Staff, refusal: Refusal) -> Response:
    """A refusal of an answer the bot was waiting for: if the letter moved on, the bot stops waiting; if the
    answer was wrong (a bad file, a bad code), it waits for a better one."""
    if is_stale(refusal):
        await prompts.clear(office, staff.id)
    return refused(refusal)


def _short(text: str) -> str:
    return text if len(text) <= 190 else text[:187] + "..."


def is_stale(refusal: Refusal) -> bool:
    """The letter moved on (another step, someone else's, finished or cancelled): an old button loses its buttons,
    and the bot stops waiting for an answer about it."""
    return refusal.code in {
        "tahap_berubah",
        "bukan_pemegang",
        "surat_selesai",
        "tombol_tidak_dikenal",
        "surat_tidak_ada",
    }


def pdf_name(letter: Letter, suffix: str = "") -> str:
    """The file name a letter's PDF is sent under: its number (slashes and the like as dashes), else its ID."""
    stem = letter.nomor or f"konsep-{letter.id[:8]}"
    return "".join(c if c.isalnum() or c in "-._" else "-" for c in stem) + suffix + ".pdf"
