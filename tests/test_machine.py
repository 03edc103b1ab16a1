"""Tests for the letter state machine (`decide`, `first_move`) and the letter metadata rules (`LetterMeta`)."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suratbot.workflow.letter import MAX_TEXT, LetterMeta, check_klasifikasi, normalise_choice
from suratbot.workflow.machine import Actor, LetterFacts, Move, Refusal, decide, first_move
from suratbot.workflow.sop import HolderSpec, Sop, load_sop

WIB = ZoneInfo("Asia/Jakarta")


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


NOW = wib(2026, 11, 25, 9, 0)  # a Wednesday, office hours

# The cast: one person per role; the drafter (id 1) wrote every letter.
DRAFTER = Actor(1, frozenset({"konseptor"}))
VERIFIER_1 = Actor(2, frozenset({"verifikator1"}))
VERIFIER_2 = Actor(3, frozenset({"verifikator2"}))
PENGELOLA = Actor(4, frozenset({"pengelola"}))
KEPALA = Actor(5, frozenset({"kepala"}))
OTHER_PENGELOLA = Actor(6, frozenset({"pengelola"}))
STRANGER = Actor(7, frozenset({"konseptor"}))
ADMIN = Actor(9, frozenset({"admin"}))

HOLDER_OF = {
    "konsep": DRAFTER,
    "verifikasi_1": VERIFIER_1,
    "verifikasi_2": VERIFIER_2,
    "penomoran": PENGELOLA,
    "tanda_tangan": KEPALA,
    "pengiriman": PENGELOLA,
}
NON_FINAL = tuple(HOLDER_OF)

HOLDER_SPEC = {
    "konsep": HolderSpec("drafter"),
    "verifikasi_1": HolderSpec("verifier", level=1),
    "verifikasi_2": HolderSpec("verifier", level=2),
    "penomoran": HolderSpec("role", role="pengelola"),
    "tanda_tangan": HolderSpec("role", role="kepala"),
    "pengiriman": HolderSpec("role", role="pengelola"),
}

# Words that would betray an English message reaching the chat.
ENGLISH_WORDS = frozenset(
    {
        "not",
        "allowed",
        "the",
        "letter",
        "action",
        "state",
        "unknown",
        "cannot",
        "please",
        "error",
        "invalid",
        "required",
        "must",
        "is",
        "already",
        "you",
        "are",
        "permission",
        "denied",
        "note",
        "empty",
    }
)


@pytest.fixture(scope="module")
def sop() -> Sop:
    return load_sop()


@pytest.fixture(scope="module")
def sop_start(sop: Sop) -> Sop:
    return dataclasses.replace(sop, resubmit_to="start")


def facts(state: str, return_state: str | None = None, *, holder_id: int | None = None) -> LetterFacts:
    """A letter written by DRAFTER, held by whoever holds `state` (unless `holder_id` says otherwise)."""
    if holder_id is None and state in HOLDER_OF:
        holder_id = HOLDER_OF[state].id
    return LetterFacts(state=state, holder_id=holder_id, drafter_id=DRAFTER.id, return_state=return_state)


def after(move: Move) -> LetterFacts:
    """The letter as it stands once `move` is applied."""
    actor = HOLDER_OF.get(move.to_state)
    return LetterFacts(
        state=move.to_state,
        holder_id=actor.id if actor else None,
        drafter_id=DRAFTER.id,
        return_state=move.return_state,
    )


def refusal(sop: Sop, letter: LetterFacts, actor: Actor, action: str, **kwargs: object) -> Refusal:
    with pytest.raises(Refusal) as info:
        decide(sop, letter, actor, action, now=kwargs.pop("now", NOW), **kwargs)  # type: ignore[arg-type]
    return info.value


def assert_indonesian_sentence(message: str) -> None:
    assert isinstance(message, str)
    assert message.strip() == message
    assert message
    assert message[0].isupper()
    assert message.endswith(".")
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", message)}
    assert not words & ENGLISH_WORDS, f"English in {message!r}: {sorted(words & ENGLISH_WORDS)}"
    assert "not allowed" not in message.lower()


# -- first_move -----------------------------------------------------------------------------------------


def test_first_move(sop: Sop) -> None:
    assert first_move(sop, now=NOW) == ("konsep", HolderSpec("drafter"), wib(2026, 11, 25, 10, 0))


def test_first_move_friday_afternoon_rolls_to_monday(sop: Sop) -> None:
    # Friday 16:00: 30 minutes on Friday (closes 16:30), 30 from Monday 07:30.
    assert first_move(sop, now=wib(2026, 11, 27, 16, 0))[2] == wib(2026, 11, 30, 8, 0)


def test_first_move_without_standard_time_has_no_due(sop: Sop) -> None:
    states = dict(sop.states)
    states["konsep"] = dataclasses.replace(states["konsep"], standard_minutes=None, escalate_after_minutes=None)
    assert first_move(dataclasses.replace(sop, states=states), now=NOW) == ("konsep", HolderSpec("drafter"), None)


# -- every transition of the shipped SOP ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "actor", "action", "note", "to_state", "return_state", "paraf"),
    [
        ("konsep", DRAFTER, "ajukan", None, "verifikasi_1", None, False),
        ("verifikasi_1", VERIFIER_1, "setujui", None, "verifikasi_2", None, True),
        ("verifikasi_2", VERIFIER_2, "setujui", None, "penomoran", None, True),
        ("verifikasi_1", VERIFIER_1, "revisi", "Perbaiki dasar hukum.", "konsep", "verifikasi_1", False),
        ("verifikasi_2", VERIFIER_2, "revisi", "Perbaiki perihal.", "konsep", "verifikasi_2", False),
        ("penomoran", PENGELOLA, "beri_nomor", None, "tanda_tangan", None, False),
        ("tanda_tangan", KEPALA, "kembalikan", "Tujuan salah.", "konsep", "tanda_tangan", False),
        ("tanda_tangan", KEPALA, "tandatangani", None, "pengiriman", None, False),
        ("pengiriman", PENGELOLA, "kirim", None, "terkirim", None, False),
    ],
)
def test_transition(
    sop: Sop,
    state: str,
    actor: Actor,
    action: str,
    note: str | None,
    to_state: str,
    return_state: str | None,
    paraf: bool,
) -> None:
    move = decide(sop, facts(state), actor, action, now=NOW, note=note, expected_state=state)
    assert move.action == action
    assert move.transition.action == action
    assert move.from_state == state
    assert move.to_state == to_state
    assert move.return_state == return_state
    assert move.transition.paraf is paraf
    assert move.started_at == NOW
    assert move.holder == HOLDER_SPEC.get(to_state)


@pytest.mark.parametrize("asker", ["verifikasi_1", "verifikasi_2", "tanda_tangan"])
def test_resubmit_goes_back_to_the_asker(sop: Sop, asker: str) -> None:
    move = decide(sop, facts("konsep", asker), DRAFTER, "ajukan_ulang", now=NOW, expected_state="konsep")
    assert move.from_state == "konsep"
    assert move.to_state == asker
    assert move.return_state is None
    assert move.holder == HOLDER_SPEC[asker]
    assert move.transition.kind == "resubmit"


@pytest.mark.parametrize("asker", ["verifikasi_1", "verifikasi_2", "tanda_tangan"])
def test_resubmit_to_start_goes_to_verifikasi_1(sop_start: Sop, asker: str) -> None:
    move = decide(sop_start, facts("konsep", asker), DRAFTER, "ajukan_ulang", now=NOW)
    assert move.to_state == "verifikasi_1"
    assert move.return_state is None
    assert move.holder == HolderSpec("verifier", level=1)
    assert move.due_at == wib(2026, 11, 25, 10, 0)


BEFORE_NUMBER = ("konsep", "verifikasi_1", "verifikasi_2", "penomoran")
AFTER_NUMBER = ("tanda_tangan", "pengiriman")


@pytest.mark.parametrize(
    ("state", "actor"),
    [pytest.param(s, a, id=f"{n}-{s}") for s in BEFORE_NUMBER for n, a in [("drafter", DRAFTER), ("admin", ADMIN)]]
    + [pytest.param(s, KEPALA, id=f"kepala-{s}") for s in BEFORE_NUMBER]
    + [pytest.param(s, a, id=f"{n}-{s}") for s in AFTER_NUMBER for n, a in [("admin", ADMIN), ("kepala", KEPALA)]],
)
def test_cancel_from_every_open_state(sop: Sop, state: str, actor: Actor) -> None:
    move = decide(sop, facts(state), actor, "batalkan", now=NOW, note="Tidak jadi dikirim.")
    assert move.to_state == "dibatalkan"
    assert move.from_state == state
    assert move.holder is None
    assert move.return_state is None
    assert move.due_at is None
    assert move.escalate_at is None


def test_cancel_clears_a_pending_revision(sop: Sop) -> None:
    move = decide(sop, facts("konsep", "verifikasi_2"), DRAFTER, "batalkan", now=NOW, note="Batal.")
    assert (move.to_state, move.return_state) == ("dibatalkan", None)


@pytest.mark.parametrize("state", AFTER_NUMBER)
def test_the_drafter_cannot_cancel_a_numbered_letter(sop: Sop, state: str) -> None:
    assert refusal(sop, facts(state), DRAFTER, "batalkan", note="Batal.").code == "bukan_pemegang"


@pytest.mark.parametrize("state", [s for s in NON_FINAL if s not in ("konsep", "tanda_tangan")])
def test_holder_who_is_not_drafter_cannot_cancel(sop: Sop, state: str) -> None:
    r = refusal(sop, facts(state), HOLDER_OF[state], "batalkan", note="Batal.")
    assert r.code == "bukan_pemegang"


@pytest.mark.parametrize(
    ("state", "actor"),
    [
        pytest.param(state, actor, id=f"{state}-{name}")
        for state in NON_FINAL
        for name, actor in [("stranger", STRANGER), ("verifier1", VERIFIER_1), ("kepala", KEPALA)]
        if HOLDER_OF[state] != actor and actor != KEPALA  # Kepala Dinas may cancel any letter
    ],
)
def test_others_cannot_cancel(sop: Sop, state: str, actor: Actor) -> None:
    assert refusal(sop, facts(state), actor, "batalkan", note="Batal.").code == "bukan_pemegang"


def test_full_journey_with_revisions(sop: Sop) -> None:
    """konsep -> v1 -> (revisi) -> konsep -> v1 -> v2 -> (revisi) -> konsep -> v2 -> ... -> terkirim."""
    steps = [
        (DRAFTER, "ajukan", None, "verifikasi_1"),
        (VERIFIER_1, "revisi", "Lampiran kurang.", "konsep"),
        (DRAFTER, "ajukan_ulang", None, "verifikasi_1"),
        (VERIFIER_1, "setujui", None, "verifikasi_2"),
        (VERIFIER_2, "revisi", "Perihal kurang jelas.", "konsep"),
        (DRAFTER, "ajukan_ulang", None, "verifikasi_2"),  # v1's approval stands
        (VERIFIER_2, "setujui", None, "penomoran"),
        (PENGELOLA, "beri_nomor", None, "tanda_tangan"),
        (KEPALA, "kembalikan", "Tanggal salah.", "konsep"),
        (DRAFTER, "ajukan_ulang", None, "tanda_tangan"),
        (KEPALA, "tandatangani", None, "pengiriman"),
        (PENGELOLA, "kirim", None, "terkirim"),
    ]
    letter = facts("konsep")
    for actor, action, note, expected in steps:
        move = decide(sop, letter, actor, action, now=NOW, note=note, expected_state=letter.state)
        assert move.to_state == expected, action
        letter = after(move)
    assert letter == LetterFacts("terkirim", None, DRAFTER.id, None)
    assert refusal(sop, letter, PENGELOLA, "kirim").code == "surat_selesai"


def test_full_journey_resubmit_to_start(sop_start: Sop) -> None:
    letter = facts("konsep")
    visited = [letter.state]
    for actor, action, note in [
        (DRAFTER, "ajukan", None),
        (VERIFIER_1, "setujui", None),
        (VERIFIER_2, "revisi", "Ulangi."),
        (DRAFTER, "ajukan_ulang", None),
        (VERIFIER_1, "setujui", None),
        (VERIFIER_2, "setujui", None),
    ]:
        letter = after(decide(sop_start, letter, actor, action, now=NOW, note=note))
        visited.append(letter.state)
    assert visited == [
        "konsep",
        "verifikasi_1",
        "verifikasi_2",
        "konsep",
        "verifikasi_1",
        "verifikasi_2",
        "penomoran",
    ]


def test_decide_changes_nothing(sop: Sop) -> None:
    letter = facts("verifikasi_1")
    first = decide(sop, letter, VERIFIER_1, "setujui", now=NOW)
    second = decide(sop, letter, VERIFIER_1, "setujui", now=NOW)
    assert first == second
    assert letter == facts("verifikasi_1")


# -- holders, deadlines and escalation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "actor", "action", "note", "holder", "due", "escalate"),
    [
        # Wednesday 09:00 start: 60 minutes -> 10:00, 2x -> 11:00.
        ("konsep", DRAFTER, "ajukan", None, "verifier:1", wib(2026, 11, 25, 10, 0), wib(2026, 11, 25, 11, 0)),
        ("verifikasi_1", VERIFIER_1, "setujui", None, "verifier:2", wib(2026, 11, 25, 10), wib(2026, 11, 25, 11)),
        ("verifikasi_1", VERIFIER_1, "revisi", "Ubah.", "drafter", wib(2026, 11, 25, 10), wib(2026, 11, 25, 11)),
        (
            "verifikasi_2",
            VERIFIER_2,
            "setujui",
            None,
            "role:pengelola",
            wib(2026, 11, 25, 9, 10),
            wib(2026, 11, 25, 9, 20),
        ),
        ("penomoran", PENGELOLA, "beri_nomor", None, "role:kepala", None, None),
        (
            "tanda_tangan",
            KEPALA,
            "tandatangani",
            None,
            "role:pengelola",
            wib(2026, 11, 25, 9, 5),
            wib(2026, 11, 25, 9, 10),
        ),
        ("tanda_tangan", KEPALA, "kembalikan", "Ubah.", "drafter", wib(2026, 11, 25, 10), wib(2026, 11, 25, 11)),
        ("pengiriman", PENGELOLA, "kirim", None, None, None, None),
    ],
)
def test_move_holder_and_clock(
    sop: Sop,
    state: str,
    actor: Actor,
    action: str,
    note: str | None,
    holder: str | None,
    due: datetime | None,
    escalate: datetime | None,
) -> None:
    move = decide(sop, facts(state), actor, action, now=NOW, note=note)
    assert (str(move.holder) if move.holder else None) == holder
    assert move.due_at == due
    assert move.escalate_at == escalate
    if due is not None:
        assert move.due_at is not None
        assert move.due_at.utcoffset() == timedelta(hours=7)


def test_penomoran_friday_afternoon_due_monday(sop: Sop) -> None:
    friday = wib(2026, 11, 27, 16, 25)
    move = decide(sop, facts("verifikasi_2"), VERIFIER_2, "setujui", now=friday)
    assert move.to_state == "penomoran"
    assert move.started_at == friday
    assert move.due_at == wib(2026, 11, 30, 7, 35)  # 5 minutes on Friday (closes 16:30), 5 on Monday
    assert move.escalate_at == wib(2026, 11, 30, 7, 45)


def test_tanda_tangan_has_no_clock(sop: Sop) -> None:
    move = decide(sop, facts("penomoran"), PENGELOLA, "beri_nomor", now=wib(2026, 11, 27, 16, 25))
    assert (move.to_state, move.due_at, move.escalate_at) == ("tanda_tangan", None, None)


def test_deadline_skips_holiday_and_weekend(sop: Sop) -> None:
    # Thursday 24 Dec 15:30: 30 minutes on Thursday, Christmas (Fri) and the weekend off, 30 on Monday 28th.
    move = decide(sop, facts("konsep"), DRAFTER, "ajukan", now=wib(2026, 12, 24, 15, 30))
    assert move.due_at == wib(2026, 12, 28, 8, 0)
    assert move.escalate_at == wib(2026, 12, 28, 9, 0)


def test_action_outside_office_hours_counts_from_next_opening(sop: Sop) -> None:
    saturday = wib(2026, 11, 28, 20, 0)
    move = decide(sop, facts("konsep"), DRAFTER, "ajukan", now=saturday)
    assert move.started_at == saturday
    assert move.due_at == wib(2026, 11, 30, 8, 30)
    assert move.escalate_at == wib(2026, 11, 30, 9, 30)


def test_utc_now_gives_the_same_deadline_in_wib(sop: Sop) -> None:
    move = decide(sop, facts("konsep"), DRAFTER, "ajukan", now=NOW.astimezone(ZoneInfo("UTC")))
    assert move.due_at == wib(2026, 11, 25, 10, 0)
    assert move.due_at is not None and move.due_at.tzinfo == WIB


def test_configured_kepala_time_gives_a_clock(sop: Sop) -> None:
    states = dict(sop.states)
    states["tanda_tangan"] = dataclasses.replace(states["tanda_tangan"], standard_minutes=30, escalate_after_minutes=60)
    configured = dataclasses.replace(sop, states=states)
    move = decide(configured, facts("penomoran"), PENGELOLA, "beri_nomor", now=NOW)
    assert (move.due_at, move.escalate_at) == (wib(2026, 11, 25, 9, 30), wib(2026, 11, 25, 10, 0))


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(WIB)),
    state=st.sampled_from(["konsep", "verifikasi_1", "verifikasi_2", "tanda_tangan"]),
)
def test_clock_counts_the_standard_working_minutes(start: datetime, state: str) -> None:
    sop = load_sop()
    action = {"konsep": "ajukan", "verifikasi_1": "setujui", "verifikasi_2": "setujui", "tanda_tangan": "tandatangani"}
    move = decide(sop, facts(state), HOLDER_OF[state], action[state], now=start)
    target = sop.states[move.to_state]
    assert target.standard_minutes is not None and target.escalate_after_minutes is not None
    assert move.due_at is not None and move.escalate_at is not None
    assert sop.calendar.working_minutes_between(start, move.due_at) == pytest.approx(target.standard_minutes)
    assert sop.calendar.working_minutes_between(start, move.escalate_at) == pytest.approx(target.escalate_after_minutes)
    assert start <= move.due_at <= move.escalate_at


# -- refusals -------------------------------------------------------------------------------------------


def test_unknown_action(sop: Sop) -> None:
    r = refusal(sop, facts("konsep"), DRAFTER, "hapus")
    assert r.code == "aksi_tidak_dikenal"
    assert r.message == "Perintah ini tidak dikenal."


@pytest.mark.parametrize(("state", "word"), [("terkirim", "terkirim"), ("dibatalkan", "dibatalkan")])
def test_final_state_refuses_everything(sop: Sop, state: str, word: str) -> None:
    for action in sorted(sop.actions):
        r = refusal(sop, facts(state), DRAFTER, action, note="x")
        assert r.code == "surat_selesai"
        assert r.message == f"Surat ini sudah {word}; tidak ada lagi yang bisa dilakukan."


def test_second_tap_is_refused(sop: Sop) -> None:
    letter = facts("verifikasi_1")
    move = decide(sop, letter, VERIFIER_1, "setujui", now=NOW, expected_state="verifikasi_1")
    r = refusal(sop, after(move), VERIFIER_1, "setujui", expected_state="verifikasi_1")
    assert r.code == "tahap_berubah"
    assert "Verifikasi 1" in r.message
    assert "Verifikasi 2" in r.message


def test_old_button_after_revision_is_refused(sop: Sop) -> None:
    # A button made for verifikasi_2, tapped after verifier 2 already sent it back to the drafter.
    r = refusal(sop, facts("konsep", "verifikasi_2"), VERIFIER_2, "setujui", expected_state="verifikasi_2")
    assert r.code == "tahap_berubah"
    assert r.message == (
        "Surat ini sudah tidak di tahap Verifikasi 2, sekarang di tahap Konsep / revisi. Tombol ini tidak berlaku lagi."
    )


def test_expected_state_unknown_is_shown_as_is(sop: Sop) -> None:
    r = refusal(sop, facts("penomoran"), PENGELOLA, "beri_nomor", expected_state="arsip")
    assert r.code == "tahap_berubah"
    assert "arsip" in r.message


@pytest.mark.parametrize(
    ("state", "actor", "action"),
    [
        ("konsep", DRAFTER, "kirim"),
        ("konsep", DRAFTER, "setujui"),
        ("konsep", DRAFTER, "revisi"),
        ("verifikasi_1", VERIFIER_1, "beri_nomor"),
        ("verifikasi_1", VERIFIER_1, "kembalikan"),
        ("verifikasi_2", VERIFIER_2, "ajukan"),
        ("penomoran", PENGELOLA, "kirim"),
        ("penomoran", PENGELOLA, "setujui"),
        ("tanda_tangan", KEPALA, "revisi"),
        ("tanda_tangan", KEPALA, "setujui"),
        ("pengiriman", PENGELOLA, "beri_nomor"),
        ("pengiriman", PENGELOLA, "tandatangani"),
    ],
)
def test_action_not_available_in_this_state(sop: Sop, state: str, actor: Actor, action: str) -> None:
    r = refusal(sop, facts(state), actor, action, note="Catatan.")
    assert r.code == "tahap_tidak_sesuai"
    assert sop.states[state].name in r.message


@pytest.mark.parametrize(
    ("state", "actor", "action"),
    [
        ("konsep", STRANGER, "ajukan"),
        ("konsep", VERIFIER_1, "ajukan"),
        ("verifikasi_1", DRAFTER, "setujui"),  # the drafter may not approve their own letter
        ("verifikasi_1", VERIFIER_2, "setujui"),
        ("verifikasi_1", ADMIN, "setujui"),
        ("verifikasi_2", VERIFIER_1, "revisi"),
        ("penomoran", OTHER_PENGELOLA, "beri_nomor"),  # the role alone is not enough: the holder acts
        ("penomoran", KEPALA, "beri_nomor"),
        ("tanda_tangan", PENGELOLA, "tandatangani"),
        ("tanda_tangan", DRAFTER, "kembalikan"),
        ("pengiriman", KEPALA, "kirim"),
        ("pengiriman", ADMIN, "kirim"),
    ],
)
def test_not_the_holder(sop: Sop, state: str, actor: Actor, action: str) -> None:
    r = refusal(sop, facts(state), actor, action, note="Catatan.")
    assert r.code == "bukan_pemegang"
    assert r.message == "Anda tidak berwenang melakukan aksi ini pada surat ini."


def test_letter_without_holder_refuses_holder_actions(sop: Sop) -> None:
    letter = LetterFacts("penomoran", holder_id=None, drafter_id=DRAFTER.id, return_state=None)
    assert refusal(sop, letter, PENGELOLA, "beri_nomor").code == "bukan_pemegang"


@pytest.mark.parametrize("note", [None, "", "   ", "\n\t "])
@pytest.mark.parametrize(
    ("state", "actor", "action"),
    [
        ("verifikasi_1", VERIFIER_1, "revisi"),
        ("verifikasi_2", VERIFIER_2, "revisi"),
        ("tanda_tangan", KEPALA, "kembalikan"),
        ("penomoran", DRAFTER, "batalkan"),
        ("konsep", ADMIN, "batalkan"),
    ],
)
def test_note_required(sop: Sop, state: str, actor: Actor, action: str, note: str | None) -> None:
    r = refusal(sop, facts(state), actor, action, note=note)
    assert r.code == "catatan_wajib"
    assert r.message == "Catatan wajib diisi: tuliskan alasannya."


def test_note_not_required_for_approval(sop: Sop) -> None:
    assert decide(sop, facts("verifikasi_1"), VERIFIER_1, "setujui", now=NOW, note=None).to_state == "verifikasi_2"


def test_submit_while_revision_pending(sop: Sop) -> None:
    r = refusal(sop, facts("konsep", "verifikasi_2"), DRAFTER, "ajukan")
    assert r.code == "sedang_revisi"
    assert r.message == "Surat ini sedang direvisi: kirim versi revisinya."


def test_resubmit_without_pending_revision(sop: Sop) -> None:
    r = refusal(sop, facts("konsep"), DRAFTER, "ajukan_ulang")
    assert r.code == "belum_diajukan"
    assert r.message == "Surat ini belum pernah diajukan, jadi belum ada revisi untuk dikirim."


@pytest.mark.parametrize(
    ("letter", "actor", "action", "kwargs", "code"),
    [
        # An unknown action is refused even on a finished letter.
        (facts("terkirim"), DRAFTER, "hapus", {}, "aksi_tidak_dikenal"),
        # A finished letter says so, even to an old button.
        (facts("terkirim"), PENGELOLA, "kirim", {"expected_state": "pengiriman"}, "surat_selesai"),
        # A moved-on letter says so before judging the actor.
        (facts("verifikasi_2"), STRANGER, "setujui", {"expected_state": "verifikasi_1"}, "tahap_berubah"),
        # A wrong-stage action is refused before the actor is judged.
        (facts("penomoran"), STRANGER, "kirim", {}, "tahap_tidak_sesuai"),
        # The actor is judged before the note.
        (facts("verifikasi_1"), STRANGER, "revisi", {"note": ""}, "bukan_pemegang"),
        # A stranger's submission is refused as such, not as a pending revision.
        (facts("konsep", "verifikasi_1"), STRANGER, "ajukan", {}, "bukan_pemegang"),
    ],
)
def test_refusal_order(sop: Sop, letter: LetterFacts, actor: Actor, action: str, kwargs: dict, code: str) -> None:
    assert refusal(sop, letter, actor, action, **kwargs).code == code


def _every_refusal(sop: Sop) -> list[Refusal]:
    cases = [
        (facts("konsep"), DRAFTER, "hapus", {}),
        (facts("terkirim"), DRAFTER, "kirim", {}),
        (facts("dibatalkan"), DRAFTER, "kirim", {}),
        (facts("verifikasi_2"), VERIFIER_1, "setujui", {"expected_state": "verifikasi_1"}),
        (facts("konsep"), DRAFTER, "kirim", {}),
        (facts("verifikasi_1"), STRANGER, "setujui", {}),
        (facts("verifikasi_1"), VERIFIER_1, "revisi", {"note": "  "}),
        (facts("konsep", "verifikasi_1"), DRAFTER, "ajukan", {}),
        (facts("konsep"), DRAFTER, "ajukan_ulang", {}),
    ]
    return [refusal(sop, letter, actor, action, **kwargs) for letter, actor, action, kwargs in cases]


def test_every_refusal_code_is_covered(sop: Sop) -> None:
    assert [r.code for r in _every_refusal(sop)] == [
        "aksi_tidak_dikenal",
        "surat_selesai",
        "surat_selesai",
        "tahap_berubah",
        "tahap_tidak_sesuai",
        "bukan_pemegang",
        "catatan_wajib",
        "sedang_revisi",
        "belum_diajukan",
    ]


def test_every_refusal_message_is_an_indonesian_sentence(sop: Sop) -> None:
    for r in _every_refusal(sop):
        assert_indonesian_sentence(r.message)
        assert str(r) == f"{r.code}: {r.message}"


def test_refusal_shape() -> None:
    r = Refusal("kode", "Pesan.")
    assert isinstance(r, Exception)
    assert (r.code, r.message, str(r)) == ("kode", "Pesan.", "kode: Pesan.")


# -- LetterMeta -----------------------------------------------------------------------------------------


def meta(**changes: str | None) -> LetterMeta:
    base = LetterMeta(
        perihal="Undangan rapat koordinasi",
        tujuan="Kepala Dinas Kesehatan",
        sifat="Biasa",
        urgensi="Biasa",
        klasifikasi="500.16",
    )
    return dataclasses.replace(base, **changes)


def meta_refusal(**changes: str | None) -> Refusal:
    with pytest.raises(Refusal) as info:
        meta(**changes).validated()
    assert_indonesian_sentence(info.value.message)
    return info.value


def test_meta_normalises() -> None:
    got = meta(
        perihal="  Undangan   rapat\nkoordinasi ",
        tujuan=" Kepala  Dinas ",
        sifat="rahasia",
        urgensi="sangat segera",
        klasifikasi=" 000.1.2.3 ",
        tembusan="  Sekretaris   Daerah ",
    ).validated()
    assert got == LetterMeta(
        perihal="Undangan rapat koordinasi",
        tujuan="Kepala Dinas",
        sifat="Rahasia",
        urgensi="Sangat Segera",
        klasifikasi="000.1.2.3",
        tembusan="Sekretaris Daerah",
    )
    assert got.secret


@pytest.mark.parametrize(
    ("given_", "expected"),
    [
        ("biasa", "Biasa"),
        ("TERBATAS", "Terbatas"),
        ("rahasia", "Rahasia"),
        ("sangat  rahasia", "Sangat Rahasia"),
        (" Sangat Rahasia ", "Sangat Rahasia"),
    ],
)
def test_meta_sifat(given_: str, expected: str) -> None:
    assert meta(sifat=given_).validated().sifat == expected


@pytest.mark.parametrize(
    ("given_", "expected"),
    [("biasa", "Biasa"), ("segera", "Segera"), ("sangat segera", "Sangat Segera"), ("SANGAT\tSEGERA", "Sangat Segera")],
)
def test_meta_urgensi(given_: str, expected: str) -> None:
    assert meta(urgensi=given_).validated().urgensi == expected


@pytest.mark.parametrize(
    ("sifat", "secret"), [("Biasa", False), ("Terbatas", False), ("Rahasia", True), ("sangat rahasia", True)]
)
def test_meta_secret(sifat: str, secret: bool) -> None:
    assert meta(sifat=sifat).validated().secret is secret


def test_meta_empty_tembusan_is_none() -> None:
    assert meta(tembusan="   ").validated().tembusan is None
    assert meta(tembusan=None).validated().tembusan is None


@pytest.mark.parametrize("sifat", ["rahasia sekali", "secret", "", "Penting"])
def test_meta_bad_sifat(sifat: str) -> None:
    r = meta_refusal(sifat=sifat)
    assert r.code == "sifat_salah"
    assert r.message == "Sifat surat harus salah satu dari: Biasa, Terbatas, Rahasia, Sangat Rahasia."


@pytest.mark.parametrize("urgensi", ["urgent", "", "Sangat", "Rahasia"])
def test_meta_bad_urgensi(urgensi: str) -> None:
    r = meta_refusal(urgensi=urgensi)
    assert r.code == "urgensi_salah"
    assert r.message == "Tingkat urgensi harus salah satu dari: Biasa, Segera, Sangat Segera."


@pytest.mark.parametrize(
    "klasifikasi", ["5001", "abc", "500.", "50.16", "500..16", "500.1234", "500.1.2.3.4.5", "", "500/16", "500.16a"]
)
def test_meta_bad_klasifikasi(klasifikasi: str) -> None:
    r = meta_refusal(klasifikasi=klasifikasi)
    assert r.code == "klasifikasi_salah"
    assert "500.16" in r.message and "000.1.2.3" in r.message


@pytest.mark.parametrize("klasifikasi", ["000.1.2.3", "500.16", "800", "400.7.1", "500.1.2.3.4", " 500.16 "])
def test_meta_good_klasifikasi(klasifikasi: str) -> None:
    assert meta(klasifikasi=klasifikasi).validated().klasifikasi == klasifikasi.strip()
    assert check_klasifikasi(klasifikasi) == klasifikasi.strip()


@pytest.mark.parametrize("klasifikasi", ["٥٠٠.١٦", "５００.１６"])
def test_meta_klasifikasi_non_ascii_digits_refused(klasifikasi: str) -> None:
    assert meta_refusal(klasifikasi=klasifikasi).code == "klasifikasi_salah"


@pytest.mark.parametrize("perihal", ["", "   ", "\n\t"])
def test_meta_empty_perihal(perihal: str) -> None:
    r = meta_refusal(perihal=perihal)
    assert (r.code, r.message) == ("perihal_kosong", "Perihal surat wajib diisi.")


@pytest.mark.parametrize("tujuan", ["", "   "])
def test_meta_empty_tujuan(tujuan: str) -> None:
    r = meta_refusal(tujuan=tujuan)
    assert (r.code, r.message) == ("tujuan_kosong", "Tujuan surat wajib diisi.")


@pytest.mark.parametrize("field", ["perihal", "tujuan", "tembusan"])
def test_meta_text_too_long(field: str) -> None:
    assert meta(**{field: "a" * MAX_TEXT}).validated()
    r = meta_refusal(**{field: "a" * (MAX_TEXT + 1)})
    assert r.code == "teks_terlalu_panjang"
    assert r.message.startswith(field.capitalize())


def test_meta_checks_fields_in_order() -> None:
    # Everything is wrong: the perihal is named first, then each field in turn as it is fixed.
    wrong = {"perihal": "", "tujuan": "", "sifat": "x", "urgensi": "x", "klasifikasi": "x"}
    codes = []
    for field, good in [
        ("perihal", "Undangan"),
        ("tujuan", "Dinas"),
        ("sifat", "Biasa"),
        ("urgensi", "Biasa"),
        ("klasifikasi", "500.16"),
    ]:
        with pytest.raises(Refusal) as info:
            meta(**wrong).validated()
        codes.append(info.value.code)
        wrong[field] = good
    meta(**wrong).validated()
    assert codes == ["perihal_kosong", "tujuan_kosong", "sifat_salah", "urgensi_salah", "klasifikasi_salah"]


def test_normalise_choice() -> None:
    assert normalise_choice("sangat   segera", ("Biasa", "Segera", "Sangat Segera")) == "Sangat Segera"
    assert normalise_choice("segera sekali", ("Biasa", "Segera", "Sangat Segera")) is None
