"""The SOP's timer: an APScheduler 3 job that sweeps for late steps, starts and ends Plh periods, sends the
daily digest, and re-arms itself for the next of these.

The database is the source of truth (`suratbot.services.reminders`); the scheduler holds a single job, the
next sweep. At start it sweeps at once, so a reminder that fell due while the bot was down goes out right
away (or at the next office hour); after each sweep it asks the database when the next reminder, repeat or
escalation falls due, and sleeps until then, never longer than the safety net (letters another process
created). A moment on the office clock is turned into a delay, so a test office with a fixed clock works too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from suratbot.services import digest, stand_ins
from suratbot.services.office import Office
from suratbot.services.reminders import SweepResult, next_sweep_at, sweep

log = logging.getLogger(__name__)

RETRY = timedelta(minutes=1)  # after a sweep that failed (the database away, say)
MIN_GAP = timedelta(seconds=1)  # between two sweeps


class ReminderScheduler:
    """Sweeps when a reminder falls due; `on_sent` is told when a sweep queued notifications (the outbox)."""

    JOB = "sapu-pengingat"

    def __init__(self, office: Office, *, on_sent: Callable[[], None] | None = None) -> None:
        self.office = office
        self.on_sent = on_sent
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self.last: SweepResult | None = None
        self.next_at: datetime | None = None  # on the office clock

    def start(self) -> None:
        """Start (inside the running event loop) with a sweep right away."""
        self.scheduler.start()
        self._arm(self.office.now())

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def tick(self) -> SweepResult:
        """One sweep, then the next one armed."""
        now = self.office.now()
        try:
            changed = await stand_ins.apply_due(self.office, now)  # Plh periods that start or end now
            self.last = await sweep(self.office, now)
            digests = await digest.send_if_due(self.office, now)
            if (changed or digests or self.last.reminded or self.last.escalated) and self.on_sent is not None:
                self.on_sent()
            # In office hours a sweep that did not stop at its limit left nothing due (outside them it sent nothing)
            swept = self.office.sop.calendar.is_working_time(now) and not self.last.more
            following = min(
                await next_sweep_at(self.office, swept=swept),
                digest.next_digest_at(self.office.sop, now),
            )
            change = await stand_ins.next_change_at(self.office, now)
            if change is not None and change < following:
                following = change
        except Exception:
            log.exception("reminder sweep failed; trying again in a minute")
            self._arm(now + RETRY)
            return SweepResult()
        self._arm(now + MIN_GAP if self.last.more else max(following, now + MIN_GAP))
        return self.last

    def _arm(self, moment: datetime) -> None:
        """Run the sweep at `moment` of the office clock (as a delay from now, in real time)."""
        self.next_at = moment
        delay = max(moment - self.office.now(), timedelta())
        self.scheduler.add_job(
            self.tick,
            "date",
            run_date=datetime.now(self.scheduler.timezone) + delay,
            id=self.JOB,
            replace_existing=True,
            misfire_grace_time=None,  # late (the machine was asleep) is still run, once
            coalesce=True,
        )
