"""Property-based test of the SOP: random people take random actions on random letters, and nothing breaks.

Each hypothesis example is a fresh office (a copy of the migrated SQLite template, or the test PostgreSQL
database truncated) with the example roster, then up to 25 steps over 1–3 letters. A step is a random actor
(biased towards the letter's holder so letters do travel the whole flow), a random letter, a random service
call and maybe a random ``expected_state``. An independent model of the SOP predicts whether the call must
succeed and where it leads; a refusal must carry an Indonesian sentence and change nothing at all. After
every step the invariants of the SOP are checked on the whole database: states, holders, the audit chain,
the path of every sent letter, and the letter numbers.

Function-scoped fixtures and ``@given`` do not mix, so the test is a plain (sync) pytest test per backend
that defines and runs a ``@given`` function inside, each example in its own ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Row, func, select

from suratbot.services import letters
from suratbot.services.notices import DISPATCH_ROUTES
from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.storage.db import create_engine
from suratbot.storage.files import FileStore
from suratbot.storage.models import (
    AuditEvent,
    FileVersion,
    IssuedNumber,
    Letter,
    NumberCounter,
    OutboxMessage,
    Staff,
    UnitVerifier,
)
from suratbot.workflow.letter import KLASIFIKASI_RE, clean_note
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop
from tests.conftest import WIB, FakeClock, empty_postgres, roster_text
from tests.helpers import META, People, fresh_pdf, pdf, people

pytestmark = pytest.mark.slow
COVERED: Counter[str] = Counter()

EXAMPLES = {"sqlite": 50, "postgresql": 30}
MAX_STEPS = 25

# --- the SOP as this test reads it (independent of the product's machine) -------------------------------

STATES = ("konsep", "verifikasi_1", "verifikasi_2", "penomoran", "tanda_tangan", "pengiriman", "terkirim", "dibatalkan")
FINAL = frozenset({"terkirim", "dibatalkan"})
#: The forward step out of each state: (audit action, next state).
FORWARD = {
    "verifikasi_1": ("setujui", "verifikasi_2"),
    "verifikasi_2": ("setujui", "penomoran"),
    "penomoran": ("beri_nomor", "tanda_tangan"),
    "tanda_tangan": ("tandatangani", "pengiriman"),
    "pengiriman": ("kirim", "terkirim"),
}
#: Every step a sent letter must have passed, in this order (revision rounds may come in between).
REQUIRED_PATH = [
    ("ajukan", "konsep", "verifikasi_1"),
    ("setujui", "verifikasi_1", "verifikasi_2"),
    ("setujui", "verifikasi_2", "penomoran"),
    ("beri_nomor", "penomoran", "tanda_tangan"),
    ("tandatangani", "tanda_tangan", "pengiriman"),
    ("kirim", "pengiriman", "terkirim"),
]
SEND_BACK = frozenset({"revisi", "kembalikan"})
NUMBERED_STATES = frozenset({"tanda_tangan", "pengiriman", "terkirim"})
NEVER_NUMBERED_STATES = frozenset({"verifikasi_1", "verifikasi_2", "penomoran"})  # resubmit_to = "asker"

#: service name -> the audit action it records
AUDIT_ACTION = {
    "approve": "setujui",
    "request_revision": "revisi",
    "resubmit": "ajukan_ulang",
    "assign_number": "beri_nomor",
    "return_letter": "kembalikan",
    "record_signature": "tandatangani",
    "dispatch": "kirim",
    "cancel": "batalkan",
}
ACTIONS = ("submit", *AUDIT_ACTION)
#: The service that moves a letter on from each state, and the one that sends it back.
NEXT_ACTION = {
    "konsep": "resubmit",
    "verifikasi_1": "approve",
    "verifikasi_2": "approve",
    "penomoran": "assign_number",
    "tanda_tangan": "record_signature",
    "pengiriman": "dispatch",
}
SEND_BACK_ACTION = {
    "verifikasi_1": "request_revision",
    "verifikasi_2": "request_revision",
    "tanda_tangan": "return_letter",
}
NOTE_ACTIONS = frozenset({"request_revision", "return_letter", "cancel"})
NO_EXPECTED_STATE = frozenset({"submit", "resubmit", "cancel"})  # these services take no expected_state
#: Words of which every refusal sentence has at least one (a cheap "is it Indonesian" check).
INDONESIAN_WORDS = frozenset({"surat", "anda", "tidak", "ini", "belum", "sudah", "catatan", "harus", "berkas", "kode"})


# --- the steps ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    plan: str  # "maju": the holder moves the letter on; "balik": the holder sends it back; "baru": a drafter
    #            submits a new letter; "acak": a random person (`who`) tries a random service (`action`)
    who: str | int = "holder"  # for "acak": "holder", "drafter", or an index into the roster (by staff id)
    action: str = "approve"  # for "acak": one of ACTIONS
    pick: int = 0  # which letter, modulo the letters made so far (or which drafter submits)
    note: str = "Mohon diperbaiki."
    expected: str | None = None  # expected_state: None, "current" (a fresh button), or any state (maybe stale)
    route: str = "email"
    klasifikasi: str | None = None  # assign_number's correction of the classification code
    letter_date: date | None = None  # assign_number's letter date (default: today in WIB)
    minutes: int = 5  # the office clock moves this far before the step


NOTES = st.one_of(
    st.just(""),
    st.just("  \n "),
    st.sampled_from(["Mohon perbaiki tanggal surat.", "Lampiran belum ada", "  Salah alamat tujuan  "]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
)
STEP = st.builds(
    Step,
    plan=st.sampled_from(["maju"] * 5 + ["balik", "baru"] + ["acak"] * 4),
    who=st.one_of(st.sampled_from(["holder", "drafter"]), st.integers(0, 10)),
    action=st.sampled_from(ACTIONS),
    pick=st.integers(0, 5),
    note=NOTES,
    # mostly no expected_state or a fresh button's; one step in five an arbitrary (often stale) one
    expected=st.one_of(st.none(), st.none(), st.just("current"), st.just("current"), st.sampled_from([*STATES, "x"])),
    route=st.sampled_from([*DISPATCH_ROUTES, "merpati_pos"]),
    klasifikasi=st.sampled_from([None, None, None, "000.1.2.3", "800.1", "bukan-kode"]),
    letter_date=st.sampled_from([None, None, None, date(2026, 12, 30), date(2027, 1, 4)]),
    minutes=st.integers(0, 240),
)
#: A fixed walk run first on every run: two revision rounds before a letter is sent, stale buttons, a number
#: given on each side of new year, and a numbered letter cancelled.
STORY = [
    Step("maju"),  # no letter yet: the first drafter submits letter A -> verifikasi_1
    Step("maju", expected="current"),  # verifier 1 approves -> verifikasi_2
    Step("acak", action="approve", expected="verifikasi_1"),  # verifier 2 taps an old verifier-1 button: refused
    Step("balik", note=""),  # a revision without a note: refused
    Step("balik", note="  Perbaiki dasar hukumnya. "),  # verifier 2 sends it back -> konsep
    Step("maju"),  # the drafter resubmits -> verifikasi_2 (whoever asked; the first paraf stands)
    Step("maju"),  # -> penomoran
    Step("maju", minutes=60),  # numbered on 31 December 2026 -> tanda_tangan
    Step("balik", note="Tanggal salah."),  # Kepala Dinas returns it -> konsep, the number stays
    Step("maju"),  # resubmitted -> tanda_tangan, not numbered again
    Step("maju"),  # signed -> pengiriman
    Step("acak", action="dispatch", route="merpati_pos"),  # an unknown route: refused
    Step("maju", expected="current"),  # sent -> terkirim
    Step("maju"),  # nothing moves a sent letter: refused
    Step("acak", action="submit", pick=1),  # the second drafter submits letter B
    Step("maju", pick=1),
    Step("maju", pick=1),  # -> penomoran
    Step("maju", pick=1, minutes=600),  # numbered after new year: serial 1 of 2027
    Step("acak", who="drafter", action="cancel", pick=1, note="Acara ditunda."),  # numbered: not the drafter's
    Step("acak", who="holder", action="cancel", pick=1, note=" "),  # a cancel without a reason: refused
    Step("acak", who="holder", action="cancel", pick=1, note="Acara ditunda."),  # Kepala cancels, number kept
    Step("acak", action="submit", pick=2),  # the third drafter submits letter C
    Step("maju", pick=2),
    Step("maju", pick=2),
    Step("maju", pick=2, klasifikasi="000.1.2.3"),  # numbered with a corrected code: serial 2 of 2027, not 1 again
]
STARTS = st.sampled_from(
    [
        datetime(2026, 11, 25, 9, 0, tzinfo=WIB),  # a working Wednesday
        datetime(2026, 12, 31, 14, 0, tzinfo=WIB),  # numbers on both sides of new year (the serial restarts)
    ]
)


# --- the model and the checks -----------------------------------------------------------------------------


@dataclass
class Model:
    """What the test expects of one letter, kept apart from the product's own bookkeeping."""

    drafter_id: int
    unit_id: int
    state: str = "verifikasi_1"
    return_state: str | None = None
    events: int = 2  # buat + ajukan
    numbered: bool = False  # a number, once given, stays with the letter


@dataclass(frozen=True)
class Snapshot:
    """Every row a service may write (file versions by count): a refusal must leave all of it equal."""

    letters: dict[str, Row[Any]]
    audit: tuple[Row[Any], ...]
    outbox: tuple[Row[Any], ...]
    numbers: tuple[Row[Any], ...]
    counters: dict[str, int]
    file_versions: int


async def snapshot(office: Office) -> Snapshot:
    async with office.uow() as uow:
        s = uow.session

        async def rows(model: Any) -> tuple[Row[Any], ...]:
            table = model.__table__
            return tuple((await s.execute(select(table).order_by(*table.primary_key.columns))).all())

        return Snapshot(
            letters={row.id: row for row in await rows(Letter)},
            audit=await rows(AuditEvent),
            outbox=await rows(OutboxMessage),
            numbers=await rows(IssuedNumber),
            counters={row.scope: row.last_serial for row in await rows(NumberCounter)},
            file_versions=int(await s.scalar(select(func.count()).select_from(FileVersion)) or 0),
        )


class Walk:
    """One example: run the steps on a fresh office, checking the model and the invariants after each."""

    def __init__(self, office: Office, clock: FakeClock) -> None:
        self.office = office
        self.sop: Sop = office.sop
        self.clock = clock
        self.models: dict[str, Model] = {}
        self.order: list[str] = []  # letter ids in the order they were made
        self.refusals = 0

    async def setup(self) -> None:
        async with self.office.uow() as uow:
            staff = list((await uow.session.scalars(select(Staff).order_by(Staff.id))).all())
            chains = (await uow.session.scalars(select(UnitVerifier))).all()
        self.people = People(staff)
        self.roster = [s.id for s in staff]
        self.roles = {s.id: s.roles for s in staff}
        self.active = {s.id: s.active for s in staff}
        self.unit_of = {s.id: s.unit_id for s in staff}
        self.verifier = {(v.unit_id, v.level): v.staff_id for v in chains}
        self.drafters = [s.id for s in staff if "konseptor" in s.roles]
        self.pengelola = min(s.id for s in staff if "pengelola" in s.roles and s.active)
        self.kepala = min(s.id for s in staff if "kepala" in s.roles and s.active)
        p = self.people
        # The chains the roster file describes (a sanity check of the expectations below).
        assert len(self.roster) == 11 and len(self.drafters) == 3
        assert (self.verifier[(self.unit_of[p.drafter], 1)], self.verifier[(self.unit_of[p.drafter], 2)]) == (
            p.kasi,
            p.kabid,
        )
        assert self.verifier[(self.unit_of[p.sekretariat_drafter], 1)] == p.kasubag
        assert self.verifier[(self.unit_of[p.sekretariat_drafter], 2)] == p.sekretaris
        assert self.verifier[(self.unit_of[p.other_drafter], 1)] == p.other_kasi
        assert (self.pengelola, self.kepala) == (p.clerk, p.kepala)
        self.snap = await snapshot(self.office)

    def expected_holder(self, state: str, drafter_id: int, unit_id: int) -> int | None:
        """Who the SOP says holds a letter in `state`."""
        match state:
            case "konsep":
                return drafter_id
            case "verifikasi_1":
                return self.verifier[(unit_id, 1)]
            case "verifikasi_2":
                return self.verifier[(unit_id, 2)]
            case "penomoran" | "pengiriman":
                return self.pengelola
            case "tanda_tangan":
                return self.kepala
            case _:
                assert state in FINAL, state
                return None

    # -- one step ------------------------------------------------------------------------------------------

    async def run(self, steps: list[Step], max_letters: int) -> None:
        await self.setup()
        for index, step in enumerate(steps):
            try:
                await self.step(step, max_letters)
            except AssertionError as exc:
                raise AssertionError(f"step {index}: {step}\n{exc}") from exc
        self.report()

    def report(self) -> None:
        """Count what this example covered (the test checks the run reached the interesting corners)."""

        def event(text: str) -> None:
            COVERED[text] += 1

        snap = self.snap
        for row in snap.letters.values():
            event(f"a letter ended in {row.state}")
            actions = {e.action for e in snap.audit if e.letter_id == row.id}
            if row.state == "terkirim" and actions & SEND_BACK:
                event("a letter was sent after a revision round")
            if row.state == "dibatalkan" and row.nomor:
                event("a numbered letter was cancelled")
        if len(snap.counters) > 1:
            event("numbers were given in two years")
        if any(serial > 1 for serial in snap.counters.values()):
            event("two numbers were given in one year")
        event(f"walks of {len(snap.audit) // 10 * 10}+ audit events")
        event(f"refusals: {self.refusals // 5 * 5}+")
        event("steps run")

    async def step(self, step: Step, max_letters: int) -> None:
        self.clock.advance(minutes=step.minutes)
        action = {"acak": step.action, "baru": "submit"}.get(step.plan, step.plan)
        if action == "submit" and len(self.order) >= max_letters:
            action = "maju"
        if not self.order:
            action = "submit"
        letter_id = None if action == "submit" else self.order[step.pick % len(self.order)]
        model = self.models[letter_id] if letter_id else None
        if action in ("maju", "balik"):
            assert model is not None
            action = (NEXT_ACTION if action == "maju" else SEND_BACK_ACTION).get(model.state, "approve")
        actor = self.actor(step, model)
        expected = None  # what the actor's button says the letter is at
        if action not in NO_EXPECTED_STATE and model is not None:
            expected = model.state if step.expected == "current" else step.expected
        predicted = self.predict(action, model, actor, step, expected)

        before = self.snap
        call = self.call(action, letter_id, actor, step, expected)
        try:
            result = await call()
        except Refusal as refusal:
            self.refusals += 1
            after = await snapshot(self.office)
            assert isinstance(refusal.message, str) and refusal.message.strip(), refusal
            words = set(refusal.message.lower().replace(".", " ").replace(",", " ").replace(":", " ").split())
            assert words & INDONESIAN_WORDS, f"not an Indonesian sentence: {refusal.message!r}"
            assert predicted is None, f"{action} by {actor} refused ({refusal.code}), expected -> {predicted}"
            assert after == before, f"refused {action} ({refusal.code}) changed the database"
            self.snap = after
            self.check_invariants()
            return
        assert predicted is not None, f"{action} by {actor} on {model} was allowed (-> {result.state})"
        assert result.state == predicted
        self.snap = await snapshot(self.office)
        self.apply(action, result, model, predicted, actor, step, before)
        self.check_invariants()

    def actor(self, step: Step, model: Model | None) -> int:
        who = step.who if step.plan == "acak" else "holder"
        if isinstance(who, int):
            return self.roster[who]
        if model is None:  # a new concept: one of the drafters
            return self.drafters[step.pick % len(self.drafters)]
        if who == "drafter":
            return model.drafter_id
        holder = self.expected_holder(model.state, model.drafter_id, model.unit_id)
        return holder if holder is not None else model.drafter_id

    def call(
        self, action: str, letter_id: str | None, actor: int, step: Step, expected: str | None
    ) -> Callable[[], Any]:
        office = self.office
        match action:
            case "submit":
                return lambda: letters.submit(office, actor, fresh_pdf(), META)
            case "approve":
                return lambda: letters.approve(office, letter_id, actor, expected_state=expected)
            case "request_revision":
                return lambda: letters.request_revision(office, letter_id, actor, step.note, expected_state=expected)
            case "resubmit":
                return lambda: letters.resubmit(office, letter_id, actor, pdf(2), note=step.note or None)
            case "assign_number":
                return lambda: letters.assign_number(
                    office,
                    letter_id,
                    actor,
                    klasifikasi=step.klasifikasi,
                    letter_date=step.letter_date,
                    expected_state=expected,
                )
            case "return_letter":
                return lambda: letters.return_letter(office, letter_id, actor, step.note, expected_state=expected)
            case "record_signature":
                return lambda: letters.record_signature(office, letter_id, actor, pdf(9), expected_state=expected)
            case "dispatch":
                return lambda: letters.dispatch(office, letter_id, actor, route=step.route, expected_state=expected)
            case "cancel":
                return lambda: letters.cancel(office, letter_id, actor, step.note)
        raise AssertionError(action)  # pragma: no cover

    def predict(self, action: str, model: Model | None, actor: int, step: Step, expected: str | None) -> str | None:
        """The state the call must lead to, or None when the SOP says it must be refused."""
        if action == "submit":
            return "verifikasi_1" if "konseptor" in self.roles[actor] else None
        assert model is not None
        state = model.state
        if state in FINAL or (expected is not None and expected != state):
            return None
        is_holder = actor == self.expected_holder(state, model.drafter_id, model.unit_id)
        has_note = clean_note(step.note) is not None
        match action:
            case "approve" if state in ("verifikasi_1", "verifikasi_2") and is_holder:
                return FORWARD[state][1]
            case "request_revision" if state in ("verifikasi_1", "verifikasi_2") and is_holder and has_note:
                return "konsep"
            case "return_letter" if state == "tanda_tangan" and is_holder and has_note:
                return "konsep"
            case "resubmit" if state == "konsep" and is_holder and model.return_state is not None:
                return model.return_state  # resubmit_to = "asker"
            case "assign_number" if state == "penomoran" and is_holder:
                ok = step.klasifikasi is None or KLASIFIKASI_RE.fullmatch(step.klasifikasi)
                today = self.clock.now.astimezone(WIB).date()
                in_time = step.letter_date is None or step.letter_date <= today  # never dated after today
                return "tanda_tangan" if ok and in_time else None
            case "record_signature" if state == "tanda_tangan" and is_holder:
                return "pengiriman"
            case "dispatch" if state == "pengiriman" and is_holder and step.route in DISPATCH_ROUTES:
                return "terkirim"
            case "cancel" if has_note and state in ("tanda_tangan", "pengiriman"):
                # A numbered letter: only an admin or Kepala Dinas may cancel it.
                return "dibatalkan" if self.roles[actor] & {"admin", "kepala"} else None
            case "cancel" if has_note and model.numbered:
                # A numbered letter, also when back in an early state after a return: only admin / Kepala Dinas.
                return "dibatalkan" if self.roles[actor] & {"admin", "kepala"} else None
            case "cancel" if has_note and (actor == model.drafter_id or self.roles[actor] & {"admin", "kepala"}):
                return "dibatalkan"
        return None

    def apply(
        self, action: str, result: Letter, model: Model | None, new_state: str, actor: int, step: Step, before: Snapshot
    ) -> None:
        """Update the model after an allowed call and check what that one call wrote."""
        snap = self.snap
        if action == "submit":
            assert result.id not in before.letters and result.drafter_id == actor
            model = self.models[result.id] = Model(drafter_id=actor, unit_id=self.unit_of[actor])
            self.order.append(result.id)
            old_state = "konsep"
        else:
            assert model is not None
            old_state = model.state
            model.events += 1
            if action in ("request_revision", "return_letter"):
                model.return_state = old_state
            elif action in ("resubmit", "cancel"):
                model.return_state = None
            if action == "assign_number":
                model.numbered = True
            model.state = new_state

        # The audit event of this call: who, from where to where, and the note (stripped).
        new_events = [e for e in snap.audit[len(before.audit) :] if e.letter_id == result.id]
        assert len(snap.audit) - len(before.audit) == len(new_events) == (2 if action == "submit" else 1)
        event = new_events[-1]
        audit_action = "ajukan" if action == "submit" else AUDIT_ACTION[action]
        assert (event.action, event.actor_id, event.from_state, event.to_state) == (
            audit_action,
            actor,
            old_state,
            new_state,
        )
        if action in NOTE_ACTIONS or (action == "resubmit" and step.note):
            assert (event.note or None) == clean_note(step.note)
        if action == "approve":
            assert event.details["paraf"]["at"] == self.clock.now.isoformat()

        # Whoever must act next (or the drafter, when the letter is back with them or done) is told,
        # unless that is the actor; notices carry the state their buttons are for.
        new_outbox = [m for m in snap.outbox[len(before.outbox) :] if m.letter_id == result.id]
        row = snap.letters[result.id]
        told = row.holder_id if row.holder_id is not None else row.drafter_id
        if told != actor:
            mine = [m for m in new_outbox if m.recipient_id == told]
            assert mine, f"{action}: {told} was not told"
            if row.holder_id is not None:
                assert any(m.expected_state == new_state for m in mine)
        assert all(m.recipient_id != actor for m in new_outbox), "an actor is never told of their own action"

        if action == "assign_number":
            (number,) = snap.numbers[len(before.numbers) :]
            day = step.letter_date or self.clock.now.astimezone(WIB).date()
            serial = before.counters.get(str(day.year), 0) + 1
            assert (number.letter_id, number.scope, number.serial, number.letter_date, number.issued_by) == (
                result.id,
                str(day.year),
                serial,
                day,
                actor,
            )
            assert number.klasifikasi == (step.klasifikasi or META.klasifikasi)
        else:
            assert len(snap.numbers) == len(before.numbers)
            if action != "cancel":
                assert snap.numbers == before.numbers

    # -- the invariants ----------------------------------------------------------------------------------

    def check_invariants(self) -> None:
        snap = self.snap
        assert set(snap.letters) == set(self.models)
        events_of: dict[str, list[Row[Any]]] = defaultdict(list)
        for event in snap.audit:
            if event.letter_id is not None:
                events_of[event.letter_id].append(event)
        for letter_id, row in snap.letters.items():
            model = self.models[letter_id]
            assert row.state in STATES and row.state in self.sop.states
            assert (row.state, row.return_state) == (model.state, model.return_state)
            assert (row.state == "konsep") == (row.return_state is not None)
            if row.state in FINAL:
                assert row.holder_id is None, f"final letter {row.state} still held by {row.holder_id}"
            else:
                assert row.holder_id is not None and self.active[row.holder_id]
                assert row.holder_id == self.expected_holder(row.state, row.drafter_id, row.unit_id), row.state
            self.check_audit(row, events_of[letter_id], model)
            if row.state in NUMBERED_STATES:
                assert row.nomor is not None, f"{row.state} without a number"
            if row.state in NEVER_NUMBERED_STATES:
                assert row.nomor is None, f"{row.state} already numbered"
        self.check_numbers()

    def check_audit(self, row: Row[Any], events: list[Row[Any]], model: Model) -> None:
        assert len(events) == model.events
        assert (events[0].action, events[0].from_state, events[0].to_state) == ("buat", None, "konsep")
        for previous, current in itertools.pairwise(events):
            assert current.from_state == previous.to_state, "the audit chain is broken"
            assert current.at >= previous.at
        assert events[-1].to_state == row.state
        # A resubmission goes back to whoever sent the letter back (sop.resubmit_to = "asker").
        asker = None
        for e in events:
            if e.action in SEND_BACK:
                asker = e.from_state
            elif e.action == "ajukan_ulang":
                assert e.to_state == asker
        if row.state == "terkirim":
            path = iter((e.action, e.from_state, e.to_state) for e in events)
            assert all(step in path for step in REQUIRED_PATH), [(e.action, e.from_state, e.to_state) for e in events]
            # After any send-back, the step that sent it back was passed again (its approval is present).
            for i, e in enumerate(events):
                if e.action in SEND_BACK:
                    action, target = FORWARD[e.from_state]
                    assert any(
                        (later.action, later.from_state, later.to_state) == (action, e.from_state, target)
                        for later in events[i + 1 :]
                    ), f"no {action} after {e.action} at {e.from_state}"

    def check_numbers(self) -> None:
        snap = self.snap
        numbers = snap.numbers
        assert len({n.nomor for n in numbers}) == len(numbers), "a number was given twice"
        serials: dict[str, list[int]] = defaultdict(list)
        for n in numbers:
            serials[n.scope].append(n.serial)
            letter = snap.letters[n.letter_id]
            assert (letter.nomor, letter.letter_date) == (n.nomor, n.letter_date)
            assert n.scope == str(n.letter_date.year)
            assert n.nomor == self.sop.numbering.render(
                klasifikasi=n.klasifikasi, serial=n.serial, letter_date=n.letter_date
            )
            assert n.status == ("dibatalkan" if letter.state == "dibatalkan" else "aktif"), (letter.state, n.status)
            assert (n.cancelled_at is not None) == (n.status == "dibatalkan")
        for scope, taken in serials.items():
            assert sorted(taken) == list(range(1, len(taken) + 1)), f"serials of {scope}: {sorted(taken)}"
        assert snap.counters == {scope: len(taken) for scope, taken in serials.items()}
        per_letter = Counter(n.letter_id for n in numbers)
        for letter_id, row in snap.letters.items():
            assert per_letter[letter_id] == (0 if row.nomor is None else 1)


# --- the per-example office -------------------------------------------------------------------------------


class Backend:
    """Hands out a fresh, empty, migrated database for each example."""

    def __init__(self, name: str, request: pytest.FixtureRequest, workdir: Path) -> None:
        self.name = name
        self.workdir = workdir
        self.counter = itertools.count()
        if name == "sqlite":
            self.template: Path = request.getfixturevalue("sqlite_template")
        else:
            self.url: str = request.getfixturevalue("postgres_database")

    async def fresh_url(self) -> str:
        if self.name == "sqlite":
            target = self.workdir / f"contoh-{next(self.counter)}.db"
            shutil.copyfile(self.template, target)
            return f"sqlite+aiosqlite:///{target}"
        await empty_postgres(self.url)
        return self.url

    def cleanup(self, url: str) -> None:
        if self.name == "sqlite":
            path = Path(url.removeprefix("sqlite+aiosqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)


async def run_example(backend: Backend, sop: Sop, steps: list[Step], max_letters: int, start: datetime) -> None:
    url = await backend.fresh_url()
    clock = FakeClock(start)
    office = Office(sop=sop, engine=create_engine(url), files=FileStore(backend.workdir / "data"), clock=clock)
    try:
        await import_roster(office, roster_text())
        await Walk(office, clock).run(steps, max_letters)
    finally:
        await office.close()
        backend.cleanup(url)


@pytest.mark.parametrize(
    "backend_name",
    [pytest.param("sqlite", id="sqlite"), pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)],
)
def test_random_actions_keep_the_sop_invariants(
    backend_name: str, request: pytest.FixtureRequest, sop: Sop, tmp_path: Path
) -> None:
    backend = Backend(backend_name, request, tmp_path)

    @settings(
        max_examples=EXAMPLES[backend_name],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        steps=st.lists(STEP, min_size=10, max_size=MAX_STEPS), max_letters=st.sampled_from([1, 2, 3, 3]), start=STARTS
    )
    @example(steps=STORY, max_letters=3, start=datetime(2026, 12, 31, 14, 0, tzinfo=WIB))
    def walk(steps: list[Step], max_letters: int, start: datetime) -> None:
        asyncio.run(run_example(backend, sop, steps, max_letters, start))

    COVERED.clear()
    walk()
    # The explicit example guarantees these corners are checked on every run, whatever hypothesis draws.
    for corner in (
        "a letter ended in terkirim",
        "a letter was sent after a revision round",
        "a numbered letter was cancelled",
        "numbers were given in two years",
        "two numbers were given in one year",
    ):
        assert COVERED[corner], f"the run never reached: {corner} ({dict(COVERED)})"
    if os.environ.get("SURATBOT_SHOW_COVERAGE"):
        print(f"\n{backend_name}: {sorted(COVERED.items())}")


def test_the_model_agrees_with_the_shipped_sop(sop: Sop) -> None:
    """The test's own reading of the SOP (states, forward steps) is the one the product ships."""
    assert set(STATES) == set(sop.states)
    assert {k for k, s in sop.states.items() if s.final} == FINAL
    assert sop.resubmit_to == "asker"
    for state, (action, target) in FORWARD.items():
        transition = sop.transition(action, state)
        assert transition is not None and transition.target == target
    assert dataclasses.asdict(sop.states["konsep"].holder) == {"kind": "drafter", "level": None, "role": None}


ODD_NOTES = [
    "Perbaiki\ttabel\r\nlampiran.",
    "Tanda \u200btangan \u202eterbalik\u202c",  # zero-width space, right-to-left override
    "Mohon dicek \U0001f64f\U0001f3fd",
    "x" * 5000,
    "Catatan\x00dengan karakter NUL",
]


@pytest.mark.parametrize("note", ODD_NOTES, ids=["tab-crlf", "bidi", "emoji", "long", "nul"])
async def test_any_note_text_is_stored_or_refused(office: Office, note: str, request: pytest.FixtureRequest) -> None:
    """A note is whatever a person typed in a chat: it is kept (stripped) or refused, never a crash."""
    p = await people(office)
    letter = await letters.submit(office, p.drafter, pdf(1), META)
    try:
        await letters.request_revision(office, letter.id, p.kasi, note)
    except Refusal as refusal:
        assert refusal.message.strip()
        assert (await letters.get_letter(office, letter.id)).state == "verifikasi_1"
        return
    async with office.uow() as uow:
        events = (await uow.session.scalars(select(AuditEvent).where(AuditEvent.letter_id == letter.id))).all()
    assert events[-1].action == "revisi" and events[-1].note == clean_note(note)
    assert "\x00" not in events[-1].note and "\r" not in events[-1].note
