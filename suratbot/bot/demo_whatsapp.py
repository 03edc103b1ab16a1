"""`suratbot demo --channel whatsapp`: the demo's letter through the whole SOP on WhatsApp, signed on the signing page.

The real WhatsApp stack runs: the bot's web app (uvicorn, on 127.0.0.1) takes signed webhooks as Meta posts them,
and the WhatsApp channel and the outbox sender call a fake WhatsApp Cloud API (Graph API) in this process, which
stands in for Meta and for the people's phones. The Kepala Dinas signs on the signing page the chat links to, so
the passphrase never goes through WhatsApp. No account and no network are needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import re
import socket
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

import httpx
import uvicorn

from suratbot.bot.app import start_bot
from suratbot.bot.channels.whatsapp import WhatsAppSettings
from suratbot.bot.demo import (
    DEMO_CAPTION,
    DEMO_PASSPHRASE,
    DEMO_PERIHAL,
    DemoClock,
    Transcript,
    demo_office,
    final_report,
    people_by_jabatan,
    say_chats,
    say_step,
)
from suratbot.bot.fakegraphapi import FakeGraphApi, FakePhone, Received, WhatsAppPeer
from suratbot.bot.outbox import Limits
from suratbot.bot.web import web_app
from suratbot.data.concept import example_letter
from suratbot.services import signing_links
from suratbot.services.office import Office
from suratbot.storage.models import Staff
from suratbot.workflow.sop import Sop

# The fake API's and the webhook's own secrets: made up for this run, never shown.
APP_SECRET = "rahasia-aplikasi-demo"
VERIFY_TOKEN = "token-verifikasi-demo"
WRONG_PASSPHRASE = "salah-ketik"
SERVER_START_TIMEOUT = 10.0
SERVER_STOP_TIMEOUT = 3  # seconds for open requests when the demo ends


class _Server(uvicorn.Server):
    """uvicorn inside the demo: Ctrl+C is the demo's to handle (it ends the story, then everything is stopped),
    not the server's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_whatsapp_demo(sop: Sop, out_dir: Path, out: TextIO, *, real_now: datetime | None = None) -> Path:
    """Run the WhatsApp demo into `out_dir` (replaced if it exists); returns the path of the audit log CSV."""
    async with demo_office(sop, out_dir, out, real_now=real_now) as (office, clock, t):
        api = FakeGraphApi()
        bot = None
        server: uvicorn.Server | None = None
        serving: asyncio.Task[None] | None = None
        listener = socket.socket()
        try:
            await api.start()
            # Our own listening socket, handed to uvicorn: no window between choosing a free port and taking it.
            listener.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            office.public_url = url  # the signing links in chat lead to this web app
            settings = WhatsAppSettings(
                api.token, api.phone_number_id, APP_SECRET, VERIFY_TOKEN, graph_url=api.graph_url
            )
            bot = await start_bot(office, telegram=None, whatsapp=settings,
                                  limits=Limits(per_second=1000, per_chat_interval=0), outbox_poll=0.1)  # fmt: skip
            server = _Server(
                uvicorn.Config(
                    web_app(bot),
                    log_level="warning",
                    lifespan="off",
                    access_log=False,
                    timeout_graceful_shutdown=SERVER_STOP_TIMEOUT,
                )
            )
            serving = asyncio.create_task(server.serve(sockets=[listener]))
            await _started(server, serving)
            peer = WhatsAppPeer(api, f"{url}/webhooks/whatsapp", APP_SECRET)
            peer.report_statuses()
            t.say(f"Bot WhatsApp berjalan melawan WhatsApp Cloud API tiruan di {api.url}.")
            t.say(f"Webhook bertanda tangan (seperti dari Meta) masuk ke aplikasi web suratbot (uvicorn) di {url};")
            t.say(f"halaman tanda tangan ada di {url}{signing_links.PATH}<token sekali pakai>.")
            people = await people_by_jabatan(office)
            return await _story(office, clock, t, people, api, peer, url, out_dir)
        finally:
            if server is not None and serving is not None:
                server.should_exit = True
                await serving
            if bot is not None:
                await bot.stop()
            await api.stop()
            listener.close()


async def _started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    """Wait until uvicorn serves (it has no event for it); a server that stopped instead is an error."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SERVER_START_TIMEOUT
    while not server.started:
        if serving.done():
            serving.result()  # its exception, if any
            raise RuntimeError("Server web demo berhenti sebelum siap.")
        if loop.time() > deadline:
            raise TimeoutError("Server web demo tidak siap dalam waktu yang wajar.")
        await asyncio.sleep(0.01)


class _Phone:
    """One person's WhatsApp in the demo: the fake phone of a roster member, and what they wrote, in order."""

    def __init__(self, api: FakeGraphApi, peer: WhatsAppPeer, staff: Staff, url: str) -> None:
        self.staff = staff
        self.phone: FakePhone = api.phone(staff.telepon.lstrip("+"), staff.nama)
        self.peer = peer
        self.url = url
        self._log: list[str] = []
        self._shown = 0  # how many of the bot's messages are in the log already

    def _catch_up(self) -> None:
        for message in self.phone.messages[self._shown :]:
            self._log.append(f"< {self._describe(message)}")
        self._shown = len(self.phone.messages)

    async def _post(self, line: str, send: Callable[[], Awaitable[httpx.Response]]) -> None:
        """What the person does, as a line of their chat, then the webhook that carries it to the bot."""
        self._catch_up()
        self._log.append(f"> {line}")
        response = await send()
        response.raise_for_status()  # a webhook the web app refused: the story cannot go on

    async def join(self) -> None:
        await self.say("halo")
        await self.phone.wait_for_text("Akun ini sekarang terhubung")
        await self.phone.wait_for_text("ketik /bantuan")  # and the answer to the "halo" itself

    async def say(self, text: str) -> None:
        await self._post(text, lambda: self.peer.say(self.phone, text))

    async def send_document(self, data: bytes, filename: str, *, caption: str | None = None,
                            mime_type: str = "application/pdf") -> None:  # fmt: skip
        line = f"[dokumen {filename}]" + (f" {caption}" if caption else "")
        await self._post(line, lambda: self.peer.send_document(self.phone, data, filename, caption, mime_type))

    async def press(self, message: Received, title: str) -> None:
        chosen = next(label for button_id, label in message.buttons if button_id == message.button(title))
        verb = "pilih" if message.payload.get("interactive", {}).get("type") == "list" else "tekan"
        await self._post(f"({verb} {chosen})", lambda: self.peer.press(self.phone, message, title))

    async def forge(self, button_id: str, title: str) -> None:
        """A button reply for a button this phone never received (a forged webhook)."""
        body = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
        await self._post(f"(tekan id={button_id!r})", lambda: self.peer.send(self.phone, "interactive", body))

    async def button(self, title: str, *, after: Received | None = None) -> Received:
        """The first message (after `after`, if given) with a button or list row titled `title`."""
        skip = {m.id for m in self.phone.messages[: self.phone.messages.index(after) + 1]} if after else set()
        return await self.phone.wait_for(lambda m: m.id not in skip and any(title in label for _, label in m.buttons))

    async def text(self, fragment: str, *, after: Received | None = None) -> Received:
        skip = {m.id for m in self.phone.messages[: self.phone.messages.index(after) + 1]} if after else set()
        return await self.phone.wait_for(lambda m: m.id not in skip and fragment in m.text)

    def opened(self, message: Received) -> None:
        """The person tapped a link button: the page opens in the phone's browser, outside the chat."""
        self._catch_up()
        self._log.append(
            f"> (tekan {message.buttons[0][1]}: halaman tanda tangan terbuka di peramban, di luar obrolan)"
        )

    def transcript(self) -> str:
        self._catch_up()
        return "\n".join(self._log)

    def _hide_token(self, link: str) -> str:
        prefix = f"{self.url}{signing_links.PATH}"
        return f"{prefix}<token sekali pakai>" if link.startswith(prefix) else link

    def _describe(self, m: Received) -> str:
        """One line for a transcript: the document, the text and the buttons, as WhatsApp shows them."""
        parts: list[str] = []
        if m.document is not None:
            parts.append(f"[dokumen {m.document[0]}]")
        if m.type == "template":
            parts.append(f"[templat {m.template}]")
        if m.text:
            parts.append(m.text)
        kind = m.payload.get("interactive", {}).get("type")
        if kind == "cta_url":
            link, label = m.buttons[0]
            parts.append(f"[tautan {label} → {self._hide_token(link)}]")
        elif kind == "list":
            button = m.payload["interactive"]["action"].get("button", "Pilih")
            parts.append(f"[daftar {button}: " + " | ".join(label for _, label in m.buttons) + "]")
        elif m.buttons:
            parts.append("[" + " | ".join(label for _, label in m.buttons) + "]")
        return " ".join(parts)


def _page_fields(page: str) -> dict[str, str]:
    """The letter card of the signing page: its labels and values, as the page shows them."""
    pairs = re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", page, flags=re.S)
    return {html.unescape(k): html.unescape(re.sub(r"<[^>]+>", "", v)) for k, v in pairs}


def _page_part(page: str, *ids: str) -> str:
    """The text of the first element with one of these ids (an error, a refusal, the result)."""
    for element_id in ids:
        found = re.search(rf'<(p|section)[^>]*id="{element_id}"[^>]*>(.*?)</\1>', page, flags=re.S)
        if found:
            text = re.sub(r"<br>", " ", found.group(2))
            text = re.sub(r"</p>\s*<p>", " ", text)
            return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split())
    return ""


def _page_heading(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, flags=re.S)
    return html.unescape(found.group(1)).strip() if found else ""


async def _story(
    office: Office,
    clock: DemoClock,
    t: Transcript,
    p: dict[str, Staff],
    api: FakeGraphApi,
    peer: WhatsAppPeer,
    url: str,
    out_dir: Path,
) -> Path:
    drafter = _Phone(api, peer, p["Analis Perizinan"], url)
    kasi = _Phone(api, peer, p["Kepala Seksi Perizinan Usaha"], url)
    kabid = _Phone(api, peer, p["Kepala Bidang Pelayanan Perizinan"], url)
    clerk = _Phone(api, peer, p["Pengelola Surat"], url)
    kepala = _Phone(api, peer, p["Kepala Dinas"], url)
    outsider = _Phone(api, peer, p["Penata Promosi Investasi"], url)
    everyone = [drafter, kasi, kabid, clerk, kepala, outsider]
    for phone in everyone:
        await phone.join()
    t.say(
        f"{len(everyone)} pegawai bergabung cukup dengan menyapa bot dari nomor WhatsApp yang tercantum di daftar pegawai."
    )

    def step(phone: _Phone, what: str, minutes: float) -> None:
        say_step(office, clock, t, phone.staff, what, minutes)

    perihal, caption = DEMO_PERIHAL, DEMO_CAPTION
    t.say()
    step(drafter, "mengirim PDF konsep dengan data surat di keterangannya", 0)
    await drafter.send_document(example_letter(perihal, "Camat se-Kabupaten Sumedang"), "konsep-undangan.pdf",
                                caption=caption)  # fmt: skip
    summary = await drafter.button("Kirim ke verifikator")
    await drafter.press(summary, "Kirim ke verifikator")
    await drafter.text("diajukan")

    step(kasi, "menekan Setujui", 12)
    task = await kasi.button("Setujui")
    await kasi.press(task, "Setujui")
    done = await kasi.text("Paraf Anda tercatat")
    step(kasi, "menekan Setujui lagi pada pesan lama (ditolak)", 1)
    await kasi.press(task, "Setujui")
    await kasi.text("tidak berlaku", after=done)

    step(kabid, "menekan Revisi dan menulis catatan", 20)
    review = await kabid.button("Revisi")
    await kabid.press(review, "Revisi")
    await kabid.text("Tuliskan catatan revisi")
    await kabid.say("Tambahkan jam dan tempat rapat pada paragraf kedua.")
    await kabid.text("dikembalikan")

    step(drafter, "mengirim berkas Word yang rusak (ditolak, dengan alasannya)", 15)
    back = await drafter.button("Unggah revisi")
    await drafter.press(back, "Unggah revisi")
    await drafter.text("Kirim berkas revisinya")
    await drafter.send_document(b"PK\x03\x04 bukan pdf", "konsep.docx",
                                mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")  # fmt: skip
    await drafter.text("Dokumen Word ini rusak")
    step(drafter, "mengirim PDF revisinya", 5)
    await drafter.send_document(example_letter(perihal, "Camat se-Kabupaten Sumedang", version=2),
                                "konsep-undangan-rev1.pdf", caption="Jam dan tempat sudah ditambahkan.")  # fmt: skip
    await drafter.text("Revisi terkirim")

    step(outsider, "mencoba menekan tombol Setujui milik surat unit lain lewat balasan tombol palsu (ditolak)", 2)
    again = await kabid.button("Setujui", after=review)
    await outsider.forge(again.button("Setujui"), "Setujui")
    await outsider.text("tidak berwenang")

    step(kabid, "menekan Setujui", 8)
    await kabid.press(again, "Setujui")
    await kabid.text("Paraf Anda tercatat", after=again)

    step(clerk, "menekan Beri Nomor, memeriksa nomor usulan, lalu mengonfirmasi", 6)
    number = await clerk.button("Beri Nomor")
    await clerk.press(number, "Beri Nomor")
    proposal = await clerk.text("Nomor berikutnya")
    await clerk.press(proposal, "Beri Nomor (500.16)")
    await clerk.text("Surat bernomor diteruskan", after=proposal)

    step(kepala, "menekan Tandatangani; bot mengirim tautan sekali pakai ke halaman tanda tangan", 25)
    sign = await kepala.button("Tandatangani")
    await kepala.press(sign, "Tandatangani")
    invitation = await kepala.phone.wait_for(lambda m: m.payload.get("interactive", {}).get("type") == "cta_url")
    await _sign_on_the_page(office, clock, t, kepala, invitation)
    await kepala.phone.wait_for(lambda m: m.document is not None and "halaman tanda tangan" in m.text)

    step(clerk, "menekan Kirim lalu memilih SRIKANDI", 4)
    send = await clerk.phone.wait_for(
        lambda m: m.document is not None and b"/ByteRange" in m.document[1] and any("Kirim" in x for _, x in m.buttons)
    )
    await clerk.press(send, "Kirim")
    routes = await clerk.button("SRIKANDI")
    await clerk.press(routes, "SRIKANDI")
    await clerk.text("catatan pengiriman")
    await clerk.say("Agenda SRIKANDI 2026-0142")
    await clerk.text("tercatat terkirim")
    await drafter.text("telah dikirim")

    say_chats(t, [(phone.staff, phone.transcript()) for phone in everyone])
    # What went through WhatsApp, both ways: every webhook the people's phones posted, every call the bot made.
    through_chat = [phone.transcript() for phone in everyone] + [json.dumps(body) for _, body in api.calls]
    leaked = sum(DEMO_PASSPHRASE in text or WRONG_PASSPHRASE in text for text in through_chat)
    if leaked:
        remark = f"PERHATIAN: {leaked} pesan WhatsApp memuat kata sandi."
    else:
        remark = "Pesan WhatsApp yang memuat kata sandi: 0 (kata sandi hanya diketik di halaman tanda tangan)."
    return await final_report(office, t, out_dir, remarks=[remark])


async def _sign_on_the_page(
    office: Office, clock: DemoClock, t: Transcript, kepala: _Phone, invitation: Received
) -> None:
    """Kepala Dinas opens the link, checks what the page shows, mistypes the passphrase once, then signs."""
    link = invitation.buttons[0][0]
    say_step(office, clock, t, kepala.staff, "membuka tautan itu di peramban ponselnya", 1)
    kepala.opened(invitation)
    async with httpx.AsyncClient() as client:
        page = await client.get(link)
        page.raise_for_status()
        shown = _page_fields(page.text)
        t.say(f"    Halaman “{_page_heading(page.text)}” menampilkan:")
        for label in ("Nomor", "Perihal", "Tujuan", "Penanda tangan", "Tautan berlaku sampai"):
            t.say(f"      {label}: {shown.get(label, '-')}")
        t.say(f"      SHA-256 berkas yang ditandatangani: {shown.get('SHA-256 berkas yang ditandatangani', '-')}")
        preview = await client.get(f"{link}/pratinjau.png")
        preview.raise_for_status()
        t.say(
            f"      pratinjau halaman pertama surat (gambar PNG, {len(preview.content) // 1024} KB) dan kolom passphrase"
        )

        say_step(office, clock, t, kepala.staff, "salah mengetik passphrase di halaman itu", 1)
        wrong = await client.post(link, data={"passphrase": WRONG_PASSPHRASE})
        if wrong.status_code != 400:
            raise RuntimeError(f"Halaman tanda tangan menjawab {wrong.status_code} untuk passphrase yang salah.")
        t.say(f"    Halaman menjawab: {_page_part(wrong.text, 'galat')}")

        say_step(office, clock, t, kepala.staff, "mengetik passphrase yang benar lalu menekan Tandatangani "
                 "(PAdES dengan pyHanko)", 1)  # fmt: skip
        signed = await client.post(link, data={"passphrase": DEMO_PASSPHRASE})
        signed.raise_for_status()
        t.say(f"    Halaman menjawab: {_page_part(signed.text, 'hasil')}")
        t.say(
            "    Passphrase hanya dikirim lewat halaman web ini (formulir POST), tidak pernah lewat obrolan WhatsApp."
        )
        again = await client.get(link)
        t.say(f"    Tautan yang sama dibuka lagi: {_page_part(again.text, 'alasan', 'galat') or again.status_code}")
