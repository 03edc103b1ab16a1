"""The BSrE and TSA fakes behave like the real services: real HTTP, real signatures that pyHanko validates."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps.aiohttp_client import AIOHttpTimeStamper, HTTPTimeStamper
from pyhanko.sign.validation import SignatureCoverageLevel, async_validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from suratbot.data.concept import example_letter
from suratbot.signing.keys import DemoCA, SignerProfile, create_demo_ca, issue_signer
from suratbot.signing.pades import unlock_pkcs12
from tests.fakes.bsre import FakeBsre
from tests.fakes.tsa import FakeTsa

NOW = datetime.now(UTC)
CLIENT = {"Authorization": aiohttp.encode_basic_auth("suratbot", "rahasia-klien")}
KEPALA = SignerProfile("Dr. H. Asep Suryana", "Kepala Dinas", "197001012000031001", "DPMPTSP Kabupaten Sumedang")
NIK_KEPALA = "3211010101700001"
NIK_LAMA = "3211010101700002"  # a certificate that expired yesterday
PASSPHRASE = "uji-coba-tte-2026"
A4_HEIGHT = 842


@pytest.fixture(scope="module")
def ca() -> DemoCA:
    return create_demo_ca("DPMPTSP Kabupaten Sumedang", now=NOW - timedelta(days=30))


def load_signer(ca: DemoCA, *, now: datetime, days: int) -> tuple[Any, x509.Certificate]:
    p12 = issue_signer(ca, KEPALA, PASSPHRASE, now=now, days=days)
    key, cert, _ = pkcs12.load_key_and_certificates(p12, PASSPHRASE.encode())
    assert key is not None and cert is not None
    return key, cert


@pytest.fixture(scope="module")
def kepala(ca: DemoCA) -> tuple[Any, x509.Certificate]:
    return load_signer(ca, now=NOW, days=730)


@pytest.fixture(scope="module")
def kepala_lama(ca: DemoCA) -> tuple[Any, x509.Certificate]:
    return load_signer(ca, now=NOW - timedelta(days=20), days=19)


@pytest.fixture
async def bsre(
    ca: DemoCA, kepala: tuple[Any, x509.Certificate], kepala_lama: tuple[Any, x509.Certificate]
) -> AsyncIterator[tuple[FakeBsre, str]]:
    fake = FakeBsre()
    fake.add_user(NIK_KEPALA, PASSPHRASE, *kepala, chain=[ca.cert])
    fake.add_user(NIK_LAMA, PASSPHRASE, *kepala_lama, chain=[ca.cert])
    url = await fake.start()
    yield fake, url
    await fake.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


async def validate_all(pdf: bytes, ca: DemoCA) -> list[PdfSignatureStatus]:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [
        await async_validate_pdf_signature(sig, ValidationContext(trust_roots=[asn1(ca.cert)]))
        for sig in reader.embedded_signatures
    ]


def sign_body(pdf: bytes, *, passphrase: str = PASSPHRASE, **props: Any) -> dict[str, Any]:
    spec = {
        "tampilan": "VISIBLE",
        "page": 1,
        "originX": 330,
        "originY": 700,
        "width": 200,
        "height": 80,
        "location": "Sumedang",
        "reason": "Tanda tangan surat dinas",
    } | props
    return {
        "nik": NIK_KEPALA,
        "passphrase": passphrase,
        "signatureProperties": [spec],
        "file": [base64.b64encode(pdf).decode()],
    }


async def post(
    session: aiohttp.ClientSession, url: str, json: Any, *, auth: dict[str, str] | None = CLIENT
) -> tuple[int, Any]:
    async with session.post(url, json=json, headers=auth) as response:
        return response.status, await response.json()


def signature_png() -> str:
    image = Image.new("RGBA", (300, 120), (0, 0, 128, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


# -- check-status ---------------------------------------------------------------------------------


async def test_status_of_known_unknown_and_expired_nik(
    bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession
) -> None:
    fake, url = bsre
    endpoint = f"{url}/api/v2/user/check-status"
    assert await post(session, endpoint, {"nik": NIK_KEPALA}) == (
        200,
        {"status": "ISSUE", "message": "Sertifikat aktif"},
    )
    assert await post(session, endpoint, {"nik": "0000"}) == (
        200,
        {"status": "NOT_REGISTERED", "message": "NIK tidak terdaftar"},
    )
    assert (await post(session, endpoint, {"nik": NIK_LAMA}))[1]["status"] == "EXPIRED"
    fake.set_status(NIK_KEPALA, "REVOKE")
    assert (await post(session, endpoint, {"nik": NIK_KEPALA}))[1]["status"] == "REVOKE"
    assert await post(session, endpoint, {}) == (400, {"status_code": 400, "error": "nik wajib diisi"})


async def test_a_clock_past_the_certificate_makes_it_expired(
    ca: DemoCA, kepala: tuple[Any, x509.Certificate], session: aiohttp.ClientSession
) -> None:
    fake = FakeBsre(now=lambda: NOW + timedelta(days=800))
    fake.add_user(NIK_KEPALA, PASSPHRASE, *kepala, chain=[ca.cert])
    url = await fake.start()
    try:
        status, body = await post(session, f"{url}/api/v2/user/check-status", {"nik": NIK_KEPALA})
        assert (status, body["status"]) == (200, "EXPIRED")
        status, body = await post(session, f"{url}/api/v2/sign/pdf", sign_body(example_letter("Uji", "Camat")))
        assert (status, body["status_code"]) == (400, 2021)
    finally:
        await fake.stop()


async def test_requests_without_the_client_credentials_are_refused(
    bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession
) -> None:
    _, url = bsre
    unauthorized = (401, {"status_code": 401, "error": "Unauthorized"})
    assert await post(session, f"{url}/api/v2/user/check-status", {"nik": NIK_KEPALA}, auth=None) == unauthorized
    wrong = {"Authorization": aiohttp.encode_basic_auth("suratbot", "salah")}
    assert await post(session, f"{url}/api/v2/sign/pdf", sign_body(b"%PDF-"), auth=wrong) == unauthorized


# -- sign/pdf -------------------------------------------------------------------------------------


async def test_a_visible_signature_validates_and_sits_where_asked(
    bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession, ca: DemoCA
) -> None:
    fake, url = bsre
    pdf = example_letter("Undangan Rapat", "Camat se-Kabupaten Sumedang")
    status, body = await post(session, f"{url}/api/v2/sign/pdf", sign_body(pdf, imageBase64=signature_png()))
    assert status == 200, body
    assert isinstance(body["time"], int)
    [signed_b64] = body["file"]
    signed = base64.b64decode(signed_b64)
    [result] = await validate_all(signed, ca)
    assert result.intact and result.valid and result.trusted
    assert result.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert b"/SubFilter /ETSI.CAdES.detached" in signed

    [(name, _, field_ref)] = list(fields.enumerate_sig_fields(PdfFileReader(io.BytesIO(signed))))
    assert name == "BSrE"
    x1, y1, x2, y2 = (float(v) for v in field_ref.get_object()["/Rect"])
    # Back to BSrE's top-left origin.
    assert (x1, A4_HEIGHT - y2, x2 - x1, y2 - y1) == (330, 700, 200, 80)
    assert b"/Subtype /Image" in signed  # the PNG became the appearance

    [logged] = fake.requests
    assert logged["path"] == "/api/v2/sign/pdf"
    assert logged["json"]["passphrase"] == "***"
    assert logged["json"]["file"] == [len(pdf)]


async def test_invisible_signature_has_no_box(
    bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession, ca: DemoCA
) -> None:
    _, url = bsre
    pdf = example_letter("Uji", "Camat", pages=2)
    status, body = await post(session, f"{url}/api/v2/sign/pdf", sign_body(pdf, tampilan="INVISIBLE", page=2))
    assert status == 200, body
    signed = base64.b64decode(body["file"][0])
    [result] = await validate_all(signed, ca)
    assert result.bottom_line
    [(_, _, field_ref)] = list(fields.enumerate_sig_fields(PdfFileReader(io.BytesIO(signed))))
    assert [float(v) for v in field_ref.get_object()["/Rect"]] == [0, 0, 0, 0]


async def test_wrong_passphrase_and_other_errors(bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession) -> None:
    fake, url = bsre
    endpoint = f"{url}/api/v2/sign/pdf"
    pdf = example_letter("Uji", "Camat")
    assert await post(session, endpoint, sign_body(pdf, passphrase="salah")) == (
        400,
        {"status_code": 2031, "error": "Passphrase anda salah"},
    )
    assert (await post(session, endpoint, sign_body(pdf) | {"nik": "0000"}))[1]["status_code"] == 2011
    assert (await post(session, endpoint, sign_body(pdf) | {"nik": NIK_LAMA}))[1]["status_code"] == 2021
    assert (await post(session, endpoint, sign_body(b"bukan pdf")))[1]["status_code"] == 2051
    assert (await post(session, endpoint, sign_body(pdf) | {"file": ["!!!"]}))[1]["status_code"] == 2051
    assert (await post(session, endpoint, {"nik": NIK_KEPALA}))[1]["status_code"] == 400
    async with session.post(endpoint, data=b"{not json", headers=CLIENT) as response:
        assert response.status == 400 and (await response.json())["status_code"] == 400
    fake.fail_next = 1
    assert await post(session, endpoint, sign_body(pdf)) == (
        500,
        {"status_code": 500, "error": "Internal Server Error"},
    )
    assert (await post(session, endpoint, sign_body(pdf)))[0] == 200  # only once
    fake.set_status(NIK_KEPALA, "SUSPEND")
    assert (await post(session, endpoint, sign_body(pdf)))[1]["status_code"] == 2021


async def test_an_encrypted_pdf_is_not_a_valid_document(
    bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession
) -> None:
    _, url = bsre
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(example_letter("Rahasia", "Camat"))))
    writer.encrypt("pemilik", "pembaca")
    out = io.BytesIO()
    writer.write(out)
    status, body = await post(session, f"{url}/api/v2/sign/pdf", sign_body(out.getvalue()))
    assert (status, body["status_code"]) == (400, 2051)


async def test_a_second_signature_keeps_the_first_valid(
    bsre: tuple[FakeBsre, str], session: aiohttp.ClientSession, ca: DemoCA
) -> None:
    _, url = bsre
    endpoint = f"{url}/api/v2/sign/pdf"
    status, body = await post(session, endpoint, sign_body(example_letter("Uji", "Camat")))
    assert status == 200, body
    once = base64.b64decode(body["file"][0])
    status, body = await post(session, endpoint, sign_body(once, originY=600, imageBase64=signature_png()))
    assert status == 200, body
    twice = base64.b64decode(body["file"][0])
    assert twice.startswith(once)  # an incremental update
    first, second = await validate_all(twice, ca)
    assert first.intact and first.valid and first.trusted
    assert first.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert first.modification_level == ModificationLevel.FORM_FILLING
    assert second.bottom_line and second.coverage == SignatureCoverageLevel.ENTIRE_FILE
    names = [name for name, _, _ in fields.enumerate_sig_fields(PdfFileReader(io.BytesIO(twice)))]
    assert names == ["BSrE", "BSrE2"]


# -- TSA ------------------------------------------------------------------------------------------


async def test_the_tsa_time_stamps_a_signature(
    ca: DemoCA, kepala: tuple[Any, x509.Certificate], session: aiohttp.ClientSession
) -> None:
    fixed = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    tsa = FakeTsa(ca.cert, ca.key, now=lambda: fixed)
    url = await tsa.start()
    try:
        p12 = issue_signer(ca, KEPALA, PASSPHRASE, now=NOW)
        signer = unlock_pkcs12(p12, PASSPHRASE, now=NOW)
        meta = signers.PdfSignatureMetadata(
            field_name="Tanda", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"
        )
        pdf_signer = signers.PdfSigner(meta, signer, timestamper=HTTPTimeStamper(url, session=session))
        out = io.BytesIO()
        writer = IncrementalPdfFileWriter(io.BytesIO(example_letter("Uji", "Camat")), strict=False)
        await pdf_signer.async_sign_pdf(writer, output=out)
        [result] = await validate_all(out.getvalue(), ca)
        assert result.bottom_line
        ts = result.timestamp_validity
        assert ts is not None and ts.intact and ts.valid and ts.trusted
        assert ts.timestamp == fixed
        assert tsa.requests >= 1  # pyHanko also asks for a dummy token to size the signature container

        # The deprecated client named in older docs still works against the fake.
        with pytest.warns(DeprecationWarning):
            legacy = AIOHttpTimeStamper(url, session)
        token = await legacy.async_timestamp(hashlib.sha256(b"surat").digest(), "sha256")
        assert token["content_type"].native == "signed_data"

        # Anything but a time-stamp query is refused.
        async with session.get(url) as response:
            assert response.status == 400
        async with session.post(url, data=b"junk", headers={"Content-Type": "application/timestamp-query"}) as response:
            assert response.status == 400
    finally:
        await tsa.stop()
