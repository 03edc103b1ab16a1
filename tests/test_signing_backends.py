"""Signing through the SOP with every back end (PKCS#11 on SoftHSM2, a BSrE-style service, PKCS#12 with a TSA),
the paraf block of the archival copy, and where the signature mark goes."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pikepdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pdfminer.high_level import extract_pages, extract_text
from pdfminer.layout import LTTextLine
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select, update

from suratbot.bot.config import Settings
from suratbot.data.concept import concept_pdf
from suratbot.services.keystore import keys_dir, make_demo_keys, signer_key_path
from suratbot.services.office import Office, SigningSetup
from suratbot.services.signature import sign_letter
from suratbot.services.verification import describe, verify_letter
from suratbot.signing import stamping
from suratbot.signing.pkcs11 import TokenConfig, put_on_token
from suratbot.signing.remote import RemoteSigner, RemoteSigningConfig
from suratbot.signing.verify import trust_root
from suratbot.storage.models import FileVersion, Staff
from suratbot.workflow.machine import Refusal
from tests.conftest import SOFTHSM_USER_PIN
from tests.fakes.bsre import FakeBsre
from tests.fakes.tsa import FakeTsa
from tests.helpers import audit_of, letter_at, people, reload

PASSPHRASE = SOFTHSM_USER_PIN
KEPALA_NIP = "197001012000031001"
KEPALA_NIK = "3211010101700001"


async def demo_signer(office: Office) -> tuple[Any, x509.Certificate, list[x509.Certificate]]:
    """The office's demo keys (made once); returns the Kepala Dinas's key, certificate and CA chain."""
    if not (keys_dir(office) / "ca.pem").exists():
        await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    key, cert, chain = pkcs12.load_key_and_certificates(
        signer_key_path(office, KEPALA_NIP).read_bytes(), PASSPHRASE.encode()
    )
    assert key is not None and cert is not None
    return key, cert, list(chain)


def demo_ca(office: Office) -> tuple[Any, x509.Certificate]:
    folder = keys_dir(office)
    key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), PASSPHRASE.encode())
    return key, x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())


async def versions_of(office: Office, letter_id: str) -> list[FileVersion]:
    async with office.uow() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(FileVersion).where(FileVersion.letter_id == letter_id).order_by(FileVersion.id)
                )
            ).all()
        )


def text_of(pdf: bytes) -> str:
    return " ".join(extract_text(io.BytesIO(pdf)).split())


def signature_rects(pdf: bytes) -> list[tuple[float, ...]]:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return [
            tuple(round(float(v), 1) for v in annot.Rect)
            for page in doc.pages
            for annot in page.get("/Annots", [])
            if annot.get("/FT") == "/Sig"
        ]


# --- PKCS#11: a real token (SoftHSM2) -----------------------------------------------------------------------


@pytest.fixture
async def token_office(office: Office, softhsm: tuple[str, str]) -> Office:
    key, cert, chain = await demo_signer(office)
    config = TokenConfig(*softhsm)
    put_on_token(config, PASSPHRASE, KEPALA_NIP, key, cert, chain, replace=True)
    office.signing = SigningSetup(backend="pkcs11", token=config)
    return office


async def test_a_key_on_a_pkcs11_token_signs_a_letter_that_verifies(token_office: Office) -> None:
    office = token_office
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE, expected_state="tanda_tangan")
    assert signed.state == "pengiriman"
    result = await verify_letter(office, office.files.get(signed.current_version))
    assert result.ok and result.letter_id == letter.id, describe(office, result)
    assert result.verification.signatures[0].signer == "Dr. H. Asep Suryana"
    [event] = [e for e in await audit_of(office, letter.id) if e.action == "tandatangani"]
    assert event.details is not None and event.details["tte"] == "pkcs11" and event.details["level"] == "B-B"
    assert PASSPHRASE not in str(event.details)


async def test_a_wrong_token_pin_is_counted_and_locks_like_a_passphrase(token_office: Office) -> None:
    office = token_office
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    for attempt in ("salah-1", "salah-2"):
        with pytest.raises(Refusal, match="salah") as wrong:
            await sign_letter(office, letter.id, p.kepala, attempt)
        assert wrong.value.code == "kata_sandi_salah"
    with pytest.raises(Refusal, match="dikunci"):
        await sign_letter(office, letter.id, p.kepala, "salah-3")
    with pytest.raises(Refusal, match="dikunci sementara"):  # even the right PIN waits out the lock
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert (await reload(office, letter.id)).state == "tanda_tangan"
    assert len(await versions_of(office, letter.id)) == 2  # the concept and the numbered version only


async def test_a_token_without_the_signers_key_says_so(token_office: Office, softhsm: tuple[str, str]) -> None:
    office = token_office
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    async with office.uow() as uow:  # the Kepala Dinas gets another NIP: no key on the token has that label
        await uow.session.execute(update(Staff).where(Staff.id == p.kepala).values(nip="197001012000031999"))
    with pytest.raises(Refusal, match="tidak ada di token") as refused:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert refused.value.code == "kunci_tidak_ada"
    office.signing = SigningSetup(backend="pkcs11", token=TokenConfig(softhsm[0], "token-lain"))
    with pytest.raises(Refusal, match="tidak ditemukan"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert (await reload(office, letter.id)).state == "tanda_tangan"


# --- a remote signing service in the shape of BSrE's API -------------------------------------------------


@pytest.fixture
async def bsre() -> AsyncIterator[FakeBsre]:
    fake = FakeBsre()
    fake.base_url = await fake.start()  # type: ignore[attr-defined]
    yield fake
    await fake.stop()


async def remote_setup(office: Office, bsre: FakeBsre, *, secret: str = "rahasia-klien") -> None:
    key, cert, chain = await demo_signer(office)
    bsre.add_user(KEPALA_NIK, PASSPHRASE, key, cert, chain)
    async with office.uow() as uow:
        await uow.session.execute(update(Staff).where(Staff.nip == KEPALA_NIP).values(nik=KEPALA_NIK))
    config = RemoteSigningConfig(bsre.base_url, "suratbot", secret)  # type: ignore[attr-defined]
    office.signing = SigningSetup(backend="remote", remote=config)


async def test_the_remote_service_signs_over_the_mark_already_on_the_page(office: Office, bsre: FakeBsre) -> None:
    await remote_setup(office, bsre)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert signed.state == "pengiriman"
    data = office.files.get(signed.current_version)
    result = await verify_letter(office, data)
    assert result.ok, describe(office, result)
    text = text_of(data)
    assert "Ditandatangani secara elektronik" in text and "NIP 197001012000031001" in text
    assert "Dokumen ini telah ditandatangani secara elektronik" in text  # the footer, before the signature
    assert "${ttd}" not in text
    sign_requests = [r for r in bsre.requests if r["path"] == "/api/v2/sign/pdf"]
    assert len(sign_requests) == 2  # the letter that goes out and the archival copy with the paraf
    sent = sign_requests[0]["json"]
    assert sent["nik"] == KEPALA_NIK and sent["passphrase"] == "***"
    props = sent["signatureProperties"][0]
    assert props["tampilan"] == "VISIBLE" and props["page"] == 1
    # The field sits where the mark was drawn: the request's top-left origin turned back into PDF points.
    x, top = props["originX"], 842 - props["originY"]
    [rect] = signature_rects(data)
    assert rect == (round(x, 1), round(top - props["height"], 1), round(x + props["width"], 1), round(top, 1))


async def test_a_wrong_remote_passphrase_is_counted_and_locks(office: Office, bsre: FakeBsre) -> None:
    await remote_setup(office, bsre)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    with pytest.raises(Refusal, match="Sisa percobaan: 2") as wrong:
        await sign_letter(office, letter.id, p.kepala, "bukan-ini")
    assert wrong.value.code == "kata_sandi_salah"
    with pytest.raises(Refusal, match="Sisa percobaan: 1"):
        await sign_letter(office, letter.id, p.kepala, "bukan-ini-juga")
    with pytest.raises(Refusal, match="dikunci selama 15 menit"):
        await sign_letter(office, letter.id, p.kepala, "masih-salah")
    asked = len(bsre.requests)
    with pytest.raises(Refusal, match="dikunci sementara"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert len(bsre.requests) == asked  # while locked, the passphrase does not even reach the service
    actions = [e.action for e in await audit_of(office, letter.id)]
    assert actions.count("tte_kata_sandi_salah") == 3 and actions.count("tte_terkunci") == 1
    assert (await reload(office, letter.id)).state == "tanda_tangan"


async def test_remote_errors_become_plain_sentences_and_change_nothing(office: Office, bsre: FakeBsre) -> None:
    await remote_setup(office, bsre)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    before = len(await versions_of(office, letter.id))

    bsre.set_status(KEPALA_NIK, "EXPIRED")
    with pytest.raises(Refusal, match="kedaluwarsa") as expired:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert expired.value.code == "sertifikat_kedaluwarsa"
    bsre.set_status(KEPALA_NIK, "ISSUE")

    bsre.users.pop(KEPALA_NIK)
    with pytest.raises(Refusal, match="belum terdaftar") as unknown:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert unknown.value.code == "nik_tidak_terdaftar"
    await remote_setup(office, bsre)

    bsre.fail_next = 1
    with pytest.raises(Refusal, match="sedang bermasalah"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)

    await remote_setup(office, bsre, secret="rahasia-lain")
    with pytest.raises(Refusal, match="kredensial klien salah"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)

    await bsre.stop()
    await remote_setup(office, bsre)
    with pytest.raises(Refusal, match="tidak dapat dihubungi"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)

    assert (await reload(office, letter.id)).state == "tanda_tangan"
    assert len(await versions_of(office, letter.id)) == before
    actions = [e.action for e in await audit_of(office, letter.id)]
    assert "tte_kata_sandi_salah" not in actions  # none of these is the signer's mistake


async def test_a_signer_without_a_nik_is_told_before_anything_is_sent(office: Office, bsre: FakeBsre) -> None:
    await remote_setup(office, bsre)
    async with office.uow() as uow:
        await uow.session.execute(update(Staff).where(Staff.nip == KEPALA_NIP).values(nik=None))
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    with pytest.raises(Refusal, match="NIK Anda belum tercatat"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert bsre.requests == []


async def test_the_status_call_says_whether_a_nik_holds_a_valid_certificate(office: Office, bsre: FakeBsre) -> None:
    await remote_setup(office, bsre)
    assert office.signing.remote is not None
    client = RemoteSigner(office.signing.remote)
    ok = await client.status(KEPALA_NIK)
    assert ok.valid and ok.status == "ISSUE"
    missing = await client.status("3211999999999999")
    assert not missing.valid and "belum terdaftar" in missing.message
    bsre.set_status(KEPALA_NIK, "REVOKE")
    revoked = await client.status(KEPALA_NIK)
    assert not revoked.valid and "dicabut" in revoked.message


# --- PAdES B-T and B-LT with a timestamp authority ----------------------------------------------------------


@pytest.fixture
async def tsa(office: Office) -> AsyncIterator[FakeTsa]:
    await demo_signer(office)
    ca_key, ca_cert = demo_ca(office)
    fake = FakeTsa(ca_cert, ca_key)
    fake.url = await fake.start()  # type: ignore[attr-defined]
    yield fake
    await fake.stop()


async def test_with_a_tsa_the_signature_is_pades_b_t(office: Office, tsa: FakeTsa) -> None:
    office.signing = SigningSetup(tsa_url=tsa.url)  # type: ignore[attr-defined]
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    data = office.files.get(signed.current_version)
    assert (await verify_letter(office, data)).ok
    _, ca_cert = demo_ca(office)
    reader = PdfFileReader(io.BytesIO(data))
    status = await async_validate_pdf_signature(
        reader.embedded_signatures[0],
        signer_validation_context=ValidationContext(trust_roots=[trust_root(ca_cert)]),
    )
    assert status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted
    [event] = [e for e in await audit_of(office, letter.id) if e.action == "tandatangani"]
    assert event.details is not None and event.details["level"] == "B-T"


async def test_b_lt_embeds_the_revocation_information(office: Office, tsa: FakeTsa) -> None:
    """`keys demo` leaves the demo CA's revocation list in keys/crl: B-LT works offline with it."""
    _, ca_cert = demo_ca(office)
    assert (keys_dir(office) / "crl" / "ca-demo.crl").exists()
    office.signing = SigningSetup(tsa_url=tsa.url, long_term=True, fetch_revocation=False)  # type: ignore[attr-defined]
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    data = office.files.get(signed.current_version)
    assert (await verify_letter(office, data)).ok
    with pikepdf.open(io.BytesIO(data)) as doc:
        assert "/DSS" in doc.Root and len(doc.Root.DSS.get("/CRLs", [])) >= 1
    # Years later, offline: everything needed to check the chain's revocation status is in the file itself.
    reader = PdfFileReader(io.BytesIO(data))
    offline = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {"trust_roots": [trust_root(ca_cert)], "allow_fetching": False, "revocation_mode": "require"}
    )
    status = await async_validate_pdf_signature(reader.embedded_signatures[0], signer_validation_context=offline)
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None and status.timestamp_validity.valid


async def test_b_lt_without_revocation_information_refuses_plainly(office: Office, tsa: FakeTsa) -> None:
    (keys_dir(office) / "crl" / "ca-demo.crl").unlink()
    office.signing = SigningSetup(tsa_url=tsa.url, long_term=True, fetch_revocation=False)  # type: ignore[attr-defined]
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    with pytest.raises(Refusal, match="tidak dapat dipastikan") as refused:
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert refused.value.code == "validasi_gagal"
    assert (await reload(office, letter.id)).state == "tanda_tangan"


async def test_an_unreachable_tsa_refuses_and_changes_nothing(office: Office, tsa: FakeTsa) -> None:
    office.signing = SigningSetup(tsa_url=tsa.url)  # type: ignore[attr-defined]
    await tsa.stop()
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    with pytest.raises(Refusal, match="cap waktu"):
        await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    assert (await reload(office, letter.id)).state == "tanda_tangan"


# --- the paraf block -----------------------------------------------------------------------------------------


async def test_the_archival_copy_carries_the_paraf_and_the_outgoing_letter_does_not(office: Office) -> None:
    await demo_signer(office)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    outgoing = office.files.get(signed.current_version)
    [archive_row] = [v for v in await versions_of(office, letter.id) if v.kind == "arsip"]
    archive = office.files.get(archive_row.sha256)
    assert "Paraf koordinasi" not in text_of(outgoing)
    text = text_of(archive)
    assert "Paraf koordinasi:" in text
    kasi = text.index("1. Lina Herlina")  # verifier 1 first, then verifier 2, each with position and time
    kabid = text.index("2. Ir. Bambang Hermawan")
    assert kasi < kabid and "Kepala Seksi Perizinan Usaha" in text and "WIB" in text
    result = await verify_letter(office, archive)
    assert result.ok and result.archival and result.letter_id == letter.id
    assert any("salinan arsip" in line for line in describe(office, result))
    assert not (await verify_letter(office, outgoing)).archival
    [event] = [e for e in await audit_of(office, letter.id) if e.action == "tandatangani"]
    assert event.details is not None and event.details["arsip"] == archive_row.sha256


async def test_paraf_on_the_outgoing_letter_when_configured(office: Office) -> None:
    await demo_signer(office)
    office.signing = SigningSetup(paraf_on_outgoing=True)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    signed = await sign_letter(office, letter.id, p.kepala, PASSPHRASE)
    outgoing = office.files.get(signed.current_version)
    assert "Paraf koordinasi:" in text_of(outgoing)
    kinds = [v.kind for v in await versions_of(office, letter.id)]
    assert kinds.count("arsip") == 1  # the same file serves as the archive copy
    assert (await verify_letter(office, outgoing)).ok


# --- where the mark goes --------------------------------------------------------------------------------------


def line_boxes(pdf: bytes) -> dict[str, tuple[float, float, float, float]]:
    boxes: dict[str, tuple[float, float, float, float]] = {}
    for page in extract_pages(io.BytesIO(pdf)):
        stack = list(page)
        while stack:
            item = stack.pop()
            if isinstance(item, LTTextLine):
                boxes[item.get_text().strip()] = item.bbox
            elif hasattr(item, "__iter__"):
                stack.extend(item)
    return boxes


SIGNATURE_BLOCK = ["Demikian kami sampaikan.", "", "Kepala Dinas,", "", "", "", "", "", "", "DR. H. ASEP SURYANA",
                   "NIP 197001012000031001"]  # fmt: skip


def test_without_a_placeholder_the_mark_goes_above_the_signers_name() -> None:
    pdf = concept_pdf(["Yth. Camat", "", *SIGNATURE_BLOCK])
    same, placement = stamping.place_stamp(pdf, name="Dr. H. Asep Suryana", nip=KEPALA_NIP)
    assert same == pdf and placement.how == "nama" and placement.page == 0
    boxes = line_boxes(pdf)
    x0, y0, _, y1 = placement.box
    assert y0 >= boxes["DR. H. ASEP SURYANA"][3]  # above the name
    assert y1 <= boxes["Kepala Dinas,"][1]  # below the position line
    assert y1 - y0 >= stamping.MIN_STAMP_HEIGHT
    assert abs(x0 - boxes["DR. H. ASEP SURYANA"][0]) < 1


def test_the_nip_line_finds_the_block_when_the_name_is_written_otherwise() -> None:
    pdf = concept_pdf(["Yth. Camat", "", *SIGNATURE_BLOCK])
    _, placement = stamping.place_stamp(pdf, name="Asep S.", nip=KEPALA_NIP)
    assert placement.how == "nama"
    assert placement.box[1] >= line_boxes(pdf)["DR. H. ASEP SURYANA"][3] - 1


def test_the_placeholder_wins_and_without_either_the_mark_goes_bottom_right() -> None:
    pdf = concept_pdf(["Kepala Dinas,", "${ttd}", "DR. H. ASEP SURYANA"])
    filled, placement = stamping.place_stamp(pdf, name="Dr. H. Asep Suryana")
    assert placement.how == "ttd" and "${ttd}" not in text_of(filled)
    _, corner = stamping.place_stamp(concept_pdf(["Surat tanpa blok tanda tangan."]), name="Dr. H. Asep Suryana")
    assert corner.how == "pojok" and corner.box[2] == 595 - 30 and corner.box[1] == 40


def test_the_mark_drawn_on_the_page_is_text_and_a_qr_code() -> None:
    pdf = concept_pdf(["Kepala Dinas,", "${ttd}", "DR. H. ASEP SURYANA"])
    filled, placement = stamping.place_stamp(pdf)
    drawn = stamping.draw_mark(filled, placement, ["Ditandatangani secara elektronik", "Nama"], "https://x/v/abc")
    assert "Ditandatangani secara elektronik" in text_of(drawn)
    with pikepdf.open(io.BytesIO(drawn)) as doc:
        content = doc.pages[0].Contents.read_bytes()
    assert content.count(b" re") > 100  # the QR modules, as vector squares


# --- settings -------------------------------------------------------------------------------------------------


def test_settings_build_the_signing_setup_and_refuse_incomplete_ones() -> None:
    base = {"_env_file": None}
    assert Settings(**base).office_options()["signing"].level == "B-B"  # type: ignore[arg-type]
    with_tsa = Settings(tsa_url="http://127.0.0.1:9/tsa", **base)  # type: ignore[arg-type]
    assert with_tsa.office_options()["signing"].level == "B-T"
    lt = Settings(tsa_url="http://127.0.0.1:9/tsa", signature_level="B-LT", **base)  # type: ignore[arg-type]
    assert lt.office_options()["signing"].level == "B-LT"
    with pytest.raises(ValueError, match="TSA_URL"):
        Settings(signature_level="B-LT", **base).office_options()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="PKCS11_MODULE"):
        Settings(signing_backend="pkcs11", **base).office_options()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="BSRE_URL"):
        Settings(signing_backend="remote", **base).office_options()  # type: ignore[arg-type]
    footer = Settings(signature_footer="Baris satu | Baris dua {url}", **base)  # type: ignore[arg-type]
    assert footer.office_options()["footer"] == ("Baris satu", "Baris dua {url}")
    boxes = Settings(number_box="60,720", date_box="420,720,10", **base).office_options()["number_boxes"]  # type: ignore[arg-type]
    assert (boxes["nomor"].x, boxes["nomor"].y, boxes["nomor"].size) == (60, 720, 11)
    assert (boxes["tanggal"].x, boxes["tanggal"].size) == (420, 10)
    with pytest.raises(ValueError, match="NUMBER_BOX"):
        Settings(number_box="kiri atas", **base).office_options()  # type: ignore[arg-type]
    secret = Settings(signing_backend="remote", bsre_url="http://x", bsre_client_id="a", bsre_client_secret="rahasia",
                      **base)  # type: ignore[arg-type]  # fmt: skip
    assert "rahasia" not in repr(secret) and "rahasia" not in repr(secret.office_options()["signing"])
