"""The signing page in a real headless Chromium (Debian's, driven by Playwright) on a phone-sized screen: open the
link, see the letter, a wrong passphrase, the right one, the link refused once used. Screenshots are kept in
`test-artifacts/` (see the README)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from suratbot.services import signing_links
from suratbot.services.office import Office
from suratbot.services.verification import verify_letter
from suratbot.storage.models import Letter, Staff
from tests.helpers import letter_at, people
from tests.web_server import ARTIFACTS, need_chromium
from tests.whatsapp_chat import PASSPHRASE, Harness, running_with_keys


@pytest.fixture
async def harness(office: Office) -> AsyncIterator[Harness]:
    async with running_with_keys(office) as h:
        yield h


async def test_sign_on_the_page_in_a_real_browser(harness: Harness, database_url: str) -> None:
    from playwright.async_api import async_playwright

    chromium = need_chromium()
    h = harness
    p = await people(h.office)
    letter = await letter_at(h.office, p, "tanda_tangan")
    async with h.office.reading() as uow:
        kepala = await uow.session.get_one(Staff, p.kepala)
    url = await signing_links.issue(h.office, kepala, letter)
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    ARTIFACTS.mkdir(exist_ok=True)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
            page = await context.new_page()
            errors: list[str] = []
            # The page's own 400/410 answers show as "Failed to load resource"; anything else (a CSP refusal,
            # a missing stylesheet or preview) is a fault.
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: failed.append(r.url) if r.status == 404 else None)

            await page.goto(url)
            assert await page.title() == "Tanda tangan surat"
            body = await page.inner_text("main")
            assert letter.nomor is not None and letter.nomor in body and "Undangan Rapat Koordinasi" in body
            assert await page.inner_text("#sha256") == letter.current_version
            preview = page.locator("img")
            await preview.wait_for()
            width = await preview.evaluate("img => img.complete && img.naturalWidth")
            assert width and width > 500  # the first page, rendered
            # Fits the phone: nothing wider than the screen.
            assert await page.evaluate("document.documentElement.scrollWidth") <= 390
            await page.screenshot(path=str(ARTIFACTS / f"halaman-tanda-tangan-{backend}.png"), full_page=True)

            await page.fill("#passphrase", "salah-ketik")
            await page.click("button[type=submit]")
            await page.wait_for_selector("#galat")
            assert "salah" in (await page.inner_text("#galat")).lower()
            assert await page.input_value("#passphrase") == ""  # never sent back to the browser
            assert "salah-ketik" not in await page.content()

            await page.fill("#passphrase", PASSPHRASE)
            await page.click("button[type=submit]")
            await page.wait_for_selector("#hasil")
            assert "sudah ditandatangani" in await page.inner_text("#hasil")
            await page.screenshot(path=str(ARTIFACTS / f"halaman-tanda-tangan-selesai-{backend}.png"))

            reused = await page.goto(url)
            assert reused is not None and reused.status == 410
            assert "sudah dipakai" in await page.inner_text("main")
            assert not [e for e in errors if "Failed to load resource" not in e], errors  # no CSP refusal
            assert not failed, failed
        finally:
            await browser.close()

    async with h.office.reading() as uow:
        signed = await uow.session.get_one(Letter, letter.id)
        assert signed.state == "pengiriman"
        assert await uow.session.scalar(select(Letter.id).where(Letter.state == "tanda_tangan")) is None
    result = await verify_letter(h.office, h.office.files.get(signed.current_version))
    assert result.ok and result.nomor == letter.nomor
    assert os.path.getsize(ARTIFACTS / f"halaman-tanda-tangan-{backend}.png") > 10_000
