"""Dashboard logins: a one-time link the bot sends (10 minutes) opens a session (12 hours) for the office's
leaders and admins; only the tokens' SHA-256 are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from suratbot.services.office import Office
from suratbot.storage.models import Staff, WebToken
from suratbot.workflow.machine import Refusal

LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)
DASHBOARD_ROLES = frozenset({"sekretaris", "kepala", "admin"})
LINK, SESSION = "masuk", "sesi"
LOGIN_PATH = "/dasbor/masuk/"

NOT_ALLOWED = Refusal("dasbor_tidak_berhak", "Dasbor kantor hanya untuk Sekretaris, Kepala Dinas, dan admin.")
LINK_REFUSED = Refusal(
    "tautan_masuk_tidak_berlaku",
    "Tautan masuk ini tidak berlaku lagi: sudah dipakai, sudah lewat 10 menit, atau tidak dikenal. Ketik /dasbor "
    "di bot untuk mendapat tautan baru.",
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_see_dashboard(staff: Staff) -> bool:
    return bool(staff.roles & DASHBOARD_ROLES)


async def issue_link(office: Office, staff: Staff, *, now: datetime | None = None) -> str:
    """A one-time login link for `staff` (Refusal if their role has no dashboard)."""
    if not may_see_dashboard(staff):
        raise NOT_ALLOWED
    now = now or office.now()
    token = secrets.token_urlsafe(32)
    async with office.uow() as uow:
        await uow.session.execute(delete(WebToken).where(WebToken.expires_at < now - timedelta(days=1)))
        uow.session.add(
            WebToken(token_sha256=_digest(token), kind=LINK, staff_id=staff.id, created_at=now,
                     expires_at=now + LINK_LIFETIME)
        )  # fmt: skip
    return f"{office.public_url}{LOGIN_PATH}{token}"


async def link_is_live(office: Office, token: str, *, now: datetime | None = None) -> bool:
    now = now or office.now()
    async with office.reading() as uow:
        link = await uow.session.get(WebToken, _digest(token)) if token else None
    return link is not None and link.kind == LINK and link.used_at is None and link.expires_at > now


async def log_in(office: Office, token: str, *, now: datetime | None = None) -> str:
    """Spend the login link (once: a conditional UPDATE) and open a session; its token goes into the cookie."""
    now = now or office.now()
    digest = _digest(token)
    session_token = secrets.token_urlsafe(32)
    async with office.uow() as uow:
        taken = await uow.session.execute(
            update(WebToken)
            .where(
                WebToken.token_sha256 == digest,
                WebToken.kind == LINK,
                WebToken.used_at.is_(None),
                WebToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(WebToken.staff_id)
        )
        staff_id = taken.scalar_one_or_none()
        if staff_id is None:
            raise LINK_REFUSED
        uow.session.add(
            WebToken(token_sha256=_digest(session_token), kind=SESSION, staff_id=staff_id, created_at=now,
                     expires_at=now + SESSION_LIFETIME)
        )  # fmt: skip
    return session_token


async def session_staff(office: Office, token: str | None, *, now: datetime | None = None) -> Staff | None:
    """Who this session cookie belongs to, if it is live and they (still) have a dashboard role."""
    if not token or len(token) > 100:
        return None
    now = now or office.now()
    async with office.reading() as uow:
        row = (
            await uow.session.execute(
                select(WebToken, Staff)
                .join(Staff, Staff.id == WebToken.staff_id)
                .where(WebToken.token_sha256 == _digest(token), WebToken.kind == SESSION, WebToken.expires_at > now)
            )
        ).first()
    if row is None:
        return None
    staff = row[1]
    return staff if staff.active and may_see_dashboard(staff) else None


async def log_out(office: Office, token: str | None) -> None:
    if not token:
        return
    async with office.uow() as uow:
        await uow.session.execute(
            delete(WebToken).where(WebToken.token_sha256 == _digest(token), WebToken.kind == SESSION)
        )
