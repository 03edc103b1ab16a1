"""Benchmark of the Telegram bot end to end: letters through the whole SOP by chat against the fake Bot API, next to
a bare python-telegram-bot echo bot on the same harness; and the outbox draining a backlog within Telegram's limits.

Run:  .venv/bin/python bench/telegram_bench.py [--letters 500] [--parallel 3] [--notifications 1000] [--chats 200]
      [--quick] [--json OUT]

Everything runs in this one process on 127.0.0.1: the fake Telegram Bot API (suratbot.bot.fakebotapi, real HTTP),
the real PTB Application and outbox sender started by `suratbot.bot.app.start_bot`, and a fresh SQLite office in
a temporary folder with the example roster and demo signing keys (PKCS#12, PAdES B-B). One run measures:

1. the baseline: a bare PTB Application with one MessageHandler echoing text, long-polling the same fake server
   with the same settings as the bot (concurrent_updates(8)), fed as many text updates as the SOP run handles,
   from as many users, in the same pattern: `--parallel` streams, each injecting one update and waiting until
   it has been handled before the next (one person's updates never overlap);
2. the SOP run: the roster's eleven members join (/start, share their contact), then N letters (after
   WARMUP_LETTERS untimed ones) go through the whole SOP, `--parallel` at a time, as people do it: the drafter
   uploads the PDF with a full caption and presses "Kirim ke verifikator"; the two verifiers press Setujui on the
   task the outbox brings them; the clerk presses Beri Nomor and confirms the number; Kepala Dinas presses
   Tandatangani and types the passphrase (a real PAdES signature); the clerk presses Kirim, SRIKANDI and types
   the delivery note: 11 updates per letter. The outbox runs with Limits(per_second=10_000,
   per_chat_interval=0): Telegram's limits are not what this part measures;
3. the outbox drain: a fresh office with people bound to Telegram chats (200 by default) and notifications
   queued (1,000), sent by the real OutboxSender with the real Limits() (30 messages/s overall, 1 s between two
   messages to one chat) through a TelegramChannel initialised against the fake server.

Handling latency is the time `TelegramChannel._on_update` (for the echo bot: its callback) takes for one update,
timed by wrapping it at run time; "end to end" also counts the time from the update's injection at the fake until
the handler starts (getUpdates and PTB's queue). The passphrase update (the signature) is reported apart from the
rest. Updates/s = updates handled / wall time from the first injection to the end of the last handler. Peak RSS
is ru_maxrss of this process: the fake server, which keeps every message and file it has seen, lives in it too
(the echo bot runs first, so its figure is the peak before the SOP run). `--quick`: 50 letters, 300 notifications
to 60 chats.

To say where the time goes, each update's handler is also charged with its database transactions and the time
their BEGIN IMMEDIATE took (waiting for SQLite's write lock), and with its Bot API requests (PTB's
HTTPXRequest.do_request, wrapped); an event-loop lag probe counts stalls (and those during a signature); the
"outbox hop" is the time from the end of the update that queued a task to the task's arrival at the fake.

The aims (at least 0.7x the echo bot's updates/s; p99 < 30 ms excluding the signature; peak RSS < 200 MB; the
outbox at >= 95 % of 30 msg/s with >= 1 s between two messages to one chat) are only reported, never enforced;
correctness is (every letter ends `terkirim` with a distinct number, every notification is sent, no handler fails).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import functools
import itertools
import json
import math
import os
import platform
import re
import resource
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata, resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters
from telegram.request import HTTPXRequest

from suratbot.bot.app import Bot, TelegramSettings, start_bot
from suratbot.bot.channels.telegram import TelegramChannel
from suratbot.bot.fakebotapi import FakeBotApi, FakeUser, SentMessage
from suratbot.bot.outbox import Limits, OutboxSender
from suratbot.data.concept import example_letter
from suratbot.services.keystore import make_demo_keys
from suratbot.services.notices import Notice, outbox_row
from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.storage.db import upgrade
from suratbot.storage.models import ChannelBinding, Letter, OutboxMessage, Staff, Unit, UnitVerifier
from suratbot.workflow.calendar import OfficeCalendar
from suratbot.workflow.sop import Sop, load_sop

WIB = ZoneInfo("Asia/Jakarta")
START = datetime(2026, 11, 25, 8, 0, tzinfo=WIB)  # a Wednesday, a working day in the example SOP
STEP_SECONDS = 0.2  # the office clock moves this much before every injected update
PASSPHRASE = "kunci-bench-2026"
POLL_TIMEOUT = 1  # getUpdates long-poll timeout (s), for both bots, as in the end-to-end tests
WARMUP_LETTERS = 2
WARMUP_ECHOES = 50
WAIT_SECONDS = 60.0  # longest wait for a handler or a task message before the run is declared stuck
FAST = Limits(per_second=10_000.0, per_chat_interval=0.0)
OUTBOX_POLL = 2.0  # start_bot's default: the outbox sender's fallback poll when no wake-up comes
AIM_RATIO = 0.7
AIM_P99_MS = 30.0
AIM_RSS_MB = 200.0
AIM_OUTBOX_SHARE = 0.95
TELEGRAM_RATE = 30.0
GAP_JITTER = 0.010  # "~1 s": the fake stamps a message when it handles the request, after loopback HTTP jitter
SIGNING = "kata_sandi"
STEPS = {  # kind of update -> what the person did; 11 per letter
    "unggah": "upload PDF + caption",
    "ajukan": "Kirim ke verifikator",
    "setujui_1": "verifier 1: Setujui",
    "setujui_2": "verifier 2: Setujui",
    "beri_nomor": "clerk: Beri Nomor",
    "nomor": "clerk: confirm number",
    "tandatangani": "Kepala: Tandatangani",
    SIGNING: "Kepala: passphrase (sign)",
    "kirim": "clerk: Kirim",
    "jalur": "clerk: SRIKANDI",
    "catatan": "clerk: delivery note",
}
TASK_VERBS = frozenset({"setujui", "beri_nomor", "tandatangani", "kirim"})
TUJUAN = ("Camat se-Kabupaten Sumedang", "Kepala Perangkat Daerah", "Pelaku Usaha Terdaftar", "Bupati Sumedang")
MEMBER_IDS = 100_000  # Telegram user id of a roster member = MEMBER_IDS + staff id
ECHO_IDS = 200_000
CHAT_IDS = 300_000


class CheckFailed(AssertionError):
    """The bot did something wrong (a correctness failure, not a slow timing)."""


def ensure(condition: bool, message: str) -> None:
    """`assert` that survives `python -O`."""
    if not condition:
        raise CheckFailed(message)


class BenchClock:
    """The office clock: a working Wednesday morning, moved a little per update and kept in office hours."""

    def __init__(self, calendar: OfficeCalendar, start: datetime = START) -> None:
        ensure(calendar.is_working_time(start), f"{start} is not office time")
        self.calendar = calendar
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = STEP_SECONDS) -> None:
        self.now += timedelta(seconds=seconds)
        if not self.calendar.is_working_time(self.now):
            self.now = self.calendar.next_working_moment(self.now)


# --- statistics ------------------------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted (non-empty) samples in seconds, in milliseconds."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1] * 1000


def summary(samples: list[float]) -> dict[str, Any]:
    """Count, total (s) and percentiles (ms) of samples in seconds; None figures when there are none."""
    s = sorted(samples)
    if not s:
        return {"count": 0, "total_s": 0.0, **dict.fromkeys(("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms"))}
    return {
        "count": len(s),
        "total_s": sum(s),
        "p50_ms": percentile(s, 50),
        "p90_ms": percentile(s, 90),
        "p99_ms": percentile(s, 99),
        "max_ms": s[-1] * 1000,
        "mean_ms": sum(s) / len(s) * 1000,
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- timing the handling of updates ---------------------------------------------------------------------


@dataclass
class Sample:
    kind: str
    user_id: int
    injected: float  # time.monotonic(), like the fake's SentMessage.sent_at
    started: float = 0.0
    ended: float = 0.0
    error: str | None = None
    transactions: int = 0  # database transactions the handler opened
    lock_wait: float = 0.0  # time in their BEGIN IMMEDIATE: waiting for SQLite's write lock (plus a thread hop)
    api_calls: int = 0  # Bot API requests the handler made (replies, answers, edits, getFile, downloads)
    api_time: float = 0.0

    @property
    def handling(self) -> float:
        return self.ended - self.started

    @property
    def end_to_end(self) -> float:
        return self.ended - self.injected


class Recorder:
    """When each injected update was injected, and when its handler started and ended (by update_id)."""

    def __init__(self) -> None:
        self.samples: dict[int, Sample] = {}
        self._done: dict[int, asyncio.Event] = {}
        self.other_transactions = 0  # outside the timed handlers: the outbox sender, the harness's checks
        self.other_lock_wait = 0.0

    def reset(self) -> None:
        """Forget the warm-up (every update of it has been handled: the harness waited for each)."""
        self.samples.clear()
        self._done.clear()
        self.other_transactions = 0
        self.other_lock_wait = 0.0

    def injected(self, update: dict[str, Any], kind: str, user: FakeUser) -> int:
        update_id = int(update["update_id"])
        self.samples[update_id] = Sample(kind, user.user_id, time.monotonic())
        self._done[update_id] = asyncio.Event()
        return update_id

    def started(self, update_id: int) -> Sample | None:
        sample = self.samples.get(update_id)
        if sample is not None:
            sample.started = time.monotonic()
        return sample

    def ended(self, update_id: int, error: str | None = None) -> None:
        sample = self.samples.get(update_id)
        if sample is None:
            return  # not injected by the timed harness (joining, a warm-up already forgotten)
        sample.ended = time.monotonic()
        sample.error = error
        self._done.pop(update_id).set()

    async def handled(self, update_id: int, user: FakeUser) -> Sample:
        """Wait until the bot has handled this update (its direct replies are at the fake by then)."""
        event = self._done.get(update_id)
        if event is not None:
            try:
                await asyncio.wait_for(event.wait(), WAIT_SECONDS)
            except TimeoutError:
                raise CheckFailed(
                    f"update {update_id} of {user.first_name} not handled within {WAIT_SECONDS:.0f} s; the chat "
                    f"ends:\n{tail(user)}"
                ) from None
        sample = self.samples[update_id]
        ensure(sample.error is None, f"update {update_id} ({sample.kind}) failed: {sample.error}\n{tail(user)}")
        return sample


CURRENT: contextvars.ContextVar[Sample | None] = contextvars.ContextVar("bench_update", default=None)


@contextlib.contextmanager
def instrumented(recorder: Recorder) -> Iterator[None]:
    """Wrap, for the block, TelegramChannel._on_update (channels built inside it) to time every update, and
    PTB's HTTPXRequest.do_request to count the Bot API requests each update's handler makes."""
    on_update = TelegramChannel._on_update
    do_request = HTTPXRequest.do_request

    async def timed(self: TelegramChannel, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        token = CURRENT.set(recorder.started(update.update_id))
        error = None
        try:
            await on_update(self, update, context)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            recorder.ended(update.update_id, error)
            CURRENT.reset(token)

    async def counted(self: HTTPXRequest, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        sample = CURRENT.get()
        if sample is None:
            return await do_request(self, *args, **kwargs)
        started = time.monotonic()
        try:
            return await do_request(self, *args, **kwargs)
        finally:
            sample.api_calls += 1
            sample.api_time += time.monotonic() - started

    TelegramChannel._on_update = timed  # type: ignore[method-assign]
    HTTPXRequest.do_request = counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        TelegramChannel._on_update = on_update  # type: ignore[method-assign]
        HTTPXRequest.do_request = do_request  # type: ignore[method-assign]


def watch_transactions(engine: AsyncEngine, recorder: Recorder) -> None:
    """Time the BEGIN IMMEDIATE that starts every transaction of the office on SQLite (suratbot.storage.db issues
    it from a "begin" listener) and charge it to the update being handled, if any."""

    def before(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            conn.info["bench_begin"] = time.monotonic()

    def after(conn: Connection, cursor: Any, statement: str, *args: Any) -> None:
        if statement != "BEGIN IMMEDIATE":
            return
        waited = time.monotonic() - conn.info.pop("bench_begin")
        sample = CURRENT.get()
        if sample is not None:
            sample.transactions += 1
            sample.lock_wait += waited
        else:
            recorder.other_transactions += 1
            recorder.other_lock_wait += waited

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)


class LoopLag:
    """How late the event loop wakes a sleeper every few ms: a long lateness is a stall in which nothing else
    (no other update, no outbox send) could run."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.stalls: list[tuple[float, float]] = []  # (start, end) of every wake-up later than STALL
        self.lags: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    STALL = 0.010

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(self.interval)
            woke = time.monotonic()
            lag = woke - before - self.interval
            self.lags.append(lag)
            if lag > self.STALL:
                self.stalls.append((woke - lag, woke))

    def report(self, during: list[tuple[float, float]] | None = None) -> dict[str, Any]:
        """Lag percentiles, and how many stalls (and how much stalled time) fell inside the `during` intervals."""
        lags = sorted(self.lags)
        out: dict[str, Any] = {
            "samples": len(lags),
            "p99_ms": percentile(lags, 99) if lags else None,
            "max_ms": lags[-1] * 1000 if lags else None,
            "stalls": len(self.stalls),
            "stalled_s": sum(b - a for a, b in self.stalls),
        }
        if during is not None:
            inside = [(a, b) for a, b in self.stalls if overlaps((a, b), during)]
            out["stalls_in_signing"] = len(inside)
            out["stalled_in_signing_s"] = sum(b - a for a, b in inside)
        return out


def overlaps(span: tuple[float, float], intervals: list[tuple[float, float]]) -> bool:
    """Whether `span` intersects one of `intervals` (few enough to scan)."""
    a, b = span
    return any(a < end and start < b for start, end in intervals)


def tail(user: FakeUser, lines: int = 12) -> str:
    return "\n".join(user.transcript().splitlines()[-lines:]) or "(empty)"


# --- the people of the example roster, on Telegram ------------------------------------------------------


@dataclass
class Member:
    staff_id: int
    nama: str
    jabatan: str
    telepon: str
    user: FakeUser
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one conversation at a time per person
    inbox: Inbox = field(init=False)

    def __post_init__(self) -> None:
        self.inbox = Inbox(self.user)


class Inbox:
    """The task messages (the outbox's, with the step's buttons) of one chat, indexed as they arrive by (verb,
    first 8 characters of the letter id): each wake-up looks at the new messages only."""

    def __init__(self, user: FakeUser) -> None:
        self.user = user
        self.scanned = 0
        self.tasks: dict[tuple[str, str], SentMessage] = {}

    def _scan(self) -> None:
        messages = self.user.messages
        while self.scanned < len(messages):
            message = messages[self.scanned]
            self.scanned += 1
            for row in message.buttons:
                for _, data in row:
                    verb, _, rest = data.partition("|")
                    if verb in TASK_VERBS:
                        self.tasks.setdefault((verb, rest[:8]), message)

    async def task(self, verb: str, letter_id8: str) -> SentMessage:
        key = (verb, letter_id8)
        self._scan()
        while key not in self.tasks:
            last = self.user.messages[-1] if self.user.messages else None
            try:
                await self.user.wait_for(
                    lambda _m: (self._scan(), key in self.tasks)[1], after=last, timeout=WAIT_SECONDS
                )
            except TimeoutError:
                raise CheckFailed(
                    f"no {verb!r} task for letter {letter_id8} reached {self.user.first_name} within "
                    f"{WAIT_SECONDS:.0f} s; the chat ends:\n{tail(self.user)}"
                ) from None
        return self.tasks.pop(key)


def press(user: FakeUser, message: SentMessage, verb: str) -> dict[str, Any]:
    """Press the button of `message` whose callback data starts with `verb` (as a person taps its label)."""
    for row in message.buttons:
        for label, data in row:
            if data.startswith(verb):
                return user.press(message, label)
    raise CheckFailed(f"no {verb!r} button on {message.describe()!r}")


def with_button(messages: list[SentMessage], verb: str, who: Member) -> SentMessage:
    for message in messages:
        if any(data.startswith(verb) for row in message.buttons for _, data in row):
            return message
    raise CheckFailed(f"no reply with a {verb!r} button for {who.jabatan}; the chat ends:\n{tail(who.user)}")


def with_text(messages: list[SentMessage], contains: str, who: Member) -> SentMessage:
    for message in messages:
        if contains in (message.text or message.caption or ""):
            return message
    raise CheckFailed(f"no reply saying {contains!r} to {who.jabatan}; the chat ends:\n{tail(who.user)}")


@dataclass
class Cast:
    chains: list[tuple[Member, Member, Member]]  # (drafter, verifier 1, verifier 2), one per drafter
    clerk: Member  # numbering and dispatch (role pengelola)
    kepala: Member

    @property
    def members(self) -> list[Member]:
        seen: dict[int, Member] = {}
        for chain in self.chains:
            for m in chain:
                seen[m.staff_id] = m
        seen[self.clerk.staff_id] = self.clerk
        seen[self.kepala.staff_id] = self.kepala
        return list(seen.values())


def _holder_role(sop: Sop, state: str) -> str:
    holder = sop.states[state].holder
    if holder is None or holder.role is None:
        raise CheckFailed(f"state {state} is not held by a role in this SOP")
    return holder.role


async def load_cast(office: Office, api: FakeBotApi) -> Cast:
    sop = office.sop
    async with office.uow() as uow:
        staff = list((await uow.session.scalars(select(Staff).where(Staff.active.is_(True)).order_by(Staff.id))).all())
        verifier = {(v.unit_id, v.level): v.staff_id for v in (await uow.session.scalars(select(UnitVerifier))).all()}
    members = {
        s.id: Member(s.id, s.nama, s.jabatan, s.telepon, api.user(MEMBER_IDS + s.id, s.nama.split()[0])) for s in staff
    }
    ensure(
        _holder_role(sop, "penomoran") == _holder_role(sop, "pengiriman"),
        "the bench assumes one clerk numbers and dispatches",
    )
    clerk = next(members[s.id] for s in staff if _holder_role(sop, "penomoran") in s.roles)
    kepala = next(members[s.id] for s in staff if _holder_role(sop, "tanda_tangan") in s.roles)
    chains = [
        (members[s.id], members[verifier[(s.unit_id, 1)]], members[verifier[(s.unit_id, 2)]])
        for s in staff
        if s.roles & sop.drafting_roles
    ]
    ensure(bool(chains), "the roster has no drafter")
    return Cast(chains, clerk, kepala)


async def join(member: Member) -> None:
    """A roster member joins: /start, then shares their own contact (untimed)."""
    user = member.user
    user.send_text("/start")
    await user.wait_for(lambda m: m.reply_keyboard is not None, timeout=WAIT_SECONDS)
    user.share_contact(member.telepon)
    await user.wait_for_text("Akun ini sekarang terhubung", timeout=WAIT_SECONDS)


async def outbox_idle(office: Office, seconds: float = WAIT_SECONDS) -> Counter[str]:
    """The outbox statuses once nothing is pending or being sent."""
    deadline = time.monotonic() + seconds
    while True:
        async with office.uow() as uow:
            rows = (await uow.session.execute(select(OutboxMessage.status, func.count()).group_by("status"))).all()
        statuses = Counter({status: count for status, count in rows})
        if not statuses["pending"] and not statuses["sending"]:
            return statuses
        ensure(time.monotonic() < deadline, f"the outbox did not drain within {seconds:.0f} s: {dict(statuses)}")
        await asyncio.sleep(0.05)


# --- the SOP by chat ------------------------------------------------------------------------------------


@dataclass
class SopDriver:
    """Drives letters through the SOP by chat, one update at a time per person; waits for each to be handled."""

    clock: BenchClock
    recorder: Recorder
    cast: Cast
    hops: list[float] = field(default_factory=list)  # update that queued a task handled -> the task at the fake
    letter_times: list[float] = field(default_factory=list)  # first injection -> last update handled
    pdf_bytes: int = 0

    async def act(self, who: Member, kind: str, inject: Callable[[], dict[str, Any]]) -> tuple[Sample, list]:
        """Inject one update; returns its timing and the messages that reached this chat while it was handled."""
        mark = len(who.user.messages)
        self.clock.tick()
        update_id = self.recorder.injected(inject(), kind, who.user)
        sample = await self.recorder.handled(update_id, who.user)
        return sample, who.user.messages[mark:]

    def _hop(self, after: Sample, task: SentMessage) -> None:
        self.hops.append(task.sent_at - after.ended)

    async def letter(self, n: int) -> None:
        drafter, verifier1, verifier2 = self.cast.chains[n % len(self.cast.chains)]
        clerk, kepala = self.cast.clerk, self.cast.kepala
        perihal = f"Undangan Rapat Koordinasi Perizinan Berusaha ke-{n}"
        tujuan = TUJUAN[n % len(TUJUAN)]
        caption = f"Perihal: {perihal}; Tujuan: {tujuan}; Sifat: Biasa; Urgensi: Segera; Klasifikasi: 500.16"
        pdf = example_letter(perihal, tujuan)  # distinct bytes per letter, as in real use (~1 KB, ~0.05 ms)
        self.pdf_bytes += len(pdf)

        async with drafter.lock:
            u = drafter.user
            first, new = await self.act(
                drafter, "unggah", functools.partial(u.send_document, pdf, f"undangan-{n}.pdf", caption=caption)
            )
            summary_message = with_button(new, "konsep_kirim", drafter)
            last, new = await self.act(drafter, "ajukan", functools.partial(press, u, summary_message, "konsep_kirim"))
            found = re.search(r"diajukan \(ID ([^)]+)\)", with_text(new, "diajukan", drafter).text or "")
            ensure(found is not None, f"no letter id in the drafter's reply:\n{tail(u)}")
            assert found is not None
            letter_id8 = found.group(1)

        for verifier, kind in ((verifier1, "setujui_1"), (verifier2, "setujui_2")):
            task = await verifier.inbox.task("setujui", letter_id8)
            self._hop(last, task)
            async with verifier.lock:
                last, new = await self.act(verifier, kind, functools.partial(press, verifier.user, task, "setujui"))
                with_text(new, "Paraf Anda tercatat", verifier)

        task = await clerk.inbox.task("beri_nomor", letter_id8)
        self._hop(last, task)
        async with clerk.lock:
            _, new = await self.act(clerk, "beri_nomor", functools.partial(press, clerk.user, task, "beri_nomor"))
            proposal = with_button(new, "nomor:", clerk)
            last, new = await self.act(clerk, "nomor", functools.partial(press, clerk.user, proposal, "nomor:"))
            with_text(new, "diberikan", clerk)

        task = await kepala.inbox.task("tandatangani", letter_id8)
        self._hop(last, task)
        async with kepala.lock:
            _, new = await self.act(kepala, "tandatangani", functools.partial(press, kepala.user, task, "tandatangani"))
            with_text(new, "Ketik kata sandi", kepala)
            last, new = await self.act(kepala, SIGNING, functools.partial(kepala.user.send_text, PASSPHRASE))
            signed = with_text(new, "sudah ditandatangani", kepala)
            ensure(signed.document is not None, f"the signed letter came without its PDF:\n{tail(kepala.user)}")

        task = await clerk.inbox.task("kirim", letter_id8)
        self._hop(last, task)
        async with clerk.lock:
            _, new = await self.act(clerk, "kirim", functools.partial(press, clerk.user, task, "kirim"))
            routes = with_button(new, "jalur:srikandi", clerk)
            _, new = await self.act(clerk, "jalur", functools.partial(press, clerk.user, routes, "jalur:srikandi"))
            with_text(new, "catatan pengiriman", clerk)
            last, new = await self.act(clerk, "catatan", functools.partial(clerk.user.send_text, f"agenda {n}"))
            with_text(new, "tercatat terkirim melalui SRIKANDI", clerk)
        self.letter_times.append(last.ended - first.injected)

    async def letters(self, first: int, count: int, parallel: int) -> None:
        """Letters first..first+count-1, `parallel` in flight at once."""
        numbers = iter(range(first, first + count))

        async def worker() -> None:
            for n in numbers:
                await self.letter(n)

        async with asyncio.TaskGroup() as group:
            for _ in range(min(parallel, count)):
                group.create_task(worker())


def sample_report(samples: list[Sample]) -> dict[str, Any]:
    """Updates/s and latencies of one bot's timed updates."""
    ensure(bool(samples), "no update was timed")
    first = min(s.injected for s in samples)
    last = max(s.ended for s in samples)
    wall = last - first
    return {
        "updates": len(samples),
        "users": len({s.user_id for s in samples}),
        "wall_s": wall,
        "updates_per_s": len(samples) / wall,
        "handling": summary([s.handling for s in samples]),
        "end_to_end": summary([s.end_to_end for s in samples]),
        "queued": summary([s.started - s.injected for s in samples]),
        **costs(samples),
    }


def costs(samples: list[Sample]) -> dict[str, Any]:
    """What the handlers spent, per update: transactions, waiting in BEGIN IMMEDIATE, Bot API requests."""
    n = len(samples) or 1
    handling = sum(s.handling for s in samples) or 1.0
    return {
        "transactions_per_update": sum(s.transactions for s in samples) / n,
        "lock_wait_mean_ms": sum(s.lock_wait for s in samples) / n * 1000,
        "lock_wait_share": sum(s.lock_wait for s in samples) / handling,
        "api_calls_per_update": sum(s.api_calls for s in samples) / n,
        "api_mean_ms": sum(s.api_time for s in samples) / n * 1000,
        "api_share": sum(s.api_time for s in samples) / handling,
    }


# --- 1. the baseline: a bare PTB echo bot ---------------------------------------------------------------


async def echo_run(api: FakeBotApi, updates: int, users: int, parallel: int) -> dict[str, Any]:
    """A bare PTB Application echoing text, fed `updates` texts by `users` users in `parallel` streams."""
    recorder = Recorder()

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        token = CURRENT.set(recorder.started(update.update_id))
        error = None
        try:
            assert update.message is not None and update.message.text is not None
            await update.message.reply_text(update.message.text)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            recorder.ended(update.update_id, error)
            CURRENT.reset(token)

    app = (
        ApplicationBuilder()
        .token(api.token)
        .base_url(f"{api.url}/bot")
        .base_file_url(f"{api.url}/file/bot")
        .concurrent_updates(8)  # as TelegramChannel builds its Application
        .build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    people = [api.user(ECHO_IDS + i, f"Gema{i}") for i in range(users)]
    streams = [people[w::parallel] for w in range(min(parallel, users))]
    lag = LoopLag()

    async def stream(mine: list[FakeUser], count: int, tag: str) -> None:
        for i in range(count):
            user = mine[i % len(mine)]
            update_id = recorder.injected(user.send_text(f"{tag} pesan {i}"), "echo", user)
            await recorder.handled(update_id, user)

    async def run(total: int, tag: str) -> None:
        share, extra = divmod(total, len(streams))
        async with asyncio.TaskGroup() as group:
            for w, mine in enumerate(streams):
                group.create_task(stream(mine, share + (w < extra), tag))

    with instrumented(recorder):
        await app.initialize()
        try:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(
                poll_interval=0.0, timeout=POLL_TIMEOUT, allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY]
            )
            await run(WARMUP_ECHOES, "pemanasan")
            recorder.reset()
            lag.start()
            await run(updates, "uji")
            await lag.stop()
        finally:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
    ensure(not api.pending_updates, f"{len(api.pending_updates)} updates left unconfirmed by the echo bot")
    echoed = sum(1 for u in people for m in u.messages if m.text and " pesan " in m.text)
    ensure(echoed == updates + WARMUP_ECHOES, f"{echoed} echoes for {updates + WARMUP_ECHOES} texts")
    report = sample_report(list(recorder.samples.values()))
    report["streams"] = len(streams)
    report["loop"] = lag.report()
    return report


# --- 2. the SOP run -------------------------------------------------------------------------------------


async def sop_setup(office: Office) -> None:
    await upgrade(office.engine)
    roster = resources.files("suratbot.data").joinpath("roster_contoh.csv").read_text("utf-8")
    await import_roster(office, roster)
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)


async def sop_run(office: Office, api: FakeBotApi, clock: BenchClock, cast: Cast, args: argparse.Namespace) -> dict:
    recorder = Recorder()
    driver = SopDriver(clock, recorder, cast)
    lag = LoopLag()
    settings = TelegramSettings(
        api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot", poll_timeout=POLL_TIMEOUT
    )
    bot: Bot | None = None
    watch_transactions(office.engine, recorder)
    with instrumented(recorder):
        try:
            bot = await start_bot(office, telegram=settings, limits=FAST, outbox_poll=OUTBOX_POLL)
            for member in cast.members:
                await join(member)
            await driver.letters(1, WARMUP_LETTERS, 1)
            await outbox_idle(office)
            recorder.reset()
            driver.hops.clear()
            driver.letter_times.clear()
            rss_before = peak_rss_mb()
            lag.start()
            await driver.letters(WARMUP_LETTERS + 1, args.letters, args.parallel)
            await lag.stop()
            statuses = await outbox_idle(office)
        finally:
            if bot is not None:
                await bot.stop()
    samples = list(recorder.samples.values())
    report = sample_report(samples)
    report["letters"] = args.letters
    report["parallel"] = args.parallel
    report["steps"] = {}
    for kind in STEPS:
        mine = [s for s in samples if s.kind == kind]
        report["steps"][kind] = {**summary([s.handling for s in mine]), **costs(mine)}
    report["other_transactions"] = {
        "count": recorder.other_transactions,
        "lock_wait_mean_ms": recorder.other_lock_wait / max(recorder.other_transactions, 1) * 1000,
    }
    rest = [s for s in samples if s.kind != SIGNING]
    signing = [(s.started, s.ended) for s in samples if s.kind == SIGNING]
    report["without_signature"] = {
        "handling": summary([s.handling for s in rest]),
        "end_to_end": summary([s.end_to_end for s in rest]),
        # the updates handled while no signature was being made: what the rest costs on its own
        "alone": summary([s.handling for s in rest if not overlaps((s.started, s.ended), signing)]),
        **costs(rest),
    }
    report["signature"] = {
        "handling": summary([s.handling for s in samples if s.kind == SIGNING]),
        "end_to_end": summary([s.end_to_end for s in samples if s.kind == SIGNING]),
    }
    report["outbox_hop"] = summary([max(h, 0.0) for h in driver.hops])
    report["outbox_hop"]["over_1s"] = sum(1 for h in driver.hops if h > 1.0)
    report["outbox_hop"]["outbox_poll_s"] = OUTBOX_POLL
    report["letter_wall"] = summary(driver.letter_times)
    report["loop"] = lag.report(signing)
    report["rss_mb"] = {"before_timed_letters": rss_before, "after": peak_rss_mb()}
    report["fake_server_bytes"] = (
        sum(len(m.document[1]) for member in cast.members for m in member.user.messages if m.document)
        + driver.pdf_bytes
    )
    report["outbox_statuses"] = dict(statuses)
    report["checks"] = await sop_checks(office, args.letters + WARMUP_LETTERS, statuses, cast)
    return report


async def sop_checks(office: Office, letters: int, statuses: Counter[str], cast: Cast) -> dict[str, Any]:
    async with office.uow() as uow:
        rows = (await uow.session.execute(select(Letter.state, Letter.nomor))).all()
    ensure(len(rows) == letters, f"{len(rows)} letters in the database, expected {letters}")
    ensure(all(state == "terkirim" for state, _ in rows), f"states: {Counter(state for state, _ in rows)}")
    numbers = {nomor for _, nomor in rows}
    ensure(len(numbers) == letters and None not in numbers, "letter numbers are missing or repeated")
    ensure(set(statuses) <= {"sent", "usang"}, f"outbox statuses: {dict(statuses)}")
    apologies = sum(
        1 for m in cast.members for msg in m.user.messages if "terjadi kesalahan" in (msg.text or msg.caption or "")
    )
    ensure(apologies == 0, f"the bot apologised for an error {apologies} times")
    return {"letters_terkirim": len(rows), "distinct_numbers": len(numbers), "outbox": dict(statuses)}


# --- 3. the outbox draining a backlog -------------------------------------------------------------------


PATTERNS = {
    "spread": "round-robin over the chats: only the overall 30/s binds",
    "bunched": "each chat's notifications queued one after another: the 1 s per chat binds too",
}


async def outbox_run(sop: Sop, notifications: int, chats: int, pattern: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="suratbot-tgbench-outbox-") as tmp:
        clock = BenchClock(sop.calendar)
        office = Office.open(sop, f"sqlite+aiosqlite:///{Path(tmp) / 'suratbot.db'}", Path(tmp) / "data", clock=clock)
        api = FakeBotApi()
        channel: TelegramChannel | None = None
        try:
            await upgrade(office.engine)
            await api.start()
            users = await _recipients(office, api, notifications, chats, bunched=pattern == "bunched")
            channel = TelegramChannel(office, api.token, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot")
            await channel.application.initialize()  # getMe; no polling: the sender only sends
            sender = OutboxSender(office, {"telegram": channel}, limits=Limits())
            stop = asyncio.Event()
            started = time.monotonic()
            task = asyncio.create_task(sender.run(stop))
            deadline = started + notifications / TELEGRAM_RATE * 2 + 30
            while sender.sent < notifications:
                ensure(not task.done(), "the outbox sender stopped")
                ensure(time.monotonic() < deadline, f"only {sender.sent} of {notifications} sent in time")
                await asyncio.sleep(0.02)
            stop.set()
            sender.wake()
            await task
            async with office.uow() as uow:
                rows = await uow.session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                )
                statuses = Counter({status: count for status, count in rows.all()})
        finally:
            if channel is not None:
                await channel.application.shutdown()
            await api.stop()
            await office.close()
    per_chat = [api.sent_per_chat_times(u.user_id) for u in users]
    times = sorted(t for chat in per_chat for t in chat)
    ensure(len(times) == notifications, f"{len(times)} messages at the fake for {notifications} notifications")
    ensure(statuses == Counter({"sent": notifications}), f"outbox statuses after the drain: {dict(statuses)}")
    gaps = [b - a for chat in per_chat for a, b in itertools.pairwise(chat)]
    busiest, over, j = 0, 0, 0
    for i, t in enumerate(times):  # the most messages in any one-second window, and how often it held over 30
        while times[j] <= t - 1.0:
            j += 1
        busiest = max(busiest, i - j + 1)
        over += i - j + 1 > TELEGRAM_RATE + 1  # exact 1/30 s spacing puts 31 in a closed 1 s window
    elapsed = times[-1] - started
    rate = notifications / elapsed
    return {
        "pattern": pattern,
        "notifications": notifications,
        "chats": chats,
        "elapsed_s": elapsed,
        "messages_per_s": rate,
        "share_of_limit": rate / TELEGRAM_RATE,
        "steady_messages_per_s": (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else None,
        "first_after_s": times[0] - started,
        "min_chat_gap_s": min(gaps) if gaps else None,
        "busiest_second": busiest,
        "sent_over_31_in_1s": over,  # messages sent when the last second (them included) held more than 31
    }


async def _recipients(
    office: Office, api: FakeBotApi, notifications: int, chats: int, *, bunched: bool
) -> list[FakeUser]:
    """`chats` people outside the roster (one unit), bound to Telegram, and `notifications` queued for them:
    round-robin, or `bunched` (each person's one after another)."""
    now = office.now()
    users = [api.user(CHAT_IDS + i, f"Pegawai{i}") for i in range(chats)]
    async with office.uow() as uow:
        session = uow.session
        unit = Unit(name="Bidang Uji Beban")
        session.add(unit)
        await session.flush()
        people = [
            Staff(
                nip=f"19900101{i:010d}",
                nama=f"Pegawai Uji {i}",
                jabatan="Pelaksana",
                unit_id=unit.id,
                telepon=f"+62812300{i:05d}",
                created_at=now,
                updated_at=now,
            )
            for i in range(chats)
        ]
        session.add_all(people)
        await session.flush()
        for person, user in zip(people, users, strict=True):
            session.add(
                ChannelBinding(
                    staff_id=person.id, channel="telegram", address=str(user.user_id), bound_at=now, last_seen_at=now
                )
            )
        for k in range(notifications):
            person = people[k * chats // notifications] if bunched else people[k % chats]
            text = f"\u2139\ufe0f Kabar ke-{k + 1} untuk {person.nama}: surat Anda sudah diproses."
            session.add(outbox_row(Notice(person.id, "kabar", text), None, now))
    return users


# --- report ----------------------------------------------------------------------------------------------


def _lat(s: dict[str, Any]) -> str:
    if not s["count"]:
        return "-"
    return f"p50 {s['p50_ms']:.2f} ms, p90 {s['p90_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms, max {s['max_ms']:.1f} ms"


def _loop(r: dict[str, Any]) -> str:
    line = (
        f"event loop: wake-up lateness p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.0f} ms; "
        f"{r['stalls']} stalls > {LoopLag.STALL * 1000:.0f} ms ({r['stalled_s']:.2f} s in all)"
    )
    if "stalls_in_signing" in r:
        line += f", of which {r['stalls_in_signing']} ({r['stalled_in_signing_s']:.2f} s) during a signature"
    return line


def print_echo(r: dict[str, Any]) -> None:
    print(
        f"baseline: bare PTB echo bot, {r['updates']} text updates from {r['users']} users in {r['streams']} "
        f"streams: {r['wall_s']:.2f} s, {r['updates_per_s']:.0f} updates/s"
    )
    print(f"  handling    {_lat(r['handling'])}")
    print(f"  end to end  {_lat(r['end_to_end'])}")
    print(f"  {r['api_calls_per_update']:.1f} Bot API request per update, {r['api_mean_ms']:.2f} ms on average")
    print(f"  {_loop(r['loop'])}")
    print(f"  peak RSS after the echo run: {r['rss_mb']:.0f} MiB (the process, with suratbot imported)")
    print()


def print_sop(r: dict[str, Any], echo: dict[str, Any]) -> None:
    print(
        f"suratbot: {r['letters']} letters through the whole SOP (+{WARMUP_LETTERS} warm-up, not counted), "
        f"{r['parallel']} at a time: {r['updates']} updates from {r['users']} users in {r['wall_s']:.2f} s = "
        f"{r['updates_per_s']:.1f} updates/s = {r['updates_per_s'] / echo['updates_per_s']:.3f}x the echo bot "
        f"({echo['updates_per_s']:.0f}/s)"
    )
    print(
        f"  {'update':<27}{'count':>6}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'max ms':>8}{'mean ms':>8}"
        f"{'share':>6}{'tx':>5}{'BEGIN ms':>9}{'API':>5}{'API ms':>8}"
    )
    total = sum(s["total_s"] for s in r["steps"].values())
    for kind, what in STEPS.items():
        s = r["steps"][kind]
        print(
            f"  {what:<27}{s['count']:>6}{s['p50_ms']:>8.1f}{s['p90_ms']:>8.1f}{s['p99_ms']:>8.1f}{s['max_ms']:>8.0f}"
            f"{s['mean_ms']:>8.1f}{s['total_s'] / total:>6.0%}{s['transactions_per_update']:>5.1f}"
            f"{s['lock_wait_mean_ms']:>9.1f}{s['api_calls_per_update']:>5.1f}{s['api_mean_ms']:>8.1f}"
        )
    print(
        "  (share: of all handler time; tx: database transactions per update; BEGIN ms: mean time per update in "
        "their BEGIN IMMEDIATE, i.e. waiting for SQLite's write lock; API: Bot API requests per update, and the "
        "mean time per update in them)"
    )
    ws, sig = r["without_signature"], r["signature"]
    print(f"  all but the signature: handling {_lat(ws['handling'])}")
    print(f"                         end to end {_lat(ws['end_to_end'])}")
    print(
        f"                         handled while no signature was running ({ws['alone']['count']} updates): "
        f"{_lat(ws['alone'])}"
    )
    print(f"  the signature:         handling {_lat(sig['handling'])}")
    other = r["other_transactions"]
    print(
        f"  database, all but the signature: {ws['transactions_per_update']:.1f} transactions per update, "
        f"{ws['lock_wait_mean_ms']:.1f} ms per update waiting in BEGIN IMMEDIATE = {ws['lock_wait_share']:.0%} of "
        f"handler time (Bot API requests: {ws['api_share']:.0%}); meanwhile the outbox sender (and the harness's "
        f"checks) ran {other['count']} transactions, waiting {other['lock_wait_mean_ms']:.1f} ms each on average"
    )
    hop = r["outbox_hop"]
    print(
        f"  outbox hop (update handled -> next person's task at the fake, {hop['count']}): {_lat(hop)}; "
        f"{hop['over_1s']} over 1 s (the sender's fallback poll is {hop['outbox_poll_s']:.0f} s: a hop near it is a "
        "wake-up that did not arrive)"
    )
    print(f"  one letter, first update injected -> last handled: {_lat(r['letter_wall'])}")
    print(f"  {_loop(r['loop'])}")
    rss = r["rss_mb"]
    print(
        f"  peak RSS: {rss['after']:.0f} MiB ({rss['before_timed_letters']:.0f} MiB before the timed letters); "
        f"the fake server holds {r['fake_server_bytes'] / 1_048_576:.1f} MiB of PDFs of it"
    )
    c = r["checks"]
    print(
        f"  checks: {c['letters_terkirim']} letters terkirim, {c['distinct_numbers']} distinct numbers, "
        f"outbox {c['outbox']}, no handler failed"
    )
    print()


def print_outbox(r: dict[str, Any]) -> None:
    print(
        f"outbox drain, {r['pattern']} ({PATTERNS[r['pattern']]}): {r['notifications']} queued notifications to "
        f"{r['chats']} chats with Limits() ({TELEGRAM_RATE:.0f}/s, 1 s per chat)"
    )
    print(
        f"  all sent in {r['elapsed_s']:.2f} s = {r['messages_per_s']:.2f} messages/s = {r['share_of_limit']:.1%} of "
        f"{TELEGRAM_RATE:.0f}/s (first after {r['first_after_s'] * 1000:.0f} ms; {r['steady_messages_per_s']:.2f}/s "
        "first to last)"
    )
    print(
        f"  shortest gap between two messages to one chat: {r['min_chat_gap_s']:.3f} s; most messages in any 1 s: "
        f"{r['busiest_second']} ({r['sent_over_31_in_1s']} messages went out while the last second held more than "
        f"{TELEGRAM_RATE + 1:.0f}, which exact 1/30 s spacing would not do)"
    )
    print()


def print_aims(
    echo: dict[str, Any] | None, sop: dict[str, Any] | None, outboxes: list[dict[str, Any]]
) -> dict[str, Any]:
    aims: dict[str, Any] = {}
    if echo is not None and sop is not None:
        ratio = sop["updates_per_s"] / echo["updates_per_s"]
        p99 = sop["without_signature"]["handling"]["p99_ms"]
        rss = sop["rss_mb"]["after"]
        aims["throughput_ratio"] = {"value": ratio, "aim": AIM_RATIO, "met": ratio >= AIM_RATIO}
        aims["p99_ms_without_signature"] = {"value": p99, "aim": AIM_P99_MS, "met": p99 < AIM_P99_MS}
        aims["peak_rss_mb"] = {"value": rss, "aim": AIM_RSS_MB, "met": rss < AIM_RSS_MB}
    for outbox in outboxes:
        share, gap, pattern = outbox["share_of_limit"], outbox["min_chat_gap_s"], outbox["pattern"]
        met = share >= AIM_OUTBOX_SHARE
        aims[f"outbox_share_{pattern}"] = {"value": share, "aim": AIM_OUTBOX_SHARE, "met": met}
        met = gap is None or gap >= 1.0 - GAP_JITTER
        aims[f"outbox_min_chat_gap_s_{pattern}"] = {"value": gap, "aim": 1.0, "met": met}
    labels = {
        "throughput_ratio": ("updates/s vs the echo bot", "{:.3f}x", ">= {}x"),
        "p99_ms_without_signature": ("p99 handling, signature excluded", "{:.1f} ms", "< {:.0f} ms"),
        "peak_rss_mb": ("peak RSS", "{:.0f} MiB", "< {:.0f} MB"),
    }
    for pattern in PATTERNS:
        labels[f"outbox_share_{pattern}"] = (f"outbox rate, {pattern}", "{:.1%}", ">= {:.0%} of 30 msg/s")
        labels[f"outbox_min_chat_gap_s_{pattern}"] = (
            f"shortest per-chat gap, {pattern}",
            "{:.3f} s",
            ">= {:.0f} s, " + f"{GAP_JITTER * 1000:.0f} ms of jitter allowed",
        )
    for key, aim in aims.items():
        name, value, target = labels[key]
        print(
            f"aim {name}: {value.format(aim['value'])} ({target.format(aim['aim'])}): {'YES' if aim['met'] else 'NO'}"
        )
    return aims


def environment() -> dict[str, Any]:
    versions = {}
    for dist in ("python-telegram-bot", "httpx", "aiohttp", "SQLAlchemy", "aiosqlite", "pyHanko"):
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
    }


# --- main ------------------------------------------------------------------------------------------------


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    sop = load_sop()
    env = environment()
    print(
        f"suratbot Telegram benchmark: {args.letters} letters, {args.parallel} at a time; outbox drain of "
        f"{args.notifications} notifications to {args.chats} chats; Python {env['python']}, "
        f"python-telegram-bot {env['packages']['python-telegram-bot']}, SQLite {env['sqlite_library']}, "
        f"{env['cpus']} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(f"peak RSS after imports: {peak_rss_mb():.0f} MiB")
    print()
    report: dict[str, Any] = {"environment": env, "args": {k: v for k, v in vars(args).items() if k != "json"}}
    echo_r = sop_r = None
    outboxes: list[dict[str, Any]] = []
    if args.letters:
        with tempfile.TemporaryDirectory(prefix="suratbot-tgbench-") as tmp:
            clock = BenchClock(sop.calendar)
            office = Office.open(
                sop, f"sqlite+aiosqlite:///{Path(tmp) / 'suratbot.db'}", Path(tmp) / "data", clock=clock
            )
            api = FakeBotApi()
            try:
                await sop_setup(office)
                await api.start()
                cast = await load_cast(office, api)
                echo_r = await echo_run(api, len(STEPS) * args.letters, len(cast.members), args.parallel)
                echo_r["rss_mb"] = peak_rss_mb()
                print_echo(echo_r)
                sop_r = await sop_run(office, api, clock, cast, args)
                ensure(sop_r["updates"] == echo_r["updates"], f"{sop_r['updates']} updates, {echo_r['updates']} echoes")
                print_sop(sop_r, echo_r)
            finally:
                await api.stop()
                await office.close()
    if args.notifications:
        for pattern in PATTERNS:
            outboxes.append(await outbox_run(sop, args.notifications, args.chats, pattern))
            print_outbox(outboxes[-1])
    report.update(echo=echo_r, sop=sop_r, outbox=outboxes)
    report["aims"] = print_aims(echo_r, sop_r, outboxes)
    report["peak_rss_mb"] = peak_rss_mb()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--letters", type=int, help="letters through the SOP (default 500; 0 skips the bot runs)")
    parser.add_argument("--parallel", type=int, default=3, help="letters (and echo streams) in flight at once (3)")
    parser.add_argument("--notifications", type=int, help="queued notifications to drain (default 1000; 0 skips)")
    parser.add_argument("--chats", type=int, help="chats they go to (default 200)")
    parser.add_argument("--quick", action="store_true", help="a fast check: 50 letters, 300 notifications to 60 chats")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    quick = args.quick
    args.letters = args.letters if args.letters is not None else (50 if quick else 500)
    args.notifications = args.notifications if args.notifications is not None else (300 if quick else 1000)
    args.chats = args.chats if args.chats is not None else (60 if quick else 200)
    if args.letters < 0 or args.notifications < 0 or args.parallel < 1 or args.chats < 1:
        parser.error("--letters and --notifications must be >= 0, --parallel and --chats >= 1")
    report = asyncio.run(main_async(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
