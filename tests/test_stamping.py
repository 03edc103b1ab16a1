"""The number and date go into the PDF exactly where the placeholders are, as searchable text."""

from __future__ import annotations

import io

import pikepdf
import pytest
from pdfminer.high_level import extract_text

from suratbot.data.concept import concept_pdf, example_letter
from suratbot.signing.stamping import FallbackBox, StampingError, fill, find_placeholders

NOMOR = "500.16/7/DPMPTSP/2026"
TANGGAL = "26 November 2026"


def raw_page_pdf(content: bytes) -> bytes:
    """A one-page PDF with this content stream and Helvetica as /F1 (for hand-made text runs)."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    page.obj.Resources = pikepdf.Dictionary(
        Font=pikepdf.Dictionary(
            F1=pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
        )
    )
    page.obj.Contents = pdf.make_stream(content)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def text_of(pdf: bytes) -> str:
    return extract_text(io.BytesIO(pdf))


def test_the_placeholders_are_found_with_their_place_and_size() -> None:
    found = {f.key: f for f in find_placeholders(example_letter("Rapat", "Camat"))}
    assert set(found) == {"nomor", "tanggal", "ttd"}
    assert (found["nomor"].page, round(found["nomor"].y), found["nomor"].size) == (0, 728, 11.0)
    assert found["tanggal"].y == found["nomor"].y - 14  # the next line (14 pt leading)


def test_number_and_date_replace_the_placeholders_as_text() -> None:
    stamped = fill(example_letter("Rapat", "Camat"), {"nomor": NOMOR, "tanggal": TANGGAL})
    text = text_of(stamped)
    assert NOMOR in text and TANGGAL in text
    assert "${nomor}" not in text and "${tanggal}" not in text
    assert "${ttd}" in text, "the signature's place is left for the signer"
    [nomor] = [f for f in find_placeholders(stamped) if f.key == "nomor"] or [None]
    assert nomor is None


def test_a_placeholder_split_over_text_runs_is_replaced_and_the_line_does_not_move() -> None:
    content = (
        b"BT /F1 12 Tf 72 700 Td (Nomor : $) Tj ({nom) Tj [(or) -50 (}) ] TJ ( - lampiran) Tj ET\n"
        b"BT /F1 12 Tf 72 680 Td [([tang) 20 (gal]) ( akhir)] TJ ET"
    )
    pdf = raw_page_pdf(content)
    before = {f.key: f for f in find_placeholders(pdf)}
    assert set(before) == {"nomor", "tanggal"}
    stamped = fill(pdf, {"nomor": NOMOR, "tanggal": TANGGAL})
    text = text_of(stamped)
    assert NOMOR in text and TANGGAL in text and "{nom" not in text and "[tang" not in text
    # What follows a placeholder makes room for the value: it keeps its distance from the value's end.
    from suratbot.signing.stamping import _glyphs, _helvetica_width

    def glyphs_of(data: bytes) -> list:
        with pikepdf.open(io.BytesIO(data)) as doc:
            page = doc.pages[0]
            return _glyphs(page, list(pikepdf.parse_content_stream(page)))

    def x_of(glyphs: list, word: str) -> float:
        return glyphs["".join(g.char for g in glyphs).index(word)].x

    for key, value, word in (("nomor", NOMOR, "lampiran"), ("tanggal", TANGGAL, "akhir")):
        spot = before[key]
        last = spot.glyphs[-1]
        distance = x_of(glyphs_of(pdf), word) - (last.x + last.width / 1000 * last.size)
        value_end = spot.x + _helvetica_width(value) / 1000 * spot.size
        assert x_of(glyphs_of(stamped), word) - value_end == pytest.approx(distance, abs=1.0), key


def test_a_long_value_in_running_text_does_not_overprint_what_follows() -> None:
    pdf = raw_page_pdf(b"BT /F1 11 Tf 72 700 Td (Menindaklanjuti surat Nomor ${nomor} tanggal kemarin.) Tj ET")
    stamped = fill(pdf, {"nomor": NOMOR})
    from suratbot.signing.stamping import _glyphs, _helvetica_width

    with pikepdf.open(io.BytesIO(stamped)) as doc:
        page = doc.pages[0]
        glyphs = _glyphs(page, list(pikepdf.parse_content_stream(page)))
    chars = "".join(g.char for g in glyphs)
    value = next(g for g in glyphs if g.char == "5")  # the value is drawn as its own text
    after = glyphs[chars.index("tanggal")]
    assert after.x >= value.x + _helvetica_width(NOMOR) / 1000 * 11


def test_leftover_page_state_does_not_reach_the_added_text() -> None:
    # The page ends with a scaled CTM and invisible text mode still in force.
    pdf = raw_page_pdf(b"BT /F1 11 Tf 72 700 Td (Nomor: ${nomor}) Tj ET 0.5 0 0 0.5 0 0 cm BT 3 Tr ET")
    stamped = fill(pdf, {"nomor": NOMOR})
    with pikepdf.open(io.BytesIO(stamped)) as doc:
        ops = [(str(i.operator), list(i.operands)) for i in pikepdf.parse_content_stream(doc.pages[0])]
    names = [name for name, _ in ops]
    assert names[0] == "q" and "Q" in names
    assert names.index("Q") < names.index("Tm")  # the page's own state is closed before our text starts
    assert ("Tr", [0]) in [(n, [int(a) for a in args]) for n, args in ops if n == "Tr"]


def test_without_placeholders_the_values_go_into_the_box() -> None:
    pdf = concept_pdf(["Surat tanpa tempat nomor."])
    stamped = fill(pdf, {"nomor": NOMOR}, fallback={"nomor": FallbackBox(300, 800, 10)})
    assert NOMOR in text_of(stamped)
    with pikepdf.open(io.BytesIO(stamped)) as doc:
        ops = [str(i.operator) for i in pikepdf.parse_content_stream(doc.pages[0])]
    assert ops.count("BT") == 2


def test_bad_pdfs_are_refused_in_indonesian() -> None:
    with pytest.raises(StampingError) as damaged:
        fill(b"%PDF-1.7 rusak", {"nomor": NOMOR})
    assert damaged.value.code == "pdf_rusak"
    pdf = pikepdf.open(io.BytesIO(example_letter("a", "b")))
    out = io.BytesIO()
    pdf.save(out, encryption=pikepdf.Encryption(owner="pemilik", user="pengguna"))
    with pytest.raises(StampingError) as locked:
        fill(out.getvalue(), {"nomor": NOMOR})
    assert locked.value.code == "pdf_terkunci"


def test_a_150_page_letter_is_numbered_on_its_first_page() -> None:
    stamped = fill(example_letter("Lampiran", "OPD", pages=150), {"nomor": NOMOR, "tanggal": TANGGAL})
    with pikepdf.open(io.BytesIO(stamped)) as doc:
        assert len(doc.pages) == 150
    assert text_of(stamped).count(NOMOR) == 150  # every page of this test letter carries the placeholder


def test_the_footer_is_real_text_on_every_page_with_its_punctuation() -> None:
    from suratbot.signing.stamping import add_footer

    lines = ["Ditandatangani dengan sertifikat dari BSrE (BSSN) \\ uji.", "Periksa di https://x.go.id/v/Ab-9_"]
    footed = add_footer(example_letter("a", "b", pages=2), lines)
    text = text_of(footed)
    assert text.count("Ditandatangani dengan sertifikat dari BSrE (BSSN) \\ uji.") == 2
    assert text.count("https://x.go.id/v/Ab-9_") == 2
