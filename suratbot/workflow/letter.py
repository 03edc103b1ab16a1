"""A letter's metadata as the tata naskah dinas defines it: perihal, tujuan, tembusan, sifat, urgensi, klasifikasi."""

from __future__ import annotations

import re
from dataclasses import dataclass

from suratbot.workflow.machine import Refusal

SIFAT = ("Biasa", "Terbatas", "Rahasia", "Sangat Rahasia")
URGENSI = ("Biasa", "Segera", "Sangat Segera")
SECRET_SIFAT = frozenset({"Rahasia", "Sangat Rahasia"})
# Kode klasifikasi arsip (Permendagri 83/2022): three digits, then dotted numeric parts, e.g. 500.16, 000.1.2.3
KLASIFIKASI_RE = re.compile(r"[0-9]{3}(\.[0-9]{1,3}){0,4}")
MAX_TEXT = 1000


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(value: str | None) -> str:
    """Text as people typed it, minus control characters (NUL and the like) that no database should keep."""
    return _CONTROL_RE.sub("", (value or "").replace("\r\n", "\n").replace("\r", "\n"))


def clean_note(value: str | None) -> str | None:
    """A note (revision reason, return reason, cancel reason): cleaned and trimmed, None when empty."""
    text = clean_text(value).strip()
    return text or None


def normalise_choice(value: str, choices: tuple[str, ...]) -> str | None:
    """`sangat  segera` -> `Sangat Segera`; None when it is not one of `choices`."""
    folded = " ".join(value.split()).casefold()
    for choice in choices:
        if choice.casefold() == folded:
            return choice
    return None


def check_klasifikasi(value: str) -> str:
    code = value.strip()
    if not KLASIFIKASI_RE.fullmatch(code):
        raise Refusal(
            "klasifikasi_salah",
            f"Kode klasifikasi \u201c{value.strip()}\u201d tidak sesuai format (contoh: 500.16 atau 000.1.2.3).",
        )
    return code


@dataclass(frozen=True)
class LetterMeta:
    perihal: str
    tujuan: str
    sifat: str
    urgensi: str
    klasifikasi: str
    tembusan: str | None = None

    def validated(self) -> LetterMeta:
        """A normalised copy, or Refusal naming the field that is wrong (in Indonesian)."""
        perihal = " ".join(clean_text(self.perihal).split())
        tujuan = " ".join(clean_text(self.tujuan).split())
        if not perihal:
            raise Refusal("perihal_kosong", "Perihal surat wajib diisi.")
        if not tujuan:
            raise Refusal("tujuan_kosong", "Tujuan surat wajib diisi.")
        tembusan = " ".join(clean_text(self.tembusan).split()) or None
        for label, text in (("Perihal", perihal), ("Tujuan", tujuan), ("Tembusan", tembusan or "")):
            if len(text) > MAX_TEXT:
                raise Refusal("teks_terlalu_panjang", f"{label} terlalu panjang (paling banyak {MAX_TEXT} huruf).")
        sifat = normalise_choice(self.sifat, SIFAT)
        if sifat is None:
            raise Refusal("sifat_salah", f"Sifat surat harus salah satu dari: {', '.join(SIFAT)}.")
        urgensi = normalise_choice(self.urgensi, URGENSI)
        if urgensi is None:
            raise Refusal("urgensi_salah", f"Tingkat urgensi harus salah satu dari: {', '.join(URGENSI)}.")
        return LetterMeta(
            perihal=perihal,
            tujuan=tujuan,
            sifat=sifat,
            urgensi=urgensi,
            klasifikasi=check_klasifikasi(clean_text(self.klasifikasi)),
            tembusan=tembusan,
        )

    @property
    def secret(self) -> bool:
        return self.sifat in SECRET_SIFAT


CAPTION_FIELDS = ("perihal", "tujuan", "tembusan", "sifat", "urgensi", "klasifikasi")
_CAPTION_RE = re.compile(r"(?i)\b(perihal|tujuan|tembusan|sifat|urgensi|klasifikasi)\s*:")


def parse_caption(caption: str | None) -> dict[str, str]:
    """The metadata a drafter wrote in one line with the file, `Perihal: …; Tujuan: …; Sifat: Biasa; …`.

    Field names in any case; values run to the next field name (a `;` or a line break before it is dropped), so a
    value may itself hold a `;`. Unknown text is ignored; a field given twice keeps its last value."""
    text = clean_text(caption)
    found: dict[str, str] = {}
    matches = list(_CAPTION_RE.finditer(text))
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        value = " ".join(text[match.end() : end].split()).strip(" ;,")
        if value:
            found[match.group(1).lower()] = value
    return found
