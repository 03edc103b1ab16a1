"""`/plh`: an official names who acts for them while they are away (Plh / Plt), sees it, or ends it early."""

from __future__ import annotations

from datetime import datetime, timedelta

from suratbot.handlers import buttons
from suratbot.handlers.types import Button, Reply, Response
from suratbot.services import stand_ins
from suratbot.services.keystore import signer_key_path
from suratbot.services.notices import indonesian_date, local_time, person
from suratbot.services.office import Office
from suratbot.storage.models import Staff

CONFIRM = "plh_ya"
CANCEL = "plh_batal"

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
        if period.official.id == staff.id:
            return Response.say(f"Masa {period.title} {person(period.stand_in)} untuk Anda diakhiri sekarang.")
        return Response.say(f"Masa {period.title} Anda untuk {person(period.official)} diakhiri sekarang.")
    who, _, until_text = args.rpartition(" ")
    if not who.strip():
        return Response.say(USAGE)
    today = office.now().astimezone(office.sop.calendar.timezone).date()
    until = stand_ins.parse_until(until_text, today)
    stand_in = await stand_ins.find_staff(office, who)
    if stand_in.id == staff.id:
        return Response.say("Pengganti (Plh) harus orang lain.")
    question = (
        f"Tunjuk {person(stand_in)}, NIP {stand_in.nip}, sebagai {title} {staff.jabatan} mulai sekarang sampai "
        f"{indonesian_date(until)}?\nSurat yang menunggu Anda akan dialihkan kepadanya."
    )
    yes = Button("\u2705 Ya, tunjuk", buttons.encode(CONFIRM, f"{stand_in.id}.{title}", f"{until:%Y%m%d}"))
    no = Button("Batal", buttons.encode(CANCEL))
    return Response([Reply(question, buttons=[[yes, no]])])


async def confirm(office: Office, staff: Staff, target: str | None, until_text: str | None) -> Response:
    """The official confirmed the stand-in they named (the button carries who, as what, and until when)."""
    try:
        stand_in_text, title = (target or "").split(".")
        stand_in_id = int(stand_in_text)
        until = datetime.strptime(until_text or "", "%Y%m%d").date()
    except ValueError:
        return Response(answer="Tombol ini tidak dikenal.", clear_buttons=True)
    if title not in stand_ins.TITLES:
        return Response(answer="Tombol ini tidak dikenal.", clear_buttons=True)
    period = await stand_ins.appoint(office, staff.id, stand_in_id, until=until, title=title, by=staff.id)
    stand_in = period.stand_in
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
    return Response([Reply("\n".join(lines))], answer="Tercatat.", clear_buttons=True)


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
