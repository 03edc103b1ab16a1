"""`suratbot demo --channel whatsapp`: the whole SOP on the fake WhatsApp Cloud API, signed on the signing page,
run through the command line into a folder; what it leaves there is checked as a recipient's office would."""

from __future__ import annotations

import asyncio
import csv
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from suratbot.bot.demo import DEMO_PASSPHRASE, _start_moment
from suratbot.services.office import Office
from suratbot.services.verification import LetterVerification, verify_letter
from suratbot.workflow.sop import load_sop
from tests.test_cli import DEMO_ACTIONS, Cli


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys)


async def _verify(pdf: Path, out_dir: Path) -> LetterVerification:
    office = Office.open(load_sop(), f"sqlite+aiosqlite:///{out_dir / 'suratbot.db'}", out_dir / "data")
    try:
        return await verify_letter(office, pdf.read_bytes())
    finally:
        await office.close()


def test_demo_on_whatsapp_runs_the_whole_sop_and_signs_on_the_page(cli: Cli) -> None:
    out_dir = cli.tmp / "demo-wa"
    year = _start_moment(load_sop(), datetime.now(UTC)).year
    nomor = f"500.16/1/DPMPTSP/{year}"

    result = cli("demo", "--channel", "whatsapp", "--out", out_dir)

    assert result.code == 0, result.err
    transcript = result.out
    assert "WhatsApp Cloud API tiruan" in transcript and "aplikasi web suratbot (uvicorn)" in transcript
    assert f"tahap Terkirim; nomor {nomor}" in transcript
    # Kepala Dinas signs on the signing page: what the page showed, the typo it answered, the result.
    assert "/tandatangan/<token sekali pakai>" in transcript
    assert "Halaman “Tanda tangan surat” menampilkan:" in transcript
    assert f"      Nomor: {nomor}" in transcript
    assert "Kata sandi (passphrase) salah. Surat belum ditandatangani. Sisa percobaan: 2." in transcript
    assert f"Halaman menjawab: Surat Nomor {nomor} sudah ditandatangani secara elektronik" in transcript
    assert "tidak pernah lewat obrolan WhatsApp" in transcript
    assert "Pesan WhatsApp yang memuat kata sandi: 0" in transcript
    assert "Satu tautan hanya untuk satu kali" in transcript  # the link, opened again after signing
    # The chats as on each phone: the refusals, the buttons pressed, no passphrase and no link token anywhere.
    chats = transcript.split("== Obrolan setiap orang", 1)[1]
    assert "Tombol ini tidak berlaku lagi" in chats
    assert "Dokumen Word ini rusak" in chats
    assert "Anda tidak berwenang melakukan aksi ini" in chats
    for pressed in ("Setujui)", "Revisi)", "Beri Nomor)", "Tandatangani)", "Kirim)", "SRIKANDI)"):
        assert pressed in chats
    assert "lewat halaman tanda tangan" in chats  # the signed letter, back in the Kepala's chat
    assert DEMO_PASSPHRASE not in chats and "salah-ketik" not in chats
    assert "rahasia-aplikasi-demo" not in transcript and "token-uji" not in transcript
    assert re.search(r"/tandatangan/[A-Za-z0-9_-]{16,}", transcript) is None  # the link's token is never shown

    # The folder holds what the Telegram demo leaves: the signed letter, its archive copy, the audit log, the DB.
    for name in ("surat-ditandatangani.pdf", "surat-arsip-paraf.pdf", "jejak-audit.csv", "suratbot.db"):
        assert (out_dir / name).exists(), name
    with (out_dir / "jejak-audit.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["aksi"] for r in rows] == DEMO_ACTIONS
    assert rows[3]["catatan"] == "Tambahkan jam dan tempat rapat pada paragraf kedua."  # the revision round
    assert (rows[-1]["ke"], rows[-1]["catatan"]) == ("terkirim", "Agenda SRIKANDI 2026-0142")
    with sqlite3.connect(out_dir / "suratbot.db") as conn:
        [(state, stored_nomor)] = conn.execute("select state, nomor from letters").fetchall()
    assert (state, stored_nomor) == ("terkirim", nomor)

    # The signed PDF verifies against the demo's office (its CA, its register of sent letters).
    verified = asyncio.run(_verify(out_dir / "surat-ditandatangani.pdf", out_dir))
    assert verified.ok, verified
    assert verified.nomor == nomor and not verified.archival
    assert len(verified.verification.signatures) == 1
