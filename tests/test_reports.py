"""Monthly reports: the step statistics, the chart and the register, checked by reading the files back."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from suratbot.services import letters, reports
from suratbot.services.office import Office
from suratbot.workflow.letter import LetterMeta
from suratbot.workflow.machine import Refusal
from tests.conftest import WIB, FakeClock
from tests.helpers import META, fresh_pdf, pdf, people
from tests.test_handlers import person

NOVEMBER = reports.Month(2026, 11)


async def story(office: Office, clock: FakeClock) -> dict[str, str]:
    """Three letters on Wednesday 25 November 2026 with known step durations (minutes of office time)."""
    p = await people(office)
    clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=WIB)
    a = await letters.submit(office, p.drafter, fresh_pdf(), META)
    b = await letters.submit(
        office, p.drafter, fresh_pdf(), LetterMeta("Laporan Bulanan", "Bupati", "Biasa", "Biasa", "000.1")
    )
    secret = await letters.submit(
        office, p.drafter, fresh_pdf(), LetterMeta("Data gaji", "BKD", "Rahasia", "Segera", "800")
    )
    clock.advance(minutes=10)
    await letters.request_revision(office, b.id, p.kasi, "Perbaiki tanggal.")  # B: verifikasi_1 10 min
    clock.advance(minutes=20)
    await letters.approve(office, a.id, p.kasi)  # A: verifikasi_1 30 min
    await letters.approve(office, secret.id, p.kasi)  # secret: verifikasi_1 30 min
    clock.advance(minutes=20)
    await letters.resubmit(office, b.id, p.drafter, pdf(77))  # B: konsep (revision) 40 min
    clock.advance(minutes=20)
    await letters.approve(office, b.id, p.kasi)  # B: verifikasi_1 again, 20 min
    clock.advance(minutes=70)
    for letter in (a, b):  # A: verifikasi_2 110 min (late); B: 70 min (late)
        await letters.approve(office, letter.id, p.kabid)
    clock.advance(minutes=5)
    for letter in (a, b):
        await letters.assign_number(office, letter.id, p.clerk)  # penomoran 5 min
    clock.advance(minutes=20)
    await letters.record_signature(office, a.id, p.kepala, pdf(91))  # tanda_tangan 20 min (no standard)
    clock.advance(minutes=3)
    await letters.dispatch(office, a.id, p.clerk, route="srikandi", note="agenda 12")  # pengiriman 3 min
    return {"a": a.id, "b": b.id, "secret": secret.id}


async def test_the_month_in_numbers(office: Office, clock: FakeClock) -> None:
    await story(office, clock)
    report = await reports.monthly_report(office, NOVEMBER)
    steps = {s.state: s for s in report.steps}
    assert sorted(steps["verifikasi_1"].durations) == [10, 20, 30, 30]
    assert steps["verifikasi_1"].median == 25 and steps["verifikasi_1"].on_time == 1.0
    assert sorted(steps["verifikasi_2"].durations) == [70, 110]
    assert steps["verifikasi_2"].p90 == pytest.approx(106) and steps["verifikasi_2"].on_time == 0.0
    assert steps["konsep"].durations == (40,)
    assert steps["penomoran"].durations == (5, 5) and steps["penomoran"].on_time == 1.0
    assert steps["tanda_tangan"].durations == (20,) and steps["tanda_tangan"].on_time is None
    assert steps["pengiriman"].durations == (3,)
    kabid = next(p for p in report.people if p.state == "verifikasi_2")
    assert kabid.nama == "Ir. Bambang Hermawan" and kabid.late == 2
    assert [r.nomor for r in report.register] == ["500.16/1/DPMPTSP/2026", "000.1/2/DPMPTSP/2026"]
    assert report.register[0].signer == "Dr. H. Asep Suryana" and report.register[0].route == "SRIKANDI"
    assert report.register[0].status == "Terkirim" and report.register[1].status == "Tanda tangan"
    assert reports.percentile([1, 2, 3, 4], 50) == 2.5 and reports.percentile([7], 90) == 7
    assert (await reports.monthly_report(office, reports.Month(2026, 10))).empty


async def test_the_files_read_back(office: Office, clock: FakeClock, tmp_path: Path) -> None:
    ids = await story(office, clock)
    p = await people(office)
    clock.advance(minutes=1)
    await letters.approve(office, ids["secret"], p.kabid)
    await letters.assign_number(office, ids["secret"], p.clerk)
    report = await reports.monthly_report(office, NOVEMBER)

    image = Image.open(io.BytesIO(reports.chart_png(report)))
    image.verify()
    assert image.format == "PNG" and image.size[0] > 600 and image.size[1] > 300

    book = load_workbook(io.BytesIO(reports.report_xlsx(report)))
    register = book["Buku Agenda"]
    assert "November 2026" in register["A1"].value
    header = [c.value for c in register[2]]
    assert header == list(reports.REGISTER_COLUMNS)
    rows = [[c.value for c in row] for row in register.iter_rows(min_row=3)]
    assert [r[1] for r in rows] == ["500.16/1/DPMPTSP/2026", "000.1/2/DPMPTSP/2026", "800/3/DPMPTSP/2026"]
    first = dict(zip(header, rows[0], strict=True))
    assert first["Perihal"] == META.perihal and first["Tujuan"] == META.tujuan
    assert first["Tanggal surat"].date() == date(2026, 11, 25)
    assert first["Penanda tangan"] == "Dr. H. Asep Suryana" and first["Dikirim melalui"] == "SRIKANDI"
    assert first["Waktu kirim"] == "Rabu, 25 November 2026 11.48 WIB"
    secret = dict(zip(header, rows[2], strict=True))
    assert secret["Perihal"] == "(RAHASIA)" and secret["Tujuan"] == "-"  # no subject of a secret letter
    steps = {r[0].value: [c.value for c in r] for r in book["Kepatuhan per tahap"].iter_rows(min_row=2)}
    assert steps["Verifikasi 2"] == ["Verifikasi 2", 60, 3, 110, 133.2, 0]  # with the secret one: 139 min
    assert steps["Tanda tangan"][1] is None and steps["Tanda tangan"][5] is None
    people_rows = [[c.value for c in r] for r in book["Kepatuhan per orang"].iter_rows(min_row=2)]
    assert ["Ir. Bambang Hermawan", "Kepala Bidang Pelayanan Perizinan", "Verifikasi 2", 3, 110, 3] in people_rows

    parsed = list(csv.reader(io.StringIO(reports.register_csv(report).decode("utf-8-sig"))))
    assert parsed[0] == list(reports.REGISTER_COLUMNS) and len(parsed) == 4
    assert parsed[1][2] == "25-11-2026" and parsed[3][3] == "(RAHASIA)"


async def test_laporan_in_chat(office: Office, clock: FakeClock) -> None:
    kepala = await person(office, "Kepala Dinas", "901")
    drafter = await person(office, "Analis Perizinan", "902")
    await drafter.say("/laporan")
    assert "hanya untuk Kepala Dinas" in drafter.text()
    await story(office, clock)
    clock.now = datetime(2026, 11, 26, 8, 0, tzinfo=WIB)
    answer = await kepala.say("/laporan")
    chart, workbook = answer.replies
    assert chart.photo is not None and chart.photo.filename == "kepatuhan-2026-11.png"
    assert "Laporan November 2026" in chart.text and "Verifikasi 2 (standar 60): 2\u00d7" in chart.text
    assert Image.open(io.BytesIO(office.files.get(chart.photo.sha256))).format == "PNG"
    assert workbook.document is not None and workbook.document.filename == "buku-agenda-2026-11.xlsx"
    load_workbook(io.BytesIO(office.files.get(workbook.document.sha256)))
    await kepala.say("/laporan 2026-10")
    assert "Belum ada surat yang diproses pada Oktober 2026" in kepala.text()
    await kepala.say("/laporan 2026-13")
    assert "tidak dikenali" in kepala.text()
    with pytest.raises(Refusal):
        reports.Month.parse("November")


async def test_a_cancelled_letter_charges_nobody_with_its_step(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=WIB)
    letter = await letters.submit(office, p.drafter, fresh_pdf(), META)
    clock.advance(hours=5)
    await letters.cancel(office, letter.id, p.kepala, "Tidak jadi dikirim.")
    report = await reports.monthly_report(office, NOVEMBER)
    assert report.steps == [] and report.people == []  # the Kasi's 5 hours were not a step anyone finished
