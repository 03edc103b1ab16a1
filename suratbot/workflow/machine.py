"""The letter state machine: decide whether an actor may take an action on a letter, and where it leads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from suratbot.workflow.sop import HolderSpec, Sop, Transition


class Refusal(Exception):
    """An action that may not happen now; `message` is a sentence in Indonesian the chat can show."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class LetterFacts:
    """What the machine needs to know of a letter: where it is and who holds and wrote it."""

    state: str
    holder_id: int | None
    drafter_id: int
    return_state: str | None  # the reviewer state a pending revision goes back to, if any


@dataclass(frozen=True)
class Actor:
    id: int
    roles: frozenset[str]


@dataclass(frozen=True)
class Move:
    """The outcome of an allowed action: the new state, who must hold it, and its clock."""

    transition: Transition
    from_state: str
    to_state: str
    holder: HolderSpec | None
    return_state: str | None
    started_at: datetime
    due_at: datetime | None
    escalate_at: datetime | None

    @property
    def action(self) -> str:
        return self.transition.action


def decide(
    sop: Sop,
    letter: LetterFacts,
    actor: Actor,
    action: str,
    *,
    now: datetime,
    note: str | None = None,
    expected_state: str | None = None,
) -> Move:
    """Check `action` by `actor` on `letter` at `now`; return the Move or raise Refusal (changes nothing).

    `expected_state` is the state the actor saw (the state a button was made for): a letter that has moved
    on since then refuses, so a second tap or an old button never acts twice.
    """
    if action not in sop.actions:
        raise Refusal("aksi_tidak_dikenal", "Perintah ini tidak dikenal.")
    state = sop.states[letter.state]
    if state.final:
        raise Refusal("surat_selesai", f"Surat ini sudah {state.name.lower()}; tidak ada lagi yang bisa dilakukan.")
    if expected_state is not None and expected_state != letter.state:
        shown = sop.states[expected_state].name if expected_state in sop.states else expected_state
        raise Refusal(
            "tahap_berubah",
            f"Surat ini sudah tidak di tahap {shown}, sekarang di tahap {state.name}. Tombol ini tidak berlaku lagi.",
        )
    transition = sop.transition(action, letter.state)
    if transition is None:
        raise Refusal(
            "tahap_tidak_sesuai",
            f"Aksi ini tidak bisa dilakukan pada tahap {state.name}.",
        )
    if not may_take(transition, letter, actor):
        raise Refusal("bukan_pemegang", "Anda tidak berwenang melakukan aksi ini pada surat ini.")
    if transition.note_required and not (note and note.strip()):
        raise Refusal("catatan_wajib", "Catatan wajib diisi: tuliskan alasannya.")

    return_state: str | None = letter.return_state
    if transition.kind == "submit":
        if letter.return_state is not None:
            raise Refusal("sedang_revisi", "Surat ini sedang direvisi: kirim versi revisinya.")
        target = transition.target
    elif transition.kind == "resubmit":
        if letter.return_state is None:
            raise Refusal("belum_diajukan", "Surat ini belum pernah diajukan, jadi belum ada revisi untuk dikirim.")
        target = letter.return_state if sop.resubmit_to == "asker" else sop.first_review_state
        return_state = None
    elif transition.kind == "revise":
        target = transition.target
        return_state = letter.state
    elif transition.kind == "cancel":
        target = transition.target
        return_state = None
    else:
        target = transition.target
    assert target is not None  # the loader guarantees a target for every kind but resubmit

    new_state = sop.states[target]
    due_at = escalate_at = None
    if new_state.standard_minutes is not None:
        due_at = sop.calendar.add_working_minutes(now, new_state.standard_minutes)
    if new_state.escalate_after_minutes is not None:
        escalate_at = sop.calendar.add_working_minutes(now, new_state.escalate_after_minutes)
    return Move(
        transition=transition,
        from_state=letter.state,
        to_state=target,
        holder=new_state.holder,
        return_state=return_state,
        started_at=now,
        due_at=due_at,
        escalate_at=escalate_at,
    )


def may_take(transition: Transition, letter: LetterFacts, actor: Actor) -> bool:
    """Whether `actor` is among those the transition's `by` names, for this letter."""
    for who in transition.by:
        if who == "holder" and letter.holder_id == actor.id:
            return True
        if who == "drafter" and letter.drafter_id == actor.id:
            return True
        if who.startswith("role:") and who.removeprefix("role:") in actor.roles:
            return True
    return False


def first_move(sop: Sop, *, now: datetime) -> tuple[str, HolderSpec, datetime | None]:
    """A new concept's state, its holder (the drafter) and its due time."""
    state = sop.states[sop.initial]
    assert state.holder is not None
    due = sop.calendar.add_working_minutes(now, state.standard_minutes) if state.standard_minutes else None
    return state.key, state.holder, due
