"""Every letter service, every refusal: state, holder, clock, audit, outbox and files, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.storage.models import AuditEvent, FileVersion, IssuedNumber, Letter, OutboxMessage
from suratbot.workflow.letter import LetterMeta
from suratbot.workflow.machine import Refusal
from tests.conftest import WIB, FakeClock
from tests.helpers import META, People, audit_of, letter_at, outbox_of, pdf, people, reload


async def counts(office: Office) -> tuple[int, int, int, int]:
    async with office.uow() as uow:
        s = uow.session
        return (
            int(await s.scalar(select(func.count()).select_from(Letter)) or 0),
            int(await s.scalar(select(func.count()).select_from(AuditEvent)) or 0),
            int(await s.scalar(select(func.count()).select_from(OutboxMessage)) or 0),
            int(await s.scalar(select(func.count()).select_from(FileVersion)) or 0),
        )


async def assert_refused(office: Office, code: str, call, letter_id: str | None = None) -> Refusal:
    """`call` is refused with `code` and changes nothing at all."""
    before = await counts(office)
    snapshot = await reload(office, letter_id) if letter_id else None
    with pytest.raises(Refusal) as info:
        await call()
    assert info.value.code == code, info.value
    assert info.value.message.endswith("."), info.value.message
    assert await counts(office) == before
    if letter_id:
        after = await reload(office, letter_id)
        for column in ("state", "holder_id", "return_state", "nomor", "current_version", "revision", "step_due_at"):
            assert getattr(after, column) == getattr(snapshot, column), column
    return info.value


# --- submit ---------------------------------------------------------------------------------------------


async def test_submit_stores_the_concept_and_sends_it_to_verifier_1(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    upload = pdf()
    letter = await letters.submit(office, p.drafter, upload, META)

    assert letter.state == "verifikasi_1"
    assert letter.holder_id == p.kasi
    assert len(letter.id) >= 20  # not guessable, not sequential
    assert letter.step_started_at == clock.now
    assert letter.step_due_at == datetime(2026, 11, 25, 10, 0, tzinfo=WIB)  # 60 working minutes
    assert letter.step_escalate_at == datetime(2026, 11, 25, 11, 0, tzinfo=WIB)

    digest = hashlib.sha256(upload.data).hexdigest()
    assert letter.current_version == digest
    assert office.files.get(digest) == upload.data
    stored = list((office.files.root).rglob("*"))
    assert not any(path.name == upload.filename for path in stored), "never stored under the user's file name"

    events = await audit_of(office, letter.id)
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        ("buat", None, "konsep"),
        ("ajukan", "konsep", "verifikasi_1"),
    ]
    assert all(e.version_sha256 == digest and e.actor_id == p.drafter for e in events)

    outbox = await outbox_of(office, letter.id)
    assert [(m.recipient_id, m.kind) for m in outbox] == [(p.kasi, "tugas")]
    task = outbox[0]
    assert task.actions == ["setujui", "revisi"]
    assert task.attachment_sha256 == digest
    assert task.expected_state == "verifikasi_1"
    assert "Undangan Rapat Koordinasi" in task.text and "60 menit" in task.text
    assert task.status == "pending"


async def test_a_step_started_friday_afternoon_is_due_monday(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    clock.now = datetime(2026, 11, 27, 16, 20, tzinfo=WIB)  # Friday, 10 minutes before closing
    letter = await letters.submit(office, p.drafter, pdf(), META)
    assert letter.step_due_at == datetime(2026, 11, 30, 8, 20, tzinfo=WIB)


async def test_only_drafters_submit(office: Office) -> None:
    p = await people(office)
    await assert_refused(office, "bukan_konseptor", lambda: letters.submit(office, p.kepala, pdf(), META))


async def test_unknown_actor_is_refused(office: Office) -> None:
    await assert_refused(office, "tidak_dikenal", lambda: letters.submit(office, 999_999, pdf(), META))


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (Upload(b"", "kosong.pdf"), "berkas_kosong"),
        (Upload(b"PK\x03\x04word", "konsep.docx", "application/vnd.openxmlformats"), "bukan_pdf"),
        (Upload(b"just text, not a pdf\n%%EOF", "konsep.pdf"), "bukan_pdf"),
        (Upload(pdf().data[:300], "terpotong.pdf"), "pdf_rusak"),
        (Upload(pdf().data.replace(b"/Root 1 0 R", b"/Root 1 0 R /Encrypt 9 0 R"), "terkunci.pdf"), "pdf_terkunci"),
    ],
    ids=["empty", "docx", "text", "truncated", "encrypted"],
)
async def test_bad_files_are_refused_and_nothing_is_stored(office: Office, upload: Upload, code: str) -> None:
    p = await people(office)
    await assert_refused(office, code, lambda: letters.submit(office, p.drafter, upload, META))
    assert not office.files.root.exists() or not any(office.files.root.rglob("*.*"))


async def test_too_large_file_is_refused(office: Office) -> None:
    p = await people(office)
    small = dataclasses.replace(office, max_file_bytes=1000)
    refusal = await assert_refused(
        office, "berkas_terlalu_besar", lambda: letters.submit(small, p.drafter, pdf(), META)
    )
    assert "MB" in refusal.message


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"perihal": "  "}, "perihal_kosong"),
        ({"tujuan": ""}, "tujuan_kosong"),
        ({"sifat": "Rahasia Sekali"}, "sifat_salah"),
        ({"urgensi": "Kilat"}, "urgensi_salah"),
        ({"klasifikasi": "5.16"}, "klasifikasi_salah"),
    ],
)
async def test_bad_metadata_is_refused(office: Office, changes: dict[str, str], code: str) -> None:
    p = await people(office)
    meta = dataclasses.replace(META, **changes)
    await assert_refused(office, code, lambda: letters.submit(office, p.drafter, pdf(), meta))


# --- review ---------------------------------------------------------------------------------------------


async def test_approve_records_the_paraf_and_moves_on(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    letter = await letters.submit(office, p.drafter, pdf(), META)
    clock.advance(minutes=7)
    letter = await letters.approve(office, letter.id, p.kasi, expected_state="verifikasi_1")
    assert (letter.state, letter.holder_id) == ("verifikasi_2", p.kabid)
    event = (await audit_of(office, letter.id))[-1]
    assert (event.action, event.actor_id, event.from_state, event.to_state) == (
        "setujui",
        p.kasi,
        "verifikasi_1",
        "verifikasi_2",
    )
    assert event.details["paraf"]["nama"] == "Lina Herlina"
    assert event.details["paraf"]["jabatan"] == "Kepala Seksi Perizinan Usaha"
    outbox = await outbox_of(office, letter.id)
    assert [(m.recipient_id, m.kind) for m in outbox[1:]] == [(p.kabid, "tugas"), (p.drafter, "kabar")]
    assert "Lina Herlina" in outbox[-1].text and "Verifikasi 2" in outbox[-1].text


async def test_a_second_tap_and_a_stranger_change_nothing(office: Office) -> None:
    p = await people(office)
    letter = await letters.submit(office, p.drafter, pdf(), META)
    await letters.approve(office, letter.id, p.kasi, expected_state="verifikasi_1")
    second = lambda: letters.approve(office, letter.id, p.kasi, expected_state="verifikasi_1")  # noqa: E731
    refusal = await assert_refused(office, "tahap_berubah", second, letter.id)
    assert "Verifikasi 2" in refusal.message
    # Without a button's state: the kasi simply is not the holder any more.
    await assert_refused(office, "bukan_pemegang", lambda: letters.approve(office, letter.id, p.kasi), letter.id)
    # A verifier of another unit, the drafter, Kepala Dinas: none of them holds it.
    for stranger in (p.other_kasi, p.drafter, p.kepala):
        await assert_refused(
            office, "bukan_pemegang", lambda s=stranger: letters.approve(office, letter.id, s), letter.id
        )


async def test_unknown_letter_is_refused(office: Office) -> None:
    p = await people(office)
    await assert_refused(office, "surat_tidak_ada", lambda: letters.approve(office, "forged-id-123", p.kasi))


async def test_revision_needs_a_note_and_reaches_the_drafter_verbatim(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_2")
    for empty in ("", "   \n "):
        await assert_refused(
            office,
            "catatan_wajib",
            lambda n=empty: letters.request_revision(office, letter.id, p.kabid, n),
            letter.id,
        )
    note = "Tanggal rapat salah: seharusnya Senin, 30 November 2026 (bukan Minggu)."
    annotated = Upload(pdf(5).data, "coretan.pdf")
    concept = letter.current_version
    letter = await letters.request_revision(office, letter.id, p.kabid, note, annotated=annotated)
    assert (letter.state, letter.holder_id, letter.return_state) == ("konsep", p.drafter, "verifikasi_2")
    assert letter.current_version == concept, "the concept stays the current version"
    event = (await audit_of(office, letter.id))[-1]
    assert (event.action, event.note) == ("revisi", note)
    message = (await outbox_of(office, letter.id))[-1]
    assert (message.recipient_id, message.kind, message.actions) == (p.drafter, "revisi", ["ajukan_ulang"])
    assert note in message.text
    assert message.attachment_sha256 == hashlib.sha256(annotated.data).hexdigest()
    async with office.uow() as uow:
        kinds = (await uow.session.scalars(select(FileVersion.kind).where(FileVersion.letter_id == letter.id))).all()
    assert sorted(kinds) == ["anotasi", "konsep"]


async def test_resubmission_returns_to_the_reviewer_who_asked(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_2")
    await letters.request_revision(office, letter.id, p.kabid, "Perbaiki paragraf kedua.")
    revised = pdf(2)
    letter = await letters.resubmit(office, letter.id, p.drafter, revised, note="Sudah diperbaiki.")
    assert (letter.state, letter.holder_id, letter.return_state) == ("verifikasi_2", p.kabid, None)
    assert letter.current_version == hashlib.sha256(revised.data).hexdigest()
    events = await audit_of(office, letter.id)
    assert [e.action for e in events] == ["buat", "ajukan", "setujui", "revisi", "ajukan_ulang"]
    assert events[-1].version_sha256 == letter.current_version


async def test_resubmission_to_the_start_when_configured(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_2")
    await letters.request_revision(office, letter.id, p.kabid, "Ulangi dari awal.")
    strict = dataclasses.replace(office, sop=dataclasses.replace(office.sop, resubmit_to="start"))
    letter = await letters.resubmit(strict, letter.id, p.drafter, pdf(2))
    assert (letter.state, letter.holder_id) == ("verifikasi_1", p.kasi)


async def test_only_the_drafter_resubmits_and_only_a_revision(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")
    await assert_refused(
        office, "tahap_tidak_sesuai", lambda: letters.resubmit(office, letter.id, p.drafter, pdf(2)), letter.id
    )
    await letters.request_revision(office, letter.id, p.kasi, "Lengkapi lampiran.")
    await assert_refused(
        office, "bukan_pemegang", lambda: letters.resubmit(office, letter.id, p.other_drafter, pdf(2)), letter.id
    )
    await assert_refused(
        office,
        "bukan_pdf",
        lambda: letters.resubmit(office, letter.id, p.drafter, Upload(b"hello", "x.txt", "text/plain")),
        letter.id,
    )


# --- numbering, signature, dispatch ---------------------------------------------------------------------


async def test_assign_number(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "penomoran")
    assert await letters.preview_number(office, "500.16") == "500.16/1/DPMPTSP/2026"
    await assert_refused(
        office, "bukan_pemegang", lambda: letters.assign_number(office, letter.id, p.kepala), letter.id
    )
    await assert_refused(
        office, "klasifikasi_salah", lambda: letters.assign_number(office, letter.id, p.clerk, klasifikasi="abc")
    )
    await assert_refused(
        office,
        "tanggal_mendatang",
        lambda: letters.assign_number(office, letter.id, p.clerk, letter_date=date(2026, 11, 26)),
        letter.id,
    )
    letter = await letters.assign_number(office, letter.id, p.clerk, klasifikasi="000.1.2.3")
    assert letter.nomor == "000.1.2.3/1/DPMPTSP/2026"
    assert letter.klasifikasi == "000.1.2.3"
    assert letter.letter_date == date(2026, 11, 25)
    assert (letter.state, letter.holder_id) == ("tanda_tangan", p.kepala)
    assert letter.step_due_at is None, "the SOP gives Kepala Dinas no standard time"
    async with office.uow() as uow:
        issued = (await uow.session.scalars(select(IssuedNumber))).all()
    assert [(n.nomor, n.serial, n.scope, n.status, n.issued_by) for n in issued] == [
        ("000.1.2.3/1/DPMPTSP/2026", 1, "2026", "aktif", p.clerk)
    ]
    assert await letters.preview_number(office, "500.16") == "500.16/2/DPMPTSP/2026"
    # The next letter gets the next serial; the preview reserved nothing.
    second = await letter_at(office, p, "tanda_tangan")
    assert second.nomor == "500.16/2/DPMPTSP/2026"


async def test_kepala_returns_and_the_revision_comes_back_for_signature(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    nomor = letter.nomor
    await assert_refused(
        office, "catatan_wajib", lambda: letters.return_letter(office, letter.id, p.kepala, ""), letter.id
    )
    letter = await letters.return_letter(office, letter.id, p.kepala, "Lampiran belum ada.")
    assert (letter.state, letter.holder_id, letter.return_state) == ("konsep", p.drafter, "tanda_tangan")
    message = (await outbox_of(office, letter.id))[-1]
    assert message.recipient_id == p.drafter and "Lampiran belum ada." in message.text
    letter = await letters.resubmit(office, letter.id, p.drafter, pdf(3))
    assert (letter.state, letter.holder_id, letter.nomor) == ("tanda_tangan", p.kepala, nomor)
    async with office.uow() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(IssuedNumber)) == 1


async def test_signature_and_dispatch(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = pdf(8)
    await assert_refused(
        office, "bukan_pemegang", lambda: letters.record_signature(office, letter.id, p.clerk, signed), letter.id
    )
    clock.advance(minutes=3)
    letter = await letters.record_signature(office, letter.id, p.kepala, signed, details={"signer": "demo"})
    assert (letter.state, letter.holder_id) == ("pengiriman", p.clerk)
    assert letter.current_version == hashlib.sha256(signed.data).hexdigest()
    assert letter.step_due_at == datetime(2026, 11, 25, 9, 8, tzinfo=WIB)  # 5 minutes
    await assert_refused(
        office, "jalur_tidak_dikenal", lambda: letters.dispatch(office, letter.id, p.clerk, route="merpati"), letter.id
    )
    letter = await letters.dispatch(office, letter.id, p.clerk, route="srikandi", note="Nomor agenda SRIKANDI 77")
    assert (letter.state, letter.holder_id, letter.step_due_at) == ("terkirim", None, None)
    event = (await audit_of(office, letter.id))[-1]
    assert (event.action, event.details, event.note) == ("kirim", {"jalur": "srikandi"}, "Nomor agenda SRIKANDI 77")
    told = (await outbox_of(office, letter.id))[-1]
    assert told.recipient_id == p.drafter and "SRIKANDI" in told.text
    refusal = await assert_refused(
        office, "surat_selesai", lambda: letters.dispatch(office, letter.id, p.clerk, route="email"), letter.id
    )
    assert "terkirim" in refusal.message


# --- cancel ---------------------------------------------------------------------------------------------


async def test_cancel_by_drafter_and_admin_only(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")
    await assert_refused(office, "bukan_pemegang", lambda: letters.cancel(office, letter.id, p.kasi, "x"), letter.id)
    await assert_refused(office, "catatan_wajib", lambda: letters.cancel(office, letter.id, p.drafter, " "), letter.id)
    letter = await letters.cancel(office, letter.id, p.drafter, "Rapat ditunda.")
    assert (letter.state, letter.holder_id) == ("dibatalkan", None)
    told = {m.recipient_id for m in (await outbox_of(office, letter.id)) if m.kind == "dibatalkan"}
    assert told == {p.kasi}, "the holder is told; the drafter cancelled it themselves"
    other = await letter_at(office, p, "pengiriman")
    other = await letters.cancel(office, other.id, p.clerk, "Salah tujuan.")  # the clerk is also admin
    assert other.state == "dibatalkan"


async def test_a_cancelled_number_is_kept_and_never_reused(office: Office) -> None:
    p = await people(office)
    first = await letter_at(office, p, "tanda_tangan")
    await assert_refused(
        office, "bukan_pemegang", lambda: letters.cancel(office, first.id, p.drafter, "Tidak jadi."), first.id
    )
    await letters.cancel(office, first.id, p.kepala, "Dibatalkan pimpinan.")
    told = [m for m in await outbox_of(office, first.id) if m.kind == "dibatalkan"]
    assert {m.recipient_id for m in told} == {p.drafter, p.clerk}
    assert "Nomor 500.16/1/DPMPTSP/2026 dicatat sebagai dibatalkan." in next(
        m.text for m in told if m.recipient_id == p.clerk
    )
    second = await letter_at(office, p, "tanda_tangan")
    assert (first.nomor, second.nomor) == ("500.16/1/DPMPTSP/2026", "500.16/2/DPMPTSP/2026")
    async with office.uow() as uow:
        rows = {n.nomor: (n.status, n.cancel_note) for n in (await uow.session.scalars(select(IssuedNumber))).all()}
    assert rows == {
        "500.16/1/DPMPTSP/2026": ("dibatalkan", "Dibatalkan pimpinan."),
        "500.16/2/DPMPTSP/2026": ("aktif", None),
    }


# --- secrecy, atomicity ---------------------------------------------------------------------------------


async def test_rahasia_notifications_carry_no_subject(office: Office) -> None:
    p = await people(office)
    secret = LetterMeta(
        perihal="Pemeriksaan internal pegawai X",
        tujuan="Inspektorat Daerah",
        sifat="rahasia",
        urgensi="sangat segera",
        klasifikasi="800.1",
    )
    letter = await letter_at(office, p, "terkirim", meta=secret)
    assert (letter.sifat, letter.urgensi) == ("Rahasia", "Sangat Segera")
    messages = await outbox_of(office, letter.id)
    assert len(messages) >= 6
    for message in messages:
        assert "Pemeriksaan" not in message.text and "Inspektorat" not in message.text
        assert "RAHASIA" in message.text


async def test_a_failure_inside_a_service_rolls_everything_back(office: Office, monkeypatch) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")

    def broken(*args, **kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(letters, "_queue", broken)
    before = await counts(office)
    with pytest.raises(RuntimeError):
        await letters.approve(office, letter.id, p.kasi)
    assert await counts(office) == before
    after = await reload(office, letter.id)
    assert (after.state, after.holder_id) == ("verifikasi_1", p.kasi)


async def test_files_are_content_addressed(tmp_path: Path) -> None:
    from suratbot.storage.files import FileStore, FileStoreError

    store = FileStore(tmp_path)
    digest = store.put(b"%PDF-1.7 sample")
    assert store.put(b"%PDF-1.7 sample") == digest
    path = store.path_for(digest)
    assert path.name == digest and path.parent.name == digest[2:4]
    path.write_bytes(b"tampered")
    with pytest.raises(FileStoreError, match="damaged"):
        store.get(digest)
    with pytest.raises(FileStoreError):
        store.path_for("../../etc/passwd")


async def test_people_fixture_matches_roster(office: Office) -> None:
    p = await people(office)
    assert isinstance(p, People) and len({p.drafter, p.kasi, p.kabid, p.clerk, p.kepala}) == 5


async def test_a_review_by_the_drafter_or_the_same_reviewer_again_is_passed_over(bare_office: Office) -> None:
    """A Kasi who drafts goes straight to the Kabid; a person who is both verifiers reviews once."""
    from suratbot.services.roster import import_roster
    from tests.conftest import roster_text

    text = roster_text()
    text = text.replace(
        "Lina Herlina,Kepala Seksi Perizinan Usaha,Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,verifikator1,",
        "Lina Herlina,Kepala Seksi Perizinan Usaha,Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,verifikator1;konseptor,",
    )
    text = text.replace(
        "Neng Yulianti,Kepala Seksi Promosi Penanaman Modal,Bidang Penanaman Modal / Seksi Promosi,verifikator1,",
        "Neng Yulianti,Kepala Seksi Promosi Penanaman Modal,Bidang Penanaman Modal / Seksi Promosi,verifikator1;verifikator2,",
    )
    await import_roster(bare_office, text)
    p = await people(bare_office)

    own = await letters.submit(bare_office, p.kasi, pdf(), META)
    assert (own.state, own.holder_id) == ("verifikasi_2", p.kabid)
    events = await audit_of(bare_office, own.id)
    assert [(e.action, e.from_state, e.to_state) for e in events] == [
        ("buat", None, "konsep"),
        ("ajukan", "konsep", "verifikasi_1"),
        ("lewati", "verifikasi_1", "verifikasi_2"),
    ]
    assert "Lina Herlina" in events[-1].note and "konseptor" in events[-1].note
    assert [(m.recipient_id, m.kind) for m in await outbox_of(bare_office, own.id)] == [(p.kabid, "tugas")]

    # Neng is verifier 1 and 2 of Seksi Promosi: one review, then on to the clerk.
    other = await letters.submit(bare_office, p.other_drafter, pdf(2), META)
    assert other.holder_id == p.other_kasi
    other = await letters.approve(bare_office, other.id, p.other_kasi)
    assert (other.state, other.holder_id) == ("penomoran", p.clerk)
    assert [e.action for e in await audit_of(bare_office, other.id)][-2:] == ["setujui", "lewati"]


async def test_the_same_file_is_not_submitted_twice_while_open(office: Office) -> None:
    p = await people(office)
    first = await letters.submit(office, p.drafter, pdf(), META)
    refusal = await assert_refused(office, "konsep_ganda", lambda: letters.submit(office, p.drafter, pdf(), META))
    assert first.id[:8] in refusal.message
    await letters.cancel(office, first.id, p.drafter, "Salah unggah.")
    again = await letters.submit(office, p.drafter, pdf(), META)  # the first one is closed now
    assert again.id != first.id


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("../../etc/konsep.pdf", "konsep.pdf"),
        ("C:\\Users\\tu\\konsep\x00.pdf", "konsep.pdf"),
        ("x" * 300 + ".pdf", "x" * 251 + ".pdf"),
        ("   ", None),
    ],
)
async def test_file_names_are_cleaned_for_display(office: Office, given: str, shown: str | None) -> None:
    p = await people(office)
    upload = Upload(pdf().data, given)
    letter = await letters.submit(office, p.drafter, upload, META)
    async with office.uow() as uow:
        version = (await uow.session.scalars(select(FileVersion).where(FileVersion.letter_id == letter.id))).one()
    assert version.filename == shown
    assert "Upload(filename=" in repr(upload) and "%PDF" not in repr(upload)


async def test_a_numbered_letter_back_with_the_drafter_is_not_theirs_to_cancel(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    await letters.return_letter(office, letter.id, p.kepala, "Perbaiki lampiran.")
    refusal = await assert_refused(
        office, "bukan_pemegang", lambda: letters.cancel(office, letter.id, p.drafter, "Tidak jadi."), letter.id
    )
    assert letter.nomor in refusal.message
    cancelled = await letters.cancel(office, letter.id, p.kepala, "Tidak jadi.")
    assert cancelled.state == "dibatalkan"


async def test_the_clerk_hears_of_a_cancelled_number_even_when_holding_the_letter(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "pengiriman")
    await letters.cancel(office, letter.id, p.kepala, "Salah alamat.")
    to_clerk = [m for m in await outbox_of(office, letter.id) if m.recipient_id == p.clerk and m.kind == "dibatalkan"]
    assert len(to_clerk) == 1 and f"Nomor {letter.nomor} dicatat sebagai dibatalkan." in to_clerk[0].text


async def test_identical_submissions_at_once_make_one_letter(office: Office) -> None:
    import asyncio

    p = await people(office)
    upload = pdf(4242)
    outcomes = await asyncio.gather(
        *[letters.submit(office, p.drafter, upload, META) for _ in range(4)], return_exceptions=True
    )
    made = [o for o in outcomes if isinstance(o, Letter)]
    refused = [o for o in outcomes if isinstance(o, Refusal)]
    assert len(made) == 1 and len(refused) == 3
    assert all(r.code == "konsep_ganda" for r in refused)
    assert (await counts(office))[0] == 1


def pdf_text(data: bytes) -> str:
    import io

    from pdfminer.high_level import extract_text

    return extract_text(io.BytesIO(data))


async def test_the_number_and_date_are_written_into_the_letter(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    text = pdf_text(office.files.get(letter.current_version))
    assert "500.16/1/DPMPTSP/2026" in text and "25 November 2026" in text
    assert "${nomor}" not in text and "${tanggal}" not in text
    async with office.uow() as uow:
        kinds = (
            await uow.session.scalars(
                select(FileVersion.kind).where(FileVersion.letter_id == letter.id).order_by(FileVersion.id)
            )
        ).all()
    assert kinds == ["konsep", "bernomor"]
    event = (await audit_of(office, letter.id))[-1]
    assert event.action == "beri_nomor" and event.version_sha256 == letter.current_version

    # Returned by Kepala Dinas and revised: the revision comes back for signature with the same number on it.
    await letters.return_letter(office, letter.id, p.kepala, "Perbaiki paragraf kedua.")
    revised = await letters.resubmit(office, letter.id, p.drafter, pdf(31))
    assert revised.state == "tanda_tangan"
    revised_text = pdf_text(office.files.get(revised.current_version))
    assert "500.16/1/DPMPTSP/2026" in revised_text and "(konsep versi 31)" in revised_text
