"""Monthly reports: how well each SOP step kept its standard time (a chart and tables), and the register of
outgoing letters (buku agenda surat keluar) as XLSX and CSV.

Step durations come from the audit log: a step starts when a letter enters a state and ends when it leaves it
(a step passed over or cancelled, and the drafting before the first submission, are not counted), measured in working minutes as the SOP's calendar counts them, and
belongs to the month (office time) in which it ended. The register lists every number given in the month
(by letter date, in serial order), cancelled ones marked as such; the subject of a Rahasia or Sangat Rahasia
letter is not written in it.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlalchemy import select

from suratbot.services.notices import DISPATCH_ROUTES, local_time
from suratbot.services.office import Office
from suratbot.storage.models import AuditEvent, IssuedNumber, Letter, Staff
from suratbot.workflow.letter import SECRET_SIFAT
from suratbot.workflow.machine import Refusal
from suratbot.workflow.sop import Sop

MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip
NOT_COUNTED = frozenset({"lewati", "alihkan"})  # a step passed over, a letter handed to someone else
REGISTER_COLUMNS = (
    "No.", "Nomor surat", "Tanggal surat", "Perihal", "Tujuan", "Sifat", "Urgensi", "Klasifikasi",
    "Penanda tangan", "Dikirim melalui", "Waktu kirim", "Status",
)  # fmt: skip


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = re.fullmatch(r"(\d{4})-(\d{1,2})", text.strip())
        if match is None or not 1 <= int(match[2]) <= 12 or not 1900 <= int(match[1]) <= 9998:
            raise Refusal("bulan_salah", f"Bulan {text!r} tidak dikenali. Tulis seperti 2026-11.")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, moment: datetime, sop: Sop) -> Month:
        local = moment.astimezone(sop.calendar.timezone)
        return cls(local.year, local.month)

    @property
    def name(self) -> str:
        return f"{MONTHS[self.month - 1]} {self.year}"

    @property
    def key(self) -> str:
        return f"{self.year}-{self.month:02d}"

    def bounds(self, sop: Sop) -> tuple[datetime, datetime]:
        tz = sop.calendar.timezone
        start = datetime.combine(date(self.year, self.month, 1), time(0), tzinfo=tz)
        following = date(self.year + (self.month == 12), self.month % 12 + 1, 1)
        return start, datetime.combine(following, time(0), tzinfo=tz)


@dataclass(frozen=True)
class StepStats:
    """One SOP step in the month: how long its instances took against the standard (working minutes)."""

    state: str
    name: str
    standard: int | None
    durations: tuple[float, ...]

    @property
    def count(self) -> int:
        return len(self.durations)

    @property
    def median(self) -> float:
        return statistics.median(self.durations)

    @property
    def p90(self) -> float:
        return percentile(self.durations, 90)

    @property
    def on_time(self) -> float | None:
        """Share of instances within the standard time (None when the step has none)."""
        if self.standard is None:
            return None
        return sum(1 for d in self.durations if d <= self.standard) / len(self.durations)


@dataclass(frozen=True)
class PersonStats:
    nama: str
    jabatan: str
    state: str
    step: str
    standard: int | None
    durations: tuple[float, ...]

    @property
    def late(self) -> int:
        return 0 if self.standard is None else sum(1 for d in self.durations if d > self.standard)


@dataclass(frozen=True)
class RegisterRow:
    nomor: str
    letter_date: date
    perihal: str
    tujuan: str
    sifat: str
    urgensi: str
    klasifikasi: str
    signer: str
    route: str
    sent_at: str
    status: str


@dataclass
class MonthlyReport:
    month: Month
    office: str
    steps: list[StepStats] = field(default_factory=list)
    people: list[PersonStats] = field(default_factory=list)
    register: list[RegisterRow] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.steps and not self.register


def percentile(values: tuple[float, ...] | list[float], p: float) -> float:
    """The p-th percentile by linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


async def monthly_report(office: Office, month: Month) -> MonthlyReport:
    """The month's step statistics and register, read from the database."""
    sop = office.sop
    start, end = month.bounds(sop)
    report = MonthlyReport(month, sop.office)
    async with office.reading() as uow:
        session = uow.session
        ended_here = select(AuditEvent.letter_id).where(AuditEvent.at >= start, AuditEvent.at < end).distinct()
        events = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.letter_id.in_(ended_here)).order_by(AuditEvent.at, AuditEvent.id)
            )
        ).all()
        numbers = (
            await session.scalars(
                select(IssuedNumber)
                .where(IssuedNumber.letter_date >= start.date(), IssuedNumber.letter_date < end.date())
                .order_by(IssuedNumber.letter_date, IssuedNumber.serial)
            )
        ).all()
        letter_ids = {n.letter_id for n in numbers}
        letters = {
            letter.id: letter
            for letter in (await session.scalars(select(Letter).where(Letter.id.in_(letter_ids)))).all()
        }
        register_events = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.letter_id.in_(letter_ids), AuditEvent.action.in_(["tandatangani", "kirim"]))
                .order_by(AuditEvent.at, AuditEvent.id)
            )
        ).all()
        staff_ids = {e.actor_id for e in [*events, *register_events] if e.actor_id} | {
            e.on_behalf_of_id for e in register_events if e.on_behalf_of_id
        }
        staff = {s.id: s for s in (await session.scalars(select(Staff).where(Staff.id.in_(staff_ids)))).all()}

    by_letter: dict[str, list[AuditEvent]] = defaultdict(list)
    for event in events:
        by_letter[event.letter_id or ""].append(event)
    # the first submission ends no step: the letter exists only from it (the drafting before is not on record)
    # nor does a cancellation end a step anyone kept (it would charge the canceller with the holder's time)
    not_counted = NOT_COUNTED | {t.action for t in sop.transitions if t.kind in ("submit", "cancel")}
    step_durations: dict[str, list[float]] = defaultdict(list)
    person_durations: dict[tuple[int, str], list[float]] = defaultdict(list)
    for timeline in by_letter.values():
        entered: tuple[str, datetime] | None = None
        for event in timeline:
            if event.from_state == event.to_state:
                continue  # a hand-over within the step (roster change, Plh): the step goes on
            if entered is not None and event.from_state == entered[0] and start <= event.at < end:
                if event.action not in not_counted and entered[0] in sop.states:
                    minutes = sop.calendar.working_minutes_between(entered[1], event.at)
                    step_durations[entered[0]].append(minutes)
                    if event.actor_id is not None:
                        person_durations[(event.actor_id, entered[0])].append(minutes)
            entered = (event.to_state, event.at) if event.to_state else None
    for key, state in sop.states.items():
        if step_durations.get(key):
            report.steps.append(StepStats(key, state.name, state.standard_minutes, tuple(step_durations[key])))
    order = list(sop.states)
    for (staff_id, key), durations in person_durations.items():
        who = staff.get(staff_id)
        if who is not None and key in sop.states:
            state = sop.states[key]
            report.people.append(
                PersonStats(who.nama, who.jabatan, key, state.name, state.standard_minutes, tuple(durations))
            )
    report.people.sort(key=lambda p: (p.nama, order.index(p.state)))

    signed: dict[str, str] = {}
    sent: dict[str, tuple[str, str]] = {}
    for event in register_events:
        who = staff.get(event.actor_id or 0)
        if event.action == "tandatangani" and who is not None:
            official = staff.get(event.on_behalf_of_id or 0)
            signed[event.letter_id or ""] = f"{who.nama}" + (f" (Plh. {official.jabatan})" if official else "")
        elif event.action == "kirim":
            route = (event.details or {}).get("jalur", "")
            sent[event.letter_id or ""] = (DISPATCH_ROUTES.get(route, route), local_time(sop, event.at))
    for number in numbers:
        letter = letters.get(number.letter_id)
        if letter is None:
            continue
        secret = letter.sifat in SECRET_SIFAT
        route, when = sent.get(letter.id, ("", ""))
        if number.status != "aktif" or letter.state == "dibatalkan":
            status = "Dibatalkan"
        else:
            status = sop.states[letter.state].name if letter.state in sop.states else letter.state
        report.register.append(
            RegisterRow(
                nomor=number.nomor,
                letter_date=number.letter_date,
                perihal=f"({letter.sifat.upper()})" if secret else letter.perihal,
                tujuan="-" if secret else letter.tujuan,
                sifat=letter.sifat,
                urgensi=letter.urgensi,
                klasifikasi=number.klasifikasi,
                signer=signed.get(letter.id, ""),
                route=route,
                sent_at=when,
                status=status,
            )
        )
    return report


# --- files --------------------------------------------------------------------------------------------------


def chart_png(report: MonthlyReport) -> bytes:
    """Median and 90th percentile per step against the SOP standard, with the share on time (PNG)."""
    from matplotlib.figure import Figure

    steps = report.steps
    if not steps:
        raise ValueError("no steps to chart")
    figure = Figure(figsize=(9, 1.2 + 0.9 * len(steps)), dpi=110)
    axes = figure.add_subplot()
    positions = list(range(len(steps)))[::-1]
    height = 0.38
    axes.barh([y + height / 2 for y in positions], [s.median for s in steps], height, label="Median", color="#2e7d32")
    axes.barh(
        [y - height / 2 for y in positions], [s.p90 for s in steps], height, label="Persentil 90", color="#f9a825"
    )
    for y, step in zip(positions, steps, strict=True):
        if step.standard is not None:
            axes.plot([step.standard, step.standard], [y - 0.45, y + 0.45], color="#c62828", linewidth=2)
        share = "tanpa standar" if step.on_time is None else f"{step.on_time:.0%} tepat waktu"
        axes.annotate(
            f"{share} (n={step.count})",
            xy=(max(step.p90, step.standard or 0), y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    axes.plot([], [], color="#c62828", linewidth=2, label="Standar SOP")
    axes.set_yticks(positions, [f"{s.name}\n(standar {s.standard} mnt)" if s.standard else s.name for s in steps])
    axes.set_xlabel("Menit jam kerja")
    axes.set_title(f"Kepatuhan waktu SOP \u2014 {report.month.name}")
    right = max(max(s.p90 for s in steps), max((s.standard or 0) for s in steps))
    axes.set_xlim(0, right * 1.45 + 1)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def register_csv(report: MonthlyReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(REGISTER_COLUMNS)
    for i, row in enumerate(report.register, 1):
        writer.writerow(_register_values(i, row))
    return out.getvalue().encode("utf-8-sig")  # with a BOM: Excel opens it as UTF-8


def report_xlsx(report: MonthlyReport) -> bytes:
    """The register, and the step and per-person statistics, as one workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Buku Agenda"
    sheet.append([f"Buku agenda surat keluar \u2014 {report.office} \u2014 {report.month.name}"])
    sheet["A1"].font = Font(bold=True)
    sheet.append(list(REGISTER_COLUMNS))
    for i, row in enumerate(report.register, 1):
        sheet.append(_register_values(i, row, as_date=True))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row_cells in sheet.iter_rows(min_row=3, min_col=3, max_col=3):
        for cell in row_cells:
            cell.number_format = "DD-MM-YYYY"
    for column, width in zip("ABCDEFGHIJKL", (5, 26, 13, 40, 30, 14, 13, 12, 30, 18, 30, 14), strict=True):
        sheet.column_dimensions[column].width = width

    steps = workbook.create_sheet("Kepatuhan per tahap")
    steps.append(["Tahap", "Standar (menit)", "Jumlah", "Median (menit)", "Persentil 90 (menit)", "Tepat waktu"])
    for step in report.steps:
        steps.append([step.name, step.standard, step.count, round(step.median, 1), round(step.p90, 1), step.on_time])
        steps.cell(row=steps.max_row, column=6).number_format = "0%"
    people = workbook.create_sheet("Kepatuhan per orang")
    people.append(["Nama", "Jabatan", "Tahap", "Jumlah", "Median (menit)", "Terlambat"])
    for person in report.people:
        people.append(
            [person.nama, person.jabatan, person.step, len(person.durations),
             round(statistics.median(person.durations), 1), person.late]
        )  # fmt: skip
    for ws in (steps, people):
        for cell in ws[1]:
            cell.font = Font(bold=True)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _register_values(i: int, row: RegisterRow, *, as_date: bool = False) -> list[object]:
    values: list[object] = [
        i, row.nomor, row.letter_date if as_date else row.letter_date.strftime("%d-%m-%Y"), row.perihal,
        row.tujuan, row.sifat, row.urgensi, row.klasifikasi, row.signer, row.route, row.sent_at, row.status,
    ]  # fmt: skip
    return [_not_a_formula(v) for v in values]


def _not_a_formula(value: object) -> object:
    """A text a spreadsheet would run as a formula (=, +, -, @ first) is kept as text (a lone "-" is no formula)."""
    if isinstance(value, str) and len(value) > 1 and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def summary_text(report: MonthlyReport) -> str:
    """The report in a few lines for the chat (and the CLI)."""
    lines = [f"\U0001f4ca Laporan {report.month.name}: {len(report.register)} nomor surat keluar."]
    for step in report.steps:
        share = "" if step.on_time is None else f", {step.on_time:.0%} tepat waktu"
        standard = f" (standar {step.standard})" if step.standard else ""
        lines.append(
            f"\u2022 {step.name}{standard}: {step.count}\u00d7, median {step.median:.0f} mnt, "
            f"P90 {step.p90:.0f} mnt{share}"
        )
    late = sorted((p for p in report.people if p.late), key=lambda p: -p.late)[:5]
    if late:
        lines.append("Paling sering terlambat:")
        lines += [f"\u2022 {p.nama} \u2014 {p.step}: {p.late} dari {len(p.durations)}" for p in late]
    return "\n".join(lines)
