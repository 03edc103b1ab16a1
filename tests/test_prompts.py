"""Pending prompts survive a new Office (a restart), expire, and are answered exactly once."""

from __future__ import annotations

from datetime import timedelta

from suratbot.services import prompts
from suratbot.services.office import Office
from suratbot.storage.db import create_engine
from tests.conftest import FakeClock
from tests.helpers import letter_at, people


async def test_a_prompt_survives_a_restart_and_is_taken_once(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_1")
    await prompts.ask(
        office, p.kasi, "catatan_revisi", letter_id=letter.id, expected_state="verifikasi_1", payload={"pesan": 42}
    )
    restarted = Office(sop=office.sop, engine=create_engine(str(office.engine.url)), files=office.files, clock=clock)
    try:
        waiting = await prompts.pending(restarted, p.kasi)
        assert waiting is not None
        assert (waiting.kind, waiting.letter_id, waiting.expected_state, waiting.payload) == (
            "catatan_revisi",
            letter.id,
            "verifikasi_1",
            {"pesan": 42},
        )
        taken = await prompts.take(restarted, p.kasi)
        assert taken is not None and taken.kind == "catatan_revisi"
        assert await prompts.take(restarted, p.kasi) is None
    finally:
        await restarted.close()


async def test_asking_again_replaces_and_expired_prompts_are_gone(office: Office, clock: FakeClock) -> None:
    p = await people(office)
    await prompts.ask(office, p.drafter, "metadata", payload={"field": "perihal"})
    await prompts.ask(office, p.drafter, "metadata", payload={"field": "tujuan"}, ttl=timedelta(minutes=5))
    current = await prompts.pending(office, p.drafter)
    assert current is not None and current.payload == {"field": "tujuan"}
    clock.advance(minutes=5)
    assert await prompts.pending(office, p.drafter) is None
    assert await prompts.take(office, p.drafter) is None
    await prompts.ask(office, p.drafter, "metadata")
    await prompts.clear(office, p.drafter)
    assert await prompts.pending(office, p.drafter) is None
    assert await prompts.pending(office, p.kasi) is None
