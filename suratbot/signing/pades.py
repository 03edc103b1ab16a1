"""PAdES signing with pyHanko: a PKCS#12 key unlocked by the passphrase typed at signing time, a visible QR stamp."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.stamp import QRStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import ValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore

A4_STAMP_BOX = (330, 40, 565, 130)  # bottom right of an A4 page, in PDF points (x1, y1, x2, y2)


class SigningError(Exception):
    """Signing could not happen; `message` is a plain Indonesian sentence for the signer."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class StampText:
    """What the visible mark says, beside its QR code for `verify_url`."""

    nama: str
    jabatan: str
    nip: str
    verify_url: str
    when: str | None = None  # the signing time as the office reads it ("26-11-2026 09.19 WIB"); else pyHanko's
    issuer_line: str = "Ditandatangani secara elektronik"

    def render(self) -> str:
        lines = [self.issuer_line, self.nama, self.jabatan, f"NIP {self.nip}"]
        escaped = [line.replace("%", "%%") for line in lines]  # pyHanko fills %(name)s templates
        return "\n".join([*escaped, self.when.replace("%", "%%") if self.when else "%(ts)s"])


def unlock_pkcs12(p12: bytes, passphrase: str, *, now: datetime) -> signers.SimpleSigner:
    """The signer inside a PKCS#12 file; a wrong passphrase or a certificate out of its dates is refused."""
    if not p12.startswith(b"\x30"):  # not even DER: a damaged or wrong file, not a wrong passphrase
        raise SigningError("kunci_rusak", "Berkas kunci tanda tangan rusak atau bukan PKCS#12. Hubungi admin.")
    try:
        key, cert, cas = pkcs12.load_key_and_certificates(p12, passphrase.encode("utf-8"))
    except ValueError:
        raise SigningError("kata_sandi_salah", "Kata sandi (passphrase) salah. Surat belum ditandatangani.") from None
    if cert is None or key is None:
        raise SigningError("kunci_rusak", "Berkas kunci tanda tangan tidak berisi sertifikat. Hubungi admin.")
    check_validity(cert, now)
    # Hand the already decrypted key to pyHanko (decrypting the PKCS#12 twice would double the key derivation).
    key_info = asn1_keys.PrivateKeyInfo.load(
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    der = serialization.Encoding.DER
    return _UnlockedKeySigner(
        key,
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(der)),
        signing_key=key_info,
        cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(c.public_bytes(der)) for c in cas]),
    )


class _UnlockedKeySigner(signers.SimpleSigner):
    """pyHanko's in-memory signer, keeping the key it was given as loaded: SimpleSigner parses (and for RSA
    re-validates, ~50 ms) the key for every raw signature, and makes one more in a dry run that only sizes the
    signature container. An RSA signature is exactly as long as the modulus, so the dry run needs no key."""

    def __init__(self, key: object, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._rsa = key if isinstance(key, rsa.RSAPrivateKey) else None

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if self._rsa is None:
            return await super().async_sign_raw(data, digest_algorithm, dry_run)
        if dry_run:
            return bytes(self._rsa.key_size // 8)
        return self.sign_raw(data, digest_algorithm)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if self._rsa is None or mechanism["algorithm"].native not in ("sha256_rsa", "rsassa_pkcs1v15"):
            return super().sign_raw(data, digest_algorithm)
        return self._rsa.sign(data, padding.PKCS1v15(), getattr(hashes, digest_algorithm.upper())())


def check_validity(cert: x509.Certificate, now: datetime) -> None:
    """Refuse a certificate that is not yet valid or has expired at `now`."""
    if now < cert.not_valid_before_utc:
        raise SigningError(
            "sertifikat_belum_berlaku",
            f"Sertifikat tanda tangan Anda baru berlaku mulai {cert.not_valid_before_utc:%d-%m-%Y}. Hubungi admin.",
        )
    if now > cert.not_valid_after_utc:
        raise SigningError(
            "sertifikat_kedaluwarsa",
            f"Sertifikat tanda tangan Anda sudah kedaluwarsa sejak {cert.not_valid_after_utc:%d-%m-%Y}. "
            "Perpanjang sertifikat sebelum menandatangani.",
        )


async def sign_pdf(
    pdf: bytes,
    signer: signers.Signer,
    stamp: StampText,
    *,
    field_name: str = "TandaTanganElektronik",
    reason: str = "Tanda tangan elektronik surat dinas",
    location: str | None = None,
    box: tuple[float, float, float, float] = A4_STAMP_BOX,
    page: int = -1,
    timestamper: timestamps.TimeStamper | None = None,
    validation_context: ValidationContext | None = None,
) -> bytes:
    """`pdf` signed incrementally, so earlier signatures stay valid; the visible stamp goes in `box`.

    PAdES B-B by default; B-T with a `timestamper` (a time-stamp token from a TSA on the signature); B-LT when a
    `validation_context` is given as well: the certificate chain and its revocation information (CRL/OCSP, from
    the context or fetched if it allows) go into the document security store, so the letter can be checked
    years later without reaching the CA.
    """
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError) as exc:
        raise SigningError("pdf_rusak", "Berkas PDF ini rusak dan tidak bisa ditandatangani.") from exc
    if writer.prev.encrypted:
        raise SigningError("pdf_terkunci", "PDF ini terenkripsi, jadi tidak bisa ditandatangani.")
    existing = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
    name, n = field_name, 1
    while name in existing:  # a second signer gets a field of their own
        n += 1
        name = f"{field_name}{n}"
    meta = signers.PdfSignatureMetadata(
        field_name=name,
        reason=reason,
        location=location,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        embed_validation_info=validation_context is not None,
        validation_context=validation_context,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        timestamper=timestamper,
        stamp_style=QRStampStyle(stamp_text=stamp.render(), border_width=0),
        new_field_spec=fields.SigFieldSpec(name, on_page=page, box=box),
    )
    out = io.BytesIO()
    try:
        await pdf_signer.async_sign_pdf(writer, output=out, appearance_text_params={"url": stamp.verify_url})
    except (aiohttp.ClientError, TimeoutError, timestamps.TimestampRequestError) as exc:
        raise SigningError(
            "tsa_gagal", "Layanan cap waktu (TSA) tidak dapat dihubungi. Surat belum ditandatangani; coba lagi."
        ) from exc
    except (ValidationError, PyHankoSigningError) as exc:
        if isinstance(exc, ValidationError) or isinstance(exc.__cause__, ValidationError):
            # B-LT: the chain or its revocation status could not be established
            raise SigningError(
                "validasi_gagal",
                "Status sertifikat (pencabutan) tidak dapat dipastikan, jadi tanda tangan jangka panjang (LTV) "
                "tidak bisa dibuat. Hubungi admin.",
            ) from exc
        raise SigningError("tte_gagal", "Tanda tangan elektronik gagal dibuat. Surat belum ditandatangani.") from exc
    return out.getvalue()
