"""The whole SOP on WhatsApp (signing on the signing page), the 24-hour window and its template, a mixed office
(Telegram and WhatsApp passing one letter along), and /saluran: real webhooks, real web app, fake Graph API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from suratbot.bot.fakegraphapi import FakePhone, Received
from suratbot.data.concept import example_letter
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.services.verification import verify_letter
from suratbot.storage.models import AuditEvent, ChannelBinding, Letter, OutboxMessage, SigningLink, Staff
from tests.conftest import FakeClock
from tests.telegram_chat import member
from tests.telegram_chat import with_button as tg_button
from tests.whatsapp_chat import CAPTION, PASSPHRASE, Harness, running, running_with_keys, submitted, with_button


@pytest.fixture
async def harness(office: Office) -> AsyncIterator[Harness]:
    async with running_with_keys(office) as h:
        yield h


async def number_it(h: Harness, clerk: FakePhone) -> None:
    """The clerk (on WhatsApp) numbers the approved letter."""
    task = await clerk.wait_for(with_button("Beri Nomor"))
    await h.peer.press(clerk, task, "Beri Nomor")
    proposal = await clerk.wait_for(lambda m: "Nomor berikutnya" in m.text)
    await h.peer.press(clerk, proposal, "Beri Nomor (500.16)")
    await clerk.wait_for_text("Nomor 500.16/1/DPMPTSP/2026 diberikan")


async def numbered(h: Harness, clerk: FakePhone, kepala: FakePhone) -> Received:
    """The clerk numbers the approved letter: Kepala's task to sign it."""
    await number_it(h, clerk)
    return await kepala.wait_for(with_button("Tandatangani"))


async def approved(h: Harness) -> tuple[FakePhone, FakePhone, FakePhone]:
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    kabid = await h.join("Kepala Bidang Pelayanan Perizinan")
    clerk = await h.join("Pengelola Surat")
    task = await submitted(h, drafter, kasi)
    await h.peer.press(kasi, task, "Setujui")
    second = await kabid.wait_for(with_button("Setujui"))
    await h.peer.press(kabid, second, "Setujui")
    return drafter, kabid, clerk


async def link_for(h: Harness, kepala: FakePhone, sign: Received) -> str:
    earlier = [m.id for m in kepala.messages]
    await h.peer.press(kepala, sign, "Tandatangani")
    message = await kepala.wait_for(
        lambda m: m.id not in earlier and m.payload.get("interactive", {}).get("type") == "cta_url"
    )
    assert "passphrase" in message.text and "sekali pakai" in message.text
    url = message.buttons[0][0]
    assert url.startswith(h.url + "/tandatangan/")
    return url


async def test_the_whole_sop_on_whatsapp_signing_on_the_page(harness: Harness) -> None:
    h = harness
    drafter, _, clerk = await approved(h)
    kepala = await h.join("Kepala Dinas")
    sign = await numbered(h, clerk, kepala)
    assert sign.document is not None and "500.16/1/DPMPTSP/2026" in sign.text
    url = await link_for(h, kepala, sign)
    async with httpx.AsyncClient() as client:
        page = await client.get(url)
        assert page.status_code == 200
        assert "500.16/1/DPMPTSP/2026" in page.text and "Undangan Rapat" in page.text
        async with h.office.reading() as uow:
            letter = (await uow.session.scalars(select(Letter))).one()
        assert letter.current_version in page.text  # the SHA-256 of what will be signed
        assert hashlib.sha256(h.office.files.get(letter.current_version)).hexdigest() == letter.current_version
        assert "script" not in page.text.lower() and "default-src 'none'" in page.headers["content-security-policy"]
        whole = await client.get(url + "/surat.pdf")  # Chromium's PDF viewer needs no default-src 'none'
        assert whole.content.startswith(b"%PDF") and "default-src" not in whole.headers["content-security-policy"]
        preview = await client.get(url + "/pratinjau.png")
        assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
        done = await client.post(url, data={"passphrase": PASSPHRASE})
        assert done.status_code == 200 and "sudah ditandatangani" in done.text
    result = await kepala.wait_for(lambda m: m.document is not None and "halaman tanda tangan" in m.text)
    assert result.document is not None
    verified = await verify_letter(h.office, result.document[1])
    assert verified.ok and verified.nomor == "500.16/1/DPMPTSP/2026"

    send = await clerk.wait_for(lambda m: any("Kirim" == t or "Kirim" in t for _, t in m.buttons) and m.document
                                is not None and b"/ByteRange" in m.document[1])  # fmt: skip
    await h.peer.press(clerk, send, "Kirim")
    routes = await clerk.wait_for(with_button("SRIKANDI"))
    await h.peer.press(clerk, routes, "SRIKANDI")
    await clerk.wait_for_text("catatan pengiriman")
    await h.peer.say(clerk, "agenda 77")
    await clerk.wait_for_text("tercatat terkirim melalui SRIKANDI (agenda 77)")
    await drafter.wait_for_text("telah dikirim ke Camat se-Kabupaten Sumedang")
    async with h.office.reading() as uow:
        assert (await uow.session.scalars(select(Letter))).one().state == "terkirim"
        assert await uow.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "tandatangani")) is not None


async def test_a_signing_link_takes_a_typo_then_signs_once_and_is_refused_after(harness: Harness) -> None:
    h = harness
    _, _, clerk = await approved(h)
    kepala = await h.join("Kepala Dinas")
    url = await link_for(h, kepala, await numbered(h, clerk, kepala))
    async with httpx.AsyncClient() as client:
        wrong = await client.post(url, data={"passphrase": "salah-ketik"})
        assert wrong.status_code == 400 and "salah" in wrong.text and 'name="passphrase"' in wrong.text
        assert "salah-ketik" not in wrong.text  # never echoed
        empty = await client.post(url, data={"passphrase": ""})
        assert empty.status_code == 400 and "Isi passphrase" in empty.text
        right = await client.post(url, data={"passphrase": PASSPHRASE})
        assert right.status_code == 200 and "sudah ditandatangani" in right.text
        again = await client.post(url, data={"passphrase": PASSPHRASE})
        assert again.status_code == 410 and "sudah dipakai" in again.text
        assert (await client.get(url)).status_code == 410
        assert (await client.get(url + "/pratinjau.png")).status_code == 410
        forged = await client.get(h.url + "/tandatangan/bukan-tautan-sungguhan")
        assert forged.status_code == 404
    async with h.office.reading() as uow:
        wrongs = await uow.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("%salah%")))
        assert len(wrongs.all()) == 1  # the typo was counted, like one in chat
        assert (await uow.session.scalars(select(Letter))).one().state == "pengiriman"


async def test_an_expired_link_and_a_link_for_a_letter_that_moved_on_are_refused(
    harness: Harness, clock: FakeClock
) -> None:
    h = harness
    drafter, _, clerk = await approved(h)
    kepala = await h.join("Kepala Dinas")
    sign = await numbered(h, clerk, kepala)
    first = await link_for(h, kepala, sign)
    second = await link_for(h, kepala, sign)  # a newer link: the older one stops working
    async with httpx.AsyncClient() as client:
        assert (await client.get(first)).status_code == 404
        assert (await client.get(second)).status_code == 200
        clock.advance(minutes=5, seconds=1)
        expired = await client.post(second, data={"passphrase": PASSPHRASE})
        assert expired.status_code == 410 and "kedaluwarsa" in expired.text
        clock.advance(minutes=-5)
        third = await link_for(h, kepala, sign)
        await h.peer.press(kepala, sign, "Kembalikan")  # Kepala returns the letter instead (asks for a note)
        await kepala.wait_for_text("catatan pengembalian")
        await h.peer.say(kepala, "Lampiran kurang.")
        await drafter.wait_for_text("Lampiran kurang.")
        moved = await client.get(third)
        assert moved.status_code == 409 and "berubah" in moved.text
    async with h.office.reading() as uow:
        tokens = (await uow.session.scalars(select(SigningLink.token_sha256))).all()
    assert all(len(t) == 64 and t not in (first, second, third) for t in tokens)  # only digests are kept
    assert not any(url.rsplit("/", 1)[1] in t for url in (first, second, third) for t in tokens)


async def test_outside_the_24_hour_window_a_template_leads_back_to_the_task(harness: Harness, clock: FakeClock) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    kabid = await h.join("Kepala Bidang Pelayanan Perizinan")
    # A day passes: the Kabid has not written since (the drafter and the Kasi write again below).
    clock.advance(hours=25)
    h.api.window_closed.add(kabid.wa_id)
    await h.peer.say(kasi, "/antrian")
    await kasi.wait_for_text("Tidak ada surat")
    task = await submitted(h, drafter, kasi)
    await h.peer.press(kasi, task, "Setujui")
    template = await kabid.wait_for(lambda m: m.type == "template")
    assert template.template == "suratbot_pemberitahuan"
    assert "Dinas Penanaman Modal" in template.text and "Undangan Rapat" in template.text
    assert not any(m.type != "template" for m in kabid.messages[-1:])
    await h.peer.press(kabid, template, "Buka")  # the quick reply: the task itself, now inside the window
    opened = await kabid.wait_for(with_button("Setujui"))
    assert opened.document is not None and opened.type == "interactive"
    await h.peer.press(kabid, opened, "Setujui")
    await kabid.wait_for_text("Paraf Anda tercatat")

    # Someone else's template button (a forged payload) opens nothing.
    row_id = template.buttons[0][0].split("|")[1]
    await h.peer.send(drafter, "button", {"payload": f"lihat|{row_id}|-", "text": "Buka"})
    await drafter.wait_for_text("Tombol ini tidak dikenal")


async def test_when_whatsapp_refuses_for_the_window_the_template_goes_instead(harness: Harness) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    kabid = await h.join("Kepala Bidang Pelayanan Perizinan")
    # Our record says the Kabid wrote recently, WhatsApp says otherwise: 131047 comes back by status webhook.
    h.api.window_closed.add(kabid.wa_id)
    task = await submitted(h, drafter, kasi)
    await h.peer.press(kasi, task, "Setujui")
    template = await kabid.wait_for(lambda m: m.type == "template", timeout=15)
    for _ in range(40):  # the sender records the message id just after WhatsApp's answer
        async with h.office.reading() as uow:
            row = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.external_id == template.id))
        if row is not None:
            break
        await asyncio.sleep(0.05)
    assert row is not None and row.status == "sent" and "131047" in (row.last_error or "")
    await h.peer.press(kabid, template, "Buka")
    await kabid.wait_for(with_button("Setujui"))


async def test_a_mixed_office_passes_one_letter_along(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    async with running(office, with_telegram=True) as h:
        assert h.telegram is not None
        tg = _TelegramSide(h)
        drafter = await member(tg, "Analis Perizinan", 3001)  # on Telegram
        kasi = await h.join("Kepala Seksi Perizinan Usaha")  # on WhatsApp
        kabid = await member(tg, "Kepala Bidang Pelayanan Perizinan", 3003)  # on Telegram
        clerk = await h.join("Pengelola Surat")  # on WhatsApp
        kepala = await member(tg, "Kepala Dinas", 3005)  # on Telegram

        drafter.send_document(example_letter("Undangan Rapat", "Camat"), "undangan.pdf", caption=CAPTION)
        summary = await drafter.wait_for(tg_button("Kirim ke verifikator"))
        drafter.press(summary, "Kirim ke verifikator")
        task = await kasi.wait_for(with_button("Setujui"))  # Telegram to WhatsApp
        await h.peer.press(kasi, task, "Setujui")
        second = await kabid.wait_for(tg_button("Setujui"))  # WhatsApp to Telegram
        kabid.press(second, "Setujui")
        await number_it(h, clerk)
        sign = await kepala.wait_for(tg_button("Tandatangani"))  # WhatsApp to Telegram
        kepala.press(sign, "Tandatangani")
        await kepala.wait_for_text("Ketik kata sandi")
        kepala.send_text(PASSPHRASE)
        await kepala.wait_for(lambda m: m.document is not None and "ditandatangani" in (m.caption or ""))
        send = await clerk.wait_for(lambda m: m.document is not None and b"/ByteRange" in m.document[1])
        await h.peer.press(clerk, send, "Kirim")
        routes = await clerk.wait_for(with_button("SRIKANDI"))
        await h.peer.press(clerk, routes, "SRIKANDI")
        await clerk.wait_for_text("catatan pengiriman")
        await h.peer.say(clerk, "agenda 78")
        await drafter.wait_for_text("telah dikirim ke Camat se-Kabupaten Sumedang")  # back on Telegram
        async with office.reading() as uow:
            channels = dict((await uow.session.execute(select(Staff.jabatan, ChannelBinding.channel).join(
                ChannelBinding, ChannelBinding.staff_id == Staff.id))).all())  # fmt: skip
        assert channels["Kepala Dinas"] == "telegram" and channels["Pengelola Surat"] == "whatsapp"


async def test_a_person_on_both_channels_chooses_where_notifications_go(office: Office) -> None:
    async with running(office, with_telegram=True) as h:
        tg = _TelegramSide(h)
        drafter = await h.join("Analis Perizinan")
        kasi_wa = await h.join("Kepala Seksi Perizinan Usaha")
        kasi_tg = await member(tg, "Kepala Seksi Perizinan Usaha", 4002)  # used last: Telegram
        await h.peer.say(kasi_wa, "/saluran")
        await kasi_wa.wait_for_text("terakhir Anda pakai")
        await h.peer.say(kasi_wa, "/saluran whatsapp")
        await kasi_wa.wait_for_text("selalu dikirim lewat WhatsApp")
        kasi_tg.send_text("/antrian")  # Telegram is now the one used last: the choice still holds
        await kasi_tg.wait_for_text("Tidak ada surat")
        await submitted(h, drafter, kasi_wa)  # waits for the task on WhatsApp
        assert not any("Setujui" in label for m in kasi_tg.messages for row in m.buttons for label, _ in row)
        kasi_tg.send_text("/saluran otomatis")
        await kasi_tg.wait_for_text("terakhir Anda pakai")
        await h.peer.say(drafter, "/saluran telegram")
        await drafter.wait_for_text("belum terhubung")
        async with office.reading() as uow:
            chosen = await uow.session.scalar(select(Staff.preferred_channel).where(Staff.jabatan.like("Analis%")))
        assert chosen is None


class _TelegramSide:
    """The mixed office's Telegram half, shaped as the Telegram helpers expect (`office`, `api`)."""

    def __init__(self, h: Harness) -> None:
        assert h.telegram is not None
        self.office = h.office
        self.api = h.telegram


async def test_without_an_address_a_phone_can_open_the_signer_is_sent_to_telegram(harness: Harness) -> None:
    from tests.helpers import letter_at, people

    h = harness
    h.office.public_url = "http://surat.dpmptsp.example.go.id"  # not https: WhatsApp would not open it
    kepala = await h.join("Kepala Dinas")
    await letter_at(h.office, await people(h.office), "tanda_tangan")
    sign = await kepala.wait_for(with_button("Tandatangani"))
    await h.peer.press(kepala, sign, "Tandatangani")
    answer = await kepala.wait_for_text("Tandatangani surat ini dari Telegram")
    assert answer.type == "text" and not any(m.payload.get("interactive", {}).get("type") == "cta_url"
                                             for m in kepala.messages)  # fmt: skip
    async with h.office.reading() as uow:
        assert (await uow.session.scalar(select(SigningLink.token_sha256))) is None


async def test_a_word_concept_through_the_whole_sop_on_whatsapp(harness: Harness) -> None:
    from suratbot.services.converter import soffice_path
    from tests.conftest import postgres_required
    from tests.word_docs import concept_docx, text_of_docx

    if soffice_path() is None and not postgres_required():
        pytest.skip("LibreOffice is not installed (make test installs it)")
    h = harness
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    kabid = await h.join("Kepala Bidang Pelayanan Perizinan")
    clerk = await h.join("Pengelola Surat")
    kepala = await h.join("Kepala Dinas")
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    await h.peer.send_document(drafter, concept_docx(), "undangan.docx", caption=CAPTION, mime_type=docx_type)
    summary = await drafter.wait_for(with_button("Kirim ke verifikator"), timeout=60)
    await h.peer.press(drafter, summary, "Kirim ke verifikator")
    task = await kasi.wait_for(with_button("Setujui"))
    assert task.document is not None and task.document[1].startswith(b"%PDF") and len(task.buttons) == 3
    await h.peer.press(kasi, task, "Berkas Word")
    sent = await kasi.wait_for(lambda m: m.document is not None and m.document[0].endswith(".docx"))
    assert sent.document is not None and "${nomor}" in text_of_docx(sent.document[1])
    await h.peer.press(kasi, task, "Setujui")
    await h.peer.press(kabid, await kabid.wait_for(with_button("Setujui")), "Setujui")
    sign = await numbered(h, clerk, kepala)
    url = await link_for(h, kepala, sign)
    async with httpx.AsyncClient() as client:
        done = await client.post(url, data={"passphrase": PASSPHRASE})
    assert done.status_code == 200
    result = await kepala.wait_for(lambda m: m.document is not None and "halaman tanda tangan" in m.text)
    assert result.document is not None
    verified = await verify_letter(h.office, result.document[1])
    assert verified.ok and verified.nomor == "500.16/1/DPMPTSP/2026"
    async with h.office.reading() as uow:
        letter = (await uow.session.scalars(select(Letter))).one()
    assert "Nomor    : 500.16/1/DPMPTSP/2026" in text_of_docx(h.office.files.get(letter.word_version or ""))
