"""An outbox row as the message a person receives: its text, the letter's PDF when it has one, the step's buttons."""

from __future__ import annotations

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name
from suratbot.handlers.types import Document, Reply
from suratbot.services.office import Office
from suratbot.storage.models import Letter, OutboxMessage


def render(office: Office, row: OutboxMessage, letter: Letter | None) -> Reply:
    rows = []
    if row.actions and row.letter_id:
        rows = buttons.step_buttons(office.sop, list(row.actions), row.letter_id, row.expected_state)
    document = None
    if row.attachment_sha256:
        document = Document(row.attachment_sha256, pdf_name(letter) if letter is not None else "surat.pdf")
    return Reply(row.text, buttons=rows, document=document)
