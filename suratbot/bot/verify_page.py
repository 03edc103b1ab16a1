"""The page a signed letter's QR code opens (`/v/{letter id}`): public, read-only, for a phone; what the office
signed, and an upload form that tells whether a received PDF is exactly that letter."""

from __future__ import annotations

import asyncio
import html
import ipaddress
import time
from collections import defaultdict, deque

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message

from suratbot.bot.pages import message_page, page
from suratbot.services.notices import indonesian_date, local_time
from suratbot.services.office import Office
from suratbot.services.public_letters import Check, PublicLetter, check_upload, public_letter

UPLOADS_PER_MINUTE = 10  # per client address: verifying costs a signature validation each
UPLOADS_PER_MINUTE_OVERALL = 300
CHECKS_AT_ONCE = 2  # verifications running together (each holds its file, and a thread)


class RateLimit:
    """At most `limit` events per `window` seconds per client (an IPv6 client by its /64, which one subscriber
    holds), and at most `overall` for everyone together; a sliding window in memory (one process)."""

    def __init__(self, limit: int, overall: int, window: float = 60.0) -> None:
        self.limit = limit
        self.overall = overall
        self.window = window
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._everyone: deque[float] = deque()
        self._next_sweep = 0.0

    @staticmethod
    def key(host: str) -> str:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host
        if address.version == 6:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
        return str(address)

    def allow(self, host: str) -> bool:
        now = time.monotonic()
        if now >= self._next_sweep:  # forget idle clients once a window
            self._next_sweep = now + self.window
            for idle in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                del self._events[idle]
        for events in (self._everyone, self._events[self.key(host)]):
            while events and events[0] <= now - self.window:
                events.popleft()
        mine = self._events[self.key(host)]
        if len(mine) >= self.limit or len(self._everyone) >= self.overall:
            return False
        mine.append(now)
        self._everyone.append(now)
        return True


STATUS = {
    "berlaku": ("ok", "Surat ini ditandatangani secara elektronik oleh kantor ini dan berlaku."),
    "dibatalkan": ("error", "Surat ini DIBATALKAN oleh kantor ini; tidak berlaku."),
    "belum_ditandatangani": ("warn", "Surat ini belum ditandatangani; belum berlaku."),
}


def _letter_card(office: Office, letter: PublicLetter) -> str:
    kind, status = STATUS[letter.status]
    rows = [("Instansi", letter.office), ("Nomor", letter.nomor or "-")]
    # A Rahasia / Sangat Rahasia letter: that it is genuine, and its number; nothing more. A letter not (or no
    # longer) in force: its number and that, but not what it is about.
    if letter.secret or letter.status != "berlaku":
        if letter.secret and letter.status == "berlaku":
            status = "Dokumen terverifikasi: surat ini ditandatangani secara elektronik oleh kantor ini."
        note = (
            "Surat ini bersifat rahasia: perihal dan rinciannya tidak ditampilkan."
            if letter.secret
            else "Rincian surat hanya ditampilkan untuk surat yang berlaku."
        )
        items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
        return (
            f'<p class="card {kind}" id="status">{html.escape(status)}</p>'
            f'<section class="card"><dl>{items}</dl><p class="muted">{note}</p></section>'
        )
    rows.append(("Tanggal", indonesian_date(letter.letter_date) if letter.letter_date else "-"))
    rows.append(("Perihal", letter.perihal or "-"))
    if letter.signer:
        rows.append(("Penanda tangan", f"{letter.signer}, {letter.signer_position}"))
    if letter.signed_at:
        rows.append(("Waktu tanda tangan", local_time(office.sop, letter.signed_at)))
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    sha = ""
    if letter.signed_sha256:
        sha = f'<dt>SHA-256 berkas bertanda tangan</dt><dd><code id="sha256">{letter.signed_sha256}</code></dd>'
    return (
        f'<p class="card {kind}" id="status">{html.escape(status)}</p>'
        f'<section class="card"><dl>{items}{sha}</dl></section>'
    )


def _form(letter_id: str, max_mb: float) -> str:
    return (
        f'<form class="card" method="post" action="/v/{html.escape(letter_id)}" enctype="multipart/form-data">'
        '<label for="berkas">Periksa PDF yang Anda terima</label>'
        '<input type="file" id="berkas" name="berkas" accept="application/pdf,.pdf" required>'
        '<button type="submit">Periksa keaslian</button>'
        f"<p><small>Berkas hanya diperiksa, tidak disimpan. Ukuran paling besar {max_mb:g} MB.</small></p></form>"
    )


def _result(check: Check) -> str:
    kind = {"sah": "ok", "surat_lain": "warn"}.get(check.verdict, "error")
    details = "".join(f"<li>{html.escape(line)}</li>" for line in check.details)
    return (
        f'<section class="card {kind}" role="status" id="hasil" data-verdict="{check.verdict}">'
        f"<p><strong>{html.escape(check.headline)}</strong></p><ul>{details}</ul></section>"
    )


def routes(office: Office) -> list[Route]:
    limiter = RateLimit(UPLOADS_PER_MINUTE, UPLOADS_PER_MINUTE_OVERALL)
    checking = asyncio.Semaphore(CHECKS_AT_ONCE)
    max_mb = round(office.max_file_bytes / 1_048_576, 1)

    async def letter_page(request: Request) -> Response:
        letter_id = request.path_params["letter_id"]
        letter = await public_letter(office, letter_id)
        if letter is None:
            return message_page("Surat tidak ditemukan", "Tidak ada surat dengan kode ini di kantor ini.", 404)
        result = ""
        status = 200
        if request.method == "POST":
            result, status = await _upload(request, letter)
        body = (
            f"<h1>Verifikasi surat</h1>{result}{_letter_card(office, letter)}{_form(letter.id, max_mb)}"
            "<p><small>Halaman ini dari layanan surat keluar kantor; kode QR pada surat mengarah ke sini.</small></p>"
        )
        response = page("Verifikasi surat", body, status)
        if status in (429, 503):
            response.headers["Retry-After"] = "60" if status == 429 else "10"
        return response

    async def _upload(request: Request, letter: PublicLetter) -> tuple[str, int]:
        client = request.client.host if request.client else "-"
        limit = office.max_file_bytes + 64 * 1024  # the file and the form around it
        too_big = _alert(f"Berkas terlalu besar; ukuran paling besar {max_mb:g} MB.")
        if not limiter.allow(client):
            await _drain(request, 2 * limit)
            return _alert("Terlalu banyak pemeriksaan dari alamat Anda. Tunggu satu menit, lalu coba lagi."), 429
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _drain(request, 2 * limit)  # read on, so that the browser gets to show the answer
            return too_big, 413
        received = 0

        async def counted() -> Message:  # the body as it arrives, refused past the limit (chunked too)
            nonlocal received
            message = await request.receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            return message

        if checking.locked():
            await _drain(request, 2 * limit)
            return _alert("Layanan pemeriksaan sedang sibuk. Coba lagi sebentar lagi."), 503
        async with checking:
            try:
                form = await Request(request.scope, counted).form(max_files=1, max_fields=4)
            except _TooLarge:
                await _drain(request, 2 * limit)
                return too_big, 413
            except Exception:  # not a form at all, or a broken one
                return _alert("Kirim berkas PDF lewat formulir di bawah."), 400
            try:
                upload = form.get("berkas")
                if upload is None or isinstance(upload, str):
                    return _alert("Pilih berkas PDF dahulu."), 400
                pdf = await upload.read()
            finally:
                await form.close()
            if not pdf:
                return _alert("Berkas kosong. Pilih berkas PDF yang Anda terima."), 400
            check = await check_upload(office, letter, pdf)
        return _result(check), 200

    return [Route("/v/{letter_id}", letter_page, methods=["GET", "POST"])]


class _TooLarge(Exception):
    """The upload's body went past the limit while it was being read."""


async def _drain(request: Request, most: int) -> None:
    """Read and drop what is left of the body (up to `most` bytes)."""
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > most:
                return
    except Exception:  # already read, or the client went away: nothing to drain
        return


def _alert(text: str) -> str:
    return f'<p class="card error" role="alert" id="galat">{html.escape(text)}</p>'
