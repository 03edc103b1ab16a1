"""What the public page a letter's QR code opens may tell about it, and whether a received PDF is that letter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from suratbot.services.office import Office
from suratbot.services.verification import LetterVerification, describe, verify_letter
from suratbot.storage.models import AuditEvent, FileVersion, Letter, Staff
from suratbot.workflow.letter import SECRET_SIFAT

LETTER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class PublicLetter:
    """A letter as anyone holding its QR code may see it: no subject of a secret letter, no people but the signer."""

    id: str
    office: str
    nomor: str | None
    letter_date: date | None
    perihal: str | None  # None for Rahasia and Sangat Rahasia letters
    secret: bool
    status: str  # "berlaku", "dibatalkan", "belum_ditandatangani"
    signer: str | None
    signer_position: str | None
    signed_at: datetime | None
    signed_sha256: str | None


async def public_letter(office: Office, letter_id: str) -> PublicLetter | None:
    """The letter with this id, as the public page shows it; None when there is none (a 404, whatever the id)."""
    if not LETTER_ID.fullmatch(letter_id):
        return None
    async with office.reading() as uow:
        session = uow.session
        letter = await session.get(Letter, letter_id)
        if letter is None:
            return None
        event = await session.scalar(
            select(AuditEvent)
            .where(AuditEvent.letter_id == letter.id, AuditEvent.action == "tandatangani")
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(1)
        )
        # In force: the file it stands at now is the one signed (whatever the office's SOP calls its states).
        in_force = await session.scalar(
            select(FileVersion.id).where(
                FileVersion.letter_id == letter.id,
                FileVersion.kind == "ditandatangani",
                FileVersion.sha256 == letter.current_version,
            )
        )
        signer = official = None
        if event is not None:
            signer = await session.get(Staff, event.actor_id) if event.actor_id else None
            official = await session.get(Staff, event.on_behalf_of_id) if event.on_behalf_of_id else None
    secret = letter.sifat in SECRET_SIFAT
    if letter.state == "dibatalkan":
        status = "dibatalkan"
    elif event is not None and in_force is not None:
        status = "berlaku"
    else:
        status = "belum_ditandatangani"
    position = None
    if signer is not None:
        position = f"Plh. {official.jabatan}" if official is not None else signer.jabatan
    return PublicLetter(
        id=letter.id,
        office=office.sop.office,
        nomor=letter.nomor,
        letter_date=letter.letter_date,
        perihal=None if secret else letter.perihal,
        secret=secret,
        status=status,
        signer=signer.nama if signer is not None else None,
        signer_position=position,
        signed_at=event.at if event is not None else None,
        signed_sha256=letter.current_version if status == "berlaku" else None,
    )


@dataclass(frozen=True)
class Check:
    """A received PDF held against the letter of the page: the verdict, one line saying it, and the details."""

    verdict: str  # "sah", "surat_lain", "tidak_sah"
    headline: str
    details: list[str]
    result: LetterVerification


async def check_upload(office: Office, letter: PublicLetter, pdf: bytes) -> Check:
    """Is `pdf` exactly the letter of this page, as this office signed it, unmodified, with a valid signature?"""
    result = await verify_letter(office, pdf)
    details = [line for line in describe(office, result)[1:] if line != result.verification.problem]
    if result.ok and result.letter_id == letter.id:
        headline = (
            "SAH: berkas ini sama persis dengan surat yang ditandatangani kantor ini, tidak berubah sejak "
            "ditandatangani, dan tanda tangannya valid."
        )
        return Check("sah", headline, details, result)
    if result.ok:  # a good letter of this office, but another one than this page's
        headline = (
            f"Berkas ini surat sah dari kantor ini, tetapi surat lain (Nomor {result.nomor or '-'}), bukan surat "
            "yang kode QR-nya Anda pindai."
        )
        return Check("surat_lain", headline, details, result)
    return Check("tidak_sah", "TIDAK SAH: " + _why_not(result), details, result)


def _why_not(result: LetterVerification) -> str:
    verification = result.verification
    if verification.problem is not None:  # not a PDF, or no signature at all
        return f"berkas ini bukan surat yang ditandatangani kantor ini. {verification.problem}"
    if result.cancelled:
        return "surat ini dibatalkan kantor ini setelah ditandatangani; tidak berlaku."
    if result.superseded:
        return "ada versi yang lebih baru dari surat ini; berkas ini bukan versi yang berlaku."
    signatures = verification.signatures
    if any(not (s.intact and s.whole_file) for s in signatures):
        return "isi berkas sudah diubah setelah ditandatangani."
    if not any(s.trusted for s in signatures):
        return "berkas ini tidak ditandatangani dengan sertifikat kantor ini."
    if not all(s.valid for s in signatures):
        return "tanda tangan elektroniknya tidak valid."
    return "berkas ini tidak sama dengan surat mana pun yang ditandatangani kantor ini."
