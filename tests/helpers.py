"""Helpers for service tests: the example roster's people by position, and letters at a given step."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select

from suratbot.data.concept import example_letter
from suratbot.services import letters
from suratbot.services.office import Office
from suratbot.services.uploads import Upload
from suratbot.storage.models import AuditEvent, Letter, OutboxMessage, Staff
from suratbot.workflow.letter import LetterMeta

META = LetterMeta(
    perihal="Undangan Rapat Koordinasi",
    tujuan="Camat se-Kabupaten Sumedang",
    sifat="Biasa",
    urgensi="Segera",
    klasifikasi="500.16",
)


class People:
    """The example roster (suratbot/data/roster_contoh.csv) by role in the story."""

    def __init__(self, staff: list[Staff]) -> None:
        by_job = {s.jabatan: s for s in staff}
        self.drafter = by_job["Analis Perizinan"].id
        self.kasi = by_job["Kepala Seksi Perizinan Usaha"].id
        self.kabid = by_job["Kepala Bidang Pelayanan Perizinan"].id
        self.clerk = by_job["Pengelola Surat"].id  # also admin
        self.kepala = by_job["Kepala Dinas"].id
        self.sekretaris = by_job["Sekretaris"].id
        self.other_drafter = by_job["Penata Promosi Investasi"].id
        self.other_kasi = by_job["Kepala Seksi Promosi Penanaman Modal"].id
        self.sekretariat_drafter = by_job["Pengadministrasi Umum"].id
        self.kasubag = by_job["Kepala Subbagian Umum dan Kepegawaian"].id


async def people(office: Office) -> People:
    async with office.uow() as uow:
        return People(list((await uow.session.scalars(select(Staff))).all()))


def pdf(version: int = 1) -> Upload:
    return Upload(example_letter(META.perihal, META.tujuan, version=version), f"konsep-v{version}.pdf")


_fresh = itertools.count(10_000)


def fresh_pdf() -> Upload:
    """A concept no other letter has (the same file twice from one drafter is refused while open)."""
    return pdf(next(_fresh))


async def letter_at(office: Office, p: People, state: str, meta: LetterMeta = META) -> Letter:
    """A new letter driven along the happy path until it reaches `state`."""
    letter = await letters.submit(office, p.drafter, fresh_pdf(), meta)
    path = [
        ("verifikasi_2", lambda lid: letters.approve(office, lid, p.kasi)),
        ("penomoran", lambda lid: letters.approve(office, lid, p.kabid)),
        ("tanda_tangan", lambda lid: letters.assign_number(office, lid, p.clerk)),
        ("pengiriman", lambda lid: letters.record_signature(office, lid, p.kepala, pdf(9))),
        ("terkirim", lambda lid: letters.dispatch(office, lid, p.clerk, route="email")),
    ]
    for target, act in path:
        if letter.state == state:
            break
        letter = await act(letter.id)
        assert letter.state == target
    assert letter.state == state
    return letter


async def _rows_of(office: Office, model: type[AuditEvent] | type[OutboxMessage], letter_id: str) -> list[Any]:
    async with office.uow() as uow:
        query = select(model).where(model.letter_id == letter_id).order_by(model.id)
        return list((await uow.session.scalars(query)).all())


async def audit_of(office: Office, letter_id: str) -> list[AuditEvent]:
    return await _rows_of(office, AuditEvent, letter_id)


async def outbox_of(office: Office, letter_id: str) -> list[OutboxMessage]:
    return await _rows_of(office, OutboxMessage, letter_id)


async def reload(office: Office, letter_id: str) -> Letter:
    return await letters.get_letter(office, letter_id)
