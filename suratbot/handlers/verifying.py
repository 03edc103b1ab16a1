"""/verifikasi: anyone bound sends a signed PDF and learns whether it is a valid, unmodified letter of this office."""

from __future__ import annotations

from suratbot.handlers.common import refused
from suratbot.handlers.types import Inbound, Response
from suratbot.services import prompts
from suratbot.services.office import Office
from suratbot.services.uploads import PDF
from suratbot.services.verification import describe, verify_letter
from suratbot.storage.models import Staff
from suratbot.workflow.machine import Refusal

VERIFY = "verifikasi"  # prompt: the next PDF is to be verified, not submitted


async def ask(office: Office, staff: Staff) -> Response:
    await prompts.ask(office, staff.id, VERIFY)
    return Response.say("Kirim PDF bertanda tangan yang ingin diperiksa.")


async def check(office: Office, staff: Staff, inbound: Inbound) -> Response:
    file = inbound.file
    assert file is not None
    await prompts.clear(office, staff.id)
    if file.size is not None and file.size > office.max_file_bytes:
        return refused(Refusal("berkas_terlalu_besar", "Berkas terlalu besar untuk diperiksa di sini."))
    if file.media_type not in (None, PDF) and not (file.name or "").lower().endswith(".pdf"):
        return Response.say("Berkas ini bukan PDF; yang bisa diperiksa hanya PDF bertanda tangan.")
    await inbound.working()
    result = await verify_letter(office, await file.fetch())
    return Response.say("\n".join(describe(office, result)))
