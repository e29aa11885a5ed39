"""Session-list cursors as the seed encodes them: standard base64 of `<started_at RFC 3339, nanoseconds>|<id>`.

A session without a start time encodes an empty time (`|<id>`, as the seed does); such sessions sort after every
dated one, and decoding gives `None` for the time so paging can continue among them.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone

from core.errors import InvalidCursor

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))")
MAX_CURSOR_LENGTH = 4096


def format_rfc3339_nano(value: datetime) -> str:
    """Go's `time.RFC3339Nano` of a UTC time: fraction without trailing zeros (none when zero), then `Z`."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{value.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 date-time with an offset (fraction up to nanoseconds, kept to microseconds); ValueError if not."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueError(f"{text[:64]!r} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micros = int((m.group(7) or "0").ljust(9, "0")[:6])
    if m.group(8):
        tz: timezone = UTC
    else:
        sign = 1 if m.group(9) == "+" else -1
        tz = timezone(sign * timedelta(hours=int(m.group(10)), minutes=int(m.group(11))))
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz).astimezone(UTC)


def encode_cursor(started_at: datetime | None, session_id: str) -> str:
    stamp = format_rfc3339_nano(started_at) if started_at is not None else ""
    return base64.b64encode(f"{stamp}|{session_id}".encode()).decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime | None, str]:
    """(started_at or None, session id) of a cursor; InvalidCursor (400) when it is not one."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("invalid cursor: too long")
    try:
        raw = base64.b64decode(cursor.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise InvalidCursor("invalid cursor: not base64 of a cursor") from None
    stamp, sep, session_id = raw.partition("|")
    if not sep:
        raise InvalidCursor("invalid cursor: malformed")
    if not stamp:
        return None, session_id
    try:
        at = parse_rfc3339(stamp)
    except ValueError:
        raise InvalidCursor("invalid cursor: bad timestamp") from None
    if not 1900 <= at.year <= 2299:  # what a stored DateTime64 can hold
        raise InvalidCursor("invalid cursor: timestamp out of range")
    return at, session_id
