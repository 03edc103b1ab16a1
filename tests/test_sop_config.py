"""Tests for the SOP config loader: the shipped DPMPTSP Sumedang file, broken variants, another office's SOP."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from suratbot.workflow.machine import Actor, LetterFacts, decide, first_move
from suratbot.workflow.sop import (
    DEFAULT_SOP_RESOURCE,
    HolderSpec,
    NumberingRule,
    Sop,
    SopConfigError,
    load_sop,
    parse_sop,
)

WIB = ZoneInfo("Asia/Jakarta")
SOP_FILE = Path(__file__).resolve().parents[1] / "suratbot" / "workflow" / DEFAULT_SOP_RESOURCE

STATES = (
    "konsep",
    "verifikasi_1",
    "verifikasi_2",
    "penomoran",
    "tanda_tangan",
    "pengiriman",
    "terkirim",
    "dibatalkan",
)
NON_FINAL = STATES[:6]

Data = dict[str, Any]
Mutator = Callable[[Data], None]


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


@pytest.fixture(scope="module")
def sop() -> Sop:
    return load_sop()


@pytest.fixture(scope="module")
def _shipped_data() -> Data:
    return tomllib.loads(SOP_FILE.read_text("utf-8"))


@pytest.fixture
def data(_shipped_data: Data) -> Data:
    """A fresh, mutable copy of the shipped SOP file's parsed TOML."""
    return copy.deepcopy(_shipped_data)


def _transition_index(data: Data, action: str, source: str | None = None) -> int:
    for i, t in enumerate(data["transitions"]):
        if t["action"] == action and (source is None or source in t["from"]):
            return i
    raise LookupError(action)  # pragma: no cover


# -- the shipped file -----------------------------------------------------------------------------------


def test_shipped_file_loads(sop: Sop) -> None:
    assert sop.code == "1.2.12"
    assert sop.name == "Pengelolaan Surat Keluar Secara Elektronik"
    assert sop.office == "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu Kabupaten Sumedang"
    assert sop.office_code == "DPMPTSP"
    assert sop.resubmit_to == "asker"
    assert sop.initial == "konsep"
    assert sop.source == f"<bawaan: {DEFAULT_SOP_RESOURCE}>"


def test_shipped_states_in_order(sop: Sop) -> None:
    assert tuple(sop.states) == STATES
    assert {k for k, s in sop.states.items() if s.final} == {"terkirim", "dibatalkan"}
    for key, state in sop.states.items():
        assert state.key == key
        assert state.name.strip()


def test_shipped_roles(sop: Sop) -> None:
    assert set(sop.roles) == {
        "konseptor", "verifikator1", "verifikator2", "sekretaris", "pengelola", "kepala", "admin"
    }  # fmt: skip
    assert sop.roles["kepala"].name == "Kepala Dinas"
    assert sop.roles["pengelola"].name == "Pengelola Surat"
    assert all(role.key == key for key, role in sop.roles.items())
    assert sop.drafting_roles == frozenset({"konseptor"})
    assert {k: r.verifier_level for k, r in sop.roles.items() if r.verifier_level} == {
        "verifikator1": 1,
        "verifikator2": 2,
    }
    assert sop.verifier_role(1) == "verifikator1"
    assert sop.verifier_role(2) == "verifikator2"


@pytest.mark.parametrize(
    ("state", "standard", "escalate", "step"),
    [
        ("konsep", 60, 120, 1),
        ("verifikasi_1", 60, 120, 1),
        ("verifikasi_2", 60, 120, 1),
        ("penomoran", 10, 20, 2),
        ("tanda_tangan", None, None, 2),
        ("pengiriman", 5, 10, 3),
        ("terkirim", None, None, None),
        ("dibatalkan", None, None, None),
    ],
)
def test_shipped_standard_times(sop: Sop, state: str, standard: int | None, escalate: int | None, step: int) -> None:
    s = sop.states[state]
    assert s.standard_minutes == standard
    assert s.escalate_after_minutes == escalate
    assert s.sop_step == step


def test_kepala_has_no_standard_time(sop: Sop) -> None:
    # The SOP gives Kepala Dinas no signing time: no deadline and no reminder until one is configured.
    tanda_tangan = sop.states["tanda_tangan"]
    assert tanda_tangan.holder == HolderSpec("role", role="kepala")
    assert tanda_tangan.standard_minutes is None
    assert tanda_tangan.escalate_after_minutes is None


@pytest.mark.parametrize(
    ("state", "holder", "text"),
    [
        ("konsep", HolderSpec("drafter"), "drafter"),
        ("verifikasi_1", HolderSpec("verifier", level=1), "verifier:1"),
        ("verifikasi_2", HolderSpec("verifier", level=2), "verifier:2"),
        ("penomoran", HolderSpec("role", role="pengelola"), "role:pengelola"),
        ("tanda_tangan", HolderSpec("role", role="kepala"), "role:kepala"),
        ("pengiriman", HolderSpec("role", role="pengelola"), "role:pengelola"),
        ("terkirim", None, None),
        ("dibatalkan", None, None),
    ],
)
def test_shipped_holders(sop: Sop, state: str, holder: HolderSpec | None, text: str | None) -> None:
    assert sop.states[state].holder == holder
    if text is not None:
        assert str(sop.states[state].holder) == text
        assert HolderSpec.parse(text, "k") == holder


def test_shipped_helpers(sop: Sop) -> None:
    assert sop.actions == frozenset(
        {"ajukan", "setujui", "revisi", "ajukan_ulang", "beri_nomor", "kembalikan", "tandatangani", "kirim", "batalkan"}
    )
    assert sop.first_review_state == "verifikasi_1"
    assert sop.office_roles() == {"pengelola", "kepala"}
    assert sop.verifier_levels() == [1, 2]
    assert [t.action for t in sop.transitions_from("konsep")] == ["ajukan", "ajukan_ulang", "batalkan"]
    assert [t.action for t in sop.transitions_from("tanda_tangan")] == ["kembalikan", "tandatangani", "batalkan"]
    assert sop.transitions_from("terkirim") == []
    assert sop.transition("setujui", "verifikasi_1").target == "verifikasi_2"
    assert sop.transition("setujui", "verifikasi_2").target == "penomoran"
    assert sop.transition("setujui", "penomoran") is None
    assert sop.transition("nonexistent", "konsep") is None


@pytest.mark.parametrize(
    ("action", "source", "target", "kind", "by", "note_required", "paraf"),
    [
        ("ajukan", "konsep", "verifikasi_1", "submit", ("holder",), False, False),
        ("setujui", "verifikasi_1", "verifikasi_2", "forward", ("holder",), False, True),
        ("setujui", "verifikasi_2", "penomoran", "forward", ("holder",), False, True),
        ("revisi", "verifikasi_1", "konsep", "revise", ("holder",), True, False),
        ("revisi", "verifikasi_2", "konsep", "revise", ("holder",), True, False),
        ("ajukan_ulang", "konsep", None, "resubmit", ("holder",), False, False),
        ("beri_nomor", "penomoran", "tanda_tangan", "forward", ("holder",), False, False),
        ("kembalikan", "tanda_tangan", "konsep", "revise", ("holder",), True, False),
        ("tandatangani", "tanda_tangan", "pengiriman", "forward", ("holder",), False, False),
        ("kirim", "pengiriman", "terkirim", "forward", ("holder",), False, False),
        *[
            ("batalkan", s, "dibatalkan", "cancel", ("drafter", "role:admin", "role:kepala"), True, False)
            for s in ("konsep", "verifikasi_1", "verifikasi_2", "penomoran")
        ],
        *[
            ("batalkan", s, "dibatalkan", "cancel", ("role:admin", "role:kepala"), True, False)
            for s in ("tanda_tangan", "pengiriman")
        ],
    ],
)
def test_shipped_transitions(
    sop: Sop,
    action: str,
    source: str,
    target: str | None,
    kind: str,
    by: tuple[str, ...],
    note_required: bool,
    paraf: bool,
) -> None:
    t = sop.transition(action, source)
    assert t is not None
    assert t.target == target
    assert t.kind == kind
    assert t.by == by
    assert t.note_required is note_required
    assert t.paraf is paraf
    assert t.label.strip()


def test_shipped_labels(sop: Sop) -> None:
    labels = {t.action: t.label for t in sop.transitions}
    assert labels["ajukan"] == "Kirim ke verifikator"
    assert labels["ajukan_ulang"] == "Kirim revisi"
    assert labels["beri_nomor"] == "Beri Nomor"


def test_shipped_calendar(sop: Sop) -> None:
    cal = sop.calendar
    assert cal.timezone == WIB
    assert cal.round_the_clock is False
    assert date(2026, 12, 25) in cal.holidays
    assert date(2027, 1, 1) in cal.holidays
    assert cal.is_working_time(wib(2026, 11, 27, 16, 29))  # Friday closes 16:30
    assert not cal.is_working_time(wib(2026, 11, 26, 16, 0))  # Thursday closes 16:00
    assert not cal.is_working_time(wib(2026, 11, 28, 9, 0))  # Saturday


def test_parse_sop_of_shipped_data_equals_load_sop(sop: Sop, data: Data) -> None:
    before = copy.deepcopy(data)
    parsed = parse_sop(data)
    assert parsed == sop  # `source` is not compared
    assert parsed.source == "<data>"
    assert data == before  # the loader does not change its input


def test_load_sop_from_path(tmp_path: Path) -> None:
    path = tmp_path / "sop.toml"
    path.write_text(SOP_FILE.read_text("utf-8"), "utf-8")
    loaded = load_sop(path)
    assert loaded == load_sop()
    assert loaded.source == str(path)
    assert load_sop(str(path)) == loaded


# -- numbering ------------------------------------------------------------------------------------------


def test_numbering_default_format(sop: Sop) -> None:
    assert sop.numbering == NumberingRule("{klasifikasi}/{urut}/{unit}/{tahun}", "DPMPTSP")
    assert sop.numbering.render(klasifikasi="500.16", serial=7, letter_date=date(2026, 3, 2)) == "500.16/7/DPMPTSP/2026"
    assert (
        sop.numbering.render(klasifikasi="000.1.2.3", serial=123, letter_date=date(2026, 12, 31))
        == "000.1.2.3/123/DPMPTSP/2026"
    )


@pytest.mark.parametrize(
    ("month", "roman"),
    [
        (1, "I"),
        (2, "II"),
        (3, "III"),
        (4, "IV"),
        (5, "V"),
        (6, "VI"),
        (7, "VII"),
        (8, "VIII"),
        (9, "IX"),
        (10, "X"),
        (11, "XI"),
        (12, "XII"),
    ],
)
def test_numbering_bulan_romawi(data: Data, month: int, roman: str) -> None:
    data["numbering"]["format"] = "{klasifikasi}/{urut}/{unit}/{bulan_romawi}/{tahun}"
    rule = parse_sop(data).numbering
    assert rule.render(klasifikasi="500.16", serial=7, letter_date=date(2026, month, 5)) == (
        f"500.16/7/DPMPTSP/{roman}/2026"
    )


def test_numbering_bulan_romawi_november() -> None:
    rule = NumberingRule("{klasifikasi}/{urut}/{unit}/{bulan_romawi}/{tahun}", "DPMPTSP")
    assert rule.render(klasifikasi="500.16", serial=7, letter_date=date(2026, 11, 25)) == "500.16/7/DPMPTSP/XI/2026"


def test_numbering_bulan_is_zero_padded_and_urut_may_be_formatted(data: Data) -> None:
    data["numbering"]["format"] = "{klasifikasi}/{urut:03d}/{unit}/{bulan}.{tahun}"
    rule = parse_sop(data).numbering
    assert rule.render(klasifikasi="800", serial=7, letter_date=date(2026, 3, 9)) == "800/007/DPMPTSP/03.2026"


def test_numbering_unit_defaults_to_office_code(data: Data) -> None:
    del data["numbering"]["unit"]
    data["sop"]["office_code"] = "DINKES"
    sop = parse_sop(data)
    assert sop.numbering.unit == "DINKES"
    assert sop.numbering.render(klasifikasi="400.7", serial=1, letter_date=date(2026, 1, 2)) == "400.7/1/DINKES/2026"


def test_numbering_without_year(data: Data) -> None:
    # Some offices drop the year.
    data["numbering"]["format"] = "{klasifikasi}/{urut}/{unit}"
    assert parse_sop(data).numbering.render(klasifikasi="500.16", serial=42, letter_date=date(2026, 6, 1)) == (
        "500.16/42/DPMPTSP"
    )


# -- escalation defaults --------------------------------------------------------------------------------


def test_escalate_after_defaults_to_twice_standard(data: Data) -> None:
    data["states"]["penomoran"]["standard_minutes"] = 15
    assert parse_sop(data).states["penomoran"].escalate_after_minutes == 30


def test_escalate_after_explicit(data: Data) -> None:
    data["states"]["penomoran"]["escalate_after_minutes"] = 45
    state = parse_sop(data).states["penomoran"]
    assert (state.standard_minutes, state.escalate_after_minutes) == (10, 45)


def test_escalate_equal_to_standard_is_allowed(data: Data) -> None:
    data["states"]["penomoran"]["escalate_after_minutes"] = 10
    assert parse_sop(data).states["penomoran"].escalate_after_minutes == 10


def test_kepala_time_can_be_configured(data: Data) -> None:
    data["states"]["tanda_tangan"]["standard_minutes"] = 30
    state = parse_sop(data).states["tanda_tangan"]
    assert (state.standard_minutes, state.escalate_after_minutes) == (30, 60)


def test_resubmit_to_start(data: Data) -> None:
    data["sop"]["resubmit_to"] = "start"
    assert parse_sop(data).resubmit_to == "start"


def test_resubmit_to_defaults_to_asker(data: Data) -> None:
    del data["sop"]["resubmit_to"]
    assert parse_sop(data).resubmit_to == "asker"


# -- broken files ---------------------------------------------------------------------------------------


def _set(*path: str | int, value: Any) -> Mutator:
    def mutate(d: Data) -> None:
        target: Any = d
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return mutate


def _del(*path: str | int) -> Mutator:
    def mutate(d: Data) -> None:
        target: Any = d
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


def _add_unreachable_state(d: Data) -> None:
    d["states"]["arsip"] = {"name": "Arsip", "holder": "role:pengelola", "standard_minutes": 5}


def _no_final_state(d: Data) -> None:
    for key in ("terkirim", "dibatalkan"):
        d["states"][key] = {"name": key, "holder": "role:pengelola"}


def _drop_transition(action: str, source: str | None = None) -> Mutator:
    def mutate(d: Data) -> None:
        del d["transitions"][_transition_index(d, action, source)]

    return mutate


def _duplicate_setujui(d: Data) -> None:
    extra = copy.deepcopy(d["transitions"][_transition_index(d, "setujui", "verifikasi_1")])
    extra["to"] = "penomoran"  # a second "setujui" from verifikasi_1
    d["transitions"].append(extra)


# Indices of the shipped [[transitions]] tables, in file order.
T_AJUKAN, T_SETUJUI_1, T_SETUJUI_2, T_REVISI, T_AJUKAN_ULANG, T_BERI_NOMOR = 0, 1, 2, 3, 4, 5
T_KEMBALIKAN, T_TANDATANGANI, T_KIRIM, T_BATALKAN, T_BATALKAN_BERNOMOR = 6, 7, 8, 9, 10

BROKEN: list[Any] = [
    # top level and [sop]
    pytest.param(_set("extra", value={}), "extra", id="unknown-top-level-key"),
    pytest.param(_set("sop", "versi", value="2"), "sop.versi", id="unknown-sop-key"),
    pytest.param(_del("sop"), "sop", id="missing-sop-table"),
    pytest.param(_set("sop", value="1.2.12"), "sop", id="sop-not-a-table"),
    pytest.param(_del("sop", "code"), "sop.code", id="missing-sop-code"),
    pytest.param(_set("sop", "name", value="   "), "sop.name", id="blank-sop-name"),
    pytest.param(_set("sop", "office", value=3), "sop.office", id="sop-office-not-a-string"),
    pytest.param(_set("sop", "resubmit_to", value="drafter"), "sop.resubmit_to", id="bad-resubmit-to"),
    # [roles]
    pytest.param(_set("roles", value={}), "roles", id="no-roles"),
    pytest.param(_set("roles", "Kasir", value={"name": "Kasir"}), "roles.Kasir", id="role-key-upper-case"),
    pytest.param(_set("roles", "kasir", value="Kasir"), "roles.kasir", id="role-not-a-table"),
    pytest.param(_set("roles", "kasir", value={}), "roles.kasir.name", id="role-without-name"),
    pytest.param(_set("roles", "kasir", value={"name": "K", "nip": "1"}), "roles.kasir.nip", id="role-unknown-key"),
    pytest.param(_set("roles", "konseptor", "drafts", value="ya"), "roles.konseptor.drafts", id="drafts-not-bool"),
    pytest.param(_set("roles", "konseptor", "drafts", value=False), "roles", id="nobody-drafts"),
    pytest.param(
        _set("roles", "verifikator1", "verifier_level", value=0),
        "roles.verifikator1.verifier_level",
        id="verifier-level-zero",
    ),
    pytest.param(
        _set("roles", "verifikator1", "verifier_level", value="1"),
        "roles.verifikator1.verifier_level",
        id="verifier-level-string",
    ),
    pytest.param(
        _set("roles", "verifikator2", "verifier_level", value=3),
        "states.verifikasi_2.holder",
        id="verifier-level-without-role",
    ),
    # [states]
    pytest.param(
        _set("states", "penomoran", "holder", value="role:nobody"), "states.penomoran.holder", id="holder-unknown-role"
    ),
    pytest.param(
        _set("states", "tanda_tangan", "holder", value="kepala"), "states.tanda_tangan.holder", id="holder-bare"
    ),
    pytest.param(
        _set("states", "penomoran", "holder", value="role:"), "states.penomoran.holder", id="holder-role-empty"
    ),
    pytest.param(
        _set("states", "verifikasi_1", "holder", value="verifier:0"),
        "states.verifikasi_1.holder",
        id="holder-verifier-0",
    ),
    pytest.param(
        _set("states", "verifikasi_1", "holder", value="verifier:x"),
        "states.verifikasi_1.holder",
        id="holder-verifier-x",
    ),
    pytest.param(
        _set("states", "verifikasi_1", "holder", value="verifier:-1"),
        "states.verifikasi_1.holder",
        id="holder-verifier-negative",
    ),
    pytest.param(_set("states", "konsep", "holder", value="Drafter"), "states.konsep.holder", id="holder-case"),
    pytest.param(_set("states", "konsep", "holder", value=1), "states.konsep.holder", id="holder-not-a-string"),
    pytest.param(_del("states", "penomoran", "holder"), "states.penomoran.holder", id="holder-missing"),
    pytest.param(
        _set("states", "terkirim", "holder", value="drafter"), "states.terkirim.holder", id="final-with-holder"
    ),
    pytest.param(
        _set("states", "penomoran", "standard_minutes", value=-5),
        "states.penomoran.standard_minutes",
        id="standard-negative",
    ),
    pytest.param(
        _set("states", "penomoran", "standard_minutes", value=0),
        "states.penomoran.standard_minutes",
        id="standard-zero",
    ),
    pytest.param(
        _set("states", "penomoran", "standard_minutes", value="10"),
        "states.penomoran.standard_minutes",
        id="standard-string",
    ),
    pytest.param(
        _set("states", "penomoran", "standard_minutes", value=10.5),
        "states.penomoran.standard_minutes",
        id="standard-float",
    ),
    pytest.param(
        _set("states", "penomoran", "standard_minutes", value=True),
        "states.penomoran.standard_minutes",
        id="standard-bool",
    ),
    pytest.param(
        _set("states", "penomoran", "escalate_after_minutes", value=5),
        "states.penomoran.escalate_after_minutes",
        id="escalate-shorter-than-standard",
    ),
    pytest.param(
        _set("states", "penomoran", "escalate_after_minutes", value=0),
        "states.penomoran.escalate_after_minutes",
        id="escalate-zero",
    ),
    pytest.param(
        _set("states", "terkirim", "standard_minutes", value=5),
        "states.terkirim.standard_minutes",
        id="final-with-standard",
    ),
    pytest.param(_set("states", "terkirim", "final", value="yes"), "states.terkirim.final", id="final-not-bool"),
    pytest.param(_set("states", "konsep", "sop_step", value=0), "states.konsep.sop_step", id="sop-step-zero"),
    pytest.param(_set("states", "konsep", "sop_step", value="1"), "states.konsep.sop_step", id="sop-step-string"),
    pytest.param(_set("states", "konsep", "deadline", value=5), "states.konsep.deadline", id="state-unknown-key"),
    pytest.param(_del("states", "konsep", "name"), "states.konsep.name", id="state-without-name"),
    pytest.param(
        _set("states", "Arsip", value={"name": "Arsip", "final": True}), "states.Arsip", id="state-key-upper-case"
    ),
    pytest.param(_set("states", "arsip", value="Arsip"), "states.arsip", id="state-not-a-table"),
    pytest.param(_add_unreachable_state, "states.arsip", id="unreachable-state"),
    pytest.param(_drop_transition("tandatangani"), "states.pengiriman", id="unreachable-after-dropped-transition"),
    pytest.param(
        _set("states", "terkirim", "final", value=False), "states.terkirim.holder", id="not-final-needs-holder"
    ),
    pytest.param(_no_final_state, "states", id="no-final-state"),
    # [flow]
    pytest.param(_set("flow", "initial", value="draf"), "flow.initial", id="initial-unknown"),
    pytest.param(_set("flow", "initial", value="verifikasi_1"), "flow.initial", id="initial-not-drafter"),
    pytest.param(_del("flow", "initial"), "flow.initial", id="initial-missing"),
    pytest.param(_del("flow"), "flow", id="flow-missing"),
    pytest.param(_set("flow", "start", value="konsep"), "flow.start", id="flow-unknown-key"),
    # [[transitions]]
    pytest.param(_del("transitions"), "transitions", id="transitions-missing"),
    pytest.param(_set("transitions", value=[]), "transitions", id="transitions-empty"),
    pytest.param(_set("transitions", value={"action": "x"}), "transitions", id="transitions-not-a-list"),
    pytest.param(_set("transitions", T_KIRIM, value="kirim"), f"transitions[{T_KIRIM}]", id="transition-not-a-table"),
    pytest.param(
        _set("transitions", T_SETUJUI_1, "to", value="verifikasi_9"),
        f"transitions[{T_SETUJUI_1}].to",
        id="to-unknown-state",
    ),
    pytest.param(_del("transitions", T_KIRIM, "to"), f"transitions[{T_KIRIM}].to", id="to-missing"),
    pytest.param(
        _set("transitions", T_KIRIM, "from", value=["terkirim"]),
        f"transitions[{T_KIRIM}].from[0]",
        id="from-final-state",
    ),
    pytest.param(
        _set("transitions", T_BATALKAN, "from", value=["konsep", "dibatalkan"]),
        f"transitions[{T_BATALKAN}].from[1]",
        id="from-final-state-second",
    ),
    pytest.param(
        _set("transitions", T_SETUJUI_1, "from", value=["verifikasi_9"]),
        f"transitions[{T_SETUJUI_1}].from[0]",
        id="from-unknown-state",
    ),
    pytest.param(_set("transitions", T_KIRIM, "from", value=[]), f"transitions[{T_KIRIM}].from", id="from-empty"),
    pytest.param(
        _set("transitions", T_KIRIM, "from", value="pengiriman"), f"transitions[{T_KIRIM}].from", id="from-not-a-list"
    ),
    pytest.param(
        _set("transitions", T_BERI_NOMOR, "kind", value="jump"), f"transitions[{T_BERI_NOMOR}].kind", id="unknown-kind"
    ),
    pytest.param(_del("transitions", T_BERI_NOMOR, "kind"), f"transitions[{T_BERI_NOMOR}].kind", id="kind-missing"),
    pytest.param(
        _set("transitions", T_BERI_NOMOR, "by", value=["role:nobody"]),
        f"transitions[{T_BERI_NOMOR}].by[0]",
        id="by-unknown-role",
    ),
    pytest.param(
        _set("transitions", T_BATALKAN, "by", value=["drafter", "admin"]),
        f"transitions[{T_BATALKAN}].by[1]",
        id="by-bare-role",
    ),
    pytest.param(_set("transitions", T_BERI_NOMOR, "by", value=[]), f"transitions[{T_BERI_NOMOR}].by", id="by-empty"),
    pytest.param(
        _set("transitions", T_BERI_NOMOR, "by", value="holder"), f"transitions[{T_BERI_NOMOR}].by", id="by-not-a-list"
    ),
    pytest.param(
        _set("transitions", T_AJUKAN_ULANG, "to", value="verifikasi_1"),
        f"transitions[{T_AJUKAN_ULANG}].to",
        id="resubmit-with-to",
    ),
    pytest.param(
        _set("transitions", T_AJUKAN_ULANG, "from", value=["verifikasi_1"]),
        f"transitions[{T_AJUKAN_ULANG}].from",
        id="resubmit-from-non-drafter-state",
    ),
    pytest.param(_duplicate_setujui, "transitions[11].from", id="duplicate-action-from"),
    pytest.param(
        _set("transitions", T_SETUJUI_2, "from", value=["verifikasi_1"]),
        f"transitions[{T_SETUJUI_2}].from",
        id="duplicate-action-from-earlier",
    ),
    pytest.param(
        _set("transitions", T_BATALKAN, "to", value="konsep"), f"transitions[{T_BATALKAN}].to", id="cancel-to-non-final"
    ),
    pytest.param(
        _set("transitions", T_REVISI, "to", value="penomoran"),
        f"transitions[{T_REVISI}].to",
        id="revise-to-non-drafter",
    ),
    pytest.param(
        _set("transitions", T_AJUKAN, "from", value=["verifikasi_1"]),
        f"transitions[{T_AJUKAN}].from",
        id="submit-not-from-initial",
    ),
    pytest.param(_set("transitions", T_AJUKAN, "kind", value="forward"), "transitions", id="no-submit-from-initial"),
    pytest.param(_drop_transition("ajukan_ulang"), "transitions", id="revise-without-resubmit"),
    pytest.param(
        _set("transitions", T_AJUKAN, "action", value="Ajukan"), f"transitions[{T_AJUKAN}].action", id="action-bad-key"
    ),
    pytest.param(_del("transitions", T_AJUKAN, "action"), f"transitions[{T_AJUKAN}].action", id="action-missing"),
    pytest.param(
        _set("transitions", T_AJUKAN, "when", value="now"), f"transitions[{T_AJUKAN}].when", id="transition-unknown-key"
    ),
    pytest.param(
        _set("transitions", T_REVISI, "note_required", value="yes"),
        f"transitions[{T_REVISI}].note_required",
        id="note-required-not-bool",
    ),
    pytest.param(
        _set("transitions", T_SETUJUI_1, "paraf", value=1), f"transitions[{T_SETUJUI_1}].paraf", id="paraf-not-bool"
    ),
    pytest.param(_set("transitions", T_AJUKAN, "label", value=""), f"transitions[{T_AJUKAN}].label", id="label-empty"),
    # [numbering]
    pytest.param(_del("numbering"), "numbering", id="numbering-missing"),
    pytest.param(
        _set("numbering", "format", value="{klasifikasi}/{urut}/{nomor}/{tahun}"),
        "numbering.format",
        id="format-unknown-field",
    ),
    pytest.param(
        _set("numbering", "format", value="{klasifikasi}/{unit}/{tahun}"), "numbering.format", id="format-without-urut"
    ),
    pytest.param(_set("numbering", "format", value="{klasifikasi}/{urut"), "numbering.format", id="format-unclosed"),
    pytest.param(_set("numbering", "format", value="{}/{urut}"), "numbering.format", id="format-positional"),
    pytest.param(_set("numbering", "format", value="{0}/{urut}"), "numbering.format", id="format-index"),
    pytest.param(
        _set("numbering", "format", value="{klasifikasi}/{urut}/{unit.upper}"),
        "numbering.format",
        id="format-attribute-access",
    ),
    pytest.param(_set("numbering", "format", value="{urut[0]}/{unit}"), "numbering.format", id="format-item-access"),
    pytest.param(_set("numbering", "format", value=""), "numbering.format", id="format-empty"),
    pytest.param(_set("numbering", "unit", value=""), "numbering.unit", id="unit-empty"),
    pytest.param(_set("numbering", "prefix", value="X"), "numbering.prefix", id="numbering-unknown-key"),
    # [calendar]
    pytest.param(_set("calendar", "friday", value=["07:30-25:00"]), "calendar.friday[0]", id="calendar-bad-interval"),
    pytest.param(_set("calendar", "fridy", value=["07:30-16:00"]), "calendar.fridy", id="calendar-unknown-key"),
    pytest.param(_set("calendar", "timezone", value="Asia/Bandung"), "calendar.timezone", id="calendar-bad-timezone"),
    pytest.param(
        _set("calendar", "holidays", value=["2026-12-25", "2026-02-30"]), "calendar.holidays[1]", id="calendar-bad-date"
    ),
    pytest.param(_del("calendar"), "calendar", id="calendar-missing"),
]


@pytest.mark.parametrize(("mutate", "key"), BROKEN)
def test_broken_sop_names_the_key(data: Data, mutate: Mutator, key: str) -> None:
    mutate(data)
    with pytest.raises(SopConfigError) as info:
        parse_sop(data)
    assert info.value.key == key
    assert info.value.message.strip()
    assert str(info.value) == f"{key}: {info.value.message}"


def test_broken_calendar_message_is_not_doubly_prefixed(data: Data) -> None:
    data["calendar"]["friday"] = ["07:30-25:00"]
    with pytest.raises(SopConfigError) as info:
        parse_sop(data)
    assert not info.value.message.startswith("calendar.friday[0]")
    assert "25" in info.value.message


def test_sop_config_error_is_a_value_error() -> None:
    err = SopConfigError("states.konsep", "broken")
    assert isinstance(err, ValueError)
    assert (err.key, err.message, str(err)) == ("states.konsep", "broken", "states.konsep: broken")


def test_invalid_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "rusak.toml"
    path.write_text('[sop]\ncode = "1.2.12\n', "utf-8")
    with pytest.raises(SopConfigError) as info:
        load_sop(path)
    assert info.value.key == "<toml>"
    assert str(path) in info.value.message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "tidak_ada.toml"
    with pytest.raises(SopConfigError) as info:
        load_sop(path)
    assert info.value.key == "<file>"
    assert str(path) in info.value.message


def test_broken_file_on_disk_names_the_key(tmp_path: Path) -> None:
    text = SOP_FILE.read_text("utf-8").replace("standard_minutes = 10\n", "standard_minutes = -10\n")
    path = tmp_path / "sop.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(SopConfigError) as info:
        load_sop(path)
    assert info.value.key == "states.penomoran.standard_minutes"


def test_holder_spec_parse_errors_name_the_given_key() -> None:
    with pytest.raises(SopConfigError) as info:
        HolderSpec.parse("verifier:", "states.x.holder")
    assert info.value.key == "states.x.holder"


# -- regressions: bugs these tests found (now fixed) ---------------------------------------------------


def _add_state_only_reachable_by_revise(d: Data) -> None:
    # A verifier-3 state that no transition leads to, but that may ask for a revision.
    d["roles"]["verifikator3"] = {"name": "Verifikator 3", "verifier_level": 3}
    d["states"]["verifikasi_3"] = {"name": "Verifikasi 3", "holder": "verifier:3", "standard_minutes": 60}
    d["transitions"][T_REVISI]["from"].append("verifikasi_3")


def test_state_reachable_only_through_its_own_revise_is_unreachable(data: Data) -> None:
    _add_state_only_reachable_by_revise(data)
    with pytest.raises(SopConfigError) as info:
        parse_sop(data)
    assert info.value.key == "states.verifikasi_3"


def test_holder_verifier_superscript_digit_is_a_config_error(data: Data) -> None:
    data["states"]["verifikasi_1"]["holder"] = "verifier:²"
    with pytest.raises(SopConfigError) as info:
        parse_sop(data)
    assert info.value.key == "states.verifikasi_1.holder"


def test_holder_verifier_arabic_indic_digit_is_a_config_error(data: Data) -> None:
    data["states"]["verifikasi_1"]["holder"] = "verifier:١"
    with pytest.raises(SopConfigError) as info:
        parse_sop(data)
    assert info.value.key == "states.verifikasi_1.holder"


def test_key_with_trailing_newline_is_refused(data: Data) -> None:
    data["roles"]["kasir\n"] = {"name": "Kasir"}
    with pytest.raises(SopConfigError) as info:
        parse_sop(data)
    assert info.value.key == "roles.kasir\n"


@pytest.mark.parametrize(
    "fmt",
    [
        pytest.param("{klasifikasi}/{urut:{nomor}}/{unit}", id="nested-unknown-field"),
        pytest.param("{klasifikasi:d}/{urut}/{unit}", id="int-spec-on-text-field"),
    ],
)
def test_numbering_format_that_cannot_render_is_refused_at_load(data: Data, fmt: str) -> None:
    data["numbering"]["format"] = fmt
    try:
        sop = parse_sop(data)
    except SopConfigError as exc:
        assert exc.key == "numbering.format"
        return
    sop.numbering.render(klasifikasi="500.16", serial=7, letter_date=date(2026, 11, 25))
    pytest.fail(f"{fmt!r} loads and renders")  # pragma: no cover


# -- another office's SOP -------------------------------------------------------------------------------

OTHER_OFFICE_TOML = """
[sop]
code = "3.1.4"
name = "Penerbitan Surat Keluar"
office = "Dinas Kesehatan Kabupaten Contoh"
office_code = "DINKES"
resubmit_to = "start"

[roles.konseptor]
name = "Staf"
drafts = true
[roles.kasubag]
name = "Kasubag Umum"
verifier_level = 1
[roles.tu]
name = "Tata Usaha"
[roles.kadis]
name = "Kepala Dinas"
[roles.admin]
name = "Admin"

[states.draf]
name = "Draf"
holder = "drafter"
standard_minutes = 30

[states.verifikasi_1]
name = "Verifikasi"
holder = "verifier:1"
standard_minutes = 45
escalate_after_minutes = 60

[states.penomoran]
name = "Penomoran"
holder = "role:tu"
standard_minutes = 15

[states.tanda_tangan]
name = "Tanda tangan"
holder = "role:kadis"
standard_minutes = 120

[states.pengiriman]
name = "Pengiriman"
holder = "role:tu"
standard_minutes = 5

[states.selesai]
name = "Selesai"
final = true

[states.batal]
name = "Batal"
final = true

[flow]
initial = "draf"

[[transitions]]
action = "ajukan"
from = ["draf"]
to = "verifikasi_1"
kind = "submit"
by = ["holder"]

[[transitions]]
action = "setujui"
from = ["verifikasi_1"]
to = "penomoran"
kind = "forward"
by = ["holder"]
paraf = true

[[transitions]]
action = "revisi"
from = ["verifikasi_1", "tanda_tangan"]
to = "draf"
kind = "revise"
by = ["holder"]
note_required = true

[[transitions]]
action = "ajukan_ulang"
from = ["draf"]
kind = "resubmit"
by = ["drafter"]

[[transitions]]
action = "beri_nomor"
from = ["penomoran"]
to = "tanda_tangan"
kind = "forward"
by = ["holder", "role:admin"]

[[transitions]]
action = "tandatangani"
from = ["tanda_tangan"]
to = "pengiriman"
kind = "forward"
by = ["holder"]

[[transitions]]
action = "kirim"
from = ["pengiriman"]
to = "selesai"
kind = "forward"
by = ["holder"]

[[transitions]]
action = "batalkan"
from = ["draf", "verifikasi_1", "penomoran", "tanda_tangan", "pengiriman"]
to = "batal"
kind = "cancel"
by = ["role:admin"]

[numbering]
format = "{klasifikasi}/{urut}/{unit}/{bulan_romawi}/{tahun}"

[calendar]
timezone = "Asia/Jakarta"
monday = ["08:00-12:00", "13:00-16:00"]
tuesday = ["08:00-12:00", "13:00-16:00"]
wednesday = ["08:00-12:00", "13:00-16:00"]
thursday = ["08:00-12:00", "13:00-16:00"]
friday = ["08:00-11:00"]
saturday = []
sunday = []
"""


@pytest.fixture
def other(tmp_path: Path) -> Sop:
    path = tmp_path / "sop_dinkes.toml"
    path.write_text(OTHER_OFFICE_TOML, "utf-8")
    return load_sop(path)


def test_other_office_loads(other: Sop) -> None:
    assert other.office_code == "DINKES"
    assert other.initial == "draf"
    assert other.first_review_state == "verifikasi_1"
    assert other.verifier_levels() == [1]
    assert other.office_roles() == {"tu", "kadis"}
    assert other.drafting_roles == frozenset({"konseptor"})
    assert other.verifier_role(1) == "kasubag"
    assert other.states["verifikasi_1"].escalate_after_minutes == 60
    assert other.states["tanda_tangan"].escalate_after_minutes == 240
    assert "verifikasi_2" not in other.states
    assert other.transition("ajukan", "draf").label == "ajukan"  # label defaults to the action
    assert other.numbering.unit == "DINKES"
    assert other.numbering.render(klasifikasi="440", serial=3, letter_date=date(2026, 11, 25)) == "440/3/DINKES/XI/2026"


def test_other_office_runs_on_the_machine(other: Sop) -> None:
    staf, kasubag, tu, kadis, admin = (
        Actor(1, frozenset({"konseptor"})),
        Actor(2, frozenset({"kasubag"})),
        Actor(3, frozenset({"tu"})),
        Actor(4, frozenset({"kadis"})),
        Actor(9, frozenset({"admin"})),
    )
    now = wib(2026, 11, 25, 11, 30)  # Wednesday, half an hour before the lunch break

    state, holder, due = first_move(other, now=now)
    assert (state, holder, due) == ("draf", HolderSpec("drafter"), wib(2026, 11, 25, 12, 0))

    move = decide(other, LetterFacts("draf", 1, 1, None), staf, "ajukan", now=now)
    assert (move.to_state, move.holder) == ("verifikasi_1", HolderSpec("verifier", level=1))
    # 45 working minutes: 30 before lunch, 15 after it.
    assert move.due_at == wib(2026, 11, 25, 13, 15)
    assert move.escalate_at == wib(2026, 11, 25, 13, 30)

    move = decide(other, LetterFacts("verifikasi_1", 2, 1, None), kasubag, "revisi", now=now, note="Perbaiki.")
    assert (move.to_state, move.return_state) == ("draf", "verifikasi_1")

    move = decide(other, LetterFacts("draf", 1, 1, "verifikasi_1"), staf, "ajukan_ulang", now=now)
    assert (move.to_state, move.return_state) == ("verifikasi_1", None)

    move = decide(other, LetterFacts("verifikasi_1", 2, 1, None), kasubag, "setujui", now=now)
    assert (move.to_state, move.holder, move.transition.paraf) == (
        "penomoran",
        HolderSpec("role", role="tu"),
        True,
    )

    # The admin may number in the clerk's stead.
    move = decide(other, LetterFacts("penomoran", 3, 1, None), admin, "beri_nomor", now=now)
    assert move.to_state == "tanda_tangan"
    assert move.due_at == wib(2026, 11, 25, 14, 30)  # 120 minutes: 30 before lunch, 90 after

    # A revision asked by Kepala Dinas goes back to the start (resubmit_to = "start").
    move = decide(other, LetterFacts("tanda_tangan", 4, 1, None), kadis, "revisi", now=now, note="Ganti tujuan.")
    assert (move.to_state, move.return_state) == ("draf", "tanda_tangan")
    move = decide(other, LetterFacts("draf", 1, 1, "tanda_tangan"), staf, "ajukan_ulang", now=now)
    assert move.to_state == "verifikasi_1"

    move = decide(other, LetterFacts("tanda_tangan", 4, 1, None), kadis, "tandatangani", now=now)
    assert move.to_state == "pengiriman"
    move = decide(other, LetterFacts("pengiriman", 3, 1, None), tu, "kirim", now=now)
    assert (move.to_state, move.holder, move.due_at) == ("selesai", None, None)


def test_other_office_from_shipped_data_without_verifikasi_2(data: Data) -> None:
    # The same office, with a one-verifier chain: drafter -> verifikasi_1 -> penomoran -> ...
    del data["states"]["verifikasi_2"]
    del data["roles"]["verifikator2"]
    data["transitions"][T_SETUJUI_1]["to"] = "penomoran"
    del data["transitions"][T_SETUJUI_2]
    for t in data["transitions"]:
        t["from"] = [s for s in t["from"] if s != "verifikasi_2"]
    with pytest.raises(SopConfigError) as stale:  # verifikasi_1 escalated to the verifier 2 that is gone
        parse_sop(data)
    assert stale.value.key == "states.verifikasi_1.escalate_to[0]"
    data["states"]["verifikasi_1"]["escalate_to"] = ["role:sekretaris", "role:kepala"]
    sop = parse_sop(data)
    assert tuple(sop.states) == tuple(s for s in STATES if s != "verifikasi_2")
    assert sop.verifier_levels() == [1]

    drafter, verifier = Actor(1, frozenset({"konseptor"})), Actor(2, frozenset({"verifikator1"}))
    now = wib(2026, 11, 25, 9, 0)
    move = decide(sop, LetterFacts("verifikasi_1", 2, 1, None), verifier, "setujui", now=now)
    assert (move.to_state, move.holder, move.due_at) == (
        "penomoran",
        HolderSpec("role", role="pengelola"),
        wib(2026, 11, 25, 9, 10),
    )
    move = decide(sop, LetterFacts("konsep", 1, 1, "verifikasi_1"), drafter, "ajukan_ulang", now=now)
    assert move.to_state == "verifikasi_1"


def test_shipped_escalation_and_reminder_rule(sop: Sop) -> None:
    from datetime import time

    from suratbot.workflow.sop import HolderSpec

    escalate = {key: [str(spec) for spec in state.escalate_to] for key, state in sop.states.items()}
    assert escalate["konsep"] == ["verifier:1"]
    assert escalate["verifikasi_1"] == ["verifier:2"]
    assert escalate["verifikasi_2"] == ["role:sekretaris", "role:kepala"]
    assert escalate["penomoran"] == escalate["pengiriman"] == ["role:kepala"]
    assert escalate["tanda_tangan"] == [] and sop.states["tanda_tangan"].standard_minutes is None
    assert sop.reminders.repeat_minutes == 30 and sop.reminders.digest_at == time(7, 45)
    assert HolderSpec("role", role="kepala") in sop.states["penomoran"].escalate_to


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"states": {"konsep": {"escalate_to": ["role:bupati"]}}}, "states.konsep.escalate_to[0]"),
        ({"states": {"konsep": {"escalate_to": "verifier:9"}}}, "states.konsep.escalate_to[0]"),
        ({"states": {"konsep": {"escalate_to": 3}}}, "states.konsep.escalate_to"),
        ({"reminders": {"repeat_minutes": 0}}, "reminders.repeat_minutes"),
        ({"reminders": {"digest_at": "25:00"}}, "reminders.digest_at"),
        ({"reminders": {"sometimes": True}}, "reminders"),
    ],
)
def test_bad_reminder_settings_name_their_key(patch: dict, key: str) -> None:
    import copy
    import tomllib
    from importlib import resources

    from suratbot.workflow.sop import SopConfigError, parse_sop

    data = tomllib.loads(resources.files("suratbot.workflow").joinpath("sop_dpmptsp_sumedang.toml").read_text())
    data = copy.deepcopy(data)
    for top, body in patch.items():
        if top == "states":
            for state, fields in body.items():
                data["states"][state].update(fields)
        else:
            data.setdefault(top, {}).update(body)
    with pytest.raises(SopConfigError) as error:
        parse_sop(data)
    assert error.value.key.startswith(key)
