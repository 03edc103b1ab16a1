"""Real PAdES signatures with pyHanko: sign with a demo PKCS#12 key, validate against the demo CA."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from suratbot.data.concept import example_letter
from suratbot.signing.keys import DemoCA, SignerProfile, create_demo_ca, issue_signer, strong_passphrase
from suratbot.signing.pades import SigningError, StampText, sign_pdf, unlock_pkcs12
from suratbot.signing.verify import verify_pdf

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
KEPALA = SignerProfile("Dr. H. Asep Suryana", "Kepala Dinas", "197001012000031001", "DPMPTSP Kabupaten Sumedang")
SEKRETARIS = SignerProfile("Hj. Rina Marlina", "Sekretaris", "197505152001122002", "DPMPTSP Kabupaten Sumedang")
PASSPHRASE = "uji-coba-tte-2026"


@pytest.fixture(scope="module")
def ca() -> DemoCA:
    return create_demo_ca("DPMPTSP Kabupaten Sumedang", now=NOW - timedelta(days=1))


@pytest.fixture(scope="module")
def kepala_p12(ca: DemoCA) -> bytes:
    return issue_signer(ca, KEPALA, PASSPHRASE, now=NOW)


def stamp(profile: SignerProfile = KEPALA) -> StampText:
    return StampText(profile.nama, profile.jabatan, profile.nip, "https://surat.example.go.id/v/AbCdEf123")


async def signed_letter(kepala_p12: bytes) -> bytes:
    signer = unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW)
    return await sign_pdf(example_letter("Undangan Rapat", "Camat se-Kabupaten Sumedang"), signer, stamp())


async def test_a_signed_letter_verifies_against_the_demo_ca(ca: DemoCA, kepala_p12: bytes) -> None:
    signed = await signed_letter(kepala_p12)
    result = await verify_pdf(signed, [ca.cert])
    assert result.ok, result
    [check] = result.signatures
    assert check.signer == KEPALA.nama
    assert check.issuer == "CA Demo DPMPTSP Kabupaten Sumedang"
    assert (check.intact, check.valid, check.trusted, check.whole_file) == (True, True, True, True)
    assert check.signed_at is not None and abs(check.signed_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert b"/SubFilter /ETSI.CAdES.detached" in signed  # PAdES, not plain PKCS#7


async def test_a_flipped_byte_after_signing_fails(ca: DemoCA, kepala_p12: bytes) -> None:
    signed = bytearray(await signed_letter(kepala_p12))
    at = signed.index(b"Undangan Rapat")  # inside the signed content stream of the concept
    signed[at] ^= 0x01
    result = await verify_pdf(bytes(signed), [ca.cert])
    assert not result.ok
    assert not result.signatures[0].intact


async def test_another_office_ca_is_not_trusted(kepala_p12: bytes) -> None:
    stranger = create_demo_ca("Dinas Lain", now=NOW - timedelta(days=1))
    result = await verify_pdf(await signed_letter(kepala_p12), [stranger.cert])
    assert not result.ok and result.signatures[0].intact and not result.signatures[0].trusted


async def test_a_page_changed_after_signing_is_detected(ca: DemoCA, kepala_p12: bytes) -> None:
    """A proper incremental update that draws on the page: the signature is intact, the letter is not."""
    signed = await signed_letter(kepala_p12)
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    overlay = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (PALSU) Tj ET"))
    writer.add_stream_to_page(0, overlay)
    out = io.BytesIO()
    writer.write(out)
    result = await verify_pdf(out.getvalue(), [ca.cert])
    [check] = result.signatures
    assert check.intact and check.valid and check.trusted
    assert not check.whole_file and not result.ok


async def test_a_second_signature_keeps_the_first_valid(ca: DemoCA, kepala_p12: bytes) -> None:
    first = await signed_letter(kepala_p12)
    second_key = unlock_pkcs12(issue_signer(ca, SEKRETARIS, PASSPHRASE, now=NOW), PASSPHRASE, now=NOW)
    both = await sign_pdf(first, second_key, stamp(SEKRETARIS), box=(330, 140, 565, 230))
    assert both.startswith(first), "signed incrementally: the first revision is untouched"
    result = await verify_pdf(both, [ca.cert])
    assert [s.signer for s in result.signatures] == [KEPALA.nama, SEKRETARIS.nama]
    assert result.ok, result


async def test_a_wrong_passphrase_is_a_plain_sentence(kepala_p12: bytes) -> None:
    with pytest.raises(SigningError) as refused:
        unlock_pkcs12(kepala_p12, "salah-ketik", now=NOW)
    assert refused.value.code == "kata_sandi_salah"
    assert refused.value.message == "Kata sandi (passphrase) salah. Surat belum ditandatangani."


async def test_an_expired_or_future_certificate_refuses_to_sign(kepala_p12: bytes) -> None:
    with pytest.raises(SigningError) as expired:
        unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW + timedelta(days=800))
    assert expired.value.code == "sertifikat_kedaluwarsa" and "kedaluwarsa" in expired.value.message
    with pytest.raises(SigningError) as early:
        unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW - timedelta(days=2))
    assert early.value.code == "sertifikat_belum_berlaku"


async def test_bad_pdfs_are_refused_or_reported(ca: DemoCA, kepala_p12: bytes) -> None:
    signer = unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW)
    with pytest.raises(SigningError) as damaged:
        await sign_pdf(b"%PDF-1.7\nnot really a pdf\n%%EOF", signer, stamp())
    assert damaged.value.code == "pdf_rusak"
    unsigned = await verify_pdf(example_letter("x", "y"), [ca.cert])
    assert not unsigned.ok and unsigned.problem == "PDF ini tidak memiliki tanda tangan elektronik."
    garbage = await verify_pdf(b"hello", [ca.cert])
    assert not garbage.ok and garbage.problem is not None


def test_generated_passphrases_are_strong_and_typable() -> None:
    phrases = {strong_passphrase() for _ in range(200)}
    assert len(phrases) == 200
    assert all(len(p) == 23 and p.count("-") == 3 for p in phrases)


def test_the_stamp_text_names_the_signer_and_the_office_time() -> None:
    text = StampText(
        "Dr. H. Asep Suryana", "Kepala Dinas", "197001012000031001", "https://x/v/1", when="26-11-2026 09.19 WIB"
    )
    assert text.render().splitlines() == [
        "Ditandatangani secara elektronik",
        "Dr. H. Asep Suryana",
        "Kepala Dinas",
        "NIP 197001012000031001",
        "26-11-2026 09.19 WIB",
    ]
    assert StampText("A 100%", "B", "1", "u").render().splitlines()[1] == "A 100%%"  # escaped for pyHanko


def encrypted_letter() -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(example_letter("Rahasia", "Tujuan"))))
    writer.encrypt("pemilik", "pengguna")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def test_an_encrypted_pdf_is_refused(kepala_p12: bytes) -> None:
    signer = unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW)
    with pytest.raises(SigningError) as refused:
        await sign_pdf(encrypted_letter(), signer, stamp())
    assert refused.value.code == "pdf_terkunci"


async def test_a_150_page_letter_signs_and_verifies(ca: DemoCA, kepala_p12: bytes) -> None:
    signer = unlock_pkcs12(kepala_p12, PASSPHRASE, now=NOW)
    long_letter = example_letter("Lampiran peraturan", "Seluruh OPD", pages=150)
    signed = await sign_pdf(long_letter, signer, stamp())
    assert signed.startswith(long_letter)
    result = await verify_pdf(signed, [ca.cert])
    assert result.ok, result


async def test_the_signing_worker_process_signs_refuses_and_survives_a_crash(ca: DemoCA, kepala_p12: bytes) -> None:
    import os
    import signal

    from suratbot.signing.pades import A4_STAMP_BOX
    from suratbot.signing.pool import LocalSigning, PdfJob, SigningPool

    letter = example_letter("Undangan Rapat", "Camat se-Kabupaten Sumedang")

    def request(passphrase: str, *pdfs: bytes) -> LocalSigning:
        jobs = tuple(PdfJob(pdf, -1, A4_STAMP_BOX) for pdf in pdfs)
        return LocalSigning(kepala_p12, passphrase, NOW, stamp(), "Sumedang", jobs)

    assert PASSPHRASE not in repr(request(PASSPHRASE, letter))  # nor the key or the PDF
    pool = SigningPool()
    try:
        outgoing, archive = await pool.sign(request(PASSPHRASE, letter, letter))
        for signed in (outgoing, archive):
            result = await verify_pdf(signed, [ca.cert])
            assert result.ok and result.signatures[0].signer == KEPALA.nama
        with pytest.raises(SigningError) as wrong:
            await pool.sign(request("salah-ketik", letter))
        assert wrong.value.code == "kata_sandi_salah" and "salah-ketik" not in str(wrong.value)
        with pytest.raises(SigningError) as damaged:
            await pool.sign(request(PASSPHRASE, b"%PDF-1.7 terpotong"))
        assert damaged.value.code == "pdf_rusak"

        assert pool._executor is not None
        for pid in list(pool._executor._processes):  # the worker dies (killed, out of memory...)
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(SigningError) as died:
            await pool.sign(request(PASSPHRASE, letter))
        assert died.value.code == "tte_gagal"
        [again] = await pool.sign(request(PASSPHRASE, letter))  # a new worker takes over
        assert (await verify_pdf(again, [ca.cert])).ok
    finally:
        pool.close()
