"""Session-list cursors: the seed's encoding, round trips, and a 400 for anything that is not a cursor."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.agent_sessions.cursor import decode_cursor, encode_cursor, format_rfc3339_nano, parse_rfc3339
from core.errors import BadParameter, InvalidCursor


def test_encoding_is_base64_of_rfc3339_nano_bar_id() -> None:
    at = datetime(2024, 5, 1, 9, 30, 0, 120000, tzinfo=UTC)
    cursor = encode_cursor(at, "sess-1")
    assert base64.b64decode(cursor).decode() == "2024-05-01T09:30:00.12Z|sess-1"
    assert decode_cursor(cursor) == (at, "sess-1")


def test_whole_seconds_have_no_fraction_and_other_zones_become_utc() -> None:
    at = datetime(2024, 5, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    assert format_rfc3339_nano(at) == "2024-05-01T09:30:00Z"


def test_an_id_may_contain_the_separator() -> None:
    at = datetime(2024, 1, 1, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "a|b")) == (at, "a|b")


def test_a_session_without_start_time_encodes_an_empty_time() -> None:
    cursor = encode_cursor(None, "undated")
    assert base64.b64decode(cursor) == b"|undated"
    assert decode_cursor(cursor) == (None, "undated")


def test_nanoseconds_and_offsets_parse() -> None:
    assert parse_rfc3339("2024-05-01T09:30:00.123456789+02:00") == datetime(2024, 5, 1, 7, 30, 0, 123456,
                                                                              tzinfo=UTC)


@pytest.mark.parametrize("cursor", [
    "not base64!",
    base64.b64encode(b"no separator").decode(),
    base64.b64encode(b"yesterday|sess").decode(),
    base64.b64encode(b"2024-05-01T09:30:00|sess").decode(),  # RFC 3339 needs an offset
    base64.b64encode(b"\xff\xfe|x").decode(),
    "QUJD",  # "ABC": valid base64, no separator
    base64.b64encode(b"0001-01-01T00:00:00Z|sess").decode(),  # outside what a stored time can be
    base64.b64encode(b"2024-13-01T00:00:00Z|sess").decode(),
    "x" * 5000,
])
def test_anything_else_is_an_invalid_cursor_400(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as caught:
        decode_cursor(cursor)
    assert isinstance(caught.value, BadParameter) and isinstance(caught.value, ValueError)
    assert caught.value.status == 400
