"""`/plh`: an official names who acts for them while they are away (Plh / Plt), sees it, or ends it early."""

from __future__ import annotations

from datetime import timedelta

from suratbot.handlers.types import Response
from suratbot.services import stand_ins
from suratbot.services.keystore import signer_key_path
from suratbot.services.notices import indonesian_date, local_time, person
from suratbot.services.office import Office
from suratbot.storage.models import Staff

USAGE = (
    "Tunjuk pengganti selama Anda tidak ada (Plh):\n"
    "  /plh <nama atau NIP> <sampai tanggal>   mis. /plh Rina 31-12-2026\n"
    "  /plt ...   sama, sebagai Plt\n"
    "  /plh selesai   akhiri sekarang\n"
    "Selama masa itu, surat yang menunggu Anda dan surat baru untuk Anda dialihkan kepadanya."
)


async def command(office: Office, staff: Staff, args: str, *, title: str = "Plh") -> Response:
    args = args.strip()
    if not args:
        return Response.say(await _overview(office, staff))
    if args.lower() in ("selesai", "akhiri", "stop"):
        period = await stand_ins.end_early(office, staff.id)
        return Response.say(f"Masa {period.title} {person(period.stand_in)} untuk Anda diakhiri sekarang.")
    who, _, until_text = args.rpartition(" ")
    if not who.strip():
        return Response.say(USAGE)
    today = office.now().astimezone(office.sop.calendar.timezone).date()
    until = stand_ins.parse_until(until_text, today)
    stand_in = await stand_ins.find_staff(office, who)
    period = await stand_ins.appoint(office, staff.id, stand_in.id, until=until, title=title, by=staff.id)
    lines = [
        f"Tercatat: {person(stand_in)} menjadi {title} {staff.jabatan} mulai "
        f"{local_time(office.sop, period.starts_at)} sampai {indonesian_date(until)}.",
        "Surat yang menunggu Anda dan surat baru untuk Anda kini dialihkan kepadanya; kalian berdua diberi tahu.",
    ]
    if "kepala" in staff.roles and office.signing.backend == "pkcs12":
        if not signer_key_path(office, stand_in.nip).exists():
            lines.append(
                f"Perhatian: {stand_in.nama} belum punya kunci tanda tangan elektronik di bot ini, jadi belum bisa "
                "menandatangani. Minta admin memasangnya (suratbot keys import)."
            )
    return Response.say("\n".join(lines))


async def _overview(office: Office, staff: Staff) -> str:
    mine = [p for p in await stand_ins.periods(office) if staff.id in (p.official.id, p.stand_in.id)]
    if not mine:
        return "Tidak ada masa Plh/Plt yang berjalan untuk Anda.\n\n" + USAGE
    lines = []
    for p in mine:
        until = indonesian_date((p.ends_at - timedelta(seconds=1)).astimezone(office.sop.calendar.timezone).date())
        state = "berjalan" if p.active else f"mulai {local_time(office.sop, p.starts_at)}"
        if p.official.id == staff.id:
            lines.append(f"- {person(p.stand_in)} adalah {p.title} Anda sampai {until} ({state}).")
        else:
            lines.append(f"- Anda {p.title} {p.official.jabatan} ({p.official.nama}) sampai {until} ({state}).")
    return "\n".join(lines) + "\n\n" + USAGE
