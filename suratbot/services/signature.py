"""Kepala Dinas signs a letter: passphrase checked, lockout after repeated mistakes, PAdES signature recorded.

The passphrase is used to unlock the signer's key and is never stored, logged or put in an exception.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services import letters
from suratbot.services.keystore import signer_key_path
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.signing import stamping
from suratbot.signing.pades import A4_STAMP_BOX, SigningError, StampText, sign_pdf, unlock_pkcs12
from suratbot.storage.models import AuditEvent, Letter, Staff
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
    in 15 minutes, has no key, or types a wrong passphrase (which is counted and recorded). The check, the
    unlocking and the count happen under a lock on the signer's row, so guesses sent at once are counted one
    by one; the signature itself is made after that, and recorded only if the letter did not change meanwhile.
    """
    now = now or office.now()
    refusal: Refusal | None = None
    async with office.uow() as uow:
        session = uow.session
        actor = await letters.load_actor(session, actor_id)
        await session.execute(select(Staff.id).where(Staff.id == actor.id).with_for_update())
        letter = await session.get(Letter, letter_id)
        if letter is None:
            raise Refusal("surat_tidak_ada", "Surat tidak ditemukan.")
        decide(office.sop, letters.facts_of(letter), Actor(actor.id, actor.roles), "tandatangani", now=now,
               expected_state=expected_state)  # fmt: skip
        await _check_lock(session, actor.id, now)
        key_path = signer_key_path(office, actor.nip)
        key_bytes = await asyncio.to_thread(_read_key, key_path)
        try:
            signer = await asyncio.to_thread(unlock_pkcs12, key_bytes, passphrase, now=now)
        except SigningError as exc:
            if exc.code != "kata_sandi_salah":
                raise Refusal(exc.code, exc.message) from None
            refusal = Refusal(exc.code, await _count_wrong(session, letter_id, actor.id, now))
        version, nip, nama, jabatan = letter.current_version, actor.nip, actor.nama, actor.jabatan
    if refusal is not None:  # raised after the commit, so the wrong attempt stays recorded
        raise refusal
    stamp = StampText(nama, jabatan, nip, office.verify_url(letter_id), when=local_time(office.sop, now))
    source = await asyncio.to_thread(office.files.get, version)
    try:
        if await asyncio.to_thread(stamping.has_signatures, source):
            box, page = A4_STAMP_BOX, -1  # earlier signatures must stay valid: add ours incrementally, touch nothing
        else:
            source, box, page = await asyncio.to_thread(_place_stamp, source)
            footer = [line.format(url=office.verify_url(letter_id)) for line in office.footer]
            source = await asyncio.to_thread(stamping.add_footer, source, footer)  # on the page before signing
        signed = await sign_pdf(source, signer, stamp, location=office.sop.office, box=box, page=page)
    except (SigningError, stamping.StampingError) as exc:
        raise Refusal(exc.code, exc.message) from None
    return await letters.record_signature(
        office,
        letter_id,
        actor_id,
        Upload(signed, "surat-ditandatangani.pdf"),
        details={"tte": "pkcs12", "versi_asal": version},
        signed_from=version,
        expected_state="tanda_tangan" if expected_state is None else expected_state,
        now=now,
    )


def _place_stamp(pdf: bytes) -> tuple[bytes, tuple[float, float, float, float], int]:
    """Where the visible signature goes: at `${ttd}` (which is taken out of the text first, before anything is
    signed), else bottom right of the last page."""
    spots = [f for f in stamping.find_placeholders(pdf) if f.key == "ttd"]
    if not spots:
        return pdf, A4_STAMP_BOX, -1
    spot = spots[0]
    width, height = A4_STAMP_BOX[2] - A4_STAMP_BOX[0], A4_STAMP_BOX[3] - A4_STAMP_BOX[1]
    x0 = max(10.0, min(spot.x, 585.0 - width))
    top = spot.y + spot.size
    y0 = max(10.0, top - height)
    return stamping.fill(pdf, {"ttd": ""}), (x0, y0, x0 + width, y0 + height), spot.page


def _read_key(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise Refusal(
            "kunci_tidak_ada",
            "Kunci tanda tangan elektronik Anda belum terpasang. Hubungi admin (suratbot keys demo / keys import).",
        ) from None


async def _since_last(session: AsyncSession, actor_id: int, actions: tuple[str, ...]) -> datetime | None:
    return await session.scalar(
        select(func.max(AuditEvent.at)).where(AuditEvent.actor_id == actor_id, AuditEvent.action.in_(actions))
    )


async def _check_lock(session: AsyncSession, actor_id: int, now: datetime) -> None:
    locked_at = await _since_last(session, actor_id, (LOCKED,))
    if locked_at is not None and now < locked_at + LOCK:
        minutes = math.ceil((locked_at + LOCK - now).total_seconds() / 60)
        raise Refusal(
            "tte_terkunci",
            f"Tanda tangan Anda dikunci sementara karena {WRONG_LIMIT} kali salah kata sandi. "
            f"Coba lagi dalam {minutes} menit.",
        )


async def _count_wrong(session: AsyncSession, letter_id: str, actor_id: int, now: datetime) -> str:
    """Record a wrong passphrase; the third within 15 minutes (since the last lock or the last successful
    signature) locks signing for 15 minutes, also recorded."""
    session.add(AuditEvent(letter_id=letter_id, actor_id=actor_id, action=WRONG, at=now))
    await session.flush()
    reset = await _since_last(session, actor_id, (LOCKED, "tandatangani"))
    since = max(now - WINDOW, reset) if reset else now - WINDOW
    wrong = int(
        await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.action == WRONG, AuditEvent.at > since)
        )
        or 0
    )
    if wrong >= WRONG_LIMIT:
        session.add(
            AuditEvent(
                letter_id=letter_id,
                actor_id=actor_id,
                action=LOCKED,
                note=f"{WRONG_LIMIT} kali salah kata sandi dalam {int(WINDOW.total_seconds() // 60)} menit.",
                at=now,
            )
        )
        return f"Kata sandi salah {WRONG_LIMIT} kali. Tanda tangan Anda dikunci selama {int(LOCK.total_seconds() // 60)} menit."
    return f"Kata sandi (passphrase) salah. Surat belum ditandatangani. Sisa percobaan: {WRONG_LIMIT - wrong}."
