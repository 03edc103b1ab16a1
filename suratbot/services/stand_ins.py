"""Stand-ins (Plh / Plt): while an official is away, another acts for them, and their letters follow.

A period is named by the official (`/plh` in chat) or by the admin (`suratbot plh`). When it starts, the
letters waiting on the official go to the stand-in (each recorded as `alihkan`, and the stand-in gets the
task), and every new step the official would hold goes to the stand-in too (`resolve_holder` asks
`stand_in_for`). The audit log records what the stand-in does as "X as Plh of Y" (`on_behalf_of_id`), a
signature carries "Plh. <the official's position>", and reminders and escalations follow the holder. When the
period ends (its date, or early), the letters the stand-in still holds for the official go back. Both are
told when it starts and when it ends. Starts and ends that fall due are applied by the reminders' timer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services.notices import indonesian_date, local_time, outbox_row, person, plain_notice, task_notice
from suratbot.services.office import Office
from suratbot.storage.models import AuditEvent, Letter, Staff, StandIn
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop

TITLES = ("Plh", "Plt")
LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class Period:
    """A stand-in period as people read it."""

    id: int
    title: str
    official: Staff
    stand_in: Staff
    starts_at: datetime
    ends_at: datetime
    active: bool


def parse_until(text: str, today: date) -> date:
    """`31-12-2026`, `31/12/2026` or `2026-12-31`: the last day of the period; Refusal (Indonesian) otherwise."""
    text = text.strip()
    for pattern, order in ((r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", "dmy"), (r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd")):
        match = re.fullmatch(pattern, text)
        if match:
            a, b, c = (int(g) for g in match.groups())
            try:
                day = date(c, b, a) if order == "dmy" else date(a, b, c)
            except ValueError:
                break
            if day < today:
                raise Refusal("plh_tanggal_lewat", f"Tanggal {indonesian_date(day)} sudah lewat.")
            return day
    raise Refusal("plh_tanggal", f"Tanggal {text!r} tidak dikenali. Tulis seperti 31-12-2026.")


async def find_staff(office: Office, query: str) -> Staff:
    """The one active person whose NIP is `query`, or whose name has a word starting with each word of `query`
    (`Lina`, `rina marl`); Refusal listing the candidates when several match, or saying none does."""
    query = " ".join(query.split())
    words = [w.lower() for w in query.split()]
    if not words or len(query) < 3:
        raise Refusal("plh_tidak_ditemukan", "Tulis nama (paling sedikit 3 huruf) atau NIP penggantinya.")
    async with office.reading() as uow:
        by_nip = await uow.session.scalar(select(Staff).where(Staff.nip == query.replace(" ", "")))
        if by_nip is not None and by_nip.active:
            return by_nip
        active = (await uow.session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.nama))).all()
    found = [s for s in active if _name_matches(s.nama, words)]
    if len(found) == 1:
        return found[0]
    if not found:
        raise Refusal("plh_tidak_ditemukan", f"Tidak ada pegawai aktif bernama atau ber-NIP {query!r}.")
    names = "\n".join(f"- {s.nama} ({s.jabatan}), NIP {s.nip}" for s in found[:10])
    raise Refusal("plh_ambigu", f"Ada {len(found)} pegawai yang cocok dengan {query!r}; tulis NIP-nya:\n{names}")


def _name_matches(name: str, words: list[str]) -> bool:
    parts = re.findall(r"\w+", name.lower())
    return all(any(part.startswith(word) for part in parts) for word in words)


def _day_start(sop: Sop, day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=sop.calendar.timezone)


async def appoint(
    office: Office,
    official_id: int,
    stand_in_id: int,
    *,
    until: date,
    starts: date | None = None,
    title: str = "Plh",
    by: int | None,
    now: datetime | None = None,
) -> Period:
    """Name a stand-in for `official_id` from `starts` (default: now) to the end of `until`; started at once
    when it begins now. Refusal (Indonesian) for the same person, someone inactive, a stand-in who is away
    themselves, an overlapping period, or a period too long."""
    now = now or office.now()
    sop = office.sop
    if title not in TITLES:
        raise Refusal("plh_jenis", "Jenisnya Plh atau Plt.")
    starts_at = now if starts is None else max(now, _day_start(sop, starts))
    ends_at = _day_start(sop, until + timedelta(days=1))
    if ends_at <= starts_at:
        raise Refusal("plh_tanggal", "Tanggal berakhirnya harus sesudah tanggal mulainya.")
    if ends_at - starts_at > LONGEST:
        raise Refusal("plh_terlalu_lama", "Masa Plh/Plt paling lama satu tahun; perpanjang sesudahnya bila perlu.")
    async with office.uow() as uow:
        session = uow.session
        official = await session.get(Staff, official_id)
        stand_in = await session.get(Staff, stand_in_id)
        if official is None or stand_in is None or not official.active or not stand_in.active:
            raise Refusal("plh_tidak_aktif", "Pejabat dan penggantinya harus pegawai aktif.")
        if official.id == stand_in.id:
            raise Refusal("plh_diri_sendiri", "Pengganti (Plh) harus orang lain.")
        overlapping = await session.scalar(
            select(StandIn.id).where(
                StandIn.ended_at.is_(None),
                StandIn.starts_at < ends_at,
                StandIn.ends_at > starts_at,
                or_(
                    StandIn.official_id.in_([official.id, stand_in.id]),
                    StandIn.stand_in_id == official.id,
                ),
            )
        )
        if overlapping is not None:
            raise Refusal(
                "plh_bertumpuk",
                "Sudah ada masa Plh/Plt yang bertumpuk dengan ini (untuk pejabat ini, atau penggantinya sendiri "
                "sedang digantikan). Akhiri dulu yang lama dengan /plh selesai.",
            )
        period = StandIn(
            official_id=official.id,
            stand_in_id=stand_in.id,
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            created_by_id=by,
            created_at=now,
        )
        session.add(period)
        await session.flush()
        if starts_at <= now:
            await _start(session, sop, period, official, stand_in, now)
        else:
            text = (
                f"\U0001f4c5 {person(stand_in)} akan menjadi {title} {official.jabatan} mulai "
                f"{local_time(sop, starts_at)} sampai {indonesian_date(until)}."
            )
            for who in (official, stand_in):
                session.add(outbox_row(plain_notice(who, "plh", text), None, now))
        return Period(period.id, title, official, stand_in, starts_at, ends_at, starts_at <= now)


async def end_early(office: Office, staff_id: int, *, now: datetime | None = None) -> Period:
    """End now the current (or next) period of the official `staff_id`, or else the one in which `staff_id`
    is the stand-in; Refusal when there is none."""
    now = now or office.now()
    async with office.uow() as uow:
        session = uow.session
        period = None
        for column in (StandIn.official_id, StandIn.stand_in_id):
            period = await session.scalar(
                select(StandIn)
                .where(column == staff_id, StandIn.ended_at.is_(None))
                .order_by(StandIn.starts_at)
                .limit(1)
            )
            if period is not None:
                break
        if period is None:
            raise Refusal("plh_tidak_ada", "Tidak ada masa Plh/Plt yang berjalan atau akan datang.")
        official = await session.get_one(Staff, period.official_id)
        stand_in = await session.get_one(Staff, period.stand_in_id)
        await _end(session, office.sop, period, official, stand_in, now)
        return Period(period.id, period.title, official, stand_in, period.starts_at, now, False)


async def periods(office: Office, *, now: datetime | None = None) -> list[Period]:
    """Periods running or still to come, soonest first."""
    now = now or office.now()
    async with office.reading() as uow:
        session = uow.session
        rows = (
            await session.scalars(
                select(StandIn).where(StandIn.ended_at.is_(None), StandIn.ends_at > now).order_by(StandIn.starts_at)
            )
        ).all()
        out = []
        for row in rows:
            official = await session.get_one(Staff, row.official_id)
            stand_in = await session.get_one(Staff, row.stand_in_id)
            out.append(
                Period(row.id, row.title, official, stand_in, row.starts_at, row.ends_at, row.started_at is not None)
            )
        return out


async def apply_due(office: Office, now: datetime | None = None) -> int:
    """Start the periods whose time came and end those whose time is over; returns how many changed."""
    now = now or office.now()
    changed = 0
    async with office.uow() as uow:
        session = uow.session
        due = (
            await session.scalars(
                select(StandIn)
                .where(
                    StandIn.ended_at.is_(None),
                    or_(StandIn.ends_at <= now, (StandIn.started_at.is_(None)) & (StandIn.starts_at <= now)),
                )
                .order_by(StandIn.starts_at)
            )
        ).all()
        for period in due:
            official = await session.get_one(Staff, period.official_id)
            stand_in = await session.get_one(Staff, period.stand_in_id)
            if period.ends_at <= now or not (official.active and stand_in.active):
                # over, or one of them has left the roster meanwhile: the period ends (letters go back)
                changed += await _end(session, office.sop, period, official, stand_in, now)
            else:
                changed += await _start(session, office.sop, period, official, stand_in, now)
    return changed


async def next_change_at(office: Office, now: datetime) -> datetime | None:
    """When a period next starts or ends."""
    async with office.reading() as uow:
        starts = await uow.session.scalar(
            select(func.min(StandIn.starts_at)).where(StandIn.ended_at.is_(None), StandIn.started_at.is_(None))
        )
        ends = await uow.session.scalar(select(func.min(StandIn.ends_at)).where(StandIn.ended_at.is_(None)))
    moments = [m for m in (starts, ends) if m is not None]
    return min(moments) if moments else None


async def stand_in_for(session: AsyncSession, official: Staff, now: datetime) -> Staff:
    """Whoever acts for `official` at `now` (a started, running period with an active stand-in), else them."""
    stand_in_id = await session.scalar(
        select(StandIn.stand_in_id).where(
            StandIn.official_id == official.id,
            StandIn.started_at.is_not(None),
            StandIn.ended_at.is_(None),
            StandIn.starts_at <= now,
            StandIn.ends_at > now,
        )
    )
    if stand_in_id is None:
        return official
    stand_in = await session.get(Staff, stand_in_id)
    return stand_in if stand_in is not None and stand_in.active else official


async def acting_for(session: AsyncSession, sop: Sop, letter: Letter, actor_id: int, now: datetime) -> StandIn | None:
    """The running period in which `actor_id` holds `letter` for the official its step belongs to, if any."""
    from suratbot.services.letters import resolve_holder

    periods = (
        await session.scalars(
            select(StandIn).where(
                StandIn.stand_in_id == actor_id,
                StandIn.started_at.is_not(None),
                StandIn.ended_at.is_(None),
                StandIn.starts_at <= now,
                StandIn.ends_at > now,
            )
        )
    ).all()
    if not periods or letter.holder_id != actor_id:
        return None
    spec = sop.states[letter.state].holder
    if spec is None:
        return None
    try:
        own = await resolve_holder(session, sop, spec, letter)  # whose step it is, stand-ins aside
    except Refusal:
        return None
    return next((p for p in periods if p.official_id == own.id), None)


async def _start(
    session: AsyncSession, sop: Sop, period: StandIn, official: Staff, stand_in: Staff, now: datetime
) -> bool:
    """Start the period (claimed: of two processes only one starts it); False when someone else did."""
    claimed = await session.execute(
        update(StandIn)
        .where(StandIn.id == period.id, StandIn.started_at.is_(None), StandIn.ended_at.is_(None))
        .values(started_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    moved = await _move_letters(session, sop, official, stand_in, period, now, start=True)
    until = indonesian_date((period.ends_at - timedelta(seconds=1)).astimezone(sop.calendar.timezone).date())
    waiting = f" {moved} surat yang menunggu dialihkan kepadanya." if moved else ""
    session.add(
        outbox_row(
            plain_notice(
                stand_in,
                "plh",
                f"\U0001f4cc Anda menjadi {period.title} {official.jabatan} ({official.nama}) sampai {until}. "
                f"Surat untuk {official.nama} kini datang kepada Anda.{waiting}",
            ),
            None,
            now,
        )
    )
    session.add(
        outbox_row(
            plain_notice(
                official,
                "plh",
                f"\U0001f4cc {person(stand_in)} menjadi {period.title} Anda sampai {until}: surat untuk Anda "
                f"dialihkan kepadanya.{waiting}",
            ),
            None,
            now,
        )
    )
    return True


async def _end(
    session: AsyncSession, sop: Sop, period: StandIn, official: Staff, stand_in: Staff, now: datetime
) -> bool:
    """End the period (claimed, like the start): the letters the stand-in holds for the official go back."""
    was_started = period.started_at is not None
    claimed = await session.execute(
        update(StandIn).where(StandIn.id == period.id, StandIn.ended_at.is_(None)).values(ended_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    moved = await _move_letters(session, sop, official, stand_in, period, now, start=False) if was_started else 0
    back = f" {moved} surat yang belum selesai kembali kepada {official.nama}." if moved else ""
    why = ""
    if not stand_in.active:
        why = f" {stand_in.nama} tidak ada lagi di daftar pegawai aktif."
    elif not official.active:
        why = f" {official.nama} tidak ada lagi di daftar pegawai aktif."
    text = f"\u2705 Masa {period.title} {person(stand_in)} untuk {official.jabatan} berakhir.{why}{back}"
    for who in (official, stand_in):
        if who.active:
            session.add(outbox_row(plain_notice(who, "plh", text), None, now))
    return True


async def _move_letters(
    session: AsyncSession, sop: Sop, official: Staff, stand_in: Staff, period: StandIn, now: datetime, *, start: bool
) -> int:
    """Hand the official's waiting letters to the stand-in (start) or back (end); each recorded, each told."""
    from suratbot.services.letters import handover_event, pass_over, resolve_holder

    source, target = (official, stand_in) if start else (stand_in, official)
    open_states = [key for key, state in sop.states.items() if not state.final]
    held = (
        await session.scalars(
            select(Letter)
            .where(Letter.holder_id == source.id, Letter.state.in_(open_states))
            .order_by(Letter.step_started_at)
            .with_for_update()
        )
    ).all()
    moved = 0
    for letter in held:
        spec = sop.states[letter.state].holder
        if spec is None:
            continue
        try:
            own = await resolve_holder(session, sop, spec, letter)  # the step's own holder, stand-ins aside
        except Refusal:
            continue
        if own.id != official.id:
            continue  # the stand-in's own letters stay theirs
        note = (
            f"{stand_in.nama} sebagai {period.title} {official.nama}: surat dialihkan kepadanya."
            if start
            else f"Masa {period.title} {stand_in.nama} berakhir: surat kembali kepada {official.nama}."
        )
        details = {"dari": source.id, "ke": target.id, "plh": period.id}
        session.add(handover_event(letter, note, details, now, on_behalf_of=official.id))
        letter.holder_id = target.id
        letter.updated_at = now
        # A step the new holder may not take (their own draft, or a review right after their own) is passed
        # over, as when the letter reaches them any other way.
        holder = await pass_over(
            session, sop, letter, target, reviewed_by=await _last_reviewer(session, letter), actor_id=None, now=now
        )
        if holder is not None:
            session.add(outbox_row(task_notice(sop, letter, holder, sender=None, note=note), letter.id, now))
        moved += 1
    return moved


async def _last_reviewer(session: AsyncSession, letter: Letter) -> int | None:
    """Who approved the letter's previous step, if that is what brought it to its current state."""
    event = await session.scalar(
        select(AuditEvent)
        .where(
            AuditEvent.letter_id == letter.id,
            AuditEvent.to_state == letter.state,
            AuditEvent.from_state != letter.state,
        )
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(1)
    )
    return event.actor_id if event is not None and event.action == "setujui" else None
