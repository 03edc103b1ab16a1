"""Demo keys for the roster's signers, a letter signed through the SOP, and verification of what went out."""

from __future__ import annotations

import stat

import pytest

from suratbot.services import letters
from suratbot.services.keystore import KeystoreError, make_demo_keys, signer_key_path, trust_roots
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.services.verification import describe, verify_letter
from suratbot.signing.pades import StampText, sign_pdf, unlock_pkcs12
from suratbot.workflow.machine import Refusal
from tests.helpers import audit_of, letter_at, pdf, people

PASSPHRASE = "kunci-demo-2026"


async def sign_and_record(office: Office) -> tuple[str, bytes]:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    kepala_nip = "197001012000031001"
    signer = unlock_pkcs12(signer_key_path(office, kepala_nip).read_bytes(), PASSPHRASE, now=office.now())
    concept = office.files.get(letter.current_version)
    signed = await sign_pdf(
        concept,
        signer,
        StampText("Dr. H. Asep Suryana", "Kepala Dinas", kepala_nip, f"http://localhost:8080/v/{letter.id}"),
    )
    await letters.record_signature(office, letter.id, p.kepala, Upload(signed, "surat.pdf"))
    return letter.id, signed


async def test_demo_keys_are_made_once_and_kept_private(office: Office) -> None:
    report = await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    assert not report.generated and report.passphrase == PASSPHRASE
    assert [(nip, nama) for nip, nama, _ in report.signers] == [("197001012000031001", "Dr. H. Asep Suryana")]
    key = report.signers[0][2]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in (report.folder / "ca-key.pem").read_bytes()
    assert len(trust_roots(office)) == 1
    with pytest.raises(KeystoreError, match="--ganti"):
        await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    again = await make_demo_keys(office, passphrase=None, replace=True)
    assert again.generated and len(again.passphrase) == 23


async def test_a_letter_signed_through_the_sop_verifies(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    letter_id, signed = await sign_and_record(office)
    result = await verify_letter(office, signed)
    assert result.ok and result.letter_id == letter_id
    assert result.nomor == "500.16/1/DPMPTSP/2026"
    lines = describe(office, result)
    assert lines[0].startswith("SAH:")
    assert any("Dr. H. Asep Suryana" in line and "tidak berubah" in line for line in lines)
    assert "Nomor surat: 500.16/1/DPMPTSP/2026" in lines
    assert describe(office, result, "en")[0].startswith("VALID:")

    modified = bytearray(signed)
    modified[modified.index(b"stream") + 20] ^= 0x01  # one bit inside the page's (compressed) content
    broken = await verify_letter(office, bytes(modified))
    assert not broken.ok and broken.letter_id is None
    assert describe(office, broken)[0] == "TIDAK SAH"


async def test_a_validly_signed_pdf_this_office_never_sent_is_not_accepted(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    signer = unlock_pkcs12(signer_key_path(office, "197001012000031001").read_bytes(), PASSPHRASE, now=office.now())
    from suratbot.data.concept import example_letter

    stray = await sign_pdf(example_letter("Bukan surat resmi", "Siapa saja"), signer, StampText("A", "B", "1", "u"))
    result = await verify_letter(office, stray)
    assert result.verification.ok and not result.ok
    assert "tidak cocok dengan surat mana pun" in describe(office, result)[-1]


# --- signing through the service: passphrase, lockout ------------------------------------------------------


async def test_kepala_signs_with_the_passphrase_and_the_letter_moves_on(office: Office, clock) -> None:
    from suratbot.services.signature import sign_letter

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    with pytest.raises(Refusal) as not_holder:
        await sign_letter(office, letter.id, p.clerk, PASSPHRASE)
    assert not_holder.value.code == "bukan_pemegang"

    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE, expected_state="tanda_tangan")
    assert (signed.state, signed.holder_id) == ("pengiriman", p.clerk)
    result = await verify_letter(office, office.files.get(signed.current_version))
    assert result.ok and result.nomor == signed.nomor
    event = (await audit_of(office, letter.id))[-1]
    assert event.action == "tandatangani" and event.details["tte"] == "pkcs12"
    with pytest.raises(Refusal) as twice:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE, expected_state="tanda_tangan")
    assert twice.value.code == "tahap_berubah"


async def test_three_wrong_passphrases_lock_signing_for_fifteen_minutes(office: Office, clock) -> None:
    from suratbot.services.signature import sign_letter

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    messages = []
    for attempt in ("salah-1", "salah-2", "salah-3"):
        with pytest.raises(Refusal) as wrong:
            await sign_letter(office, letter.id, p.kepala, attempt)
        messages.append(wrong.value.message)
        clock.advance(minutes=1)
    assert messages[0].endswith("Sisa percobaan: 2.") and messages[1].endswith("Sisa percobaan: 1.")
    assert "dikunci selama 15 menit" in messages[2]
    with pytest.raises(Refusal) as locked:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert locked.value.code == "tte_terkunci"
    assert (await letters.get_letter(office, letter.id)).state == "tanda_tangan"
    events = [e.action for e in await audit_of(office, letter.id)]
    assert events.count("tte_kata_sandi_salah") == 3 and events.count("tte_terkunci") == 1
    for event in await audit_of(office, letter.id):  # the passphrases never reach the database
        assert "salah-" not in f"{event.note} {event.details}" and PASSPHRASE not in f"{event.note} {event.details}"
    clock.advance(minutes=15)
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert signed.state == "pengiriman"


async def test_signing_without_a_key_says_so(office: Office) -> None:
    from suratbot.services.signature import sign_letter

    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    with pytest.raises(Refusal) as missing:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert missing.value.code == "kunci_tidak_ada"


# --- review regressions -------------------------------------------------------------------------------------


async def test_guesses_sent_at_once_are_counted_one_by_one(office: Office) -> None:
    import asyncio

    from suratbot.services.signature import sign_letter

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    outcomes = await asyncio.gather(
        *[sign_letter(office, letter.id, p.kepala, f"tebak-{i}") for i in range(8)], return_exceptions=True
    )
    codes = sorted(o.code for o in outcomes if isinstance(o, Refusal))
    assert codes == ["kata_sandi_salah"] * 3 + ["tte_terkunci"] * 5
    events = [e.action for e in await audit_of(office, letter.id)]
    assert events.count("tte_kata_sandi_salah") == 3 and events.count("tte_terkunci") == 1


async def test_a_successful_signature_starts_the_count_again(office: Office, clock) -> None:
    from suratbot.services.signature import sign_letter

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    first, second = await letter_at(office, p, "tanda_tangan"), await letter_at(office, p, "tanda_tangan")
    for attempt in ("salah-1", "salah-2"):
        with pytest.raises(Refusal):
            await sign_letter(office, first.id, p.kepala, attempt)
    clock.advance(minutes=1)
    await sign_letter(office, first.id, p.kepala, PASSPHRASE)
    clock.advance(minutes=1)
    with pytest.raises(Refusal) as once_more:
        await sign_letter(office, second.id, p.kepala, "salah-3")
    assert once_more.value.message.endswith("Sisa percobaan: 2.")


async def test_a_letter_changed_while_being_signed_is_not_recorded(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    old_version = letter.current_version
    await letters.return_letter(office, letter.id, p.kepala, "Perbaiki.")
    await letters.resubmit(office, letter.id, p.drafter, pdf(55))
    with pytest.raises(Refusal) as moved:
        await letters.record_signature(
            office, letter.id, p.kepala, pdf(56), signed_from=old_version, expected_state="tanda_tangan"
        )
    assert moved.value.code == "tahap_berubah"


async def test_a_cancelled_letter_no_longer_verifies(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    letter_id, signed = await sign_and_record(office)
    p = await people(office)
    await letters.cancel(office, letter_id, p.kepala, "Salah alamat.")
    result = await verify_letter(office, signed)
    assert result.verification.ok and result.cancelled and not result.ok
    assert any(line.startswith("DIBATALKAN") for line in describe(office, result))


async def test_replacing_the_demo_ca_keeps_old_letters_verifiable(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    _, signed = await sign_and_record(office)
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=True)
    assert len(trust_roots(office)) == 2
    assert (await verify_letter(office, signed)).ok


async def test_a_damaged_key_file_is_not_a_wrong_passphrase(office: Office) -> None:
    from suratbot.services.signature import sign_letter

    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    path = signer_key_path(office, "197001012000031001")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"bukan kunci")
    with pytest.raises(Refusal) as damaged:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert damaged.value.code == "kunci_rusak"
    assert "tte_kata_sandi_salah" not in [e.action for e in await audit_of(office, letter.id)]


async def test_the_visible_signature_goes_where_the_letter_has_its_ttd_place(office: Office) -> None:
    import io

    import pikepdf
    from pdfminer.high_level import extract_text

    from suratbot.services.signature import sign_letter
    from suratbot.signing.stamping import find_placeholders

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    [ttd] = [f for f in find_placeholders(office.files.get(letter.current_version)) if f.key == "ttd"]
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    data = office.files.get(signed.current_version)
    assert "${ttd}" not in extract_text(io.BytesIO(data))
    with pikepdf.open(io.BytesIO(data)) as doc:
        [widget] = [
            a
            for a in doc.pages[0].get("/Annots", [])
            if a.get("/FT") == "/Sig" or "/Parent" in a or a.get("/Subtype") == "/Widget"
        ]
        x0, y0, _x1, y1 = (float(v) for v in widget.Rect)
    assert x0 == pytest.approx(ttd.x, abs=1) and y0 < ttd.y < y1 + ttd.size
    assert (await verify_letter(office, data)).ok


async def test_a_concept_signed_elsewhere_keeps_that_signature_through_numbering_and_signing(office: Office) -> None:
    from suratbot.services.signature import sign_letter
    from suratbot.signing.keys import SignerProfile, create_demo_ca, issue_signer
    from suratbot.workflow.letter import LetterMeta

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    other = create_demo_ca("Dinas Mitra", now=office.now())
    co_signer = unlock_pkcs12(
        issue_signer(other, SignerProfile("Mitra", "Kepala", "1", "Mitra"), "x-12345678", now=office.now()),
        "x-12345678",
        now=office.now(),
    )
    from suratbot.data.concept import example_letter

    co_signed = await sign_pdf(
        example_letter("Nota kesepakatan", "Dinas Mitra", version=77), co_signer, StampText("Mitra", "Kepala", "1", "u")
    )
    p = await people(office)
    meta = LetterMeta("Nota kesepakatan", "Dinas Mitra", "Biasa", "Biasa", "000.1")
    letter = await letters.submit(office, p.drafter, Upload(co_signed, "nota.pdf"), meta)
    await letters.approve(office, letter.id, p.kasi)
    await letters.approve(office, letter.id, p.kabid)
    numbered = await letters.assign_number(office, letter.id, p.clerk)
    assert numbered.current_version == letter.current_version  # not rewritten
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    data = office.files.get(signed.current_version)
    assert data.startswith(co_signed)
    from suratbot.signing.verify import verify_pdf

    result = await verify_pdf(data, [other.cert, *trust_roots(office)])
    assert result.ok and [s.signer for s in result.signatures] == ["Mitra", "Dr. H. Asep Suryana"]


async def test_the_english_report_is_english(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    _, signed = await sign_and_record(office)
    english = describe(office, await verify_letter(office, signed), "en")
    assert english[0].startswith("VALID") and "Signer: Dr. H. Asep Suryana" in english[1]
    assert "WIB" in english[1] and "Kamis" not in english[1] and "November" not in english[1]
    assert describe(office, await verify_letter(office, b"hello"), "en")[1] == "This file is not an intact PDF."


async def test_guesses_from_two_processes_are_counted_one_by_one(office: Office, database_url: str) -> None:
    """Two bot processes on one PostgreSQL (two engines here): the advisory lock serialises their guesses.
    (SQLite serves one process: there the same office is used twice.)"""
    import asyncio

    from suratbot.services.signature import sign_letter
    from suratbot.storage.db import create_engine

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    postgres = office.engine.dialect.name == "postgresql"
    other = (
        Office(sop=office.sop, engine=create_engine(database_url), files=office.files, clock=office.clock)
        if postgres
        else office
    )
    try:
        outcomes = await asyncio.gather(
            *[sign_letter(o, letter.id, p.kepala, f"tebak-{i}") for i, o in enumerate([office, other] * 4)],
            return_exceptions=True,
        )
    finally:
        if other is not office:
            await other.close()
    codes = sorted(o.code for o in outcomes if isinstance(o, Refusal))
    assert codes == ["kata_sandi_salah"] * 3 + ["tte_terkunci"] * 5
