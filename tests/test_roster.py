"""Tests for the roster: phone normalisation, the CSV checks (all or nothing) and the import by NIP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.services.roster import (
    RosterError,
    RosterProblem,
    import_roster,
    normalise_phone,
    parse_roster,
)
from suratbot.storage.models import AuditEvent, Staff, Unit, UnitVerifier
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop
from tests.conftest import FakeClock, roster_text
from tests.helpers import META, audit_of, letter_at, outbox_of, pdf, people

HEADER = "nip,nama,jabatan,unit,peran,telepon"
EXAMPLE = roster_text()
LINES = EXAMPLE.strip().splitlines()  # LINES[0] is the header, LINES[i] is line i + 1 of the file

# NIPs of the example roster by name (line in the file after the name).
DID_NOT_RAISE = pytest.fail.Exception  # what pytest.raises raises when nothing was raised

ASEP = "197001012000031001"  # line 2, kepala
RINA = "197505152001122002"  # line 3, verifikator2 Sekretariat
DEDI = "198003202005011003"  # line 4, verifikator1 Sekretariat / Subbagian
YUSUF = "198806182010011005"  # line 6, pengelola;admin
BAMBANG = "197808082003121006"  # line 7, verifikator2 Bidang Pelayanan Perizinan
LINA = "198502142009022007"  # line 8, verifikator1 ... / Seksi Perizinan Usaha
RIZKI = "199405052019031008"  # line 9, konseptor ... / Seksi Perizinan Usaha
FAJAR = "199603032020121011"  # line 12, konseptor Bidang Penanaman Modal / Seksi Promosi
ALL_NIPS = sorted(line.split(",")[0] for line in LINES[1:])

PERIZINAN = "Bidang Pelayanan Perizinan"
SEKSI_USAHA = "Bidang Pelayanan Perizinan / Seksi Perizinan Usaha"
PENANAMAN = "Bidang Penanaman Modal"
SEKSI_PROMOSI = "Bidang Penanaman Modal / Seksi Promosi"
SUBBAG = "Sekretariat / Subbagian Umum dan Kepegawaian"

EXPECTED_VERIFIERS = {
    "Pimpinan": {},
    "Sekretariat": {2: "Hj. Rina Marlina"},
    SUBBAG: {1: "Dedi Kurniawan", 2: "Hj. Rina Marlina"},
    PERIZINAN: {2: "Ir. Bambang Hermawan"},
    SEKSI_USAHA: {1: "Lina Herlina", 2: "Ir. Bambang Hermawan"},
    PENANAMAN: {2: "Agus Setiawan"},
    SEKSI_PROMOSI: {1: "Neng Yulianti", 2: "Agus Setiawan"},
}


def csv_of(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def example_with(*extra: str, without: tuple[str, ...] = (), replace: dict[str, str] | None = None) -> str:
    """The example roster, minus the rows of NIPs in `without`, rows replaced by NIP, plus `extra` rows."""
    replace = replace or {}
    rows = []
    for line in LINES[1:]:
        nip = line.split(",")[0]
        if nip in without:
            continue
        rows.append(replace.get(nip, line))
    return csv_of(HEADER, *rows, *extra)


def row_of(nip: str) -> list[str]:
    return next(line.split(",") for line in LINES[1:] if line.startswith(nip + ","))


def with_fields(of: str, **fields: str) -> str:
    """The example row of NIP `of` with some cells replaced."""
    cells = row_of(of)
    for name, value in fields.items():
        cells[HEADER.split(",").index(name)] = value
    return ",".join(cells)


async def staff_by_nip(office: Office) -> dict[str, Staff]:
    async with office.uow() as uow:
        return {s.nip: s for s in (await uow.session.scalars(select(Staff).options(selectinload(Staff.unit)))).all()}


async def count(office: Office, model: Any) -> int:
    async with office.uow() as uow:
        return await uow.session.scalar(select(func.count()).select_from(model))


async def verifiers(office: Office) -> dict[str, dict[int, str]]:
    """Each unit's verifier chain as stored: {unit name: {level: nama}} (units without rows map to {})."""
    async with office.uow() as uow:
        units = {u.id: u.name for u in (await uow.session.scalars(select(Unit))).all()}
        names = {s.id: s.nama for s in (await uow.session.scalars(select(Staff))).all()}
        rows = (await uow.session.scalars(select(UnitVerifier))).all()
    chains: dict[str, dict[int, str]] = {name: {} for name in units.values()}
    for row in rows:
        chains[units[row.unit_id]][row.level] = names[row.staff_id]
    return chains


async def audit_events(office: Office) -> list[AuditEvent]:
    async with office.uow() as uow:
        return list((await uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def snapshot(office: Office) -> dict[str, Any]:
    """Everything an import may touch, to show that a refused import changed nothing."""
    async with office.uow() as uow:
        staff = (await uow.session.scalars(select(Staff).options(selectinload(Staff.unit)).order_by(Staff.id))).all()
        units = sorted((await uow.session.scalars(select(Unit.name))).all())
    return {
        "staff": [
            (s.id, s.nip, s.nama, s.jabatan, s.unit.name, sorted(s.roles), s.telepon, s.active, s.updated_at)
            for s in staff
        ],
        "units": units,
        "verifiers": await verifiers(office),
        "audit": len(await audit_events(office)),
    }


def problems_of(excinfo: pytest.ExceptionInfo[RosterError]) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in excinfo.value.problems]


# --- normalise_phone ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "0812-2000-0001",
        "+62 812 2000 0001",
        "6281220000001",
        "(0812) 2000 0001",
        "081220000001",
        " 0812.2000.0001 ",
        "+62-812-2000-0001",
    ],
)
def test_normalise_phone_accepts_common_indonesian_forms(raw: str) -> None:
    assert normalise_phone(raw) == "+6281220000001"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "bukan nomor",
        "abc",
        "-",
        "0812",  # too short
        "0812-200",  # too short
        "62",
        "+62",
        "0812 2000 0001 2345 6789",  # too long
        "+1 555 555 5555",  # a foreign number that is not a valid number
        "+99 1234 5678",  # no such country code
    ],
)
def test_normalise_phone_refuses_what_is_not_a_number(raw: str) -> None:
    assert normalise_phone(raw) is None


@pytest.mark.parametrize("raw", ["0812-2000-0001 x12", "08122000000A", "0812-CALL-0001", "0812 2000 0001 ext. 5"])
def test_normalise_phone_refuses_letters(raw: str) -> None:
    assert normalise_phone(raw) is None


# --- a first import ----------------------------------------------------------------------------------------


async def test_import_example_roster_creates_staff_units_and_verifier_chains(bare_office: Office) -> None:
    report = await import_roster(bare_office, EXAMPLE)

    assert sorted(report.created) == ALL_NIPS
    assert (report.updated, report.unchanged, report.deactivated) == ([], [], [])
    assert report.units == 7
    assert report.summary() == "Impor selesai: 11 pegawai baru, 0 diperbarui, 0 tidak berubah, 0 dinonaktifkan, 7 unit."

    staff = await staff_by_nip(bare_office)
    assert sorted(staff) == ALL_NIPS
    assert await count(bare_office, Staff) == 11
    asep, yusuf, rizki, lina = staff[ASEP], staff[YUSUF], staff[RIZKI], staff[LINA]
    assert (asep.nama, asep.jabatan, asep.unit.name, asep.roles) == (
        "Dr. H. Asep Suryana",
        "Kepala Dinas",
        "Pimpinan",
        {"kepala"},
    )
    assert yusuf.roles == {"pengelola", "admin"}
    assert yusuf.unit.name == SUBBAG
    assert (rizki.unit.name, rizki.roles) == (SEKSI_USAHA, {"konseptor"})
    assert (lina.unit.name, lina.roles) == (SEKSI_USAHA, {"verifikator1"})
    assert all(s.active for s in staff.values())

    # Every phone form of the file is stored as E.164.
    assert asep.telepon == "+6281220000001"  # 0812-2000-0001
    assert staff[RINA].telepon == "+6281220000002"  # +62 812 2000 0002
    assert staff[DEDI].telepon == "+6281220000003"  # 6281220000003
    assert staff[FAJAR].telepon == "+6281220000011"  # 081220000011
    assert sorted(s.telepon for s in staff.values()) == [f"+628122000{n:04d}" for n in range(1, 12)]

    # Units, nested ones included, and each unit's chain (inherited from the unit it sits in when it has none).
    chains = await verifiers(bare_office)
    assert chains == EXPECTED_VERIFIERS
    assert chains[SEKSI_USAHA] == {1: "Lina Herlina", 2: "Ir. Bambang Hermawan"}
    assert await count(bare_office, UnitVerifier) == 9


async def test_every_successful_import_writes_an_audit_event(bare_office: Office, clock: FakeClock) -> None:
    first_at = clock.now
    await import_roster(bare_office, EXAMPLE)
    clock.advance(hours=1)
    await import_roster(bare_office, example_with(replace={RIZKI: with_fields(RIZKI, jabatan="Analis Ahli Muda")}))

    events = await audit_events(bare_office)
    assert [e.action for e in events] == ["impor_pegawai", "impor_pegawai"]
    assert all(e.letter_id is None and e.actor_id is None for e in events)
    common = {"dinonaktifkan": [], "surat_dialihkan": 0, "unit": 7}
    assert events[0].details == {"baru": 11, "diperbarui": 0, "tidak_berubah": 0, **common}
    assert events[1].details == {"baru": 0, "diperbarui": 1, "tidak_berubah": 10, **common}
    assert events[0].at == first_at
    assert events[1].at == clock.now

    with pytest.raises(RosterError):
        await import_roster(bare_office, example_with("123,,,,,"))
    assert len(await audit_events(bare_office)) == 2  # a refused import leaves no event


# --- re-imports --------------------------------------------------------------------------------------------


async def test_reimport_of_the_same_file_changes_nothing(bare_office: Office, clock: FakeClock) -> None:
    await import_roster(bare_office, EXAMPLE)
    before = await snapshot(bare_office)
    clock.advance(days=1)

    report = await import_roster(bare_office, EXAMPLE)

    assert (report.created, report.updated, report.deactivated) == ([], [], [])
    assert sorted(report.unchanged) == ALL_NIPS
    assert report.summary() == "Impor selesai: 0 pegawai baru, 0 diperbarui, 11 tidak berubah, 0 dinonaktifkan, 7 unit."
    assert await count(bare_office, Staff) == 11
    after = await snapshot(bare_office)
    assert after["audit"] == before["audit"] + 1
    assert {**after, "audit": None} == {**before, "audit": None}  # same ids, same data, same updated_at


async def test_reimport_with_reformatted_phones_and_spaced_units_is_unchanged(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    text = example_with(
        replace={
            RIZKI: with_fields(
                RIZKI, telepon="+62 812-2000-0008", unit="Bidang  Pelayanan Perizinan/Seksi Perizinan Usaha"
            ),
            ASEP: with_fields(ASEP, telepon="6281220000001"),
        }
    )
    report = await import_roster(bare_office, text)
    assert (report.created, report.updated) == ([], [])
    assert len(report.unchanged) == 11
    assert await count(bare_office, Unit) == 7


async def test_changed_row_updates_that_person_in_place(bare_office: Office, clock: FakeClock) -> None:
    await import_roster(bare_office, EXAMPLE)
    before = await staff_by_nip(bare_office)
    created_at = before[RIZKI].created_at
    clock.advance(days=3)

    moved = with_fields(
        RIZKI,
        jabatan="Analis Penanaman Modal",
        unit=SEKSI_PROMOSI,
        peran="konseptor;admin",
        telepon="0813-3000-0099",
    )
    fewer_roles = with_fields(YUSUF, peran="pengelola")
    report = await import_roster(bare_office, example_with(replace={RIZKI: moved, YUSUF: fewer_roles}))

    assert sorted(report.updated) == sorted([RIZKI, YUSUF])
    assert report.created == []
    assert len(report.unchanged) == 9
    after = await staff_by_nip(bare_office)
    assert len(after) == 11
    rizki = after[RIZKI]
    assert rizki.id == before[RIZKI].id
    assert (rizki.jabatan, rizki.unit.name, rizki.roles, rizki.telepon) == (
        "Analis Penanaman Modal",
        SEKSI_PROMOSI,
        {"konseptor", "admin"},
        "+6281330000099",
    )
    assert rizki.created_at == created_at
    assert rizki.updated_at == clock.now
    assert after[YUSUF].id == before[YUSUF].id
    assert after[YUSUF].roles == {"pengelola"}
    # Everyone else is untouched.
    for nip in set(ALL_NIPS) - {RIZKI, YUSUF}:
        assert after[nip].updated_at == before[nip].updated_at
        assert after[nip].telepon == before[nip].telepon
    assert await verifiers(bare_office) == EXPECTED_VERIFIERS


async def test_move_to_a_new_unit_creates_it_and_its_chain(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    new_unit = "Bidang Penanaman Modal / Seksi Pengawasan"
    kasi = "198101012008011099,Ujang Saepudin,Kepala Seksi Pengawasan,Bidang Penanaman Modal / Seksi Pengawasan,verifikator1,081220000099"
    text = example_with(kasi, replace={FAJAR: with_fields(FAJAR, unit=new_unit)})

    report = await import_roster(bare_office, text)

    assert report.created == ["198101012008011099"]
    assert report.updated == [FAJAR]
    assert report.units == 8
    chains = await verifiers(bare_office)
    assert chains[new_unit] == {1: "Ujang Saepudin", 2: "Agus Setiawan"}
    assert (await staff_by_nip(bare_office))[FAJAR].unit.name == new_unit


async def test_two_people_swap_phone_numbers_in_one_reimport(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    before = await staff_by_nip(bare_office)
    rizki_phone, fajar_phone = before[RIZKI].telepon, before[FAJAR].telepon

    text = example_with(
        replace={
            RIZKI: with_fields(RIZKI, telepon=fajar_phone),
            FAJAR: with_fields(FAJAR, telepon=rizki_phone),
        }
    )
    report = await import_roster(bare_office, text)

    assert sorted(report.updated) == sorted([RIZKI, FAJAR])
    after = await staff_by_nip(bare_office)
    assert (after[RIZKI].telepon, after[FAJAR].telepon) == (fajar_phone, rizki_phone)
    assert (after[RIZKI].id, after[FAJAR].id) == (before[RIZKI].id, before[FAJAR].id)
    assert len(after) == 11


async def test_three_way_phone_rotation_and_a_newcomer_taking_a_freed_number(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    before = await staff_by_nip(bare_office)
    phone = {nip: s.telepon for nip, s in before.items()}
    newcomer = f"199901012024011012,Dewi Lestari,Analis Perizinan,{SEKSI_USAHA},konseptor,{phone[ASEP]}"
    text = example_with(
        newcomer,
        replace={
            RIZKI: with_fields(RIZKI, telepon=phone[FAJAR]),
            FAJAR: with_fields(FAJAR, telepon=phone[LINA]),
            LINA: with_fields(LINA, telepon=phone[RIZKI]),
            ASEP: with_fields(ASEP, telepon="0813-3000-0001"),
        },
    )
    report = await import_roster(bare_office, text)

    assert report.created == ["199901012024011012"]
    assert sorted(report.updated) == sorted([RIZKI, FAJAR, LINA, ASEP])
    after = await staff_by_nip(bare_office)
    assert after[RIZKI].telepon == phone[FAJAR]
    assert after[FAJAR].telepon == phone[LINA]
    assert after[LINA].telepon == phone[RIZKI]
    assert after[ASEP].telepon == "+6281330000001"
    assert after["199901012024011012"].telepon == phone[ASEP]
    assert len(after) == 12


async def test_person_dropped_from_the_file_is_deactivated_and_can_come_back(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    fajar_id = (await staff_by_nip(bare_office))[FAJAR].id

    report = await import_roster(bare_office, example_with(without=(FAJAR,)))

    assert report.deactivated == [FAJAR]
    assert report.created == report.updated == []
    assert len(report.unchanged) == 10
    assert "1 dinonaktifkan" in report.summary() and FAJAR in report.summary()
    fajar = (await staff_by_nip(bare_office))[FAJAR]
    assert (fajar.id, fajar.active) == (fajar_id, False)  # kept for the record, no longer staff
    assert fajar.telepon.startswith("-"), "his phone number is free for whoever has it now"
    assert await count(bare_office, Staff) == 11
    with pytest.raises(Refusal) as refused:
        await letters.submit(bare_office, fajar_id, pdf(), META)
    assert refused.value.code == "tidak_dikenal"

    # Listed again later, he is matched by NIP, not duplicated, and active again with his number.
    report = await import_roster(bare_office, EXAMPLE)
    assert report.deactivated == [] and report.updated == [FAJAR]
    fajar = (await staff_by_nip(bare_office))[FAJAR]
    assert (fajar.id, fajar.active, fajar.telepon) == (fajar_id, True, "+6281220000011")
    assert await count(bare_office, Staff) == 11


async def test_open_letters_follow_the_roster(bare_office: Office) -> None:
    """A clerk replaced, a section renamed: the letters waiting on them go to whoever holds the step now."""
    await import_roster(bare_office, EXAMPLE)
    p = await people(bare_office)
    at_numbering = await letter_at(bare_office, p, "penomoran")
    at_review = await letter_at(bare_office, p, "verifikasi_1")
    new_clerk = "199901012024011020,Wawan Setiawan,Pengelola Surat,Sekretariat / Subbagian Umum dan Kepegawaian,pengelola;admin,081330000020"
    renamed = EXAMPLE.replace("Seksi Perizinan Usaha", "Seksi Perizinan Berusaha")
    text = "\n".join(line for line in renamed.splitlines() if not line.startswith(YUSUF)) + "\n" + new_clerk + "\n"

    report = await import_roster(bare_office, text)

    assert report.deactivated == [YUSUF]
    assert report.reassigned == [at_numbering.id] and report.stranded == []
    wawan = (await staff_by_nip(bare_office))["199901012024011020"]
    numbering = await letters.get_letter(bare_office, at_numbering.id)
    assert numbering.holder_id == wawan.id
    review = await letters.get_letter(bare_office, at_review.id)
    assert review.holder_id == p.kasi  # the Kasi of the renamed section is the same person
    # The renamed section's letter can still move: the unit follows its drafter.
    review = await letters.approve(bare_office, at_review.id, p.kasi)
    assert (review.state, review.holder_id) == ("verifikasi_2", p.kabid)
    numbered = await letters.assign_number(bare_office, at_numbering.id, wawan.id)
    assert numbered.state == "tanda_tangan"
    events = [e for e in await audit_of(bare_office, at_numbering.id) if e.action == "alihkan"]
    assert len(events) == 1 and "Wawan Setiawan" in events[0].note
    told = [m for m in await outbox_of(bare_office, at_numbering.id) if m.recipient_id == wawan.id]
    assert told[0].kind == "tugas" and told[0].actions == ["beri_nomor"]


async def test_a_letter_nobody_can_hold_is_reported(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    p = await people(bare_office)
    letter = await letter_at(bare_office, p, "verifikasi_1")
    await letters.request_revision(bare_office, letter.id, p.kasi, "Perbaiki.")
    report = await import_roster(bare_office, example_with(without=(RIZKI,)))  # the drafter has left
    assert report.stranded == [letter.id]
    assert "PERHATIAN: 1 surat tidak punya pemegang" in report.summary()


# --- all or nothing: every bad row listed by line number ---------------------------------------------------


def mixed_file() -> str:
    good = LINES[1:]
    return csv_of(
        HEADER,
        *good[:4],  # lines 2-5
        "199001012015031100,Budi Santoso,Staf,Sekretariat,konseptor,12345",  # 6: bad phone
        *good[4:7],  # lines 7-9
        "199001012015031101,Cecep Hidayat,Kepala Bidang,Bidang Baru,kepala_bidang,081230000001",  # 10: unknown role
        f"{ASEP},Dr. H. Asep Suryana,Kepala Dinas,Pimpinan,kepala,081230000002",  # 11: duplicate NIP (line 2)
        f"199001012015031102,Dadang Sunarya,Staf,{SUBBAG},konseptor,+62 812 2000 0003",  # 12: duplicate phone (line 4)
        *good[7:9],  # lines 13-14
        f"199001012015031103,,Staf,{SUBBAG},konseptor,081230000003",  # 15: empty nama
        f"19900101201503110X,Euis Komariah,Staf,{SUBBAG},konseptor,081230000004",  # 16: NIP with letters
        f"199001012015031104,Farhan,Staf,{SUBBAG},konseptor",  # 17: a column short
        f"199001012015031105,Gita,Staf,{SUBBAG},konseptor,081230000005,lebih",  # 18: a column too many
        *good[9:],  # lines 19-20
    )


def assert_mixed_file_problems(excinfo: pytest.ExceptionInfo[RosterError]) -> None:
    problems = excinfo.value.problems
    assert [p.line for p in problems] == [6, 10, 11, 12, 15, 16, 17, 18]
    by_line = {p.line: p.message for p in problems}
    assert "nomor telepon \u201c12345\u201d tidak valid" in by_line[6]
    assert "peran tidak dikenal: kepala_bidang" in by_line[10]
    assert f"NIP {ASEP} ganda" in by_line[11]
    assert "baris 2" in by_line[11]
    assert "nomor telepon +6281220000003 ganda" in by_line[12]
    assert "baris 4" in by_line[12]
    assert by_line[15] == "kolom nama kosong"
    assert "NIP \u201c19900101201503110X\u201d tidak valid" in by_line[16]
    assert by_line[17] == "jumlah kolom 5, seharusnya 6"
    assert by_line[18] == "jumlah kolom 7, seharusnya 6"
    message = str(excinfo.value)
    for line in (6, 10, 11, 12, 15, 16, 17, 18):
        assert f"baris {line}: " in message


async def test_mixed_file_on_an_empty_roster_imports_nothing(bare_office: Office) -> None:
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, mixed_file())
    assert_mixed_file_problems(excinfo)
    assert await count(bare_office, Staff) == 0
    assert await count(bare_office, Unit) == 0
    assert await count(bare_office, UnitVerifier) == 0
    assert await audit_events(bare_office) == []


async def test_mixed_file_over_an_imported_roster_changes_nothing(bare_office: Office, clock: FakeClock) -> None:
    await import_roster(bare_office, EXAMPLE)
    before = await snapshot(bare_office)
    clock.advance(days=1)
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, mixed_file())
    assert_mixed_file_problems(excinfo)
    assert await snapshot(bare_office) == before


async def test_blank_lines_are_skipped_but_counted(bare_office: Office) -> None:
    good = LINES[1:]
    text = csv_of(HEADER, *good[:3], "", " , , ,,,", *good[3:], "", "123,Salah,Staf,Sekretariat,konseptor,0812")
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, text)
    assert [p.line for p in excinfo.value.problems] == [16, 16]  # header, 3 rows, 2 blank, 8 rows, 1 blank
    assert await count(bare_office, Staff) == 0


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("nip,nama,jabatan,unit,peran", "telepon"),
        ("nip,nama,unit,peran,telepon", "jabatan"),
        ("nama,jabatan,unit,telepon", "nip, peran"),
    ],
)
async def test_missing_header_column_is_a_problem_on_line_1(bare_office: Office, header: str, missing: str) -> None:
    columns = header.split(",")
    rows = []
    for line in LINES[1:]:
        cells = dict(zip(HEADER.split(","), line.split(","), strict=True))
        rows.append(",".join(cells[c] for c in columns))
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, csv_of(header, *rows))
    [(line, message)] = problems_of(excinfo)
    assert line == 1
    assert message.startswith(f"kolom hilang: {missing} ")
    assert HEADER in message  # says what the header must be
    assert await count(bare_office, Staff) == 0


async def test_header_is_case_and_space_insensitive_and_may_carry_a_bom(bare_office: Office) -> None:
    text = "\ufeff" + csv_of(" NIP , Nama,JABATAN,unit,Peran,telepon ", *LINES[1:])
    report = await import_roster(bare_office, text)
    assert len(report.created) == 11


async def test_drafter_without_verifier1_up_the_unit_path_is_refused(bare_office: Office) -> None:
    # A sibling section's Kasi (Seksi Promosi) is no verifier for Seksi Pengawasan; the parent has only level 2.
    sibling = "199001012015031106,Hendra,Analis,Bidang Penanaman Modal / Seksi Pengawasan,konseptor,081230000006"
    # Lina is Verifikator 1 of the section, not of the Bidang above it.
    parent = f"199001012015031107,Irma,Analis,{PERIZINAN},konseptor,081230000007"
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, example_with(sibling, parent))
    problems = problems_of(excinfo)
    assert [line for line, _ in problems] == [13, 14]
    assert (
        "\u201cBidang Penanaman Modal / Seksi Pengawasan\u201d tidak punya Verifikator 1 (peran verifikator1)"
        in problems[0][1]
    )
    assert "konseptor Hendra" in problems[0][1]
    assert f"\u201c{PERIZINAN}\u201d tidak punya Verifikator 1" in problems[1][1]
    assert await count(bare_office, Staff) == 0


async def test_drafter_in_a_unit_with_no_chain_at_all_gets_one_problem_per_level(bare_office: Office) -> None:
    lonely = "199001012015031108,Jajang,Staf,Pimpinan,konseptor,081230000008"
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, example_with(lonely))
    problems = problems_of(excinfo)
    assert [line for line, _ in problems] == [13, 13]
    assert any("Verifikator 1" in m for _, m in problems)
    assert any("Verifikator 2" in m for _, m in problems)


async def test_two_verifier1_in_one_unit_are_refused(bare_office: Office) -> None:
    second = f"199001012015031109,Kurnia,Kepala Seksi,{SEKSI_USAHA},verifikator1,081230000009"
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, example_with(second))
    [(line, message)] = problems_of(excinfo)
    assert line == 13
    assert f"unit \u201c{SEKSI_USAHA}\u201d punya lebih dari satu Verifikator 1 (baris 8, 13)" in message
    assert await count(bare_office, Staff) == 0


async def test_verifiers_of_one_level_in_parent_and_child_units_are_fine(bare_office: Office) -> None:
    # A level-1 verifier of the Bidang itself and one of its section: each unit has its own.
    kabid_kasi = f"199001012015031110,Lilis,Kepala Subbagian,{PERIZINAN},verifikator1,081230000010"
    await import_roster(bare_office, example_with(kabid_kasi))
    chains = await verifiers(bare_office)
    assert chains[PERIZINAN] == {1: "Lilis", 2: "Ir. Bambang Hermawan"}
    assert chains[SEKSI_USAHA] == {1: "Lina Herlina", 2: "Ir. Bambang Hermawan"}


@pytest.mark.parametrize(
    ("without", "roles"),
    [
        ((YUSUF,), ["pengelola"]),
        ((ASEP,), ["kepala"]),
        ((YUSUF, ASEP), ["kepala", "pengelola"]),
    ],
)
async def test_office_without_pengelola_or_kepala_is_a_file_problem(
    bare_office: Office, without: tuple[str, ...], roles: list[str]
) -> None:
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, example_with(without=without))
    problems = problems_of(excinfo)
    assert [line for line, _ in problems] == [0] * len(roles)
    for (_, message), role in zip(problems, roles, strict=True):
        assert message.startswith(f"tidak ada pegawai dengan peran {role} (")
    assert await count(bare_office, Staff) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "berkas kosong: tidak ada baris judul"),
        (HEADER + "\n", "berkas tidak berisi satu pegawai pun"),
        (HEADER, "berkas tidak berisi satu pegawai pun"),
        (HEADER + "\n\n , , , , , \n", "berkas tidak berisi satu pegawai pun"),
    ],
    ids=["empty", "header-only", "header-no-newline", "header-and-blank-lines"],
)
async def test_empty_and_header_only_files(bare_office: Office, text: str, message: str) -> None:
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, text)
    assert problems_of(excinfo) == [(0, message)]
    assert str(excinfo.value) == message  # line 0: the file as a whole, no "baris"
    assert await count(bare_office, Staff) == 0


async def test_the_phone_of_someone_who_left_goes_to_the_newcomer(bare_office: Office, clock: FakeClock) -> None:
    await import_roster(bare_office, EXAMPLE)
    fajar_phone = "0812-2000-0011"
    # Fajar leaves the file, a newcomer brings Fajar's old number: Fajar is deactivated and the number moves.
    newcomer = f"199901012024011013,Mira,Staf,Bidang Penanaman Modal / Seksi Baru,verifikator1,{fajar_phone}"
    clock.advance(hours=2)
    report = await import_roster(bare_office, example_with(newcomer, without=(FAJAR,)))
    assert report.deactivated == [FAJAR] and report.created == ["199901012024011013"]
    staff = await staff_by_nip(bare_office)
    assert staff["199901012024011013"].telepon == "+6281220000011"
    assert not staff[FAJAR].active


def test_problems_are_sorted_and_print_with_their_line() -> None:
    error = RosterError([RosterProblem(5, "b"), RosterProblem(0, "berkas"), RosterProblem(2, "a")])
    assert [p.line for p in error.problems] == [0, 2, 5]
    assert str(error) == "berkas\nbaris 2: a\nbaris 5: b"


# --- bugs found ------------------------------------------------------------------------------------------


def test_nip_with_non_ascii_digits_is_refused(sop: Sop) -> None:
    nip = ASEP.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    text = example_with(replace={ASEP: with_fields(ASEP, nip=nip)})
    with pytest.raises(RosterError) as excinfo:
        parse_roster(text, sop)
    assert [p.line for p in excinfo.value.problems] == [2]


def test_unit_of_only_slashes_is_an_empty_unit(sop: Sop) -> None:
    text = example_with(replace={RIZKI: with_fields(RIZKI, peran="pengelola", unit=" / ")})
    with pytest.raises(RosterError) as excinfo:
        parse_roster(text, sop)
    assert (9, "kolom unit kosong") in problems_of(excinfo)


def test_duplicate_of_a_bad_row_is_reported_too(sop: Sop) -> None:
    text = example_with(
        "199001012015031111,Nana,Staf,Sekretariat,kepala_seksi,081230000011",  # 13: unknown role
        "199001012015031111,Nana,Staf,Sekretariat,konseptor,081230000011",  # 14: duplicate NIP and phone of 13
    )
    with pytest.raises(RosterError) as excinfo:
        parse_roster(text, sop)
    assert [p.line for p in excinfo.value.problems] == [13, 14, 14]


async def test_too_long_nama_is_a_roster_problem(bare_office: Office) -> None:
    text = example_with(replace={RIZKI: with_fields(RIZKI, nama="Rizki " + "R" * 250)})
    with pytest.raises(RosterError) as excinfo:
        await import_roster(bare_office, text)
    assert [p.line for p in excinfo.value.problems] == [9]


async def test_a_revision_follows_its_drafter_when_the_section_is_renamed(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    p = await people(bare_office)
    letter = await letter_at(bare_office, p, "verifikasi_1")
    await letters.request_revision(bare_office, letter.id, p.kasi, "Perbaiki.")
    report = await import_roster(bare_office, EXAMPLE.replace("Seksi Perizinan Usaha", "Seksi Perizinan Berusaha"))
    assert report.stranded == []
    events = [e for e in await audit_of(bare_office, letter.id) if e.action == "alihkan"]
    assert len(events) == 1 and "unit surat mengikuti unit konseptor" in events[0].note
    resubmitted = await letters.resubmit(bare_office, letter.id, p.drafter, pdf(77))
    assert (resubmitted.state, resubmitted.holder_id) == ("verifikasi_1", p.kasi)


async def test_a_letter_whose_drafter_left_is_reported_and_cannot_go_back_to_them(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    p = await people(bare_office)
    letter = await letter_at(bare_office, p, "verifikasi_1")
    report = await import_roster(bare_office, example_with(without=(RIZKI,)))
    assert report.stranded == [letter.id]
    with pytest.raises(Refusal) as refused:
        await letters.request_revision(bare_office, letter.id, p.kasi, "Perbaiki.")
    assert refused.value.code == "konseptor_nonaktif"
    approved = await letters.approve(bare_office, letter.id, p.kasi)  # the review itself can go on
    assert approved.state == "verifikasi_2"


async def test_a_roster_change_never_hands_a_drafter_their_own_review(bare_office: Office) -> None:
    await import_roster(bare_office, EXAMPLE)
    p = await people(bare_office)
    letter = await letter_at(bare_office, p, "verifikasi_1")
    # Rizki (the drafter) becomes the section's verifier 1 and Lina loses that role.
    text = EXAMPLE.replace(
        "Lina Herlina,Kepala Seksi Perizinan Usaha,Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,verifikator1,",
        "Lina Herlina,Kepala Seksi Perizinan Usaha,Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,konseptor,",
    ).replace(
        "Rizki Ramadhan,Analis Perizinan,Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,konseptor,",
        "Rizki Ramadhan,Analis Perizinan,Bidang Pelayanan Perizinan / Seksi Perizinan Usaha,konseptor;verifikator1,",
    )
    report = await import_roster(bare_office, text)
    moved = await letters.get_letter(bare_office, letter.id)
    assert (moved.state, moved.holder_id) == ("verifikasi_2", p.kabid)
    assert report.reassigned == [letter.id]
    actions = [e.action for e in await audit_of(bare_office, letter.id)]
    assert actions[-2:] == ["alihkan", "lewati"]
    told = [m for m in await outbox_of(bare_office, letter.id) if m.kind == "tugas"]
    assert told[-1].recipient_id == p.kabid


async def test_an_optional_nik_column_is_checked_and_kept(bare_office: Office, sop: Sop) -> None:
    """The NIK a remote signing service (BSrE) knows a signer by: 16 digits, optional, updated like the rest."""
    header, *rows = LINES
    with_nik = [f"{header},nik", rows[0] + ",3211 0101 0170 0001", *(r + "," for r in rows[1:])]
    parsed = parse_roster("\n".join(with_nik) + "\n", sop)
    assert parsed[0].nik == "3211010101700001" and all(r.nik is None for r in parsed[1:])
    bad = [f"{header},nik", rows[0] + ",32110101", *(r + "," for r in rows[1:])]
    with pytest.raises(RosterError) as refused:
        parse_roster("\n".join(bad) + "\n", sop)
    assert [str(p) for p in refused.value.problems] == ["baris 2: NIK \u201c32110101\u201d tidak valid (16 angka)"]

    await import_roster(bare_office, "\n".join(with_nik) + "\n")
    async with bare_office.uow() as uow:
        assert await uow.session.scalar(select(Staff.nik).where(Staff.nip == ASEP)) == "3211010101700001"
    report = await import_roster(bare_office, EXAMPLE)  # a file without the column keeps the NIKs
    assert report.updated == [] and ASEP in report.unchanged
    cleared = [f"{header},nik", *(r + "," for r in rows)]  # an empty cell clears it
    assert (await import_roster(bare_office, "\n".join(cleared) + "\n")).updated == [ASEP]
    async with bare_office.uow() as uow:
        assert await uow.session.scalar(select(Staff.nik).where(Staff.nip == ASEP)) is None
