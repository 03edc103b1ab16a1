"""The outbox sender: delivers pending notifications on each person's channel, with retries and within the
platform's rate limits (overall and per chat); a restart sends what was pending.

A row is claimed (status `sending`, with a lease) in its own transaction before it is sent, so two bot processes
on one PostgreSQL never send it twice; a process that dies mid-send leaves the lease to expire and the row is
sent again then (at least once: the only double send is a crash between Telegram's answer and our commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select, update

from suratbot.handlers.notifications import render
from suratbot.handlers.types import Reply
from suratbot.services.identity import UNBOUND
from suratbot.services.notices import tell_admins_undelivered
from suratbot.services.office import Office
from suratbot.services.signing_links import page_reachable
from suratbot.storage.models import ChannelBinding, Letter, OutboxMessage, Staff

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
RETIRED = "usang"  # a sent task whose letter moved on: its buttons were taken off


class RetryLater(Exception):
    """The platform asked us to wait (HTTP 429 retry_after) or the network failed: try again later.
    `everyone`: the wait holds for every chat of the process (Telegram's flood wait); else for this one."""

    def __init__(self, seconds: float, reason: str, *, everyone: bool = True) -> None:
        super().__init__(reason)
        self.seconds = seconds
        self.everyone = everyone


WHATSAPP_WINDOW = timedelta(hours=24)  # WhatsApp takes a free-form message only within 24 h of the person's last
CAN_DELETE = frozenset({"telegram"})  # channels where the bot can delete a person's message (a passphrase)
OUTSIDE_WINDOW = "outside_window"  # platform_status of a row WhatsApp refused for that (131047): send the template


def window_open(binding: ChannelBinding, now: datetime, refused_at: datetime | None = None) -> bool:
    """Whether a free-form message reaches this chat now: always, except on WhatsApp after 24 quiet hours, or
    when WhatsApp refused this message for that (`refused_at`) and the person has not written since."""
    if binding.channel != "whatsapp":
        return True
    if binding.last_seen_at is None or now - binding.last_seen_at >= WHATSAPP_WINDOW:
        return False
    return refused_at is None or binding.last_seen_at > refused_at


def _pick(
    bindings: list[ChannelBinding],
    preferred: str | None,
    now: datetime,
    *,
    sign_in_chat: bool = False,
    refused_at: datetime | None = None,
) -> ChannelBinding | None:
    """The binding a notification goes by: the channel the person chose (/saluran), else the one they used last,
    leaving WhatsApp for another channel while its 24-hour window is closed (if they have none, WhatsApp still:
    as the template). `sign_in_chat`: a task to sign while the signing page cannot be reached from a phone goes
    where a passphrase typed in the chat can be deleted (Telegram), if they have it."""
    if not bindings:
        return None
    if sign_in_chat:
        deletable = [b for b in bindings if b.channel in CAN_DELETE]
        if deletable:
            return deletable[-1]
    chosen = [b for b in bindings if b.channel == preferred]
    if chosen:
        return chosen[-1]
    open_ = [b for b in bindings if window_open(b, now, refused_at)]
    return (open_ or bindings)[-1]


class Undeliverable(Exception):
    """The platform will never take this message (the person blocked the bot, the chat is gone)."""


class WindowClosed(Undeliverable):
    """WhatsApp's 24-hour window is closed: this message as such will not go, the approved template will."""


class Channel(Protocol):
    name: str

    async def send(self, address: str, reply: Reply) -> str:
        """Deliver one message; returns its id on the platform. Raises RetryLater or Undeliverable."""
        ...

    async def clear_buttons(self, address: str, message_id: str) -> None: ...


@dataclass
class Limits:
    """Telegram's: about 30 messages a second overall, and one a second to the same chat."""

    per_second: float = 30.0
    per_chat_interval: float = 1.0
    concurrency: int = 16  # messages in flight at once (real round trips take ~100 ms)


@dataclass
class _Claim:
    row_id: int
    channel: str
    address: str
    lease: str
    claimed_at: float  # time.monotonic() of the claim (or of the last renewal)
    outside_window: bool = False  # only a template reaches them now (WhatsApp)


class _Pacer:
    """Spaces sends: one every 1/rate seconds overall, one every `interval` seconds per chat."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._next_global = 0.0
        self._next_chat: dict[str, float] = defaultdict(float)
        self._lock = asyncio.Lock()

    async def wait(self, chat: str, stopping: asyncio.Event) -> bool:
        """Wait for this chat's turn, then for a slot of the overall rate (in that order: a chat with a backlog
        waits on its own, without holding back everyone else's slots); False when the sender is stopping."""
        now = time.monotonic()
        chat_at = max(now, self._next_chat[chat])
        self._next_chat[chat] = chat_at + self.limits.per_chat_interval
        if not await self._sleep_until(chat_at, stopping):
            return False
        async with self._lock:
            at = max(time.monotonic(), self._next_global)
            self._next_global = at + 1.0 / self.limits.per_second
        return await self._sleep_until(at, stopping)

    @staticmethod
    async def _sleep_until(moment: float, stopping: asyncio.Event) -> bool:
        delay = moment - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):  # the usual end: the delay has passed
                await asyncio.wait_for(stopping.wait(), delay)
        return not stopping.is_set()

    def pause(self, seconds: float) -> None:
        """A 429: nobody sends for `seconds`."""
        self._next_global = max(self._next_global, time.monotonic() + seconds)


class OutboxSender:
    """Drains the outbox: `wake()` after a change, `run()` until stopped (it also polls every few seconds)."""

    def __init__(
        self, office: Office, channels: dict[str, Channel], *, limits: Limits | None = None, poll: float = 2.0
    ) -> None:
        self.office = office
        self.channels = channels
        self.limits = limits or Limits()
        self.poll = poll
        self._pacer = _Pacer(self.limits)
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()  # no new send starts; a row waiting its turn goes back to the queue
        self.sent = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set; a send in flight then finishes, and nothing new starts."""
        watcher = asyncio.ensure_future(self._watch(stop))
        try:
            await self.requeue_bound()
            await self._loop(stop)
        finally:
            watcher.cancel()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping.set()

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()  # before draining: a wake-up that comes during the round is not lost
            try:
                claimed = 1
                while claimed and not stop.is_set():  # round after round while there is something due
                    claimed = await self.drain_once()
            except Exception:  # keep the bot alive; the rows stay pending and are tried again
                log.exception("outbox: a delivery round failed")
            if stop.is_set():
                break
            waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
            done, pending = await asyncio.wait(waiters, timeout=self.poll, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if not done:
                # A quiet moment: rows parked for someone who bound meanwhile go back in line. (On PostgreSQL a
                # claim can park a row in the instant a person binds; this picks it up within one poll.)
                try:
                    await self.requeue_bound()
                except Exception:
                    log.exception("outbox: could not put parked rows back in line")

    async def requeue_bound(self) -> int:
        """Rows parked for people without a chat account who have one on our channels by now go back in line."""
        async with self.office.uow() as uow:
            bound = select(ChannelBinding.staff_id).where(ChannelBinding.channel.in_(list(self.channels)))
            result = await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == UNBOUND, OutboxMessage.recipient_id.in_(bound))
                .values(status="pending", next_attempt_at=self.office.now())
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def drain_once(self, limit: int = 200) -> int:
        """Claim up to `limit` due rows and deliver them; returns how many were claimed."""
        if self._stopping.is_set():
            return 0
        claimed = await self._claim(limit)
        if not claimed:
            return 0
        by_chat: dict[tuple[str, str], list[_Claim]] = defaultdict(list)
        for claim in claimed:
            by_chat[(claim.channel, claim.address)].append(claim)
        gate = asyncio.Semaphore(self.limits.concurrency)

        async def one_chat(rows: list[_Claim]) -> None:
            for claim in rows:  # in order, one at a time: a chat reads its messages in order
                async with gate:
                    await self._deliver(claim)

        await asyncio.gather(*(one_chat(rows) for rows in by_chat.values()))
        return len(claimed)

    async def _claim(self, limit: int) -> list[_Claim]:
        now = self.office.now()
        lease = f"lease:{secrets.token_hex(8)}"  # marks the rows as this round's while they are being sent
        claimed_at = time.monotonic()
        async with self.office.uow() as uow:
            session = uow.session
            ours = select(ChannelBinding.staff_id).where(ChannelBinding.channel.in_(list(self.channels)))
            anywhere = select(ChannelBinding.staff_id)
            due = (
                select(OutboxMessage)
                .where(
                    or_(OutboxMessage.status == "pending", OutboxMessage.status == "sending"),
                    OutboxMessage.next_attempt_at <= now,
                    # Ours to send: bound on a channel this process serves, or bound nowhere (parked below);
                    # someone bound only elsewhere is left to the process that serves that channel.
                    or_(OutboxMessage.recipient_id.in_(ours), OutboxMessage.recipient_id.not_in(anywhere)),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = (await session.scalars(due)).all()
            if not rows:
                return []
            recipients = {r.recipient_id for r in rows}
            bindings = (
                await session.scalars(
                    select(ChannelBinding)
                    .where(ChannelBinding.staff_id.in_(recipients), ChannelBinding.channel.in_(list(self.channels)))
                    .order_by(ChannelBinding.last_seen_at.asc().nulls_first())
                )
            ).all()
            where: dict[int, list[ChannelBinding]] = defaultdict(list)
            for binding in bindings:  # least recently used first
                where[binding.staff_id].append(binding)
            preferred = dict(
                (await session.execute(select(Staff.id, Staff.preferred_channel).where(Staff.id.in_(recipients)))).all()
            )
            page = page_reachable(self.office)
            claimed = []
            for row in rows:
                refused_at = row.sent_at if row.platform_status == OUTSIDE_WINDOW else None
                binding = _pick(
                    where.get(row.recipient_id, []),
                    preferred.get(row.recipient_id),
                    now,
                    sign_in_chat=not page and "tandatangani" in (row.actions or []),
                    refused_at=refused_at,
                )
                if binding is None:
                    row.status = UNBOUND  # sent when they bind (identity.bind puts it back in line)
                    continue
                row.status = "sending"
                row.channel = binding.channel
                row.next_attempt_at = now + LEASE
                row.external_id = lease
                outside = not window_open(binding, now, refused_at)
                claimed.append(_Claim(row.id, binding.channel, binding.address, lease, claimed_at, outside))
            return claimed

    async def _still_ours(self, claim: _Claim) -> bool:
        """A round that took long (a big backlog to one chat) renews its lease before sending; if the lease ran
        out and another process took the row meanwhile, this one leaves it alone."""
        if time.monotonic() - claim.claimed_at < LEASE.total_seconds() / 2:
            return True
        async with self.office.uow() as uow:
            result = await uow.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claim.row_id,
                    OutboxMessage.status == "sending",
                    OutboxMessage.external_id == claim.lease,
                )
                .values(next_attempt_at=self.office.now() + LEASE)
            )
        claim.claimed_at = time.monotonic()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def _deliver(self, claim: _Claim) -> None:
        row_id, channel_name, address = claim.row_id, claim.channel, claim.address
        async with self.office.reading() as uow:
            row = await uow.session.get(OutboxMessage, row_id)
            if row is None or row.status != "sending":
                return
            letter = await uow.session.get(Letter, row.letter_id) if row.letter_id else None
        if letter is not None and row.expected_state and letter.state != row.expected_state:
            # The step moved on before we could tell them: no stale buttons, no stale reminder or escalation.
            await self._after(row_id, row.attempts, RETIRED, self.office.now(), "surat sudah berpindah tahap")
            return
        reply = render(self.office, row, letter)
        attempts = row.attempts
        channel = self.channels[channel_name]
        if self._stopping.is_set() or not await self._pacer.wait(address, self._stopping):
            # Stopping: hand the row back untouched, due at once, for this process's successor.
            await self._after(row_id, attempts, "pending", self.office.now(), "bot berhenti sebelum mengirim")
            return
        if not await self._still_ours(claim):
            return
        now = self.office.now()
        outside = getattr(channel, "send_outside_window", None)
        try:
            try:
                if claim.outside_window and outside is not None:
                    external_id = await outside(address, reply, row_id)
                else:
                    external_id = await channel.send(address, reply)
            except WindowClosed:
                if outside is None:
                    raise
                external_id = await outside(address, reply, row_id)
        except RetryLater as wait:
            if wait.seconds <= 60 and wait.everyone:  # a flood wait: everyone waits; a long outage is the row's own
                self._pacer.pause(wait.seconds)
            await self._after(row_id, attempts + 1, "pending", now + timedelta(seconds=max(wait.seconds, 1)), str(wait))
            return
        except Undeliverable as exc:
            await self._after(row_id, attempts + 1, "failed", now, str(exc),
                              report="ditolak oleh aplikasinya (bot diblokir, akun tidak ada, atau sejenisnya)")  # fmt: skip
            return
        except Exception as exc:  # anything else: back off, and give up after MAX_ATTEMPTS
            log.warning("outbox: row %s to %s failed: %s", row_id, channel_name, type(exc).__name__)
            status = "failed" if attempts + 1 >= MAX_ATTEMPTS else "pending"
            backoff = timedelta(seconds=min(2 ** (attempts + 1), 300))
            report = f"gagal {attempts + 1} kali berturut-turut" if status == "failed" else None
            await self._after(row_id, attempts + 1, status, now + backoff, type(exc).__name__, report=report)
            return
        async with self.office.uow() as uow:
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                # a new message on the platform: its delivery status starts afresh
                .values(
                    status="sent", attempts=attempts + 1, sent_at=now, external_id=external_id, platform_status=None
                )
            )
        self.sent += 1
        if row.letter_id is not None and row.actions:
            await self._retire_stale_buttons(row.letter_id)

    async def _after(
        self, row_id: int, attempts: int, status: str, next_at: datetime, error: str, *, report: str | None = None
    ) -> None:
        """The row's new status; `report`: it failed for good, and the admins hear why (in Indonesian) so that
        someone can tell the person another way."""
        async with self.office.uow() as uow:
            await uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(status=status, attempts=attempts, next_attempt_at=next_at, last_error=error[:500])
            )
            if report is not None:
                row = await uow.session.get_one(OutboxMessage, row_id)
                await tell_admins_undelivered(uow.session, row, row.channel, report, self.office.now())

    async def _retire_stale_buttons(self, letter_id: str) -> None:
        """Earlier task messages of this letter whose step is over lose their buttons."""
        async with self.office.reading() as uow:
            letter = await uow.session.get(Letter, letter_id)
            if letter is None:
                return
            stale = (
                await uow.session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.letter_id == letter_id,
                        OutboxMessage.status == "sent",
                        OutboxMessage.expected_state.is_not(None),
                        OutboxMessage.expected_state != letter.state,
                        OutboxMessage.external_id.is_not(None),
                    )
                )
            ).all()
            targets = [(row.id, row.channel, row.recipient_id, row.external_id) for row in stale if row.actions]
            addresses = {}
            if targets:
                bindings = (
                    await uow.session.scalars(
                        select(ChannelBinding).where(ChannelBinding.staff_id.in_({t[2] for t in targets}))
                    )
                ).all()
                addresses = {(b.channel, b.staff_id): b.address for b in bindings}
        if not targets:
            return
        async with self.office.uow() as uow:
            await uow.session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_([t[0] for t in targets])).values(status=RETIRED)
            )
        for _, channel_name, staff_id, message_id in targets:
            channel = self.channels.get(channel_name or "")
            address = addresses.get((channel_name, staff_id))
            if channel is None or address is None or message_id is None:
                continue
            try:
                await channel.clear_buttons(address, message_id)
            except Exception as exc:  # an old message may be gone or too old to edit: nothing to do
                log.info("outbox: could not clear buttons of message %s: %s", message_id, type(exc).__name__)
