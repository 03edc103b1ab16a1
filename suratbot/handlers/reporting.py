"""`/laporan [YYYY-MM]`: the month's compliance chart (a picture) and the register with its tables (XLSX); and
`/dasbor`: a login link to the office dashboard."""

from __future__ import annotations

import asyncio

from suratbot.handlers.types import Button, Document, Reply, Response
from suratbot.services import reports, web_sessions
from suratbot.services.office import Office
from suratbot.storage.models import Staff

READERS = frozenset({"kepala", "sekretaris", "pengelola", "admin"})


async def monthly(office: Office, staff: Staff, args: str) -> Response:
    if not staff.roles & READERS:
        return Response.say("Laporan bulanan hanya untuk Kepala Dinas, Sekretaris, pengelola surat dan admin.")
    month = reports.Month.parse(args) if args.strip() else reports.Month.of(office.now(), office.sop)
    report = await reports.monthly_report(office, month)
    if report.empty:
        return Response.say(f"Belum ada surat yang diproses pada {month.name}, jadi belum ada laporan untuk bulan itu.")
    replies = []
    if report.steps:
        chart = await asyncio.to_thread(reports.chart_png, report)
        sha = await asyncio.to_thread(office.files.put, chart)
        replies.append(Reply(reports.summary_text(report), photo=Document(sha, f"kepatuhan-{month.key}.png")))
    else:
        replies.append(Reply(reports.summary_text(report)))
    workbook = await asyncio.to_thread(reports.report_xlsx, report)
    sha = await asyncio.to_thread(office.files.put, workbook)
    replies.append(
        Reply(
            f"Buku agenda surat keluar {month.name} ({len(report.register)} nomor), dengan tabel kepatuhan per tahap "
            "dan per orang.",
            document=Document(sha, f"buku-agenda-{month.key}.xlsx"),
        )
    )
    return Response(replies)


async def dashboard_link(office: Office, staff: Staff) -> Response:
    """/dasbor: a one-time login link to the office dashboard (Sekretaris, Kepala Dinas, admins)."""
    if not web_sessions.may_see_dashboard(staff):
        return Response.say(web_sessions.NOT_ALLOWED.message)
    url = await web_sessions.issue_link(office, staff)
    minutes = int(web_sessions.LINK_LIFETIME.total_seconds() // 60)
    text = (
        f"Tautan masuk ke dasbor kantor (berlaku {minutes} menit, sekali pakai; jangan diteruskan ke orang lain):\n"
        f"{url}\nBuka di peramban, mis. di layar besar ruang rapat. Dasbor memperbarui diri tiap 30 detik."
    )
    buttons = [[Button("Buka dasbor", url=url)]] if url.startswith("https://") else []
    return Response([Reply(text, buttons=buttons)])
