"""An outbox row as the message a person receives: its text, the letter's PDF when it has one, the step's buttons."""

from __future__ import annotations

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name
from suratbot.handlers.types import Button, Document, Reply
from suratbot.services.notices import SIGNED
from suratbot.services.office import Office
from suratbot.storage.models import Letter, OutboxMessage


def render(office: Office, row: OutboxMessage, letter: Letter | None) -> Reply:
    rows = []
    if row.actions and row.letter_id:
        rows = buttons.step_buttons(office.sop, list(row.actions), row.letter_id, row.expected_state)
        if letter is not None and letter.word_version:  # a Word concept: its Word file, one tap away
            rows.append([Button(buttons.WORD_LABEL, buttons.encode(buttons.WORD, row.letter_id))])
    elif row.actions:  # the daily digest: a numbered button opening each letter it lists
        opens = [a.split(":", 1)[1] for a in row.actions if a.startswith(f"{buttons.OPEN}:")]
        numbered = [Button(str(i), buttons.encode(buttons.OPEN, letter_id)) for i, letter_id in enumerate(opens, 1)]
        rows = [numbered[i : i + 5] for i in range(0, len(numbered), 5)]
    document = None
    if row.attachment_sha256:
        suffix = "-ttd" if row.kind == SIGNED else ""  # as the signed letter is named in the chat flow
        document = Document(row.attachment_sha256, pdf_name(letter, suffix) if letter is not None else "surat.pdf")
    return Reply(row.text, buttons=rows, document=document)
