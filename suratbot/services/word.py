"""Word concepts: what kind of document a file is (and why it is refused), the office's placeholders
(`${nomor}`, `${tanggal}`) filled in the DOCX itself (across runs, in tables, headers and footers), and the
conversion of a Word or OpenDocument concept to the DOCX kept and the PDF that is signed."""

from __future__ import annotations

import asyncio
import io
import re
import zipfile
from dataclasses import dataclass

from suratbot.services.converter import Converter
from suratbot.services.uploads import PDF, Upload, check_upload
from suratbot.workflow.machine import Refusal

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
DOC = "application/msword"
WORD_TYPES = frozenset({DOCX, ODT, DOC, "application/vnd.ms-word.document.macroenabled.12"})
WORD_SUFFIXES = (".docx", ".odt", ".doc", ".docm")
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary Office container (.doc; also an encrypted .docx)
PLACEHOLDER = re.compile(r"\$\{(nomor|tanggal)\}")

ENCRYPTED = Refusal(
    "word_terkunci",
    "Dokumen Word ini dilindungi kata sandi, sehingga tidak bisa diberi nomor dan ditandatangani. Simpan ulang "
    "tanpa kata sandi lalu kirim lagi.",
)
MACROS = Refusal(
    "word_makro",
    "Dokumen Word bermakro (.docm) tidak diterima demi keamanan. Simpan sebagai .docx biasa lalu kirim lagi.",
)
DAMAGED = Refusal(
    "word_rusak",
    "Dokumen Word ini rusak atau tidak lengkap (mungkin terpotong saat diunduh). Simpan ulang lalu kirim lagi.",
)
MAX_UNPACKED = 200 * 1024 * 1024
TOO_BIG_INSIDE = Refusal(
    "word_terlalu_besar",
    "Isi dokumen Word ini terlalu besar untuk diproses (lebih dari 200 MB setelah dibuka). Perkecil gambarnya, "
    "simpan ulang, lalu kirim lagi; atau kirim PDF-nya.",
)
NOT_WORD = Refusal("bukan_word", "Berkas ini bukan dokumen Word atau PDF. Kirim konsep surat sebagai DOCX atau PDF.")


def is_word(name: str | None, media_type: str | None) -> bool:
    return (media_type or "").lower() in WORD_TYPES or (name or "").lower().endswith(WORD_SUFFIXES)


def kind_of(data: bytes, name: str | None) -> str:
    """`docx`, `odt` or `doc` from the file's own bytes (its name and the chat's media type can lie); Refusal
    for a password-protected, macro-enabled, damaged or non-Word file."""
    if data.startswith(OLE):
        # An encrypted .docx is an OLE container with these streams (names in UTF-16); else an old Word file.
        if "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data:
            raise ENCRYPTED
        if (name or "").lower().endswith(".docm") or "Macros".encode("utf-16-le") in data:
            raise MACROS  # (LibreOffice would not run them: macros are off in its profile; refused all the same)
        return "doc"
    if not data.startswith(b"PK\x03\x04"):
        raise DAMAGED if (name or "").lower().endswith(WORD_SUFFIXES) else NOT_WORD
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if sum(info.file_size for info in archive.infolist()) > MAX_UNPACKED:
                raise TOO_BIG_INSIDE  # a "zip bomb", or a document no office writes
            if archive.testzip() is not None:
                raise DAMAGED
            if "mimetype" in names and archive.read("mimetype").strip() == ODT.encode():
                return "odt"
            if "word/document.xml" not in names:
                raise NOT_WORD
            types = archive.read("[Content_Types].xml") if "[Content_Types].xml" in names else b""
    except Refusal:
        raise
    except Exception:  # a broken archive raises many kinds (BadZipFile, zlib.error, NotImplementedError...)
        raise DAMAGED from None
    if "word/vbaProject.bin" in names or b"macroEnabled" in types or (name or "").lower().endswith(".docm"):
        raise MACROS
    return "docx"


@dataclass(frozen=True)
class WordConcept:
    """A concept sent as a Word file: the DOCX kept (editable) and the PDF made from it (what is signed)."""

    docx: Upload
    pdf: Upload
    placeholders: frozenset[str] = frozenset()  # which of ${nomor} / ${tanggal} the Word file has


async def concept_from_word(converter: Converter, data: bytes, name: str | None, max_bytes: int) -> WordConcept:
    """The DOCX (an ODT or old .doc converted to it by LibreOffice) and its PDF; Refusal for anything bad."""
    if not data:
        raise Refusal("berkas_kosong", "Berkas yang dikirim kosong.")
    if len(data) > max_bytes:
        raise Refusal(
            "berkas_terlalu_besar",
            f"Berkas terlalu besar ({len(data) / 1_048_576:.1f} MB); batasnya {max_bytes / 1_048_576:.0f} MB.",
        )
    kind = await asyncio.to_thread(kind_of, data, name)  # reads the whole archive: off the event loop
    stem = _stem(name)
    docx = data if kind == "docx" else await converter.convert(data, f".{kind}", "docx")
    if kind != "docx":
        kind_of(docx, "konversi.docx")  # what LibreOffice made is a plain DOCX
    _, found = await asyncio.to_thread(fill, docx, {"nomor": "-", "tanggal": "-"})  # readable, and its placeholders
    pdf = await converter.convert(docx, ".docx", "pdf")
    concept = WordConcept(Upload(docx, f"{stem}.docx", DOCX), Upload(pdf, f"{stem}.pdf", PDF), frozenset(found))
    check_upload(concept.pdf, max_bytes)
    return concept


def _stem(name: str | None) -> str:
    base = (name or "konsep").replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return stem or "konsep"


def fill(docx: bytes, values: dict[str, str]) -> tuple[bytes, set[str]]:
    """The DOCX with each `${key}` of `values` replaced, and which keys were found: in every text of the body,
    headers and footers (tables, text boxes, hyperlinks, content controls and tracked insertions included),
    wherever Word split a placeholder into runs. A file python-docx cannot read is DAMAGED."""
    from docx import Document

    try:
        document = Document(io.BytesIO(docx))
    except Exception:  # python-docx raises many kinds for a broken package
        raise DAMAGED from None
    found: set[str] = set()
    parts = [document.part, *{rel.target_part for rel in document.part.rels.values() if _is_header_or_footer(rel)}]
    for part in parts:
        found |= _fill_element(part.element, values)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue(), found


def text_of(docx: bytes) -> str:
    """All the text of a DOCX (body, tables, headers, footers, text boxes), for checks."""
    from docx import Document

    document = Document(io.BytesIO(docx))
    parts = [document.part, *{rel.target_part for rel in document.part.rels.values() if _is_header_or_footer(rel)}]
    return "\n".join(
        "".join(t.text or "" for t in texts) for part in parts for texts in _texts_by_paragraph(part.element)
    )


def _is_header_or_footer(rel: object) -> bool:
    kind = str(getattr(rel, "reltype", ""))
    return kind.endswith("/header") or kind.endswith("/footer")


def _texts_by_paragraph(element: object) -> list[list[object]]:
    """The `w:t` elements of each paragraph, in order; a paragraph inside another (a text box) is its own."""
    from docx.oxml.ns import qn

    paragraph_tag, text_tag = qn("w:p"), qn("w:t")
    groups: dict[object, list[object]] = {}
    for text in element.iter(text_tag):  # type: ignore[attr-defined]
        parent = text.getparent()
        while parent is not None and parent.tag != paragraph_tag:
            parent = parent.getparent()
        groups.setdefault(parent, []).append(text)
    return list(groups.values())


def _fill_element(element: object, values: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for texts in _texts_by_paragraph(element):
        found |= _fill_texts(texts, values)
    return found


def _fill_texts(texts: list[object], values: dict[str, str]) -> set[str]:
    """Replace placeholders in one paragraph's texts, keeping each run's formatting: the replacement goes into
    the text where the placeholder starts, and the rest of it is taken out of the texts it spilled into."""
    found: set[str] = set()
    while True:
        joined = "".join(t.text or "" for t in texts)  # type: ignore[attr-defined]
        match = next((m for m in PLACEHOLDER.finditer(joined) if m.group(1) in values), None)
        if match is None:
            return found
        found.add(match.group(1))
        start, end = match.span()
        position = 0
        for element in texts:
            text = element.text or ""  # type: ignore[attr-defined]
            text_start, text_end = position, position + len(text)
            position = text_end
            if text_end <= start or text_start >= end:
                continue
            local_start, local_end = max(start, text_start) - text_start, min(end, text_end) - text_start
            replacement = values[match.group(1)] if text_start <= start < text_end else ""
            element.text = text[:local_start] + replacement + text[local_end:]  # type: ignore[attr-defined]
            if element.text != element.text.strip():  # type: ignore[attr-defined]
                element.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")  # type: ignore[attr-defined]
