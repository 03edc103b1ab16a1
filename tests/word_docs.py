"""Word concepts for tests: the example Word letter (suratbot/data/word_concept.py) and its text read back."""

from __future__ import annotations

import io

from docx import Document

from suratbot.data.word_concept import example_word_letter as concept_docx

__all__ = ["concept_docx", "text_of_docx"]


def text_of_docx(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    for section in document.sections:
        parts += [p.text for p in section.header.paragraphs]
    return "\n".join(parts)
