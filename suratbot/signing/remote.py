"""A remote signing service in the shape of BSrE's HTTP API: the prepared PDF goes out, the signed PDF comes back.

The API (v2 shape, HTTP Basic auth with the office's client id and secret):

- ``POST /api/v2/user/check-status`` ``{"nik"}`` -> ``{"status": "ISSUE"|"EXPIRED"|"REVOKE"|"SUSPEND"|
  "NOT_REGISTERED", "message"}``
- ``POST /api/v2/sign/pdf`` ``{"nik", "passphrase", "signatureProperties": [{"tampilan", "imageBase64", "page",
  "originX", "originY", "width", "height", "location", "reason"}], "file": [base64 PDF]}`` -> ``{"file": [base64
  signed PDF], "time"}``; errors ``{"status_code", "error"}``: 2011 NIK not registered, 2021 certificate not
  active or expired, 2031 wrong passphrase, 2051 document refused. ``page`` counts from 1 and the origin is the
  top left corner of the page, in points.

The visible mark (QR code and text) is drawn on the page before the PDF goes out, so the service is asked for a
visible signature over it with a transparent specimen image: the signature field sits on the mark, and the
service never adds anything of its own to the page.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field

import httpx
import pikepdf

from suratbot.signing.pades import SigningError

# A 1x1 transparent PNG: BSrE wants a specimen image for a visible signature; the mark is already on the page.
CLEAR_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

_STATUS_TEXT = {
    "ISSUE": "Sertifikat elektronik aktif.",
    "EXPIRED": "Sertifikat elektronik sudah kedaluwarsa. Perpanjang melalui admin TTE.",
    "REVOKE": "Sertifikat elektronik sudah dicabut. Hubungi admin TTE.",
    "SUSPEND": "Sertifikat elektronik sedang dibekukan. Hubungi admin TTE.",
    "NOT_REGISTERED": "NIK belum terdaftar di layanan tanda tangan elektronik (BSrE). Hubungi admin TTE.",
}

_ERRORS = {
    2011: ("nik_tidak_terdaftar", _STATUS_TEXT["NOT_REGISTERED"]),
    2021: (
        "sertifikat_kedaluwarsa",
        "Sertifikat elektronik Anda tidak aktif atau sudah kedaluwarsa. Surat belum ditandatangani; "
        "perpanjang sertifikat melalui admin TTE.",
    ),
    2031: ("kata_sandi_salah", "Kata sandi (passphrase) salah. Surat belum ditandatangani."),
    2051: ("pdf_ditolak", "Layanan tanda tangan elektronik menolak berkas PDF ini. Hubungi admin."),
}


@dataclass(frozen=True)
class RemoteSigningConfig:
    """Where the service is and the office's credentials for it."""

    url: str
    client_id: str
    client_secret: str = field(repr=False)
    timeout: float = 60.0


@dataclass(frozen=True)
class CertificateStatus:
    """What the service says about a NIK's certificate."""

    valid: bool
    status: str
    message: str  # Indonesian, for the signer or the admin


class RemoteSigner:
    """The office's client of the remote signing service."""

    def __init__(self, config: RemoteSigningConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.config.url.rstrip("/"),
            auth=(self.config.client_id, self.config.client_secret),
            timeout=self.config.timeout,
            transport=self._transport,
        )

    async def status(self, nik: str) -> CertificateStatus:
        """Whether `nik` holds a valid certificate at the service."""
        body = await self._post("/api/v2/user/check-status", {"nik": nik})
        status = str(body.get("status", "")).upper()
        message = _STATUS_TEXT.get(status) or f"Status sertifikat: {body.get('message') or status or 'tidak dikenal'}."
        return CertificateStatus(status == "ISSUE", status, message)

    async def sign(
        self,
        pdf: bytes,
        *,
        nik: str,
        passphrase: str,
        page: int,
        box: tuple[float, float, float, float],
        location: str | None = None,
        reason: str = "Tanda tangan elektronik surat dinas",
    ) -> bytes:
        """`pdf` signed by the service for `nik`, with the signature field over `box` (PDF coordinates, origin at
        the bottom left) on `page` (0-based, -1 for the last). The result must be `pdf` plus an incremental
        update holding a new signature; anything else is refused."""
        number, left, top, signed_before = _page_geometry(pdf, page)
        x1, y1, x2, y2 = box
        properties = {
            "tampilan": "VISIBLE",
            "imageBase64": base64.b64encode(CLEAR_PNG).decode(),
            "page": number,
            "originX": round(x1 - left, 2),
            "originY": round(top - y2, 2),
            "width": round(x2 - x1, 2),
            "height": round(y2 - y1, 2),
            "reason": reason,
        }
        if location:
            properties["location"] = location
        payload = {
            "nik": nik,
            "passphrase": passphrase,
            "signatureProperties": [properties],
            "file": [base64.b64encode(pdf).decode()],
        }
        body = await self._post("/api/v2/sign/pdf", payload)
        try:
            signed = base64.b64decode(body["file"][0], validate=True)
        except (KeyError, IndexError, TypeError, ValueError):
            raise _unexpected("jawaban tanpa berkas") from None
        if not signed.startswith(pdf) or len(signed) == len(pdf):
            raise _unexpected("berkas yang kembali bukan surat yang dikirim dengan tambahan tanda tangan")
        if _signature_count(signed) <= signed_before:
            raise _unexpected("berkas yang kembali tidak berisi tanda tangan baru")
        return signed

    async def _post(self, path: str, payload: dict[str, object]) -> dict[str, object]:
        try:
            async with self._client() as client:
                response = await client.post(path, json=payload)
        except httpx.TimeoutException as exc:
            raise SigningError(
                "layanan_tte_gagal",
                "Layanan tanda tangan elektronik tidak menjawab tepat waktu. Surat belum ditandatangani; coba lagi.",
            ) from exc
        except httpx.HTTPError as exc:
            raise SigningError(
                "layanan_tte_gagal",
                "Layanan tanda tangan elektronik tidak dapat dihubungi. Surat belum ditandatangani; coba lagi "
                "beberapa saat lagi.",
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code == 401:
            raise SigningError(
                "layanan_tte_menolak",
                "Aplikasi ini belum diizinkan memakai layanan tanda tangan elektronik (kredensial klien salah). "
                "Hubungi admin.",
            )
        if not isinstance(body, dict):
            raise _unexpected(f"HTTP {response.status_code}")
        if response.is_success:
            return body
        code = body.get("status_code")
        if isinstance(code, int) and code in _ERRORS:
            raise SigningError(*_ERRORS[code])
        if response.status_code >= 500:
            raise SigningError(
                "layanan_tte_gagal",
                "Layanan tanda tangan elektronik sedang bermasalah. Surat belum ditandatangani; coba lagi nanti.",
            )
        raise _unexpected(f"kode {code}: {body.get('error') or response.status_code}")


def _unexpected(what: str) -> SigningError:
    return SigningError("layanan_tte_gagal", f"Layanan tanda tangan elektronik menjawab tak terduga ({what}).")


def _page_geometry(pdf: bytes, page: int) -> tuple[int, float, float, int]:
    """(1-based page number, the page's left and top edges, signatures already in the file)."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        index = page if page >= 0 else len(doc.pages) + page
        box = [float(v) for v in doc.pages[index].mediabox]
        return index + 1, min(box[0], box[2]), max(box[1], box[3]), _count(doc)


def _signature_count(pdf: bytes) -> int:
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        return _count(doc)


def _count(doc: pikepdf.Pdf) -> int:
    acro = doc.Root.get("/AcroForm")
    if acro is None:
        return 0
    return sum(1 for f in acro.get("/Fields", []) if f.get("/FT") == "/Sig" and f.get("/V") is not None)
