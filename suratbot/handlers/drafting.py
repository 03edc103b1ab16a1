"""The drafter: a PDF in chat becomes a concept letter (metadata from the caption, the rest asked for), and a
returned letter gets its revision."""

from __future__ import annotations

import secrets
from typing import Any

from suratbot.handlers import buttons
from suratbot.handlers.common import receive_concept, refused, refused_waiting, staff_name, store
from suratbot.handlers.types import Button, Inbound, Reply, Response
from suratbot.services import letters, prompts
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.services.word import DOCX
from suratbot.storage.models import PendingPrompt, Staff
from suratbot.workflow.letter import (
    SIFAT,
    URGENSI,
    LetterMeta,
    check_klasifikasi,
    clean_note,
    normalise_choice,
    parse_caption,
)
from suratbot.workflow.machine import Refusal

CONCEPT = "konsep"  # prompt: metadata of a new concept
REVISION = "revisi_unggah"  # prompt: the revised file of a returned letter
ASKED = ("perihal", "tujuan", "sifat", "urgensi", "klasifikasi")
QUESTIONS = {
    "perihal": "Apa perihal (hal) surat ini?",
    "tujuan": "Kepada siapa surat ini ditujukan (Yth. ...)?",
    "sifat": "Apa sifat surat ini?",
    "urgensi": "Apa tingkat urgensinya?",
    "klasifikasi": "Apa kode klasifikasi arsipnya (contoh: 500.16)?",
}
CHOICES = {"sifat": SIFAT, "urgensi": URGENSI}
CAPTION_HINT = "Perihal: ...; Tujuan: ...; Sifat: Biasa; Urgensi: Segera; Klasifikasi: 500.16"


async def new_concept(office: Office, staff: Staff, inbound: Inbound) -> Response:
    """A PDF or Word concept from a drafter: stored, then the metadata the caption lacks is asked for, then a
    summary."""
    if not staff.roles & office.sop.drafting_roles:
        return Response.say(
            "Anda tidak terdaftar sebagai konseptor, jadi tidak bisa mengajukan konsep surat. "
            "Untuk memeriksa surat bertanda tangan, ketik /verifikasi lalu kirim PDF-nya."
        )
    try:
        upload, concept = await receive_concept(office, inbound)
    except Refusal as refusal:
        return refused(refusal)
    sha = await store(office, upload)
    word_sha = await store(office, concept.docx) if concept is not None else None
    meta: dict[str, str] = {}
    problems: list[str] = []
    for key, value in parse_caption(inbound.text).items():
        try:
            meta[key] = _checked(key, value)
        except Refusal as refusal:
            problems.append(refusal.message)
    # The token ties this draft's buttons to it: a button of an earlier draft never acts on this one.
    payload = {
        "sha": sha,
        "word_sha": word_sha,
        "filename": upload.display_name or "konsep.pdf",
        "meta": meta,
        "token": secrets.token_urlsafe(6),
    }
    response = await _next(office, staff, payload)
    intro = f"\U0001f4c4 Konsep \u201c{payload['filename']}\u201d diterima."
    if concept is not None:
        intro = (
            f"\U0001f4c4 Konsep Word \u201c{concept.docx.display_name}\u201d diterima dan diubah menjadi PDF "
            f"({payload['filename']}): PDF itulah yang diperiksa dan nanti ditandatangani. "
            + _where_the_number_goes(concept.placeholders)
        )
    if not meta:
        intro += f"\nTip: data surat bisa ditulis di keterangan (caption) berkas, satu baris: {CAPTION_HINT}"
    response.replies.insert(0, Reply("\n".join([intro, *problems])))
    return response


def _where_the_number_goes(placeholders: frozenset[str]) -> str:
    if placeholders >= {"nomor", "tanggal"}:
        return "Nomor dan tanggal akan ditulis di berkas Word-nya, di ${nomor} dan ${tanggal}."
    missing = " dan ".join(f"${{{key}}}" for key in ("nomor", "tanggal") if key not in placeholders)
    return (
        f"Berkas Word ini tidak memuat {missing}, jadi itu akan dicetak di kotak yang diatur di halaman pertama "
        "PDF-nya. (Templat kantor: /templat.)"
    )


def _checked(key: str, value: str) -> str:
    """A metadata value, normalised, or Refusal saying what is wrong with it."""
    value = " ".join(value.split())
    if key in CHOICES:
        choice = normalise_choice(value, CHOICES[key])
        if choice is None:
            raise Refusal(
                f"{key}_salah", f"{key.title()} \u201c{value}\u201d tidak dikenal; pilih: {', '.join(CHOICES[key])}."
            )
        return choice
    if key == "klasifikasi":
        return check_klasifikasi(value)
    if not value:
        raise Refusal(f"{key}_kosong", f"{key.title()} tidak boleh kosong.")
    if len(value) > 1000:
        raise Refusal("teks_terlalu_panjang", f"{key.title()} terlalu panjang (paling banyak 1000 huruf).")
    return value


async def _next(office: Office, staff: Staff, payload: dict[str, Any]) -> Response:
    """Ask for the first missing field, or show the summary with Kirim / Batal."""
    meta = payload["meta"]
    missing = [key for key in ASKED if key not in meta]
    if missing:
        key = missing[0]
        payload["asking"] = key
        await prompts.ask(office, staff.id, CONCEPT, payload=payload)
        rows = []
        if key in CHOICES:
            rows = [[Button(choice, buttons.encode(key, payload["token"], choice))] for choice in CHOICES[key]]
        return Response([Reply(QUESTIONS[key], buttons=rows)])
    payload["asking"] = None
    await prompts.ask(office, staff.id, CONCEPT, payload=payload)
    lines = [
        "Ringkasan konsep surat:",
        f"Perihal: {meta['perihal']}",
        f"Tujuan: {meta['tujuan']}",
        f"Sifat: {meta['sifat']}  \u2022  Urgensi: {meta['urgensi']}",
        f"Klasifikasi: {meta['klasifikasi']}",
    ]
    if meta.get("tembusan"):
        lines.append(f"Tembusan: {meta['tembusan']}")
    lines.append(f"Berkas: {payload['filename']}")
    rows = [
        [
            Button("\U0001f4e8 Kirim ke verifikator", buttons.encode("konsep_kirim", payload["token"])),
            Button("\u2716\ufe0f Batal", buttons.encode("konsep_batal", payload["token"])),
        ]
    ]
    return Response([Reply("\n".join(lines), buttons=rows)])


async def answer(office: Office, staff: Staff, prompt: PendingPrompt, text: str) -> Response:
    """Text while the bot waits for a metadata field."""
    payload = dict(prompt.payload)
    key = payload.get("asking")
    if key is None:
        return Response.say("Tekan \u201cKirim ke verifikator\u201d atau \u201cBatal\u201d pada ringkasan di atas.")
    try:
        payload["meta"] = {**payload["meta"], key: _checked(key, text)}
    except Refusal as refusal:
        return refused(refusal)
    return await _next(office, staff, payload)


def _this_draft(prompt: PendingPrompt | None, token: str | None) -> bool:
    return prompt is not None and prompt.kind == CONCEPT and token is not None and prompt.payload.get("token") == token


async def choose(office: Office, staff: Staff, key: str, token: str | None, value: str | None) -> Response:
    """A button for sifat / urgensi: only for the draft it was made for, and the question it answers."""
    prompt = await prompts.pending(office, staff.id)
    if not _this_draft(prompt, token) or value is None or prompt.payload.get("asking") != key:  # type: ignore[union-attr]
        return Response(answer="Pilihan ini sudah tidak berlaku.", clear_buttons=True)
    assert prompt is not None
    payload = dict(prompt.payload)
    try:
        payload["meta"] = {**payload["meta"], key: _checked(key, value)}
    except Refusal as refusal:
        return refused(refusal, button=True)
    response = await _next(office, staff, payload)
    response.answer = f"{key.title()}: {value}"
    response.clear_buttons = True
    return response


async def confirm(office: Office, staff: Staff, token: str | None, *, send: bool) -> Response:
    """Kirim ke verifikator / Batal on the summary of this draft (taken from the database once: a second tap, or
    a second process, finds nothing)."""
    prompt = await prompts.pending(office, staff.id)
    if not _this_draft(prompt, token) or prompt.payload.get("asking") is not None:  # type: ignore[union-attr]
        return Response(answer="Ringkasan ini sudah tidak berlaku.", clear_buttons=True)
    prompt = await prompts.take(office, staff.id)
    if not _this_draft(prompt, token):
        return Response(answer="Ringkasan ini sudah tidak berlaku.", clear_buttons=True)
    assert prompt is not None
    if not send:
        return Response([Reply("Dibatalkan: konsep tidak diajukan.")], answer="Dibatalkan", clear_buttons=True)
    payload = prompt.payload
    meta = LetterMeta(**{k: payload["meta"].get(k) for k in (*ASKED, "tembusan")})  # type: ignore[arg-type]
    try:
        data = office.files.get(payload["sha"])
        word_file = None
        if payload.get("word_sha"):
            stem = str(payload["filename"]).rsplit(".", 1)[0]
            word_file = Upload(office.files.get(payload["word_sha"]), f"{stem}.docx", DOCX)
        letter = await letters.submit(office, staff.id, Upload(data, payload["filename"]), meta, word=word_file)
    except Refusal as refusal:
        return refused(refusal, button=True)
    holder = await staff_name(office, letter.holder_id)
    return Response(
        [
            Reply(
                f"\u2705 Konsep \u201c{letter.perihal}\u201d diajukan (ID {letter.id[:8]}). Sekarang di tahap "
                f"{office.sop.states[letter.state].name}, dipegang {holder}. Anda akan diberi tahu setiap "
                "perkembangannya."
            )
        ],
        answer="Diajukan",
        clear_buttons=True,
    )


async def start_revision(office: Office, staff: Staff, letter_id: str | None, state: str | None) -> Response:
    """The drafter's "Unggah revisi" button: the next PDF they send is the revised version."""
    try:
        letter = await buttons.turn(office, letter_id, state, staff, "ajukan_ulang")
    except Refusal as refusal:
        return refused(refusal, button=True)
    await prompts.ask(office, staff.id, REVISION, letter_id=letter.id, expected_state=letter.state)
    return Response(
        [
            Reply(
                "Kirim berkas revisinya sekarang (PDF atau Word). Keterangan (caption) berkas akan diteruskan sebagai catatan."
            )
        ],
        answer="Kirim berkas revisinya",
    )


async def revision_file(office: Office, staff: Staff, prompt: PendingPrompt, inbound: Inbound) -> Response:
    """The revised PDF of a returned letter: it goes back to whoever asked for the revision."""
    try:
        upload, concept = await receive_concept(office, inbound)
        assert prompt.letter_id is not None
        letter = await letters.resubmit(
            office, prompt.letter_id, staff.id, upload, note=clean_note(inbound.text),
            word=concept.docx if concept is not None else None,
        )  # fmt: skip
    except Refusal as refusal:
        return await refused_waiting(office, staff, refusal)
    await prompts.clear(office, staff.id)
    holder = await staff_name(office, letter.holder_id)
    return Response.say(
        f"\u2705 Revisi terkirim. Sekarang di tahap {office.sop.states[letter.state].name}, dipegang {holder}."
    )
