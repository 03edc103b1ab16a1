"""Kepala Dinas signs on the phone: the passphrase is asked for, its message deleted at once, the letter signed
and shown; or the letter is returned with a reason."""

from __future__ import annotations

from datetime import timedelta

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name, refused, staff_name
from suratbot.handlers.types import Button, Document, Inbound, Reply, Response
from suratbot.services import prompts, signing_links
from suratbot.services.office import Office
from suratbot.services.signature import sign_letter
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.machine import Refusal

PASSPHRASE = signing_links.PASSPHRASE_PROMPT  # prompt: the passphrase (never stored: the prompt holds the letter)
PASSPHRASE_TTL_MINUTES = 5


PAGE_BUTTON = "Buka halaman TTE"  # at most 20 characters (a WhatsApp link button)


def not_here() -> Response:
    """On a channel that cannot delete the person's message (WhatsApp) no passphrase is taken from the chat."""
    return Response.say(
        "Passphrase tidak diketik di obrolan ini: bot tidak bisa menghapus pesan di WhatsApp, jadi passphrase "
        "akan tersimpan di ponsel Anda. Tekan Tandatangani pada surat untuk mendapat tautan halaman tanda tangan, "
        "dan ketik passphrase di halaman itu. Bila Anda baru saja mengetik passphrase di sini, hapus pesan itu "
        "sendiri; bot tidak memakainya."
    )


async def ask_passphrase(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    """Telegram: the passphrase in chat (deleted at once), or on the signing page as a Web App where the bot's
    public address is https (Telegram opens only those)."""
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "tandatangani")
    except Refusal as refusal:
        return refused(refusal, button=True)
    await prompts.ask(
        office, staff.id, PASSPHRASE, letter_id=letter.id, expected_state=letter.state,
        ttl=timedelta(minutes=PASSPHRASE_TTL_MINUTES),
    )  # fmt: skip
    text = (
        f"\u270d\ufe0f Anda akan menandatangani surat Nomor {letter.nomor} (berkas di atas).\n"
        "Ketik kata sandi (passphrase) tanda tangan elektronik Anda. Pesan itu langsung dihapus dari "
        f"obrolan. Berlaku {PASSPHRASE_TTL_MINUTES} menit; ketik /batal untuk batal."
    )
    rows: list[list[Button]] = []
    if office.public_url.startswith("https://"):
        url = await signing_links.issue(office, staff, letter)
        rows = [[Button(PAGE_BUTTON, url=url, web_app=True)]]
        text += "\nAtau ketik passphrase di halaman tanda tangan (tombol di bawah), tanpa lewat obrolan."
    return Response([Reply(text, buttons=rows)], answer="Ketik passphrase")


async def page_link(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    """A channel that cannot delete a passphrase (WhatsApp): a one-time link to the signing page instead."""
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "tandatangani")
    except Refusal as refusal:
        return refused(refusal, button=True)
    if not signing_links.page_reachable(office):  # no https address set up: a link a phone cannot open
        return Response.say(
            "Halaman tanda tangan belum bisa dibuka dari ponsel (alamat bot belum https; hubungi admin). "
            "Tandatangani surat ini dari Telegram. Jangan ketik passphrase di obrolan ini."
        )
    url = await signing_links.issue(office, staff, letter)
    minutes = int(signing_links.LIFETIME.total_seconds() // 60)
    text = (
        f"\u270d\ufe0f Untuk menandatangani surat Nomor {letter.nomor}, buka halaman tanda tangan dan ketik "
        f"passphrase Anda di sana, bukan di obrolan ini. Tautan hanya untuk Anda, berlaku {minutes} menit, dan "
        "hanya sekali pakai."
    )
    return Response([Reply(text, buttons=[[Button(PAGE_BUTTON, url=url)]])], answer="Buka halaman tanda tangan")


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
