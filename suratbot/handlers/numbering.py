"""The letter clerk (Pengelola Surat): sees the proposed number, confirms or corrects the classification, and the
numbered PDF goes to Kepala Dinas."""

from __future__ import annotations

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name, refused, refused_waiting, staff_name
from suratbot.handlers.types import Button, Document, Reply, Response
from suratbot.services import letters, prompts
from suratbot.services.office import Office
from suratbot.storage.models import Letter, PendingPrompt, Staff
from suratbot.workflow.letter import check_klasifikasi
from suratbot.workflow.machine import Refusal

CLASSIFICATION = "klasifikasi"  # prompt: a corrected classification code


async def propose(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    """Beri Nomor: the number it would get, with Confirm / Correct the classification."""
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "beri_nomor")
    except Refusal as refusal:
        return refused(refusal, button=True)
    return await _proposal(office, letter, letter.klasifikasi, answer="Periksa nomornya")


async def _proposal(office: Office, letter: Letter, klasifikasi: str, *, answer: str | None = None) -> Response:
    if letter.nomor:
        text = f"Surat ini sudah bernomor {letter.nomor}; nomor itu dipakai lagi."
        klasifikasi = letter.klasifikasi
    else:
        number = await letters.preview_number(office, klasifikasi)
        text = (
            f"Nomor berikutnya: {number}\nKlasifikasi: {klasifikasi}"
            + (f" (diubah dari {letter.klasifikasi})" if klasifikasi != letter.klasifikasi else "")
            + "\nNomor pasti diberikan saat Anda menekan tombol (tidak pernah ganda)."
        )
    rows = [
        [
            Button(
                f"\U0001f522 Beri Nomor ({klasifikasi})",
                buttons.encode(f"nomor:{klasifikasi}", letter.id, letter.state),
            )
        ],
    ]
    if not letter.nomor:  # a number once given keeps its classification
        rows.append([Button("\u270f\ufe0f Ubah klasifikasi", buttons.encode("nomor_ubah", letter.id, letter.state))])
    return Response([Reply(text, buttons=rows)], answer=answer)


async def ask_classification(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "beri_nomor")
    except Refusal as refusal:
        return refused(refusal, button=True)
    await prompts.ask(office, staff.id, CLASSIFICATION, letter_id=letter.id, expected_state=letter.state)
    return Response(
        [Reply(f"Ketik kode klasifikasi yang benar (sekarang {letter.klasifikasi}; contoh: 500.16).")],
        answer="Ketik klasifikasinya",
        clear_buttons=True,
    )


async def classification(office: Office, staff: Staff, prompt: PendingPrompt, text: str) -> Response:
    try:
        code = check_klasifikasi(text)
        letter = await buttons.turn(office, prompt.letter_id, prompt.expected_state, staff, "beri_nomor")
    except Refusal as refusal:
        return await refused_waiting(office, staff, refusal)
    await prompts.clear(office, staff.id)
    return await _proposal(office, letter, code)


async def assign(office: Office, staff: Staff, klasifikasi: str, letter_id: str | None, state: str | None) -> Response:
    """The confirming tap: the number is given (atomically) and written on the PDF."""
    try:
        await buttons.turn(office, letter_id, state, staff, "beri_nomor")
        assert letter_id is not None
        letter = await letters.assign_number(
            office, letter_id, staff.id, klasifikasi=klasifikasi or None, expected_state=state
        )
    except Refusal as refusal:
        return refused(refusal, button=True)
    holder = await staff_name(office, letter.holder_id)
    reply = Reply(
        f"\U0001f522 Nomor {letter.nomor} diberikan. Surat bernomor diteruskan untuk ditandatangani oleh {holder}.",
        document=Document(letter.current_version, pdf_name(letter)),
    )
    return Response([reply], answer=f"Nomor {letter.nomor}", clear_buttons=True)
