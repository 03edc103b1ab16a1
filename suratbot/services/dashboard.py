"""The office's queue for the dashboard: every open letter, its step, its holder and its time against the SOP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import aliased

from suratbot.services.office import Office
from suratbot.storage.models import Letter, Staff
from suratbot.workflow.letter import SECRET_SIFAT


@dataclass(frozen=True)
class QueueRow:
    letter_id: str
    title: str  # the subject, or "(RAHASIA)" / "(SANGAT RAHASIA)" for a secret letter
    nomor: str | None
    state: str
    step: str
    holder: str
    drafter: str
    waiting_minutes: float  # working minutes in this step so far
    standard_minutes: int | None
    late: bool


@dataclass(frozen=True)
class StepCount:
    step: str
    letters: int
    late: int


async def queue(office: Office, *, now: datetime | None = None) -> tuple[list[QueueRow], list[StepCount]]:
    """The open letters, the late ones first (the latest first), then by time waiting; and the count per step
    in the SOP's order."""
    now = now or office.now()
    sop = office.sop
    open_states = [key for key, state in sop.states.items() if not state.final]
    holder, drafter = aliased(Staff), aliased(Staff)
    async with office.reading() as uow:
        rows = (
            await uow.session.execute(
                select(Letter, holder.nama, drafter.nama)
                .outerjoin(holder, holder.id == Letter.holder_id)
                .outerjoin(drafter, drafter.id == Letter.drafter_id)
                .where(Letter.state.in_(open_states))
            )
        ).all()
    out = []
    for letter, holder_name, drafter_name in rows:
        state = sop.states[letter.state]
        waited = sop.calendar.working_minutes_between(letter.step_started_at, now) if letter.step_started_at else 0.0
        late = letter.step_due_at is not None and now > letter.step_due_at
        out.append(
            QueueRow(
                letter_id=letter.id,
                title=f"({letter.sifat.upper()})" if letter.sifat in SECRET_SIFAT else letter.perihal,
                nomor=letter.nomor,
                state=letter.state,
                step=state.name,
                holder=holder_name or "-",
                drafter=drafter_name or "-",
                waiting_minutes=waited,
                standard_minutes=state.standard_minutes,
                late=late,
            )
        )
    out.sort(key=lambda r: (not r.late, -(r.waiting_minutes - (r.standard_minutes or 0)), r.letter_id))
    counts = []
    for key in open_states:
        mine = [r for r in out if r.state == key]
        counts.append(StepCount(sop.states[key].name, len(mine), sum(r.late for r in mine)))
    return out, counts
