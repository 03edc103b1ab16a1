"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from suratbot.storage import db
from suratbot.storage.models import Base


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        assert await db.current_revision(engine) == db.head_revision()

        def diff(connection):
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)

        async with engine.connect() as conn:
            differences = await conn.run_sync(diff)
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert differences == []
        assert set(Base.metadata.tables) <= tables
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_harmless(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        await db.upgrade(engine)
        assert await db.current_revision(engine) == db.head_revision()
    finally:
        await engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'x.db'}")  # a plain URL gets the async driver
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
    finally:
        await engine.dispose()


def test_urls_get_async_drivers() -> None:
    assert db.normalise_url("sqlite:///./data/x.db") == "sqlite+aiosqlite:///./data/x.db"
    assert db.normalise_url("postgresql://u:p@h/d") == "postgresql+asyncpg://u:p@h/d"
    assert db.describe("postgresql://u:secret@h/d")["url"] == "postgresql+asyncpg://u:***@h/d"
