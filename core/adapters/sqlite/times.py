"""Exact conversions between API datetimes and the integer nanoseconds the SQLite tables store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ns(value: datetime | None) -> int | None:
    """Exact nanoseconds since the epoch (a naive datetime is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


@overload
def from_ns(ns: int) -> datetime: ...


@overload
def from_ns(ns: int | None) -> datetime | None: ...


def from_ns(ns: int | None) -> datetime | None:
    if ns is None:
        return None
    seconds, rest = divmod(ns, 10**9)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1_000)
