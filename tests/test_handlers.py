"""The chat core without a channel: the whole SOP through the handlers, and what bad input gets."""

from __future__ import annotations

from sqlalchemy import select

from suratbot.data.concept import example_letter
from suratbot.handlers.notifications import render
from suratbot.handlers.types import Reply
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.storage.models import Letter, OutboxMessage, Staff
from tests.chat import Person

PASSPHRASE = "kunci-demo-2026"
CAPTION = (
    "Perihal: Undangan Rapat; Tujuan: Camat se-Kabupaten Sumedang; Sifat: Biasa; Urgensi: Segera; Klasifikasi: 500.16"
)


async def person(office: Office, jabatan: str, address: str) -> Person:
    async with office.uow() as uow:
        staff = await uow.session.scalar(select(Staff).where(Staff.jabatan == jabatan))
    assert staff is not None
    p = Person(office, address, staff.telepon, staff.nama)
    await p.join()
    p.staff_id = staff.id  # type: ignore[attr-defined]
    return p


async def inbox(office: Office, p: Person) -> list[Reply]:
    """The notifications waiting for `p` (what the outbox sender would deliver), rendered."""
    async with office.uow() as uow:
        rows = (
            await uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.recipient_id == p.staff_id).order_by(OutboxMessage.id)  # type: ignore[attr-defined]
            )
        ).all()
        out = []
        for row in rows:
            letter = await uow.session.get(Letter, row.letter_id) if row.letter_id else None
            out.append(render(office, row, letter))
    p.seen.extend(out)
    return out


async def test_the_whole_sop_through_the_handlers(office: Office) -> None:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    drafter = await person(office, "Analis Perizinan", "101")
    kasi = await person(office, "Kepala Seksi Perizinan Usaha", "102")
    kabid = await person(office, "Kepala Bidang Pelayanan Perizinan", "103")
    clerk = await person(office, "Pengelola Surat", "104")
    kepala = await person(office, "Kepala Dinas", "105")

    await drafter.upload(example_letter("Undangan Rapat", "Camat"), caption=CAPTION)
    assert "Ringkasan konsep surat" in drafter.text()
    await drafter.press("Kirim ke verifikator")
    assert "diajukan" in drafter.text() and "Lina Herlina" in drafter.text()

    [task] = await inbox(office, kasi)
    assert task.document is not None and "Setujui" in str(task.buttons)
    await kasi.press("Revisi", task)
    await kasi.say("Tambahkan jam rapat.")
    assert "dikembalikan" in kasi.text()
    revision = [r for r in await inbox(office, drafter) if "Tambahkan jam rapat." in r.text][-1]
    await drafter.press("Unggah revisi", revision)
    await drafter.upload(example_letter("Undangan Rapat", "Camat", version=2), caption="jam sudah ditambahkan")
    assert "Revisi terkirim" in drafter.text()

    task = (await inbox(office, kasi))[-1]
    await kasi.press("Setujui", task)
    again = await kasi.press("Setujui", task)  # a double tap
    assert again.answer and "tidak berlaku" in again.answer
    await kabid.press("Setujui", (await inbox(office, kabid))[-1])

    await clerk.press("Beri Nomor", (await inbox(office, clerk))[-1])
    assert "Nomor berikutnya: 500.16/1/DPMPTSP/2026" in clerk.text()
    await clerk.press("Beri Nomor (500.16)")
    assert "Nomor 500.16/1/DPMPTSP/2026 diberikan" in clerk.text()

    await kepala.press("Tandatangani", (await inbox(office, kepala))[-1])
    wrong = await kepala.say("bukan-ini")
    assert wrong.delete_inbound and "salah" in kepala.text()
    signed = await kepala.say(PASSPHRASE)
    assert signed.delete_inbound and "sudah ditandatangani" in kepala.text()
    assert signed.replies[0].document is not None

    await clerk.press("Kirim", (await inbox(office, clerk))[-1])
    await clerk.press("SRIKANDI")
    await clerk.say("agenda 123")
    assert "tercatat terkirim melalui SRIKANDI (agenda 123)" in clerk.text()
    news = [r.text for r in await inbox(office, drafter)]
    assert any("telah dikirim" in t for t in news)


async def test_strangers_forwarded_contacts_and_forged_buttons(office: Office) -> None:
    stranger = Person(office, "999", "+6281299999999", "Orang Lain")
    first = await stranger.say("/start")
    assert first.replies[0].ask_contact
    refused = await stranger.join()
    assert "tidak ada di daftar pegawai" in stranger.text()
    assert refused.replies[0].remove_keyboard
    nothing = await stranger.press_data("setujui|abc|verifikasi_1")
    assert nothing.answer and "Bagikan nomor" in nothing.answer
    for _ in range(3):  # trying again and again: refused each time, the admins told only once a day
        await stranger.join()
        assert "tidak ada di daftar pegawai" in stranger.text()
    other = Person(office, "998", "+6281288888888", "Orang Kedua")
    await other.join()
    async with office.uow() as uow:
        notices = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "orang_asing"))).all()
        admins = {row.recipient_id for row in notices}
    assert admins and len(notices) == 2 * len(admins)
    assert sum("+6281299999999" in row.text for row in notices) == len(admins)
    assert sum("+6281288888888" in row.text for row in notices) == len(admins)

    drafter = await person(office, "Analis Perizinan", "201")
    forged = await drafter.press_data("setujui|AAAAAAAAAAAAAAAAAAAAAA|verifikasi_1")
    assert forged.answer and "tidak ditemukan" in forged.answer
    junk = await drafter.press_data("x" * 40)
    assert junk.answer == "Tombol ini tidak dikenal."
    word = await drafter.upload(b"PK\x03\x04...", name="konsep.docx",
                                media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document")  # fmt: skip
    assert "Dokumen Word ini rusak" in word.replies[0].text
    damaged = await drafter.upload(b"%PDF-1.7 truncated", name="rusak.pdf")
    assert "rusak" in damaged.replies[0].text


async def test_an_old_drafts_buttons_never_act_on_the_current_draft(office: Office) -> None:
    drafter = await person(office, "Analis Perizinan", "301")
    await drafter.upload(example_letter("Draf A", "Camat"), caption="Perihal: Draf A; Tujuan: Camat")
    old_sifat = drafter.seen[-1]  # "Apa sifat surat ini?" with the choices of draft A
    await drafter.say("/batal")
    await drafter.upload(
        example_letter("Draf B", "Camat", version=2),
        caption="Perihal: Draf B; Tujuan: Camat; Sifat: Sangat Rahasia; Urgensi: Segera; Klasifikasi: 500.16",
    )
    assert "Sifat: Sangat Rahasia" in drafter.text()
    stale = await drafter.press("Biasa", old_sifat)
    assert stale.answer == "Pilihan ini sudah tidak berlaku."
    summary = await drafter.say("x")  # still the summary of draft B, untouched
    assert "Kirim ke verifikator" in summary.replies[0].text or "Tekan" in summary.replies[0].text
    await drafter.press("Kirim ke verifikator", [r for r in drafter.seen if "Ringkasan" in r.text][-1])
    async with office.uow() as uow:
        letter = await uow.session.scalar(select(Letter))
    assert letter is not None and letter.sifat == "Sangat Rahasia" and letter.perihal == "Draf B"


async def test_a_passphrase_is_never_read_as_a_command_or_left_in_the_chat(office: Office, clock: object) -> None:
    from tests.helpers import letter_at, people

    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan")
    kepala = await person(office, "Kepala Dinas", "401")
    await kepala.press("Tandatangani", [r for r in await inbox(office, kepala) if r.buttons][-1])
    slash = await kepala.say("/rahasia123")  # a passphrase that starts with "/"
    assert slash.delete_inbound and "Perintah" not in kepala.text() and "rahasia123" not in kepala.text()
    clock.advance(minutes=6)  # type: ignore[attr-defined]  # the 5-minute prompt has expired
    late = await kepala.say("kunci-yang-terlambat")
    assert late.delete_inbound and "sudah habis" in kepala.text()
    after = await kepala.say("halo")  # only the first text after the expiry is treated so
    assert not after.delete_inbound
    assert (await reload_state(office, letter.id)) == "tanda_tangan"


async def reload_state(office: Office, letter_id: str) -> str:
    async with office.uow() as uow:
        letter = await uow.session.get(Letter, letter_id)
    assert letter is not None
    return letter.state


async def test_the_outbox_leaves_what_it_cannot_send_for_the_process_that_can(office: Office) -> None:
    from suratbot.bot.outbox import OutboxSender
    from suratbot.handlers.types import Reply as Sent
    from tests.helpers import letter_at, people

    class Recorder:
        name = "telegram"

        def __init__(self) -> None:
            self.sent: list[tuple[str, str]] = []

        async def send(self, address: str, reply: Sent) -> str:
            self.sent.append((address, reply.text))
            return str(len(self.sent))

        async def clear_buttons(self, address: str, message_id: str) -> None:
            return None

    kasi = await person(office, "Kepala Seksi Perizinan Usaha", "501")  # bound on Telegram
    p = await people(office)
    letter = await letter_at(office, p, "verifikasi_2")  # tasks for the Kasi (done by now) and the Kabid, news

    async def statuses() -> dict[int, str]:
        async with office.uow() as uow:
            rows = (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return {r.recipient_id: r.status for r in rows}

    whatsapp_only = OutboxSender(office, {"whatsapp": Recorder()})  # type: ignore[dict-item]
    await whatsapp_only.drain_once()
    seen = await statuses()
    assert seen[kasi.staff_id] == "pending"  # type: ignore[attr-defined]  # bound on Telegram: left for it
    assert seen[p.kabid] == seen[p.drafter] == "tanpa_saluran"  # bound nowhere: parked until they join

    telegram = Recorder()
    sender = OutboxSender(office, {"telegram": telegram})  # type: ignore[dict-item]
    await sender.drain_once()
    assert telegram.sent == []  # the Kasi's task is for a step that is over: not sent, its row retired
    assert (await statuses())[kasi.staff_id] == "usang"  # type: ignore[attr-defined]
    await person(office, "Analis Perizinan", "502")  # the drafter joins: their parked news goes back in line
    await sender.drain_once()
    assert [a for a, _ in telegram.sent] == ["502"] and letter.perihal in telegram.sent[0][1]


async def test_a_row_whose_lease_ran_out_and_was_taken_is_not_sent_twice(office: Office) -> None:
    """Two bot processes on one database: a round that outlived its lease leaves a re-claimed row alone."""
    import time

    from sqlalchemy import update

    from suratbot.bot.outbox import LEASE, OutboxSender
    from suratbot.handlers.types import Reply as Sent
    from tests.helpers import letter_at, people

    class Recorder:
        name = "telegram"

        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, address: str, reply: Sent) -> str:
            self.sent.append(address)
            return str(len(self.sent))

        async def clear_buttons(self, address: str, message_id: str) -> None:
            return None

    await person(office, "Kepala Seksi Perizinan Usaha", "601")
    await letter_at(office, await people(office), "verifikasi_1")
    first, second = Recorder(), Recorder()
    a = OutboxSender(office, {"telegram": first})  # type: ignore[dict-item]
    [claim] = await a._claim(10)
    claim.claimed_at = time.monotonic() - LEASE.total_seconds()  # A was slow: its lease has run out...
    async with office.uow() as uow:  # ...and process B took the row over
        await uow.session.execute(update(OutboxMessage).values(status="sending", external_id="lease:process-b"))
    await a._deliver(claim)
    assert first.sent == []
    b = OutboxSender(office, {"telegram": second})  # type: ignore[dict-item]
    async with office.uow() as uow:  # B's lease expires too (B died): the row is due again
        await uow.session.execute(update(OutboxMessage).values(next_attempt_at=office.now()))
    await b.drain_once()
    assert second.sent == ["601"]
