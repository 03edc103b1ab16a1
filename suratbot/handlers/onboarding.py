"""Joining: a person shares their phone number and is bound to the roster entry that has it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from suratbot.handlers.types import Inbound, Reply, Response
from suratbot.services import identity
from suratbot.services.notices import outbox_row, plain_notice
from suratbot.services.office import Office
from suratbot.storage.models import OutboxMessage, Staff
from suratbot.workflow.machine import Refusal

STRANGER_QUIET = timedelta(hours=24)  # how long the admins are not told again of the same unknown number

WELCOME = (
    "Selamat datang di bot surat keluar {office}.\n"
    "Untuk memakai bot ini, bagikan nomor telepon Anda dengan tombol di bawah: nomor itu dicocokkan dengan "
    "daftar pegawai."
)


def welcome(office: Office) -> Response:
    return Response([Reply(WELCOME.format(office=office.sop.office), ask_contact=True)])


async def contact(office: Office, inbound: Inbound) -> Response:
    """Bind the sender by the contact they shared: only their own, never someone else's forwarded card."""
    assert inbound.contact is not None
    if not inbound.contact.own:
        return Response(
            [
                Reply(
                    "Kontak yang dikirim bukan milik Anda. Bagikan nomor Anda sendiri dengan tombol di bawah.",
                    ask_contact=True,
                )
            ]
        )
    try:
        staff = await identity.bind(office, inbound.channel, inbound.address, inbound.contact.phone)
    except Refusal as refusal:
        await _tell_admins(office, inbound)
        return Response([Reply(refusal.message, remove_keyboard=True)])
    roles = ", ".join(office.sop.roles[r].name for r in sorted(staff.roles) if r in office.sop.roles)
    return Response(
        [
            Reply(
                f"Terima kasih, {staff.nama} ({staff.jabatan}). Akun ini sekarang terhubung.\n"
                f"Peran Anda: {roles}.\nKetik /bantuan untuk melihat apa yang bisa dilakukan.",
                remove_keyboard=True,
            )
        ]
    )


async def _tell_admins(office: Office, inbound: Inbound) -> None:
    """An unknown number tried the bot: the admins hear of it (through the outbox, like any notice), once a day
    per number, however often it tries."""
    admins = await identity.admins(office)
    if not admins:
        return
    assert inbound.contact is not None
    who = inbound.name or "seseorang"
    text = (
        f"\u26a0\ufe0f {who} mencoba memakai bot dengan nomor {inbound.contact.phone} ({inbound.channel}), "
        "tetapi nomor itu tidak ada di daftar pegawai. Bila ia pegawai, perbarui daftar pegawai (staff import)."
    )
    now = office.now()
    async with office.uow() as uow:
        told = await uow.session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.kind == "orang_asing",
                OutboxMessage.created_at >= now - STRANGER_QUIET,
                OutboxMessage.text.contains(f"nomor {inbound.contact.phone} ({inbound.channel})"),
            )
        )
        if told is not None:  # the same number again: the admins heard of it already today
            return
        for admin in admins:
            uow.session.add(outbox_row(plain_notice(admin, "orang_asing", text), None, now))


def already_bound(staff: Staff) -> Response:
    return Response.say(f"Anda sudah terhubung sebagai {staff.nama} ({staff.jabatan}). Ketik /bantuan untuk bantuan.")
