"""Office-hours clock that turns SLA minutes into deadlines on the office's working calendar."""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["WEEKDAY_NAMES", "CalendarConfigError", "OfficeCalendar"]

#: Config keys of the seven weekdays, in ``date.weekday()`` order (0 = Monday).
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: How far ahead (in days without any working interval) a search may go before giving up.
MAX_SEARCH_DAYS = 3 * 366

_CONFIG_ROOT = "calendar"
_DEFAULT_TIMEZONE = "Asia/Jakarta"
_CONFIG_KEYS = frozenset({"timezone", "round_the_clock", "holidays", *WEEKDAY_NAMES})
_INTERVAL_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ONE_MINUTE = timedelta(minutes=1)

_Interval = tuple[time, time]
_DayHours = tuple[_Interval, ...]
_WeekHours = tuple[_DayHours, ...]

_MON_THU: _DayHours = ((time(7, 30), time(16, 0)),)
_FRI: _DayHours = ((time(7, 30), time(16, 30)),)
#: Mon–Thu 07:30–16:00, Fri 07:30–16:30, Sat/Sun closed.
DEFAULT_HOURS: _WeekHours = (_MON_THU, _MON_THU, _MON_THU, _MON_THU, _FRI, (), ())


class CalendarConfigError(ValueError):
    """A bad value in a ``[calendar]`` config table; ``key`` is the dotted path of the offending value."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message

    def __reduce__(self) -> tuple[type[CalendarConfigError], tuple[str, str]]:
        return (type(self), (self.key, self.message))


@dataclass(frozen=True)
class OfficeCalendar:
    """Working hours of an office in one time zone, minus holidays.

    ``hours`` holds, for each weekday (index 0 = Monday), the local ``[start, end)`` intervals in which
    the office works. Durations are measured in real elapsed time (instants, not wall-clock
    differences), so a zone with daylight saving time still counts correctly. Every datetime argument
    must be timezone-aware; results are returned in ``timezone``. With ``round_the_clock`` the hours
    and holidays are ignored and time counts continuously.
    """

    timezone: ZoneInfo
    hours: _WeekHours
    holidays: frozenset[date] = frozenset()
    round_the_clock: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, ZoneInfo):
            raise TypeError(f"timezone must be a zoneinfo.ZoneInfo, got {type(self.timezone).__name__}")
        hours = tuple(tuple((start, end) for start, end in day) for day in self.hours)
        if len(hours) != 7:
            raise ValueError(f"hours must have 7 entries (Monday..Sunday), got {len(hours)}")
        for name, day in zip(WEEKDAY_NAMES, hours, strict=True):
            _check_day(name, day)
        holidays = frozenset(self.holidays)
        for holiday in holidays:
            if not isinstance(holiday, date) or isinstance(holiday, datetime):
                raise TypeError(f"holidays must be dates, got {holiday!r}")
        if not isinstance(self.round_the_clock, bool):
            raise TypeError(f"round_the_clock must be a bool, got {self.round_the_clock!r}")
        # Normalise lists/sets passed by callers so the instance stays hashable and immutable.
        object.__setattr__(self, "hours", hours)
        object.__setattr__(self, "holidays", holidays)
        # The working intervals of each local date, computed once (a reminder sweep asks for the same few days
        # for every open letter). Not a field: equality and hashing ignore it.
        object.__setattr__(self, "_day_cache", {})

    # -- construction -------------------------------------------------------------------------------

    @classmethod
    def default(cls, holidays: Iterable[date] = ()) -> OfficeCalendar:
        """Mon–Thu 07:30–16:00, Fri 07:30–16:30, Sat/Sun closed, Asia/Jakarta."""
        return cls(ZoneInfo(_DEFAULT_TIMEZONE), DEFAULT_HOURS, frozenset(holidays))

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> OfficeCalendar:
        """Build a calendar from a parsed ``[calendar]`` TOML table.

        Every key is optional: a missing weekday keeps the default hours, a missing timezone is
        Asia/Jakarta. Raises :class:`CalendarConfigError` naming the dotted key of any bad value.
        """
        root = _CONFIG_ROOT
        if not isinstance(data, Mapping):
            raise CalendarConfigError(root, f"expected a table, got {type(data).__name__}")
        for key in data:
            if key not in _CONFIG_KEYS:
                raise CalendarConfigError(f"{root}.{key}", _unknown_key_message(key))

        tz_name = data.get("timezone", _DEFAULT_TIMEZONE)
        tz = _parse_timezone(tz_name, f"{root}.timezone")

        round_the_clock = data.get("round_the_clock", False)
        if not isinstance(round_the_clock, bool):
            raise CalendarConfigError(f"{root}.round_the_clock", f"expected true or false, got {round_the_clock!r}")

        hours = tuple(
            _parse_day(data[name], f"{root}.{name}") if name in data else default
            for name, default in zip(WEEKDAY_NAMES, DEFAULT_HOURS, strict=True)
        )
        if not round_the_clock and not any(hours):
            raise CalendarConfigError(
                root, "no working hours on any day of the week; add hours or set round_the_clock = true"
            )

        holidays = _parse_holidays(data.get("holidays", []), f"{root}.holidays")
        return cls(tz, hours, holidays, round_the_clock)

    # -- queries --------------------------------------------------------------------------------------

    def is_working_time(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside a working interval (start inclusive, end exclusive)."""
        instant = _to_utc(moment, "moment")
        if self.round_the_clock:
            return True
        return any(start <= instant < end for start, end in self._intervals_within(instant, instant))

    def is_working_day(self, day: date) -> bool:
        """Whether the local date ``day`` has any working time (not a weekend day off, not a holiday)."""
        return self.round_the_clock or bool(self._day_intervals(day))

    def closing_time(self, day: date) -> datetime | None:
        """When the last working interval of the local date ``day`` ends (None: no working time that day)."""
        if self.round_the_clock:
            return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=self.timezone)
        intervals = self._day_intervals(day)
        return intervals[-1][1].astimezone(self.timezone) if intervals else None

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the start of the next working interval."""
        instant = _to_utc(moment, "moment")
        if self.round_the_clock:
            return instant.astimezone(self.timezone)
        start, _ = next(self._intervals_from(instant))
        return max(start, instant).astimezone(self.timezone)

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The deadline ``minutes`` of working time after ``start``, in ``self.timezone``.

        A start outside office hours begins counting at the next working moment (so zero minutes
        gives :meth:`next_working_moment`). A count that runs out exactly at the end of an interval
        returns that end, not the start of the next interval.
        """
        instant = _to_utc(start, "start")
        remaining = _minutes_to_timedelta(minutes)
        if self.round_the_clock:
            return (instant + remaining).astimezone(self.timezone)
        for interval_start, interval_end in self._intervals_from(instant):
            begin = max(interval_start, instant)
            available = interval_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(self.timezone)
            remaining -= available
        raise AssertionError("unreachable: _intervals_from never ends")  # pragma: no cover

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes elapsed from ``start`` to ``end`` (0 if ``end <= start``)."""
        lo = _to_utc(start, "start")
        hi = _to_utc(end, "end")
        if hi <= lo:
            return 0.0
        if self.round_the_clock:
            return (hi - lo) / _ONE_MINUTE
        total = timedelta()
        for interval_start, interval_end in self._intervals_within(lo, hi):
            overlap = min(interval_end, hi) - max(interval_start, lo)
            if overlap > timedelta():
                total += overlap
        return total / _ONE_MINUTE

    # -- internals ------------------------------------------------------------------------------------

    def _day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of one local date, as UTC instants."""
        cache: dict[date, list[tuple[datetime, datetime]]] = self._day_cache  # type: ignore[attr-defined]
        found = cache.get(day)
        if found is None:
            if len(cache) > 4096:
                cache.clear()
            found = cache[day] = self._compute_day_intervals(day)
        return found

    def _compute_day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        if day in self.holidays:
            return []
        intervals = []
        for start, end in self.hours[day.weekday()]:
            utc_start = datetime.combine(day, start, tzinfo=self.timezone).astimezone(UTC)
            utc_end = datetime.combine(day, end, tzinfo=self.timezone).astimezone(UTC)
            if utc_end > utc_start:  # a DST gap can swallow a short interval
                intervals.append((utc_start, utc_end))
        return intervals

    def _first_day(self, instant: datetime) -> date:
        # One day early: cheap insurance against zones whose local dates jump around transitions.
        local_day = instant.astimezone(self.timezone).date()
        return local_day - timedelta(days=1) if local_day > date.min else local_day

    def _intervals_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) that end after ``instant``, in order, day by day, without end.

        Raises ValueError once ``MAX_SEARCH_DAYS`` consecutive days pass without any working time.
        """
        day = self._first_day(instant)
        last_open = day
        while True:
            intervals = self._day_intervals(day)
            if intervals:
                last_open = day
                for start, end in intervals:
                    if end > instant:
                        yield start, end
            elif (day - last_open).days > MAX_SEARCH_DAYS:
                raise ValueError(
                    f"no working time within {MAX_SEARCH_DAYS} days after "
                    f"{instant.astimezone(self.timezone).isoformat()}; check hours and holidays"
                )
            if day == date.max:
                raise ValueError("ran past the last representable date looking for working time")
            day += timedelta(days=1)

    def _intervals_within(self, lo: datetime, hi: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals (UTC) of every local date from ``lo`` to ``hi``; callers clip them."""
        day = self._first_day(lo)
        last = hi.astimezone(self.timezone).date()
        while day <= last:
            yield from self._day_intervals(day)
            if day == date.max:
                break
            day += timedelta(days=1)


def _check_day(name: str, day: _DayHours) -> None:
    previous_end: time | None = None
    for start, end in day:
        if not isinstance(start, time) or not isinstance(end, time):
            raise TypeError(f"{name}: interval bounds must be datetime.time, got {start!r}, {end!r}")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"{name}: interval bounds must be naive local times")
        if not start < end:
            raise ValueError(f"{name}: interval {start}-{end} must start before it ends")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"{name}: intervals must be sorted and must not overlap ({start} < {previous_end})")
        previous_end = end


def _to_utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware, got naive {value.isoformat()}; "
            "attach a tzinfo, e.g. ZoneInfo('Asia/Jakarta')"
        )
    return value.astimezone(UTC)


def _minutes_to_timedelta(minutes: float) -> timedelta:
    if isinstance(minutes, bool) or not isinstance(minutes, int | float):
        raise TypeError(f"minutes must be a number, got {minutes!r}")
    if not math.isfinite(minutes) or minutes < 0:
        raise ValueError(f"minutes must be a finite number >= 0, got {minutes!r}")
    try:
        return timedelta(minutes=minutes)
    except OverflowError as exc:
        raise ValueError(f"minutes is too large: {minutes!r}") from exc


def _unknown_key_message(key: object) -> str:
    message = f"unknown key {key!r}; expected one of {', '.join(sorted(_CONFIG_KEYS))}"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, sorted(_CONFIG_KEYS), n=1)
        if close:
            message = f"unknown key {key!r}; did you mean {close[0]!r}?"
    return message


def _parse_timezone(value: Any, key: str) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise CalendarConfigError(key, f"expected an IANA time zone name like 'Asia/Jakarta', got {value!r}")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarConfigError(key, f"unknown time zone {value!r}; use an IANA name like 'Asia/Jakarta'") from None


def _parse_clock(hour: str, minute: str, text: str, key: str) -> time:
    h, m = int(hour), int(minute)
    if h > 23:
        raise CalendarConfigError(key, f"{text!r}: hour {h} is out of range 00-23")
    if m > 59:
        raise CalendarConfigError(key, f"{text!r}: minute {m} is out of range 00-59")
    return time(h, m)


def _parse_day(value: Any, key: str) -> _DayHours:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise CalendarConfigError(key, f'expected a list of "HH:MM-HH:MM" strings, got {value!r}')
    parsed: list[tuple[time, time, int]] = []
    for index, text in enumerate(value):
        item_key = f"{key}[{index}]"
        match = _INTERVAL_RE.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise CalendarConfigError(item_key, f'expected "HH:MM-HH:MM" (e.g. "07:30-16:00"), got {text!r}')
        start = _parse_clock(match[1], match[2], text, item_key)
        end = _parse_clock(match[3], match[4], text, item_key)
        if end <= start:
            raise CalendarConfigError(item_key, f"{text!r}: the end {end:%H:%M} must be after the start {start:%H:%M}")
        parsed.append((start, end, index))
    parsed.sort()
    for (_, prev_end, prev_index), (start, _, index) in itertools.pairwise(parsed):
        if start < prev_end:
            raise CalendarConfigError(
                f"{key}[{index}]", f"{value[index]!r} overlaps {value[prev_index]!r} ({key}[{prev_index}])"
            )
    return tuple((start, end) for start, end, _ in parsed)


def _parse_holidays(value: Any, key: str) -> frozenset[date]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise CalendarConfigError(key, f'expected a list of "YYYY-MM-DD" dates, got {value!r}')
    holidays: set[date] = set()
    for index, item in enumerate(value):
        item_key = f"{key}[{index}]"
        if isinstance(item, datetime):
            raise CalendarConfigError(item_key, f"expected a date without a time, got {item!r}")
        if isinstance(item, date):  # TOML's bare dates (holidays = [2026-12-25]) arrive parsed
            holidays.add(item)
            continue
        if not isinstance(item, str) or not _DATE_RE.fullmatch(item.strip()):
            raise CalendarConfigError(item_key, f'expected a "YYYY-MM-DD" date, got {item!r}')
        try:
            holidays.add(date.fromisoformat(item.strip()))
        except ValueError as exc:
            raise CalendarConfigError(item_key, f"{item!r} is not a valid date: {exc}") from None
    return frozenset(holidays)
