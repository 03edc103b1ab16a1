"""/saluran: where a person's notifications go when they use both Telegram and WhatsApp (by default: the one they
used last)."""

from __future__ import annotations

from sqlalchemy import select, update

from suratbot.handlers.types import Response
from suratbot.services.office import Office
from suratbot.storage.models import ChannelBinding, Staff

NAMES = {"telegram": "Telegram", "whatsapp": "WhatsApp"}
AUTOMATIC = ("otomatis", "auto", "terakhir")


async def choose(office: Office, staff: Staff, args: str) -> Response:
    wanted = args.strip().lower()
    async with office.reading() as uow:
        bound = set(
            (await uow.session.scalars(select(ChannelBinding.channel).where(ChannelBinding.staff_id == staff.id))).all()
        )
        current = await uow.session.scalar(select(Staff.preferred_channel).where(Staff.id == staff.id))
    usable = ", ".join(NAMES.get(c, c) for c in sorted(bound))
    if not wanted:
        how = (
            f"selalu dikirim lewat {NAMES.get(current, current)}"
            if current
            else "dikirim lewat saluran yang terakhir Anda pakai"
        )
        return Response.say(
            f"Pemberitahuan surat {how}. Akun Anda terhubung di: {usable}.\n"
            "Ubah dengan /saluran telegram, /saluran whatsapp, atau /saluran otomatis."
        )
    if wanted in AUTOMATIC:
        choice = None
    elif wanted in NAMES:
        if wanted not in bound:
            other = NAMES[wanted]
            return Response.say(
                f"Akun {other} Anda belum terhubung ke bot. Kirim pesan ke bot lewat {other} dahulu (bagikan nomor "
                f"telepon Anda), lalu ketik /saluran {wanted} lagi."
            )
        choice = wanted
    else:
        return Response.say(
            "Pilihan tidak dikenal. Ketik /saluran telegram, /saluran whatsapp, atau /saluran otomatis."
        )
    async with office.uow() as uow:
        await uow.session.execute(update(Staff).where(Staff.id == staff.id).values(preferred_channel=choice))
    if choice is None:
        return Response.say("Baik. Pemberitahuan dikirim lewat saluran yang terakhir Anda pakai.")
    note = ""
    if choice == "whatsapp":
        note = (
            " Bila Anda belum menulis ke bot di WhatsApp dalam 24 jam, pemberitahuan datang sebagai pesan "
            "templat; ketuk Buka untuk melihat isinya."
        )
    return Response.say(f"Baik. Pemberitahuan surat selalu dikirim lewat {NAMES[choice]}.{note}")
