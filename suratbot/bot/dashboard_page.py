"""The office dashboard (`/dasbor`) for the Sekretaris, Kepala Dinas and admins: the queue per step against the
SOP's times, this month's compliance chart and the register (search, CSV/XLSX); reached by a one-time login
link from the bot, held by a session cookie, refreshing itself every 30 seconds (no script)."""

from __future__ import annotations

import asyncio
import html
import time
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from suratbot.bot.pages import HEADERS, message_page, page
from suratbot.services import dashboard, reports, web_sessions
from suratbot.services.office import Office
from suratbot.storage.models import Staff
from suratbot.workflow.machine import Refusal

COOKIE = "suratbot_sesi"
REFRESH_SECONDS = 30
CHART_CACHE_SECONDS = 60.0
REPORT_CACHE_SECONDS = 25.0


def _minutes(value: float) -> str:
    minutes = int(value)
    if minutes < 60:
        return f"{minutes} mnt"
    hours, rest = divmod(minutes, 60)
    return f"{hours} jam {rest} mnt"


def routes(office: Office) -> list[Route]:
    secure = office.public_url.startswith("https://")
    charts: dict[str, tuple[float, bytes | None]] = {}
    month_reports: dict[str, tuple[float, reports.MonthlyReport]] = {}

    async def _report(month: reports.Month) -> reports.MonthlyReport:
        """The month's report, shared for a while by every open screen (each refreshes every 30 s)."""
        made_at, report = month_reports.get(month.key, (0.0, None))
        if report is None or time.monotonic() - made_at > REPORT_CACHE_SECONDS:
            report = await reports.monthly_report(office, month)
            month_reports.clear()  # one month kept: the current one, in practice
            month_reports[month.key] = (time.monotonic(), report)
        return report

    def _same_site(request: Request) -> bool:
        """A form posted from our own pages, not from another site (login and logout CSRF); a client that says
        nothing of where it comes from (not a browser) is let through."""
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site in ("same-origin", "none")
        origin = request.headers.get("origin")
        if origin is None:
            return True
        own = {f"{request.url.scheme}://{request.url.netloc}", _origin(office.public_url)}
        return origin in own

    def _cross_site() -> Response:
        return message_page("Ditolak", "Formulir ini hanya bisa dikirim dari halaman dasbor sendiri.", 403)

    async def _staff(request: Request) -> Staff | None:
        return await web_sessions.session_staff(office, request.cookies.get(COOKIE))

    def _to_login() -> Response:
        return RedirectResponse("/dasbor/masuk", status_code=303, headers=HEADERS)

    async def explain(request: Request) -> Response:
        body = (
            '<h1>Dasbor kantor</h1><p class="card warn" id="penjelasan">Anda belum masuk. Dasbor hanya untuk '
            "Sekretaris, Kepala Dinas, dan admin: ketik <strong>/dasbor</strong> di bot Telegram atau WhatsApp kantor, "
            "lalu buka tautan masuk yang dikirim bot (berlaku 10 menit, sekali pakai).</p>"
        )
        return page("Dasbor kantor: masuk", body, 401)

    async def login(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "GET":
            # A chat app fetching the link for its preview must not spend it: the login is a button press.
            if not await web_sessions.link_is_live(office, token):
                return message_page("Tautan tidak berlaku", web_sessions.LINK_REFUSED.message, 410)
            body = (
                "<h1>Dasbor kantor</h1>"
                f'<form class="card" method="post" action="{web_sessions.LOGIN_PATH}{html.escape(token)}">'
                "<p>Tekan tombol di bawah untuk masuk ke dasbor kantor di peramban ini.</p>"
                '<button type="submit" id="masuk">Masuk</button></form>'
            )
            return page("Dasbor kantor: masuk", body)
        if not _same_site(request):
            return _cross_site()
        try:
            session_token = await web_sessions.log_in(office, token)
        except Refusal as refusal:
            return message_page("Tautan tidak berlaku", refusal.message, 410)
        response = RedirectResponse("/dasbor", status_code=303, headers=HEADERS)
        response.set_cookie(
            COOKIE,
            session_token,
            max_age=int(web_sessions.SESSION_LIFETIME.total_seconds()),
            path="/dasbor",
            httponly=True,
            secure=secure,
            samesite="lax",
        )
        return response

    async def logout(request: Request) -> Response:
        if not _same_site(request):
            return _cross_site()
        await web_sessions.log_out(office, request.cookies.get(COOKIE))
        response = message_page("Anda sudah keluar", "Anda sudah keluar dari dasbor kantor.", 200, kind="ok")
        response.delete_cookie(COOKIE, path="/dasbor", httponly=True, secure=secure, samesite="lax")
        return response

    async def home(request: Request) -> Response:
        staff = await _staff(request)
        if staff is None:
            return _to_login()
        month = reports.Month.of(office.now(), office.sop)
        query = (request.query_params.get("cari") or "").strip()[:100]
        rows, counts = await dashboard.queue(office)
        report = await _report(month)
        register = report.register
        if query:
            needle = query.lower()
            register = [r for r in register if any(needle in f.lower() for f in (r.nomor, r.perihal, r.tujuan))]
        late = sum(r.late for r in rows)
        summary = "".join(
            f"<tr><td>{html.escape(c.step)}</td><td>{c.letters}</td><td>{c.late}</td></tr>" for c in counts
        )
        queue_rows = "".join(
            f"<tr{' class=late' if r.late else ''}><td>{html.escape(r.title)}"
            f"{'<br><small>' + html.escape(r.nomor) + '</small>' if r.nomor else ''}</td>"
            f"<td>{html.escape(r.step)}</td><td>{html.escape(r.holder)}</td>"
            f"<td>{_minutes(r.waiting_minutes)}"
            f"{' / ' + str(r.standard_minutes) + ' mnt' if r.standard_minutes else ''}"
            f"{' <strong>TERLAMBAT</strong>' if r.late else ''}</td></tr>"
            for r in rows
        )
        register_rows = "".join(
            f"<tr><td>{html.escape(r.nomor)}</td><td>{r.letter_date:%d-%m-%Y}</td><td>{html.escape(r.perihal)}</td>"
            f"<td>{html.escape(r.tujuan)}</td><td>{html.escape(r.status)}</td></tr>"
            for r in register
        )
        chart = (
            f'<img src="/dasbor/grafik.png" alt="Grafik kepatuhan waktu SOP {html.escape(month.name)}">'
            if report.steps
            else "<p class=muted>Belum ada tahap yang selesai bulan ini.</p>"
        )
        downloads = urlencode({"bulan": month.key})
        body = (
            '<div class="bar"><h1>Dasbor surat keluar</h1>'
            f"<span class=muted>{html.escape(staff.nama)} &middot; diperbarui otomatis tiap {REFRESH_SECONDS} detik"
            ' &middot; <form class="inline" method="post" action="/dasbor/keluar">'
            '<button class="link" type="submit" id="keluar">Keluar</button></form></span></div>'
            f'<section class="card"><h2>Antrean per tahap ({len(rows)} surat, {late} terlambat)</h2>'
            f'<div class="scroll"><table id="ringkasan"><tr><th>Tahap</th><th>Surat</th><th>Terlambat</th></tr>'
            f"{summary}</table></div></section>"
            '<section class="card"><h2>Surat yang sedang berjalan (terlambat di atas)</h2><div class="scroll">'
            '<table id="antrian"><tr><th>Surat</th><th>Tahap</th><th>Pemegang</th><th>Waktu / standar</th></tr>'
            f"{queue_rows or '<tr><td colspan=4>Tidak ada surat yang sedang berjalan.</td></tr>'}</table></div>"
            "</section>"
            f'<section class="card"><h2>Kepatuhan {html.escape(month.name)}</h2>{chart}</section>'
            f'<section class="card"><h2>Buku agenda {html.escape(month.name)}</h2>'
            '<form method="get" action="/dasbor"><label for="cari">Cari nomor, perihal, atau tujuan</label>'
            f'<input type="search" id="cari" name="cari" value="{html.escape(query)}"></form>'
            f'<p><a href="/dasbor/agenda.csv?{downloads}">Unduh CSV</a> &middot; '
            f'<a href="/dasbor/agenda.xlsx?{downloads}">Unduh XLSX</a></p>'
            '<div class="scroll"><table id="agenda"><tr><th>Nomor</th><th>Tanggal</th><th>Perihal</th>'
            "<th>Tujuan</th><th>Status</th></tr>"
            f"{register_rows or '<tr><td colspan=5>Tidak ada.</td></tr>'}</table></div></section>"
        )
        return page("Dasbor surat keluar", body, wide=True,
                    head=f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">')  # fmt: skip

    async def chart(request: Request) -> Response:
        if await _staff(request) is None:
            return _to_login()
        month = reports.Month.of(office.now(), office.sop)
        made_at, png = charts.get(month.key, (0.0, None))
        if png is None or time.monotonic() - made_at > CHART_CACHE_SECONDS:
            report = await _report(month)
            png = await asyncio.to_thread(reports.chart_png, report) if report.steps else None
            charts[month.key] = (time.monotonic(), png)
        if png is None:
            return message_page("Belum ada grafik", "Belum ada tahap yang selesai bulan ini.", 404)
        return Response(png, media_type="image/png", headers=HEADERS)

    async def download(request: Request) -> Response:
        if await _staff(request) is None:
            return _to_login()
        try:
            month = reports.Month.parse(request.query_params.get("bulan") or "")
        except Refusal as refusal:
            return message_page("Bulan tidak dikenali", refusal.message, 400)
        if request.path_params["format"] not in ("csv", "xlsx"):
            return message_page("Halaman tidak ditemukan", "Unduhan hanya CSV atau XLSX.", 404)
        report = await reports.monthly_report(office, month)
        if request.path_params["format"] == "csv":
            data, media = reports.register_csv(report), "text/csv; charset=utf-8"
        else:
            data = await asyncio.to_thread(reports.report_xlsx, report)
            media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name = f"buku-agenda-{month.key}.{request.path_params['format']}"
        headers = HEADERS | {"Content-Disposition": f'attachment; filename="{name}"'}
        return Response(data, media_type=media, headers=headers)

    return [
        Route("/dasbor", home),
        Route("/dasbor/masuk", explain),
        Route(web_sessions.LOGIN_PATH + "{token}", login, methods=["GET", "POST"]),
        Route("/dasbor/keluar", logout, methods=["POST"]),
        Route("/dasbor/grafik.png", chart),
        Route("/dasbor/agenda.{format:str}", download),
    ]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
