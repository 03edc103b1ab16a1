"""The page a letter's QR code opens and the office dashboard: in a real headless Chromium (Debian's, driven by
Playwright) for what a person does, and over HTTP for limits, headers and refusals. Screenshots go to
`test-artifacts/` (see the README)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from suratbot.bot.demo import run_demo
from suratbot.data.concept import example_letter
from suratbot.handlers import router
from suratbot.handlers.types import Inbound
from suratbot.services import web_sessions
from suratbot.services.keystore import make_demo_keys
from suratbot.services.office import Office
from suratbot.services.signature import sign_letter
from suratbot.storage.models import ChannelBinding, Letter, Staff
from suratbot.workflow.letter import LetterMeta
from suratbot.workflow.sop import Sop
from tests.conftest import FakeClock
from tests.helpers import META, letter_at, people
from tests.web_server import ARTIFACTS, need_chromium, serving

PASSPHRASE = "kunci-demo-2026"


async def signed_letter(office: Office, meta: LetterMeta = META) -> Letter:
    """A letter through the SOP up to a real signature (pyHanko, the demo keys)."""
    p = await people(office)
    letter = await letter_at(office, p, "tanda_tangan", meta)
    return await sign_letter(office, letter.id, p.kepala, PASSPHRASE)


@pytest.fixture
async def keyed(office: Office) -> Office:
    await make_demo_keys(office, passphrase=PASSPHRASE, replace=False)
    return office


def _modified(pdf: bytes) -> bytes:
    """The signed file with one byte of its first stream changed (inside the signed range; the file still
    parses)."""
    spot = pdf.find(b"stream\n") + len(b"stream\n") + 10
    assert spot > 20
    return pdf[:spot] + bytes([pdf[spot] ^ 0x01]) + pdf[spot + 1 :]


async def _upload(page: object, path: Path) -> str:
    await page.set_input_files("#berkas", str(path))  # type: ignore[attr-defined]
    await page.click("button[type=submit]")  # type: ignore[attr-defined]
    await page.wait_for_selector("#hasil")  # type: ignore[attr-defined]
    return await page.inner_text("#hasil")  # type: ignore[attr-defined]


async def test_the_qr_page_of_the_demos_letter_and_uploads_in_a_browser(sop: Sop, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    chromium = need_chromium()
    demo = tmp_path / "demo-output"
    await run_demo(sop, demo, io.StringIO())
    office = Office.open(sop, f"sqlite+aiosqlite:///{demo / 'suratbot.db'}", demo / "data")
    try:
        async with office.reading() as uow:
            letter = (await uow.session.scalars(select(Letter))).one()
        original = demo / "surat-ditandatangani.pdf"
        modified, unrelated = tmp_path / "diubah.pdf", tmp_path / "lain.pdf"
        modified.write_bytes(_modified(original.read_bytes()))
        unrelated.write_bytes(example_letter("Surat lain", "Siapa saja"))
        ARTIFACTS.mkdir(exist_ok=True)
        async with serving(office) as url, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
                errors: list[str] = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                response = await page.goto(office.verify_url(letter.id))  # the QR code's address
                assert response is not None and response.status == 200
                body = await page.inner_text("main")
                assert letter.nomor is not None and letter.nomor in body and letter.perihal in body
                assert "Dr. H. Asep Suryana, Kepala Dinas" in body and "Waktu tanda tangan" in body
                assert await page.inner_text("#sha256") == letter.current_version
                assert "berlaku" in await page.inner_text("#status")
                assert await page.evaluate("document.documentElement.scrollWidth") <= 390
                await page.screenshot(path=str(ARTIFACTS / "halaman-verifikasi.png"), full_page=True)

                assert (await _upload(page, original)).startswith("SAH")
                assert await page.evaluate("document.documentElement.scrollWidth") <= 390  # the long hash wraps
                await page.screenshot(path=str(ARTIFACTS / "halaman-verifikasi-sah.png"), full_page=True)
                changed = await _upload(page, modified)
                assert changed.startswith("TIDAK SAH") and "diubah" in changed
                other = await _upload(page, unrelated)
                assert other.startswith("TIDAK SAH") and "bukan surat yang ditandatangani kantor ini" in other
                assert not [e for e in errors if "Failed to load resource" not in e], errors  # no CSP refusal

                missing = await page.goto(f"{url}/v/TidakAdaSuratDenganKodeIni")
                assert missing is not None and missing.status == 404
                assert "Surat tidak ditemukan" in await page.inner_text("main")
            finally:
                await browser.close()
    finally:
        await office.close()


async def test_a_secret_letter_shows_no_subject(keyed: Office) -> None:
    secret = LetterMeta("Penilaian Kinerja Pegawai X", "Inspektorat", "Rahasia", "Biasa", "800.1")
    letter = await signed_letter(keyed, secret)
    async with serving(keyed) as url, httpx.AsyncClient() as client:
        page = await client.get(f"{url}/v/{letter.id}")
    assert page.status_code == 200
    assert "Penilaian Kinerja" not in page.text and "Inspektorat" not in page.text
    assert "Dokumen terverifikasi" in page.text and (letter.nomor or "-") in page.text
    assert "Penanda tangan" not in page.text and letter.current_version not in page.text  # nothing more


async def test_uploads_are_limited_in_size_and_rate_and_every_page_has_its_headers(
    keyed: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    letter = await signed_letter(keyed)
    signed = keyed.files.get(letter.current_version)
    keyed.max_file_bytes = 200_000
    async with serving(keyed) as url, httpx.AsyncClient() as client:
        big = await client.post(f"{url}/v/{letter.id}", files={"berkas": ("besar.pdf", b"%PDF" + b"0" * 400_000)})
        assert big.status_code == 413 and "terlalu besar" in big.text

        async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: refused as it streams past the limit
            head = b'--b\r\nContent-Disposition: form-data; name="berkas"; filename="b.pdf"\r\n\r\n'
            yield head
            for _ in range(10):
                yield b"0" * 50_000

        streamed = await client.post(f"{url}/v/{letter.id}", content=chunked(),
                                     headers={"Content-Type": "multipart/form-data; boundary=b"})  # fmt: skip
        assert streamed.status_code == 413 and "terlalu besar" in streamed.text
        empty = await client.post(f"{url}/v/{letter.id}", files={"berkas": ("kosong.pdf", b"")})
        assert empty.status_code == 400 and "kosong" in empty.text.lower()
        codes = []
        for _ in range(10):
            codes.append((await client.post(f"{url}/v/{letter.id}", files={"berkas": ("s.pdf", signed)})).status_code)
        assert codes == [200] * 7 + [429] * 3  # 10 a minute per address (the three above counted)
        refused = await client.post(f"{url}/v/{letter.id}", files={"berkas": ("s.pdf", signed)})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
        for path in (f"/v/{letter.id}", "/v/tidak-ada", "/dasbor/masuk", "/tidak/ada"):
            response = await client.get(url + path)
            csp = response.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors" in csp, path
            assert response.headers["referrer-policy"] == "no-referrer", path
            assert response.headers["x-content-type-options"] == "nosniff", path
            assert "Traceback" not in response.text and '<html lang="id">' in response.text, path


async def test_the_dashboard_login_link_works_once_in_a_browser(keyed: Office, clock: FakeClock) -> None:
    from playwright.async_api import async_playwright

    chromium = need_chromium()
    p = await people(keyed)
    await signed_letter(keyed)  # one signed (done steps for the chart)
    late = await letter_at(keyed, p, "verifikasi_1")
    clock.advance(hours=3)  # the Kasi is late with it
    async with keyed.reading() as uow:
        sekretaris = await uow.session.get_one(Staff, p.sekretaris)
    async with serving(keyed) as url, async_playwright() as pw:
        link = await web_sessions.issue_link(keyed, sekretaris)
        assert link.startswith(url + "/dasbor/masuk/")
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            visitor = await (await browser.new_context()).new_page()
            await visitor.goto(url + "/dasbor")  # no session: sent to the explanation
            assert visitor.url == url + "/dasbor/masuk"
            assert "/dasbor" in await visitor.inner_text("#penjelasan")

            context = await browser.new_context(viewport={"width": 1280, "height": 900})
            page = await context.new_page()
            await page.goto(link)  # a link preview would stop here: nothing is spent by opening it
            await page.click("#masuk")
            await page.wait_for_selector("#antrian")
            await page.wait_for_load_state("load")
            assert page.url == url + "/dasbor"
            queue = await page.inner_text("#antrian")
            assert "TERLAMBAT" in queue and late.perihal in queue
            first_row = await page.inner_text("#antrian tr:nth-child(2)")
            assert "TERLAMBAT" in first_row  # the late one first
            assert await page.evaluate("document.querySelector('img').naturalWidth") > 300  # the month's chart
            assert "500.16" in await page.inner_text("#agenda")
            refresh = await page.get_attribute("meta[http-equiv=refresh]", "content")
            assert refresh == "30"
            cookie = next(c for c in await context.cookies() if c["name"] == "suratbot_sesi")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dasbor"
            assert not cookie["secure"]  # http here; Secure when the public URL is https
            await page.fill("#cari", "tidak-ada-yang-cocok")
            await page.press("#cari", "Enter")
            await page.wait_for_url("**/dasbor?cari=*")
            assert "Tidak ada." in await page.inner_text("#agenda")
            await page.goto(url + "/dasbor")
            await page.screenshot(path=str(ARTIFACTS / "dasbor.png"), full_page=True)
            async with page.expect_download() as download:
                await page.click("text=Unduh CSV")
            saved = await (await download.value).path()
            assert "500.16" in Path(saved).read_text("utf-8-sig")

            again = await (await browser.new_context()).new_page()
            await again.goto(link)  # the same link, a second time
            assert "tidak berlaku" in (await again.inner_text("main")).lower()

            await page.click("#keluar")
            await page.goto(url + "/dasbor")
            assert page.url == url + "/dasbor/masuk"  # logged out
        finally:
            await browser.close()


async def test_the_dasbor_command_gives_a_link_to_leaders_only(office: Office) -> None:
    p = await people(office)
    async with office.uow() as uow:
        for n, staff_id in enumerate((p.kepala, p.drafter)):
            uow.session.add(ChannelBinding(staff_id=staff_id, channel="telegram", address=str(7000 + n),
                                           bound_at=office.now(), last_seen_at=office.now()))  # fmt: skip
    kepala = await router.handle(office, Inbound(channel="telegram", address="7000", command="dasbor", text="/dasbor"))
    assert "/dasbor/masuk/" in kepala.replies[0].text and "sekali pakai" in kepala.replies[0].text
    drafter = await router.handle(office, Inbound(channel="telegram", address="7001", command="dasbor", text="/dasbor"))
    assert "hanya untuk" in drafter.replies[0].text and "/dasbor/masuk/" not in drafter.replies[0].text


async def test_an_expired_login_link_and_a_session_of_someone_who_lost_the_role(
    keyed: Office, clock: FakeClock
) -> None:
    p = await people(keyed)
    async with keyed.reading() as uow:
        sekretaris = await uow.session.get_one(Staff, p.sekretaris)
    async with serving(keyed) as url, httpx.AsyncClient(follow_redirects=False) as client:
        stale = await web_sessions.issue_link(keyed, sekretaris)
        clock.advance(minutes=11)
        assert (await client.post(stale)).status_code == 410
        fresh = await web_sessions.issue_link(keyed, sekretaris)
        login = await client.post(fresh)
        assert login.status_code == 303 and login.headers["location"] == "/dasbor"
        assert (await client.get(url + "/dasbor")).status_code == 200
        async with keyed.uow() as uow:  # taken off the roster: the session no longer opens anything
            await uow.session.execute(Staff.__table__.update().where(Staff.id == sekretaris.id).values(active=False))
        gone = await client.get(url + "/dasbor")
        assert gone.status_code == 303 and gone.headers["location"] == "/dasbor/masuk"


async def test_an_unsigned_letter_and_odd_ids_tell_nothing_more(keyed: Office) -> None:
    p = await people(keyed)
    numbered = await letter_at(keyed, p, "tanda_tangan")  # its QR is printed already, but it is not signed
    async with serving(keyed) as url, httpx.AsyncClient() as client:
        page = await client.get(f"{url}/v/{numbered.id}")
        assert page.status_code == 200 and "belum ditandatangani" in page.text
        assert numbered.perihal not in page.text and (numbered.nomor or "-") in page.text
        for odd in ("%00x", "a" * 65, "..%2F..%2Fetc"):
            assert (await client.get(f"{url}/v/{odd}")).status_code == 404, odd


async def test_login_and_logout_forms_from_another_site_are_refused(keyed: Office) -> None:
    p = await people(keyed)
    async with keyed.reading() as uow:
        kepala = await uow.session.get_one(Staff, p.kepala)
    async with serving(keyed) as url, httpx.AsyncClient(follow_redirects=False) as client:
        link = await web_sessions.issue_link(keyed, kepala)
        forged = await client.post(link, headers={"Sec-Fetch-Site": "cross-site"})
        assert forged.status_code == 403 and "suratbot_sesi" not in forged.headers.get("set-cookie", "")
        other = await client.post(link, headers={"Origin": "https://penyerang.example"})
        assert other.status_code == 403
        ok = await client.post(link, headers={"Sec-Fetch-Site": "same-origin", "Origin": url})
        assert ok.status_code == 303  # the link was not spent by the refused attempts
        assert (await client.post(url + "/dasbor/keluar", headers={"Sec-Fetch-Site": "cross-site"})).status_code == 403
        assert (await client.get(url + "/dasbor")).status_code == 200  # still logged in
        bad_month = await client.get(url + "/dasbor/agenda.csv?bulan=0000-01")
        assert bad_month.status_code == 400


def test_spreadsheet_cells_never_run_as_formulas_and_ipv6_clients_count_by_their_64() -> None:
    from datetime import date

    from suratbot.bot.verify_page import RateLimit
    from suratbot.services.reports import RegisterRow, _register_values

    row = RegisterRow("500/1", date(2026, 11, 26), "=HYPERLINK(\"http://x\")", "+62 Camat", "Biasa", "Biasa",
                      "500", "-", "-", "-", "terkirim")  # fmt: skip
    values = _register_values(1, row)
    assert values[3] == '\'=HYPERLINK("http://x")' and values[4] == "'+62 Camat" and values[1] == "500/1"
    limit = RateLimit(2, overall=100)
    assert limit.allow("2001:db8::1") and limit.allow("2001:db8::2")
    assert not limit.allow("2001:db8::ffff")  # the same /64
    assert limit.allow("2001:db8:0:1::1") and limit.allow("192.0.2.1")
