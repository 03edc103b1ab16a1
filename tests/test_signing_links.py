"""The signing page's links as a service: bound to signer, letter and version; a typo or a failure of ours gives
the link back, a signature or a lockout spends it; a double submit waits; the chat's prompt closes; where the
page can be reached from a phone; and the admins' report of an undelivered notification."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from suratbot.bot.outbox import _pick
from suratbot.services import prompts, signing_links
from suratbot.services.keystore import make_demo_keys
from suratbot.services.notices import UNDELIVERED, tell_admins_undelivered
from suratbot.services.office import Office
from suratbot.storage.models import ChannelBinding, Letter, OutboxMessage, SigningLink, Staff
from suratbot.workflow.machine import Refusal
from tests.conftest import FakeClock
from tests.helpers import letter_at, people

PASSPHRASE = "kunci-demo-2026"


async def _kepala(office: Office) -> Staff:
    p = await people(office)
    async with office.reading() as uow:
        return await uow.session.get_one(Staff, p.kepala)


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def test_a_link_is_for_its_signer_letter_and_version_only(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    kepala = await _kepala(office)
    token = _token(await signing_links.issue(office, kepala, letter))
    page = await signing_links.open_page(office, token)
    assert (page.letter.id, page.signer.id) == (letter.id, kepala.id)
    with pytest.raises(Refusal) as unknown:
        await signing_links.open_page(office, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert unknown.value.code == "tautan_tidak_dikenal"
    async with office.uow() as uow:  # the file changed (as if replaced): the link no longer stands for it
        await uow.session.execute(update(SigningLink).values(letter_version="0" * 64))
    with pytest.raises(Refusal) as changed:
        await signing_links.open_page(office, token)
    assert changed.value.code == "surat_berubah"


async def test_a_failure_of_ours_gives_the_link_back_and_a_lockout_spends_it(
    office: Office, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    kepala = await _kepala(office)
    token = _token(await signing_links.issue(office, kepala, letter))

    async def broken(*args: object, **kwargs: object) -> Letter:
        raise RuntimeError("the signing worker died")

    monkeypatch.setattr(signing_links, "sign_letter", broken)
    with pytest.raises(RuntimeError):
        await signing_links.sign(office, token, PASSPHRASE)
    monkeypatch.undo()
    await signing_links.open_page(office, token)  # still usable

    for _ in range(2):
        with pytest.raises(Refusal, match="Sisa percobaan"):
            await signing_links.sign(office, token, "salah")
    with pytest.raises(Refusal, match="dikunci"):
        await signing_links.sign(office, token, "salah")
    with pytest.raises(Refusal) as spent:
        await signing_links.open_page(office, token)
    assert spent.value.code == "tautan_diproses"  # taken, and the letter still waits: not "free" again
    clock.advance(minutes=6)
    with pytest.raises(Refusal) as later:
        await signing_links.open_page(office, token)
    assert later.value.code == "tautan_terpakai"


async def test_a_second_submit_while_the_first_signs_is_told_to_wait(office: Office) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    kepala = await _kepala(office)
    token = _token(await signing_links.issue(office, kepala, letter))
    async with office.uow() as uow:  # the first submit has taken the link and is signing
        await uow.session.execute(update(SigningLink).values(used_at=office.now()))
    with pytest.raises(Refusal) as busy:
        await signing_links.sign(office, token, PASSPHRASE)
    assert busy.value.code == "tautan_diproses" and "Muat ulang" in busy.value.message


async def test_signing_on_the_page_closes_the_chat_prompt_for_that_letter(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    kepala = await _kepala(office)
    await prompts.ask(office, kepala.id, "passphrase", letter_id=letter.id, expected_state=letter.state)
    token = _token(await signing_links.issue(office, kepala, letter))
    signed = await signing_links.sign(office, token, PASSPHRASE)
    assert signed.state == "pengiriman"
    assert await prompts.pending(office, kepala.id) is None
    async with office.reading() as uow:
        told = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "hasil_ttd"))).one()
    assert told.recipient_id == kepala.id and told.attachment_sha256 == signed.current_version


def test_the_page_is_offered_only_where_a_phone_can_open_it(office: Office) -> None:
    for url, reachable in (
        ("https://surat.example.go.id", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://surat.example.go.id", False),
        ("http://10.0.0.5:8080", False),
    ):
        office.public_url = url
        assert signing_links.page_reachable(office) is reachable, url


def test_a_task_to_sign_stays_on_telegram_while_the_page_cannot_be_reached() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    telegram = ChannelBinding(staff_id=1, channel="telegram", address="5", last_seen_at=now - timedelta(days=2))
    whatsapp = ChannelBinding(staff_id=1, channel="whatsapp", address="62", last_seen_at=now - timedelta(hours=1))
    assert _pick([telegram, whatsapp], None, now, sign_in_chat=True) is telegram
    assert _pick([telegram, whatsapp], None, now, sign_in_chat=False) is whatsapp
    assert _pick([whatsapp], None, now, sign_in_chat=True) is whatsapp  # nothing else: told to use Telegram there
    # WhatsApp refused this row for the window (131047) after the person last wrote: Telegram takes it.
    assert _pick([telegram, whatsapp], None, now, refused_at=now - timedelta(minutes=1)) is telegram
    assert _pick([telegram, whatsapp], None, now, refused_at=now - timedelta(hours=2)) is whatsapp  # wrote since


async def test_the_admins_hear_of_one_persons_failing_chat_once_a_day(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    async with office.uow() as uow:
        for n in range(3):
            row = OutboxMessage(recipient_id=p.kasi, kind="tugas", text=f"Surat {n}\nrincian", status="failed", actions=[],
                                attempts=1, created_at=office.now(), next_attempt_at=office.now())  # fmt: skip
            uow.session.add(row)
            await uow.session.flush()
            await tell_admins_undelivered(uow.session, row, "telegram", "ditolak", office.now())
        # An admin's own undelivered message is not reported to that admin.
        own = OutboxMessage(recipient_id=p.clerk, kind="tugas", text="x", status="failed", attempts=1, actions=[],
                            created_at=office.now(), next_attempt_at=office.now())  # fmt: skip
        uow.session.add(own)
        await uow.session.flush()
        await tell_admins_undelivered(uow.session, own, "whatsapp", "ditolak", office.now())
    async with office.reading() as uow:
        reports = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == UNDELIVERED))).all()
    assert len(reports) == 1  # the clerk (the only admin) about the Kasi, once; nobody about the clerk
    assert reports[0].recipient_id == p.clerk and "lewat Telegram: ditolak" in reports[0].text
    assert "Surat 0" in reports[0].text and "rincian" not in reports[0].text
