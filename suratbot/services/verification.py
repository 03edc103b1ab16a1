"""Is this PDF a letter this office signed, unmodified, with a valid signature? For the CLI, chat and web."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from suratbot.services.keystore import trust_roots
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.signing.verify import Verification, verify_pdf
from suratbot.storage.models import FileVersion, Letter


@dataclass(frozen=True)
class LetterVerification:
    verification: Verification
    sha256: str
    letter_id: str | None  # the letter this office signed with exactly these bytes, if any
    nomor: str | None
    cancelled: bool = False  # that letter was cancelled after signing: the file is no letter of the office
    superseded: bool = False  # that letter has a newer version (e.g. signed again after a return)
    archival: bool = False  # the office's archival copy (with the paraf block), not the letter that went out

    @property
    def ok(self) -> bool:
        return self.verification.ok and self.letter_id is not None and not self.cancelled and not self.superseded


async def verify_letter(office: Office, pdf: bytes) -> LetterVerification:
    """The PDF checked against this office's letters. The signature check (parsing and hashing up to 20 MB)
    runs in a thread with its own event loop, so the bot's loop keeps answering meanwhile."""
    digest = hashlib.sha256(pdf).hexdigest()
    roots = trust_roots(office)
    verification = await asyncio.to_thread(lambda: asyncio.run(verify_pdf(pdf, roots)))
    async with office.reading() as uow:
        row = (
            await uow.session.execute(
                select(
                    Letter.id,
                    Letter.nomor,
                    Letter.state,
                    Letter.current_version,
                    FileVersion.kind,
                    FileVersion.created_at,
                )
                .join(FileVersion, FileVersion.letter_id == Letter.id)
                .where(FileVersion.sha256 == digest, FileVersion.kind.in_(("ditandatangani", "arsip")))
                .order_by(FileVersion.kind.desc())  # the letter that went out before an identical archive copy
                .limit(1)
            )
        ).first()
        in_force = row.current_version if row is not None else None
        if row is not None and row.kind == "arsip":  # in force if the letter signed with it still is
            in_force = await uow.session.scalar(
                select(FileVersion.sha256).where(
                    FileVersion.letter_id == row.id,
                    FileVersion.kind == "ditandatangani",
                    FileVersion.created_at == row.created_at,
                )
            )
    if row is None:
        return LetterVerification(verification, digest, None, None)
    return LetterVerification(
        verification,
        digest,
        row.id,
        row.nomor,
        cancelled=row.state == "dibatalkan",
        superseded=in_force != row.current_version if row.kind == "arsip" else row.current_version != digest,
        archival=row.kind == "arsip",
    )


_TEXT = {
    "id": {
        "ok": "SAH: dokumen ini surat yang ditandatangani kantor ini dan tidak berubah sejak ditandatangani.",
        "bad": "TIDAK SAH",
        "signer": "Penanda tangan",
        "issuer": "penerbit sertifikat",
        "time": "waktu tanda tangan",
        "intact": "isi tidak berubah sejak ditandatangani",
        "changed": "ADA PERUBAHAN setelah ditandatangani",
        "untrusted": "sertifikat tidak dikenal kantor ini",
        "invalid": "tanda tangan tidak valid",
        "number": "Nomor surat",
        "known": "Sidik berkas (SHA-256) cocok dengan surat yang dikirim kantor ini",
        "unknown": "Sidik berkas (SHA-256) tidak cocok dengan surat mana pun dari kantor ini",
        "cancelled": "DIBATALKAN: surat ini dibatalkan kantor ini setelah ditandatangani; tidak berlaku.",
        "superseded": "Ada versi yang lebih baru dari surat ini; berkas ini bukan versi yang berlaku.",
        "archival": "Ini salinan arsip kantor (dengan paraf verifikator), bukan berkas yang dikirim ke tujuan.",
        "bukan_pdf": "Berkas ini bukan PDF yang utuh.",
        "tanpa_tanda_tangan": "PDF ini tidak memiliki tanda tangan elektronik.",
    },
    "en": {
        "ok": "VALID: this is a letter signed by this office, unmodified since it was signed.",
        "bad": "NOT VALID",
        "signer": "Signer",
        "issuer": "certificate issuer",
        "time": "signing time",
        "intact": "unchanged since signing",
        "changed": "MODIFIED after signing",
        "untrusted": "certificate not trusted by this office",
        "invalid": "invalid signature",
        "number": "Letter number",
        "known": "File hash (SHA-256) matches a letter this office sent",
        "unknown": "File hash (SHA-256) matches no letter of this office",
        "cancelled": "CANCELLED: this office cancelled the letter after it was signed; it is void.",
        "superseded": "A newer version of this letter exists; this file is not the one in force.",
        "archival": "This is the office's archival copy (with the verifiers' paraf), not the file that was sent.",
        "bukan_pdf": "This file is not an intact PDF.",
        "tanpa_tanda_tangan": "This PDF carries no electronic signature.",
    },
}


def describe(office: Office, result: LetterVerification, lang: str = "id") -> list[str]:
    """The verification as lines of text, in Indonesian (`id`) or English (`en`)."""
    t = _TEXT[lang]
    lines = [t["ok"] if result.ok else t["bad"]]
    if result.verification.problem_code:
        lines.append(t[result.verification.problem_code])
    for sig in result.verification.signatures:
        state = [t["intact"] if sig.intact and sig.whole_file else t["changed"]]
        if not sig.valid:
            state.append(t["invalid"])
        if not sig.trusted:
            state.append(t["untrusted"])
        when = "-"
        if sig.signed_at:
            local = sig.signed_at.astimezone(office.sop.calendar.timezone)
            when = local_time(office.sop, sig.signed_at) if lang == "id" else f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
        lines.append(
            f"{t['signer']}: {sig.signer} ({t['issuer']}: {sig.issuer}; {t['time']}: {when}) — {', '.join(state)}"
        )
    if result.nomor:
        lines.append(f"{t['number']}: {result.nomor}")
    if result.cancelled:
        lines.append(t["cancelled"])
    elif result.superseded:
        lines.append(t["superseded"])
    if result.archival:
        lines.append(t["archival"])
    lines.append(f"{t['known'] if result.letter_id else t['unknown']}: {result.sha256}")
    return lines
