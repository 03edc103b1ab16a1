"""Sending a signed letter by e-mail (SMTP with aiosmtplib), for the clerk's dispatch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage

import aiosmtplib

from suratbot.workflow.machine import Refusal

_ADDRESS_RE = re.compile(r"[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class SmtpSetup:
    host: str
    port: int = 587
    sender: str = "suratbot@localhost"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout: float = 30.0


def check_address(text: str) -> str:
    address = text.strip()
    if not _ADDRESS_RE.fullmatch(address):
        raise Refusal("surel_salah", f"\u201c{address}\u201d bukan alamat surel (e-mail) yang valid.")
    return address


async def send_letter(smtp: SmtpSetup, to: str, *, subject: str, body: str, pdf: bytes, filename: str) -> str:
    """Send the PDF to `to`; returns the Message-ID. Refusal (Indonesian) when the mail server refuses or is down."""
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = check_address(to)
    message["Subject"] = subject
    message.set_content(body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    from email.utils import make_msgid

    message["Message-ID"] = make_msgid(domain=smtp.sender.rsplit("@", 1)[-1] or "localhost")
    try:
        await aiosmtplib.send(
            message,
            hostname=smtp.host,
            port=smtp.port,
            username=smtp.username,
            password=smtp.password,
            start_tls=smtp.starttls,
            timeout=smtp.timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused:
        raise Refusal("surel_ditolak", f"Server surel menolak alamat {to}. Periksa alamatnya.") from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        raise Refusal(
            "surel_gagal", "Surel tidak terkirim: server surel tidak dapat dihubungi. Coba lagi, atau pilih jalur lain."
        ) from None
    return str(message["Message-ID"])
