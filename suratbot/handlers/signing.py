"""Kepala Dinas signs on the phone: the passphrase is asked for, its message deleted at once, the letter signed
and shown; or the letter is returned with a reason."""

from __future__ import annotations

from datetime import timedelta

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name, refused, staff_name
from suratbot.handlers.types import Document, Inbound, Reply, Response
from suratbot.services import prompts
from suratbot.services.office import Office
from suratbot.services.signature import sign_letter
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.machine import Refusal

PASSPHRASE = "passphrase"  # prompt: the signer's passphrase (never stored: the prompt holds only the letter)
PASSPHRASE_TTL_MINUTES = 5


def not_here() -> Response:
    """On a channel that cannot delete the person's message (WhatsApp) no passphrase is asked for in chat."""
    return Response.say(
        "Passphrase tidak diketik di obrolan ini: bot tidak bisa menghapus pesan di WhatsApp, jadi passphrase "
        "akan tersimpan di ponsel Anda. Tandatangani surat ini dari Telegram. Bila Anda baru saja mengetik "
        "passphrase di sini, hapus pesan itu sendiri; bot tidak memakainya."
    )


async def ask_passphrase(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "tandatangani")
    except Refusal as refusal:
        return refused(refusal, button=True)
    await prompts.ask(
        office, staff.id, PASSPHRASE, letter_id=letter.id, expected_state=letter.state,
        ttl=timedelta(minutes=PASSPHRASE_TTL_MINUTES),
    )  # fmt: skip
    return Response(
        [
            Reply(
                f"\u270d\ufe0f Anda akan menandatangani surat Nomor {letter.nomor} (berkas di atas).\n"
                "Ketik kata sandi (passphrase) tanda tangan elektronik Anda. Pesan itu langsung dihapus dari "
                f"obrolan. Berlaku {PASSPHRASE_TTL_MINUTES} menit; ketik /batal untuk batal."
            )
        ],
        answer="Ketik passphrase",
    )


async def passphrase(office: Office, staff: Staff, prompt: PendingPrompt, inbound: Inbound) -> Response:
    """The passphrase message: deleted whatever happens, then the letter is signed."""
    secret = inbound.text or ""
    await inbound.discard()  # first of all: the passphrase leaves the chat before anything else happens
    await inbound.working()
    assert prompt.letter_id is not None
    try:
        letter = await sign_letter(office, prompt.letter_id, staff.id, secret, expected_state=prompt.expected_state)
    except Refusal as refusal:
        retry = refusal.code == "kata_sandi_salah" and "dikunci" not in refusal.message
        locked = refusal.code in ("kata_sandi_salah", "tte_terkunci") and not retry
        if not retry and not locked:
            await prompts.clear(office, staff.id)
        # Locked out: the bot keeps waiting (until the prompt expires) so that a passphrase typed again right
        # away is still deleted from the chat, and answered with the lock, instead of read as ordinary text.
        text = refusal.message + ("\nKetik lagi passphrase-nya, atau /batal." if retry else "")
        return Response([Reply(text)], delete_inbound=True)
    finally:
        del secret
    await prompts.clear(office, staff.id)
    clerk = await staff_name(office, letter.holder_id)
    return Response(
        [
            Reply(
                f"\u2705 Surat Nomor {letter.nomor} sudah ditandatangani secara elektronik dan diteruskan ke {clerk} "
                "untuk dikirim.",
                document=Document(letter.current_version, pdf_name(letter, "-ttd")),
            )
        ],
        delete_inbound=True,
    )
