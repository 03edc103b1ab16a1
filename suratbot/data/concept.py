"""A small, valid one-page concept letter as PDF bytes, for the demo, the benchmark and the tests."""

from __future__ import annotations


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def concept_pdf(lines: list[str], *, pages: int = 1) -> bytes:
    """An A4 document of `pages` pages, each with `lines` of Helvetica text (Latin-1), and a correct xref table."""
    content = ["BT", "/F1 11 Tf", "14 TL", "72 770 Td"]
    for line in lines:
        content.append(f"({_escape(line)}) Tj T*")
    content.append("ET")
    stream = "\n".join(content).encode("latin-1", "replace")
    # Objects: 1 catalog, 2 pages, 3 font, then a page and its content stream for each page.
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {5 + 2 * i} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def example_letter(perihal: str, tujuan: str, *, version: int = 1, pages: int = 1) -> bytes:
    """A concept letter of the DPMPTSP with the placeholders the numbering and signing steps fill in."""
    return concept_pdf(
        [
            "PEMERINTAH KABUPATEN SUMEDANG",
            "DINAS PENANAMAN MODAL DAN PELAYANAN TERPADU SATU PINTU",
            "",
            "Nomor    : ${nomor}",
            "Tanggal  : ${tanggal}",
            f"Perihal  : {perihal}",
            "",
            f"Yth. {tujuan}",
            "",
            "Dengan hormat, bersama ini kami sampaikan hal tersebut di atas untuk menjadi perhatian.",
            f"(konsep versi {version})",
            "",
            "Kepala Dinas,",
            "${ttd}",
        ],
        pages=pages,
    )
