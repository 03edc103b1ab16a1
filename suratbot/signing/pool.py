"""Signatures with a key file made in a separate worker process, so the bot's event loop stays free meanwhile.

Unlocking a PKCS#12 file (its key derivation) and building a PAdES signature are CPU work that holds Python's
interpreter lock for ~50 ms and ~70 ms; done in the bot's own process they stalled every other chat for that
long. A `SigningPool` hands the whole job (unlock, then sign each PDF) to a long-lived worker process and
awaits the result. The worker's answer is either the signed files or a `SigningError` code and Indonesian
message: no other exception, traceback or argument crosses back, so the passphrase cannot leak through an
error. The worker keeps nothing between jobs.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime

from suratbot.signing.pades import SigningError, StampText, sign_pdf, unlock_pkcs12

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PdfJob:
    """One PDF to sign with the visible mark in `box` on `page`."""

    pdf: bytes = field(repr=False)
    page: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class LocalSigning:
    """Everything a worker needs to sign with a PKCS#12 file: B-B, or B-T/B-LT with a timestamp authority."""

    p12: bytes = field(repr=False)
    passphrase: str = field(repr=False)
    now: datetime
    stamp: StampText
    location: str | None
    jobs: tuple[PdfJob, ...]
    tsa_url: str | None = None
    long_term: bool = False
    fetch_revocation: bool = False
    trust_roots: tuple[bytes, ...] = field(default=(), repr=False)  # DER certificates
    crls: tuple[bytes, ...] = field(default=(), repr=False)  # DER CRLs


Outcome = tuple[str, tuple[bytes, ...] | tuple[str, str]]  # ("ok", signed files) or ("error", (code, message))


def sign_with_key_file(request: LocalSigning) -> Outcome:
    """Unlock the key and sign every PDF of `request`, in this (worker) process; never raises."""
    try:
        return "ok", tuple(asyncio.run(_sign_all(request)))
    except SigningError as exc:
        return "error", (exc.code, exc.message)
    except Exception:  # nothing but a code may leave the worker (the passphrase is in its frames)
        log.error("signing worker: unexpected failure")
        return "error", ("tte_gagal", "Tanda tangan elektronik gagal dibuat. Surat belum ditandatangani.")


async def _sign_all(request: LocalSigning) -> list[bytes]:
    signer = unlock_pkcs12(request.p12, request.passphrase, now=request.now)
    timestamper = None
    context = None
    if request.long_term:
        from asn1crypto import x509 as asn1_x509
        from pyhanko_certvalidator import ValidationContext

        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(der) for der in request.trust_roots],
            crls=list(request.crls),
            allow_fetching=request.fetch_revocation,
            revocation_mode="require",
        )
    if request.tsa_url is None:
        return [await _sign_one(request, job, signer, None, None) for job in request.jobs]
    import aiohttp
    from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper

    async with aiohttp.ClientSession() as http:
        timestamper = HTTPTimeStamper(request.tsa_url, timeout=30, session=http)
        return [await _sign_one(request, job, signer, timestamper, context) for job in request.jobs]


async def _sign_one(request: LocalSigning, job: PdfJob, signer: object, timestamper: object, context: object) -> bytes:
    return await sign_pdf(
        job.pdf,
        signer,  # type: ignore[arg-type]
        request.stamp,
        location=request.location,
        box=job.box,
        page=job.page,
        timestamper=timestamper,  # type: ignore[arg-type]
        validation_context=context,  # type: ignore[arg-type]
    )


def _warm() -> None:
    """Run once in each new worker: import what a signature needs before the first one is asked for."""
    import pyhanko.sign.signers  # noqa: F401


class SigningPool:
    """A small pool of worker processes for signatures (spawned fresh: forking the bot's threaded process could
    copy a lock held by another thread). Replaced transparently if a worker dies."""

    def __init__(self, workers: int = 1) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self._workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm
                )
            return self._executor

    def start(self) -> None:
        """Start the workers now (they take about a second to import pyHanko), not at the first signature."""
        pool = self._pool()
        for _ in range(self._workers):
            pool.submit(_warm)

    async def sign(self, request: LocalSigning) -> list[bytes]:
        """The signed PDFs, in the order of `request.jobs`; SigningError (Indonesian) when signing failed."""
        loop = asyncio.get_running_loop()
        pool = self._pool()
        try:
            status, value = await loop.run_in_executor(pool, sign_with_key_file, request)
        except BrokenProcessPool:
            log.error("signing worker died; starting a new one")
            with self._lock:
                if self._executor is pool:
                    self._executor = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise SigningError(
                "tte_gagal", "Tanda tangan elektronik gagal dibuat. Surat belum ditandatangani; coba lagi."
            ) from None
        if status != "ok":
            code, message = value
            raise SigningError(str(code), str(message))
        return list(value)  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_shared: SigningPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> SigningPool:
    """The process's signing pool, created on first use and shut down when the process exits."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = SigningPool()
            atexit.register(_shared.close)
        return _shared
