"""The daily digest: one message per person with waiting letters, the office view for its readers, once a day."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select

from suratbot.handlers.notifications import render
from suratbot.services import digest
from suratbot.services.office import Office
from suratbot.storage.db import create_engine
from suratbot.storage.models import OutboxMessage
from tests.conftest import WIB, FakeClock
from tests.helpers import letter_at, people
from tests.test_handlers import person

THU_0745 = datetime(2026, 11, 26, 7, 45, tzinfo=WIB)


async def digests(office: Office) -> list[OutboxMessage]:
    async with office.reading() as uow:
        query = select(OutboxMessage).where(OutboxMessage.kind == digest.DIGEST).order_by(OutboxMessage.id)
        return list((await uow.session.scalars(query)).all())


async def test_the_digest_tells_each_holder_and_gives_the_office_view(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    kasi_letters = [await letter_at(office, p, "verifikasi_1") for _ in range(2)]  # Wednesday 09:00
    clerk_letter = await letter_at(office, p, "penomoran")
    clock.now = datetime(2026, 11, 26, 7, 44, tzinfo=WIB)
    assert await digest.send_if_due(office) == 0  # not yet
    clock.now = THU_0745
    sent = await digest.send_if_due(office)
    assert await digest.send_if_due(office) == 0  # once a day
    rows = {row.recipient_id: row for row in await digests(office)}
    assert set(rows) == {p.kasi, p.clerk, p.kepala, p.sekretaris} and sent == 4
    kasi = rows[p.kasi]
    assert "2 surat menunggu Anda, 2 di antaranya melewati standar waktu SOP" in kasi.text
    assert "Yang terlama" in kasi.text and "Rabu, 25 November 2026 09.00 WIB" in kasi.text
    reply = render(office, kasi, None)
    assert [b.label for row in reply.buttons for b in row] == ["1", "2"]
    # oldest first (these two came at the same minute: either order)
    assert {b.data for row in reply.buttons for b in row} == {f"buka|{x.id}|-" for x in kasi_letters}
    assert "Ringkasan kantor" not in kasi.text
    view = rows[p.kepala].text  # nothing waits on Kepala Dinas: only the office view
    assert "surat menunggu Anda" not in view
    assert "3 dari 3 surat berjalan melewati standar waktu SOP" in view
    assert "Verifikasi 1: 2" in view and "Penomoran: 1" in view
    assert "Lina Herlina (Kepala Seksi Perizinan Usaha): 2" in view
    assert not rows[p.kepala].actions
    assert rows[p.clerk].actions == [f"buka:{clerk_letter.id}"]


async def test_no_digest_on_a_holiday_a_weekend_or_after_hours(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    await letter_at(office, p, "verifikasi_1")
    for moment in [
        datetime(2026, 11, 28, 8, 0, tzinfo=WIB),  # Saturday
        datetime(2026, 12, 25, 8, 0, tzinfo=WIB),  # Christmas
        datetime(2026, 11, 26, 16, 0, tzinfo=WIB),  # Thursday, the office has closed: missed today
    ]:
        clock.now = moment
        assert await digest.send_if_due(office) == 0, moment
    clock.now = datetime(2026, 11, 26, 13, 0, tzinfo=WIB)  # the bot was down at 07:45: it comes when it is back
    assert await digest.send_if_due(office) > 0
    assert all("Selamat pagi" not in row.text for row in await digests(office))  # not at one o'clock
    sop = office.sop
    assert digest.next_digest_at(sop, clock.now) == datetime(2026, 11, 27, 7, 45, tzinfo=WIB)
    assert digest.next_digest_at(sop, datetime(2026, 12, 24, 9, 0, tzinfo=WIB)) == datetime(
        2026, 12, 28, 7, 45, tzinfo=WIB
    )  # over Christmas and the weekend


async def test_two_processes_send_the_digest_once(office: Office, clock: FakeClock, database_url: str) -> None:
    p = await people(office)
    await letter_at(office, p, "verifikasi_1")
    second = Office(sop=office.sop, engine=create_engine(database_url), files=office.files, clock=clock)
    try:
        clock.now = THU_0745
        counts = await asyncio.gather(digest.send_if_due(office), digest.send_if_due(second))
    finally:
        await second.close()
    assert sorted(counts) == [0, 3]  # the Kasi, Kepala Dinas and the Sekretaris
    assert len(await digests(office)) == 3


async def test_the_digest_button_opens_the_letter(office: Office, clock: FakeClock) -> None:
    kasi = await person(office, "Kepala Seksi Perizinan Usaha", "801")
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")
    opened = await kasi.press_data(f"buka|{letter.id}|-")
    [reply] = opened.replies
    assert reply.document is not None and reply.document.sha256 == letter.current_version
    assert "Verifikasi 1" in reply.text and reply.buttons[0][0].label.endswith("Setujui")
    stranger = await person(office, "Kepala Seksi Promosi Penanaman Modal", "802")
    refused = await stranger.press_data(f"buka|{letter.id}|-")
    assert refused.answer == "Surat ini bukan untuk Anda." and not refused.replies
    drafter = await person(office, "Analis Perizinan", "803")
    seen = await drafter.press_data(f"buka|{letter.id}|-")
    assert "Sekarang dipegang Lina Herlina" in seen.replies[0].text and seen.replies[0].document is None
