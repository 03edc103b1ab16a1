"""The clerk sends the signed letter: by e-mail (SMTP, the PDF attached), or marks it delivered by another route
(SRIKANDI, courier...) with a note; the delivery is recorded."""

from __future__ import annotations

from suratbot.handlers import buttons
from suratbot.handlers.common import pdf_name, refused
from suratbot.handlers.types import Button, Document, Inbound, Reply, Response
from suratbot.services import letters, prompts
from suratbot.services.mail import check_address, send_letter
from suratbot.services.notices import DISPATCH_ROUTES
from suratbot.services.office import Office
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.letter import SECRET_SIFAT, clean_note
from suratbot.workflow.machine import Refusal

ROUTE_NOTE = "jalur"  # prompt: the e-mail address, or the note of another route
OTHER_ROUTES = ("srikandi", "kurir", "lainnya")


async def choose_route(
    office: Office, staff: Staff, letter_id: str | None, state: str | None, *, forwarding: bool = False
) -> Response:
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "kirim")
    except Refusal as refusal:
        return refused(refusal, button=True)
    rows: list[list[Button]] = []
    if office.smtp is not None:
        rows.append([Button("\U0001f4e7 Kirim surel (e-mail)", buttons.encode("jalur:email", letter.id, letter.state))])
    if forwarding and letter.sifat not in SECRET_SIFAT:  # a secret letter only ever goes to people on its path
        rows.append([Button("\U0001f4ac Teruskan ke chat", buttons.encode("jalur:chat", letter.id, letter.state))])
    rows.append(
        [
            Button(f"\u2714\ufe0f {DISPATCH_ROUTES[r]}", buttons.encode(f"jalur:{r}", letter.id, letter.state))
            for r in OTHER_ROUTES
        ]
    )
    return Response(
        [Reply(f"Bagaimana surat Nomor {letter.nomor} dikirim ke {letter.tujuan}?", buttons=rows)],
        answer="Pilih jalurnya",
    )


async def route(office: Office, staff: Staff, route: str, letter_id: str | None, state: str | None) -> Response:
    if route not in DISPATCH_ROUTES or (route == "email" and office.smtp is None):
        return Response(answer="Jalur ini tidak tersedia.", clear_buttons=True)
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "kirim")
    except Refusal as refusal:
        return refused(refusal, button=True)
    if route == "chat" and letter.sifat in SECRET_SIFAT:
        return refused(Refusal("rahasia", "Surat rahasia tidak diteruskan ke chat; pilih jalur lain."), button=True)
    await prompts.ask(
        office, staff.id, ROUTE_NOTE, letter_id=letter.id, expected_state=letter.state, payload={"jalur": route}
    )
    if route == "email":
        question = "Ketik alamat surel (e-mail) tujuan. PDF bertanda tangan dilampirkan."
    elif route == "chat":
        question = (
            "Ketik chat tujuan: @nama_pengguna grup/kanal, atau ID chat. Bot harus sudah menjadi anggota grup/kanal "
            "itu."
        )
    else:
        question = f"Tulis catatan pengiriman lewat {DISPATCH_ROUTES[route]} (mis. nomor resi/agenda), atau ketik - bila tidak ada."
    return Response([Reply(question)], answer=DISPATCH_ROUTES[route], clear_buttons=True)


async def route_note(office: Office, staff: Staff, prompt: PendingPrompt, inbound: Inbound) -> Response:
    text = inbound.text or ""
    route = prompt.payload.get("jalur", "lainnya")
    assert prompt.letter_id is not None
    try:
        letter = await buttons.turn(office, prompt.letter_id, prompt.expected_state, staff, "kirim")
        note = clean_note(text)
        if route == "email":
            assert office.smtp is not None
            address = check_address(text)
            await send_letter(
                office.smtp,
                address,
                subject=f"Surat {office.sop.office} Nomor {letter.nomor}",
                body=(
                    f"Yth. {letter.tujuan},\n\nTerlampir surat {office.sop.office} Nomor {letter.nomor} yang telah "
                    f"ditandatangani secara elektronik.\nKeaslian surat dapat diperiksa di {office.verify_url(letter.id)}\n"
                ),
                pdf=office.files.get(letter.current_version),
                filename=pdf_name(letter),
            )
            note = f"ke {address}"
        elif route == "chat":
            target = text.strip()
            if inbound.send_to is None or not target or len(target) > 64 or " " in target:
                raise Refusal("chat_salah", "Chat tujuan tidak dikenali. Ketik @nama_pengguna atau ID chat.")
            caption = f"Surat {office.sop.office} Nomor {letter.nomor}. Keaslian: {office.verify_url(letter.id)}"
            document = Document(letter.current_version, pdf_name(letter))
            await inbound.send_to(target, Reply(caption, document=document))
            note = f"ke {target}"
        elif note == "-":
            note = None
    except Refusal as refusal:
        if refusal.code in ("surel_salah", "surel_ditolak", "surel_gagal", "chat_salah", "chat_gagal"):
            return refused(refusal)  # the prompt stays: another address, or /batal
        await prompts.clear(office, staff.id)
        return refused(refusal)
    await prompts.clear(office, staff.id)  # sent: typing again must never send it a second time
    try:
        letter = await letters.dispatch(
            office, letter.id, staff.id, route=route, note=note, expected_state=prompt.expected_state
        )
    except Refusal as refusal:
        if route in ("email", "chat"):
            return Response.say(
                f"\u26a0\ufe0f Surat sudah terkirim {note}, tetapi tidak bisa dicatat: {refusal.message} "
                "Beri tahu admin."
            )
        return refused(refusal)
    how = DISPATCH_ROUTES[route] + (f" ({note})" if note else "")
    return Response.say(
        f"\u2705 Surat Nomor {letter.nomor} tercatat terkirim melalui {how}. Konseptor sudah diberi tahu."
    )
