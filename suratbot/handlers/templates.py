"""/templat: the office's letter template as a Word file; an admin puts the office's own in its place
(`/templat ganti`, then the file) or goes back to the generated one (`/templat bawaan`)."""

from __future__ import annotations

import asyncio

from suratbot.handlers.common import refused
from suratbot.handlers.types import Document, Inbound, Reply, Response
from suratbot.services import prompts, templates, word
from suratbot.services.office import Office
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.machine import Refusal

TEMPLATE = "templat_unggah"  # prompt: an admin's own template file


async def command(office: Office, staff: Staff, args: str) -> Response:
    verb = args.strip().lower()
    if verb in ("ganti", "unggah"):
        if "admin" not in staff.roles:
            return Response.say("Hanya admin yang bisa mengganti templat surat kantor.")
        await prompts.ask(office, staff.id, TEMPLATE)
        return Response.say(
            "Kirim berkas templat surat kantor (.docx). Tulis ${nomor} dan ${tanggal} di tempat nomor dan tanggal "
            "surat, dan ${ttd} di tempat tanda tangan. Ketik /batal untuk batal."
        )
    if verb in ("bawaan", "asli"):
        if "admin" not in staff.roles:
            return Response.say("Hanya admin yang bisa mengganti templat surat kantor.")
        had = templates.reset(office)
        return Response.say("Templat kembali ke templat bawaan." if had else "Templat sudah templat bawaan.")
    if verb:
        return Response.say("Ketik /templat untuk mengunduh templat; admin: /templat ganti atau /templat bawaan.")
    data, own = await templates.current(office)
    sha = await asyncio.to_thread(office.files.put, data)
    text = (
        "Templat surat kantor (Word). Isi suratnya, biarkan ${nomor}, ${tanggal} dan ${ttd} apa adanya, lalu kirim "
        "berkasnya ke sini sebagai konsep: nomor dan tanggal ditulis bot saat surat diberi nomor."
    )
    if not own:
        text += " (Templat bawaan, dibuat dari pengaturan kantor; admin bisa menggantinya: /templat ganti.)"
    return Response([Reply(text, document=Document(sha, "templat-surat.docx"))])


async def upload(office: Office, staff: Staff, prompt: PendingPrompt, inbound: Inbound) -> Response:
    """The admin's template file: checked like a Word concept, then put in place."""
    file = inbound.file
    assert file is not None
    if not word.is_word(file.name, file.media_type):
        return Response.say("Templat harus berkas .docx (Word). Kirim berkasnya, atau ketik /batal.")
    try:
        data = await file.fetch()
        missing = await templates.replace(office, data, file.name)
    except Refusal as refusal:
        return refused(refusal)
    await prompts.clear(office, staff.id)
    text = "\u2705 Templat surat kantor diganti. Semua orang yang mengetik /templat mendapat berkas ini."
    if missing:
        names = " dan ".join(f"${{{key}}}" for key in sorted(missing))
        text += (
            f"\nCatatan: templat ini tidak memuat {names}; untuk itu nomor/tanggal ditulis di kotak PDF yang diatur."
        )
    return Response.say(text)
