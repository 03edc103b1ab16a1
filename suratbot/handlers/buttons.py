"""Button data (`verb|letter id|state`, at most 64 bytes) and the captions people see on the SOP's buttons."""

from __future__ import annotations

from datetime import datetime

from suratbot.handlers.types import Button
from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.storage.models import Letter, Staff
from suratbot.workflow.machine import Actor, Refusal, decide
from suratbot.workflow.sop import Sop

NONE = "-"
OPEN = "buka"  # open a letter (the digest's buttons): its PDF and, for its holder, the step's buttons
WORD = "word"  # send the letter's Word file (a Word concept)
WORD_LABEL = "\U0001f4dd Berkas Word"
MISSED = "lihat"  # show a notification that went as a WhatsApp template (`lihat|<outbox row id>|-`)
ICONS = {
    "setujui": "\u2705",
    "revisi": "\u270f\ufe0f",
    "beri_nomor": "\U0001f522",
    "tandatangani": "\u270d\ufe0f",
    "kembalikan": "\u21a9\ufe0f",
    "kirim": "\U0001f4e4",
    "ajukan_ulang": "\U0001f4ce",
}
CAPTIONS = {"ajukan_ulang": "Unggah revisi"}  # the drafter uploads first; "Kirim revisi" comes after the file


def encode(verb: str, letter_id: str | None = None, state: str | None = None) -> str:
    return f"{verb}|{letter_id or NONE}|{state or NONE}"


def decode(data: str) -> tuple[str, str | None, str | None] | None:
    """(verb, letter id, state) from button data; None when it is not ours (forged or from another bot)."""
    parts = data.split("|")
    if len(parts) != 3 or not all(parts) or len(data.encode()) > 64:
        return None
    verb, letter_id, state = parts
    return verb, None if letter_id == NONE else letter_id, None if state == NONE else state


def caption(sop: Sop, action: str, state: str | None = None) -> str:
    label = CAPTIONS.get(action)
    if label is None:
        transition = sop.transition(action, state) if state else None
        label = transition.label if transition else action.replace("_", " ").title()
    icon = ICONS.get(action)
    return f"{icon} {label}" if icon else label


def step_buttons(sop: Sop, actions: list[str], letter_id: str, state: str | None) -> list[list[Button]]:
    """The buttons of a step, two per row."""
    buttons = [Button(caption(sop, a, state), encode(a, letter_id, state)) for a in actions]
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


async def turn(
    office: Office, letter_id: str | None, state: str | None, staff: Staff, action: str, *, now: datetime | None = None
) -> Letter:
    """The letter, if `staff` may take `action` on it now in `state` (the button's step); Refusal otherwise (an
    old button, a second tap, someone else's letter, a forged id)."""
    if not letter_id:
        raise Refusal("tombol_tidak_dikenal", "Tombol ini tidak dikenal.")
    try:
        letter = await letters.get_letter(office, letter_id)
    except Refusal:
        raise Refusal("tombol_tidak_dikenal", "Surat untuk tombol ini tidak ditemukan.") from None
    decide(office.sop, letters.facts_of(letter), Actor(staff.id, staff.roles), action, now=now or office.now(),
           expected_state=state, note="-")  # fmt: skip  # the note, if the step needs one, is asked for next
    return letter
