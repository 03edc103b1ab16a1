"""Benchmark of the SOP's clock: 10,000 open letters, the schedule rebuilt at start, and a reminder sweep.

Run:  .venv/bin/python bench/reminders_bench.py [--letters 10000] [--backend sqlite|postgresql|both] [--json OUT]

For each backend a fresh database (SQLite: a file in a temporary folder; PostgreSQL: a new database
`suratbot_bench_<random>`, dropped at the end) is migrated and given the example roster, then N open letters
are written straight into it (bulk INSERTs, not through the services: only the clock is measured here), spread
over the five timed steps and over the last three working days, so that at the measured moment (a Friday
10:00) some are not yet due, most are late, and many are past their escalation; a third of them already had
their first reminder (claims in the `reminders` table). One run measures, on the office clock of that Friday:

1. the baseline: reading the N open letters' ids and deadlines with one plain SELECT (the least any sweep
   must do);
2. the rebuild at start: `next_sweep_at` (what the scheduler asks the database at start: is anything due
   now, else when next) plus starting the APScheduler job;
3. one reminder sweep that finds everything due: it claims and queues the oldest PER_SWEEP (2,000) reminders
   and escalations and leaves the rest to the sweeps that follow at once; then those sweeps until nothing is
   left (the catch-up after an outage), counted and timed in all;
4. a sweep at the same moment once everything is claimed (nothing to send: the steady state), and one an hour
   later (each late holder's next reminder).

Peak RSS is this process's ru_maxrss. Correctness is checked (each due reminder queued once, nothing on the
second sweep, every queued row names a letter and a recipient); the aims (rebuild and sweep under 2 s, under
200 MB) are only reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from suratbot.bot.scheduler import ReminderScheduler
from suratbot.services.office import Office
from suratbot.services.reminders import ESCALATE, REMIND, next_sweep_at, sweep
from suratbot.services.roster import import_roster
from suratbot.storage.db import upgrade
from suratbot.storage.files import FileStore
from suratbot.storage.models import Letter, OutboxMessage, Reminder, Staff, UnitVerifier, new_letter_id
from suratbot.workflow.sop import load_sop

PG_ADMIN_URL = os.environ.get("SURATBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=WIB)  # a Friday morning
TIMED = ("konsep", "verifikasi_1", "verifikasi_2", "penomoran", "pengiriman")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed(office: Office, n: int) -> int:
    """N open letters written directly; returns how many already had their first reminder."""
    sop = office.sop
    roster = resources.files("suratbot.data").joinpath("roster_contoh.csv").read_text("utf-8")
    await import_roster(office, roster)
    async with office.uow() as uow:
        session = uow.session
        staff = {s.jabatan: s for s in (await session.scalars(select(Staff))).all()}
        chain = {(v.unit_id, v.level): v.staff_id for v in (await session.scalars(select(UnitVerifier))).all()}
    drafters = [s for s in staff.values() if "konseptor" in s.roles]
    clerk = staff["Pengelola Surat"].id
    rows, claims = [], []
    for i in range(n):
        drafter = drafters[i % len(drafters)]
        state = TIMED[i % len(TIMED)]
        holder = {
            "konsep": drafter.id,
            "verifikasi_1": chain[(drafter.unit_id, 1)],
            "verifikasi_2": chain[(drafter.unit_id, 2)],
        }.get(state, clerk)
        # started between Tuesday 10:00 and NOW (Friday 10:00): a few not yet due, most late
        started = sop.calendar.add_working_minutes(NOW - timedelta(days=3), (i * 7919) % (360 + 2 * 510 + 150))
        standard = sop.states[state]
        letter_id = new_letter_id()
        rows.append(
            {
                "id": letter_id,
                "perihal": f"Surat uji {i}",
                "tujuan": "Camat",
                "sifat": "Rahasia" if i % 10 == 0 else "Biasa",
                "urgensi": "Biasa",
                "klasifikasi": "500.16",
                "unit_id": drafter.unit_id,
                "drafter_id": drafter.id,
                "state": state,
                "holder_id": holder,
                "return_state": "verifikasi_1" if state == "konsep" else None,
                "current_version": f"{i:064x}",
                "step_started_at": started,
                "step_due_at": sop.calendar.add_working_minutes(started, standard.standard_minutes or 0),
                "step_escalate_at": sop.calendar.add_working_minutes(started, standard.escalate_after_minutes or 0),
                "created_at": started,
                "updated_at": started,
                "revision": 1,
            }
        )
        if i % 3 == 0 and rows[-1]["step_due_at"] <= NOW:
            claims.append(
                {
                    "letter_id": letter_id,
                    "step_started_at": started,
                    "state": state,
                    "kind": REMIND,
                    "seq": 1,
                    "holder_id": holder,
                    "recipient_id": holder,
                    "late_minutes": 0,
                    "created_at": rows[-1]["step_due_at"],
                }
            )
    async with office.uow() as uow:
        for i in range(0, len(rows), 1000):
            await uow.session.execute(insert(Letter), rows[i : i + 1000])
        for i in range(0, len(claims), 1000):
            await uow.session.execute(insert(Reminder), claims[i : i + 1000])
    return len(claims)


async def timed(label: str, action: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await action()
    return time.perf_counter() - start, result


async def run_backend(name: str, url: str, n: int, folder: Path) -> dict[str, Any]:
    sop = load_sop()
    clock_now = [NOW]
    engine = create_async_engine(url)
    await upgrade(engine)
    office = Office(sop=sop, engine=engine, files=FileStore(folder / "data"), clock=lambda: clock_now[0])
    try:
        t0 = time.perf_counter()
        claimed_before = await seed(office, n)
        seed_s = time.perf_counter() - t0
        rss_seeded = peak_rss_mib()

        async def baseline() -> int:
            async with office.reading() as uow:
                rows = (
                    await uow.session.execute(
                        select(Letter.id, Letter.step_due_at, Letter.step_escalate_at).where(Letter.state.in_(TIMED))
                    )
                ).all()
            return len(rows)

        base_s, base_rows = await timed("baseline", baseline)

        async def rebuild() -> datetime:
            moment = await next_sweep_at(office)
            scheduler = ReminderScheduler(office)
            scheduler.scheduler.start(paused=True)  # the job is armed, not run: the sweep is measured below
            scheduler._arm(moment)
            scheduler.stop()
            return moment

        rebuild_s, first = await timed("rebuild", rebuild)
        sweep_s, first_sweep = await timed("sweep", lambda: sweep(office))
        result, last, sweeps, catch_up_start = first_sweep, first_sweep, 1, time.perf_counter() - sweep_s
        while last.more and sweeps < 100:
            last = await sweep(office)
            result += last
            sweeps += 1
        catch_up_s = time.perf_counter() - catch_up_start
        again_s, again = await timed("again", lambda: sweep(office))
        clock_now[0] = NOW + timedelta(hours=1)
        later_s, later = await timed("later", lambda: sweep(office))
        async with office.reading() as uow:
            queued = dict(
                (await uow.session.execute(select(OutboxMessage.kind, func.count()).group_by(OutboxMessage.kind))).all()
            )
            orphans = await uow.session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.letter_id.is_(None))
            )
            claims = await uow.session.scalar(select(func.count()).select_from(Reminder))
        problems = []
        if first != NOW:
            problems.append(f"at start the next sweep should be now, got {first}")
        if again.reminded or again.escalated:
            problems.append(f"a second sweep at the same moment sent {again}")
        if queued.get(REMIND, 0) != result.reminded + later.reminded:
            problems.append(f"queued reminders {queued.get(REMIND)} != swept {result.reminded + later.reminded}")
        if queued.get(ESCALATE, 0) != result.escalated + later.escalated:
            problems.append("queued escalations differ from the sweep's count")
        if orphans:
            problems.append(f"{orphans} queued rows name no letter")
        figures = {
            "backend": name,
            "letters": n,
            "seed_s": seed_s,
            "claimed_before": claimed_before,
            "baseline_s": base_s,
            "baseline_rows": base_rows,
            "rebuild_s": rebuild_s,
            "sweep_s": sweep_s,
            "first_sweep": {"reminded": first_sweep.reminded, "escalated": first_sweep.escalated},
            "catch_up_s": catch_up_s,
            "catch_up_sweeps": sweeps,
            "sweep": {"reminded": result.reminded, "escalated": result.escalated},
            "second_sweep_s": again_s,
            "hour_later_s": later_s,
            "hour_later": {"reminded": later.reminded, "escalated": later.escalated},
            "claims": claims,
            "peak_rss_mib": peak_rss_mib(),
            "rss_after_seed_mib": rss_seeded,
            "problems": problems,
        }
    finally:
        await office.close()
    return figures


def report(f: dict[str, Any]) -> None:
    base = f["baseline_s"]
    print(
        f"\n{f['backend']}: {f['letters']} open letters (seeded in {f['seed_s']:.1f} s; "
        f"{f['claimed_before']} had their first reminder already)"
    )
    print(f"  baseline: one SELECT of the open letters' deadlines ({f['baseline_rows']} rows): {base * 1000:.0f} ms")
    print(
        f"  rebuild at start (next_sweep_at + the APScheduler job): {f['rebuild_s']:.2f} s = {f['rebuild_s'] / base:.1f}x the baseline"
    )
    s, one = f["sweep"], f["first_sweep"]
    print(
        f"  one sweep, everything due: {f['sweep_s']:.2f} s = {f['sweep_s'] / base:.1f}x the baseline "
        f"({one['reminded']} reminders and {one['escalated']} escalations claimed and queued: its limit)"
    )
    print(
        f"  the whole catch-up: {f['catch_up_sweeps']} sweeps in {f['catch_up_s']:.2f} s "
        f"({s['reminded']} reminders and {s['escalated']} escalations)"
    )
    print(f"  a sweep at the same moment once all is claimed: {f['second_sweep_s']:.2f} s (nothing to send)")
    h = f["hour_later"]
    print(
        f"  a sweep an hour later: {f['hour_later_s']:.2f} s ({h['reminded']} reminders, {h['escalated']} escalations)"
    )
    print(f"  peak RSS {f['peak_rss_mib']:.0f} MiB ({f['rss_after_seed_mib']:.0f} MiB after seeding)")
    worst = max(f["rebuild_s"], f["sweep_s"], f["second_sweep_s"], f["hour_later_s"])
    print(f"  aim rebuild and each sweep < 2 s: {'YES' if worst < 2 else 'NO'} ({worst:.2f} s); "
          f"aim peak RSS < 200 MB: {'YES' if f['peak_rss_mib'] * 1.048576 < 200 else 'NO'}")  # fmt: skip
    for problem in f["problems"]:
        print(f"  CHECK FAILED: {problem}")


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    print(
        f"suratbot reminders benchmark: {args.letters} open letters; Python {platform.python_version()}, "
        f"SQLAlchemy {metadata.version('SQLAlchemy')}, APScheduler {metadata.version('APScheduler')}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="suratbot-bench-") as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            results.append(
                await run_backend("SQLite", f"sqlite+aiosqlite:///{folder / 'bench.db'}", args.letters, folder)
            )
            report(results[-1])
        if args.backend in ("postgresql", "both"):
            admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            name = f"suratbot_bench_{uuid.uuid4().hex[:8]}"
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
                results.append(await run_backend("PostgreSQL", url, args.letters, folder))
                report(results[-1])
            finally:
                async with admin.connect() as conn:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await admin.dispose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--letters", type=int, default=10_000, help="open letters (10000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
