"""WhatsApp end to end: signed webhooks posted to the running web app (uvicorn on 127.0.0.1), the real handlers
and outbox, and a fake Graph API on 127.0.0.1 recording what the bot sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import func, select

from suratbot.data.concept import example_letter
from suratbot.services.office import Office
from suratbot.storage.models import ChannelBinding, Letter, OutboxMessage, Staff, WhatsAppMessage
from tests.conftest import FakeClock
from tests.whatsapp_chat import CAPTION, VERIFY_TOKEN, Harness, running, submitted


@pytest.fixture
async def harness(office: Office) -> AsyncIterator[Harness]:
    async with running(office) as h:
        yield h


async def test_meta_verifies_the_webhook_and_nothing_unsigned_is_processed(harness: Harness) -> None:
    h = harness
    async with httpx.AsyncClient() as client:
        ok = await client.get(
            f"{h.url}/webhooks/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
        )
        assert (ok.status_code, ok.text) == (200, "1158201444")
        wrong = await client.get(
            f"{h.url}/webhooks/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": "tebakan", "hub.challenge": "1"},
        )
        assert wrong.status_code == 403
    phone = await h.phone_of("Analis Perizinan")
    payload = h.peer.envelope(messages=[h.peer.message(phone, "text", {"body": "halo"})], contacts=[])
    forged = await h.peer.post(payload, signature="sha256=" + "0" * 64)
    unsigned = await h.peer.post(payload, signature="")
    assert forged.status_code == unsigned.status_code == 403
    await asyncio.sleep(0.3)
    async with h.office.reading() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(WhatsAppMessage)) == 0
        assert await uow.session.scalar(select(func.count()).select_from(ChannelBinding)) == 0
    assert phone.messages == []


async def test_a_roster_member_is_bound_on_first_contact_and_a_stranger_is_refused(harness: Harness) -> None:
    h = harness
    drafter = await h.phone_of("Analis Perizinan")
    await h.peer.say(drafter, "halo")
    await drafter.wait_for_text("Akun ini sekarang terhubung")
    await drafter.wait_for_text("Kirim PDF konsep surat")  # and the message itself was answered
    stranger = h.api.phone("6281299999999", "Orang Lain")
    await h.peer.say(stranger, "halo")
    await stranger.wait_for_text("tidak ada di daftar pegawai")
    clerk = await h.join("Pengelola Surat")  # an admin: told of the stranger, through the outbox
    await clerk.wait_for_text("mencoba memakai bot dengan nomor +6281299999999")


async def test_a_letter_through_review_on_whatsapp(harness: Harness) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    kabid = await h.join("Kepala Bidang Pelayanan Perizinan")
    task = await submitted(h, drafter, kasi)
    assert task.document is not None and task.document[1].startswith(b"%PDF")  # the letter, as the header
    assert all(len(title) <= 20 for _, title in task.buttons) and len(task.buttons) <= 3
    await h.peer.press(kasi, task, "Setujui")
    await kasi.wait_for_text("Paraf Anda tercatat")
    await h.peer.press(kasi, task, "Setujui")  # a second tap on the old message changes nothing
    await kasi.wait_for_text("tidak berlaku lagi")
    second = await kabid.wait_for(lambda m: any("Revisi" in t for _, t in m.buttons))
    await h.peer.press(kabid, second, "Revisi")
    await kabid.wait_for_text("catatan")
    await h.peer.say(kabid, "Tanggal rapat salah.")
    back = await drafter.wait_for_text("Tanggal rapat salah.")  # verbatim
    assert any("revisi" in t.lower() for _, t in back.buttons)
    async with h.office.reading() as uow:
        letter = (await uow.session.scalars(select(Letter))).one()
    assert letter.state == "konsep" and letter.holder_id is not None


async def test_a_replayed_message_is_handled_once(harness: Harness) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    before = len(drafter.messages)
    for _ in range(3):  # Meta retries the same webhook
        response = await h.peer.say(drafter, "/antrian", wamid="wamid.sekali")
        assert response.status_code == 200
    await drafter.wait_for_text("Tidak ada surat yang menunggu Anda")
    await asyncio.sleep(0.5)
    assert len(drafter.messages) == before + 1


async def test_more_than_three_choices_come_as_a_list(harness: Harness) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    await h.peer.send_document(
        drafter, example_letter("Undangan", "Camat"), "undangan.pdf", caption="Perihal: Undangan; Tujuan: Camat"
    )
    choice = await drafter.wait_for(lambda m: m.payload.get("interactive", {}).get("type") == "list")
    assert "sifat" in choice.text.lower()
    assert [t for _, t in choice.buttons] == ["Biasa", "Terbatas", "Rahasia", "Sangat Rahasia"]
    await h.peer.press(drafter, choice, "Terbatas")
    await drafter.wait_for_text("urgensi")


async def test_status_callbacks_are_recorded_and_a_failure_is_retried(harness: Harness) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    kabid = await h.join("Kepala Bidang Pelayanan Perizinan")

    async def row(wamid: str) -> OutboxMessage:
        for _ in range(50):
            async with h.office.reading() as uow:
                found = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.external_id == wamid))
            if found is not None:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError("the outbox row never got its WhatsApp message id")

    async def settled(wamid: str, check: Callable[[OutboxMessage], bool]) -> OutboxMessage:
        for _ in range(60):
            found = await row(wamid)
            if check(found):
                return found
            await asyncio.sleep(0.05)
        return await row(wamid)

    task = await submitted(h, drafter, kasi)
    # callbacks come in any order; "delivered" after "read" changes nothing, nor does a failure after it
    await h.peer.status(task.id, kasi.wa_id, "read")
    await h.peer.status(task.id, kasi.wa_id, "delivered")
    assert (await settled(task.id, lambda r: r.platform_status == "read")).platform_status == "read"
    await h.peer.status(task.id, kasi.wa_id, "failed", error_code=131000)
    await asyncio.sleep(0.3)
    assert ((await row(task.id)).status, (await row(task.id)).platform_status) == ("sent", "read")

    await h.peer.press(kasi, task, "Setujui")
    second = await kabid.wait_for(lambda m: any("Setujui" in t for _, t in m.buttons))
    sent_attempts = (await row(second.id)).attempts
    await h.peer.status(second.id, kabid.wa_id, "failed", error_code=131000)  # something that may pass
    retried = await settled(second.id, lambda r: r.status == "pending")
    assert (retried.status, retried.platform_status, retried.attempts) == ("pending", "failed", sent_attempts + 1)
    assert "131000" in (retried.last_error or "")

    news = await drafter.wait_for_text("disetujui")  # the drafter's news of the approval, through the outbox
    await h.peer.status(news.id, drafter.wa_id, "failed", error_code=131026)  # not a WhatsApp user: not again
    gone = await settled(news.id, lambda r: r.status == "failed")
    assert (gone.status, gone.platform_status) == ("failed", "failed")


async def test_the_sign_button_on_whatsapp_gives_a_link_never_a_passphrase_prompt(harness: Harness) -> None:
    from suratbot.handlers import router
    from suratbot.handlers.types import Inbound

    h = harness
    kepala = await h.join("Kepala Dinas")
    # A Tandatangani button for a letter that is not (or no longer) Kepala's to sign: refused, no link.
    inbound = Inbound(channel="whatsapp", address=kepala.wa_id, callback="tandatangani|AAAAAAAAAAAAAAAAAAAAAA|tanda_tangan",
                      can_delete=False)  # fmt: skip
    response = await router.handle(h.office, inbound)
    assert not any(b.url for r in response.replies for row in r.buttons for b in row)
    assert "passphrase" not in " ".join(r.text for r in response.replies).lower()


async def test_webhooks_of_another_number_and_oversized_bodies_are_ignored(harness: Harness) -> None:
    h = harness
    phone = await h.phone_of("Analis Perizinan")
    payload = h.peer.envelope(messages=[h.peer.message(phone, "text", {"body": "halo"})], contacts=[])
    payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "999"  # the account's other number
    assert (await h.peer.post(payload)).status_code == 200  # signed by Meta: accepted, and left alone
    big = h.peer.envelope(messages=[h.peer.message(phone, "text", {"body": "x" * 1_100_000})], contacts=[])
    assert (await h.peer.post(big)).status_code == 413
    await asyncio.sleep(0.3)
    assert phone.messages == []
    async with h.office.reading() as uow:
        assert await uow.session.scalar(select(func.count()).select_from(WhatsAppMessage)) == 0


def test_notifications_go_where_they_can_be_acted_on() -> None:
    from datetime import UTC, datetime, timedelta

    from suratbot.bot.outbox import _pick

    now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    telegram = ChannelBinding(staff_id=1, channel="telegram", address="5", last_seen_at=now - timedelta(days=2))
    whatsapp = ChannelBinding(staff_id=1, channel="whatsapp", address="62", last_seen_at=now - timedelta(hours=1))
    both = [telegram, whatsapp]  # least recently used first
    assert _pick(both, None, now) is whatsapp  # the channel used last
    assert _pick(both, "telegram", now) is telegram  # the one they chose (/saluran)
    whatsapp.last_seen_at = now - timedelta(hours=25)
    assert _pick([whatsapp, telegram], None, now) is telegram  # WhatsApp's 24 hours are over
    assert _pick([whatsapp, telegram], "whatsapp", now) is whatsapp  # chosen: as the template
    assert _pick([whatsapp], None, now) is whatsapp  # nothing else: as the template
    assert _pick([telegram], "whatsapp", now) is telegram  # chose a channel they no longer have
    assert _pick([], None, now) is None


async def test_a_command_still_works_on_whatsapp_while_a_passphrase_is_awaited_elsewhere(harness: Harness) -> None:
    from suratbot.handlers import router
    from suratbot.handlers.types import Inbound
    from suratbot.services import prompts

    h = harness
    kepala = await h.join("Kepala Dinas")
    async with h.office.reading() as uow:
        staff = await uow.session.scalar(select(Staff).where(Staff.jabatan == "Kepala Dinas"))
    assert staff is not None
    await prompts.ask(h.office, staff.id, "passphrase", letter_id=None, expected_state=None)  # asked on Telegram
    typed = Inbound(channel="whatsapp", address=kepala.wa_id, text="rahasia-saya", can_delete=False)
    answer = await router.handle(h.office, typed)
    assert "bot tidak memakainya" in answer.replies[0].text and not answer.delete_inbound
    assert await prompts.pending(h.office, staff.id)  # still waiting, on Telegram
    command = Inbound(channel="whatsapp", address=kepala.wa_id, text="/antrian", command="antrian", can_delete=False)
    assert "menunggu Anda" in (await router.handle(h.office, command)).replies[0].text


async def test_a_refused_token_or_unknown_number_id_stops_the_start(office: Office) -> None:
    from suratbot.bot.app import start_bot
    from suratbot.bot.channels.whatsapp import WhatsAppRefused, WhatsAppSettings
    from suratbot.bot.fakegraphapi import FakeGraphApi
    from tests.whatsapp_chat import APP_SECRET

    api = FakeGraphApi()
    await api.start()
    try:
        for token, number, said in (
            ("token-basi", api.phone_number_id, "WHATSAPP_ACCESS_TOKEN"),
            (api.token, "999", "WHATSAPP_PHONE_NUMBER_ID"),
        ):
            settings = WhatsAppSettings(token, number, APP_SECRET, VERIFY_TOKEN, graph_url=api.graph_url)
            with pytest.raises(WhatsAppRefused, match=said) as refused:
                await start_bot(office, telegram=None, whatsapp=settings)
            assert "token-basi" not in str(refused.value)
    finally:
        await api.stop()


async def test_old_message_ids_are_forgotten_after_two_weeks(harness: Harness, clock: FakeClock) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    clock.advance(days=15)
    assert h.bot.whatsapp is not None
    h.bot.whatsapp._claims = 0  # the next message prunes (as the first after a start does)
    await h.peer.say(drafter, "/antrian")
    await drafter.wait_for_text("Tidak ada surat")
    async with h.office.reading() as uow:
        kept = (await uow.session.scalars(select(WhatsAppMessage.received_at))).all()
    assert len(kept) == 1  # only the message just handled


async def test_a_notification_that_fails_for_good_is_reported_to_the_admins(harness: Harness) -> None:
    h = harness
    drafter = await h.join("Analis Perizinan")
    kasi = await h.join("Kepala Seksi Perizinan Usaha")
    clerk = await h.join("Pengelola Surat")  # an admin
    h.api.failures[kasi.wa_id] = [131026]  # the Kasi's number cannot receive WhatsApp messages
    await h.peer.send_document(drafter, example_letter("Undangan Rapat", "Camat"), "undangan.pdf", caption=CAPTION)
    summary = await drafter.wait_for(lambda m: any("Kirim ke verifikator" in t for _, t in m.buttons))
    await h.peer.press(drafter, summary, "Kirim ke verifikator")
    report = await clerk.wait_for_text("tidak terkirim lewat WhatsApp")
    assert "Lina Herlina" in report.text and "sampaikan dengan cara lain" in report.text
