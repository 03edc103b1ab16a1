"""Tests for the `suratbot` command line, driven in-process through `main([...])` (plus one real console script run).

`main` calls asyncio.run itself, so these are plain synchronous tests.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from suratbot.bot.cli import main
from suratbot.bot.demo import _start_moment
from suratbot.workflow.sop import DEFAULT_SOP_RESOURCE, load_sop
from tests.conftest import empty_postgres

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_ROSTER = ROOT / "suratbot" / "data" / "roster_contoh.csv"
SHIPPED_SOP = ROOT / "suratbot" / "workflow" / DEFAULT_SOP_RESOURCE
# Settings that would change what the commands do, were they set in the environment running the tests.
SETTINGS_ENV = (
    "SIGNING_BACKEND",
    "PKCS11_MODULE",
    "PKCS11_TOKEN_LABEL",
    "BSRE_URL",
    "BSRE_CLIENT_ID",
    "BSRE_CLIENT_SECRET",
    "TSA_URL",
    "SIGNATURE_LEVEL",
    "FETCH_REVOCATION",
    "PARAF_ON_OUTGOING",
    "SIGNATURE_FOOTER",
    "NUMBER_BOX",
    "WEBHOOK_URL",
    "TELEGRAM_WEBHOOK_SECRET",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_SENDER",
    "SMTP_STARTTLS",
    "DATE_BOX",
    "DATABASE_URL",
    "DATA_DIR",
    "TIMEZONE",
    "SOP_FILE",
    "PUBLIC_URL",
    "WEB_PORT",
    "TELEGRAM_BOT_TOKEN",
    "WHATSAPP_ACCESS_TOKEN",
)
DEMO_ACTIONS = [
    "buat",
    "ajukan",
    "setujui",
    "revisi",
    "ajukan_ulang",
    "setujui",
    "beri_nomor",
    "tte_kata_sandi_salah",  # a mistyped passphrase is recorded (never the passphrase itself)
    "tandatangani",
    "kirim",
]


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Runs `suratbot ARGS` in this process against a SQLite file under tmp_path."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp = tmp_path
        self.db = tmp_path / "x.db"
        self._monkeypatch = monkeypatch
        self._capsys = capsys
        for name in SETTINGS_ENV:
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)  # no .env of the developer's is read
        self.use_database(f"sqlite+aiosqlite:///{self.db}")
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))

    def use_database(self, url: str) -> None:
        self._monkeypatch.setenv("DATABASE_URL", url)

    def setenv(self, name: str, value: str) -> None:
        self._monkeypatch.setenv(name, value)

    def __call__(self, *args: str | Path) -> Result:
        self._capsys.readouterr()
        code = main([str(a) for a in args])
        captured = self._capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys)


@pytest.fixture
def migrated(cli: Cli) -> Cli:
    assert cli("db", "upgrade").code == 0
    return cli


def example_roster() -> str:
    return resources.files("suratbot.data").joinpath("roster_contoh.csv").read_text("utf-8")


# --- db ----------------------------------------------------------------------------------------------------


def test_db_upgrade_then_current(cli: Cli) -> None:
    before = cli("db", "current")
    assert before.code == 1
    assert "belum ada" in before.out
    assert "suratbot db upgrade" in before.out

    up = cli("db", "upgrade")
    assert up.code == 0, up.err
    match = re.search(r"Skema basis data mutakhir \(versi (\w+)\)", up.out)
    assert match, up.out
    version = match.group(1)
    assert str(cli.db) in up.out
    assert cli.db.exists()

    current = cli("db", "current")
    assert current.code == 0, current.err
    assert current.out.strip() == f"Versi skema: {version} — mutakhir."

    again = cli("db", "upgrade")  # upgrading an up-to-date database is harmless
    assert again.code == 0
    assert cli("db", "current").out == current.out


@pytest.mark.parametrize("command", [("staff", "import", EXAMPLE_ROSTER), ("staff", "list"), ("letter", "abc")])
def test_commands_before_db_upgrade_say_to_run_it(cli: Cli, command: tuple[str, ...]) -> None:
    result = cli(*command)
    assert result.code == 1
    assert "jalankan `suratbot db upgrade`" in result.err
    assert result.out == ""


# --- staff -------------------------------------------------------------------------------------------------


def test_staff_import_of_the_example_roster(migrated: Cli) -> None:
    result = migrated("staff", "import", EXAMPLE_ROSTER)
    assert result.code == 0, result.err
    assert (
        result.out.strip() == "Impor selesai: 11 pegawai baru, 0 diperbarui, 0 tidak berubah, 0 dinonaktifkan, 7 unit."
    )
    assert result.err == ""

    again = migrated("staff", "import", EXAMPLE_ROSTER)
    assert again.code == 0
    assert (
        again.out.strip() == "Impor selesai: 0 pegawai baru, 0 diperbarui, 11 tidak berubah, 0 dinonaktifkan, 7 unit."
    )


def test_staff_import_reports_people_no_longer_in_the_file(migrated: Cli) -> None:
    assert migrated("staff", "import", EXAMPLE_ROSTER).code == 0
    lines = example_roster().splitlines()
    fewer = migrated.write("fewer.csv", "\n".join(lines[:-1]) + "\n")  # without Fajar Nugraha
    result = migrated("staff", "import", fewer)
    assert result.code == 0
    assert "1 dinonaktifkan" in result.out
    assert "199603032020121011" in result.out


def test_staff_import_of_a_bad_csv_lists_every_problem_and_imports_nothing(migrated: Cli) -> None:
    lines = example_roster().splitlines()
    bad = migrated.write(
        "buruk.csv",
        "\n".join(
            [
                *lines[:3],  # header, lines 2-3
                "199001012015031100,Budi,Staf,Sekretariat,konseptor,12345",  # 4: bad phone
                *lines[3:6],  # 5-7
                "199001012015031101,Cecep,Staf,Sekretariat,kepala_bidang,081230000001",  # 8: unknown role
                "19900101201503110X,Dadang,Staf,Sekretariat,konseptor,081230000002",  # 9: NIP with letters
                "199001012015031103,Euis,Staf,Sekretariat",  # 10: columns missing
                *lines[6:],  # 11-15
            ]
        )
        + "\n",
    )
    result = migrated("staff", "import", bad)
    assert result.code == 1
    assert result.out == ""
    assert f"Tidak ada yang diimpor: 4 masalah di {bad}:" in result.err
    problem_lines = [line.strip() for line in result.err.splitlines()[1:]]
    assert re.findall(r"^  baris (\d+): ", result.err, re.MULTILINE) == ["4", "8", "9", "10"]
    assert "“12345” tidak valid" in problem_lines[0]
    assert "kepala_bidang" in problem_lines[1]
    assert "19900101201503110X" in problem_lines[2]
    assert "jumlah kolom 4, seharusnya 6" in problem_lines[3]

    listing = migrated("staff", "list")
    assert listing.code == 0
    assert listing.out.strip() == "0 pegawai."


def test_staff_import_of_a_file_missing_a_column_names_it(migrated: Cli) -> None:
    rows = [",".join(line.split(",")[:5]) for line in example_roster().splitlines()]
    result = migrated("staff", "import", migrated.write("tanpa-telepon.csv", "\n".join(rows) + "\n"))
    assert result.code == 1
    assert "baris 1: kolom hilang: telepon" in result.err


def test_staff_import_of_an_empty_file(migrated: Cli) -> None:
    result = migrated("staff", "import", migrated.write("kosong.csv", ""))
    assert result.code == 1
    assert "berkas kosong" in result.err


def test_staff_import_of_a_missing_file(migrated: Cli) -> None:
    missing = migrated.tmp / "tidak-ada.csv"
    result = migrated("staff", "import", missing)
    assert result.code == 1
    assert result.out == ""
    assert result.err == f"Berkas {missing} tidak ditemukan.\n"
    assert "Traceback" not in result.err


def test_staff_import_of_a_file_that_is_not_utf8(migrated: Cli) -> None:
    latin1 = example_roster().replace("Dedi Kurniawan", "Dédi Kurniawan").encode("latin-1")
    result = migrated("staff", "import", migrated.write("latin1.csv", latin1))
    assert result.code == 1
    assert "bukan teks UTF-8" in result.err


def test_staff_import_accepts_a_utf8_bom(migrated: Cli) -> None:
    path = migrated.write("bom.csv", "\ufeff" + example_roster())
    result = migrated("staff", "import", path)
    assert result.code == 0, result.err
    assert "11 pegawai baru" in result.out


def test_staff_list(migrated: Cli) -> None:
    assert migrated("staff", "import", EXAMPLE_ROSTER).code == 0
    result = migrated("staff", "list")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[-1] == "11 pegawai."
    assert len(lines) == 12
    yusuf = next(line for line in lines if "Yusuf Maulana" in line)
    assert yusuf.startswith("198806182010011005")
    assert "Sekretariat / Subbagian Umum dan Kepegawaian" in yusuf
    assert "admin;pengelola" in yusuf
    assert yusuf.endswith("+6281220000005")
    assert all(re.search(r"\+62\d{9,12}$", line) for line in lines[:-1])


# --- sop ---------------------------------------------------------------------------------------------------


def test_sop_check_of_the_shipped_sop(cli: Cli) -> None:
    result = cli("sop", "check")
    assert result.code == 0, result.err
    assert "SOP 1.2.12 Pengelolaan Surat Keluar Secara Elektronik" in result.out
    assert ": sah." in result.out
    assert re.search(r"penomoran\s+Penomoran\s+pemegang: Pengelola Surat\s+10 menit", result.out)
    assert re.search(r"tanda_tangan\s+Tanda tangan\s+pemegang: Kepala Dinas\s+tanpa standar waktu", result.out)
    assert "nomor: {klasifikasi}/{urut}/{unit}/{tahun} (unit DPMPTSP)" in result.out

    named = cli("sop", "check", SHIPPED_SOP)
    assert named.code == 0
    assert str(SHIPPED_SOP) in named.out


def broken_sop(replace: str, by: str) -> str:
    shipped = SHIPPED_SOP.read_text("utf-8")
    assert shipped.count(replace) == 1
    return shipped.replace(replace, by)


@pytest.mark.parametrize(
    ("replace", "by", "key"),
    [
        ("standard_minutes = 10", "standard_minutes = 0", "states.penomoran.standard_minutes"),
        ("standard_minutes = 10", 'standard_minutes = "sepuluh"', "states.penomoran.standard_minutes"),
        ("standard_minutes = 10", "standard_minute = 10", "states.penomoran.standard_minute"),
        ('holder = "role:kepala"', 'holder = "role:bupati"', "states.tanda_tangan.holder"),
        ('format = "{klasifikasi}/{urut}/{unit}/{tahun}"', 'format = "{klasifikasi}/{unit}"', "numbering.format"),
        ('code = "1.2.12"', 'code = "1.2.12', "<toml>"),
    ],
    ids=["zero-minutes", "text-minutes", "unknown-key", "unknown-role", "no-serial", "not-toml"],
)
def test_sop_check_of_a_broken_file_names_the_key(cli: Cli, replace: str, by: str, key: str) -> None:
    path = cli.write("sop-rusak.toml", broken_sop(replace, by))
    result = cli("sop", "check", path)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"Berkas SOP tidak valid — {key}: ")
    assert "Traceback" not in result.err


def test_sop_check_of_a_missing_file(cli: Cli) -> None:
    result = cli("sop", "check", cli.tmp / "tidak-ada.toml")
    assert result.code == 1
    assert "Berkas SOP tidak valid — <file>:" in result.err


def test_sop_file_setting_is_used_and_a_broken_one_stops_every_command(cli: Cli) -> None:
    path = cli.write("sop-rusak.toml", broken_sop("standard_minutes = 10", "standard_minutes = -1"))
    cli.setenv("SOP_FILE", str(path))
    for command in (("sop", "check"), ("db", "upgrade"), ("staff", "list")):
        result = cli(*command)
        assert result.code == 1, command
        assert "states.penomoran.standard_minutes" in result.err


def test_invalid_setting_is_a_usage_error(cli: Cli) -> None:
    cli.setenv("TIMEZONE", "Mars/Olympus")
    result = cli("sop", "check")
    assert result.code == 2
    assert result.err.startswith("Pengaturan tidak valid")


def test_unknown_command_is_an_argparse_usage_error(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["terbang"])
    assert excinfo.value.code == 2
    with pytest.raises(SystemExit) as excinfo:
        main([])
    assert excinfo.value.code == 2
    assert "usage: suratbot" in capsys.readouterr().err


# --- letter ------------------------------------------------------------------------------------------------


def test_letter_with_an_unknown_id(migrated: Cli) -> None:
    result = migrated("letter", "tidak-ada-123")
    assert result.code == 1
    assert result.err.strip() == "Surat tidak-ada-123 tidak ditemukan."
    assert result.out == ""


def test_letter_ids_never_begin_with_a_dash() -> None:
    # A leading "-" would make `suratbot letter ID` read the id as an option.
    from suratbot.storage.models import new_letter_id

    ids = {new_letter_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(i[0].isalnum() and len(i) == 22 for i in ids)


# --- demo --------------------------------------------------------------------------------------------------


def test_demo_runs_the_whole_sop(cli: Cli) -> None:
    out_dir = cli.tmp / "demo"
    year = _start_moment(load_sop(), datetime.now(UTC)).year  # the demo's letter is dated its next working day
    nomor = f"500.16/1/DPMPTSP/{year}"

    result = cli("demo", "--out", out_dir)

    assert result.code == 0, result.err
    transcript = result.out
    assert "python-telegram-bot" in transcript and "server Bot API tiruan" in transcript
    assert f"tahap Terkirim; nomor {nomor}" in transcript
    assert f"Buku nomor: {nomor} (aktif)" in transcript
    assert "Daftar pegawai contoh: Impor selesai: 11 pegawai baru" in transcript
    # Each person's chat is shown as on their phone, refused attempts with the reason each was refused.
    for person in ("Rizki Ramadhan", "Lina Herlina", "Ir. Bambang Hermawan", "Yusuf Maulana", "Dr. H. Asep Suryana"):
        assert f"--- {person} (" in transcript
    assert "Tombol ini tidak berlaku lagi" in transcript  # an old Setujui button pressed again
    assert "Dokumen Word ini rusak" in transcript
    assert "Anda tidak berwenang melakukan aksi ini" in transcript  # someone of another unit
    assert "Kata sandi (passphrase) salah. Surat belum ditandatangani. Sisa percobaan: 2." in transcript
    assert "  SAH: dokumen ini surat yang ditandatangani kantor ini" in transcript
    # The buttons people pressed carry the contract's words.
    for caption in ("Setujui)", "Revisi)", "Beri Nomor)", "Tandatangani)", "Kirim)"):
        assert "(tekan " in transcript and caption in transcript
    # The passphrase never stays in a chat: both messages that held one were deleted by the bot.
    chats = transcript.split("== Obrolan setiap orang", 1)[1]
    assert "demo-tte-sumedang" not in chats and "salah-ketik" not in chats
    assert chats.count("> [pesan dihapus oleh bot]") == 2

    audit = out_dir / "jejak-audit.csv"
    assert audit.exists()
    with audit.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["aksi"] for r in rows] == DEMO_ACTIONS  # refused attempts leave no audit event
    assert rows[3]["catatan"] == "Tambahkan jam dan tempat rapat pada paragraf kedua."
    assert (rows[-1]["ke"], rows[-1]["catatan"]) == ("terkirim", "Agenda SRIKANDI 2026-0142")
    assert "demo-tte-sumedang" not in audit.read_text(encoding="utf-8")
    # The signed letter it leaves verifies with the command a recipient's office would use.
    cli.use_database(f"sqlite+aiosqlite:///{out_dir / 'suratbot.db'}")
    cli.setenv("DATA_DIR", str(out_dir / "data"))
    verified = cli("verify", out_dir / "surat-ditandatangani.pdf")
    assert verified.code == 0 and verified.out.startswith("SAH"), verified.out + verified.err
    assert rows[4]["versi_sha256"] != rows[3]["versi_sha256"]  # the revision is a new file version
    assert all(datetime.fromisoformat(r["waktu"]).tzinfo is not None for r in rows)
    times = [datetime.fromisoformat(r["waktu"]) for r in rows]
    assert times == sorted(times)
    assert (out_dir / "suratbot.db").exists()

    # The demo's database is an ordinary one: `suratbot letter ID` shows the letter and its record.
    with sqlite3.connect(out_dir / "suratbot.db") as conn:
        [(letter_id,)] = conn.execute("select id from letters").fetchall()
    cli.use_database(f"sqlite+aiosqlite:///{out_dir / 'suratbot.db'}")
    shown = cli("letter", "--", letter_id)  # "--": an id may begin with "-" (older ids could)
    assert shown.code == 0, shown.err
    assert f"Surat {letter_id}: Undangan Rapat Koordinasi" in shown.out
    assert f"nomor {nomor}; tahap Terkirim" in shown.out
    assert re.findall(r"([a-z_]+)\s+(?:-|[a-z_0-9]+) → ", shown.out) == DEMO_ACTIONS

    # Run again into the same folder: the old output is replaced, the story is the same.
    again = cli("demo", "--out", out_dir)
    assert again.code == 0
    assert f"Buku nomor: {nomor} (aktif)" in again.out


def test_demo_refuses_to_wipe_a_folder_that_is_not_demo_output(cli: Cli) -> None:
    folder = cli.tmp / "dokumen"
    folder.mkdir()
    precious = folder / "surat-penting.txt"
    precious.write_text("jangan dihapus", encoding="utf-8")
    result = cli("demo", "--out", folder)
    assert precious.exists()
    assert result.code == 1


# --- the installed console script --------------------------------------------------------------------------


def test_installed_console_script_runs_sop_check(tmp_path: Path) -> None:
    script = ROOT / ".venv" / "bin" / "suratbot"
    if not script.exists():
        script = Path(sys.executable).with_name("suratbot")
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_ENV}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    completed = subprocess.run(
        [str(script), "sop", "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert "SOP 1.2.12" in completed.stdout
    assert ": sah." in completed.stdout


# --- PostgreSQL --------------------------------------------------------------------------------------------


def _truncate(url: str) -> None:
    asyncio.run(empty_postgres(url))


@pytest.mark.postgres
def test_cli_on_postgresql(cli: Cli, postgres_database: str) -> None:
    _truncate(postgres_database)  # the per-run database is shared with other tests
    cli.use_database(postgres_database)
    try:
        up = cli("db", "upgrade")
        assert up.code == 0, up.err
        assert "postgresql+asyncpg://" in up.out
        assert postgres_database.rsplit("/", 1)[1] in up.out
        current = cli("db", "current")
        assert current.code == 0
        assert current.out.strip().endswith("— mutakhir.")

        imported = cli("staff", "import", EXAMPLE_ROSTER)
        assert imported.code == 0, imported.err
        assert (
            imported.out.strip()
            == "Impor selesai: 11 pegawai baru, 0 diperbarui, 0 tidak berubah, 0 dinonaktifkan, 7 unit."
        )
        again = cli("staff", "import", EXAMPLE_ROSTER)
        assert "11 tidak berubah" in again.out

        listing = cli("staff", "list")
        assert listing.code == 0
        assert listing.out.splitlines()[-1] == "11 pegawai."

        bad = cli("staff", "import", cli.write("buruk.csv", example_roster() + "123,,,,,\n"))
        assert bad.code == 1
        assert "baris 13:" in bad.err
        assert cli("staff", "list").out.splitlines()[-1] == "11 pegawai."
    finally:
        _truncate(postgres_database)


# --- keys and verify ---------------------------------------------------------------------------------------


def test_keys_demo_and_verify(migrated: Cli) -> None:
    assert migrated("keys", "demo").code == 1  # no roster yet: nobody to make a key for
    assert migrated("staff", "import", EXAMPLE_ROSTER).code == 0
    made = migrated("keys", "demo")
    assert made.code == 0, made.err
    assert "DITAMPILKAN SEKALI INI SAJA" in made.out
    assert (migrated.tmp / "data" / "keys" / "signers" / "197001012000031001.p12").exists()
    again = migrated("keys", "demo", "--passphrase", "kunci-baru-2026")
    assert again.code == 1 and "--ganti" in again.err
    replaced = migrated("keys", "demo", "--passphrase", "kunci-baru-2026", "--ganti")
    assert replaced.code == 0 and "kunci-baru-2026" not in replaced.out  # a given passphrase is never echoed

    unsigned = migrated.write("konsep.pdf", "")
    unsigned.write_bytes((ROOT / "tests" / "__init__.py").read_bytes())  # not even a PDF
    checked = migrated("verify", unsigned)
    assert checked.code == 1 and checked.out.startswith("TIDAK SAH")
    english = migrated("verify", unsigned, "--english")
    assert english.code == 1 and english.out.startswith("NOT VALID")
    missing = migrated("verify", migrated.tmp / "tidak-ada.pdf")
    assert missing.code == 1 and "tidak ditemukan" in missing.err


def test_keys_import_installs_a_real_key_for_the_right_person_only(
    migrated: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    from suratbot.bot import cli as cli_module
    from suratbot.signing.keys import SignerProfile, create_demo_ca, issue_signer

    assert migrated("staff", "import", EXAMPLE_ROSTER).code == 0
    now = datetime.now(UTC) - timedelta(days=1)
    other_ca = create_demo_ca("BSrE Uji", now=now)
    asep = issue_signer(
        other_ca,
        SignerProfile("Dr. H. Asep Suryana, M.Si.", "Kepala Dinas", "3211000000000001", "BSrE"),
        "benar-sekali",
        now=now,
    )
    rina = issue_signer(
        other_ca, SignerProfile("Hj. Rina Marlina", "Sekretaris", "3211000000000002", "BSrE"), "benar-sekali", now=now
    )
    asep_file = migrated.tmp / "asep.p12"
    asep_file.write_bytes(asep)
    rina_file = migrated.tmp / "rina.p12"
    rina_file.write_bytes(rina)
    answers = iter(["salah", "benar-sekali", "benar-sekali", "benar-sekali"])
    monkeypatch.setattr(cli_module, "ask_passphrase", lambda prompt: next(answers))

    wrong = migrated("keys", "import", "197001012000031001", asep_file)
    assert wrong.code == 1 and "Kata sandi (passphrase) salah" in wrong.err
    someone_else = migrated("keys", "import", "197001012000031001", rina_file)
    assert someone_else.code == 1 and "bukan Dr. H. Asep Suryana" in someone_else.err
    installed = migrated("keys", "import", "197001012000031001", asep_file)
    assert installed.code == 0, installed.err
    assert "PERHATIAN: CA penerbitnya belum ada" in installed.out  # BSrE's CA is not in keys/trust yet
    assert (migrated.tmp / "data" / "keys" / "signers" / "197001012000031001.p12").read_bytes() == asep
    again = migrated("keys", "import", "197001012000031001", asep_file)
    assert again.code == 1 and "--ganti" in again.err
    stranger = migrated("keys", "import", "123456789012345678", asep_file)
    assert stranger.code == 1 and "Tidak ada pegawai aktif" in stranger.err


def test_keys_status_and_demo_keys_on_a_pkcs11_token(
    migrated: Cli, monkeypatch: pytest.MonkeyPatch, softhsm: tuple[str, str]
) -> None:
    from suratbot.bot import cli as cli_module
    from tests.conftest import SOFTHSM_USER_PIN

    assert migrated("staff", "import", EXAMPLE_ROSTER).code == 0
    missing = migrated("keys", "status")
    assert missing.code == 1 and "BELUM SIAP" in missing.out and "berkas PKCS#12" in missing.out
    assert migrated("keys", "demo", "--passphrase", "kunci-demo-2026").code == 0
    ready = migrated("keys", "status")
    assert ready.code == 0 and "Dr. H. Asep Suryana (NIP 197001012000031001): siap" in ready.out

    migrated.setenv("SIGNING_BACKEND", "pkcs11")
    incomplete = migrated("keys", "status")
    assert incomplete.code == 2 and "PKCS11_MODULE" in incomplete.err
    migrated.setenv("PKCS11_MODULE", softhsm[0])
    migrated.setenv("PKCS11_TOKEN_LABEL", softhsm[1])
    monkeypatch.setattr(cli_module, "ask_passphrase", lambda prompt: SOFTHSM_USER_PIN)
    made = migrated("keys", "demo", "--passphrase", "kunci-demo-2026", "--ganti")
    assert made.code == 0, made.err
    assert "juga dipasang di token suratbot-uji (label 197001012000031001)" in made.out
    on_token = migrated("keys", "status")
    assert on_token.code == 0, on_token.out
    assert "token PKCS#11" in on_token.out and "sertifikat di token berlaku sampai" in on_token.out


# --- plh ---------------------------------------------------------------------------------------------------


def test_plh_set_list_end(migrated: Cli, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(example_roster(), "utf-8")
    assert migrated("staff", "import", str(roster)).code == 0
    assert "Tidak ada masa Plh/Plt" in migrated("plh", "list").out
    kabid, agus = "197808082003121006", "197912122006041009"
    made = migrated("plh", "set", kabid, agus, "--sampai", "31-12-2099")
    assert made.code == 1 and "satu tahun" in made.err  # refused: too long, nothing made
    made = migrated("plh", "set", kabid, agus, "--mulai", "01-01-2099", "--sampai", "05-01-2099", "--plt")
    assert made.code == 0, made.err
    assert "Agus Setiawan" in made.out and "menjadi Plt Kepala Bidang Pelayanan Perizinan" in made.out
    listed = migrated("plh", "list").out
    assert "Plt Kepala Bidang Pelayanan Perizinan (Ir. Bambang Hermawan): Agus Setiawan" in listed
    assert "akan datang" in listed
    again = migrated("plh", "set", kabid, "Sekretaris Tidak Ada", "--sampai", "03-01-2099")
    assert again.code == 1 and "Tidak ada pegawai aktif" in again.err
    ended = migrated("plh", "end", kabid)
    assert ended.code == 0 and "diakhiri" in ended.out
    assert "Tidak ada masa Plh/Plt" in migrated("plh", "list").out
    assert migrated("plh", "end", kabid).code == 1


# --- report ------------------------------------------------------------------------------------------------


def test_report_of_the_demo_month_and_of_an_empty_one(cli: Cli) -> None:
    from openpyxl import load_workbook
    from PIL import Image

    out_dir = cli.tmp / "demo"
    assert cli("demo", "--out", out_dir).code == 0
    start = _start_moment(load_sop(), datetime.now(UTC))
    month = f"{start.year}-{start.month:02d}"
    cli.use_database(f"sqlite+aiosqlite:///{out_dir / 'suratbot.db'}")
    cli.setenv("DATA_DIR", str(out_dir / "data"))
    folder = cli.tmp / "laporan"
    made = cli("report", "--month", month, "--out", folder)
    assert made.code == 0, made.err
    assert "nomor surat keluar" in made.out and "Verifikasi 1" in made.out
    chart = folder / f"kepatuhan-{month}.png"
    assert Image.open(chart).format == "PNG"
    book = load_workbook(folder / f"buku-agenda-{month}.xlsx")
    [row] = list(book["Buku Agenda"].iter_rows(min_row=3, values_only=True))
    assert row[1] == f"500.16/1/DPMPTSP/{start.year}" and row[-1] == "Terkirim"
    assert (folder / f"buku-agenda-{month}.csv").read_text("utf-8-sig").count("\n") == 2

    empty = cli("report", "--month", "2001-01", "--out", cli.tmp / "kosong")
    assert empty.code == 0 and "Belum ada surat yang diproses pada Januari 2001" in empty.out
    assert not (cli.tmp / "kosong").exists()
    assert cli("report", "--month", "2001-13", "--out", folder).code == 2
