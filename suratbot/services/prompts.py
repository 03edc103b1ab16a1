"""Pending prompts: the bot waits on a person for text (a revision note, a passphrase, letter metadata).

Kept in the database so a conversation survives a restart and works the same on every channel. A person
has at most one pending prompt; asking again replaces it. A prompt past its time is gone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from suratbot.services.office import Office
from suratbot.storage.models import PendingPrompt

DEFAULT_TTL = timedelta(minutes=30)


async def ask(
    office: Office,
    staff_id: int,
    kind: str,
    *,
    letter_id: str | None = None,
    expected_state: str | None = None,
    payload: dict[str, Any] | None = None,
    ttl: timedelta | None = DEFAULT_TTL,
    now: datetime | None = None,
) -> PendingPrompt:
    """Wait on `staff_id` for text of `kind` (replacing whatever they were asked before)."""
    now = now or office.now()
    async with office.uow() as uow:
        await uow.session.execute(delete(PendingPrompt).where(PendingPrompt.staff_id == staff_id))
        prompt = PendingPrompt(
            staff_id=staff_id,
            kind=kind,
            letter_id=letter_id,
            expected_state=expected_state,
            payload=payload or {},
            created_at=now,
            expires_at=now + ttl if ttl else None,
        )
        uow.session.add(prompt)
    return prompt


def is_live(prompt: PendingPrompt, now: datetime) -> bool:
    """Still waited for: not past its time."""
    return prompt.expires_at is None or prompt.expires_at > now


async def latest(office: Office, staff_id: int) -> PendingPrompt | None:
    """The person's prompt even if it has expired (to recognise a passphrase typed just too late)."""
    async with office.reading() as uow:
        return (
            await uow.session.execute(select(PendingPrompt).where(PendingPrompt.staff_id == staff_id))
        ).scalar_one_or_none()


async def pending(office: Office, staff_id: int, *, now: datetime | None = None) -> PendingPrompt | None:
    """What the bot waits on this person for, if anything (an expired one is ignored; the next `ask` replaces it)."""
    prompt = await latest(office, staff_id)
    return prompt if prompt is not None and is_live(prompt, now or office.now()) else None


async def take(office: Office, staff_id: int, *, now: datetime | None = None) -> PendingPrompt | None:
    """The pending prompt, removed: the person's next text answers it exactly once (an expired one is removed
    and not returned)."""
    now = now or office.now()
    async with office.uow() as uow:
        prompt = (
            await uow.session.execute(select(PendingPrompt).where(PendingPrompt.staff_id == staff_id).with_for_update())
        ).scalar_one_or_none()
        if prompt is None:
            return None
        await uow.session.delete(prompt)
        return prompt if is_live(prompt, now) else None


async def clear(office: Office, staff_id: int) -> None:
    async with office.uow() as uow:
        await uow.session.execute(delete(PendingPrompt).where(PendingPrompt.staff_id == staff_id))
