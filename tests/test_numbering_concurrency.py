"""Letter numbers under concurrency, over new year and after a cancellation, on SQLite and PostgreSQL.

The SOP (tata naskah dinas): the serial restarts each calendar year of the letter's date, is never given
twice, and a number once given is never silently reused (a cancelled one is recorded as cancelled). On
SQLite every transaction is BEGIN IMMEDIATE (writers queue, busy_timeout 30 s); on PostgreSQL the letter row
is locked with SELECT ... FOR UPDATE and the counter taken with an atomic UPDATE ... RETURNING.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.storage.models import IssuedNumber, Letter, NumberCounter
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import NumberingRule, Sop
from tests.conftest import WIB, FakeClock
from tests.helpers import META, People, audit_of, letter_at, outbox_of, pdf, people, reload


async def issued(office: Office) -> list[IssuedNumber]:
    async with office.uow() as uow:
        return list((await uow.session.scalars(select(IssuedNumber).order_by(IssuedNumber.id))).all())


async def counters(office: Office) -> dict[str, int]:
    async with office.uow() as uow:
        return {c.scope: c.last_serial for c in (await uow.session.scalars(select(NumberCounter))).all()}


async def letters_at(office: Office, p: People, state: str, count: int) -> list[Letter]:
    """`count` letters at `state`, each driven along the happy path (one transaction per step)."""
    return [await letter_at(office, p, state) for _ in range(count)]


async def gather_outcomes(calls: list) -> tuple[list[Letter], list[Refusal]]:
    """Run the calls concurrently; every outcome must be a Letter or a Refusal (never a crash)."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [o for o in outcomes if not isinstance(o, Letter | Refusal)]
    assert not unexpected, unexpected
    return [o for o in outcomes if isinstance(o, Letter)], [o for o in outcomes if isinstance(o, Refusal)]


# --- 100 clerks' taps at once ---------------------------------------------------------------------------


@pytest.mark.slow
async def test_hundred_concurrent_numbers_are_distinct_and_gapless(office: Office) -> None:
    p = await people(office)
    batch = await letters_at(office, p, "penomoran", 100)

    done, refused = await gather_outcomes([letters.assign_number(office, letter.id, p.clerk) for letter in batch])

    assert not refused
    assert len(done) == 100
    assert all(letter.state == "tanda_tangan" and letter.holder_id == p.kepala for letter in done)
    numbers = await issued(office)
    assert len(numbers) == 100
    assert len({n.nomor for n in numbers}) == 100
    assert len({letter.nomor for letter in done}) == 100
    assert sorted(n.serial for n in numbers) == list(range(1, 101))
    assert {n.scope for n in numbers} == {"2026"}
    assert all(n.nomor == f"500.16/{n.serial}/DPMPTSP/2026" and n.status == "aktif" for n in numbers)
    assert {n.letter_id: n.nomor for n in numbers} == {letter.id: letter.nomor for letter in done}
    assert await counters(office) == {"2026": 100}
    # Each letter's audit records the one number it got.
    for letter in done[:10]:
        events = [e for e in await audit_of(office, letter.id) if e.action == "beri_nomor"]
        assert len(events) == 1
        assert events[0].details["nomor"] == letter.nomor


@pytest.mark.slow
async def test_hundred_concurrent_numbers_on_both_sides_of_new_year(office: Office, clock: FakeClock) -> None:
    """Half dated 31 December 2026, half 2 January 2027, all at once: two gapless series of 1..50."""
    p = await people(office)
    batch = await letters_at(office, p, "penomoran", 100)
    clock.now = datetime(2027, 1, 2, 9, 0, tzinfo=WIB)  # numbered on 2 January, half of them back-dated
    days = [date(2026, 12, 31) if i % 2 else date(2027, 1, 2) for i in range(100)]

    done, refused = await gather_outcomes(
        [
            letters.assign_number(office, letter.id, p.clerk, letter_date=day)
            for letter, day in zip(batch, days, strict=True)
        ]
    )

    assert not refused and len(done) == 100
    numbers = await issued(office)
    for year in (2026, 2027):
        mine = [n for n in numbers if n.scope == str(year)]
        assert sorted(n.serial for n in mine) == list(range(1, 51))
        assert all(n.letter_date.year == year and n.nomor.endswith(f"/DPMPTSP/{year}") for n in mine)
    assert len({n.nomor for n in numbers}) == 100
    assert await counters(office) == {"2026": 50, "2027": 50}


# --- the double tap ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expected_state", "code"),
    [
        pytest.param(None, "bukan_pemegang", id="no-expected-state"),
        pytest.param("verifikasi_1", "tahap_berubah", id="button-of-verifikasi_1"),
    ],
)
async def test_twenty_concurrent_approvals_approve_once(office: Office, expected_state: str | None, code: str) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")
    outbox_before = len(await outbox_of(office, letter.id))

    done, refused = await gather_outcomes(
        [letters.approve(office, letter.id, p.kasi, expected_state=expected_state) for _ in range(20)]
    )

    assert len(done) == 1 and len(refused) == 19
    assert {r.code for r in refused} == {code}
    assert all(r.message.strip() for r in refused)
    now = await reload(office, letter.id)
    assert (now.state, now.holder_id) == ("verifikasi_2", p.kabid)
    assert now.revision == letter.revision + 1
    events = await audit_of(office, letter.id)
    assert [e.action for e in events] == ["buat", "ajukan", "setujui"]
    new = (await outbox_of(office, letter.id))[outbox_before:]
    assert [(m.recipient_id, m.kind, m.expected_state) for m in new if m.recipient_id == p.kabid] == [
        (p.kabid, "tugas", "verifikasi_2")
    ]
    assert len(new) == 2  # the task for verifier 2 and the progress note to the drafter, once each


async def test_twenty_concurrent_numberings_of_one_letter_give_one_number(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "penomoran")

    done, refused = await gather_outcomes(
        [letters.assign_number(office, letter.id, p.clerk, expected_state="penomoran") for _ in range(20)]
    )

    assert len(done) == 1 and len(refused) == 19
    assert {r.code for r in refused} == {"tahap_berubah"}
    numbers = await issued(office)
    assert [(n.letter_id, n.serial, n.nomor) for n in numbers] == [(letter.id, 1, "500.16/1/DPMPTSP/2026")]
    assert await counters(office) == {"2026": 1}
    assert [e.action for e in await audit_of(office, letter.id)].count("beri_nomor") == 1


# --- new year ----------------------------------------------------------------------------------------------


async def test_the_serial_restarts_with_the_year_of_the_letter_date(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    a, b, c, d = await letters_at(office, p, "penomoran", 4)
    clock.now = datetime(2027, 1, 4, 9, 0, tzinfo=WIB)  # numbered on 4 January, some back-dated

    a = await letters.assign_number(office, a.id, p.clerk, letter_date=date(2026, 12, 31))
    b = await letters.assign_number(office, b.id, p.clerk, letter_date=date(2027, 1, 2))
    c = await letters.assign_number(office, c.id, p.clerk, letter_date=date(2026, 12, 30))  # back-dated
    d = await letters.assign_number(office, d.id, p.clerk, letter_date=date(2027, 1, 4))

    assert [x.nomor for x in (a, b, c, d)] == [
        "500.16/1/DPMPTSP/2026",
        "500.16/1/DPMPTSP/2027",
        "500.16/2/DPMPTSP/2026",
        "500.16/2/DPMPTSP/2027",
    ]
    assert [x.letter_date for x in (a, b, c, d)] == [
        date(2026, 12, 31),
        date(2027, 1, 2),
        date(2026, 12, 30),
        date(2027, 1, 4),
    ]
    numbers = {n.letter_id: (n.scope, n.serial, n.letter_date) for n in await issued(office)}
    assert numbers[b.id] == ("2027", 1, date(2027, 1, 2))
    assert await counters(office) == {"2026": 2, "2027": 2}
    assert await letters.preview_number(office, "500.16", letter_date=date(2027, 3, 1)) == "500.16/3/DPMPTSP/2027"


async def test_the_year_of_the_default_date_is_the_office_year_not_utc(office: Office, clock: FakeClock) -> None:
    """At 00:30 WIB on 1 January 2027 it is still 2026 in UTC: the number belongs to 2027."""
    p = await people(office)
    late, early = await letters_at(office, p, "penomoran", 2)

    clock.now = datetime(2026, 12, 31, 23, 59, tzinfo=WIB)
    late = await letters.assign_number(office, late.id, p.clerk)
    clock.now = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)  # 2027-01-01 00:30 WIB
    early = await letters.assign_number(office, early.id, p.clerk)

    assert (late.nomor, late.letter_date) == ("500.16/1/DPMPTSP/2026", date(2026, 12, 31))
    assert (early.nomor, early.letter_date) == ("500.16/1/DPMPTSP/2027", date(2027, 1, 1))
    assert await counters(office) == {"2026": 1, "2027": 1}


# --- cancelled numbers -------------------------------------------------------------------------------------


async def test_a_cancelled_number_is_recorded_and_never_reused(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    first = await letter_at(office, p, "tanda_tangan")
    assert first.nomor == "500.16/1/DPMPTSP/2026"

    clock.advance(minutes=7)
    cancelled = await letters.cancel(office, first.id, p.kepala, "  Acara ditunda.  ")
    assert (cancelled.state, cancelled.holder_id, cancelled.nomor) == ("dibatalkan", None, "500.16/1/DPMPTSP/2026")
    # A cancelled letter is final: it cannot be numbered (or anything else) again, and burns no serial.
    with pytest.raises(Refusal) as refusal:
        await letters.assign_number(office, first.id, p.clerk)
    assert refusal.value.code == "surat_selesai"

    second = await letter_at(office, p, "tanda_tangan")
    assert second.nomor == "500.16/2/DPMPTSP/2026"
    numbers = {n.nomor: n for n in await issued(office)}
    assert {k: (n.letter_id, n.serial, n.status) for k, n in numbers.items()} == {
        "500.16/1/DPMPTSP/2026": (first.id, 1, "dibatalkan"),
        "500.16/2/DPMPTSP/2026": (second.id, 2, "aktif"),
    }
    gone = numbers["500.16/1/DPMPTSP/2026"]
    assert (gone.cancelled_at, gone.cancel_note) == (clock.now, "Acara ditunda.")
    assert await counters(office) == {"2026": 2}


async def test_a_number_cancelled_while_returned_for_revision_is_kept_as_cancelled(office: Office) -> None:
    """Kepala Dinas returns a numbered letter; the admin cancels it during the revision; the next letter moves on."""
    p = await people(office)
    first = await letter_at(office, p, "tanda_tangan")
    await letters.return_letter(office, first.id, p.kepala, "Tidak jadi dikirim.")
    await letters.cancel(office, first.id, p.clerk, "Dibatalkan atas arahan Kepala Dinas.")  # the clerk is admin

    second = await letter_at(office, p, "tanda_tangan")
    numbers = await issued(office)
    assert [(n.letter_id, n.serial, n.status) for n in numbers] == [
        (first.id, 1, "dibatalkan"),
        (second.id, 2, "aktif"),
    ]
    assert second.nomor == "500.16/2/DPMPTSP/2026"


async def test_numbering_and_cancelling_at_once_never_share_a_serial(office: Office) -> None:
    """Cancellations racing with numberings: every serial is given once, and the cancelled stay cancelled."""
    p = await people(office)
    numbered = await letters_at(office, p, "tanda_tangan", 5)
    waiting = await letters_at(office, p, "penomoran", 5)

    done, refused = await gather_outcomes(
        [letters.cancel(office, letter.id, p.kepala, "Batal.") for letter in numbered]
        + [letters.assign_number(office, letter.id, p.clerk) for letter in waiting]
    )

    assert not refused and len(done) == 10
    numbers = await issued(office)
    assert sorted(n.serial for n in numbers) == list(range(1, 11))
    status = {n.letter_id: n.status for n in numbers}
    assert all(status[letter.id] == "dibatalkan" for letter in numbered)
    assert all(status[letter.id] == "aktif" for letter in waiting)
    assert await counters(office) == {"2026": 10}


# --- regressions: bugs these tests found (now fixed) ----------------------------------------------------------------------------------------------------


async def test_a_returned_numbered_letter_resubmitted_to_the_start_can_be_signed_again(office: Office) -> None:
    p = await people(office)
    start = dataclasses.replace(office, sop=dataclasses.replace(office.sop, resubmit_to="start"))
    letter = await letter_at(start, p, "tanda_tangan")
    await letters.return_letter(start, letter.id, p.kepala, "Perbaiki isi surat.")
    letter = await letters.resubmit(start, letter.id, p.drafter, pdf(2))
    assert letter.state == "verifikasi_1"  # sop.resubmit_to = "start"
    await letters.approve(start, letter.id, p.kasi)
    letter = await letters.approve(start, letter.id, p.kabid)
    assert letter.state == "penomoran"

    letter = await letters.assign_number(start, letter.id, p.clerk)  # keeps its number

    assert (letter.state, letter.holder_id) == ("tanda_tangan", p.kepala)
    numbers = await issued(office)
    # Either the letter keeps its number or the old one is recorded as cancelled: never two active numbers.
    assert [n.nomor for n in numbers if n.status == "aktif"] == [letter.nomor]
    assert all(n.status == "dibatalkan" for n in numbers if n.nomor != letter.nomor)


async def test_a_format_without_the_year_restarts_the_serial_in_a_new_year(office: Office, clock: FakeClock) -> None:
    yearless = dataclasses.replace(
        office, sop=dataclasses.replace(office.sop, numbering=NumberingRule("{klasifikasi}/{urut}/{unit}", "DPMPTSP"))
    )
    p = await people(office)
    old, new = await letters_at(yearless, p, "penomoran", 2)
    clock.now = datetime(2027, 1, 2, 9, 0, tzinfo=WIB)
    old = await letters.assign_number(yearless, old.id, p.clerk, letter_date=date(2026, 12, 31))
    assert old.nomor == "500.16/1/DPMPTSP"

    new = await letters.assign_number(yearless, new.id, p.clerk, letter_date=date(2027, 1, 2))

    assert (new.nomor, new.letter_date) == ("500.16/1/DPMPTSP", date(2027, 1, 2))
    assert await counters(office) == {"2026": 1, "2027": 1}


def test_the_default_format_is_the_one_these_tests_expect(sop: Sop) -> None:
    """The numbers above are written out for the shipped format."""
    rule = sop.numbering
    assert rule.render(klasifikasi="500.16", serial=7, letter_date=date(2027, 1, 2)) == "500.16/7/DPMPTSP/2027"
    assert META.klasifikasi == "500.16"
