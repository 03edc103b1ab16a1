"""Word-exported letters (hybrid xref, object streams, tagged) are numbered, signed and verified like any other."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pikepdf
import pytest
from pdfminer.fontmetrics import FONT_METRICS
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTChar, LTComponent
from pdfminer.pdfdocument import PDFDocument, PDFXRefFallback, PDFXRefStream
from pdfminer.pdfparser import PDFParser
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import XRefSectionType

from suratbot.services import letters
from suratbot.services.keystore import keys_dir, make_demo_keys
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.services.verification import verify_letter
from suratbot.signing import stamping
from suratbot.signing.keys import DemoCA, SignerProfile, create_demo_ca, issue_signer
from suratbot.signing.pades import StampText, sign_pdf, unlock_pkcs12
from suratbot.signing.verify import verify_pdf
from suratbot.storage.models import Letter
from tests.helpers import META, People, people
from tests.word_pdf import (
    CREATED,
    FONT_SIZE,
    LEADING,
    LEFT,
    SAVED_AGAIN,
    TOP,
    annex_lines,
    classic_table_entries,
    footer_text,
    word_style_pdf,
    xref_stream_entries,
)

NOW = datetime.now(UTC)  # pyHanko validates against the wall clock, so the keys live in real time
PASSPHRASE = "uji-coba-word-2026"
KEPALA = SignerProfile("Dr. H. Asep Suryana", "Kepala Dinas", "197001012000031001", "DPMPTSP Kabupaten Sumedang")
SEKRETARIS = SignerProfile("Hj. Rina Marlina", "Sekretaris", "197505152001122002", "DPMPTSP Kabupaten Sumedang")
NOMOR = "500.16/1/DPMPTSP/2026"
TANGGAL = "25 November 2026"

LINES = [
    "PEMERINTAH KABUPATEN SUMEDANG",
    "DINAS PENANAMAN MODAL DAN PELAYANAN TERPADU SATU PINTU",
    "",
    "Nomor      : ${nomor}",
    "Tanggal    : ${tanggal}",
    "Perihal    : Undangan Rapat Koordinasi",
    "",
    "Yth. Camat se-Kabupaten Sumedang",
    "",
    "Dengan hormat, bersama ini kami mengundang Saudara pada rapat koordinasi perizinan.",
    "",
    "Kepala Dinas,",
    "${ttd}",
    "Dr. H. Asep Suryana",
]
ROW = {line.split()[0]: row for row, line in enumerate(LINES) if line}  # "Nomor" -> its line on the page

VARIANTS = [
    pytest.param(1, False, id="1-page"),
    pytest.param(3, False, id="3-pages"),
    pytest.param(1, True, id="1-page-saved-again"),
    pytest.param(3, True, id="3-pages-saved-again"),
]


# --- helpers ---------------------------------------------------------------------------------------------


def helvetica_width(text: str, size: float) -> float:
    """The advance of `text` in Helvetica/Arial at `size` points (what the generator's /Widths say)."""
    return sum(FONT_METRICS["Helvetica"][1][char] for char in text) / 1000 * size


def placeholder_spot(key: str, label: str) -> tuple[float, float]:
    """Where `${key}` starts on the first page of a `LINES` document: after its label, on its line."""
    line = LINES[ROW[label]]
    before = line[: line.index("${" + key)]
    return LEFT + helvetica_width(before, FONT_SIZE), TOP - ROW[label] * LEADING


def chars(pdf: bytes, page: int = 0) -> Iterator[LTChar]:
    """Every character pdfminer lays out on a page."""
    layout = next(iter(extract_pages(io.BytesIO(pdf), page_numbers=[page])))
    stack: list[LTComponent] = [layout]
    while stack:
        item = stack.pop()
        if isinstance(item, LTChar):
            yield item
        elif hasattr(item, "__iter__"):
            stack.extend(item)  # type: ignore[arg-type]


def text_from(pdf: bytes, x: float, y: float, page: int = 0) -> str:
    """The text pdfminer reads on the baseline `y` from `x` rightwards (origin within half a point)."""
    on_line = [c for c in chars(pdf, page) if abs(c.matrix[5] - y) < 0.5 and c.matrix[4] > x - 0.5]
    return "".join(c.get_text() for c in sorted(on_line, key=lambda c: c.matrix[4]))


def qpdf_check(pdf: bytes, tmp_path: Path) -> None:
    """`qpdf --check` when qpdf is installed; the same checks through pikepdf's libqpdf always."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        check = getattr(doc, "check_pdf_syntax", None) or doc.check
        assert check() == []
        assert doc.get_warnings() == []
    if shutil.which("qpdf"):
        path = tmp_path / "check.pdf"
        path.write_bytes(pdf)
        done = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def ca() -> DemoCA:
    return create_demo_ca("DPMPTSP Kabupaten Sumedang", now=NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def kepala_p12(ca: DemoCA) -> bytes:
    return issue_signer(ca, KEPALA, PASSPHRASE, now=NOW - timedelta(hours=1))


@pytest.fixture(scope="module")
def sekretaris_p12(ca: DemoCA) -> bytes:
    return issue_signer(ca, SEKRETARIS, PASSPHRASE, now=NOW - timedelta(hours=1))


def stamp_for(profile: SignerProfile) -> StampText:
    return StampText(profile.nama, profile.jabatan, profile.nip, "https://surat.example.go.id/v/WordHybrid1")


# --- the generator: a genuinely hybrid, valid Word-style file --------------------------------------------


@pytest.mark.parametrize(("pages", "saved_again"), VARIANTS)
def test_the_generated_file_is_hybrid(pages: int, saved_again: bool) -> None:
    pdf = word_style_pdf(LINES, pages=pages, incremental_update=saved_again)
    assert pdf.startswith(b"%PDF-1.7")
    assert re.search(rb"(?<![a-z])xref\r?\n", pdf), "a classic cross-reference table"
    assert b"/XRefStm" in pdf and b"/Type /XRef" in pdf and b"/Type /ObjStm" in pdf
    assert pdf.count(b"%%EOF") == (3 if saved_again else 2)  # Word's two sections, plus the second save

    table = classic_table_entries(pdf)
    in_table = {n for n, kind in table.items() if kind == "n"}
    streams = xref_stream_entries(pdf)
    assert len(streams) == (2 if saved_again else 1)
    stream = {n: row for rows in streams for n, row in rows.items()}  # newest wins
    compressed = {n for n, (kind, _, _) in stream.items() if kind == 2}
    assert compressed, "some objects live in an object stream"
    exported = {n for n, (kind, _, _) in streams[0].items() if kind == 2}
    assert not exported & in_table, "no classic table lists an object that Word put in the object stream"
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        every = {obj.objgen[0] for obj in doc.objects if obj.objgen != (0, 0)}
        assert doc.Root.StructTreeRoot.objgen[0] in compressed
        assert doc.pages[0].Resources.Font.F1.Widths.objgen[0] in compressed
        assert doc.pages[0].Resources.Font.F2.DescendantFonts[0].objgen[0] in compressed
        if saved_again:  # the second save put the new /Info where only its /XRefStm finds it; the table
            info = doc.trailer.Info.objgen[0]  # still points old readers at the first one
            assert info in compressed and info not in exported and table[info] == "n"
    assert len(in_table - (compressed if saved_again else set())) < len(every)
    assert (in_table - compressed) | compressed | {n for n, (kind, _, _) in stream.items() if kind == 1} == every

    # What a PDF 1.4 reader sees (qpdf told to ignore cross-reference streams): pages, but no structure tree.
    with pikepdf.open(io.BytesIO(pdf), ignore_xref_streams=True) as old:
        assert len(old.pages) == pages
        assert old.Root.get("/StructTreeRoot") is None
        assert str(old.trailer.Info.ModDate) == CREATED
        assert old.get_warnings() == []


@pytest.mark.parametrize(("pages", "saved_again"), VARIANTS)
def test_qpdf_pikepdf_pyhanko_and_pdfminer_read_every_page(pages: int, saved_again: bool, tmp_path: Path) -> None:
    pdf = word_style_pdf(LINES, pages=pages, incremental_update=saved_again)
    qpdf_check(pdf, tmp_path)
    modified = SAVED_AGAIN if saved_again else CREATED

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        assert len(doc.pages) == pages
        assert doc.Root.Lang == "id-ID" and doc.Root.MarkInfo.Marked is True
        root = doc.Root.StructTreeRoot
        assert root.K[0].S == "/Document" and len(root.K[0].K) == len([ln for ln in LINES if ln]) + 2 * (pages - 1)
        assert str(doc.trailer.Info.ModDate) == modified
        assert doc.pages[0].Resources.Font.F2.Subtype == "/Type0"
        assert all(float(v) for v in doc.pages[0].Resources.Font.F1.Widths[33:90])  # real widths, not zeros

    reader = PdfFileReader(io.BytesIO(pdf), strict=True)  # pyHanko's strict mode accepts it too
    kids = reader.root["/Pages"]["/Kids"]
    assert int(reader.root["/Pages"]["/Count"]) == len(kids) == pages
    for i in range(pages):
        page = kids[i]  # indexing resolves the reference
        assert page["/Type"] == "/Page" and page["/Contents"].data.count(b"BDC") >= 2
    assert reader.root["/StructTreeRoot"]["/K"][0]["/S"] == "/Document"
    assert str(reader.trailer["/Info"]["/ModDate"]) == modified
    kinds = [reader.xrefs.get_xref_container_info(i).xref_section_type for i in range(reader.xrefs.total_revisions)]
    assert kinds == [XRefSectionType.STANDARD, XRefSectionType.HYBRID_MAIN] + [XRefSectionType.HYBRID_MAIN] * int(
        saved_again
    )

    document = PDFDocument(PDFParser(io.BytesIO(pdf)))
    assert not any(isinstance(x, PDFXRefFallback) for x in document.xrefs), "pdfminer did not have to scan"
    assert sum(isinstance(x, PDFXRefStream) for x in document.xrefs) == 1 + int(saved_again)
    assert document.info[0]["ModDate"].decode() == modified
    texts = extract_text(io.BytesIO(pdf)).split("\f")
    assert len([t for t in texts if t.strip()]) == pages
    for line in LINES:
        assert line in texts[0]
    for n in range(1, pages + 1):
        assert footer_text(n, pages) in texts[n - 1]  # the Type0 footer, its CID font inside the object stream
        if n > 1:
            assert all(line in texts[n - 1] for line in annex_lines(n))


# --- signing the file as it comes from Word ------------------------------------------------------------------


@pytest.mark.parametrize("saved_again", [False, True], ids=["as-exported", "saved-again"])
async def test_a_word_pdf_signs_verifies_and_takes_a_second_signature(
    ca: DemoCA, kepala_p12: bytes, sekretaris_p12: bytes, saved_again: bool, tmp_path: Path
) -> None:
    original = word_style_pdf(LINES, pages=2, incremental_update=saved_again)
    kepala = unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW)
    signed = await sign_pdf(original, kepala, stamp_for(KEPALA))
    assert signed.startswith(original), "signed as an incremental update: Word's bytes are untouched"
    result = await verify_pdf(signed, [ca.cert])
    assert result.ok, result
    [check] = result.signatures
    assert (check.signer, check.intact, check.valid, check.trusted, check.whole_file) == (
        KEPALA.nama,
        True,
        True,
        True,
        True,
    )
    qpdf_check(signed, tmp_path)
    with pikepdf.open(io.BytesIO(signed)) as doc:  # the hidden objects are still found after the update
        assert len(doc.pages) == 2 and doc.Root.StructTreeRoot.K[0].S == "/Document"
        assert [str(a.FT) for a in doc.pages[-1].Annots if "/FT" in a] == ["/Sig"]

    sekretaris = unlock_pkcs12(sekretaris_p12, PASSPHRASE, now=NOW)
    both = await sign_pdf(signed, sekretaris, stamp_for(SEKRETARIS), box=(330, 140, 565, 230))
    assert both.startswith(signed)
    result = await verify_pdf(both, [ca.cert])
    assert [s.signer for s in result.signatures] == [KEPALA.nama, SEKRETARIS.nama]
    assert result.ok, result
    qpdf_check(both, tmp_path)


async def test_a_changed_word_pdf_after_signing_fails(ca: DemoCA, kepala_p12: bytes) -> None:
    original = word_style_pdf(LINES, incremental_update=True)
    signed = bytearray(await sign_pdf(original, unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW), stamp_for(KEPALA)))
    at = signed.index(b"/Type /ObjStm")  # flip a byte of Word's object stream, inside the signed range
    signed[at + 2] ^= 0x01
    result = await verify_pdf(bytes(signed), [ca.cert])
    assert not result.ok and not result.signatures[0].intact


# --- numbering: the placeholders of a Word file ----------------------------------------------------------------


@pytest.mark.parametrize("saved_again", [False, True], ids=["as-exported", "saved-again"])
def test_the_placeholders_of_a_word_pdf_are_found_and_filled(saved_again: bool, tmp_path: Path) -> None:
    pdf = word_style_pdf(LINES, pages=2, incremental_update=saved_again)
    found = {f.key: f for f in stamping.find_placeholders(pdf)}
    assert set(found) == {"nomor", "tanggal", "ttd"}
    for key, label in (("nomor", "Nomor"), ("tanggal", "Tanggal"), ("ttd", "${ttd}")):
        x, y = placeholder_spot(key, label)
        spot = found[key]
        assert spot.page == 0 and spot.size == pytest.approx(FONT_SIZE)
        assert (spot.x, spot.y) == (pytest.approx(x, abs=0.01), pytest.approx(y, abs=0.01))
        assert len(spot.glyphs) == len("${" + key + "}")  # gathered from three TJ runs

    stamped = stamping.fill(pdf, {"nomor": NOMOR, "tanggal": TANGGAL})
    qpdf_check(stamped, tmp_path)
    text = extract_text(io.BytesIO(stamped))
    assert "${nomor}" not in text and "${tanggal}" not in text and "${ttd}" in text
    assert text_from(stamped, *placeholder_spot("nomor", "Nomor")) == NOMOR
    assert text_from(stamped, *placeholder_spot("tanggal", "Tanggal")) == TANGGAL
    assert text_from(stamped, LEFT, TOP - ROW["Nomor"] * LEADING).startswith("Nomor      : " + NOMOR)
    with pikepdf.open(io.BytesIO(stamped)) as doc:  # still a tagged document
        assert len(doc.pages) == 2 and doc.Root.StructTreeRoot.K[0].S == "/Document"
        assert doc.Root.Lang == "id-ID" and doc.Root.MarkInfo.Marked is True


# --- end to end: a Word concept through the SOP ----------------------------------------------------------


async def to_signing(office: Office, p: People, concept: bytes) -> Letter:
    """A Word concept submitted by the drafter, approved by Kasi and Kabid, and numbered by the clerk."""
    letter = await letters.submit(office, p.drafter, Upload(concept, "Undangan Rapat Koordinasi.pdf"), META)
    assert letter.state == "verifikasi_1"
    letter = await letters.approve(office, letter.id, p.kasi)
    assert letter.state == "verifikasi_2"
    letter = await letters.approve(office, letter.id, p.kabid)
    assert letter.state == "penomoran"
    letter = await letters.assign_number(office, letter.id, p.clerk)
    assert letter.state == "tanda_tangan"
    return letter


@pytest.mark.parametrize("saved_again", [False, True], ids=["as-exported", "saved-again"])
async def test_a_word_concept_is_numbered_signed_and_verified(office: Office, saved_again: bool) -> None:
    from suratbot.services.signature import sign_letter

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    concept = word_style_pdf(LINES, pages=2, incremental_update=saved_again)
    letter = await to_signing(office, p, concept)
    assert letter.nomor == NOMOR

    numbered = office.files.get(letter.current_version)
    assert text_from(numbered, *placeholder_spot("nomor", "Nomor")) == NOMOR
    assert text_from(numbered, *placeholder_spot("tanggal", "Tanggal")) == TANGGAL

    signed_letter = await sign_letter(office, letter.id, p.kepala, PASSPHRASE, expected_state="tanda_tangan")
    assert signed_letter.state == "pengiriman"
    signed = office.files.get(signed_letter.current_version)
    text = extract_text(io.BytesIO(signed))
    assert NOMOR in text and "${nomor}" not in text and "${ttd}" not in text
    assert text_from(signed, *placeholder_spot("nomor", "Nomor")) == NOMOR

    result = await verify_letter(office, signed)
    assert result.ok, result
    assert (result.letter_id, result.nomor) == (letter.id, NOMOR)
    [check] = result.verification.signatures
    assert check.signer == KEPALA.nama and check.whole_file


async def test_a_word_concept_signed_before_upload_keeps_its_signature(office: Office, sekretaris_p12: bytes) -> None:
    """A concept that comes signed already is not rewritten: Kepala Dinas' signature goes onto Word's own hybrid
    file as one more incremental update, and both signatures verify."""
    from suratbot.services.signature import sign_letter

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    elsewhere = create_demo_ca("Sekretariat Daerah Kabupaten Sumedang", now=NOW - timedelta(days=1))
    trust = keys_dir(office) / "trust"
    trust.mkdir(parents=True, exist_ok=True)
    (trust / "setda.pem").write_bytes(elsewhere.cert_pem())
    co_signer = unlock_pkcs12(
        issue_signer(elsewhere, SEKRETARIS, PASSPHRASE, now=NOW - timedelta(hours=1)), PASSPHRASE, now=NOW
    )
    word = word_style_pdf(LINES, incremental_update=True)
    concept = await sign_pdf(word, co_signer, stamp_for(SEKRETARIS), box=(330, 140, 565, 230))

    p = await people(office)
    letter = await to_signing(office, p, concept)
    assert office.files.get(letter.current_version) == concept, "a signed concept keeps its bytes"
    signed_letter = await sign_letter(office, letter.id, p.kepala, PASSPHRASE, expected_state="tanda_tangan")
    signed = office.files.get(signed_letter.current_version)
    assert signed.startswith(concept) and signed.startswith(word)

    result = await verify_letter(office, signed)
    assert [s.signer for s in result.verification.signatures] == [SEKRETARIS.nama, KEPALA.nama]
    assert result.ok, result
