"""The SOP's clock: reminders and escalation, driven by an injected clock (no sleeping), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from suratbot.handlers import buttons
from suratbot.handlers.notifications import render
from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.services.reminders import ESCALATE, REMIND, SweepResult, late_text, next_sweep_at, sweep
from suratbot.storage.db import create_engine
from suratbot.storage.models import OutboxMessage, Reminder
from suratbot.workflow.letter import LetterMeta
from tests.conftest import WIB, FakeClock
from tests.helpers import META, fresh_pdf, letter_at, people

WED_0900 = datetime(2026, 11, 25, 9, 0, tzinfo=WIB)


async def notices(office: Office, *kinds: str) -> list[OutboxMessage]:
    async with office.reading() as uow:
        query = select(OutboxMessage).where(OutboxMessage.kind.in_(kinds or (REMIND, ESCALATE)))
        return list((await uow.session.scalars(query.order_by(OutboxMessage.id))).all())


async def at(office: Office, clock: FakeClock, moment: datetime) -> SweepResult:
    clock.now = moment
    return await sweep(office)


async def test_the_holder_is_reminded_at_the_standard_time_again_and_then_the_superior_is_told(
    office: Office, clock: FakeClock
) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")  # Wednesday 09:00: due 10:00, escalation at 11:00
    assert await at(office, clock, WED_0900 + timedelta(minutes=59, seconds=59)) == SweepResult()
    assert await at(office, clock, WED_0900 + timedelta(hours=1)) == SweepResult(reminded=1)
    assert await sweep(office) == SweepResult()  # claimed: a second sweep at the same moment sends nothing
    [reminder] = await notices(office)
    assert reminder.recipient_id == p.kasi and reminder.letter_id == letter.id
    assert "Pengingat" in reminder.text and "Verifikasi 1" in reminder.text and "Undangan" in reminder.text
    assert "Standar waktu SOP (60 menit jam kerja) sudah habis" in reminder.text  # the first: right at the limit
    reply = render(office, reminder, letter)  # the step's buttons, as in the first notice
    assert [b.label for row in reply.buttons for b in row] == ["\u2705 Setujui", "\u270f\ufe0f Revisi"]
    assert reminder.expected_state == "verifikasi_1"

    assert await at(office, clock, WED_0900 + timedelta(minutes=89)) == SweepResult()
    assert await at(office, clock, WED_0900 + timedelta(minutes=90)) == SweepResult(reminded=1)
    assert "pengingat ke-2" in (await notices(office))[-1].text
    assert await at(office, clock, WED_0900 + timedelta(hours=2)) == SweepResult(reminded=1, escalated=1)
    [escalation] = await notices(office, ESCALATE)
    assert escalation.recipient_id == p.kabid  # verifier 2 of the unit hears of a late verifier 1
    assert "Kepala Seksi Perizinan Usaha" in escalation.text and "1 jam" in escalation.text
    assert not escalation.actions  # not theirs to act on
    assert escalation.expected_state == "verifikasi_1"  # the outbox drops it if the letter moves on first
    assert await at(office, clock, WED_0900 + timedelta(hours=5)) == SweepResult(reminded=1)  # escalated once
    async with office.reading() as uow:
        claims = (await uow.session.scalars(select(Reminder).order_by(Reminder.id))).all()
    assert [(c.kind, c.seq) for c in claims] == [(REMIND, 1), (REMIND, 2), (REMIND, 3), (ESCALATE, 1), (REMIND, 9)]


async def test_a_step_finished_one_second_before_its_reminder_sends_none(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")
    clock.now = WED_0900 + timedelta(minutes=59, seconds=59)
    await letters.approve(office, letter.id, p.kasi)
    assert await at(office, clock, WED_0900 + timedelta(hours=1)) == SweepResult()
    assert await notices(office) == []
    # the next step has a clock of its own: Kabid is reminded an hour after he got it
    assert await at(office, clock, WED_0900 + timedelta(hours=1, minutes=59, seconds=59)) == SweepResult(reminded=1)
    [reminder] = await notices(office)
    assert reminder.recipient_id == p.kabid and reminder.expected_state == "verifikasi_2"


async def test_a_step_crossing_friday_evening_is_due_on_monday_and_nobody_is_pinged_at_night(
    office: Office, clock: FakeClock
) -> None:
    p = await people(office)
    clock.now = datetime(2026, 11, 27, 16, 0, tzinfo=WIB)  # Friday; the office closes at 16:30
    letter = await letter_at(office, p, "verifikasi_1")
    assert letter.step_due_at == datetime(2026, 11, 30, 8, 0, tzinfo=WIB)  # 30 min on Friday, 30 on Monday
    for moment in [
        datetime(2026, 11, 27, 16, 29, tzinfo=WIB),
        datetime(2026, 11, 27, 23, 0, tzinfo=WIB),
        datetime(2026, 11, 28, 10, 0, tzinfo=WIB),  # Saturday
        datetime(2026, 11, 30, 7, 59, tzinfo=WIB),
    ]:
        assert await at(office, clock, moment) == SweepResult(), moment
    clock.now = datetime(2026, 11, 28, 10, 0, tzinfo=WIB)
    assert await next_sweep_at(office) == datetime(2026, 11, 30, 7, 30, tzinfo=WIB)  # the next office hour
    clock.now = datetime(2026, 11, 30, 7, 45, tzinfo=WIB)
    assert await next_sweep_at(office) == datetime(2026, 11, 30, 7, 50, tzinfo=WIB)  # the safety net: 5 minutes
    clock.now = datetime(2026, 11, 30, 7, 57, tzinfo=WIB)
    assert await next_sweep_at(office) == datetime(2026, 11, 30, 8, 0, tzinfo=WIB)  # the deadline itself
    assert await at(office, clock, datetime(2026, 11, 30, 8, 0, tzinfo=WIB)) == SweepResult(reminded=1)


async def test_a_holiday_counts_no_time_and_gets_no_reminder(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    clock.now = datetime(2026, 12, 24, 15, 30, tzinfo=WIB)  # Thursday before Christmas (a holiday), 30 min left
    letter = await letter_at(office, p, "verifikasi_1")
    assert letter.step_due_at == datetime(2026, 12, 28, 8, 0, tzinfo=WIB)  # Friday 25th is a holiday
    assert await at(office, clock, datetime(2026, 12, 25, 10, 0, tzinfo=WIB)) == SweepResult()
    assert await at(office, clock, datetime(2026, 12, 28, 8, 0, tzinfo=WIB)) == SweepResult(reminded=1)


async def test_the_bot_down_across_deadlines_sends_one_reminder_at_restart(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    await letter_at(office, p, "verifikasi_1")
    # down from 09:30 to 11:40: the reminders of 10:00, 10:30, 11:00, 11:30 and the escalation of 11:00 fell due
    clock.now = WED_0900 + timedelta(hours=2, minutes=40)
    assert await next_sweep_at(office) == clock.now  # at start: right away
    assert await sweep(office) == SweepResult(reminded=1, escalated=1)
    assert len(await notices(office, REMIND)) == 1
    assert await sweep(office) == SweepResult()


async def test_two_sweepers_on_one_database_send_each_reminder_once(
    office: Office, clock: FakeClock, database_url: str
) -> None:
    p = await people(office)
    for _ in range(5):
        await letter_at(office, p, "verifikasi_1")
    second = Office(sop=office.sop, engine=create_engine(database_url), files=office.files, clock=clock)
    try:
        clock.now = WED_0900 + timedelta(hours=2)
        results = await asyncio.gather(*(sweep(o) for o in [office, second, office, second]))
    finally:
        await second.close()
    assert sum(results, SweepResult()) == SweepResult(reminded=5, escalated=5)
    assert len(await notices(office, REMIND)) == 5 and len(await notices(office, ESCALATE)) == 5


async def test_who_hears_of_a_late_step(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    # a unit head (Kabid) late: the Sekretaris; the Sekretaris herself late: Kepala Dinas
    at_kabid = await letter_at(office, p, "verifikasi_2")
    meta = LetterMeta("Surat Sekretariat", "Camat", "Biasa", "Biasa", "000.1")
    own = await letters.submit(office, p.sekretariat_drafter, fresh_pdf(), meta)
    own = await letters.approve(office, own.id, p.kasubag)
    assert own.holder_id == p.sekretaris
    # the clerk late with a number: Kepala Dinas; a drafter late with a revision: verifier 1 of the unit
    at_clerk = await letter_at(office, p, "penomoran")
    back = await letter_at(office, p, "verifikasi_1")
    back = await letters.request_revision(office, back.id, p.kasi, "Perbaiki tanggal rapat.")
    clock.advance(hours=3)
    await sweep(office)
    told = {row.letter_id: row.recipient_id for row in await notices(office, ESCALATE)}
    assert told == {at_kabid.id: p.sekretaris, own.id: p.kepala, at_clerk.id: p.kepala, back.id: p.kasi}
    revision = next(r for r in await notices(office, REMIND) if r.letter_id == back.id)
    caption = buttons.caption(office.sop, "ajukan_ulang", "konsep")
    assert revision.recipient_id == p.drafter and "Revisi yang lambat" in revision.text
    assert [b.label for row in render(office, revision, back).buttons for b in row] == [caption]
    numbering = next(r for r in await notices(office, REMIND) if r.letter_id == at_clerk.id)
    assert "tertahan di tahap ini" in numbering.text  # the SOP's warning for step 2


async def test_a_secret_letter_is_reminded_without_its_subject(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    secret = LetterMeta("Data gaji pegawai", META.tujuan, "Rahasia", "Segera", "800")
    await letter_at(office, p, "verifikasi_1", meta=secret)
    clock.advance(hours=2)
    assert await sweep(office) == SweepResult(reminded=1, escalated=1)
    rows = await notices(office)
    assert len(rows) == 2
    for row in rows:
        assert "gaji" not in row.text and "RAHASIA" in row.text
        assert row.attachment_sha256 is None


async def test_signing_has_no_standard_time_so_no_reminder(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    await letter_at(office, p, "tanda_tangan")
    clock.advance(days=3)
    assert await sweep(office) == SweepResult()


def test_late_text() -> None:
    assert [late_text(m) for m in (0, 5, 60, 65, 125.9)] == [
        "0 menit",
        "5 menit",
        "1 jam",
        "1 jam 5 menit",
        "2 jam 5 menit",
    ]


async def test_a_backlog_is_sent_oldest_first_over_several_sweeps(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    first = await letter_at(office, p, "verifikasi_1")
    clock.advance(minutes=5)
    for _ in range(3):
        await letter_at(office, p, "verifikasi_1")
    clock.advance(hours=3)  # each: a reminder and an escalation due, 8 in all
    one = await sweep(office, limit=3)
    assert (one.reminded + one.escalated, one.more) == (3, True)
    assert {r.letter_id for r in await notices(office)} >= {first.id}  # the oldest step goes first
    two = await sweep(office, limit=3)
    three = await sweep(office, limit=3)
    assert two.more and not three.more
    assert (one + two + three).reminded == 4 and (one + two + three).escalated == 4
    assert await sweep(office, limit=3) == SweepResult()


async def test_an_escalation_with_nobody_to_tell_is_settled_once(office: Office, clock: FakeClock) -> None:
    from datetime import date

    from suratbot.services import stand_ins

    p = await people(office)
    meta = LetterMeta("Surat Sekretariat", "Camat", "Biasa", "Biasa", "000.1")
    own = await letters.submit(office, p.sekretariat_drafter, fresh_pdf(), meta)
    own = await letters.approve(office, own.id, p.kasubag)  # now with the Sekretaris, at verifikasi_2
    # the Sekretaris stands in for Kepala Dinas: the only superiors of her late step are herself
    await stand_ins.appoint(office, p.kepala, p.sekretaris, until=date(2026, 11, 30), by=p.kepala)
    clock.advance(hours=3)
    assert await sweep(office) == SweepResult(reminded=1)
    assert await next_sweep_at(office) > clock.now  # settled: no sweep every second for it
    async with office.reading() as uow:
        [settled] = (await uow.session.scalars(select(Reminder).where(Reminder.kind == ESCALATE))).all()
    assert settled.recipient_id is None and settled.letter_id == own.id
    assert await notices(office, ESCALATE) == []
