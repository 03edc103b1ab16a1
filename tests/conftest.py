"""Shared fixtures: the SOP, a controllable clock, and an office on a real SQLite file or the local PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from suratbot.services.office import Office
from suratbot.services.roster import import_roster
from suratbot.storage.db import create_engine, upgrade
from suratbot.storage.files import FileStore
from suratbot.workflow.sop import Sop, load_sop

WIB = ZoneInfo("Asia/Jakarta")
PG_ADMIN_URL = os.environ.get("SURATBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def roster_text() -> str:
    return resources.files("suratbot.data").joinpath("roster_contoh.csv").read_text("utf-8")


class FakeClock:
    """The office clock in tests: starts on a working Wednesday morning and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 25, 9, 0, tzinfo=WIB)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


def postgres_required() -> bool:
    """In CI (or when asked) a missing PostgreSQL is a failure, never a skip."""
    return bool(os.environ.get("CI")) or os.environ.get("SURATBOT_REQUIRE_POSTGRES") == "1"


async def _pg_reachable() -> str | None:
    engine = create_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("select 1"))
        return None
    except Exception as exc:  # any connection failure means "not here"
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


async def empty_postgres(url: str) -> None:
    """Empty every table of the per-run PostgreSQL database (the schema and its version stay)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            tables = (
                await conn.execute(
                    text(
                        "select tablename from pg_tables where schemaname = 'public' and tablename <> 'alembic_version'"
                    )
                )
            ).scalars()
            names = ", ".join(f'"{t}"' for t in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sop() -> Sop:
    return load_sop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "template.db"

    async def build() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        await upgrade(engine)
        await engine.dispose()  # closing the last connection checkpoints the WAL into the file

    asyncio.run(build())
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once and dropped at the end."""
    problem = asyncio.run(_pg_reachable())
    if problem is not None:
        message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {problem}"
        if postgres_required():
            pytest.fail(message + " (required in CI: start it, do not skip)")
        pytest.skip(message)
    name = f"suratbot_test_{uuid.uuid4().hex[:12]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]

    async def admin(sql: str) -> None:
        engine = create_engine(PG_ADMIN_URL)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
        await engine.dispose()

    async def migrate(url: str) -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{base}/{name}"
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "suratbot.db"
        shutil.copyfile(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str = request.getfixturevalue("postgres_database")

    asyncio.run(empty_postgres(url))
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bare_office(sop: Sop, database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Office]:
    """An office with an empty roster."""
    office = Office(sop=sop, engine=create_engine(database_url), files=FileStore(tmp_path / "data"), clock=clock)
    try:
        yield office
    finally:
        await office.close()


@pytest.fixture
async def office(bare_office: Office) -> Office:
    """An office with the example roster imported."""
    await import_roster(bare_office, roster_text())
    return bare_office


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


SOFTHSM_MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")
SOFTHSM_TOKEN = "suratbot-uji"
SOFTHSM_USER_PIN = "kunci-demo-2026"  # the passphrase the tests type; on a token it is the user PIN


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A real PKCS#11 token: SoftHSM2 (Debian's softhsm2, which `make test` installs), initialised here in a
    folder of its own. The module is loaded once per process, so this token serves the whole run.
    Yields (module path, token label)."""
    module = next((m for m in SOFTHSM_MODULES if Path(m).exists()), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is missing (Debian package softhsm2); `make test` installs it")
        pytest.skip("SoftHSM2 is not installed here (Debian package softhsm2)")
    folder = tmp_path_factory.mktemp("softhsm")
    (folder / "tokens").mkdir()
    config = folder / "softhsm2.conf"
    config.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(config)
    import subprocess

    subprocess.run(
        [util, "--init-token", "--free", "--label", SOFTHSM_TOKEN, "--so-pin", "so-pin-uji-2026",
         "--pin", SOFTHSM_USER_PIN],
        check=True, capture_output=True,
    )  # fmt: skip
    yield module, SOFTHSM_TOKEN
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
