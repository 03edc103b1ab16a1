"""The office context every service works in: its SOP, database, file store and clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from suratbot.services.converter import ColdConverter, Converter
from suratbot.services.mail import SmtpSetup
from suratbot.signing.pkcs11 import TokenConfig
from suratbot.signing.remote import RemoteSigningConfig
from suratbot.signing.stamping import DEFAULT_FALLBACK, FallbackBox
from suratbot.storage.db import create_engine, session_factory
from suratbot.storage.files import FileStore
from suratbot.storage.uow import UnitOfWork
from suratbot.workflow.sop import Sop

MAX_FILE_BYTES = 20 * 1024 * 1024  # Telegram's bot download limit; the same for every channel


LEVELS = ("B-B", "B-T", "B-LT")
BACKENDS = ("pkcs12", "pkcs11", "remote")


@dataclass(frozen=True)
class SigningSetup:
    """How the office signs: the back end holding the signers' keys, the PAdES level, and where paraf go."""

    backend: str = "pkcs12"  # pkcs12: DATA_DIR/keys/signers/<NIP>.p12; pkcs11: a token; remote: a BSrE-style API
    token: TokenConfig | None = None
    remote: RemoteSigningConfig | None = None
    tsa_url: str | None = None  # a timestamp authority: the signature becomes PAdES B-T
    long_term: bool = False  # B-LT: embed the chain's revocation information (needs tsa_url)
    fetch_revocation: bool = True  # B-LT: fetch CRL/OCSP from the CA; else only the CRLs in DATA_DIR/keys/crl
    paraf_on_outgoing: bool = False  # the paraf block also on the letter that goes out, not only the archive copy

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown signing back end {self.backend!r} (one of {', '.join(BACKENDS)})")
        if self.backend == "pkcs11" and self.token is None:
            raise ValueError("the pkcs11 back end needs PKCS11_MODULE and PKCS11_TOKEN_LABEL")
        if self.backend == "remote" and self.remote is None:
            raise ValueError("the remote back end needs BSRE_URL, BSRE_CLIENT_ID and BSRE_CLIENT_SECRET")
        if self.long_term and not self.tsa_url:
            raise ValueError("PAdES B-LT needs a timestamp authority (TSA_URL)")

    @property
    def level(self) -> str:
        if self.backend == "remote":
            return "remote"  # the service decides
        if self.tsa_url:
            return "B-LT" if self.long_term else "B-T"
        return "B-B"


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Office:
    """Everything a service needs; built once per process (CLI command, bot, test)."""

    sop: Sop
    engine: AsyncEngine
    files: FileStore
    clock: Callable[[], datetime] = system_clock
    max_file_bytes: int = MAX_FILE_BYTES
    public_url: str = "http://localhost:8080"  # where the QR codes and links on letters point
    # The notice at the foot of every signed page ({url}: the letter's verification page). BSrE-style wording.
    footer: tuple[str, ...] = (
        "Dokumen ini telah ditandatangani secara elektronik menggunakan sertifikat elektronik yang diterbitkan "
        "oleh Balai Besar Sertifikasi Elektronik (BSrE), BSSN.",
        "Keaslian dokumen dapat diperiksa di {url}",
    )
    # Where the number and date go on the first page of a concept without `${nomor}` / `${tanggal}`.
    number_boxes: dict[str, FallbackBox] = field(default_factory=lambda: dict(DEFAULT_FALLBACK))
    signing: SigningSetup = field(default_factory=SigningSetup)
    smtp: SmtpSetup | None = None  # e-mail dispatch of signed letters; None: that route is not offered
    # Word to PDF: a cold `soffice` per file unless the bot starts a warm LibreOffice (bot/app.py).
    converter: Converter = field(default_factory=ColdConverter)
    sessions: async_sessionmaker[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)

    @classmethod
    def open(
        cls,
        sop: Sop,
        database_url: str,
        data_dir: str | Path,
        clock: Callable[[], datetime] = system_clock,
        public_url: str = "http://localhost:8080",
        **options: Any,
    ) -> Office:
        """An office on `database_url` and `data_dir`; `options` set the other fields (signing, footer...)."""
        return cls(
            sop=sop,
            engine=create_engine(database_url),
            files=FileStore(data_dir),
            clock=clock,
            public_url=public_url.rstrip("/"),
            **options,
        )

    def verify_url(self, letter_id: str) -> str:
        """The public page a letter's QR code opens."""
        return f"{self.public_url}/v/{letter_id}"

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.files)

    def reading(self) -> UnitOfWork:
        """A unit of work that only reads: on SQLite it does not queue for the write lock."""
        return UnitOfWork(self.sessions, self.files, read_only=True)

    def now(self) -> datetime:
        moment = self.clock()
        if moment.tzinfo is None:
            raise ValueError("the office clock must return aware datetimes")
        return moment

    async def close(self) -> None:
        await self.converter.close()
        await self.engine.dispose()
