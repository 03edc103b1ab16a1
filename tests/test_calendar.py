"""Tests for the office-hours clock behind SLA deadlines."""

from __future__ import annotations

import math
import pickle
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suratbot.workflow.calendar import MAX_SEARCH_DAYS, CalendarConfigError, OfficeCalendar

WIB = ZoneInfo("Asia/Jakarta")
BERLIN = ZoneInfo("Europe/Berlin")
SOP_FILE = Path(__file__).resolve().parents[1] / "suratbot" / "workflow" / "sop_dpmptsp_sumedang.toml"


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


@pytest.fixture
def cal() -> OfficeCalendar:
    return OfficeCalendar.default()


# -- add_working_minutes ------------------------------------------------------------------------------


def test_spec_example_friday_afternoon_rolls_to_monday(cal: OfficeCalendar) -> None:
    # Friday closes 16:30: 10 minutes count on Friday, the other 50 from Monday 07:30.
    due = cal.add_working_minutes(wib(2026, 11, 27, 16, 20), 60)
    assert due == wib(2026, 11, 30, 8, 20)
    assert due.tzinfo is WIB
    assert cal.working_minutes_between(wib(2026, 11, 27, 16, 20), due) == 60


def test_start_before_opening_counts_from_opening(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 24, 6, 0), 90) == wib(2026, 11, 24, 9, 0)


def test_start_on_saturday_counts_from_monday(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 28, 10, 0), 30) == wib(2026, 11, 30, 8, 0)


def test_start_after_closing_counts_from_next_morning(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 24, 19, 45), 30) == wib(2026, 11, 25, 8, 0)


def test_start_mid_day_within_hours(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 24, 10, 15), 125) == wib(2026, 11, 24, 12, 20)


def test_count_ending_exactly_at_close_returns_close(cal: OfficeCalendar) -> None:
    due = cal.add_working_minutes(wib(2026, 11, 26, 15, 0), 60)  # a Thursday
    assert due == wib(2026, 11, 26, 16, 0)
    assert not cal.is_working_time(due)  # the end itself is outside [07:30, 16:00)


def test_one_more_minute_after_close_rolls_to_next_day(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 26, 15, 0), 61) == wib(2026, 11, 27, 7, 31)


def test_friday_closes_at_1630(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 27, 16, 0), 30) == wib(2026, 11, 27, 16, 30)


def test_zero_minutes_is_next_working_moment(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 24, 10, 0), 0) == wib(2026, 11, 24, 10, 0)
    # At closing time counting would begin the next morning, so that is where zero minutes ends.
    assert cal.add_working_minutes(wib(2026, 11, 26, 16, 0), 0) == wib(2026, 11, 27, 7, 30)


def test_fractional_minutes(cal: OfficeCalendar) -> None:
    assert cal.add_working_minutes(wib(2026, 11, 24, 8, 0), 1.5) == wib(2026, 11, 24, 8, 1) + timedelta(seconds=30)


def test_holiday_is_skipped() -> None:
    cal = OfficeCalendar.default(holidays=[date(2026, 12, 25)])  # Christmas, a Friday
    # Thursday 15:30: 30 minutes on Thursday, Friday is a holiday, the rest on Monday.
    assert cal.add_working_minutes(wib(2026, 12, 24, 15, 30), 60) == wib(2026, 12, 28, 8, 0)
    assert not cal.is_working_time(wib(2026, 12, 25, 10, 0))
    assert cal.next_working_moment(wib(2026, 12, 25, 10, 0)) == wib(2026, 12, 28, 7, 30)
    # Without the holiday the same count ends on Friday.
    assert OfficeCalendar.default().add_working_minutes(wib(2026, 12, 24, 15, 30), 60) == wib(2026, 12, 25, 8, 0)


def test_holidays_from_config() -> None:
    table = tomllib.loads(
        """
        timezone = "Asia/Jakarta"
        holidays = ["2026-12-25", 2027-01-01]  # a string and a bare TOML date
        """
    )
    cal = OfficeCalendar.from_config(table)
    assert cal.holidays == frozenset({date(2026, 12, 25), date(2027, 1, 1)})
    assert cal.add_working_minutes(wib(2026, 12, 24, 15, 30), 60) == wib(2026, 12, 28, 8, 0)
    # Thursday 31 Dec 15:00 + 120 min: 60 on Thursday, New Year's Day skipped, then weekend.
    assert cal.add_working_minutes(wib(2026, 12, 31, 15, 0), 120) == wib(2027, 1, 4, 8, 30)


def test_round_the_clock_counts_continuously() -> None:
    cal = OfficeCalendar.from_config({"round_the_clock": True, "holidays": ["2026-11-27"]})
    assert cal.add_working_minutes(wib(2026, 11, 27, 16, 20), 60) == wib(2026, 11, 27, 17, 20)
    assert cal.is_working_time(wib(2026, 11, 28, 3, 0))
    assert cal.next_working_moment(wib(2026, 11, 28, 3, 0)) == wib(2026, 11, 28, 3, 0)
    assert cal.working_minutes_between(wib(2026, 11, 27, 16, 0), wib(2026, 11, 28, 16, 0)) == 24 * 60


def test_round_the_clock_counts_real_time_across_dst() -> None:
    cal = OfficeCalendar(BERLIN, ((),) * 7, round_the_clock=True)
    start = datetime(2026, 10, 25, 0, 0, tzinfo=BERLIN)  # clocks go back 03:00 -> 02:00 that night
    due = cal.add_working_minutes(start, 180)
    assert due.astimezone(UTC) == start.astimezone(UTC) + timedelta(hours=3)
    assert (due.hour, due.minute, due.fold) == (2, 0, 1)


def test_utc_input_gives_the_same_deadline(cal: OfficeCalendar) -> None:
    start = datetime(2026, 11, 27, 9, 20, tzinfo=UTC)  # == Friday 16:20 WIB
    due = cal.add_working_minutes(start, 60)
    assert due == wib(2026, 11, 30, 8, 20)
    assert due.tzinfo is WIB
    assert due.utcoffset() == timedelta(hours=7)


def test_long_span_jumps_day_by_day(cal: OfficeCalendar, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    original = OfficeCalendar._day_intervals

    def counting(self: OfficeCalendar, day: date) -> list[tuple[datetime, datetime]]:
        nonlocal calls
        calls += 1
        return original(self, day)

    monkeypatch.setattr(OfficeCalendar, "_day_intervals", counting)
    # A working week is 4 * 510 + 540 = 2580 minutes: 10,000 = 3 weeks + Mon..Thu (2040) + 220 on Friday.
    due = cal.add_working_minutes(wib(2026, 11, 2, 7, 30), 10_000)
    assert due == wib(2026, 11, 27, 11, 10)
    assert calls < 40  # about one call per calendar day, not per minute
    assert cal.working_minutes_between(wib(2026, 11, 2, 7, 30), due) == 10_000


@pytest.mark.parametrize("minutes", [-1, -0.001, math.nan, math.inf])
def test_bad_minutes_rejected(cal: OfficeCalendar, minutes: float) -> None:
    with pytest.raises(ValueError, match="minutes"):
        cal.add_working_minutes(wib(2026, 11, 24, 8, 0), minutes)


def test_no_working_time_ever_raises_instead_of_looping() -> None:
    start = date(2026, 1, 1)
    everything = [start + timedelta(days=i) for i in range(MAX_SEARCH_DAYS + 10)]
    cal = OfficeCalendar.default(holidays=everything)
    with pytest.raises(ValueError, match="no working time"):
        cal.add_working_minutes(wib(2026, 1, 1, 8, 0), 10)
    with pytest.raises(ValueError, match="no working time"):
        cal.next_working_moment(wib(2026, 1, 1, 8, 0))
    closed = OfficeCalendar(WIB, ((),) * 7)
    with pytest.raises(ValueError, match="no working time"):
        closed.add_working_minutes(wib(2026, 1, 1, 8, 0), 10)


# -- is_working_time / next_working_moment / working_minutes_between ---------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (wib(2026, 11, 24, 7, 29), False),
        (wib(2026, 11, 24, 7, 30), True),
        (wib(2026, 11, 24, 15, 59), True),
        (wib(2026, 11, 24, 16, 0), False),
        (wib(2026, 11, 27, 16, 15), True),  # Friday runs to 16:30
        (wib(2026, 11, 28, 10, 0), False),  # Saturday
        (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), True),  # 08:00 WIB
    ],
)
def test_is_working_time(cal: OfficeCalendar, moment: datetime, expected: bool) -> None:
    assert cal.is_working_time(moment) is expected


def test_next_working_moment(cal: OfficeCalendar) -> None:
    inside = wib(2026, 11, 24, 9, 0)
    assert cal.next_working_moment(inside) == inside
    assert cal.next_working_moment(wib(2026, 11, 24, 16, 0)) == wib(2026, 11, 25, 7, 30)
    assert cal.next_working_moment(wib(2026, 11, 27, 17, 0)) == wib(2026, 11, 30, 7, 30)
    result = cal.next_working_moment(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))
    assert result == wib(2026, 11, 24, 9, 0)
    assert result.tzinfo is WIB


def test_working_minutes_between_across_weekend(cal: OfficeCalendar) -> None:
    # Friday 16:00 -> Monday 09:00: 30 minutes on Friday + 90 on Monday.
    assert cal.working_minutes_between(wib(2026, 11, 27, 16, 0), wib(2026, 11, 30, 9, 0)) == 120
    # A whole week, Monday 00:00 to Monday 00:00.
    assert cal.working_minutes_between(wib(2026, 11, 23), wib(2026, 11, 30)) == 2580


def test_working_minutes_between_reversed_or_equal_is_zero(cal: OfficeCalendar) -> None:
    assert cal.working_minutes_between(wib(2026, 11, 24, 12, 0), wib(2026, 11, 24, 9, 0)) == 0
    assert cal.working_minutes_between(wib(2026, 11, 24, 12, 0), wib(2026, 11, 24, 12, 0)) == 0


def test_split_day_with_lunch_break() -> None:
    cal = OfficeCalendar.from_config({"monday": ["13:00-16:00", "07:30-12:00"]})  # unsorted is fine
    assert cal.hours[0] == ((time(7, 30), time(12, 0)), (time(13, 0), time(16, 0)))
    assert cal.add_working_minutes(wib(2026, 11, 23, 11, 30), 60) == wib(2026, 11, 23, 13, 30)
    assert cal.add_working_minutes(wib(2026, 11, 23, 11, 30), 30) == wib(2026, 11, 23, 12, 0)
    assert not cal.is_working_time(wib(2026, 11, 23, 12, 30))
    assert cal.working_minutes_between(wib(2026, 11, 23, 11, 0), wib(2026, 11, 23, 14, 0)) == 120


@pytest.mark.parametrize(
    "call",
    [
        lambda cal, naive: cal.add_working_minutes(naive, 10),
        lambda cal, naive: cal.is_working_time(naive),
        lambda cal, naive: cal.next_working_moment(naive),
        lambda cal, naive: cal.working_minutes_between(naive, wib(2026, 11, 24, 12, 0)),
        lambda cal, naive: cal.working_minutes_between(wib(2026, 11, 24, 12, 0), naive),
    ],
)
def test_naive_datetime_rejected(cal: OfficeCalendar, call: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(cal, datetime(2026, 11, 24, 9, 0))


# -- configuration --------------------------------------------------------------------------------------


def test_default_hours_and_missing_weekdays_fall_back_to_default() -> None:
    cal = OfficeCalendar.from_config({"friday": ["08:00-11:00"]})
    default = OfficeCalendar.default()
    assert cal.timezone == WIB
    assert cal.hours[:4] == default.hours[:4]
    assert cal.hours[4] == ((time(8, 0), time(11, 0)),)
    assert cal.hours[5:] == ((), ())
    assert cal.holidays == frozenset()
    assert cal.round_the_clock is False
    assert OfficeCalendar.from_config({}) == default


def test_shipped_sop_calendar_parses() -> None:
    table = tomllib.loads(SOP_FILE.read_text(encoding="utf-8"))["calendar"]
    cal = OfficeCalendar.from_config(table)
    assert cal.hours == OfficeCalendar.default().hours
    assert date(2026, 12, 25) in cal.holidays


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        ({"friday": ["07:30-25:00"]}, "calendar.friday[0]", "hour 25"),
        ({"monday": ["07:30-16:00", "16:00-16:61"]}, "calendar.monday[1]", "minute 61"),
        ({"holidays": ["2026-12-25", "2027-01-01", "2026-13-01"]}, "calendar.holidays[2]", "2026-13-01"),
        ({"holidays": ["25/12/2026"]}, "calendar.holidays[0]", "YYYY-MM-DD"),
        ({"holidays": "2026-12-25"}, "calendar.holidays", "list"),
        ({"timezone": "Asia/Sumedang"}, "calendar.timezone", "unknown time zone"),
        ({"timezone": 7}, "calendar.timezone", "IANA"),
        ({"fryday": ["07:30-16:00"]}, "calendar.fryday", "friday"),
        ({"monday": ["16:00-07:30"]}, "calendar.monday[0]", "after the start"),
        ({"monday": ["08:00-08:00"]}, "calendar.monday[0]", "after the start"),
        ({"tuesday": ["07:30-12:00", "11:00-16:00"]}, "calendar.tuesday[1]", "overlaps"),
        ({"wednesday": "07:30-16:00"}, "calendar.wednesday", "list"),
        ({"thursday": ["7.30 - 16.00"]}, "calendar.thursday[0]", "HH:MM-HH:MM"),
        ({"round_the_clock": "yes"}, "calendar.round_the_clock", "true or false"),
        (
            {day: [] for day in ("monday", "tuesday", "wednesday", "thursday", "friday")},
            "calendar",
            "no working",
        ),
    ],
)
def test_config_errors_name_the_key(data: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(CalendarConfigError) as info:
        OfficeCalendar.from_config(data)
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_empty_week_is_fine_when_round_the_clock() -> None:
    days = {d: [] for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}
    assert OfficeCalendar.from_config({**days, "round_the_clock": True}).round_the_clock


def test_config_error_shape_and_pickle() -> None:
    error = CalendarConfigError("calendar.friday[0]", "bad")
    assert str(error) == "calendar.friday[0]: bad"
    assert (error.key, error.message) == ("calendar.friday[0]", "bad")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.key, str(clone)) == (error.key, str(error))


def test_constructor_validates_hours() -> None:
    nine_to_five = ((time(9), time(17)),)
    with pytest.raises(ValueError, match="7 entries"):
        OfficeCalendar(WIB, (nine_to_five,) * 5)
    with pytest.raises(ValueError, match="overlap"):
        OfficeCalendar(WIB, (((time(9), time(12)), (time(11), time(17))),) + ((),) * 6)
    with pytest.raises(ValueError, match="start before"):
        OfficeCalendar(WIB, (((time(17), time(9)),),) + ((),) * 6)
    cal = OfficeCalendar(WIB, [list(nine_to_five)] * 7, {date(2026, 1, 1)})  # type: ignore[arg-type]
    assert cal.hours == (nine_to_five,) * 7
    assert cal.holidays == frozenset({date(2026, 1, 1)})
    hash(cal)


# -- property -------------------------------------------------------------------------------------------

PROPERTY_CALENDARS = [
    OfficeCalendar.default(holidays=[date(2026, 12, 25), date(2027, 1, 1), date(2027, 3, 19)]),
    # A DST zone with a lunch break and a night shift across the 02:00/03:00 transitions.
    OfficeCalendar(
        BERLIN,
        (((time(8), time(12)), (time(13), time(17))),) * 5 + ((), ((time(1, 30), time(3, 30)),)),
        frozenset({date(2026, 10, 26)}),
    ),
]


def _is_interval_end(cal: OfficeCalendar, moment: datetime) -> bool:
    local = moment.astimezone(cal.timezone)
    return local.date() not in cal.holidays and any(local.time() == end for _, end in cal.hours[local.weekday()])


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    cal=st.sampled_from(PROPERTY_CALENDARS),
    start=st.datetimes(
        min_value=datetime(2025, 1, 1),
        max_value=datetime(2028, 12, 31),
        timezones=st.sampled_from([WIB, UTC, BERLIN, ZoneInfo("America/New_York")]),
        allow_imaginary=False,
    ),
    minutes=st.one_of(st.integers(0, 5000), st.floats(0, 5000, allow_nan=False, allow_infinity=False)),
)
def test_add_then_measure_round_trips(cal: OfficeCalendar, start: datetime, minutes: float) -> None:
    due = cal.add_working_minutes(start, minutes)
    assert due.tzinfo is cal.timezone
    assert due >= start
    assert cal.working_minutes_between(start, due) == pytest.approx(minutes, abs=1e-6)
    assert cal.is_working_time(due) or _is_interval_end(cal, due)
