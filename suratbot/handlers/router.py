"""Which handler an inbound event goes to: strangers to onboarding, button presses by their verb, text and files to
whatever the bot is waiting for (a pending prompt), else to the drafter's upload."""

from __future__ import annotations

import logging
from datetime import timedelta

from suratbot.handlers import (
    buttons,
    channels,
    dispatching,
    drafting,
    numbering,
    onboarding,
    reporting,
    reviewing,
    signing,
    standing_in,
    templates,
    tracking,
    verifying,
)
from suratbot.handlers.types import Inbound, Reply, Response
from suratbot.services import identity, prompts
from suratbot.services.office import Office
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.machine import Refusal

log = logging.getLogger(__name__)

COMMANDS = {
    "antrian": "Surat yang menunggu Anda",
    "status": "Surat Anda dan siapa yang memegangnya",
    "cari": "Cari surat: /cari <nomor atau kata>",
    "verifikasi": "Periksa keaslian PDF bertanda tangan",
    "plh": "Tunjuk Plh selama Anda tidak ada: /plh <nama> <sampai tanggal>",
    "laporan": "Laporan bulanan: /laporan [YYYY-MM]",
    "saluran": "Ke mana pemberitahuan dikirim: /saluran telegram|whatsapp|otomatis",
    "dasbor": "Tautan masuk ke dasbor kantor (pimpinan dan admin)",
    "templat": "Templat surat kantor (Word)",
    "bantuan": "Bantuan",
    "batal": "Batalkan pertanyaan yang sedang ditunggu",
}


async def handle(office: Office, inbound: Inbound) -> Response:
    """The one door from a channel into the core; a refusal the handlers did not expect still gets a sentence."""
    try:
        return await _route(office, inbound)
    except Refusal as refusal:
        return Response.say(refusal.message)


async def _route(office: Office, inbound: Inbound) -> Response:
    if inbound.contact is not None:
        return await onboarding.contact(office, inbound)
    staff = await identity.bound_staff(office, inbound.channel, inbound.address)
    if staff is None:
        if inbound.callback is not None:
            return Response(answer="Bagikan nomor telepon Anda dahulu (ketik /start).")
        return onboarding.welcome(office)
    if inbound.callback is not None:
        return await _button(office, staff, inbound)
    last = await prompts.latest(office, staff.id)  # one read: the live prompt, or one that just expired
    prompt = last if last is not None and prompts.is_live(last, office.now()) else None
    if inbound.file is None and inbound.command != "batal":
        # While the bot waits for a passphrase, any text is one (even "/..."): it is deleted, never echoed.
        # A channel that cannot delete the message (WhatsApp) never has a text taken for a passphrase.
        if prompt is not None and prompt.kind == signing.PASSPHRASE:
            if inbound.can_delete:
                return await signing.passphrase(office, staff, prompt, inbound)
            if inbound.command is None:
                return signing.not_here()
        elif inbound.can_delete and prompt is None and last is not None and await _late_passphrase(office, staff, last):
            await inbound.discard()
            return Response(
                [
                    Reply(
                        "Waktu memasukkan passphrase sudah habis, dan pesan Anda sudah dihapus. Tekan Tandatangani "
                        "lagi bila ingin menandatangani."
                    )
                ],
                delete_inbound=True,
            )
    if inbound.command is not None:
        return await _command(office, staff, inbound)
    if inbound.file is not None:
        if prompt is not None and prompt.kind == verifying.VERIFY:
            return await verifying.check(office, staff, inbound)
        if prompt is not None and prompt.kind == drafting.REVISION:
            return await drafting.revision_file(office, staff, prompt, inbound)
        if prompt is not None and prompt.kind == templates.TEMPLATE:
            return await templates.upload(office, staff, prompt, inbound)
        if prompt is not None and prompt.kind == reviewing.NOTE:
            return await reviewing.note(office, staff, prompt, inbound)
        return await drafting.new_concept(office, staff, inbound)
    text = inbound.text or ""
    if prompt is None:
        return Response.say("Kirim PDF konsep surat, atau ketik /bantuan untuk melihat apa yang bisa dilakukan.")
    if prompt.kind == signing.PASSPHRASE:
        return await signing.passphrase(office, staff, prompt, inbound)
    if prompt.kind == drafting.CONCEPT:
        return await drafting.answer(office, staff, prompt, text)
    if prompt.kind == reviewing.NOTE:
        return await reviewing.note(office, staff, prompt, inbound)
    if prompt.kind == numbering.CLASSIFICATION:
        return await numbering.classification(office, staff, prompt, text)
    if prompt.kind == dispatching.ROUTE_NOTE:
        return await dispatching.route_note(office, staff, prompt, inbound)
    if prompt.kind == drafting.REVISION:
        return Response.say(
            "Bot menunggu berkas revisinya (PDF atau Word, bukan teks). Kirim berkasnya, atau ketik /batal."
        )
    if prompt.kind == verifying.VERIFY:
        return Response.say("Bot menunggu PDF yang akan diperiksa. Kirim PDF-nya, atau ketik /batal.")
    if prompt.kind == templates.TEMPLATE:
        return Response.say("Bot menunggu berkas templat (.docx). Kirim berkasnya, atau ketik /batal.")
    log.warning("prompt of unknown kind %s for staff %s", prompt.kind, staff.id)
    await prompts.clear(office, staff.id)
    return Response.say("Ketik /bantuan untuk melihat apa yang bisa dilakukan.")


PASSPHRASE_GRACE = timedelta(minutes=30)


async def _late_passphrase(office: Office, staff: Staff, prompt: PendingPrompt) -> bool:
    """A passphrase prompt that expired a short while ago: the next text is probably a passphrase typed late."""
    if prompt.kind != signing.PASSPHRASE or prompt.expires_at is None:
        return False
    if office.now() > prompt.expires_at + PASSPHRASE_GRACE:
        return False
    await prompts.clear(office, staff.id)
    return True


async def _command(office: Office, staff: Staff, inbound: Inbound) -> Response:
    command = inbound.command
    if command == "start":
        return onboarding.already_bound(staff)
    if command in ("bantuan", "help"):
        return tracking.help_text(office, staff)
    if command == "antrian":
        return await tracking.queue(office, staff)
    if command == "status":
        return await tracking.my_letters(office, staff)
    if command == "cari":
        return await tracking.search(office, staff, inbound.args)
    if command == "verifikasi":
        return await verifying.ask(office, staff)
    if command == "laporan":
        return await reporting.monthly(office, staff, inbound.args or "")
    if command == "templat":
        return await templates.command(office, staff, inbound.args or "")
    if command == "dasbor":
        return await reporting.dashboard_link(office, staff)
    if command == "saluran":
        return await channels.choose(office, staff, inbound.args or "")
    if command in ("plh", "plt"):
        return await standing_in.command(office, staff, inbound.args or "", title=command.capitalize())
    if command == "batal":
        had = await prompts.pending(office, staff.id)
        await prompts.clear(office, staff.id)
        return Response.say("Dibatalkan." if had else "Tidak ada yang sedang ditunggu bot.")
    return Response.say(f"Perintah /{command} tidak dikenal. Ketik /bantuan.")


async def _button(office: Office, staff: Staff, inbound: Inbound) -> Response:
    decoded = buttons.decode(inbound.callback or "")
    if decoded is None:
        return Response(answer="Tombol ini tidak dikenal.", clear_buttons=True)
    verb, letter_id, state = decoded
    if verb == "setujui":
        return await reviewing.approve(office, staff, letter_id, state)
    if verb in ("revisi", "kembalikan"):
        return await reviewing.ask_note(office, staff, verb, letter_id, state)
    if verb == "beri_nomor":
        return await numbering.propose(office, staff, letter_id, state)
    if verb.startswith("nomor:"):
        return await numbering.assign(office, staff, verb.removeprefix("nomor:"), letter_id, state)
    if verb == "nomor_ubah":
        return await numbering.ask_classification(office, staff, letter_id, state)
    if verb == "tandatangani":
        if not inbound.can_delete:
            return await signing.page_link(office, staff, letter_id, state)
        return await signing.ask_passphrase(office, staff, letter_id, state)
    if verb == "kirim":
        return await dispatching.choose_route(office, staff, letter_id, state, forwarding=inbound.send_to is not None)
    if verb.startswith("jalur:"):
        return await dispatching.route(office, staff, verb.removeprefix("jalur:"), letter_id, state)
    if verb == "ajukan_ulang":
        return await drafting.start_revision(office, staff, letter_id, state)
    if verb in ("sifat", "urgensi"):
        return await drafting.choose(office, staff, verb, letter_id, state)  # letter slot: the draft's token
    if verb == standing_in.CONFIRM:
        return await standing_in.confirm(office, staff, letter_id, state)
    if verb == standing_in.CANCEL:
        return Response([Reply("Penunjukan Plh dibatalkan.")], answer="Dibatalkan.", clear_buttons=True)
    if verb == buttons.OPEN:
        return await tracking.open_letter(office, staff, letter_id)
    if verb == buttons.WORD:
        return await tracking.word_file(office, staff, letter_id)
    if verb == buttons.MISSED:
        return await tracking.missed(office, staff, letter_id)  # the "letter" slot holds the outbox row's id
    if verb in ("konsep_kirim", "konsep_batal"):
        return await drafting.confirm(office, staff, letter_id, send=verb == "konsep_kirim")
    return Response(answer="Tombol ini tidak dikenal.", clear_buttons=True)
