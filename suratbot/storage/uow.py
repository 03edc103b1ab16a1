"""The unit of work: one database transaction per service call, with the office's file store beside it."""

from __future__ import annotations

from types import TracebackType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from suratbot.storage.db import READ_ONLY
from suratbot.storage.files import FileStore


class UnitOfWork:
    """`async with UnitOfWork(...) as uow:` commits on success and rolls back on any exception."""

    def __init__(self, sessions: async_sessionmaker[Any], files: FileStore, *, read_only: bool = False) -> None:
        self._sessions = sessions
        self.files = files
        self.read_only = read_only  # on SQLite: no write lock taken (a write in it fails instead of queueing)
        self._session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        if self.read_only:
            await self._session.connection(execution_options={READ_ONLY: True})
        else:
            await self._session.begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if exc_type is None:
                await session.commit()
            else:
                await session.rollback()
        finally:
            await session.close()
            self._session = None
