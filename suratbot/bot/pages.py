"""What every page of the web app shares: the HTML shell, one stylesheet, the security headers, and Indonesian
error pages (never a stack trace)."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

# No script anywhere; styles only from our own stylesheet; forms post only to us; nothing may frame a page,
# except the signing page in Telegram's web client (it is a Telegram Web App there).
CSP = "default-src 'none'; img-src 'self'; style-src 'self'; form-action 'self'; base-uri 'none'; "
HEADERS = {
    "Content-Security-Policy": CSP + "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # links may carry secrets (signing, login): they never leave in a Referer
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
TELEGRAM_FRAMABLE = {k: v for k, v in HEADERS.items() if k != "X-Frame-Options"} | {
    "Content-Security-Policy": CSP + "frame-ancestors https://web.telegram.org"
}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f3f4f6;color:#111827}
main{max-width:40rem;margin:0 auto;padding:1rem}
main.wide{max-width:80rem}
h1{font-size:1.25rem;margin:.5rem 0 1rem}
h2{font-size:1.05rem;margin:0 0 .6rem}
.card{background:#fff;border-radius:.75rem;padding:1rem;margin-bottom:1rem;box-shadow:0 1px 2px rgba(0,0,0,.08);
overflow-wrap:anywhere}
dl{margin:0}dt{font-size:.8rem;color:#6b7280;margin-top:.6rem}dd{margin:0;word-break:break-word}
code{font-size:.8rem;word-break:break-all}
img{max-width:100%;height:auto;border:1px solid #e5e7eb;border-radius:.25rem}
label{display:block;font-weight:600;margin-bottom:.4rem}
input[type=password],input[type=search]{width:100%;box-sizing:border-box;font-size:1.1rem;padding:.7rem;
border:1px solid #9ca3af;border-radius:.5rem}
input[type=file]{width:100%;font-size:1rem}
button{margin-top:.8rem;width:100%;font-size:1.1rem;padding:.8rem;border:0;border-radius:.5rem;background:#065f46;
color:#fff}
button.link{width:auto;background:none;color:#065f46;padding:0;margin:0;font-size:1rem;text-decoration:underline}
.error{background:#fef2f2;color:#991b1b;border:1px solid #fecaca}
.ok{background:#ecfdf5;color:#065f46;border:1px solid #a7f3d0}
.warn{background:#fffbeb;color:#92400e;border:1px solid #fde68a}
small,.muted{color:#6b7280}
table{width:100%;border-collapse:collapse;font-size:.9rem}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #e5e7eb;vertical-align:top}
tr.late td{background:#fef2f2}
.bar{display:flex;gap:1rem;flex-wrap:wrap;align-items:center;justify-content:space-between}
.scroll{overflow-x:auto}
.inline{display:inline}
"""


def page(
    title: str, body: str, status: int = 200, *, wide: bool = False, head: str = "", telegram_frame: bool = False
) -> HTMLResponse:
    """A whole page: `body` is HTML already escaped by the caller; `head` adds to <head> (e.g. a refresh);
    `telegram_frame`: Telegram's web client may show it in a frame (a Web App)."""
    document = (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/static/halaman.css">{head}</head>'
        f"<body><main{' class=wide' if wide else ''}>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=TELEGRAM_FRAMABLE if telegram_frame else HEADERS)


def message_page(title: str, text: str, status: int, *, kind: str = "error") -> HTMLResponse:
    """A page that only says something (a refusal, an error)."""
    return page(title, f'<h1>{html.escape(title)}</h1><p class="card {kind}" role="alert">{html.escape(text)}</p>',
                status)  # fmt: skip


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as it is longer than `limit` (declared or as it arrives): never more
    than that is held."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def stylesheet(request: Request) -> Response:
    return Response(STYLE, media_type="text/css", headers={"Cache-Control": "public, max-age=3600",
                                                           "X-Content-Type-Options": "nosniff"})  # fmt: skip


async def not_found(request: Request, exc: Exception) -> Response:
    return message_page("Halaman tidak ditemukan", "Halaman yang Anda cari tidak ada.", 404)


async def not_allowed(request: Request, exc: Exception) -> Response:
    return message_page("Tidak didukung", "Permintaan ini tidak didukung untuk halaman ini.", 405)


async def server_error(request: Request, exc: Exception) -> Response:
    return message_page("Terjadi gangguan", "Maaf, terjadi gangguan di server. Coba lagi sebentar lagi.", 500)
