"""Benchmark of the letter services: how long one SOP transition takes, on SQLite and PostgreSQL.

Run:  .venv/bin/python bench/services_bench.py [--letters 1000] [--backend sqlite|postgresql|both] [--json OUT]

For each backend it creates a fresh database (SQLite: a file in a temporary directory; PostgreSQL: a new
database `suratbot_bench_<random>`, dropped at the end), migrates it, imports the example roster and, with a
fake office clock on a working Wednesday, measures in one run:

1. a baseline: as many bare write transactions (`office.uow()` inserting one audit row) as there will be
   transitions, so that a service transition can be compared with the cheapest write the same stack can do;
2. N letters driven one call at a time through the whole SOP with the real services (submit, approve by
   verifier 1, every 10th letter sent back by verifier 2 and resubmitted, approve by verifier 2,
   assign_number, record_signature with a small PDF, dispatch), each call timed with perf_counter_ns;
3. a concurrent phase: 200 letters prepared at `penomoran` and numbered at once with asyncio.gather
   (after a small untimed burst of bare writes has opened the connection pool).

It checks correctness (every letter ends `terkirim`, every number distinct, serials gap-free) but never
fails on timings: the figures are printed, the aim (p99 < 20 ms per transition on SQLite) is only reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from suratbot.data.concept import example_letter
from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.services.uploads import Upload
from suratbot.storage.db import upgrade
from suratbot.storage.models import AuditEvent, FileVersion, IssuedNumber, Letter, Staff, UnitVerifier
from suratbot.workflow.calendar import OfficeCalendar
from suratbot.workflow.letter import LetterMeta
from suratbot.workflow.sop import Sop, load_sop

PG_ADMIN_URL = os.environ.get("SURATBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
WIB = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 11, 25, 8, 0, tzinfo=WIB)  # a Wednesday, a working day in the example SOP
STEP_SECONDS = 2  # the fake clock moves this much before every service call
AIM_P99_MS = 20.0  # the project's aim for one transition on SQLite
REVISE_EVERY = 10  # every 10th letter is sent back by verifier 2 and resubmitted
WARMUP_LETTERS = 5
WARMUP_BARE = 50
ACTIONS = ("submit", "approve", "request_revision", "resubmit", "assign_number", "record_signature", "dispatch")
TUJUAN = ("Camat se-Kabupaten Sumedang", "Kepala Perangkat Daerah", "Pelaku Usaha Terdaftar", "Bupati Sumedang")


class CheckFailed(AssertionError):
    """The services did something wrong (a correctness failure, not a slow timing)."""


def ensure(condition: bool, message: str) -> None:
    """`assert` that survives `python -O`."""
    if not condition:
        raise CheckFailed(message)


class BenchClock:
    """The office clock: a fixed working Wednesday, moved a few seconds per step and kept in office hours."""

    def __init__(self, calendar: OfficeCalendar, start: datetime = START) -> None:
        ensure(start.tzinfo is not None and calendar.is_working_time(start), f"{start} is not office time")
        self.calendar = calendar
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = STEP_SECONDS) -> None:
        self.now += timedelta(seconds=seconds)
        if not self.calendar.is_working_time(self.now):  # only with many letters: go on next working morning
            self.now = self.calendar.next_working_moment(self.now)


# --- statistics ------------------------------------------------------------------------------------------


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile of sorted (non-empty) nanosecond samples, in milliseconds."""
    rank = max(1, math.ceil(q / 100 * len(sorted_ns)))
    return sorted_ns[rank - 1] / 1e6


def summary(samples: list[int], cpu: list[int] | None = None) -> dict[str, Any]:
    """Count, total and latency percentiles in ms (None when there are no samples, e.g. under 10 letters).

    `cpu`, when given, is the event-loop thread's CPU time of each sample: its mean is `loop_cpu_mean_ms`.
    """
    s = sorted(samples)
    total = sum(s)
    keys = ("mean_ms", "p50_ms", "p90_ms", "p99_ms", "max_ms") + (("loop_cpu_mean_ms",) if cpu is not None else ())
    if not s:
        return {"count": 0, "total_s": 0.0, **dict.fromkeys(keys)}
    extra = {"loop_cpu_mean_ms": sum(cpu) / len(cpu) / 1e6} if cpu is not None else {}
    return {
        "count": len(s),
        "total_s": total / 1e9,
        "mean_ms": total / len(s) / 1e6,
        "p50_ms": percentile(s, 50),
        "p90_ms": percentile(s, 90),
        "p99_ms": percentile(s, 99),
        "max_ms": s[-1] / 1e6,
        **extra,
    }


# --- the people of the example roster --------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    drafter: int
    verifier1: int
    verifier2: int


@dataclass(frozen=True)
class Cast:
    chains: list[Chain]  # one per drafter of the roster: letters rotate between the units
    clerk: int
    kepala: int


async def load_cast(office: Office) -> Cast:
    sop = office.sop
    async with office.uow() as uow:
        staff = list((await uow.session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id))).all())
        verifier = {(v.unit_id, v.level): v.staff_id for v in (await uow.session.scalars(select(UnitVerifier))).all()}
    numbering_role = _holder_role(sop, "penomoran")
    signing_role = _holder_role(sop, "tanda_tangan")
    chains = [
        Chain(s.id, verifier[(s.unit_id, 1)], verifier[(s.unit_id, 2)]) for s in staff if s.roles & sop.drafting_roles
    ]
    clerk = next(s.id for s in staff if numbering_role in s.roles)
    kepala = next(s.id for s in staff if signing_role in s.roles)
    ensure(bool(chains), "the roster has no drafter")
    return Cast(chains, clerk, kepala)


def _holder_role(sop: Sop, state: str) -> str:
    holder = sop.states[state].holder
    if holder is None or holder.role is None:
        raise CheckFailed(f"state {state} is not held by a role in this SOP")
    return holder.role


# --- driving letters through the SOP ---------------------------------------------------------------------


@dataclass
class Driver:
    """Drives letters through the SOP with the real services; times the calls it is asked to record."""

    office: Office
    clock: BenchClock
    cast: Cast
    samples: dict[str, list[int]] = field(default_factory=lambda: {a: [] for a in ACTIONS})  # wall, ns
    cpu: dict[str, list[int]] = field(default_factory=lambda: {a: [] for a in ACTIONS})  # event-loop CPU, ns
    calls: int = 0  # every service call made (recorded or not): each is one audit event
    letters: int = 0

    async def _call(
        self, action: str, expect: str, record: bool, service: Callable[..., Awaitable[Letter]], *args: Any, **kw: Any
    ) -> Letter:
        self.clock.tick()
        cpu_started = time.thread_time_ns()
        started = time.perf_counter_ns()
        letter = await service(self.office, *args, **kw)
        elapsed = time.perf_counter_ns() - started
        cpu = time.thread_time_ns() - cpu_started
        self.calls += 1
        if record:
            self.samples[action].append(elapsed)
            self.cpu[action].append(cpu)
        ensure(letter.state == expect, f"{action}: letter {letter.id} is in {letter.state!r}, expected {expect!r}")
        return letter

    def _new(self) -> tuple[int, Chain, LetterMeta]:
        self.letters += 1
        n = self.letters
        chain = self.cast.chains[n % len(self.cast.chains)]
        meta = LetterMeta(
            perihal=f"Undangan Rapat Koordinasi Perizinan Berusaha ke-{n}",
            tujuan=TUJUAN[n % len(TUJUAN)],
            sifat="Biasa",
            urgensi="Segera" if n % 3 else "Biasa",
            klasifikasi="500.16",
        )
        return n, chain, meta

    @staticmethod
    def _pdf(meta: LetterMeta, n: int, version: int) -> Upload:
        # Distinct bytes for every letter and version, as in real use (the file store is content-addressed).
        return Upload(example_letter(meta.perihal, meta.tujuan, version=version), f"surat-{n}-v{version}.pdf")

    async def to_numbering(self, *, revise: bool, record: bool) -> tuple[Letter, int, LetterMeta]:
        """A new letter from submission to `penomoran` (with a revision round at verifier 2 if asked)."""
        n, chain, meta = self._new()
        concept = self._pdf(meta, n, 1)
        letter = await self._call("submit", "verifikasi_1", record, letters.submit, chain.drafter, concept, meta)
        lid = letter.id
        await self._call("approve", "verifikasi_2", record, letters.approve, lid, chain.verifier1)
        if revise:
            note = "Tambahkan jam dan tempat rapat pada paragraf kedua."
            await self._call("request_revision", "konsep", record, letters.request_revision, lid, chain.verifier2, note)
            revised = self._pdf(meta, n, 2)
            await self._call("resubmit", "verifikasi_2", record, letters.resubmit, lid, chain.drafter, revised)
        letter = await self._call("approve", "penomoran", record, letters.approve, lid, chain.verifier2)
        return letter, n, meta

    async def number(self, lid: str, *, record: bool) -> Letter:
        return await self._call("assign_number", "tanda_tangan", record, letters.assign_number, lid, self.cast.clerk)

    async def sign_and_send(self, lid: str, n: int, meta: LetterMeta, *, record: bool) -> Letter:
        signed = self._pdf(meta, n, 9)
        details = {"penandatangan": "bench", "sertifikat": "BSrE (palsu)"}
        sign = letters.record_signature
        await self._call("record_signature", "pengiriman", record, sign, lid, self.cast.kepala, signed, details=details)
        return await self._call("dispatch", "terkirim", record, letters.dispatch, lid, self.cast.clerk, route="email")

    async def whole_sop(self, *, revise: bool, record: bool) -> Letter:
        letter, n, meta = await self.to_numbering(revise=revise, record=record)
        await self.number(letter.id, record=record)
        return await self.sign_and_send(letter.id, n, meta, record=record)


async def bare_writes(office: Office, count: int) -> tuple[list[int], list[int]]:
    """`count` minimal write transactions (one audit row each), timed one by one: (wall ns, loop CPU ns)."""
    wall: list[int] = []
    cpu: list[int] = []
    for i in range(count):
        cpu_started = time.thread_time_ns()
        started = time.perf_counter_ns()
        async with office.uow() as uow:
            uow.session.add(AuditEvent(action="bench_baseline", details={"i": i}, at=office.now()))
        wall.append(time.perf_counter_ns() - started)
        cpu.append(time.thread_time_ns() - cpu_started)
    return wall, cpu


def planned_transitions(n: int) -> int:
    """Transitions of `n` letters: 6 each, plus request_revision and resubmit for every 10th one."""
    return 6 * n + 2 * (n // REVISE_EVERY)


# --- one backend -----------------------------------------------------------------------------------------


async def pg_admin(admin_url: str, sql: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def server_version(office: Office) -> str:
    async with office.engine.connect() as conn:
        if office.engine.dialect.name == "sqlite":
            return "SQLite " + str((await conn.execute(text("select sqlite_version()"))).scalar_one())
        return "PostgreSQL " + str((await conn.execute(text("show server_version"))).scalar_one())


async def run_backend(backend: str, sop: Sop, n: int, concurrent: int, admin_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="suratbot-bench-") as tmp:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'suratbot.db'}"
            cleanup = None
        else:
            name = f"suratbot_bench_{uuid.uuid4().hex[:12]}"
            await pg_admin(admin_url, f'CREATE DATABASE "{name}"')
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            cleanup = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        try:
            clock = BenchClock(sop.calendar)
            office = Office.open(sop, url, Path(tmp) / "data", clock=clock)
            try:
                result = await measure(office, clock, n, concurrent)
                result["database"] = make_url(url).render_as_string(hide_password=True)
                return result
            finally:
                await office.close()
        finally:
            if cleanup:
                await pg_admin(admin_url, cleanup)


async def measure(office: Office, clock: BenchClock, n: int, concurrent: int) -> dict[str, Any]:
    out: dict[str, Any] = {"server": await server_version(office), "cpus": os.cpu_count()}
    out["load_average"] = {"before": os.getloadavg()[0]}

    started = time.perf_counter()
    await upgrade(office.engine)
    migrated = time.perf_counter()
    roster = resources.files("suratbot.data").joinpath("roster_contoh.csv").read_text("utf-8")
    report = await import_roster(office, roster)
    imported = time.perf_counter()
    cast = await load_cast(office)
    out["setup"] = {
        "migrate_s": migrated - started,
        "roster_import_s": imported - migrated,
        "staff": len(report.created),
        "drafting_units": len(cast.chains),
    }

    # Warm-up (not recorded): connection pool, SQLAlchemy's statement caches, the file store's directories.
    warm = Driver(office, clock, cast)
    for i in range(WARMUP_LETTERS):
        await warm.whole_sop(revise=i == 0, record=False)
    await bare_writes(office, WARMUP_BARE)

    # 1. Baseline: as many bare write transactions as there will be timed transitions.
    base_wall, base_cpu = await bare_writes(office, planned_transitions(n))
    out["baseline"] = {"what": "office.uow() inserting one audit_events row", **summary(base_wall, base_cpu)}

    # 2. N letters through the whole SOP, one call at a time.
    driver = Driver(office, clock, cast)
    driver.letters = warm.letters
    phase_start = time.perf_counter()
    for i in range(1, n + 1):
        await driver.whole_sop(revise=i % REVISE_EVERY == 0, record=True)
    phase_wall = time.perf_counter() - phase_start
    everything = [ns for action in ACTIONS for ns in driver.samples[action]]
    everything_cpu = [ns for action in ACTIONS for ns in driver.cpu[action]]
    expected = planned_transitions(n)
    ensure(len(everything) == expected, f"{len(everything)} transitions timed, expected {expected}")
    overall = summary(everything, everything_cpu)
    out["letters"] = n
    out["transitions"] = overall["count"]
    out["service_seconds"] = overall["total_s"]
    out["phase_wall_seconds"] = phase_wall
    out["transitions_per_second"] = overall["count"] / overall["total_s"]
    out["overall"] = overall
    out["actions"] = {a: summary(driver.samples[a], driver.cpu[a]) for a in ACTIONS}
    out["ratio_p50_service_to_baseline"] = overall["p50_ms"] / out["baseline"]["p50_ms"]

    # 3. Concurrent numbering: letters prepared at penomoran, then numbered all at once.
    prep = Driver(office, clock, cast)
    prep.letters = driver.letters
    ready = [await prep.to_numbering(revise=False, record=False) for _ in range(concurrent)]
    # Open the pool's connections first (untimed), so the burst measures numbering, not connecting.
    await asyncio.gather(*(bare_writes(office, 1) for _ in range(min(concurrent, 20))))
    clock.tick()
    per_call: list[int] = []

    async def timed_number(lid: str) -> Letter:
        started = time.perf_counter_ns()
        letter = await letters.assign_number(office, lid, cast.clerk)
        per_call.append(time.perf_counter_ns() - started)
        return letter

    wall_start = time.perf_counter()
    numbered = await asyncio.gather(*(timed_number(letter.id) for letter, _, _ in ready))
    wall = time.perf_counter() - wall_start
    prep.calls += len(numbered)
    numbers = [letter.nomor for letter in numbered]
    ensure(all(letter.state == "tanda_tangan" for letter in numbered), "a concurrently numbered letter is misplaced")
    ensure(None not in numbers and len(set(numbers)) == len(numbers), "concurrent assign_number gave a number twice")
    async with office.uow() as uow:
        ids = [letter.id for letter in numbered]
        serials = list(await uow.session.scalars(select(IssuedNumber.serial).where(IssuedNumber.letter_id.in_(ids))))
    ensure(len(set(serials)) == len(numbered), "concurrent assign_number gave a serial twice")
    out["concurrent"] = {
        "calls": len(numbered),
        "wall_s": wall,
        "numbers_per_s": len(numbered) / wall,
        "distinct_numbers": len(set(numbers)),
        "serials": [min(serials), max(serials)],
        "per_call": summary(per_call),
    }
    for letter, k, meta in ready:  # finish them (untimed) so that every letter of the run ends sent
        await prep.sign_and_send(letter.id, k, meta, record=False)

    out["checks"] = await verify(office, warm.calls + driver.calls + prep.calls)
    out["load_average"]["after"] = os.getloadavg()[0]
    return out


async def verify(office: Office, calls: int) -> dict[str, Any]:
    """Correctness of the whole run: every letter sent, every number given once, serials without a gap."""
    async with office.uow() as uow:
        s = uow.session
        counted = await s.execute(select(Letter.state, func.count()).group_by(Letter.state))
        states = {state: count for state, count in counted.all()}
        total = sum(states.values())
        nomor = list((await s.scalars(select(Letter.nomor))).all())
        issued = list((await s.execute(select(IssuedNumber.scope, IssuedNumber.serial, IssuedNumber.status))).all())
        audit = await s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.letter_id.is_not(None)))
        signed = await s.scalar(
            select(func.count()).select_from(FileVersion).where(FileVersion.kind == "ditandatangani")
        )
    ensure(states == {"terkirim": total}, f"not every letter ended terkirim: {states}")
    ensure(None not in nomor and len(set(nomor)) == total, "letter numbers are missing or given twice")
    ensure(len(issued) == total and all(status == "aktif" for _, _, status in issued), "issued_numbers mismatch")
    by_scope: dict[str, list[int]] = {}
    for scope, serial, _ in issued:
        by_scope.setdefault(scope, []).append(serial)
    for scope, serials in by_scope.items():
        ensure(sorted(serials) == list(range(1, len(serials) + 1)), f"serials of {scope} have gaps or repeats")
    ensure(audit == total + calls, f"{audit} letter audit events, expected {total + calls} (one per call + creation)")
    ensure(signed == total, f"{signed} signed file versions for {total} letters")
    return {
        "letters": total,
        "all_terkirim": True,
        "numbers_distinct": len(set(nomor)),
        "serial_scopes": {scope: [min(v), max(v)] for scope, v in by_scope.items()},
        "audit_events": audit,
        "service_calls": calls,
    }


# --- report ----------------------------------------------------------------------------------------------


def _row(label: str, s: dict[str, Any], base_p50: float) -> str:
    if not s["count"]:
        return f"  {label:<17}{0:>7}" + f"{'-':>9}" * 6 + f"{'-':>10}"
    return (
        f"  {label:<17}{s['count']:>7}{s['p50_ms']:>9.2f}{s['p90_ms']:>9.2f}{s['p99_ms']:>9.2f}"
        f"{s['max_ms']:>9.2f}{s['mean_ms']:>9.2f}{s['loop_cpu_mean_ms']:>9.2f}{s['p50_ms'] / base_p50:>9.1f}x"
    )


def print_backend(backend: str, r: dict[str, Any]) -> None:
    setup, base, over, conc, checks = r["setup"], r["baseline"], r["overall"], r["concurrent"], r["checks"]
    print(f"== {backend}: {r['server']} — {r['database']}")
    before, after = r["load_average"]["before"], r["load_average"]["after"]
    print(f"machine load average (1 min): {before:.2f} before, {after:.2f} after ({r['cpus']} CPUs; this run adds ~1)")
    print(
        f"setup: migrate {setup['migrate_s']:.2f} s, roster import {setup['roster_import_s']:.3f} s "
        f"({setup['staff']} staff, {setup['drafting_units']} drafting units); warm-up {WARMUP_LETTERS} letters "
        f"+ {WARMUP_BARE} bare writes (not counted)"
    )
    print(
        f"baseline: {base['count']} bare write transactions ({base['what']}): {base['total_s']:.2f} s, "
        f"p50 {base['p50_ms']:.2f} ms, p90 {base['p90_ms']:.2f} ms, p99 {base['p99_ms']:.2f} ms, "
        f"max {base['max_ms']:.2f} ms; event-loop CPU {base['loop_cpu_mean_ms']:.2f} ms per transaction"
    )
    print(
        f"letters: {r['letters']} through the whole SOP, {r['transitions']} transitions, "
        f"{r['service_seconds']:.2f} s in service calls ({r['phase_wall_seconds']:.2f} s wall), "
        f"{r['transitions_per_second']:.0f} transitions/s (sequential)"
    )
    print(
        f"  {'action':<17}{'count':>7}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mean ms':>9}{'cpu ms':>9}"
        f"{'p50/base':>10}"
    )
    for action in ACTIONS:
        print(_row(action, r["actions"][action], base["p50_ms"]))
    print(_row("all transitions", over, base["p50_ms"]))
    print(
        "  (cpu ms: mean CPU time of the event-loop thread during the call; the rest of the wall time is waiting "
        "for the database, the file store's fsync, or the CPU)"
    )
    print(
        f"ratio p50(service transition) / p50(bare write transaction) = {r['ratio_p50_service_to_baseline']:.1f}x "
        f"({over['p50_ms']:.2f} ms / {base['p50_ms']:.2f} ms)"
    )
    pc = conc["per_call"]
    print(
        f"concurrent numbering: {conc['calls']} assign_number via asyncio.gather in {conc['wall_s']:.2f} s wall "
        f"= {conc['numbers_per_s']:.0f} numbers/s; per call p50 {pc['p50_ms']:.1f} ms, p99 {pc['p99_ms']:.1f} ms, "
        f"max {pc['max_ms']:.1f} ms; {conc['distinct_numbers']} distinct numbers (serials {conc['serials'][0]}..{conc['serials'][1]})"
    )
    scopes = ", ".join(f"{k}: {a}..{b}" for k, (a, b) in checks["serial_scopes"].items())
    print(
        f"checks: {checks['letters']} letters, all terkirim; {checks['numbers_distinct']} distinct numbers, "
        f"serials without gaps ({scopes}); {checks['audit_events']} audit events = one per service call + creation"
    )
    print()


def environment() -> dict[str, Any]:
    versions = {}
    for dist in ("SQLAlchemy", "aiosqlite", "asyncpg", "alembic"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "sqlite_library": sqlite3.sqlite_version,
        "packages": versions,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "office_clock_start": START.isoformat(),
        "clock_step_s": STEP_SECONDS,
    }


async def pg_reachable(admin_url: str) -> str | None:
    try:
        await pg_admin(admin_url, "select 1")
    except Exception as exc:  # any failure to connect: say why
        return f"{type(exc).__name__}: {exc}"
    return None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and (problem := await pg_reachable(args.pg_admin_url)):
        raise SystemExit(f"PostgreSQL is not reachable at {args.pg_admin_url}: {problem}")
    sop = load_sop()
    env = environment()
    print(
        f"suratbot services benchmark: {args.letters} letters per backend, concurrent numbering of "
        f"{args.concurrent}; Python {env['python']}, SQLAlchemy {env['packages']['SQLAlchemy']}, "
        f"{env['cpus']} CPUs; office clock from {START:%a %Y-%m-%d %H:%M} WIB, +{STEP_SECONDS} s per step"
    )
    print()
    results: dict[str, Any] = {}
    for backend in backends:
        results[backend] = await run_backend(backend, sop, args.letters, args.concurrent, args.pg_admin_url)
        print_backend(backend, results[backend])
    for backend, r in results.items():
        p99 = r["overall"]["p99_ms"]
        met = p99 < AIM_P99_MS
        r["aim"] = {"p99_ms_below": AIM_P99_MS, "met": met}
        aside = "" if backend == "sqlite" else " (the aim is stated for SQLite; shown for comparison)"
        print(f"{backend}: p99 per transition {p99:.2f} ms < {AIM_P99_MS:.0f} ms: {'YES' if met else 'NO'}{aside}")
    return {"environment": env, "letters": args.letters, "backends": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000, help="letters per backend (default 1000)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--concurrent", type=int, default=200, help="assign_number calls fired at once (200)")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every figure to this JSON file")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="where to CREATE/DROP the bench database")
    args = parser.parse_args(argv)
    if args.letters < 1 or args.concurrent < 1:
        parser.error("--letters and --concurrent must be at least 1")
    report = asyncio.run(main_async(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
