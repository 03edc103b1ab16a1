"""One-time links to the signing page: issued to the signer for one letter's current version, valid 5 minutes,
used once; the passphrase typed on the page signs through the same service as the chat flow."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, update

from suratbot.services import letters
from suratbot.services.notices import SIGNED, Notice, outbox_row
from suratbot.services.office import Office
from suratbot.services.signature import sign_letter
from suratbot.storage.models import Letter, SigningLink, Staff
from suratbot.workflow.machine import Actor, Refusal, decide

LIFETIME = timedelta(minutes=5)
PATH = "/tandatangan/"

UNKNOWN = Refusal("tautan_tidak_dikenal", "Tautan tanda tangan ini tidak dikenal. Minta tautan baru dari bot.")
EXPIRED = Refusal(
    "tautan_kedaluwarsa",
    "Tautan tanda tangan ini sudah kedaluwarsa (berlaku 5 menit). Tekan Tandatangani lagi di obrolan bot untuk "
    "mendapat tautan baru.",
)
USED = Refusal("tautan_terpakai", "Tautan tanda tangan ini sudah dipakai. Satu tautan hanya untuk satu kali.")
CHANGED = Refusal(
    "surat_berubah",
    "Surat ini sudah berubah atau berpindah tahap sejak tautan dibuat, jadi tautan ini tidak berlaku lagi.",
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SigningPage:
    """What the page shows: the letter as it will be signed, and who signs it."""

    letter: Letter
    signer: Staff
    expires_at: datetime


async def issue(office: Office, staff: Staff, letter: Letter, *, now: datetime | None = None) -> str:
    """A new link for `staff` to sign `letter` (already checked by the caller to be theirs to sign now); earlier
    unused links of theirs for it stop working, so only the newest one in the chat is live."""
    now = now or office.now()
    token = secrets.token_urlsafe(32)
    async with office.uow() as uow:
        session = uow.session
        await session.execute(
            delete(SigningLink).where(
                SigningLink.staff_id == staff.id, SigningLink.letter_id == letter.id, SigningLink.used_at.is_(None)
            )
        )
        await session.execute(delete(SigningLink).where(SigningLink.expires_at < now - timedelta(days=1)))
        session.add(
            SigningLink(
                token_sha256=_digest(token),
                staff_id=staff.id,
                letter_id=letter.id,
                letter_version=letter.current_version,
                expected_state=letter.state,
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
    return f"{office.public_url}{PATH}{token}"


async def open_page(office: Office, token: str, *, now: datetime | None = None) -> SigningPage:
    """The letter behind a live link; Refusal when the link is unknown, expired, used, or the letter moved on."""
    now = now or office.now()
    async with office.reading() as uow:
        session = uow.session
        link = await session.get(SigningLink, _digest(token)) if token else None
        if link is None:
            raise UNKNOWN
        if link.used_at is not None:
            raise USED
        if link.expires_at <= now:
            raise EXPIRED
        letter = await session.get(Letter, link.letter_id)
        signer = await letters.load_actor(session, link.staff_id)
        if letter is None or letter.current_version != link.letter_version or letter.state != link.expected_state:
            raise CHANGED
        try:  # still theirs to sign (not passed on to a Plh meanwhile, not taken off the roster)
            decide(office.sop, letters.facts_of(letter), Actor(signer.id, signer.roles), "tandatangani", now=now,
                   expected_state=link.expected_state)  # fmt: skip
        except Refusal:
            raise CHANGED from None
        return SigningPage(letter, signer, link.expires_at)


async def sign(office: Office, token: str, passphrase: str, *, now: datetime | None = None) -> Letter:
    """Sign the link's letter with the passphrase typed on the page. The link is taken while the passphrase is
    tried (a second submit at the same moment is refused), kept for good once signed, and given back after a
    wrong passphrase while the signer is not locked out. The signer's chat is told the result."""
    now = now or office.now()
    page = await open_page(office, token, now=now)
    digest = _digest(token)
    async with office.uow() as uow:
        taken = await uow.session.execute(
            update(SigningLink)
            .where(
                SigningLink.token_sha256 == digest,
                SigningLink.used_at.is_(None),
                SigningLink.expires_at > now,
            )
            .values(used_at=now)
        )
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise USED
    try:
        letter = await sign_letter(
            office, page.letter.id, page.signer.id, passphrase, expected_state=page.letter.state, now=now
        )
    except Refusal as refusal:
        if refusal.code == "kata_sandi_salah" and "dikunci" not in refusal.message:
            async with office.uow() as uow:  # a typo: the same link may be used again (until it expires)
                await uow.session.execute(
                    update(SigningLink)
                    .where(and_(SigningLink.token_sha256 == digest, SigningLink.used_at == now))
                    .values(used_at=None)
                )
        raise
    finally:
        del passphrase
    async with office.uow() as uow:
        text = (
            f"\u2705 Surat Nomor {letter.nomor} sudah Anda tandatangani secara elektronik lewat halaman tanda "
            "tangan, dan diteruskan untuk dikirim."
        )
        uow.session.add(
            outbox_row(Notice(page.signer.id, SIGNED, text, attachment_sha256=letter.current_version), letter.id, now)
        )
    return letter
