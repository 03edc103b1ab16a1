"""The daily digest: on a working day at the SOP's digest time, each person with waiting letters gets one message.

The message says how many letters wait, which is the oldest, and carries one button per letter to open it.
Kepala Dinas and the Sekretaris also get the office view: the letters past their standard time, per step and
per person. The day is claimed in the database (`DigestRun`) in the transaction that queues the messages, so
the digest goes out once a day however many processes run or restart; one that was missed while the bot was
down goes out when it is back, the same working day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services.notices import Notice, letter_heading, local_time, outbox_row
from suratbot.services.office import Office
from suratbot.storage.db import insert_or_skip
from suratbot.storage.models import DigestRun, Letter, Staff, StaffRole
from suratbot.workflow.sop import Sop

OFFICE_VIEW_ROLES = ("kepala", "sekretaris")
MAX_BUTTONS = 10
OPEN = "buka"  # the button verb that opens a letter (suratbot.handlers.buttons.OPEN)
DIGEST = "ringkasan"


def digest_moment(sop: Sop, day: date) -> datetime:
    return datetime.combine(day, sop.reminders.digest_at, tzinfo=sop.calendar.timezone)


def due_day(sop: Sop, now: datetime) -> date | None:
    """Today (office time) if it is a working day, its digest time has come and the office has not closed (a
    digest missed while the bot was down goes out when it is back, but nobody gets it at night)."""
    today = now.astimezone(sop.calendar.timezone).date()
    closing = sop.calendar.closing_time(today)
    if closing is None or now < digest_moment(sop, today) or now >= closing:
        return None
    return today


def next_digest_at(sop: Sop, now: datetime) -> datetime:
    """The next digest time on a working day after `now`."""
    day = now.astimezone(sop.calendar.timezone).date()
    for _ in range(400):
        moment = digest_moment(sop, day)
        if moment > now and sop.calendar.is_working_day(day):
            return moment
        day += timedelta(days=1)
    raise ValueError("no working day within 400 days")  # pragma: no cover - the calendar refuses such a year


async def send_if_due(office: Office, now: datetime | None = None) -> int:
    """Queue today's digest if it is due and nobody sent it yet; returns the number of messages queued."""
    now = now or office.now()
    sop = office.sop
    day = due_day(sop, now)
    if day is None:
        return 0
    async with office.uow() as uow:
        session = uow.session
        claimed = await session.scalar(
            insert_or_skip(session, DigestRun)
            .values(day=day, created_at=now, messages=0)
            .on_conflict_do_nothing(index_elements=["day"])
            .returning(DigestRun.day)
        )
        if claimed is None:
            return 0  # sent already today (by this process before a restart, or by another)
        notices = await build(office, session, now)
        for notice in notices:
            session.add(outbox_row(notice, None, now))
        run = await session.get_one(DigestRun, day)
        run.messages = len(notices)
        return len(notices)


async def build(office: Office, session: AsyncSession, now: datetime) -> list[Notice]:
    """Every digest message due `now`: one per person with waiting letters, the office view for its readers."""
    sop = office.sop
    open_states = [key for key, state in sop.states.items() if not state.final]
    waiting = (
        await session.scalars(
            select(Letter)
            .where(Letter.state.in_(open_states), Letter.holder_id.is_not(None))
            .order_by(Letter.step_started_at, Letter.id)
        )
    ).all()
    by_holder: dict[int, list[Letter]] = defaultdict(list)
    for letter in waiting:
        by_holder[letter.holder_id].append(letter)  # type: ignore[index]
    readers = set(
        (
            await session.scalars(
                select(Staff.id)
                .join(StaffRole, StaffRole.staff_id == Staff.id)
                .where(StaffRole.role.in_(OFFICE_VIEW_ROLES), Staff.active.is_(True))
            )
        ).all()
    )
    people_ids = set(by_holder) | readers
    people = {s.id: s for s in (await session.scalars(select(Staff).where(Staff.id.in_(people_ids)))).all()}
    late = [letter for letter in waiting if letter.step_due_at is not None and letter.step_due_at <= now]
    notices = []
    for staff_id in sorted(people_ids):
        staff = people.get(staff_id)
        if staff is None or not staff.active:
            continue
        mine = by_holder.get(staff_id, [])
        parts = [_personal(sop, mine, now)] if mine else []
        if staff_id in readers:
            parts.append(_office_view(sop, late, waiting, people))
        if not parts:
            continue
        # one button per letter, opening it (the row names no single letter: its actions carry the ids)
        actions = [f"{OPEN}:{letter.id}" for letter in mine[:MAX_BUTTONS]]
        notices.append(Notice(recipient_id=staff_id, kind=DIGEST, text="\n\n".join(parts), actions=actions))
    return notices


def _personal(sop: Sop, mine: list[Letter], now: datetime) -> str:
    oldest = mine[0]
    state = sop.states[oldest.state]
    overdue = sum(1 for letter in mine if letter.step_due_at is not None and letter.step_due_at <= now)
    greeting = "Selamat pagi" if now.astimezone(sop.calendar.timezone).hour < 11 else "Ringkasan hari ini"
    lines = [
        f"\u2600\ufe0f {greeting}. {len(mine)} surat menunggu Anda"
        + (f", {overdue} di antaranya melewati standar waktu SOP." if overdue else "."),
        f"Yang terlama: {letter_heading(oldest)}, tahap {state.name}, sejak {local_time(sop, oldest.step_started_at)}.",
    ]
    shown = mine[:MAX_BUTTONS]
    for i, letter in enumerate(shown, 1):
        lines.append(f"{i}. {letter_heading(letter)} \u2014 {sop.states[letter.state].name}")
    if len(mine) > len(shown):
        lines.append(f"... dan {len(mine) - len(shown)} lagi: ketik /antrian.")
    lines.append("Tekan nomornya untuk membuka surat.")
    return "\n".join(lines)


def _office_view(sop: Sop, late: list[Letter], waiting: list[Letter], people: dict[int, Staff]) -> str:
    if not waiting:
        return "\U0001f3e2 Ringkasan kantor: tidak ada surat yang sedang berjalan."
    if not late:
        return f"\U0001f3e2 Ringkasan kantor: {len(waiting)} surat berjalan, tidak ada yang terlambat. \U0001f44d"
    per_step = Counter(letter.state for letter in late)
    per_person = Counter(letter.holder_id for letter in late)
    lines = [f"\U0001f3e2 Ringkasan kantor: {len(late)} dari {len(waiting)} surat berjalan melewati standar waktu SOP."]
    lines.append("Per tahap:")
    for key in sop.states:
        if per_step[key]:
            lines.append(f"\u2022 {sop.states[key].name}: {per_step[key]}")
    lines.append("Per orang:")
    for holder_id, count in per_person.most_common():
        staff = people.get(holder_id or 0)
        oldest = min((x for x in late if x.holder_id == holder_id), key=lambda x: x.step_due_at or x.step_started_at)
        assert oldest.step_due_at is not None
        who = f"{staff.nama} ({staff.jabatan})" if staff else "-"
        lines.append(f"\u2022 {who}: {count} (terlama lewat sejak {local_time(sop, oldest.step_due_at)})")
    return "\n".join(lines)
