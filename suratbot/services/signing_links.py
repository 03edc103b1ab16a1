"""One-time links to the signing page: issued to the signer for one letter's current version, valid 5 minutes,
used once; the passphrase typed on the page signs through the same service as the chat flow."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import and_, delete, update

from suratbot.services import letters
from suratbot.services.notices import SIGNED, Notice, outbox_row
from suratbot.services.office import Office
from suratbot.services.signature import sign_letter
from suratbot.storage.models import Letter, PendingPrompt, SigningLink, Staff
from suratbot.workflow.machine import Actor, Refusal, decide

LIFETIME = timedelta(minutes=5)
PASSPHRASE_PROMPT = "passphrase"  # the chat's own prompt for it (handlers.signing.PASSPHRASE)
PATH = "/tandatangan/"

UNKNOWN = Refusal("tautan_tidak_dikenal", "Tautan tanda tangan ini tidak dikenal. Minta tautan baru dari bot.")
EXPIRED = Refusal(
    "tautan_kedaluwarsa",
    f"Tautan tanda tangan ini sudah kedaluwarsa (berlaku {int(LIFETIME.total_seconds() // 60)} menit). Tekan "
    "Tandatangani lagi di obrolan bot untuk mendapat tautan baru.",
)
USED = Refusal("tautan_terpakai", "Tautan tanda tangan ini sudah dipakai. Satu tautan hanya untuk satu kali.")
BUSY = Refusal(
    "tautan_diproses",
    "Tanda tangan dengan tautan ini sedang diproses. Muat ulang halaman ini sebentar lagi untuk melihat hasilnya.",
)
CHANGED = Refusal(
    "surat_berubah",
    "Surat ini sudah berubah atau berpindah tahap sejak tautan dibuat, jadi tautan ini tidak berlaku lagi.",
)


def page_reachable(office: Office) -> bool:
    """Whether a phone can open the signing page: the office's public address is https (as WhatsApp's link
    buttons and Telegram's Web Apps need), or this machine itself (the demo and the tests)."""
    url = urlsplit(office.public_url)
    return url.scheme == "https" or (url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost", "::1"))


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
        letter = await session.get(Letter, link.letter_id)
        if link.used_at is not None:
            # Spent, or taken this very moment by another submit of the same form (a double tap).
            if letter is not None and letter.state == link.expected_state and link.expires_at > now:
                raise BUSY
            raise USED
        if link.expires_at <= now:
            raise EXPIRED
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
    except BaseException as failure:
        locked = isinstance(failure, Refusal) and (
            failure.code == "tte_terkunci" or (failure.code == "kata_sandi_salah" and "dikunci" in failure.message)
        )
        if not locked:  # a typo, or a failure of ours (the signing service down...): the link may be used again
            async with office.uow() as uow:
                await uow.session.execute(
                    update(SigningLink)
                    .where(and_(SigningLink.token_sha256 == digest, SigningLink.used_at == now))
                    .values(used_at=None)
                )
        raise
    finally:
        del passphrase
    await _close_chat_prompt(office, page.signer.id, letter.id)
    async with office.uow() as uow:
        text = (
            f"\u2705 Surat Nomor {letter.nomor} sudah Anda tandatangani secara elektronik lewat halaman tanda "
            "tangan, dan diteruskan untuk dikirim."
        )
        uow.session.add(
            outbox_row(Notice(page.signer.id, SIGNED, text, attachment_sha256=letter.current_version), letter.id, now)
        )
    return letter


async def _close_chat_prompt(office: Office, staff_id: int, letter_id: str) -> None:
    """Signed on the page: a passphrase prompt for the same letter in the chat (Telegram) is over, so the next
    text there is read as what it is."""
    async with office.uow() as uow:
        await uow.session.execute(
            delete(PendingPrompt).where(
                PendingPrompt.staff_id == staff_id,
                PendingPrompt.kind == PASSPHRASE_PROMPT,
                PendingPrompt.letter_id == letter_id,
            )
        )
