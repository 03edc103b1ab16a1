"""The SOP's clock: a late step's holder is reminded, and past a second threshold their superior is told.

The database is the source of truth. A sweep looks at the letters whose step is past its standard time (in
office hours, as the SOP's calendar counts them), works out which reminder each should have had by now, and
claims it by inserting a `Reminder` row whose unique key names the letter, the step, the kind and the n-th
reminder; the notification is queued in the same transaction, only when the insert landed. So a reminder is
sent once however many processes sweep, a step that moved on sends none (the letter is re-read under the
claim), and a reminder that fell due while the bot was down is sent once at the next sweep (the latest one
due, not every one missed). Outside office hours nothing is sent: what fell due overnight goes out at the
start of the next working period.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services.letters import resolve_holder
from suratbot.services.notices import Notice, letter_heading, local_time, outbox_values, person
from suratbot.services.office import Office
from suratbot.services.stand_ins import stand_in_for
from suratbot.storage.db import insert_or_skip
from suratbot.storage.models import Letter, OutboxMessage, Reminder, Staff
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop, State

log = logging.getLogger(__name__)

REMIND = "pengingat"  # to the holder
ESCALATE = "eskalasi"  # to the holder's superior
BATCH = 500  # reminders claimed per transaction
PER_SWEEP = 2000  # reminders claimed per sweep at most
SAFETY_NET = timedelta(minutes=5)  # the longest the scheduler sleeps (letters another process created)


@dataclass(frozen=True)
class SweepResult:
    reminded: int = 0
    escalated: int = 0
    more: bool = False  # the sweep stopped at its limit: more is due (the next sweep comes right after)

    def __add__(self, other: SweepResult) -> SweepResult:
        """Two sweeps in a row: their counts added; `more` is the later one's."""
        return SweepResult(self.reminded + other.reminded, self.escalated + other.escalated, other.more)


@dataclass(frozen=True)
class _Due:
    """A reminder a letter's step should have had by now."""

    letter_id: str
    state: str
    step_started_at: datetime
    kind: str
    seq: int
    late_minutes: int


async def sweep(office: Office, now: datetime | None = None, *, limit: int = PER_SWEEP) -> SweepResult:
    """Queue the reminders and escalations due at `now` not sent yet, the oldest first, at most `limit` (the
    rest is left for the next sweep, so a backlog after a long outage does not hold the bot for seconds)."""
    now = now or office.now()
    sop = office.sop
    if not sop.calendar.is_working_time(now):
        return SweepResult()
    due = await _due(office, now)
    more = len(due) > limit
    due = due[:limit]
    result = SweepResult()
    superiors: dict[tuple[object, ...], Staff | None] = {}  # who hears of a late step, resolved once per sweep
    for i in range(0, len(due), BATCH):
        result += await _claim(office, due[i : i + BATCH], now, superiors)
    return SweepResult(result.reminded, result.escalated, more)


async def next_sweep_at(office: Office, now: datetime | None = None, *, swept: bool = False) -> datetime:
    """When the next reminder or escalation falls due (at the latest SAFETY_NET from now), in office hours.
    `swept`: a sweep that did not stop at its limit has just claimed everything due, so that is not looked
    for again."""
    now = now or office.now()
    sop = office.sop
    if not swept and await _due(office, now):  # fell due and not sent (the bot was down, say): now
        return sop.calendar.next_working_moment(now)
    horizon = now + SAFETY_NET
    soonest = horizon
    async with office.reading() as uow:
        session = uow.session
        future_due = await session.scalar(
            select(Letter.step_due_at).where(_open(sop), Letter.step_due_at > now).order_by(Letter.step_due_at).limit(1)
        )
        future_escalation = await session.scalar(
            select(Letter.step_escalate_at)
            .where(_open(sop), Letter.step_escalate_at > now)
            .order_by(Letter.step_escalate_at)
            .limit(1)
        )
        late = (
            await session.execute(
                select(Letter.id, Letter.step_due_at)
                .where(_open(sop), Letter.step_due_at <= now)
                .order_by(Letter.step_due_at)
            )
        ).all()
    for moment in (future_due, future_escalation):
        if moment is not None and moment < soonest:
            soonest = moment
    repeat = sop.reminders.repeat_minutes
    for _, due_at in late:  # the next repeat of each late step's reminder
        late_minutes = sop.calendar.working_minutes_between(due_at, now)
        following = sop.calendar.add_working_minutes(due_at, (math.floor(late_minutes / repeat) + 1) * repeat)
        if following < soonest:
            soonest = following
            if soonest <= now:
                break
    return max(sop.calendar.next_working_moment(max(soonest, now)), now)


def _open(sop: Sop) -> ColumnElement[bool]:
    """Letters in a step that has a standard time and a holder (a final state has neither)."""
    timed = [key for key, state in sop.states.items() if state.standard_minutes and not state.final]
    return Letter.state.in_(timed) & Letter.holder_id.is_not(None) & Letter.step_due_at.is_not(None)


async def _due(office: Office, now: datetime) -> list[_Due]:
    sop = office.sop
    repeat = sop.reminders.repeat_minutes
    async with office.reading() as uow:
        session = uow.session
        rows = (
            await session.execute(
                select(Letter.id, Letter.state, Letter.step_started_at, Letter.step_due_at, Letter.step_escalate_at)
                .where(_open(sop), Letter.step_due_at <= now)
                .order_by(Letter.step_due_at, Letter.id)
            )
        ).all()
        if not rows:
            return []
        sent = await _sent(session, sop, now)
    due: list[_Due] = []
    for letter_id, state, started, due_at, escalate_at in rows:
        late = sop.calendar.working_minutes_between(due_at, now)
        seq = math.floor(late / repeat) + 1  # the first at the standard time, then one every `repeat` minutes
        if sent.get((letter_id, started, REMIND), 0) < seq:
            due.append(_Due(letter_id, state, started, REMIND, seq, int(late)))
        escalates = bool(sop.states[state].escalate_to)  # a state nobody is told about has no escalation
        if escalates and escalate_at is not None and escalate_at <= now and (letter_id, started, ESCALATE) not in sent:
            due.append(_Due(letter_id, state, started, ESCALATE, 1, int(late)))
    return due


async def _sent(session: AsyncSession, sop: Sop, now: datetime) -> dict[tuple[str, datetime, str], int]:
    """The highest reminder number already claimed per (letter, step, kind), for the late steps now open."""
    rows = await session.execute(
        select(Reminder.letter_id, Reminder.step_started_at, Reminder.kind, func.max(Reminder.seq))
        .join(Letter, (Letter.id == Reminder.letter_id) & (Letter.step_started_at == Reminder.step_started_at))
        .where(_open(sop), Letter.step_due_at <= now)
        .group_by(Reminder.letter_id, Reminder.step_started_at, Reminder.kind)
    )
    return {(letter_id, started, kind): seq for letter_id, started, kind, seq in rows}


async def _claim(
    office: Office, due: Sequence[_Due], now: datetime, superiors: dict[tuple[object, ...], Staff | None]
) -> SweepResult:
    """Claim `due` in one transaction and queue the notifications of the claims that landed."""
    sop = office.sop
    reminded = escalated = 0
    async with office.uow() as uow:
        session = uow.session
        letters = {
            letter.id: letter
            for letter in (await session.scalars(select(Letter).where(Letter.id.in_({d.letter_id for d in due})))).all()
        }
        still = [  # the step has not moved on since the read (re-read inside the claiming transaction)
            d
            for d in due
            if (letter := letters.get(d.letter_id)) is not None
            and letter.state == d.state
            and letter.step_started_at == d.step_started_at
            and letter.holder_id is not None
        ]
        holders = await _staff(session, {letters[d.letter_id].holder_id for d in still})  # type: ignore[misc]
        claims = []
        for d in still:
            letter = letters[d.letter_id]
            holder = holders[letter.holder_id]  # type: ignore[index]
            if d.kind == REMIND:
                recipient = holder
            else:  # the superior depends on the step, the letter's unit and drafter, and who is late
                key = (letter.state, letter.unit_id, letter.drafter_id, holder.id)
                if key not in superiors:
                    superiors[key] = await _superior(session, sop, letter, holder, now)
                recipient = superiors[key]
            # Nobody to tell (the only superiors are the late holder themselves, e.g. as Plh): the escalation
            # is still claimed, addressed to no one, so it is settled and not looked for again every sweep.
            claims.append((d, letter, holder, recipient))
        if not claims:
            return SweepResult()
        landed = await _insert_claims(session, claims, now)
        rows = []
        for d, letter, holder, recipient in claims:
            if (d.letter_id, d.kind, d.seq) not in landed:
                continue  # another process claimed it first: it sends it
            state = sop.states[letter.state]
            if d.kind == REMIND:
                notice = reminder_notice(sop, letter, state, holder, d.late_minutes, d.seq)
                reminded += 1
            elif recipient is not None:
                notice = escalation_notice(sop, letter, state, holder, recipient, d.late_minutes)
                escalated += 1
            else:
                log.info("letter %s late at %s: nobody to escalate to but its holder", letter.id, letter.state)
                continue
            rows.append(outbox_values(notice, letter.id, now))
        if rows:
            await session.execute(insert(OutboxMessage.__table__), rows)  # Core executemany: no ORM per row
    return SweepResult(reminded, escalated)


async def _staff(session: AsyncSession, ids: Iterable[int]) -> dict[int, Staff]:
    ids = set(ids)
    if not ids:
        return {}
    return {s.id: s for s in (await session.scalars(select(Staff).where(Staff.id.in_(ids)))).all()}


async def _superior(session: AsyncSession, sop: Sop, letter: Letter, holder: Staff, now: datetime) -> Staff | None:
    """The first of the state's `escalate_to` (or whoever stands in for them now) who is someone else than the
    late holder, and active."""
    for spec in sop.states[letter.state].escalate_to:
        try:
            candidate = await stand_in_for(session, await resolve_holder(session, sop, spec, letter), now)
        except Refusal:  # nobody in that position (yet): try the next
            continue
        if candidate.id != holder.id and candidate.active:
            return candidate
    return None


async def _insert_claims(
    session: AsyncSession, claims: Sequence[tuple[_Due, Letter, Staff, Staff | None]], now: datetime
) -> set[tuple[str, str, int]]:
    """INSERT the claims, skipping any another process made first; returns the ones this one made."""
    values = [
        {
            "letter_id": d.letter_id,
            "step_started_at": d.step_started_at,
            "state": d.state,
            "kind": d.kind,
            "seq": d.seq,
            "holder_id": holder.id,
            "recipient_id": recipient.id if recipient is not None else None,
            "late_minutes": d.late_minutes,
            "created_at": now,
        }
        for d, _, holder, recipient in claims
    ]
    table = Reminder.__table__
    statement = (
        insert_or_skip(session, table)
        .on_conflict_do_nothing(index_elements=["letter_id", "step_started_at", "kind", "seq"])
        .returning(table.c.letter_id, table.c.kind, table.c.seq)
    )  # one statement, compiled once, run for all the rows (executemany with RETURNING)
    return {tuple(row) for row in (await session.execute(statement, values)).all()}  # type: ignore[misc]


# --- what people read ----------------------------------------------------------------------------------------

WARNINGS = {  # the SOP's three warnings (Peringatan), by what is late
    "konsep": "Konsep yang terlambat memperlambat seluruh proses surat keluar.",
    "revisi": "Revisi yang lambat menghambat pendistribusian surat ke OPD / instansi lain.",
    "tertahan": "Surat yang tertahan di tahap ini terlambat sampai ke OPD / instansi tujuan.",
    "kirim": "Pendistribusian yang lambat membuat surat terlambat sampai ke tujuan.",
}


def late_text(minutes: float) -> str:
    """`1 jam 5 menit`: working minutes as people say them."""
    minutes = max(int(minutes), 0)
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} jam {rest} menit"
    if hours:
        return f"{hours} jam"
    return f"{rest} menit"


def _warning(sop: Sop, letter: Letter, state: State) -> str:
    """The SOP's warning for what is late: step 1 is the concept (a revision when it came back), step 2 the
    numbering and signature, step 3 the distribution."""
    if state.holder is not None and state.holder.kind == "drafter":
        return WARNINGS["revisi"] if letter.return_state else WARNINGS["konsep"]
    if state.sop_step is not None and state.sop_step >= 3:
        return WARNINGS["kirim"]
    if state.sop_step == 2:
        return WARNINGS["tertahan"]
    return WARNINGS["konsep"]


def reminder_notice(sop: Sop, letter: Letter, state: State, holder: Staff, late: float, seq: int) -> Notice:
    """The holder's reminder: which letter, how late, and the buttons of the step as in the first notice."""
    actions = sop.holder_actions(letter.state)
    again = "" if seq == 1 else f" (pengingat ke-{seq})"
    lines = [
        f"\u23f0 Pengingat{again}: {letter_heading(letter)} menunggu Anda di tahap {state.name} "
        f"sejak {local_time(sop, letter.step_started_at)}.",
        f"Standar waktu SOP ({state.standard_minutes} menit jam kerja) sudah habis."
        if late < 1
        else f"Sudah lewat {late_text(late)} dari standar waktu SOP ({state.standard_minutes} menit jam kerja).",
        _warning(sop, letter, state),
    ]
    return Notice(
        recipient_id=holder.id,
        kind=REMIND,
        text="\n".join(lines),
        actions=actions,
        expected_state=letter.state,
    )


def escalation_notice(sop: Sop, letter: Letter, state: State, holder: Staff, superior: Staff, late: float) -> Notice:
    """The superior's notice: who holds the letter, at which step, how late (no buttons: it is not theirs)."""
    lines = [
        f"\u26a0\ufe0f Eskalasi: {letter_heading(letter)} tertahan di tahap {state.name} pada {person(holder)} "
        f"sejak {local_time(sop, letter.step_started_at)}.",
        f"Terlambat {late_text(late)} dari standar waktu SOP ({state.standard_minutes} menit jam kerja); "
        f"pengingat sudah dikirim kepadanya.",
        _warning(sop, letter, state),
    ]
    # expected_state: the outbox drops it unsent if the letter has moved on by the time it would go out
    return Notice(recipient_id=superior.id, kind=ESCALATE, text="\n".join(lines), expected_state=letter.state)
