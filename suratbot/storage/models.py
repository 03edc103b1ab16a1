"""SQLAlchemy models of the office: staff, units, letters, file versions, audit log, outbox, numbers, prompts."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_letter_id() -> str:
    """A non-guessable letter id (128 random bits, URL-safe): it goes into the public QR link.

    It never starts with `-` or `_`, so it can be typed as a command-line argument.
    """
    while True:
        token = secrets.token_urlsafe(16)
        if token[0].isalnum():
            return token


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Unit(Base):
    """An organisational unit (Sekretariat, a Bidang, a Seksi); `a / b` names unit b inside unit a."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class UnitVerifier(Base):
    """The unit's chain of verifiers: level 1 (Kasubag / Kasi), level 2 (Sekretaris / Kabid), ..."""

    __tablename__ = "unit_verifiers"

    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))


class Staff(Base):
    """A person on the office roster."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    nip: Mapped[str] = mapped_column(String(32), unique=True)
    nama: Mapped[str] = mapped_column(String(200))
    jabatan: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    telepon: Mapped[str] = mapped_column(String(20), unique=True)  # E.164
    nik: Mapped[str | None] = mapped_column(String(16))  # for a remote signing service (BSrE) only
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Where notifications go when they chose (/saluran); None: the channel they used last.
    preferred_channel: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], lazy="raise_on_sql")  # load it when needed
    role_rows: Mapped[list[StaffRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="StaffRole.role"
    )

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r.role for r in self.role_rows)


class StaffRole(Base):
    __tablename__ = "staff_roles"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40), primary_key=True)


class ChannelBinding(Base):
    """A chat account (Telegram user id, WhatsApp wa_id) bound to a roster member."""

    __tablename__ = "channel_bindings"
    __table_args__ = (UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(64))
    bound_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]


class Letter(Base):
    """An outgoing letter (surat keluar) and where it stands in the SOP."""

    __tablename__ = "letters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_letter_id)
    perihal: Mapped[str] = mapped_column(Text)
    tujuan: Mapped[str] = mapped_column(Text)
    tembusan: Mapped[str | None] = mapped_column(Text)
    sifat: Mapped[str] = mapped_column(String(20))
    urgensi: Mapped[str] = mapped_column(String(20))
    klasifikasi: Mapped[str] = mapped_column(String(40))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    drafter_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    state: Mapped[str] = mapped_column(String(40), index=True)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    return_state: Mapped[str | None] = mapped_column(String(40))
    # Not unique: an office whose number format has no year repeats numbers across years (scope, serial is).
    nomor: Mapped[str | None] = mapped_column(String(120), index=True)
    # The Word file the current PDF was made from (a Word concept), numbered with it; None for a PDF concept.
    word_version: Mapped[str | None] = mapped_column(String(64))
    letter_date: Mapped[date | None] = mapped_column(Date)
    current_version: Mapped[str] = mapped_column(String(64))  # SHA-256 of the file now in play
    step_started_at: Mapped[datetime]
    step_due_at: Mapped[datetime | None] = mapped_column(index=True)
    step_escalate_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(Integer, default=0)  # bumped by every transition

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": revision}


class FileVersion(Base):
    """One version of a letter's file; the bytes live in the content-addressed store under DATA_DIR."""

    __tablename__ = "file_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    letter: Mapped[Letter] = relationship(lazy="raise_on_sql")  # orders the INSERTs after the letter's
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # konsep, revisi, anotasi, bernomor, ditandatangani, arsip
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(255))  # the user's name for it: display only
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Who did what to which letter, when, from which state to which, on which file version, and why."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[str | None] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    letter: Mapped[Letter | None] = relationship(lazy="raise_on_sql")  # orders the INSERTs after the letter's
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # Plh / Plt
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    version_sha256: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]
    at: Mapped[datetime] = mapped_column(index=True)


class OutboxMessage(Base):
    """A notification to a person, written in the same transaction as the change that causes it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "status", "next_attempt_at"),
        Index("ix_outbox_external", "channel", "external_id"),  # a platform's status callback finds its row
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    letter_id: Mapped[str | None] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    letter: Mapped[Letter | None] = relationship(lazy="raise_on_sql")  # orders the INSERTs after the letter's
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[Any]]  # action keys offered as buttons, e.g. ["setujui", "revisi"]
    attachment_sha256: Mapped[str | None] = mapped_column(String(64))
    expected_state: Mapped[str | None] = mapped_column(String(40))  # the state the buttons are for
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    platform_status: Mapped[str | None] = mapped_column(String(20))  # WhatsApp: sent, delivered, read, failed
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Reminder(Base):
    """A reminder to a late step's holder, or the escalation to their superior, claimed before it is sent.

    The unique key (letter, step, kind, n) is the claim: of two bot processes sweeping at once, only the one
    whose INSERT lands queues the notification (in the same transaction), so it goes out once. `step_started_at`
    names the step: a letter that moved on and came back is a new step with reminders of its own.
    """

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("letter_id", "step_started_at", "kind", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    step_started_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # "pengingat" (to the holder) or "eskalasi" (to the superior)
    seq: Mapped[int] = mapped_column(Integer)  # the n-th reminder of the step; 1 for the escalation
    holder_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: nobody to tell
    late_minutes: Mapped[int] = mapped_column(Integer)  # working minutes past the standard time when sent
    created_at: Mapped[datetime]


class StandIn(Base):
    """A Plh (pelaksana harian) or Plt (pelaksana tugas) period: `stand_in` acts for `official` from `starts_at`
    until `ends_at`. `started_at` / `ended_at` record when the bot handed the official's letters over and back
    (None: not yet); `ended_at` is also set when the period is ended early."""

    __tablename__ = "stand_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    official_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    stand_in_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    title: Mapped[str] = mapped_column(String(10))  # "Plh" or "Plt"
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: the admin's CLI
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]


class DigestRun(Base):
    """The daily digest of one office day, claimed by the process that sends it (so it goes out once)."""

    __tablename__ = "digest_runs"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime]
    messages: Mapped[int] = mapped_column(Integer, default=0)


class WhatsAppMessage(Base):
    """A WhatsApp message the bot has taken in, by its `wamid`: Meta retries a webhook for a day, and each
    message must be handled once, across restarts."""

    __tablename__ = "whatsapp_messages"

    wamid: Mapped[str] = mapped_column(String(200), primary_key=True)
    wa_id: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(index=True)


class SigningLink(Base):
    """A one-time link to the signing page: for one signer, one letter, one version of its file; only the
    token's SHA-256 is kept (the link itself is a secret)."""

    __tablename__ = "signing_links"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"), index=True)
    letter_version: Mapped[str] = mapped_column(String(64))  # the SHA-256 of the file to be signed
    expected_state: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]  # set while a passphrase is being tried, and for good once signed


class WebToken(Base):
    """A dashboard login: a one-time login link (`masuk`, 10 minutes) or the session it opens (`sesi`); only the
    token's SHA-256 is kept."""

    __tablename__ = "web_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]  # a login link: when it opened its session


class NumberCounter(Base):
    """The last serial given in a numbering scope (a calendar year of the letter date)."""

    __tablename__ = "number_counters"

    scope: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)


class IssuedNumber(Base):
    """Every letter number ever given; a cancelled one stays here as cancelled and is never reused."""

    __tablename__ = "issued_numbers"
    __table_args__ = (UniqueConstraint("scope", "serial"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[str] = mapped_column(ForeignKey("letters.id"), index=True)
    letter: Mapped[Letter] = relationship(lazy="raise_on_sql")  # orders the INSERTs after the letter's
    scope: Mapped[str] = mapped_column(String(40))
    serial: Mapped[int] = mapped_column(Integer)
    nomor: Mapped[str] = mapped_column(String(120), index=True)
    klasifikasi: Mapped[str] = mapped_column(String(40))
    letter_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="aktif")  # aktif, dibatalkan
    issued_by: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    issued_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    cancel_note: Mapped[str | None] = mapped_column(Text)


class PendingPrompt(Base):
    """The bot is waiting on this person for text (a revision note, a passphrase, letter metadata)."""

    __tablename__ = "pending_prompts"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    letter_id: Mapped[str | None] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    letter: Mapped[Letter | None] = relationship(lazy="raise_on_sql")  # orders the INSERTs after the letter's
    expected_state: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
