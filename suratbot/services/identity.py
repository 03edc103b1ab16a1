"""Who is writing: a chat account bound to a roster member by their phone number (Telegram contact, WhatsApp wa_id)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from suratbot.services.office import Office
from suratbot.services.roster import normalise_phone
from suratbot.storage.models import ChannelBinding, OutboxMessage, Staff
from suratbot.workflow.machine import Refusal

SEEN_EVERY = timedelta(minutes=5)
UNBOUND = "tanpa_saluran"  # an outbox row for someone not yet bound to any channel: sent once they are


async def bound_staff(office: Office, channel: str, address: str, *, now: datetime | None = None) -> Staff | None:
    """The active roster member bound to this chat account, or None (and when they were last seen)."""
    now = now or office.now()
    async with office.reading() as uow:
        row = (
            await uow.session.execute(
                select(ChannelBinding, Staff)
                .join(Staff, Staff.id == ChannelBinding.staff_id)
                .where(ChannelBinding.channel == channel, ChannelBinding.address == address, Staff.active.is_(True))
            )
        ).first()
    if row is None:
        return None
    binding, staff = row
    if binding.last_seen_at is None or now - binding.last_seen_at > SEEN_EVERY:
        # Which channel a person used last decides where notifications go; a write every few minutes is enough.
        async with office.uow() as uow:
            await uow.session.execute(
                update(ChannelBinding).where(ChannelBinding.id == binding.id).values(last_seen_at=now)
            )
    return staff


async def bind(office: Office, channel: str, address: str, phone: str, *, now: datetime | None = None) -> Staff:
    """Bind this chat account to the active roster member with `phone`; their waiting notifications go out.

    A person binding a new account on the same channel (a new phone) replaces the old binding."""
    now = now or office.now()
    number = normalise_phone(phone)
    async with office.uow() as uow:
        staff = None
        if number is not None:
            staff = await uow.session.scalar(select(Staff).where(Staff.telepon == number, Staff.active.is_(True)))
        if staff is None:
            raise Refusal(
                "tidak_terdaftar",
                "Maaf, nomor telepon Anda tidak ada di daftar pegawai kantor ini, jadi Anda belum bisa memakai bot ini. "
                "Admin sudah diberi tahu; hubungi admin atau Subbagian Umum dan Kepegawaian.",
            )
        bindings = (
            await uow.session.scalars(
                select(ChannelBinding).where(
                    (ChannelBinding.channel == channel)
                    & ((ChannelBinding.staff_id == staff.id) | (ChannelBinding.address == address))
                )
            )
        ).all()
        for old in bindings:
            await uow.session.delete(old)
        await uow.session.flush()
        uow.session.add(
            ChannelBinding(staff_id=staff.id, channel=channel, address=address, bound_at=now, last_seen_at=now)
        )
        await uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.recipient_id == staff.id, OutboxMessage.status == UNBOUND)
            .values(status="pending", next_attempt_at=now)
        )
        return staff


async def admins(office: Office) -> list[Staff]:
    """Active people with the admin role (told about strangers who try the bot)."""
    from suratbot.services.roster import active_with_roles

    return await active_with_roles(office, ("admin",))
