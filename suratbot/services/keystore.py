"""The office's signing keys under DATA_DIR/keys: the demo CA, one PKCS#12 file per signer, and trust roots."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from sqlalchemy import select

from suratbot.services.office import Office
from suratbot.signing.keys import SignerProfile, create_demo_ca, demo_crl, issue_signer, strong_passphrase
from suratbot.storage.models import Staff

SIGNER_ROLES = ("kepala",)  # who gets a demo key: Kepala Dinas (and stand-ins, when the Plh issue lands)


class KeystoreError(Exception):
    """A problem with the key folder, in Indonesian."""


@dataclass
class DemoKeysReport:
    folder: Path
    passphrase: str = field(repr=False)
    generated: bool  # the passphrase was generated here (print it once)
    signers: list[tuple[str, str, Path]] = field(default_factory=list)  # (nip, nama, p12 path) made now
    kept: list[tuple[str, str, Path]] = field(default_factory=list)  # keys already there, left alone


def keys_dir(office: Office) -> Path:
    return office.files.root.parent / "keys"


def signer_key_path(office: Office, nip: str) -> Path:
    if not nip.isascii() or not nip.isdigit():
        raise KeystoreError(f"NIP {nip!r} tidak valid.")
    return keys_dir(office) / "signers" / f"{nip}.p12"


def trust_roots(office: Office) -> list[x509.Certificate]:
    """The CA certificates whose signatures this office trusts (`*.pem` in DATA_DIR/keys/trust and the demo CA)."""
    folder = keys_dir(office)
    paths = [folder / "ca.pem", *sorted((folder / "trust").glob("*.pem"))]
    roots: list[x509.Certificate] = []
    for path in paths:
        if path.exists():
            roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return roots


def local_crls(office: Office) -> list[x509.CertificateRevocationList]:
    """Revocation lists kept in DATA_DIR/keys/crl (`*.crl`, DER or PEM): for PAdES B-LT without fetching."""
    lists: list[x509.CertificateRevocationList] = []
    for path in sorted((keys_dir(office) / "crl").glob("*.crl")):
        data = path.read_bytes()
        if data.lstrip().startswith(b"-----"):
            lists.append(x509.load_pem_x509_crl(data))
        else:
            lists.append(x509.load_der_x509_crl(data))
    return lists


def _write_private(path: Path, data: bytes) -> None:
    """Write a secret file readable by its owner only (a new file, renamed into place: no old permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kunci-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def make_demo_keys(office: Office, *, passphrase: str | None, replace: bool) -> DemoKeysReport:
    """A demo CA and a key for every active signer of the roster, all protected by one passphrase."""
    folder = keys_dir(office)
    if (folder / "ca.pem").exists() and not replace:
        raise KeystoreError(
            f"Kunci demo sudah ada di {folder}. Jalankan dengan --ganti untuk membuat ulang "
            "(tanda tangan lama tetap sah terhadap CA lama, bukan yang baru)."
        )
    signers = await _active_signers(office)
    if not signers:
        raise KeystoreError("Belum ada pegawai aktif dengan peran kepala; impor daftar pegawai dahulu.")
    generated = passphrase is None
    secret = passphrase or strong_passphrase()
    if len(secret) < 8:
        raise KeystoreError("Kata sandi (passphrase) minimal 8 karakter.")
    # Certificates live in real time (validators check them against the wall clock), while the office clock may
    # be simulated (the demo, the tests): let them be valid from a day before the earlier of the two.
    now = min(office.now(), datetime.now(UTC)) - timedelta(days=1)
    if (folder / "ca.pem").exists():  # --ganti: letters signed under the old CA must still verify
        (folder / "trust").mkdir(parents=True, exist_ok=True)
        os.replace(folder / "ca.pem", folder / "trust" / f"ca-demo-lama-{now:%Y%m%d%H%M%S}.pem")
    ca = create_demo_ca(office.sop.office, code=office.sop.office_code, now=now)
    _write_private(
        folder / "ca-key.pem",
        ca.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret.encode("utf-8")),
        ),
    )
    (folder / "ca.pem").write_bytes(ca.cert_pem())
    (folder / "crl").mkdir(parents=True, exist_ok=True)
    (folder / "crl" / "ca-demo.crl").write_bytes(demo_crl(ca, now=now))
    report = DemoKeysReport(folder=folder, passphrase=secret, generated=generated)
    for staff in signers:
        path = signer_key_path(office, staff.nip)
        if path.exists() and not replace:  # a key installed with `keys import` is never overwritten silently
            report.kept.append((staff.nip, staff.nama, path))
            continue
        profile = SignerProfile(staff.nama, staff.jabatan, staff.nip, office.sop.office)
        _write_private(path, issue_signer(ca, profile, secret, now=now))
        report.signers.append((staff.nip, staff.nama, path))
    return report


_TITLES = frozenset(
    {"dr", "drs", "dra", "h", "hj", "ir", "prof", "st", "se", "sh", "mm", "msi", "mt", "mpd", "spd", "skom", "ssos"}
    | {"ap", "mh", "msc", "phd"}
)


def _name_words(name: str) -> set[str]:
    """The words of a person's name without academic and religious titles (`Dr. H. Asep Suryana, M.Si.`)."""
    words = set()
    for raw in name.replace(",", " ").split():
        word = "".join(ch for ch in raw.casefold() if ch.isalpha())
        if word and word not in _TITLES:
            words.add(word)
    return words


@dataclass(frozen=True)
class ImportedKey:
    path: Path
    subject: str
    issuer: str
    not_after: datetime
    issuer_trusted: bool


async def import_target(office: Office, nip: str, *, replace: bool) -> Staff:
    """The active staff member a key is being imported for (checked before anyone is asked for a passphrase)."""
    async with office.uow() as uow:
        staff = (await uow.session.scalars(select(Staff).where(Staff.nip == nip, Staff.active.is_(True)))).first()
    if staff is None:
        raise KeystoreError(f"Tidak ada pegawai aktif dengan NIP {nip}.")
    path = signer_key_path(office, nip)
    if path.exists() and not replace:
        raise KeystoreError(f"{staff.nama} sudah punya kunci ({path}). Tambahkan --ganti untuk menggantinya.")
    return staff


async def import_signer_key(
    office: Office, nip: str, p12: bytes, passphrase: str, *, replace: bool = False
) -> ImportedKey:
    """Install a real PKCS#12 key for the active staff member `nip`, after checking it opens with `passphrase`,
    is in its validity period and is that person's (same NIP in the certificate, or the same name)."""
    from suratbot.signing.pades import SigningError, unlock_pkcs12

    staff = await import_target(office, nip, replace=replace)
    path = signer_key_path(office, nip)
    try:
        signer = unlock_pkcs12(p12, passphrase, now=office.now())
    except SigningError as exc:
        raise KeystoreError(exc.message) from None
    except ValueError:
        raise KeystoreError("Berkas ini bukan PKCS#12 (.p12/.pfx) yang bisa dibaca.") from None
    cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
    subject_nip = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)]
    common_names = [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    wanted = _name_words(staff.nama)
    same_person = nip in subject_nip or any(wanted and _name_words(cn) == wanted for cn in common_names)
    if not same_person:
        shown = common_names[0] if common_names else cert.subject.rfc4514_string()
        raise KeystoreError(f"Sertifikat ini milik {shown}, bukan {staff.nama} (NIP {nip}). Tidak dipasang.")
    _write_private(path, p12)
    roots = trust_roots(office)
    trusted = any(root.subject == cert.issuer for root in roots)
    return ImportedKey(
        path, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), cert.not_valid_after_utc, trusted
    )


@dataclass(frozen=True)
class SignerStatus:
    nip: str
    nama: str
    ready: bool
    message: str  # Indonesian, for the admin


async def signer_statuses(office: Office) -> list[SignerStatus]:
    """For every active signer: is their key where the office's signing back end looks for it, and usable?"""
    from suratbot.signing.pades import SigningError, check_validity
    from suratbot.signing.pkcs11 import certificate_on_token
    from suratbot.signing.remote import RemoteSigner

    setup = office.signing
    now = office.now()
    statuses: list[SignerStatus] = []
    for staff in await _active_signers(office):
        try:
            if setup.backend == "pkcs12":
                path = signer_key_path(office, staff.nip)
                ready = path.exists()
                message = f"berkas kunci {path}" if ready else f"belum ada kunci ({path}); jalankan keys demo/import"
            elif setup.backend == "pkcs11":
                assert setup.token is not None
                cert = await asyncio.to_thread(certificate_on_token, setup.token, staff.nip)
                if cert is None:
                    ready, message = (
                        False,
                        f"token {setup.token.token_label} tidak berisi sertifikat berlabel {staff.nip}",
                    )
                else:
                    check_validity(cert, now)
                    ready = True
                    message = f"sertifikat di token berlaku sampai {cert.not_valid_after_utc:%d-%m-%Y}"
            else:
                assert setup.remote is not None
                if not staff.nik:
                    ready, message = False, "NIK belum tercatat di daftar pegawai (kolom nik)"
                else:
                    status = await RemoteSigner(setup.remote).status(staff.nik)
                    ready, message = status.valid, status.message
        except SigningError as exc:
            ready, message = False, exc.message
        statuses.append(SignerStatus(staff.nip, staff.nama, ready, message))
    return statuses


async def _active_signers(office: Office) -> list[Staff]:
    from suratbot.services.roster import active_with_roles

    return await active_with_roles(office, SIGNER_ROLES)


async def install_on_token(office: Office, nip: str, p12: bytes, passphrase: str, pin: str, *, replace: bool) -> str:
    """Put a signer's PKCS#12 key and certificate on the office's PKCS#11 token (label: the NIP); the key cannot
    be read back from the token afterwards. Returns the token's label."""
    from suratbot.signing.pades import SigningError
    from suratbot.signing.pkcs11 import put_on_token

    setup = office.signing
    if setup.token is None:
        raise KeystoreError("SIGNING_BACKEND=pkcs11 belum diatur (PKCS11_MODULE, PKCS11_TOKEN_LABEL).")
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(p12, passphrase.encode("utf-8"))
    except ValueError:
        raise KeystoreError("Kata sandi (passphrase) berkas kunci salah, atau berkas bukan PKCS#12.") from None
    if key is None or cert is None:
        raise KeystoreError("Berkas kunci tidak berisi kunci dan sertifikat.")
    try:
        await asyncio.to_thread(put_on_token, setup.token, pin, nip, key, cert, list(chain), replace=replace)  # type: ignore[arg-type]
    except SigningError as exc:
        raise KeystoreError(exc.message) from None
    return setup.token.token_label
