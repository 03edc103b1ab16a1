"""The verifiers (Kasubag/Kasi, Sekretaris/Kabid) and Kepala Dinas's return: approve with one tap, or send the
letter back with a note that reaches the drafter verbatim."""

from __future__ import annotations

from suratbot.handlers import buttons
from suratbot.handlers.common import receive, refused, staff_name
from suratbot.handlers.types import Inbound, Reply, Response
from suratbot.services import letters, prompts
from suratbot.services.office import Office
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.letter import clean_note
from suratbot.workflow.machine import Refusal

NOTE = "catatan"  # prompt: the reason for a revision (revisi) or a return (kembalikan)


async def approve(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    try:
        await buttons.turn(office, letter_id, state, staff, "setujui")
        assert letter_id is not None
        letter = await letters.approve(office, letter_id, staff.id, expected_state=state)
    except Refusal as refusal:
        return refused(refusal, button=True)
    holder = await staff_name(office, letter.holder_id)
    return Response(
        [
            Reply(
                f"\u2705 Paraf Anda tercatat. Surat diteruskan ke tahap {office.sop.states[letter.state].name}, dipegang {holder}."
            )
        ],
        answer="Disetujui",
        clear_buttons=True,
    )


async def ask_note(office: Office, staff: Staff, action: str, letter_id: str | None, state: str | None) -> Response:
    """Revisi / Kembalikan: the bot asks for the reason (a PDF with notes on it is welcome too)."""
    try:
        letter = await buttons.turn(office, letter_id, state, staff, action)
    except Refusal as refusal:
        return refused(refusal, button=True)
    await prompts.ask(
        office, staff.id, NOTE, letter_id=letter.id, expected_state=letter.state, payload={"aksi": action}
    )
    what = "revisi" if action == "revisi" else "pengembalian"
    return Response(
        [
            Reply(
                f"Tuliskan catatan {what} untuk konseptor (akan diteruskan apa adanya). Boleh juga mengirim PDF "
                "yang sudah diberi catatan, dengan catatannya di keterangan (caption). Ketik /batal untuk batal."
            )
        ],
        answer="Tulis catatannya",
    )


async def note(office: Office, staff: Staff, prompt: PendingPrompt, inbound: Inbound) -> Response:
    """The note (text, or an annotated PDF with its caption) that sends the letter back."""
    text = clean_note(inbound.text)
    annotated = None
    if inbound.file is not None:
        try:
            annotated = await receive(office, inbound)
        except Refusal as refusal:
            return refused(refusal)
        text = text or "Lihat catatan pada berkas terlampir."
    if text is None:
        return Response.say("Catatan tidak boleh kosong. Tuliskan alasannya.")
    action = prompt.payload.get("aksi", "revisi")
    assert prompt.letter_id is not None
    try:
        if action == "kembalikan":
            letter = await letters.return_letter(
                office, prompt.letter_id, staff.id, text, annotated=annotated, expected_state=prompt.expected_state
            )
        else:
            letter = await letters.request_revision(
                office, prompt.letter_id, staff.id, text, annotated=annotated, expected_state=prompt.expected_state
            )
    except Refusal as refusal:
        await prompts.clear(office, staff.id)
        return refused(refusal)
    await prompts.clear(office, staff.id)
    drafter = await staff_name(office, letter.drafter_id)
    return Response.say(f"\u21a9\ufe0f Surat dikembalikan ke {drafter} dengan catatan Anda.")
