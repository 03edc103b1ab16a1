"""A Word concept letter (DOCX, made with python-docx) for the demo, the benchmark and the tests: the kop in the
header, `${nomor}` and `${tanggal}` split over runs the way Word saves an edited line, in a table and in the
header, and `${ttd}` where the signature goes."""

from __future__ import annotations

import io

from docx import Document
from docx.shared import Pt


def example_word_letter(
    perihal: str = "Undangan Rapat Koordinasi", *, placeholders: bool = True, pages: int = 2
) -> bytes:
    """An office letter: the kop in the header (with `${nomor}` there too), the number and date split over
    several runs the way Word saves an edited line, a table with `${tanggal}`, body text over `pages` pages,
    and `${ttd}` where the signature goes."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name = "Arial"
    style.font.size = Pt(11)
    header = document.sections[0].header
    header.is_linked_to_previous = False
    header.paragraphs[0].text = "PEMERINTAH KABUPATEN SUMEDANG"
    kop = header.add_paragraph("DINAS PENANAMAN MODAL DAN PELAYANAN TERPADU SATU PINTU")
    if placeholders:
        kop.add_run(" | Ref. ")
        kop.add_run("${nomor}")
    line = document.add_paragraph("Nomor    : ")
    if placeholders:
        for piece in ("${", "nom", "or", "}"):  # Word splits an edited placeholder into runs like these
            run = line.add_run(piece)
            run.bold = piece == "nom"
    else:
        line.add_run("......")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Tanggal"
    cell = table.cell(0, 1).paragraphs[0]
    if placeholders:
        cell.add_run("${tang")
        cell.add_run("gal}")
    else:
        cell.add_run("......")
    table.cell(1, 0).text = "Perihal"
    table.cell(1, 1).text = perihal
    document.add_paragraph("Yth. Camat se-Kabupaten Sumedang")
    body = (
        "Dengan hormat, bersama ini kami mengundang Saudara untuk menghadiri rapat koordinasi percepatan "
        "perizinan berusaha yang akan diselenggarakan di kantor kami. "
    )
    for _ in range(22 * pages):
        document.add_paragraph(body)
    document.add_paragraph("Kepala Dinas,")
    document.add_paragraph("${ttd}")
    document.add_paragraph("Dr. H. Asep Suryana")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
