"""The project's web app on a free 127.0.0.1 port (uvicorn), for the web pages' tests, and Chromium for them."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import uvicorn

from suratbot.bot.app import Bot
from suratbot.bot.web import web_app
from suratbot.services.office import Office
from tests.conftest import postgres_required
from tests.whatsapp_chat import free_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def need_chromium() -> str:
    """Debian's chromium (installed by `make test`); outside CI a machine without it skips the browser tests."""
    if CHROMIUM is None:
        if postgres_required():  # CI: a missing browser is a failure, never a skip
            raise AssertionError("chromium is required here (scripts/ensure-system installs it)")
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return CHROMIUM


@asynccontextmanager
async def serving(office: Office) -> AsyncIterator[str]:
    """The web app alone (no chat channel) for `office`, whose public URL becomes this server's."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    office.public_url = url
    server = uvicorn.Server(
        uvicorn.Config(web_app(Bot(office)), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
        await asyncio.sleep(0.01)
    try:
        yield url
    finally:
        server.should_exit = True
        await task
