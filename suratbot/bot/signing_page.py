"""The signing page (`/tandatangan/{token}`): the letter a one-time link stands for and a passphrase field, plain
server-rendered HTML for a phone, so that a passphrase is never typed into a chat that cannot delete it."""

from __future__ import annotations

import asyncio
import html
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from suratbot.bot.pages import HEADERS, page, read_capped
from suratbot.services import signing_links
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.signing_links import SigningPage
from suratbot.workflow.machine import Refusal

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 4096  # a passphrase and nothing else
PREVIEW_SCALE = 1.4  # ~830 px wide for an A4 page: sharp on a phone, ~100 KB


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return page(title, body, status, telegram_frame=True)


LINK_REFUSALS = {
    "tautan_tidak_dikenal": 404,
    "tautan_kedaluwarsa": 410,
    "tautan_terpakai": 410,
    "surat_berubah": 409,
    "tautan_diproses": 409,
}


def _refused(refusal: Refusal, first: str | None = None) -> HTMLResponse:
    """The link does not lead to a signature now (and, first, what went wrong just before, if anything); or the
    signature could not be made for a reason that is not the link's (no key, the signing service down)."""
    lead = f'<p class="card error" role="alert" id="galat">{html.escape(first)}</p>' if first else ""
    reason = f'<p class="card error" id="alasan">{html.escape(refusal.message)}</p>'
    if refusal.code in LINK_REFUSALS:
        return _page(
            "Tautan tidak berlaku", f"<h1>Tautan tidak berlaku</h1>{lead}{reason}", LINK_REFUSALS[refusal.code]
        )
    return _page("Belum ditandatangani", f"<h1>Belum ditandatangani</h1>{lead}{reason}", 409)


def _letter_card(office: Office, page: SigningPage, token: str) -> str:
    letter = page.letter
    rows = [
        ("Nomor", letter.nomor or "-"),
        ("Perihal", letter.perihal),
        ("Tujuan", letter.tujuan),
        ("Sifat", letter.sifat),
        ("Penanda tangan", f"{page.signer.nama} ({page.signer.jabatan})"),
        ("Tautan berlaku sampai", local_time(office.sop, page.expires_at)),
    ]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    sha = html.escape(letter.current_version)
    base = f"{signing_links.PATH}{html.escape(token)}"
    return (
        f'<section class="card"><dl>{items}<dt>SHA-256 berkas yang ditandatangani</dt>'
        f'<dd><code id="sha256">{sha}</code></dd></dl></section>'
        f'<section class="card"><img src="{base}/pratinjau.png" alt="Halaman pertama surat">'
        f'<p><a href="{base}/surat.pdf">Buka PDF lengkap</a></p></section>'
    )


def _form(token: str, error: str | None = None) -> str:
    alert = f'<p class="card error" role="alert" id="galat">{html.escape(error)}</p>' if error else ""
    return (
        f'{alert}<form class="card" method="post" action="{signing_links.PATH}{html.escape(token)}" '
        'autocomplete="off"><label for="passphrase">Passphrase tanda tangan elektronik</label>'
        '<input type="password" id="passphrase" name="passphrase" required autocomplete="off" '
        'autocapitalize="off" spellcheck="false">'
        '<button type="submit">Tandatangani</button>'
        "<p><small>Passphrase hanya dipakai untuk tanda tangan ini dan tidak disimpan.</small></p></form>"
    )


def routes(office: Office, after_signing: Callable[[], None]) -> list[Route]:
    """The page's routes; `after_signing` wakes the outbox (the chat hears of the result, the clerk of the task)."""

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        if request.method == "POST":
            return await submit(request, token)
        try:
            page = await signing_links.open_page(office, token)
        except Refusal as refusal:
            return _refused(refusal)
        title = "Tanda tangan surat"
        return _page(title, f"<h1>{title}</h1>{_letter_card(office, page, token)}{_form(token)}")

    async def submit(request: Request, token: str) -> Response:
        body = await read_capped(request, MAX_FORM_BYTES)
        if body is None:
            return _page("Terlalu besar", '<p class="card error">Isian terlalu panjang.</p>', 413)
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        secret = (fields.get("passphrase") or [""])[0]
        del body, fields
        if not secret:
            return await _again(token, "Isi passphrase dahulu.", status=400)
        try:
            letter = await signing_links.sign(office, token, secret)
        except Refusal as refusal:
            if refusal.code == "kata_sandi_salah" and "dikunci" not in refusal.message:
                return await _again(token, refusal.message, status=400)  # a typo: the same link, once more
            if refusal.code in ("kata_sandi_salah", "tte_terkunci"):  # locked out: this link is spent
                body_html = (
                    f'<h1>Belum ditandatangani</h1><p class="card error" role="alert" id="galat">'
                    f"{html.escape(refusal.message)}</p>"
                )
                return _page("Belum ditandatangani", body_html, 403)
            return _refused(refusal)
        except Exception:  # ours, not theirs: the link was given back; never a traceback to the browser
            log.exception("signing page: the signature failed")
            body_html = (
                '<h1>Belum ditandatangani</h1><p class="card error" role="alert" id="galat">Terjadi gangguan saat '
                "menandatangani; surat belum ditandatangani. Coba lagi sebentar lagi dengan tautan yang sama.</p>"
            )
            return _page("Belum ditandatangani", body_html, 503)
        finally:
            del secret
        after_signing()
        sha = html.escape(letter.current_version)
        body_html = (
            '<h1>Surat sudah ditandatangani</h1><section class="card ok" role="status" id="hasil">'
            f"<p>Surat Nomor {html.escape(letter.nomor or '-')} sudah ditandatangani secara elektronik dan "
            "diteruskan untuk dikirim. Hasilnya juga dikirim ke obrolan bot Anda.</p>"
            f"<p>SHA-256 berkas bertanda tangan:<br><code>{sha}</code></p></section>"
            "<p><small>Halaman ini boleh ditutup.</small></p>"
        )
        return _page("Surat sudah ditandatangani", body_html)

    async def _again(token: str, message: str, status: int = 200) -> Response:
        try:
            page = await signing_links.open_page(office, token)
        except Refusal as refusal:  # expired meanwhile: the message, without the form
            return _refused(refusal, message)
        title = "Tanda tangan surat"
        return _page(title, f"<h1>{title}</h1>{_letter_card(office, page, token)}{_form(token, message)}", status)

    async def preview(request: Request) -> Response:
        page = await _live(request)
        if isinstance(page, Response):
            return page
        png = await _preview(office, page.letter.current_version)
        return Response(png, media_type="image/png", headers=HEADERS)

    async def pdf(request: Request) -> Response:
        page = await _live(request)
        if isinstance(page, Response):
            return page
        data = await asyncio.to_thread(office.files.get, page.letter.current_version)
        # No CSP here: Chromium's PDF viewer shows a blank page under `default-src 'none'`.
        headers = {k: v for k, v in HEADERS.items() if k != "Content-Security-Policy"}
        headers["Content-Disposition"] = 'inline; filename="surat.pdf"'
        headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        return Response(data, media_type="application/pdf", headers=headers)

    async def _live(request: Request) -> SigningPage | Response:
        try:
            return await signing_links.open_page(office, request.path_params["token"])
        except Refusal as refusal:
            return _refused(refusal)

    return [
        Route(signing_links.PATH + "{token}", show, methods=["GET", "POST"]),
        Route(signing_links.PATH + "{token}/pratinjau.png", preview),
        Route(signing_links.PATH + "{token}/surat.pdf", pdf),
    ]


_pdfium = threading.Lock()  # PDFium is not thread-safe, not even across documents: one rendering at a time
_previews: OrderedDict[str, bytes] = OrderedDict()  # by the file's SHA-256: a version never changes
PREVIEWS_KEPT = 16


async def _preview(office: Office, version: str) -> bytes:
    png = _previews.get(version)
    if png is None:
        data = await asyncio.to_thread(office.files.get, version)
        png = await asyncio.to_thread(_first_page_png, data)
        _previews[version] = png
        while len(_previews) > PREVIEWS_KEPT:
            _previews.popitem(last=False)
    return png


def _first_page_png(data: bytes) -> bytes:
    with _pdfium:
        return _render(data)


def _render(data: bytes) -> bytes:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        image = document[0].render(scale=PREVIEW_SCALE).to_pil()
    finally:
        document.close()
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
