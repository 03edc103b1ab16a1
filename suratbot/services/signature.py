"""Kepala Dinas signs a letter: passphrase checked, lockout after repeated mistakes, PAdES signature recorded.

The passphrase is used to unlock the signer's key and is never stored, logged or put in an exception.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives import serialization
from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services import letters
from suratbot.services.keystore import local_crls, signer_key_path, trust_roots
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.stand_ins import acting_for
from suratbot.services.uploads import Upload
from suratbot.signing import stamping
from suratbot.signing.pades import SigningError, StampText, sign_pdf
from suratbot.signing.pkcs11 import TokenSigner, open_signer
from suratbot.signing.pool import LocalSigning, PdfJob, shared_pool
from suratbot.signing.remote import RemoteSigner
from suratbot.signing.verify import trust_root
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
    in 15 minutes, has no key, or types a wrong passphrase (which is counted and recorded). A key file (PKCS#12)
    is unlocked and used in the signing worker process (`suratbot.signing.pool`), and a remote service checks
    the passphrase itself: both one signature per signer at a time (in this process, and on PostgreSQL across
    processes by an advisory lock), so guesses sent at once are counted one by one. A PKCS#11 token is opened under a lock on the signer's row. The signature is made
    outside the transaction and recorded only if the letter did not change meanwhile.

    Number, date, footer and QR link are on the page before anything is signed; the signed bytes are stored as
    they come from the signer. The archival copy (the same letter with the paraf block) is signed too.
    """
    now = now or office.now()
    setup = office.signing
    lock = _one_signing_per_signer(office, actor_id) if setup.backend != "pkcs11" else _NO_LOCK
    async with lock:
        refusal: Refusal | None = None
        key: _Key | None = None
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
            try:
                key = await _unlock(office, actor, passphrase, now)
            except SigningError as exc:
                if exc.code != "kata_sandi_salah":
                    raise Refusal(exc.code, exc.message) from None
                refusal = Refusal(exc.code, await _count_wrong(session, letter_id, actor.id, now))
            jabatan = actor.jabatan
            period = await acting_for(session, office.sop, letter, actor.id, now)
            if period is not None:  # signing as Plh: the stand-in's own key, the official's position
                official = await session.get_one(Staff, period.official_id)
                jabatan = f"{period.title}. {official.jabatan}"
            version, signer = letter.current_version, _Signer(actor.nip, actor.nama, jabatan, actor.nik)
            paraf = await paraf_of(session, letter_id)
        if refusal is not None:  # raised after the commit, so the wrong attempt stays recorded
            raise refusal
        assert key is not None
        try:
            outgoing, archive = await _sign_both(office, key, letter_id, version, signer, paraf, passphrase, now)
        except SigningError as exc:
            if exc.code == "kata_sandi_salah":  # the worker or the remote service said so: count it
                async with office.uow() as uow:
                    message = await _count_wrong(uow.session, letter_id, actor_id, now)
                raise Refusal(exc.code, message) from None
            raise Refusal(exc.code, exc.message) from None
        except stamping.StampingError as exc:
            raise Refusal(exc.code, exc.message) from None
        finally:
            key.close()
    return await letters.record_signature(
        office,
        letter_id,
        actor_id,
        Upload(outgoing, "surat-ditandatangani.pdf"),
        archive=Upload(archive, "surat-arsip-paraf.pdf") if archive is not None else None,
        details={"tte": setup.backend, "level": setup.level, "versi_asal": version},
        signed_from=version,
        expected_state="tanda_tangan" if expected_state is None else expected_state,
        now=now,
    )


@dataclass(frozen=True)
class _Signer:
    nip: str
    nama: str
    jabatan: str
    nik: str | None


@dataclass(frozen=True)
class Paraf:
    """A verifier's approval as the archival copy shows it."""

    nama: str
    jabatan: str
    at: datetime


async def paraf_of(session: AsyncSession, letter_id: str) -> list[Paraf]:
    """The standing paraf of a letter: each verification step's latest approval, oldest first."""
    events = (
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.letter_id == letter_id, AuditEvent.action == "setujui")
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    ).all()
    latest: dict[str | None, Paraf] = {}
    for event in events:
        data = (event.details or {}).get("paraf")
        if isinstance(data, dict):
            latest[event.from_state] = Paraf(str(data.get("nama", "")), str(data.get("jabatan", "")), event.at)
    return sorted(latest.values(), key=lambda p: p.at)


class _Key:
    """What signs: a PKCS#12 file (still locked: the signing worker unlocks it), an opened PKCS#11 token, or
    neither for the remote service, which checks the passphrase itself."""

    def __init__(self, key_file: bytes | None = None, token: TokenSigner | None = None) -> None:
        self.key_file = key_file
        self.token = token

    def close(self) -> None:
        if self.token is not None:
            self.token.close()


class _NoLock:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_: object) -> None:
        return None


_NO_LOCK = _NoLock()
# one signing per signer at a time, so guesses count one by one (an asyncio lock belongs to one event loop)
_SIGNER_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, int], asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


ADVISORY_NAMESPACE = 0x5357  # pg_advisory_lock(namespace, signer id): "one signing per signer" across processes


@asynccontextmanager
async def _one_signing_per_signer(office: Office, actor_id: int) -> AsyncIterator[None]:
    """One signing per signer at a time: in this process (an asyncio lock), and on PostgreSQL across every
    process of the office too (a session advisory lock held while the key is tried and the guess counted)."""
    locks = _SIGNER_LOCKS.setdefault(asyncio.get_running_loop(), {})
    async with locks.setdefault((id(office.engine), actor_id), asyncio.Lock()):
        if office.engine.dialect.name != "postgresql":
            yield
            return
        async with office.engine.connect() as conn:
            key = {"namespace": ADVISORY_NAMESPACE, "signer": actor_id}
            await conn.execute(text("SELECT pg_advisory_lock(:namespace, :signer)"), key)
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:namespace, :signer)"), key)


async def _unlock(office: Office, actor: Staff, passphrase: str, now: datetime) -> _Key:
    setup = office.signing
    if setup.backend == "pkcs12":
        return _Key(key_file=await asyncio.to_thread(_read_key, signer_key_path(office, actor.nip)))
    if setup.backend == "pkcs11":
        assert setup.token is not None
        return _Key(token=await asyncio.to_thread(open_signer, setup.token, actor.nip, passphrase, now=now))
    if not actor.nik:
        raise SigningError(
            "nik_tidak_ada",
            "NIK Anda belum tercatat di daftar pegawai, jadi layanan tanda tangan elektronik tidak bisa dipakai. "
            "Hubungi admin.",
        )
    if not passphrase:
        raise SigningError("kata_sandi_salah", "Kata sandi (passphrase) kosong.")
    return _Key()


async def _sign_both(
    office: Office,
    key: _Key,
    letter_id: str,
    version: str,
    signer: _Signer,
    paraf: list[Paraf],
    passphrase: str,
    now: datetime,
) -> tuple[bytes, bytes | None]:
    """The letter that goes out, signed, and the office's archival copy with the paraf block, signed (None when
    the concept came signed already: nothing may be added to its pages)."""
    setup = office.signing
    source = await asyncio.to_thread(office.files.get, version)
    url = office.verify_url(letter_id)
    stamp = StampText(signer.nama, signer.jabatan, signer.nip, url, when=local_time(office.sop, now))
    already_signed = await asyncio.to_thread(stamping.has_signatures, source)
    if already_signed:  # earlier signatures must stay valid: add ours incrementally, change no page
        placement = await asyncio.to_thread(stamping.corner_placement, source)
    else:
        source, placement = await asyncio.to_thread(stamping.place_stamp, source, name=signer.nama, nip=signer.nip)
        footer = [line.format(url=url) for line in office.footer]
        source = await asyncio.to_thread(stamping.add_footer, source, footer)
    block = _paraf_lines(office, paraf)
    with_paraf = None
    if block and not already_signed:
        with_paraf = await asyncio.to_thread(stamping.add_lines, source, block, page=-1)
    outgoing_source = with_paraf if (with_paraf is not None and setup.paraf_on_outgoing) else source
    archive_source = None if already_signed else (with_paraf or source)

    if setup.backend == "remote":
        assert setup.remote is not None
        service = RemoteSigner(setup.remote)
        lines = [stamp.issuer_line, signer.nama, signer.jabatan, f"NIP {signer.nip}", stamp.when or ""]

        async def sign(pdf: bytes) -> bytes:
            if not already_signed:  # the service signs over a mark that is already on the page
                pdf = await asyncio.to_thread(stamping.draw_mark, pdf, placement, lines, url)
            return await service.sign(
                pdf, nik=signer.nik or "", passphrase=passphrase, page=placement.page, box=placement.box,
                location=office.sop.office,
            )  # fmt: skip

    elif key.key_file is not None:
        sources = [outgoing_source]
        if archive_source is not None and archive_source is not outgoing_source:
            sources.append(archive_source)
        signed = await _sign_with_key_file(office, key.key_file, passphrase, now, sources, stamp, placement)
        outgoing = signed[0]
        if archive_source is None:
            return outgoing, None
        return outgoing, signed[-1]
    else:

        async def sign(pdf: bytes) -> bytes:
            return await _sign_on_token(office, key, pdf, stamp, placement)

    outgoing = await sign(outgoing_source)
    if archive_source is None:
        return outgoing, None
    if archive_source is outgoing_source:
        return outgoing, outgoing
    return outgoing, await sign(archive_source)


async def _sign_with_key_file(
    office: Office,
    key_file: bytes,
    passphrase: str,
    now: datetime,
    pdfs: list[bytes],
    stamp: StampText,
    placement: stamping.Placement,
) -> list[bytes]:
    """PAdES with a PKCS#12 file, unlocked and used in the signing worker: B-B, or B-T/B-LT with the office's
    timestamp authority."""
    setup = office.signing
    request = LocalSigning(
        p12=key_file,
        passphrase=passphrase,
        now=now,
        stamp=stamp,
        location=office.sop.office,
        jobs=tuple(PdfJob(pdf, placement.page, placement.box) for pdf in pdfs),
        tsa_url=setup.tsa_url or None,
        long_term=bool(setup.tsa_url) and setup.long_term,
        fetch_revocation=setup.fetch_revocation,
    )
    if request.long_term:
        der = serialization.Encoding.DER
        request = replace(
            request,
            trust_roots=tuple(cert.public_bytes(der) for cert in trust_roots(office)),
            crls=tuple(crl.public_bytes(der) for crl in local_crls(office)),
        )
    return await shared_pool().sign(request)


async def _sign_on_token(
    office: Office, key: _Key, pdf: bytes, stamp: StampText, placement: stamping.Placement
) -> bytes:
    """PAdES with a key on a PKCS#11 token: B-B, or B-T/B-LT with the office's timestamp authority."""
    setup = office.signing
    assert key.token is not None
    signer = key.token.signer
    where = {"location": office.sop.office, "box": placement.box, "page": placement.page}
    if not setup.tsa_url:
        return await sign_pdf(pdf, signer, stamp, **where)
    context = None
    if setup.long_term:
        context = ValidationContext(
            trust_roots=[trust_root(c) for c in trust_roots(office)],
            crls=[crl.public_bytes(serialization.Encoding.DER) for crl in local_crls(office)],
            allow_fetching=setup.fetch_revocation,
            revocation_mode="require",
        )
    async with aiohttp.ClientSession() as http:
        timestamper = HTTPTimeStamper(setup.tsa_url, timeout=30, session=http)
        return await sign_pdf(pdf, signer, stamp, timestamper=timestamper, validation_context=context, **where)


def _paraf_lines(office: Office, paraf: list[Paraf]) -> list[str]:
    if not paraf:
        return []
    lines = ["Paraf koordinasi:"]
    for n, p in enumerate(paraf, 1):
        lines.append(f"{n}. {p.nama} \u2014 {p.jabatan} \u2014 {local_time(office.sop, p.at)}")
    return lines


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
