"""A fake of BSrE's remote signing HTTP API (v2): user status and PAdES signing of PDFs with pyHanko."""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import hdrs, web
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

STATUSES = ("ISSUE", "EXPIRED", "REVOKE", "SUSPEND")
STATUS_MESSAGES = {
    "NOT_REGISTERED": "NIK tidak terdaftar",
    "ISSUE": "Sertifikat aktif",
    "EXPIRED": "Sertifikat sudah kedaluwarsa",
    "REVOKE": "Sertifikat sudah dicabut",
    "SUSPEND": "Sertifikat sedang dibekukan",
}
FIELD_NAME = "BSrE"
MAX_BODY = 64 * 1024 * 1024  # base64 PDFs are larger than aiohttp's 1 MiB default


@dataclass
class BsreUser:
    """A person registered at BSrE: NIK, passphrase and their key with its certificate chain."""

    nik: str
    passphrase: str
    key: Any  # a cryptography private key (RSA or EC)
    cert: x509.Certificate
    chain: list[x509.Certificate] = field(default_factory=list)
    status: str | None = None  # set_status's override, else derived from the certificate's dates


class _ApiError(Exception):
    """A BSrE error answer: HTTP status and the JSON body {"status_code", "error"}."""

    def __init__(self, http_status: int, status_code: int, error: str) -> None:
        super().__init__(f"{status_code}: {error}")
        self.http_status = http_status
        self.status_code = status_code
        self.error = error

    def response(self) -> web.Response:
        return web.json_response({"status_code": self.status_code, "error": self.error}, status=self.http_status)


def _bad_request(error: str) -> _ApiError:
    return _ApiError(400, 400, error)


def _der(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _signer(user: BsreUser) -> signers.SimpleSigner:
    key_info = asn1_keys.PrivateKeyInfo.load(
        user.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return signers.SimpleSigner(
        signing_cert=_der(user.cert),
        signing_key=key_info,
        cert_registry=SimpleCertificateStore.from_certs([_der(c) for c in user.chain]),
    )


def _decoded_lengths(files: Any) -> Any:
    """What the request log keeps of `file`: the decoded length of each document (None if not base64)."""
    if not isinstance(files, list):
        return files
    lengths: list[int | None] = []
    for item in files:
        try:
            lengths.append(len(base64.b64decode(item, validate=True)) if isinstance(item, str) else None)
        except (binascii.Error, ValueError):
            lengths.append(None)
    return lengths


def _number(props: dict[str, Any], name: str) -> float:
    value = props.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad_request(f"signatureProperties.{name} wajib berupa angka")
    return float(value)


def _media_box(page: generic.DictionaryObject) -> tuple[float, float, float, float]:
    """The page's MediaBox, which a page may inherit from its parents in the page tree."""
    node: Any = page
    while node is not None:
        if "/MediaBox" in node:
            llx, lly, urx, ury = (float(v) for v in node["/MediaBox"])
            return llx, lly, urx, ury
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return 0.0, 0.0, 595.0, 842.0  # no MediaBox at all: assume A4 like most viewers would


def _background_layout() -> layout.SimpleBoxLayoutRule:
    """Centre the image in the box, scaled up or down to fit while keeping its aspect ratio."""
    return layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MID,
        y_align=layout.AxisAlignment.ALIGN_MID,
        margins=layout.Margins(),
        inner_content_scaling=layout.InnerScaling.STRETCH_TO_FIT,
    )


class FakeBsre:
    """BSrE's signing API on 127.0.0.1, with users added by the test; `requests` logs what it was asked."""

    def __init__(
        self,
        *,
        client_id: str = "suratbot",
        client_secret: str = "rahasia-klien",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.now: Callable[[], datetime] = now or (lambda: datetime.now(UTC))
        self.users: dict[str, BsreUser] = {}
        self.requests: list[dict[str, Any]] = []
        self.fail_next: int | None = None
        self._runner: web.AppRunner | None = None

    # -- set-up by the test --------------------------------------------------------------------

    def add_user(
        self, nik: str, passphrase: str, key: Any, cert: x509.Certificate, chain: Iterable[x509.Certificate] = ()
    ) -> None:
        self.users[nik] = BsreUser(nik, passphrase, key, cert, list(chain))

    def set_status(self, nik: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        self.users[nik].status = status

    async def start(self) -> str:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/api/v2/user/check-status", self._check_status)
        app.router.add_post("/api/v2/sign/pdf", self._sign_pdf)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the API -------------------------------------------------------------------------------

    def status_of(self, nik: str) -> str:
        """The status BSrE reports: an expired certificate wins over any override."""
        user = self.users.get(nik)
        if user is None:
            return "NOT_REGISTERED"
        if user.cert.not_valid_after_utc < self.now():
            return "EXPIRED"
        return user.status or "ISSUE"

    def _authorized(self, request: web.Request) -> bool:
        """HTTP Basic auth with the client's id and secret (parsed by hand: aiohttp deprecates BasicAuth)."""
        scheme, _, encoded = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            login, colon, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, ValueError):
            return False
        expected = f"{self.client_id}:{self.client_secret}".encode()
        return bool(colon) and hmac.compare_digest(f"{login}:{password}".encode(), expected)

    async def _read(self, request: web.Request) -> dict[str, Any]:
        """Log the request (without secrets or documents), check the client, and parse the JSON body."""
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        logged = dict(body) if isinstance(body, dict) else body
        if isinstance(logged, dict):
            if "passphrase" in logged:
                logged["passphrase"] = "***"
            if "file" in logged:
                logged["file"] = _decoded_lengths(logged["file"])
        self.requests.append({"path": request.path, "json": logged})
        if not self._authorized(request):
            raise _ApiError(401, 401, "Unauthorized")
        if not isinstance(body, dict):
            raise _bad_request("Body harus berupa JSON object")
        return body

    async def _check_status(self, request: web.Request) -> web.Response:
        try:
            body = await self._read(request)
            nik = body.get("nik")
            if not isinstance(nik, str) or not nik:
                raise _bad_request("nik wajib diisi")
        except _ApiError as exc:
            return exc.response()
        status = self.status_of(nik)
        return web.json_response({"status": status, "message": STATUS_MESSAGES[status]})

    async def _sign_pdf(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        try:
            body = await self._read(request)
            if self.fail_next is not None:
                self.fail_next = None
                raise _ApiError(500, 500, "Internal Server Error")
            nik, passphrase = body.get("nik"), body.get("passphrase")
            props, files = body.get("signatureProperties"), body.get("file")
            if not isinstance(nik, str) or not nik:
                raise _bad_request("nik wajib diisi")
            if not isinstance(passphrase, str) or not passphrase:
                raise _bad_request("passphrase wajib diisi")
            if not isinstance(props, list) or not props or not all(isinstance(p, dict) for p in props):
                raise _bad_request("signatureProperties wajib diisi")
            if not isinstance(files, list) or not files:
                raise _bad_request("file wajib diisi")
            user = self.users.get(nik)
            if user is None:
                raise _ApiError(400, 2011, "NIK tidak terdaftar")
            if self.status_of(nik) != "ISSUE":
                raise _ApiError(400, 2021, "Sertifikat tidak aktif atau sudah kedaluwarsa")
            if not hmac.compare_digest(passphrase.encode(), user.passphrase.encode()):
                raise _ApiError(400, 2031, "Passphrase anda salah")
            documents = [self._decode_pdf(item) for item in files]
            signer = _signer(user)
            signed = []
            for pdf in documents:
                # Every signature property adds one signature, each in an incremental update of its own.
                for spec in props:
                    pdf = await self._sign_one(pdf, signer, spec)
                signed.append(base64.b64encode(pdf).decode("ascii"))
        except _ApiError as exc:
            return exc.response()
        elapsed_ms = round((time.perf_counter() - started) * 1000)
        return web.json_response({"file": signed, "time": elapsed_ms})

    @staticmethod
    def _decode_pdf(item: Any) -> bytes:
        invalid = _ApiError(400, 2051, "Dokumen tidak valid")
        if not isinstance(item, str):
            raise invalid
        try:
            pdf = base64.b64decode(item, validate=True)
        except (binascii.Error, ValueError):
            raise invalid from None
        if not pdf.lstrip()[:5] == b"%PDF-":
            raise invalid
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        except Exception:  # any parse failure of pyHanko's reader means a broken document
            raise invalid from None
        if writer.prev.encrypted:
            raise invalid
        return pdf

    async def _sign_one(self, pdf: bytes, signer: signers.Signer, spec: dict[str, Any]) -> bytes:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        taken = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
        name, n = FIELD_NAME, 1
        while name in taken:
            n += 1
            name = f"{FIELD_NAME}{n}"
        tampilan = spec.get("tampilan", "INVISIBLE")
        if tampilan not in ("VISIBLE", "INVISIBLE"):
            raise _bad_request("signatureProperties.tampilan harus VISIBLE atau INVISIBLE")
        page = spec.get("page", 1)
        if isinstance(page, bool) or not isinstance(page, int):
            raise _bad_request("signatureProperties.page wajib berupa angka")
        page_count = int(writer.prev.root["/Pages"]["/Count"])
        if not 1 <= page <= page_count:
            raise _bad_request(f"signatureProperties.page di luar dokumen (1..{page_count})")
        stamp_style: StaticStampStyle | None = None
        if tampilan == "VISIBLE":
            x, y = _number(spec, "originX"), _number(spec, "originY")
            width, height = _number(spec, "width"), _number(spec, "height")
            if width <= 0 or height <= 0:
                raise _bad_request("signatureProperties.width dan height harus positif")
            page_ref, _ = writer.prev.find_page_for_modification(page - 1)
            llx, _, _, ury = _media_box(page_ref.get_object())
            # BSrE measures from the top-left corner with y growing downwards; PDF from the bottom-left, upwards.
            box = (llx + x, ury - y - height, llx + x + width, ury - y)
            field_spec = fields.SigFieldSpec(name, on_page=page - 1, box=box)
            stamp_style = StaticStampStyle(
                border_width=0,
                background=self._image(spec.get("imageBase64")),
                background_layout=_background_layout(),
            )
        else:
            field_spec = fields.SigFieldSpec(name, on_page=page - 1)
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            reason=spec.get("reason") or None,
            location=spec.get("location") or None,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
        )
        pdf_signer = signers.PdfSigner(meta, signer, stamp_style=stamp_style, new_field_spec=field_spec)
        out = io.BytesIO()
        await pdf_signer.async_sign_pdf(writer, output=out)
        return out.getvalue()

    @staticmethod
    def _image(image_b64: Any) -> PdfImage | None:
        """The signature image as the appearance's background, scaled to fit the box (none: an empty box)."""
        if image_b64 is None or image_b64 == "":
            return None
        if not isinstance(image_b64, str):
            raise _bad_request("signatureProperties.imageBase64 harus berupa base64")
        try:
            image = Image.open(io.BytesIO(base64.b64decode(image_b64, validate=True)))
            image.load()
        except (binascii.Error, ValueError, OSError, UnidentifiedImageError):
            raise _bad_request("signatureProperties.imageBase64 bukan gambar yang valid") from None
        if image.mode not in ("RGB", "RGBA", "L", "LA"):  # pyHanko embeds only these (and simple palettes)
            image = image.convert("RGBA")
        return PdfImage(image)
