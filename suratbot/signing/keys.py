"""Keys for a new office: a local demo CA and passphrase-protected PKCS#12 signer certificates."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_BITS = 2048
# Document signing (RFC 9336); Adobe also accepts plain digitalSignature + nonRepudiation.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class DemoCA:
    """A certificate authority for one office's demo keys (never for letters that leave the office)."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class SignerProfile:
    """Who a signer certificate is for: the roster's name, position and NIP."""

    nama: str
    jabatan: str
    nip: str
    office: str


def _key_usage(*, signs_documents: bool) -> x509.KeyUsage:
    """A signer's key signs documents (with non-repudiation); a CA's key signs certificates and CRLs."""
    return x509.KeyUsage(
        digital_signature=signs_documents,
        content_commitment=signs_documents,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signs_documents,
        crl_sign=not signs_documents,
        encipher_only=False,
        decipher_only=False,
    )


def strong_passphrase() -> str:
    """A passphrase to print once: 4 groups of 5 letters and digits, easy to type on a phone."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4))


def _x500(text: str) -> str:
    """X.500 names hold at most 64 characters."""
    return text if len(text) <= 64 else text[:63].rstrip() + "\u2026"


def create_demo_ca(office: str, *, now: datetime, code: str | None = None, years: int = 10) -> DemoCA:
    """A self-signed CA named after the office (`code`, e.g. DPMPTSP, keeps its common name short)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _x500(office)),
            x509.NameAttribute(NameOID.COMMON_NAME, _x500(f"CA Demo {code or office}")),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_documents=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return DemoCA(key, cert)


def issue_signer(ca: DemoCA, profile: SignerProfile, passphrase: str, *, now: datetime, days: int = 730) -> bytes:
    """A PKCS#12 file (key + certificate + CA) for `profile`, encrypted with `passphrase`."""
    if not passphrase:
        raise ValueError("a signer key needs a passphrase")
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _x500(profile.office)),
            x509.NameAttribute(NameOID.TITLE, _x500(profile.jabatan)),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, profile.nip),
            x509.NameAttribute(NameOID.COMMON_NAME, _x500(profile.nama)),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_documents=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        name=profile.nama.encode("utf-8"),
        key=key,
        cert=cert,
        cas=[ca.cert],
        encryption_algorithm=serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )


def demo_crl(ca: DemoCA, *, now: datetime, days: int = 365) -> bytes:
    """An empty revocation list of the demo CA (DER), so PAdES B-LT can embed revocation data offline."""
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + timedelta(days=days))
        .sign(ca.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)
