"""The office roster: read the staff CSV, check every row, and import it (all or nothing)."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from suratbot.services.letters import handover_event, pass_over, resolve_holder
from suratbot.services.notices import outbox_row, task_notice
from suratbot.services.office import Office
from suratbot.services.stand_ins import stand_in_for
from suratbot.storage.models import (
    AuditEvent,
    ChannelBinding,
    Letter,
    Staff,
    StaffRole,
    Unit,
    UnitVerifier,
)
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop

COLUMNS = ("nip", "nama", "jabatan", "unit", "peran", "telepon")
OPTIONAL_COLUMNS = ("nik",)  # the NIK a remote signing service (BSrE) knows a signer by
_NIK_RE = re.compile(r"[0-9]{16}")
_NIP_RE = re.compile(r"[0-9]{8,20}")
_PHONE_RE = re.compile(r"\+?[0-9]{6,16}")
MAX_TEXT = 200  # the width of nama, jabatan and unit in the database


@dataclass(frozen=True)
class RosterRow:
    line: int
    nip: str
    nama: str
    jabatan: str
    unit: str
    roles: frozenset[str]
    telepon: str  # E.164
    nik: str | None = None
    nik_given: bool = False  # the file has a nik column: an empty cell clears the NIK, no column keeps it


@dataclass(frozen=True)
class RosterProblem:
    line: int  # 1 is the header; 0 means the file as a whole
    message: str

    def __str__(self) -> str:
        return f"baris {self.line}: {self.message}" if self.line else self.message


class RosterError(Exception):
    """The file has problems; nothing was imported. Every problem is listed with its line number."""

    def __init__(self, problems: list[RosterProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivated: list[str] = field(default_factory=list)  # NIPs the file no longer lists: no longer staff here
    reassigned: list[str] = field(default_factory=list)  # open letters whose holder changed with the roster
    stranded: list[str] = field(default_factory=list)  # open letters nobody on the new roster can hold
    units: int = 0

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} pegawai baru",
            f"{len(self.updated)} diperbarui",
            f"{len(self.unchanged)} tidak berubah",
            f"{len(self.deactivated)} dinonaktifkan",
            f"{self.units} unit",
        ]
        text = "Impor selesai: " + ", ".join(parts) + "."
        if self.deactivated:
            text += "\nDinonaktifkan karena tidak ada di berkas (NIP): " + ", ".join(self.deactivated)
        if self.reassigned:
            text += f"\n{len(self.reassigned)} surat yang sedang berjalan dialihkan ke pemegang barunya."
        if self.stranded:
            text += (
                f"\nPERHATIAN: {len(self.stranded)} surat tidak punya pemegang di daftar baru "
                f"(konseptornya nonaktif atau unitnya tanpa verifikator): {', '.join(self.stranded)}. "
                "Batalkan atau lengkapi daftar pegawai."
            )
        return text


def normalise_phone(raw: str) -> str | None:
    """`0812-3456-7890`, `+62 812 3456 7890` or `6281234567890` -> `+6281234567890`; None if not a valid number."""
    text = re.sub(r"[\s\-().]", "", raw or "")
    if not _PHONE_RE.fullmatch(text):  # no letters: phonenumbers would read them as vanity digits
        return None
    if text.startswith("62") and not text.startswith("+"):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_unit(raw: str) -> str:
    """`Bidang  Pelayanan/ Seksi A` -> `Bidang Pelayanan / Seksi A` (a unit path, parent first)."""
    return " / ".join(" ".join(part.split()) for part in raw.split("/") if part.strip())


def parse_roster(text: str, sop: Sop) -> list[RosterRow]:
    """Every row of the CSV, checked; RosterError lists every bad row by line number."""
    problems: list[RosterProblem] = []
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        raise RosterError([RosterProblem(0, "berkas kosong: tidak ada baris judul")]) from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RosterError([RosterProblem(1, f"kolom hilang: {', '.join(missing)} (judul harus: {','.join(COLUMNS)})")])
    index = {name: header.index(name) for name in (*COLUMNS, *OPTIONAL_COLUMNS) if name in header}
    rows: list[RosterRow] = []
    first_line_of_nip: dict[str, int] = {}
    first_line_of_phone: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != len(header):
            problems.append(RosterProblem(line, f"jumlah kolom {len(record)}, seharusnya {len(header)}"))
            continue
        value = {name: record[i].strip() for name, i in index.items()}
        row_problems: list[str] = []
        nip = re.sub(r"\s", "", value["nip"])
        if not _NIP_RE.fullmatch(nip):
            row_problems.append(f"NIP \u201c{value['nip']}\u201d tidak valid (8–20 angka)")
        value["unit"] = normalise_unit(value["unit"])
        for name in ("nama", "jabatan", "unit"):
            if not value[name]:
                row_problems.append(f"kolom {name} kosong")
            elif len(value[name]) > MAX_TEXT:
                row_problems.append(
                    f"kolom {name} terlalu panjang ({len(value[name])} huruf, paling banyak {MAX_TEXT})"
                )
        roles = frozenset(r.strip() for r in value["peran"].split(";") if r.strip())
        if not roles:
            row_problems.append("kolom peran kosong")
        unknown = sorted(roles - set(sop.roles))
        if unknown:
            row_problems.append(f"peran tidak dikenal: {', '.join(unknown)} (yang dikenal: {', '.join(sop.roles)})")
        nik = re.sub(r"\s", "", value.get("nik", "")) or None
        if nik is not None and not _NIK_RE.fullmatch(nik):
            row_problems.append(f"NIK \u201c{value['nik']}\u201d tidak valid (16 angka)")
        phone = normalise_phone(value["telepon"])
        if phone is None:
            row_problems.append(f"nomor telepon \u201c{value['telepon']}\u201d tidak valid")
        if nip and nip in first_line_of_nip:
            row_problems.append(f"NIP {nip} ganda (sudah ada di baris {first_line_of_nip[nip]})")
        if phone and phone in first_line_of_phone:
            row_problems.append(f"nomor telepon {phone} ganda (sudah ada di baris {first_line_of_phone[phone]})")
        if nip:
            first_line_of_nip.setdefault(nip, line)
        if phone:
            first_line_of_phone.setdefault(phone, line)
        if row_problems:
            problems.extend(RosterProblem(line, p) for p in row_problems)
            continue
        assert phone is not None
        rows.append(
            RosterRow(line, nip, value["nama"], value["jabatan"], value["unit"], roles, phone, nik, "nik" in index)
        )
    if not rows and not problems:
        problems.append(RosterProblem(0, "berkas tidak berisi satu pegawai pun"))
    if not problems:
        _, chain_problems = verifier_chains(rows, sop)
        problems.extend(chain_problems)
        for role in sorted(sop.office_roles()):
            if not any(role in r.roles for r in rows):
                problems.append(RosterProblem(0, f"tidak ada pegawai dengan peran {role} ({sop.roles[role].name})"))
    if problems:
        raise RosterError(problems)
    return rows


def _ancestors(unit: str) -> list[str]:
    """`A / B / C` -> [`A / B / C`, `A / B`, `A`]: a unit first, then the units it sits in."""
    parts = unit.split(" / ")
    return [" / ".join(parts[:i]) for i in range(len(parts), 0, -1)]


def verifier_chains(rows: list[RosterRow], sop: Sop) -> tuple[dict[str, dict[int, RosterRow]], list[RosterProblem]]:
    """Each unit's verifier at each level: its own, or else that of the nearest unit it sits in."""
    problems: list[RosterProblem] = []
    direct: dict[tuple[str, int], list[RosterRow]] = defaultdict(list)
    for row in rows:
        for role in row.roles:
            level = sop.roles[role].verifier_level
            if level is not None:
                direct[(row.unit, level)].append(row)
    for (unit, level), holders in direct.items():
        if len(holders) > 1:
            lines = ", ".join(str(h.line) for h in holders)
            problems.append(
                RosterProblem(
                    holders[1].line,
                    f"unit \u201c{unit}\u201d punya lebih dari satu Verifikator {level} (baris {lines}); "
                    "pisahkan ke sub-unit (contoh: \u201cBidang X / Seksi Y\u201d)",
                )
            )
    units = {row.unit for row in rows} | {a for row in rows for a in _ancestors(row.unit)}
    chains: dict[str, dict[int, RosterRow]] = {}
    for unit in sorted(units):
        chain: dict[int, RosterRow] = {}
        for level in sop.verifier_levels():
            for candidate in _ancestors(unit):
                if direct.get((candidate, level)):
                    chain[level] = direct[(candidate, level)][0]
                    break
        chains[unit] = chain
    for row in rows:
        if not row.roles & sop.drafting_roles:
            continue
        for level in sop.verifier_levels():
            if level not in chains[row.unit]:
                role = sop.verifier_role(level)
                problems.append(
                    RosterProblem(
                        row.line,
                        f"unit \u201c{row.unit}\u201d tidak punya Verifikator {level} (peran {role}) untuk konseptor {row.nama}",
                    )
                )
    return chains, problems


async def import_roster(office: Office, text: str, *, now: datetime | None = None) -> ImportReport:
    """Import the roster CSV in one transaction: people are matched by NIP, never duplicated."""
    rows = parse_roster(text, office.sop)
    chains, _ = verifier_chains(rows, office.sop)
    now = now or office.now()
    report = ImportReport()
    async with office.uow() as uow:
        session = uow.session
        units: dict[str, Unit] = {u.name: u for u in (await session.scalars(select(Unit))).all()}
        for name in sorted(chains):
            if name not in units:
                units[name] = Unit(name=name)
                session.add(units[name])
        await session.flush()
        existing = {s.nip: s for s in (await session.scalars(select(Staff))).all()}
        listed = {row.nip for row in rows}
        # People the file no longer lists are no longer staff here: deactivated (kept for the record), their
        # chat bindings dropped and their phone numbers freed for whoever has them now.
        leaving = [s for nip, s in existing.items() if nip not in listed and s.active]
        for staff in leaving:
            staff.active = False
            staff.updated_at = now
            report.deactivated.append(staff.nip)
        if leaving:
            await session.execute(delete(ChannelBinding).where(ChannelBinding.staff_id.in_([s.id for s in leaving])))
        # Free every phone number that changes hands before writing the new ones (a unique column).
        moving = {row.nip for row in rows if row.nip in existing and existing[row.nip].telepon != row.telepon}
        for nip, staff in existing.items():
            if nip in moving or (nip not in listed and not staff.telepon.startswith("-")):
                staff.telepon = f"-{staff.id}"  # never a valid E.164 number, so never matched to a person
        await session.flush()
        for row in rows:
            staff = existing.get(row.nip)
            unit_id = units[row.unit].id
            if staff is None:
                staff = Staff(
                    nip=row.nip,
                    nama=row.nama,
                    jabatan=row.jabatan,
                    unit_id=unit_id,
                    telepon=row.telepon,
                    nik=row.nik,
                    active=True,
                    created_at=now,
                    updated_at=now,
                    role_rows=[StaffRole(role=r) for r in sorted(row.roles)],
                )
                session.add(staff)
                existing[row.nip] = staff
                report.created.append(row.nip)
                continue
            changed = (
                staff.nama != row.nama
                or staff.jabatan != row.jabatan
                or staff.unit_id != unit_id
                or row.nip in moving
                or staff.roles != row.roles
                or (row.nik_given and staff.nik != row.nik)
                or not staff.active
            )
            staff.nama, staff.jabatan, staff.unit_id, staff.telepon = row.nama, row.jabatan, unit_id, row.telepon
            if row.nik_given:
                staff.nik = row.nik
            staff.active = True
            if staff.roles != row.roles:
                staff.role_rows = [StaffRole(role=r) for r in sorted(row.roles)]
            if changed:
                staff.updated_at = now
                report.updated.append(row.nip)
            else:
                report.unchanged.append(row.nip)
        await session.flush()
        await session.execute(delete(UnitVerifier))
        for name, chain in chains.items():
            for level, holder in chain.items():
                session.add(UnitVerifier(unit_id=units[name].id, level=level, staff_id=existing[holder.nip].id))
        report.deactivated.sort()
        report.units = len(chains)
        await session.flush()
        await _reroute_open_letters(session, office, existing, report, now)
        session.add(
            AuditEvent(
                action="impor_pegawai",
                details={
                    "baru": len(report.created),
                    "diperbarui": len(report.updated),
                    "tidak_berubah": len(report.unchanged),
                    "dinonaktifkan": report.deactivated,
                    "surat_dialihkan": len(report.reassigned),
                    "unit": report.units,
                },
                at=now,
            )
        )
    return report


async def _reroute_open_letters(
    session: AsyncSession, office: Office, staff_by_nip: dict[str, Staff], report: ImportReport, now: datetime
) -> None:
    """Give every open letter to whoever holds its step on the new roster, and tell them (same transaction).

    A letter stays with its unit while that unit still has a full verifier chain, else it follows its drafter
    to the drafter's unit now. A letter whose drafter has left, or that no unit can review, is reported.
    """
    sop = office.sop
    staff_by_id = {s.id: s for s in staff_by_nip.values()}
    chain = {(v.unit_id, v.level): v.staff_id for v in (await session.scalars(select(UnitVerifier))).all()}

    def complete(unit_id: int) -> bool:
        return all(
            (unit_id, level) in chain and staff_by_id[chain[(unit_id, level)]].active for level in sop.verifier_levels()
        )

    open_states = [key for key, state in sop.states.items() if not state.final]
    letters = (
        await session.scalars(
            select(Letter).where(Letter.state.in_(open_states)).order_by(Letter.created_at).with_for_update()
        )
    ).all()
    for letter in letters:
        drafter = staff_by_id[letter.drafter_id]
        old_unit = letter.unit_id
        if not complete(letter.unit_id) and drafter.active and complete(drafter.unit_id):
            letter.unit_id = drafter.unit_id
        if not drafter.active or not complete(letter.unit_id):
            report.stranded.append(letter.id)
        spec = sop.states[letter.state].holder
        assert spec is not None  # open states always have a holder
        try:
            holder = await stand_in_for(session, await resolve_holder(session, sop, spec, letter), now)
        except Refusal:
            continue  # reported above: its drafter has left, or its unit has no verifier at this level
        previous = staff_by_id.get(letter.holder_id or 0)
        if holder.id == letter.holder_id and letter.unit_id == old_unit:
            continue
        changes = []
        if letter.unit_id != old_unit:
            changes.append("unit surat mengikuti unit konseptor")
        if holder.id != letter.holder_id:
            changes.append(f"pemegang {previous.nama if previous else '-'} \u2192 {holder.nama}")
        note = "Daftar pegawai diperbarui: " + "; ".join(changes) + "."
        details = {"dari": previous.id if previous else None, "ke": holder.id, "unit": letter.unit_id}
        session.add(handover_event(letter, note, details, now))
        letter.holder_id = holder.id
        letter.updated_at = now
        holder = await pass_over(session, sop, letter, holder, reviewed_by=None, actor_id=None, now=now)
        if holder is not None and (previous is None or holder.id != previous.id):
            session.add(outbox_row(task_notice(sop, letter, holder, sender=None, note=None), letter.id, now))
            report.reassigned.append(letter.id)


async def active_with_roles(office: Office, roles: tuple[str, ...] | frozenset[str]) -> list[Staff]:
    """Active staff holding any of `roles`, in roster order (e.g. the admins, the signers)."""
    async with office.reading() as uow:
        return list(
            (
                await uow.session.scalars(
                    select(Staff)
                    .join(StaffRole, StaffRole.staff_id == Staff.id)
                    .where(StaffRole.role.in_(list(roles)), Staff.active.is_(True))
                    .order_by(Staff.id)
                    .distinct()
                )
            ).all()
        )
