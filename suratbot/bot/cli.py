"""The `suratbot` command line: database migrations, roster import, SOP check, letter records and the demo."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from suratbot.bot.config import Settings
from suratbot.services.notices import local_time
from suratbot.services.office import Office
from suratbot.services.roster import RosterError, import_roster
from suratbot.storage import db
from suratbot.storage.models import AuditEvent, Letter, Staff
from suratbot.workflow.sop import HolderSpec, Sop, SopConfigError, load_sop

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="suratbot",
        description="Bot surat keluar (SOP pengelolaan surat keluar secara elektronik).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="PERINTAH")

    dbp = sub.add_parser("db", help="basis data: migrasi skema")
    dbsub = dbp.add_subparsers(dest="db_command", required=True, metavar="AKSI")
    dbsub.add_parser("upgrade", help="jalankan migrasi Alembic sampai versi terbaru")
    dbsub.add_parser("current", help="tampilkan versi skema basis data")

    staff = sub.add_parser("staff", help="daftar pegawai (roster)")
    staffsub = staff.add_subparsers(dest="staff_command", required=True, metavar="AKSI")
    imp = staffsub.add_parser("import", help="impor CSV nip,nama,jabatan,unit,peran,telepon")
    imp.add_argument("file", type=Path)
    staffsub.add_parser("list", help="tampilkan pegawai, unit dan peran")

    sop = sub.add_parser("sop", help="SOP sebagai data")
    sopsub = sop.add_subparsers(dest="sop_command", required=True, metavar="AKSI")
    check = sopsub.add_parser("check", help="periksa berkas SOP (bawaan bila tidak disebut)")
    check.add_argument("file", type=Path, nargs="?")

    letter = sub.add_parser("letter", help="tampilkan satu surat dan jejak auditnya")
    letter.add_argument("letter_id")

    keys = sub.add_parser("keys", help="kunci tanda tangan elektronik")
    keyssub = keys.add_subparsers(dest="keys_command", required=True, metavar="AKSI")
    keydemo = keyssub.add_parser("demo", help="buat CA demo dan kunci untuk setiap pegawai berperan kepala")
    keydemo.add_argument(
        "--passphrase", help="kata sandi kunci (tanpa ini, dibuatkan yang kuat dan ditampilkan sekali)"
    )
    keydemo.add_argument("--ganti", action="store_true", help="buat ulang bila kunci demo sudah ada")
    keyimport = keyssub.add_parser("import", help="pasang kunci PKCS#12 sungguhan (mis. dari BSrE) untuk satu NIP")
    keyimport.add_argument("nip")
    keyimport.add_argument("file", type=Path)
    keyimport.add_argument("--ganti", action="store_true", help="ganti kunci yang sudah terpasang")
    keyssub.add_parser("status", help="periksa kunci setiap penanda tangan di tempat yang dipakai (berkas/token/BSrE)")

    plh = sub.add_parser("plh", help="pengganti pejabat yang berhalangan (Plh / Plt)")
    plhsub = plh.add_subparsers(dest="plh_command", required=True, metavar="AKSI")
    plhset = plhsub.add_parser("set", help="tunjuk pengganti untuk satu pejabat")
    plhset.add_argument("official", help="NIP (atau nama) pejabat yang digantikan")
    plhset.add_argument("stand_in", help="NIP (atau nama) penggantinya")
    plhset.add_argument("--sampai", required=True, help="hari terakhir, mis. 31-12-2026")
    plhset.add_argument("--mulai", help="hari pertama (bawaan: sekarang)")
    plhset.add_argument("--plt", action="store_true", help="sebagai Plt (bawaan: Plh)")
    plhend = plhsub.add_parser("end", help="akhiri masa Plh/Plt seorang pejabat sekarang")
    plhend.add_argument("official", help="NIP (atau nama) pejabat")
    plhsub.add_parser("list", help="masa Plh/Plt yang berjalan dan yang akan datang")

    report = sub.add_parser("report", help="laporan bulanan: grafik kepatuhan (PNG) dan buku agenda (XLSX, CSV)")
    report.add_argument("--month", required=True, help="bulan, mis. 2026-11")
    report.add_argument("--out", type=Path, required=True, help="folder tujuan berkas laporan")

    verify = sub.add_parser("verify", help="periksa PDF bertanda tangan: sah, utuh, dan surat kantor ini?")
    verify.add_argument("file", type=Path)
    verify.add_argument("--english", action="store_true", help="print the result in English")

    sub.add_parser("run", help="jalankan bot (Telegram: long polling, atau webhook bila WEBHOOK_URL diisi) dan web")

    demo = sub.add_parser("demo", help="jalankan seluruh SOP untuk satu surat di mesin ini")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="folder hasil (default: demo-output)")
    demo.add_argument(
        "--channel",
        choices=("telegram", "whatsapp"),
        default="telegram",
        help="saluran obrolan yang diperagakan (default: telegram; whatsapp: tanda tangan di halaman web)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"Pengaturan tidak valid:\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return asyncio.run(_dispatch(args, settings))
    except SopConfigError as exc:
        print(f"Berkas SOP tidak valid — {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        return EXIT_FAIL


async def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "sop":
        return _sop_check(args.file if args.file else settings.sop_file)
    if args.command == "demo":
        from suratbot.bot.demo import DemoFolderError, run_demo

        try:
            if args.channel == "whatsapp":
                from suratbot.bot.demo_whatsapp import run_whatsapp_demo

                await run_whatsapp_demo(settings.load_sop(), args.out, sys.stdout)
            else:
                await run_demo(settings.load_sop(), args.out, sys.stdout)
        except DemoFolderError as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_FAIL
        return EXIT_OK
    if args.command == "run":
        from suratbot.bot.serve import configure_logging, serve

        configure_logging(settings)
        try:
            return await serve(settings)
        except SopConfigError:
            raise
        except ValueError as exc:
            print(f"Pengaturan tidak lengkap: {exc}", file=sys.stderr)
            return EXIT_USAGE
    try:
        office = settings.open_office()
    except SopConfigError:
        raise  # main() reports a broken SOP file as such
    except ValueError as exc:
        print(f"Pengaturan tanda tangan tidak lengkap: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "db":
            return await _db(office, args.db_command)
        if args.command == "staff":
            if args.staff_command == "import":
                return await _staff_import(office, args.file)
            return await _staff_list(office)
        if args.command == "letter":
            return await _letter(office, args.letter_id)
        if args.command == "keys" and args.keys_command == "import":
            return await _keys_import(office, args.nip, args.file, args.ganti)
        if args.command == "keys" and args.keys_command == "status":
            return await _keys_status(office)
        if args.command == "keys":
            return await _keys_demo(office, args.passphrase, args.ganti)
        if args.command == "verify":
            return await _verify(office, args.file, "en" if args.english else "id")
        if args.command == "plh":
            return await _plh(office, args)
        if args.command == "report":
            return await _report(office, args.month, args.out)
    finally:
        await office.close()
    return EXIT_USAGE  # pragma: no cover - argparse rejects anything else


def _sop_check(path: Path | None) -> int:
    sop = load_sop(path)
    print(f"SOP {sop.code} {sop.name} — {sop.office} ({sop.source}): sah.")
    for state in sop.states.values():
        minutes = f"{state.standard_minutes} menit" if state.standard_minutes else "tanpa standar waktu"
        print(f"  {state.key:<14} {state.name:<18} {_holder_text(sop, state.holder):<28} {minutes}")
    print(f"  format nomor: {sop.numbering.format} (unit {sop.numbering.unit})")
    hours = "24 jam" if sop.calendar.round_the_clock else "jam kerja"
    print(f"  zona waktu {sop.calendar.timezone.key}, dihitung dalam {hours}, {len(sop.calendar.holidays)} hari libur")
    return EXIT_OK


def _holder_text(sop: Sop, holder: HolderSpec | None) -> str:
    if holder is None:
        return "(selesai)"
    if holder.kind == "drafter":
        return "pemegang: konseptor"
    if holder.kind == "verifier":
        return f"pemegang: verifikator {holder.level}"
    assert holder.role is not None
    return f"pemegang: {sop.roles[holder.role].name}"


async def _db(office: Office, action: str) -> int:
    where = db.describe(str(office.engine.url.render_as_string(hide_password=False)))
    if action == "upgrade":
        await db.upgrade(office.engine)
        print(f"Skema basis data mutakhir (versi {db.head_revision()}) di {where['url']}.")
        return EXIT_OK
    current = await db.current_revision(office.engine)
    head = db.head_revision()
    state = "mutakhir" if current == head else f"perlu `suratbot db upgrade` (terbaru: {head})"
    print(f"Versi skema: {current or 'belum ada'} — {state}.")
    return EXIT_OK if current == head else EXIT_FAIL


async def _require_schema(office: Office) -> bool:
    if await db.current_revision(office.engine) != db.head_revision():
        print("Skema basis data belum mutakhir: jalankan `suratbot db upgrade` dahulu.", file=sys.stderr)
        return False
    return True


async def _staff_import(office: Office, path: Path) -> int:
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        print(f"Berkas {path} tidak ditemukan.", file=sys.stderr)
        return EXIT_FAIL
    except OSError:
        print(f"Berkas {path} tidak bisa dibaca (periksa izin aksesnya).", file=sys.stderr)
        return EXIT_FAIL
    except UnicodeDecodeError:
        print(f"{path} bukan teks UTF-8; simpan ulang sebagai CSV UTF-8.", file=sys.stderr)
        return EXIT_FAIL
    if not await _require_schema(office):
        return EXIT_FAIL
    try:
        report = await import_roster(office, text)
    except RosterError as exc:
        print(f"Tidak ada yang diimpor: {len(exc.problems)} masalah di {path}:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_FAIL
    print(report.summary())
    return EXIT_OK


async def _staff_list(office: Office) -> int:
    if not await _require_schema(office):
        return EXIT_FAIL
    async with office.uow() as uow:
        staff = (
            (await uow.session.scalars(select(Staff).options(selectinload(Staff.unit)).order_by(Staff.id)))
            .unique()
            .all()
        )
    for s in staff:
        status = "" if s.active else " (nonaktif)"
        print(
            f"{s.nip}  {s.nama:<28} {s.jabatan:<40} {s.unit.name:<50} {';'.join(sorted(s.roles)):<24} {s.telepon}{status}"
        )
    print(f"{len(staff)} pegawai.")
    return EXIT_OK


async def _letter(office: Office, letter_id: str) -> int:
    if not await _require_schema(office):
        return EXIT_FAIL
    async with office.uow() as uow:
        letter = await uow.session.get(Letter, letter_id)
        if letter is None:
            print(f"Surat {letter_id} tidak ditemukan.", file=sys.stderr)
            return EXIT_FAIL
        events = (
            await uow.session.scalars(
                select(AuditEvent).where(AuditEvent.letter_id == letter_id).order_by(AuditEvent.id)
            )
        ).all()
        names = {s.id: s.nama for s in (await uow.session.scalars(select(Staff))).all()}
    sop = office.sop
    print(f"Surat {letter.id}: {letter.perihal}")
    print(f"  tujuan {letter.tujuan}; sifat {letter.sifat}; urgensi {letter.urgensi}; klasifikasi {letter.klasifikasi}")
    print(
        f"  nomor {letter.nomor or '-'}; tahap {sop.states[letter.state].name}; pemegang {names.get(letter.holder_id or 0, '-')}"
    )
    if letter.step_due_at:
        print(f"  batas tahap ini: {local_time(sop, letter.step_due_at)}")
    for e in events:
        note = f" — {e.note}" if e.note else ""
        who = names.get(e.actor_id or 0, "-")
        if e.on_behalf_of_id and e.actor_id:  # what a stand-in did: "X sebagai Plh Y"
            who = f"{who} (Plh {names.get(e.on_behalf_of_id, '-')})"
        print(f"  {local_time(sop, e.at)}  {who:<24} {e.action:<13} {e.from_state or '-'} → {e.to_state or '-'}{note}")
    return EXIT_OK


async def _keys_demo(office: Office, passphrase: str | None, replace: bool) -> int:
    from suratbot.services.keystore import KeystoreError, install_on_token, make_demo_keys

    if not await _require_schema(office):
        return EXIT_FAIL
    try:
        report = await make_demo_keys(office, passphrase=passphrase, replace=replace)
    except KeystoreError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAIL
    print(f"CA demo dibuat: {report.folder / 'ca.pem'} (kuncinya {report.folder / 'ca-key.pem'}, terenkripsi).")
    for nip, nama, path in report.signers:
        print(f"  kunci {nama} (NIP {nip}): {path}")
    if office.signing.backend == "pkcs11" and report.signers:
        pin = ask_passphrase("PIN token (untuk memasang kunci demo di token): ")
        for nip, nama, path in report.signers:
            try:
                label = await install_on_token(office, nip, path.read_bytes(), report.passphrase, pin, replace=True)
            except KeystoreError as exc:
                print(str(exc), file=sys.stderr)
                return EXIT_FAIL
            print(f"  kunci {nama} juga dipasang di token {label} (label {nip}); saat menandatangani, ketik PIN token.")
    for nip, nama, path in report.kept:
        print(f"  kunci {nama} (NIP {nip}) sudah ada dan tidak diubah: {path} (pakai --ganti untuk menggantinya)")
    if report.generated:
        print(f"Kata sandi (passphrase) semua kunci ini, DITAMPILKAN SEKALI INI SAJA: {report.passphrase}")
    print(
        "Kunci demo hanya untuk uji coba: surat yang ditandatangani dengannya hanya sah bagi kantor ini. "
        "Untuk surat sungguhan, ganti berkas <NIP>.p12 di folder signers dengan sertifikat dari BSrE "
        f"dan letakkan sertifikat CA-nya di {report.folder / 'trust'}."
    )
    return EXIT_OK


def ask_passphrase(prompt: str) -> str:
    """Read a passphrase without echoing it (never from the command line: it would stay in shell history)."""
    return getpass.getpass(prompt)


async def _keys_import(office: Office, nip: str, path: Path, replace: bool) -> int:
    from suratbot.services.keystore import KeystoreError, import_signer_key, import_target, install_on_token

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        print(f"Berkas {path} tidak ditemukan.", file=sys.stderr)
        return EXIT_FAIL
    if not await _require_schema(office):
        return EXIT_FAIL
    try:
        await import_target(office, nip, replace=replace)
        passphrase = ask_passphrase("Kata sandi (passphrase) berkas kunci: ")
        imported = await import_signer_key(office, nip, data, passphrase, replace=replace)
        if office.signing.backend == "pkcs11":  # the key goes on the token; no copy stays on disk
            try:
                label = await install_on_token(
                    office, nip, data, passphrase, ask_passphrase("PIN token: "), replace=replace
                )
            finally:
                imported.path.unlink(missing_ok=True)
            print(f"Kunci dipasang di token {label} dengan label {nip}; berkasnya tidak disimpan di mesin ini.")
            return EXIT_OK
    except KeystoreError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_FAIL
    print(f"Kunci dipasang: {imported.path}")
    print(f"  pemilik: {imported.subject}")
    print(f"  penerbit: {imported.issuer}; berlaku sampai {imported.not_after:%d-%m-%Y}")
    if not imported.issuer_trusted:
        print(
            "  PERHATIAN: CA penerbitnya belum ada di daftar tepercaya kantor ini; letakkan sertifikat CA-nya "
            "(PEM) di folder keys/trust agar `suratbot verify` mengenali tanda tangannya."
        )
    return EXIT_OK


async def _keys_status(office: Office) -> int:
    from suratbot.services.keystore import signer_statuses

    if not await _require_schema(office):
        return EXIT_FAIL
    statuses = await signer_statuses(office)
    where = {"pkcs12": "berkas PKCS#12", "pkcs11": "token PKCS#11", "remote": "layanan TTE (BSrE)"}
    print(f"Tanda tangan memakai {where[office.signing.backend]}, tingkat {office.signing.level}.")
    if not statuses:
        print("Belum ada pegawai aktif dengan peran kepala.")
        return EXIT_FAIL
    for status in statuses:
        mark = "siap" if status.ready else "BELUM SIAP"
        print(f"  {status.nama} (NIP {status.nip}): {mark} — {status.message}")
    return EXIT_OK if all(s.ready for s in statuses) else EXIT_FAIL


async def _verify(office: Office, path: Path, lang: str) -> int:
    from suratbot.services.verification import describe, verify_letter

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        print(f"Berkas {path} tidak ditemukan." if lang == "id" else f"File {path} not found.", file=sys.stderr)
        return EXIT_FAIL
    if not await _require_schema(office):
        return EXIT_FAIL
    result = await verify_letter(office, data)
    print("\n".join(describe(office, result, lang)))
    return EXIT_OK if result.ok else EXIT_FAIL


async def _plh(office: Office, args: argparse.Namespace) -> int:
    """`suratbot plh set|end|list`: the admin names, ends or lists stand-ins."""
    from suratbot.services import stand_ins
    from suratbot.services.notices import indonesian_date, local_time, person
    from suratbot.workflow.machine import Refusal

    if not await _require_schema(office):
        return EXIT_FAIL
    try:
        if args.plh_command == "list":
            found = await stand_ins.periods(office)
            if not found:
                print("Tidak ada masa Plh/Plt yang berjalan atau akan datang.")
            for p in found:
                state = "berjalan" if p.active else "akan datang"
                print(
                    f"{p.title} {p.official.jabatan} ({p.official.nama}): {person(p.stand_in)}, "
                    f"{local_time(office.sop, p.starts_at)} s.d. {indonesian_date(_last_day(office, p.ends_at))} "
                    f"({state})"
                )
            return EXIT_OK
        official = await stand_ins.find_staff(office, args.official)
        if args.plh_command == "end":
            period = await stand_ins.end_early(office, official.id)
            print(f"Masa {period.title} {person(period.stand_in)} untuk {official.nama} diakhiri.")
            return EXIT_OK
        today = office.now().astimezone(office.sop.calendar.timezone).date()
        until = stand_ins.parse_until(args.sampai, today)
        starts = stand_ins.parse_until(args.mulai, today) if args.mulai else None
        stand_in = await stand_ins.find_staff(office, args.stand_in)
        title = "Plt" if args.plt else "Plh"
        period = await stand_ins.appoint(
            office, official.id, stand_in.id, until=until, starts=starts, title=title, by=None
        )
    except Refusal as refusal:
        print(refusal.message, file=sys.stderr)
        return EXIT_FAIL
    state = "mulai sekarang" if period.active else f"mulai {local_time(office.sop, period.starts_at)}"
    print(
        f"{person(stand_in)} menjadi {title} {official.jabatan} ({official.nama}), {state} s.d. {indonesian_date(until)}."
    )
    return EXIT_OK


def _last_day(office: Office, ends_at: datetime) -> date:
    """The last day of a period that ends at midnight (office time)."""
    return (ends_at - timedelta(seconds=1)).astimezone(office.sop.calendar.timezone).date()


async def _report(office: Office, month_text: str, out: Path) -> int:
    """`suratbot report --month YYYY-MM --out DIR`: the chart, the workbook and the register as CSV."""
    from suratbot.services import reports
    from suratbot.workflow.machine import Refusal

    if not await _require_schema(office):
        return EXIT_FAIL
    try:
        month = reports.Month.parse(month_text)
    except Refusal as refusal:
        print(refusal.message, file=sys.stderr)
        return EXIT_USAGE
    report = await reports.monthly_report(office, month)
    if report.empty:
        print(f"Belum ada surat yang diproses pada {month.name}: tidak ada laporan, tidak ada berkas dibuat.")
        return EXIT_OK
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        if report.steps:
            chart = out / f"kepatuhan-{month.key}.png"
            chart.write_bytes(reports.chart_png(report))
            written.append(chart)
        workbook = out / f"buku-agenda-{month.key}.xlsx"
        workbook.write_bytes(reports.report_xlsx(report))
        register = out / f"buku-agenda-{month.key}.csv"
        register.write_bytes(reports.register_csv(report))
        written += [workbook, register]
    except OSError as exc:
        print(f"Tidak bisa menulis ke {out}: {exc.strerror}.", file=sys.stderr)
        return EXIT_FAIL
    print(reports.summary_text(report))
    for path in written:
        print(f"  {path}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
