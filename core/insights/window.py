"""The insights time window: start_date / end_date (RFC 3339 or YYYY-MM-DD) in an IANA zone, the last 30 days
by default, cut into the zone's calendar days for day buckets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import BadParameter

DEFAULT_DAYS = 30
MAX_DAY_BUCKETS = 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Stored times are signed 64-bit nanoseconds: keep every bound well inside them (a day of slack lets a
# zone east of UTC start on 1970-01-01).
_EARLIEST = _EPOCH - timedelta(days=1)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}.*")


def _shown(text: str) -> str:
    return text if len(text) <= 64 else text[:61] + "..."


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (naming it) when there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown IANA time zone {_shown(name)!r}") from exc


def parse_when(text: str) -> date | datetime:
    """A calendar date (``YYYY-MM-DD``) or an RFC 3339 date-time (a missing offset means the request's zone)."""
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{_shown(text)!r} is not a valid date: {exc}") from None
    if _DATETIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text[:-1] + "Z" if text.endswith("z") else text)
        except ValueError as exc:
            raise ValueError(f"{_shown(text)!r} is not a valid RFC 3339 date-time: {exc}") from None
    raise ValueError(f"{_shown(text)!r} is neither YYYY-MM-DD nor an RFC 3339 date-time")


def to_ns(value: datetime) -> int:
    """Exact nanoseconds since the epoch of an aware datetime."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    # A midnight skipped by a DST change resolves (fold=0) to the instant the day actually starts.
    return datetime(day.year, day.month, day.day, tzinfo=tz)


@dataclass(frozen=True, slots=True)
class Window:
    """``[start, end)`` as aware datetimes in the request's zone."""

    start: datetime
    end: datetime
    tz: ZoneInfo

    @property
    def start_ns(self) -> int:
        return to_ns(self.start)

    @property
    def end_ns(self) -> int:
        return to_ns(self.end)

    def days(self) -> list[tuple[date, int, int]]:
        """The local calendar days the window touches, each clipped to the window: (day, start_ns, end_ns)."""
        if self.end <= self.start:
            return []
        first = self.start.astimezone(self.tz).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.tz).date()
        out = []
        lo_ns, hi_ns = self.start_ns, self.end_ns
        day = first
        while day <= last:
            begin = to_ns(_midnight(day, self.tz))
            nxt = day + timedelta(days=1)
            out.append((day, max(begin, lo_ns), min(to_ns(_midnight(nxt, self.tz)), hi_ns)))
            day = nxt
        return out


def _bound(name: str, text: str | None, tz: ZoneInfo, is_end: bool) -> datetime | None:
    if text is None:
        return None
    try:
        value = parse_when(text)
    except ValueError as exc:
        raise BadParameter(f"invalid parameter '{name}': {exc}") from None
    if isinstance(value, datetime):
        bound = value if value.tzinfo is not None else value.replace(tzinfo=tz)
    else:  # a date is a whole local day; end_date includes its day
        try:
            bound = _midnight(value + timedelta(days=1) if is_end else value, tz)
        except OverflowError:
            bound = _LATEST + timedelta(days=1)
    if not _EARLIEST <= bound <= _LATEST:
        raise BadParameter(f"invalid parameter '{name}': {_shown(text)!r} is outside the years 1970 to 2199")
    return bound.astimezone(tz)


def resolve(start_date: str | None, end_date: str | None, tz_name: str, now: datetime) -> Window:
    """The window a request asks for; BadParameter naming the parameter when it cannot be one."""
    try:
        tz = zone(tz_name)
    except ValueError as exc:
        raise BadParameter(f"invalid parameter 'tz': {exc}") from None
    start = _bound("start_date", start_date, tz, is_end=False)
    end = _bound("end_date", end_date, tz, is_end=True)
    if end is None:
        end = max(now.astimezone(tz), start) if start is not None else now.astimezone(tz)
    if start is None:
        start = max((end.astimezone(UTC) - timedelta(days=DEFAULT_DAYS)), _EARLIEST).astimezone(tz)
    if end < start:
        raise BadParameter(f"invalid parameter 'end_date': {end.isoformat()} is before start_date "
                           f"{start.isoformat()}")
    return Window(start, end, tz)
