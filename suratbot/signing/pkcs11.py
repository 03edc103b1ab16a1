"""Signing keys on a PKCS#11 token (a smart card, an HSM; SoftHSM2 in the tests), opened with the PIN typed at signing time."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pkcs11
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, CertificateType, ObjectClass
from pkcs11 import exceptions as p11
from pkcs11.util.ec import decode_ec_private_key
from pkcs11.util.rsa import decode_rsa_private_key
from pyhanko.sign.pkcs11 import PKCS11Signer

from suratbot.signing.pades import SigningError, check_validity

_LIBS: dict[str, Any] = {}
_LIBS_LOCK = threading.Lock()


@dataclass(frozen=True)
class TokenConfig:
    """Which PKCS#11 module and token hold the office's signing keys; each key and its certificate are labelled
    with the signer's NIP."""

    module: str
    token_label: str


def _lib(module: str) -> Any:
    with _LIBS_LOCK:  # a module is loaded once per process (C_Initialize may run only once)
        if module not in _LIBS:
            try:
                _LIBS[module] = pkcs11.lib(module)
            except (RuntimeError, OSError, p11.PKCS11Error) as exc:
                raise SigningError(
                    "token_tidak_tersedia", "Modul token tanda tangan (PKCS#11) tidak dapat dimuat. Hubungi admin."
                ) from exc
        return _LIBS[module]


def _token(config: TokenConfig) -> Any:
    try:
        return _lib(config.module).get_token(token_label=config.token_label)
    except (p11.NoSuchToken, p11.MultipleTokensReturned, p11.TokenNotPresent, p11.TokenNotRecognised) as exc:
        raise SigningError(
            "token_tidak_tersedia",
            f"Token tanda tangan \u201c{config.token_label}\u201d tidak ditemukan. Pastikan token terpasang, "
            "lalu coba lagi.",
        ) from exc


class TokenSigner:
    """A logged-in session on the token and the pyHanko signer using it; close it when the signing is done."""

    def __init__(self, session: Any, signer: PKCS11Signer) -> None:
        self.session = session
        self.signer = signer

    def close(self) -> None:
        with contextlib.suppress(p11.PKCS11Error):  # the token went away meanwhile: nothing left to close
            self.session.close()


def open_signer(config: TokenConfig, label: str, pin: str, *, now: datetime) -> TokenSigner:
    """Log in to the token with `pin` and find the key and certificate labelled `label` (blocking: run it in a
    thread). A wrong PIN, a blocked token, a missing key and a certificate out of its dates are refused."""
    token = _token(config)
    try:
        session = token.open(user_pin=pin)
    except (p11.PinIncorrect, p11.PinLenRange, p11.ArgumentsBad):
        raise SigningError("kata_sandi_salah", "PIN (passphrase) token salah. Surat belum ditandatangani.") from None
    except p11.PinLocked:
        raise SigningError(
            "token_terblokir", "PIN token Anda terblokir karena terlalu sering salah. Hubungi admin."
        ) from None
    except p11.PKCS11Error as exc:
        raise SigningError("token_tidak_tersedia", "Token tanda tangan tidak bisa dibuka. Coba lagi.") from exc
    try:
        certs = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}))
        keys = list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: label}))
        if not certs or not keys:
            raise SigningError(
                "kunci_tidak_ada", "Kunci tanda tangan elektronik Anda tidak ada di token. Hubungi admin."
            )
        cert = x509.load_der_x509_certificate(certs[0][Attribute.VALUE])
        check_validity(cert, now)
        signer = PKCS11Signer(
            session,
            key_label=label,
            signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            other_certs_to_pull=None,  # the chain: every other certificate on the token
        )
    except BaseException:
        session.close()
        raise
    return TokenSigner(session, signer)


def put_on_token(
    config: TokenConfig,
    pin: str,
    label: str,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    chain: list[x509.Certificate] | tuple[x509.Certificate, ...] = (),
    *,
    replace: bool = False,
) -> None:
    """Install a signer's key (not extractable afterwards), certificate and CA chain on the token under `label`."""
    token = _token(config)
    try:
        session = token.open(rw=True, user_pin=pin)
    except (p11.PinIncorrect, p11.PinLenRange):
        raise SigningError("kata_sandi_salah", "PIN token salah.") from None
    with session:
        existing = list(session.get_objects({Attribute.LABEL: label}))
        if existing and not replace:
            raise SigningError("kunci_sudah_ada", f"Token sudah berisi kunci berlabel {label}.")
        for obj in existing:
            obj.destroy()
        ident = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        if isinstance(key, rsa.RSAPrivateKey):
            der = key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
            attrs = decode_rsa_private_key(der)
        else:
            der = key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            attrs = decode_ec_private_key(der)
        attrs.update(
            {
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.SIGN: True,
                Attribute.LABEL: label,
                Attribute.ID: ident,
            }
        )
        session.create_object(attrs)
        for n, certificate in enumerate([cert, *chain]):
            present = [
                o
                for o in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
                if o[Attribute.VALUE] == certificate.public_bytes(serialization.Encoding.DER)
            ]
            if n and present:
                continue  # a CA certificate already on the token (another signer's chain)
            session.create_object(
                {
                    Attribute.CLASS: ObjectClass.CERTIFICATE,
                    Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                    Attribute.TOKEN: True,
                    Attribute.LABEL: label if n == 0 else f"CA {certificate.subject.rfc4514_string()}"[:64],
                    Attribute.ID: ident if n == 0 else b"",
                    Attribute.SUBJECT: certificate.subject.public_bytes(),
                    Attribute.VALUE: certificate.public_bytes(serialization.Encoding.DER),
                }
            )


def certificate_on_token(config: TokenConfig, label: str) -> x509.Certificate | None:
    """The certificate labelled `label` (public: no PIN needed), or None when the token holds none."""
    token = _token(config)
    try:
        with token.open() as session:
            found = list(session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.LABEL: label}))
            return x509.load_der_x509_certificate(found[0][Attribute.VALUE]) if found else None
    except p11.PKCS11Error as exc:
        raise SigningError("token_tidak_tersedia", "Token tanda tangan tidak bisa dibuka. Coba lagi.") from exc
