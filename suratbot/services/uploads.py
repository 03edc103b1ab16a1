"""Checks on an uploaded letter file before it is stored: its type, size and whether it is a usable PDF."""

from __future__ import annotations

import re
from dataclasses import dataclass

from suratbot.workflow.letter import clean_text
from suratbot.workflow.machine import Refusal

PDF = "application/pdf"
MAX_NAME = 255
_ENCRYPT_RE = re.compile(rb"/Encrypt\s*(\d+\s+\d+\s+R|<<)")


@dataclass(frozen=True)
class Upload:
    """A file a person sent: its bytes, the name they gave it (display only) and its media type."""

    data: bytes
    filename: str | None = None
    media_type: str = PDF

    @property
    def display_name(self) -> str | None:
        """The name to show: no folders, no control characters, at most 255 characters (display only)."""
        if not self.filename:
            return None
        name = clean_text(self.filename).replace("\\", "/").rsplit("/", 1)[-1].strip()
        if len(name) > MAX_NAME:
            stem, dot, ext = name.rpartition(".")
            name = (stem[: MAX_NAME - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else name[:MAX_NAME]
        return name or None

    def __repr__(self) -> str:  # never dump the bytes into a log
        return f"Upload(filename={self.filename!r}, media_type={self.media_type!r}, size={len(self.data)})"


def check_upload(upload: Upload, max_bytes: int) -> None:
    """Refuse (in Indonesian) a file that is empty, too large, not a PDF, truncated or encrypted."""
    size = len(upload.data)
    if size == 0:
        raise Refusal("berkas_kosong", "Berkas yang dikirim kosong.")
    if size > max_bytes:
        raise Refusal(
            "berkas_terlalu_besar",
            f"Berkas terlalu besar ({size / 1_048_576:.1f} MB); batasnya {max_bytes / 1_048_576:.0f} MB.",
        )
    head = upload.data[:1024]
    if upload.media_type != PDF or b"%PDF-" not in head:
        raise Refusal(
            "bukan_pdf",
            "Berkas ini bukan PDF. Kirim konsep surat dalam bentuk PDF.",
        )
    if b"%%EOF" not in upload.data[-2048:]:
        raise Refusal(
            "pdf_rusak",
            "Berkas PDF ini rusak atau tidak lengkap (mungkin terpotong saat diunduh). Ekspor ulang lalu kirim lagi.",
        )
    if _ENCRYPT_RE.search(upload.data):
        raise Refusal(
            "pdf_terkunci",
            "PDF ini dilindungi kata sandi/enkripsi, sehingga tidak bisa diberi nomor dan ditandatangani. "
            "Simpan ulang tanpa kata sandi lalu kirim lagi.",
        )
