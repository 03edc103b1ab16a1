"""A person chatting with the core handlers directly (no channel): for handler tests."""

from __future__ import annotations

from suratbot.handlers import router
from suratbot.handlers.types import Contact, Inbound, IncomingFile, Reply, Response
from suratbot.services.office import Office


class Person:
    def __init__(self, office: Office, address: str, phone: str, name: str = "") -> None:
        self.office = office
        self.address = address
        self.phone = phone
        self.name = name
        self.seen: list[Reply] = []
        self.last: Response = Response()

    async def _do(self, inbound: Inbound) -> Response:
        self.last = await router.handle(self.office, inbound)
        self.seen.extend(self.last.replies)
        return self.last

    def _inbound(self, **kw: object) -> Inbound:
        return Inbound(channel="telegram", address=self.address, name=self.name, **kw)  # type: ignore[arg-type]

    async def join(self) -> Response:
        return await self._do(self._inbound(contact=Contact(self.phone, own=True)))

    async def say(self, text: str) -> Response:
        if text.startswith("/"):
            command, _, args = text[1:].partition(" ")
            return await self._do(self._inbound(text=text, command=command.lower(), args=args.strip()))
        return await self._do(self._inbound(text=text))

    async def upload(self, data: bytes, name: str = "konsep.pdf", caption: str | None = None,
                     media_type: str = "application/pdf") -> Response:  # fmt: skip
        async def fetch() -> bytes:
            return data

        file = IncomingFile(name, media_type, len(data), fetch)
        return await self._do(self._inbound(file=file, text=caption))

    async def press(self, label: str, reply: Reply | None = None) -> Response:
        """Press the first button containing `label` on `reply` (default: the newest reply that has one)."""
        for candidate in [reply] if reply else reversed(self.seen):
            for row in candidate.buttons if candidate else []:
                for button in row:
                    if label.lower() in button.label.lower():
                        return await self._do(self._inbound(callback=button.data))
        raise KeyError(f"no button {label!r}")

    async def press_data(self, data: str) -> Response:
        return await self._do(self._inbound(callback=data))

    def text(self) -> str:
        return "\n".join(r.text for r in self.last.replies)
