"""The office's letter template (DOCX): made from the office's settings (kop surat, `${nomor}`, `${tanggal}`,
`${ttd}`, the signer block), unless an admin has put the office's own file in its place."""

from __future__ import annotations

import asyncio
import io
import os
import re
import secrets
from pathlib import Path

from suratbot.services import word
from suratbot.services.office import Office
from suratbot.services.roster import active_with_roles
from suratbot.storage.files import FileStoreError
from suratbot.workflow.machine import Refusal

MARKER = "templat-surat.sha256"  # beside the file store: the SHA-256 of the office's own template, if any


def _marker(office: Office) -> Path:
    return office.files.root.parent / MARKER


async def current(office: Office) -> tuple[bytes, bool]:
    """The template to send, and whether it is the office's own (else made from the settings)."""
    marker = _marker(office)
    if marker.exists():
        sha = marker.read_text().strip()
        try:
            return await asyncio.to_thread(office.files.get, sha), True
        except (FileStoreError, OSError):
            pass  # the file is gone or damaged: the generated one instead
    return await generated(office), False


async def replace(office: Office, data: bytes, name: str | None) -> set[str]:
    """Put an admin's own DOCX in place of the generated template; returns the placeholders it lacks (it is
    accepted without them: the number then goes in the configured box)."""
    if len(data) > office.max_file_bytes or await asyncio.to_thread(word.kind_of, data, name) != "docx":
        raise Refusal("templat_bukan_docx", "Templat harus berkas .docx (Word). Simpan sebagai .docx lalu kirim lagi.")
    _, found = await asyncio.to_thread(word.fill, data, {"nomor": "-", "tanggal": "-"})
    sha = await asyncio.to_thread(office.files.put, data)
    marker = _marker(office)
    temporary = marker.with_name(f"{marker.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    temporary.write_text(sha)
    os.replace(temporary, marker)  # atomic: a reader sees the old or the new one
    return {"nomor", "tanggal"} - found


def reset(office: Office) -> bool:
    """Back to the generated template; whether there was an own one."""
    marker = _marker(office)
    existed = marker.exists()
    marker.unlink(missing_ok=True)
    return existed


async def generated(office: Office) -> bytes:
    sop = office.sop
    signers = await active_with_roles(office, ("kepala",))
    signer = signers[0] if signers else None
    position = sop.roles["kepala"].name if "kepala" in sop.roles else "Kepala Dinas"
    return await asyncio.to_thread(
        _make, sop.office, position, signer.nama if signer else "", signer.nip if signer else ""
    )


def _make(office_name: str, position: str, signer: str, nip: str) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = Document()
    normal = document.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(11)
    header = document.sections[0].header
    header.is_linked_to_previous = False
    kop = header.paragraphs[0]
    kop.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = kop.add_run(office_name.upper())
    run.bold = True
    run.font.size = Pt(13)
    address = header.add_paragraph("(alamat kantor, telepon, surel, laman)")
    address.alignment = WD_ALIGN_PARAGRAPH.CENTER
    rows = [
        ("Nomor", "${nomor}"),
        ("Sifat", "Biasa"),
        ("Lampiran", "-"),
        ("Hal", "(perihal surat)"),
    ]
    city = re.search(r"(?:Kabupaten|Kota)\s+([A-Za-z][A-Za-z .'-]*)$", office_name)  # where letters are dated
    place = document.add_paragraph(f"{city.group(1).strip() if city else '(Kota)'}, ${{tanggal}}")
    place.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    table = document.add_table(rows=len(rows), cols=3)
    for i, (label, value) in enumerate(rows):
        table.cell(i, 0).text = label
        table.cell(i, 1).text = ":"
        table.cell(i, 2).text = value
    document.add_paragraph()
    document.add_paragraph("Yth. (tujuan surat)")
    document.add_paragraph("di")
    document.add_paragraph("    Tempat")
    document.add_paragraph()
    document.add_paragraph("Dengan hormat, (isi surat).")
    document.add_paragraph("Demikian disampaikan, atas perhatiannya diucapkan terima kasih.")
    document.add_paragraph()
    for line in (f"{position},", "${ttd}", signer or "(nama penanda tangan)", f"NIP. {nip}" if nip else "NIP. -"):
        paragraph = document.add_paragraph(line)
        paragraph.paragraph_format.left_indent = Pt(250)
    note = document.add_paragraph(
        "Catatan: biarkan kode bertanda dolar untuk nomor dan tanggal apa adanya (diisi bot saat surat diberi "
        "nomor), dan kode ttd di tempat tanda tangan elektronik. Hapus catatan ini."
    )
    note.runs[0].italic = True
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
