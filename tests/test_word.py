"""Word concepts with the real LibreOffice: the warm converter and the cold fallback, placeholders filled in
the DOCX (split across runs, in a table, in the header) and read back from the PDF, the number written into a
Word letter at numbering, and every bad Word file refused with its reason."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pdfminer.high_level import extract_text

from suratbot.services import letters, word
from suratbot.services.converter import ColdConverter, WarmConverter, soffice_path
from suratbot.services.office import Office
from suratbot.storage.models import Letter
from suratbot.workflow.machine import Refusal
from tests.conftest import postgres_required
from tests.helpers import META, People, people
from tests.word_docs import concept_docx, text_of_docx

if soffice_path() is None and not postgres_required():  # CI must not skip: it fails below instead
    pytest.skip("LibreOffice is not installed (make test installs it)", allow_module_level=True)


async def approved(office: Office, p: People, concept: word.WordConcept) -> Letter:
    """A Word concept submitted and approved by both verifiers: waiting for its number."""
    letter = await letters.submit(office, p.drafter, concept.pdf, META, word=concept.docx)
    await letters.approve(office, letter.id, p.kasi)
    return await letters.approve(office, letter.id, p.kabid)


def pdf_text(data: bytes) -> str:
    return " ".join(extract_text(io.BytesIO(data)).split())


@pytest.fixture
async def warm() -> AsyncIterator[WarmConverter]:
    assert soffice_path() is not None, "LibreOffice is required here (scripts/ensure-system installs it)"
    converter = WarmConverter(timeout=20)
    await converter.start()
    yield converter
    await converter.close()


def test_placeholders_are_filled_across_runs_in_tables_and_headers() -> None:
    filled, found = word.fill(concept_docx(), {"nomor": "500.16/7/DPMPTSP/2026", "tanggal": "26 November 2026"})
    assert found == {"nomor", "tanggal"}
    text = text_of_docx(filled)
    assert "Nomor    : 500.16/7/DPMPTSP/2026" in text  # the run split ${ / nom / or / } became one number
    assert "26 November 2026" in text and "Ref. 500.16/7/DPMPTSP/2026" in text  # table cell and header
    assert "${nomor}" not in text and "${tanggal}" not in text and "${ttd}" in text  # the signature's place stays
    untouched, none = word.fill(concept_docx(placeholders=False), {"nomor": "1", "tanggal": "2"})
    assert none == set() and "......" in text_of_docx(untouched)


async def test_the_warm_converter_makes_the_pdf_and_is_much_faster_than_a_cold_start(warm: WarmConverter) -> None:
    filled, _ = word.fill(concept_docx(), {"nomor": "500.16/7/DPMPTSP/2026", "tanggal": "26 November 2026"})
    pdf = await warm.convert(filled, ".docx", "pdf")
    text = pdf_text(pdf)
    assert "500.16/7/DPMPTSP/2026" in text and "26 November 2026" in text and "${ttd}" in text
    assert "PEMERINTAH KABUPATEN SUMEDANG" in text
    cold = await ColdConverter().convert(filled, ".docx", "pdf")
    assert "500.16/7/DPMPTSP/2026" in pdf_text(cold)


async def test_odt_and_old_doc_become_docx_and_bad_files_are_refused(warm: WarmConverter, tmp_path: Path) -> None:
    docx = concept_docx()
    source = tmp_path / "konsep.docx"
    source.write_bytes(docx)
    for target in ("odt", "doc"):  # made by LibreOffice itself, as an office's older files are
        await asyncio.to_thread(
            subprocess.run,
            [soffice_path() or "soffice", f"-env:UserInstallation=file://{tmp_path}/profil", "--headless",
             "--convert-to", target, "--outdir", str(tmp_path), str(source)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        data = (tmp_path / f"konsep.{target}").read_bytes()
        assert word.kind_of(data, f"konsep.{target}") == target
        concept = await word.concept_from_word(warm, data, f"konsep.{target}", 20_000_000)
        assert word.kind_of(concept.docx.data, "x.docx") == "docx" and concept.docx.filename == "konsep.docx"
        assert "${nomor}" in text_of_docx(concept.docx.data)  # still fillable
        assert "Camat se-Kabupaten Sumedang" in pdf_text(concept.pdf.data)

    encrypted = word.OLE + b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512
    with pytest.raises(Refusal, match="kata sandi"):
        word.kind_of(encrypted, "rahasia.docx")
    macro = io.BytesIO()
    with zipfile.ZipFile(macro, "w") as archive, zipfile.ZipFile(io.BytesIO(docx)) as plain:
        for item in plain.namelist():
            archive.writestr(item, plain.read(item))
        archive.writestr("word/vbaProject.bin", b"\x00macro")
    with pytest.raises(Refusal, match="bermakro"):
        word.kind_of(macro.getvalue(), "konsep.docx")
    with pytest.raises(Refusal, match="bermakro"):
        word.kind_of(docx, "konsep.docm")
    with pytest.raises(Refusal, match="rusak"):
        word.kind_of(docx[: len(docx) // 2], "terpotong.docx")
    with pytest.raises(Refusal, match="bukan dokumen Word"):
        word.kind_of(b"PK\x03\x04" + zipfile_of({"isi.txt": b"halo"})[4:], "arsip.docx")


def zipfile_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


async def test_a_conversion_that_takes_too_long_is_stopped_and_the_next_one_works() -> None:
    converter = WarmConverter(timeout=2)
    try:
        huge = concept_docx(pages=400)  # far more than two seconds of layout
        with pytest.raises(Refusal) as slow:
            await converter.convert(huge, ".docx", "pdf")
        assert slow.value.code == "konversi_terlalu_lama"
        pdf = await converter.convert(concept_docx(pages=1), ".docx", "pdf")  # a fresh LibreOffice
        assert pdf.startswith(b"%PDF")
        # LibreOffice killed from outside (a crash): the next conversion starts it again.
        assert converter.pid is not None
        os.killpg(converter.pid, signal.SIGKILL)
        pdf = await converter.convert(concept_docx(pages=1), ".docx", "pdf")
        assert pdf.startswith(b"%PDF") and converter.restarts >= 1
    finally:
        await converter.close()
    with pytest.raises(Refusal) as cold_slow:
        await ColdConverter(timeout=0.5).convert(concept_docx(), ".docx", "pdf")
    assert cold_slow.value.code == "konversi_terlalu_lama"


async def test_numbering_writes_into_the_word_file_or_the_box_when_it_has_no_placeholders(
    office: Office, warm: WarmConverter
) -> None:
    office.converter = warm
    try:
        p = await people(office)
        for placeholders in (True, False):
            concept = await word.concept_from_word(
                warm, concept_docx(placeholders=placeholders), "konsep.docx", office.max_file_bytes
            )
            letter = await approved(office, p, concept)
            assert letter.word_version is not None
            letter = await letters.assign_number(office, letter.id, p.clerk)
            assert letter.nomor is not None
            text = pdf_text(office.files.get(letter.current_version))
            assert letter.nomor in text and "${nomor}" not in text and "${tanggal}" not in text
            numbered_docx = text_of_docx(office.files.get(letter.word_version or ""))
            if placeholders:
                assert f"Nomor    : {letter.nomor}" in numbered_docx  # in the Word file itself
            else:
                assert letter.nomor not in numbered_docx  # the PDF's box took it; the Word file is as sent
    finally:
        office.converter = ColdConverter()


async def test_the_office_template_and_an_admins_own(office: Office) -> None:
    from suratbot.handlers import router
    from suratbot.handlers.types import Inbound, IncomingFile
    from suratbot.storage.models import ChannelBinding

    p = await people(office)
    async with office.uow() as uow:
        for address, staff_id in (("8001", p.drafter), ("8002", p.clerk)):  # the clerk is an admin
            uow.session.add(ChannelBinding(staff_id=staff_id, channel="telegram", address=address,
                                           bound_at=office.now(), last_seen_at=office.now()))  # fmt: skip

    async def say(address: str, text: str) -> str:
        command, _, args = text[1:].partition(" ")
        response = await router.handle(office, Inbound("telegram", address, text=text, command=command, args=args))
        return response.replies[0].text if response.replies else response.answer or ""

    async def template(address: str) -> bytes:
        response = await router.handle(office, Inbound("telegram", address, text="/templat", command="templat"))
        document = response.replies[0].document
        assert document is not None and document.filename == "templat-surat.docx"
        return office.files.get(document.sha256)

    generated = await template("8001")
    text = text_of_docx(generated)
    assert "${nomor}" in text and "${tanggal}" in text and "DINAS PENANAMAN MODAL" in text
    filled, found = word.fill(generated, {"nomor": "1", "tanggal": "2"})
    assert found == {"nomor", "tanggal"} and "${" not in text_of_docx(filled).replace("${ttd}", "")

    assert "Hanya admin" in await say("8001", "/templat ganti")
    assert "Kirim berkas templat" in await say("8002", "/templat ganti")
    own = concept_docx("Templat kantor sendiri")

    async def fetch() -> bytes:
        return own

    upload = IncomingFile("templat.docx", word.DOCX, len(own), fetch)
    answer = await router.handle(office, Inbound("telegram", "8002", file=upload))
    assert "Templat surat kantor diganti" in answer.replies[0].text
    assert text_of_docx(await template("8001")) == text_of_docx(own)
    assert "bawaan" in await say("8002", "/templat bawaan")
    assert "DINAS PENANAMAN MODAL" in text_of_docx(await template("8001"))


def _with_tracked_insertion(docx: bytes) -> bytes:
    """The concept with `${nomor}` of its Nomor line inside a tracked insertion (w:ins), as Word saves an
    edit made with Track Changes on."""
    from docx import Document
    from docx.oxml import parse_xml

    document = Document(io.BytesIO(docx))
    line = next(p for p in document.paragraphs if p.text.startswith("Nomor"))
    for run in list(line.runs)[1:]:
        run._r.getparent().remove(run._r)
    namespace = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    line._p.append(parse_xml(
        f'<w:ins {namespace} w:id="1" w:author="Konseptor" w:date="2026-11-26T09:00:00Z">'
        "<w:r><w:t>${no</w:t></w:r><w:r><w:t>mor}</w:t></w:r></w:ins>"
    ))  # fmt: skip
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_placeholders_in_tracked_changes_are_filled_and_broken_archives_are_damaged() -> None:
    tracked = _with_tracked_insertion(concept_docx())
    filled, found = word.fill(tracked, {"nomor": "500.16/9/DPMPTSP/2026", "tanggal": "26 November 2026"})
    assert found == {"nomor", "tanggal"}
    assert "${nomor}" not in word.text_of(filled) and "Nomor    : 500.16/9/DPMPTSP/2026" in word.text_of(filled)
    docx = concept_docx()
    spot = docx.find(b"word/document.xml") + 200  # inside its compressed data
    broken = docx[:spot] + bytes(b ^ 0xFF for b in docx[spot : spot + 64]) + docx[spot + 64 :]
    with pytest.raises(Refusal) as damaged:
        word.kind_of(broken, "rusak.docx")
    assert damaged.value.code == "word_rusak"
    bomb = zipfile_of({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<t/>", "isi.bin": b"\0" * 210_000_000})
    with pytest.raises(Refusal) as big:
        word.kind_of(bomb, "bom.docx")
    assert big.value.code == "word_terlalu_besar"


class _Broken:
    """A converter that fails at numbering (LibreOffice down at that moment)."""

    async def convert(self, data: bytes, suffix: str, target: str) -> bytes:
        raise Refusal("konversi_tidak_tersedia", "tidak tersedia")

    async def close(self) -> None:
        return None


async def test_a_returned_word_letter_resubmitted_numbered_gets_its_number_once(
    office: Office, warm: WarmConverter
) -> None:
    office.converter = warm
    try:
        p = await people(office)
        concept = await word.concept_from_word(warm, concept_docx(), "konsep.docx", office.max_file_bytes)
        letter = await letters.assign_number(office, (await approved(office, p, concept)).id, p.clerk)
        assert letter.nomor is not None
        first = pdf_text(office.files.get(letter.current_version))  # the number in the header of each page, too
        letter = await letters.return_letter(office, letter.id, p.kepala, note="Lampiran kurang.")
        numbered_docx = office.files.get(letter.word_version or "")  # the drafter edits the numbered Word file
        again = await word.concept_from_word(warm, numbered_docx, "konsep-bernomor.docx", office.max_file_bytes)
        assert again.placeholders == frozenset()
        letter = await letters.resubmit(office, letter.id, p.drafter, again.pdf, word=again.docx)
        if letter.state == "penomoran":
            letter = await letters.assign_number(office, letter.id, p.clerk)
        text = pdf_text(office.files.get(letter.current_version))
        assert text.count(letter.nomor) == first.count(letter.nomor)  # not once more in the box
        assert text.count("November 2026") == first.count("November 2026")

        # LibreOffice down at the moment of numbering: the letter's own PDF is stamped instead.
        other = await word.concept_from_word(warm, concept_docx("Surat kedua"), "dua.docx", office.max_file_bytes)
        second = await approved(office, p, other)
        office.converter = _Broken()
        second = await letters.assign_number(office, second.id, p.clerk)
        text = pdf_text(office.files.get(second.current_version))
        assert second.nomor is not None and second.nomor in text and "${nomor}" not in text
    finally:
        office.converter = ColdConverter()


async def test_bad_word_files_in_chat_are_refused_with_their_reason_and_change_nothing(office: Office) -> None:
    from sqlalchemy import func, select

    from suratbot.handlers import router
    from suratbot.handlers.types import Inbound, IncomingFile
    from suratbot.storage.models import ChannelBinding, Letter

    p = await people(office)
    async with office.uow() as uow:
        uow.session.add(ChannelBinding(staff_id=p.drafter, channel="telegram", address="9001",
                                       bound_at=office.now(), last_seen_at=office.now()))  # fmt: skip
    docx = concept_docx()
    macro = io.BytesIO()
    with zipfile.ZipFile(macro, "w") as archive, zipfile.ZipFile(io.BytesIO(docx)) as plain:
        for item in plain.namelist():
            archive.writestr(item, plain.read(item))
        archive.writestr("word/vbaProject.bin", b"\x00")
    cases = {
        "rahasia.docx": (word.OLE + "EncryptedPackage".encode("utf-16-le") + b"\0" * 600, "kata sandi"),
        "makro.docm": (macro.getvalue(), "bermakro"),
        "terpotong.docx": (docx[: len(docx) // 3], "rusak"),
        "bukan.docx": (zipfile_of({"a.txt": b"x"}), "bukan dokumen Word"),
    }
    for name, (data, reason) in cases.items():

        async def fetch(data: bytes = data) -> bytes:
            return data

        file = IncomingFile(name, word.DOCX, len(data), fetch)
        response = await router.handle(office, Inbound("telegram", "9001", file=file))
        assert reason in response.replies[0].text, name
    async with office.reading() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(Letter)) == 0
    from suratbot.services import prompts

    assert await prompts.pending(office, p.drafter) is None  # nothing started either


async def test_a_word_letter_with_only_the_number_placeholder_keeps_its_date_when_sent_back(
    office: Office, warm: WarmConverter
) -> None:
    from suratbot.services.notices import indonesian_date

    office.converter = warm
    try:
        p = await people(office)
        only_number, _ = word.fill(concept_docx(), {"tanggal": "......"})  # ${nomor} stays, ${tanggal} gone
        concept = await word.concept_from_word(warm, only_number, "konsep.docx", office.max_file_bytes)
        assert concept.placeholders == frozenset({"nomor"})
        letter = await letters.assign_number(office, (await approved(office, p, concept)).id, p.clerk)
        assert letter.nomor is not None and letter.letter_date is not None
        date = indonesian_date(letter.letter_date)
        first = pdf_text(office.files.get(letter.current_version))
        assert date in first and letter.nomor in first  # the date in the box, the number in the Word file
        letter = await letters.return_letter(office, letter.id, p.kepala, note="Perbaiki paragraf dua.")
        back = await word.concept_from_word(
            warm, office.files.get(letter.word_version or ""), "bernomor.docx", office.max_file_bytes
        )
        letter = await letters.resubmit(office, letter.id, p.drafter, back.pdf, word=back.docx)
        if letter.state == "penomoran":
            letter = await letters.assign_number(office, letter.id, p.clerk)
        again = pdf_text(office.files.get(letter.current_version))
        assert again.count(date) == first.count(date) and again.count(letter.nomor) == first.count(letter.nomor)
    finally:
        office.converter = ColdConverter()
