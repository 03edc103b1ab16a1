"""Kepala Dinas signs a letter: passphrase checked, lockout after repeated mistakes, PAdES signature recorded.

The passphrase is used to unlock the signer's key and is never stored, logged or put in an exception.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services import letters
from suratbot.services.keystore import signer_key_path
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.signing.pades import SigningError, StampText, sign_pdf, unlock_pkcs12
from suratbot.storage.models import AuditEvent, Letter
from suratbot.workflow.machine import Actor, Refusal, decide

WRONG_LIMIT = 3
WINDOW = timedelta(minutes=15)
LOCK = timedelta(minutes=15)
WRONG = "tte_kata_sandi_salah"
LOCKED = "tte_terkunci"


async def sign_letter(
    office: Office,
    letter_id: str,
    actor_id: int,
    passphrase: str,
    *,
    expected_state: str | None = None,
    now: datetime | None = None,
) -> Letter:
    """Sign the letter's current version with the actor's own key and move it on to dispatch.

    Refusal (in Indonesian) when the actor may not sign it now, is locked out after three wrong passphrases
    in 15 minutes, has no key, or types a wrong passphrase (which is counted and recorded).
    """
    now = now or office.now()
    async with office.uow() as uow:
        actor = await letters.load_actor(uow.session, actor_id)
        letter = await uow.session.get(Letter, letter_id)
        if letter is None:
            raise Refusal("surat_tidak_ada", "Surat tidak ditemukan.")
        decide(office.sop, letters.facts_of(letter), Actor(actor.id, actor.roles), "tandatangani", now=now,
               expected_state=expected_state)  # fmt: skip
        await _check_lock(uow.session, actor.id, now)
        version = letter.current_version
        nip, nama, jabatan = actor.nip, actor.nama, actor.jabatan
    key_path = signer_key_path(office, nip)
    if not key_path.exists():
        raise Refusal(
            "kunci_tidak_ada",
            "Kunci tanda tangan elektronik Anda belum terpasang. Hubungi admin (suratbot keys demo / sertifikat BSrE).",
        )
    try:
        signer = unlock_pkcs12(key_path.read_bytes(), passphrase, now=now)
    except SigningError as exc:
        if exc.code == "kata_sandi_salah":
            message = await _count_wrong(office, letter_id, actor_id, now)
            raise Refusal(exc.code, message) from None
        raise Refusal(exc.code, exc.message) from None
    stamp = StampText(nama, jabatan, nip, office.verify_url(letter_id), when=local_time(office.sop, now))
    try:
        signed = await sign_pdf(office.files.get(version), signer, stamp, location=office.sop.office)
    except SigningError as exc:
        raise Refusal(exc.code, exc.message) from None
    return await letters.record_signature(
        office,
        letter_id,
        actor_id,
        Upload(signed, "surat-ditandatangani.pdf"),
        details={"tte": "pkcs12", "versi_asal": version},
        expected_state="tanda_tangan" if expected_state is None else expected_state,
        now=now,
    )


async def _check_lock(session: AsyncSession, actor_id: int, now: datetime) -> None:
    locked_at = await session.scalar(
        select(func.max(AuditEvent.at)).where(AuditEvent.actor_id == actor_id, AuditEvent.action == LOCKED)
    )
    if locked_at is not None and now < locked_at + LOCK:
        minutes = int((locked_at + LOCK - now).total_seconds() // 60) + 1
        raise Refusal(
            "tte_terkunci",
            f"Tanda tangan Anda dikunci sementara karena {WRONG_LIMIT} kali salah kata sandi. "
            f"Coba lagi dalam {minutes} menit.",
        )


async def _count_wrong(office: Office, letter_id: str, actor_id: int, now: datetime) -> str:
    """Record a wrong passphrase; the third within 15 minutes locks signing for 15 minutes (also recorded)."""
    async with office.uow() as uow:
        uow.session.add(AuditEvent(letter_id=letter_id, actor_id=actor_id, action=WRONG, at=now))
        await uow.session.flush()
        last_lock = await uow.session.scalar(
            select(func.max(AuditEvent.at)).where(AuditEvent.actor_id == actor_id, AuditEvent.action == LOCKED)
        )
        since = max(now - WINDOW, last_lock) if last_lock else now - WINDOW
        wrong = await uow.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.action == WRONG, AuditEvent.at > since)
        )
        if (wrong or 0) >= WRONG_LIMIT:
            uow.session.add(
                AuditEvent(
                    letter_id=letter_id,
                    actor_id=actor_id,
                    action=LOCKED,
                    note=f"{WRONG_LIMIT} kali salah kata sandi dalam {int(WINDOW.total_seconds() // 60)} menit.",
                    at=now,
                )
            )
            return (
                f"Kata sandi salah {WRONG_LIMIT} kali. Tanda tangan Anda dikunci selama "
                f"{int(LOCK.total_seconds() // 60)} menit."
            )
    left = WRONG_LIMIT - (wrong or 0)
    return f"Kata sandi (passphrase) salah. Surat belum ditandatangani. Sisa percobaan: {left}."
