"""Stand-ins (Plh / Plt): letters follow the stand-in while the period lasts and go back when it ends."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import select

from suratbot.services import letters, stand_ins
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.services.reminders import REMIND, sweep
from suratbot.services.signature import sign_letter
from suratbot.storage.models import AuditEvent, OutboxMessage, Staff, StandIn
from suratbot.workflow.machine import Refusal
from tests.conftest import WIB, FakeClock
from tests.helpers import audit_of, letter_at, people, reload
from tests.test_handlers import person

AGUS = "Kepala Bidang Penanaman Modal"  # another unit head: the Kabid Pelayanan Perizinan's Plh


async def staff_id(office: Office, jabatan: str) -> int:
    async with office.reading() as uow:
        found = await uow.session.scalar(select(Staff.id).where(Staff.jabatan == jabatan))
    assert found is not None
    return found


async def outbox_for(office: Office, recipient: int, kind: str | None = None) -> list[OutboxMessage]:
    async with office.reading() as uow:
        query = select(OutboxMessage).where(OutboxMessage.recipient_id == recipient)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list((await uow.session.scalars(query.order_by(OutboxMessage.id))).all())


async def test_a_plh_period_starting_while_letters_wait(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    agus = await staff_id(office, AGUS)
    waiting = [await letter_at(office, p, "verifikasi_2") for _ in range(2)]
    period = await stand_ins.appoint(office, p.kabid, agus, until=date(2026, 11, 27), by=p.kabid)
    assert period.active and period.ends_at == datetime(2026, 11, 28, 0, 0, tzinfo=WIB)
    for letter in waiting:  # the waiting letters went to the stand-in, recorded as such, with the task
        letter = await reload(office, letter.id)
        assert letter.holder_id == agus
        [moved] = [e for e in await audit_of(office, letter.id) if e.action == "alihkan"]
        assert moved.on_behalf_of_id == p.kabid and "sebagai Plh" in (moved.note or "")
    tasks = await outbox_for(office, agus, "tugas")
    assert {t.letter_id for t in tasks} == {w.id for w in waiting} and all(t.actions for t in tasks)
    assert len(await outbox_for(office, agus, "plh")) == 1 and len(await outbox_for(office, p.kabid, "plh")) == 1

    fresh = await letter_at(office, p, "verifikasi_2")  # a new letter for the Kabid goes to the stand-in too
    assert fresh.holder_id == agus
    approved = await letters.approve(office, fresh.id, agus)  # acting as Plh: recorded on the Kabid's behalf
    assert approved.state == "penomoran"
    [paraf] = [e for e in await audit_of(office, fresh.id) if e.action == "setujui" and e.actor_id == agus]
    assert paraf.on_behalf_of_id == p.kabid
    with pytest.raises(Refusal):  # the absent Kabid's old button no longer acts
        await letters.approve(office, waiting[0].id, p.kabid)

    clock.advance(hours=1)  # reminders follow the stand-in
    await sweep(office)  # (and the clerk's, for the letter Agus approved)
    assert {r.letter_id for r in await outbox_for(office, agus, REMIND)} == {w.id for w in waiting}
    assert await outbox_for(office, p.kabid, REMIND) == []

    clock.now = datetime(2026, 11, 28, 0, 0, tzinfo=WIB)  # the period is over: the letters go back
    assert await stand_ins.apply_due(office) == 1
    for letter in waiting:
        assert (await reload(office, letter.id)).holder_id == p.kabid
    ended = await outbox_for(office, p.kabid, "plh")
    assert "berakhir" in ended[-1].text and "2 surat" in ended[-1].text
    assert await stand_ins.apply_due(office) == 0  # once
    assert (await letter_at(office, p, "verifikasi_2")).holder_id == p.kabid


async def test_a_period_named_for_later_starts_at_its_day(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    agus = await staff_id(office, AGUS)
    letter = await letter_at(office, p, "verifikasi_2")
    period = await stand_ins.appoint(
        office, p.kabid, agus, starts=date(2026, 11, 30), until=date(2026, 12, 2), title="Plt", by=None
    )
    assert not period.active and await stand_ins.next_change_at(office, clock.now) == period.starts_at
    assert (await reload(office, letter.id)).holder_id == p.kabid
    clock.now = datetime(2026, 11, 30, 0, 0, tzinfo=WIB)
    assert await stand_ins.apply_due(office) == 1
    assert (await reload(office, letter.id)).holder_id == agus
    await stand_ins.end_early(office, p.kabid)  # back early
    assert (await reload(office, letter.id)).holder_id == p.kabid
    async with office.reading() as uow:
        [row] = (await uow.session.scalars(select(StandIn))).all()
    assert row.title == "Plt" and row.started_at is not None and row.ended_at == clock.now


async def test_bad_periods_are_refused_and_change_nothing(office: Office) -> None:
    p = await people(office)
    agus = await staff_id(office, AGUS)
    with pytest.raises(Refusal, match="orang lain"):
        await stand_ins.appoint(office, p.kabid, p.kabid, until=date(2026, 11, 30), by=p.kabid)
    with pytest.raises(Refusal, match="satu tahun"):
        await stand_ins.appoint(office, p.kabid, agus, until=date(2028, 1, 1), by=p.kabid)
    await stand_ins.appoint(office, p.kabid, agus, until=date(2026, 11, 30), by=p.kabid)
    with pytest.raises(Refusal, match="bertumpuk"):  # a second period over the first
        await stand_ins.appoint(office, p.kabid, p.sekretaris, until=date(2026, 11, 29), by=p.kabid)
    with pytest.raises(Refusal, match="bertumpuk"):  # the stand-in is not away themselves
        await stand_ins.appoint(office, agus, p.kabid, until=date(2026, 11, 29), by=agus)
    with pytest.raises(Refusal, match="sudah lewat"):
        stand_ins.parse_until("01-01-2020", date(2026, 11, 25))
    with pytest.raises(Refusal, match="tidak dikenali"):
        stand_ins.parse_until("besok", date(2026, 11, 25))
    assert stand_ins.parse_until("2026-12-31", date(2026, 11, 25)) == date(2026, 12, 31)
    assert len(await stand_ins.periods(office)) == 1


async def test_plh_in_chat(office: Office) -> None:
    kabid = await person(office, "Kepala Bidang Pelayanan Perizinan", "701")
    await kabid.say("/plh")
    assert "Tidak ada masa Plh" in kabid.text() and "/plh <nama atau NIP>" in kabid.text()
    await kabid.say("/plh Herlina 2026-11-27")  # "Lina Herlina", Kepala Seksi: a unique name
    assert "Tunjuk Lina Herlina" in kabid.text() and await stand_ins.periods(office) == []  # asked first
    await kabid.press("Batal")
    assert "dibatalkan" in kabid.text() and await stand_ins.periods(office) == []
    await kabid.say("/plh Herlina 2026-11-27")
    await kabid.press("Ya, tunjuk")
    assert "Lina Herlina" in kabid.text() and "menjadi Plh Kepala Bidang Pelayanan Perizinan" in kabid.text()
    await kabid.say("/plh")
    assert "adalah Plh Anda sampai 27 November 2026" in kabid.text()
    lina = await person(office, "Kepala Seksi Perizinan Usaha", "702")
    await lina.say("/plh")
    assert "Anda Plh Kepala Bidang Pelayanan Perizinan" in lina.text()
    await kabid.say("/plh selesai")
    assert "diakhiri" in kabid.text()
    await kabid.say("/plh selesai")
    assert "Tidak ada masa Plh/Plt" in kabid.text()
    await kabid.say("/plh Ir 30-11-2026")  # too short
    assert "paling sedikit 3 huruf" in kabid.text()
    await kabid.say("/plh Kepala 30-11-2026")  # no name starts so... but "Kep" matches no word start of a name
    assert "Tidak ada pegawai aktif" in kabid.text()
    await kabid.say("/plh Rina_ 30-11-2026")  # no wildcards
    assert "Tidak ada pegawai aktif" in kabid.text()
    await kabid.say("/plh Sur 30-11-2026")  # Asep Suryana, and not "Ir. Bambang..."; one match only
    assert "Tunjuk Dr. H. Asep Suryana" in kabid.text()
    await kabid.say("/plh Nu 30-11-2026")
    assert "paling sedikit 3 huruf" in kabid.text()
    await kabid.say("/plh Hermawan 30-11-2026")  # himself
    assert "harus orang lain" in kabid.text()
    await kabid.press_data("plh_ya|x.Plh|20261130")  # a forged button
    assert kabid.last.answer == "Tombol ini tidak dikenal."
    await kabid.say("/plh Tidak Ada Orangnya 30-11-2026")
    assert "Tidak ada pegawai aktif" in kabid.text()
    await kabid.say("/plh Herlina kemarin")
    assert "tidak dikenali" in kabid.text()
    assert await stand_ins.periods(office) == []


async def test_signing_as_plh_uses_the_stand_ins_own_key(office: Office) -> None:
    p = await people(office)
    await make_demo_keys(office, passphrase="kunci-demo-2026", replace=False)  # keys for Kepala Dinas only
    letter = await letter_at(office, p, "tanda_tangan")
    await stand_ins.appoint(office, p.kepala, p.sekretaris, until=date(2026, 11, 27), by=p.kepala)
    assert (await reload(office, letter.id)).holder_id == p.sekretaris
    with pytest.raises(Refusal) as refused:  # not the Kepala's key: the Sekretaris has none yet
        await sign_letter(office, letter.id, p.sekretaris, "kunci-demo-2026")
    assert refused.value.code == "kunci_tidak_ada"
    with pytest.raises(Refusal):  # nor may the absent Kepala sign it meanwhile
        await sign_letter(office, letter.id, p.kepala, "kunci-demo-2026")
    async with office.reading() as uow:
        events = (await uow.session.scalars(select(AuditEvent).where(AuditEvent.letter_id == letter.id))).all()
    assert not any(e.action == "tandatangani" for e in events)


async def test_a_stand_in_is_not_handed_their_own_draft_to_review(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")  # drafted by Rizki, waiting on the Kasi
    await stand_ins.appoint(office, p.kasi, p.drafter, until=date(2026, 11, 27), by=p.kasi)
    letter = await reload(office, letter.id)
    assert (letter.state, letter.holder_id) == ("verifikasi_2", p.kabid)  # passed over, as for any other way in
    actions = [e.action for e in await audit_of(office, letter.id)]
    assert actions[-2:] == ["alihkan", "lewati"]


async def test_two_processes_start_and_end_a_period_once(office: Office, clock: FakeClock, database_url: str) -> None:
    import asyncio

    from suratbot.storage.db import create_engine

    p = await people(office)
    agus = await staff_id(office, AGUS)
    await letter_at(office, p, "verifikasi_2")
    await stand_ins.appoint(office, p.kabid, agus, starts=date(2026, 11, 26), until=date(2026, 11, 27), by=None)
    second = Office(sop=office.sop, engine=create_engine(database_url), files=office.files, clock=clock)
    try:
        clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=WIB)
        started = await asyncio.gather(stand_ins.apply_due(office), stand_ins.apply_due(second))
        clock.now = datetime(2026, 11, 28, 0, 0, tzinfo=WIB)
        ended = await asyncio.gather(stand_ins.apply_due(office), stand_ins.apply_due(second))
    finally:
        await second.close()
    assert sorted(started) == [0, 1] and sorted(ended) == [0, 1]
    plh = await outbox_for(office, agus, "plh")
    assert len(plh) == 3  # named for later, started, ended: each once
    assert len(await outbox_for(office, agus, "tugas")) == 1


async def test_a_period_whose_stand_in_left_ends_instead_of_starting(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    agus = await staff_id(office, AGUS)
    letter = await letter_at(office, p, "verifikasi_2")
    await stand_ins.appoint(office, p.kabid, agus, starts=date(2026, 11, 26), until=date(2026, 11, 27), by=None)
    async with office.uow() as uow:
        (await uow.session.get_one(Staff, agus)).active = False  # left the roster meanwhile
    clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=WIB)
    assert await stand_ins.apply_due(office) == 1
    assert (await reload(office, letter.id)).holder_id == p.kabid
    assert await stand_ins.periods(office) == []
    [notice] = [n for n in await outbox_for(office, p.kabid, "plh") if "berakhir" in n.text]
    assert "tidak ada lagi di daftar pegawai aktif" in notice.text


async def test_signing_as_plh_with_the_stand_ins_key_says_plh_on_the_mark(office: Office) -> None:
    import pikepdf
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from suratbot.services.keystore import import_signer_key, keys_dir
    from suratbot.services.verification import verify_letter
    from suratbot.signing.keys import DemoCA, SignerProfile, issue_signer

    p = await people(office)
    await make_demo_keys(office, passphrase="kunci-demo-2026", replace=False)
    folder = keys_dir(office)
    ca = DemoCA(
        serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), b"kunci-demo-2026"),  # type: ignore[arg-type]
        x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes()),
    )
    async with office.reading() as uow:
        sekretaris = await uow.session.get_one(Staff, p.sekretaris)
    profile = SignerProfile(sekretaris.nama, sekretaris.jabatan, sekretaris.nip, office.sop.office)
    p12 = issue_signer(ca, profile, "kunci-rina-2026", now=ca.cert.not_valid_before_utc)
    await import_signer_key(office, sekretaris.nip, p12, "kunci-rina-2026")
    letter = await letter_at(office, p, "tanda_tangan")
    await stand_ins.appoint(office, p.kepala, p.sekretaris, until=date(2026, 11, 27), by=p.kepala)
    signed = await sign_letter(office, letter.id, p.sekretaris, "kunci-rina-2026")
    assert signed.state == "pengiriman"
    [event] = [e for e in await audit_of(office, letter.id) if e.action == "tandatangani"]
    assert (event.actor_id, event.on_behalf_of_id) == (p.sekretaris, p.kepala)
    data = office.files.get(signed.current_version)
    result = await verify_letter(office, data)
    assert result.ok and result.verification.signatures[0].signer == sekretaris.nama
    with pikepdf.open(io.BytesIO(data)) as pdf:
        streams = b"".join(o.read_bytes() for o in pdf.objects if isinstance(o, pikepdf.Stream))
    streams = streams.replace(b"\\056", b".").replace(b"\\054", b",")  # pyHanko writes "." and "," as octal
    assert b"Plh. Kepala Dinas" in streams and b"Hj. Rina Marlina" in streams
