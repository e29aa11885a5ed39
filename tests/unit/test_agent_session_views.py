"""Query models of the agent-session API: blank is no filter, strict dates, IANA zones, the seed's limit clamps,
and a bad value failing validation under the parameter's own name (the API turns that into a 400)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from core.agent_sessions.cursor import encode_cursor
from core.agent_sessions.views import AnalyticsFilter, SearchQuery, SessionFilter


def _error_field(model: type[BaseModel], data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return ".".join(str(p) for p in caught.value.errors()[0]["loc"])


def test_defaults_and_blank_values_are_no_filter() -> None:
    f = SessionFilter.model_validate({"user_id": "", "project_name": " ", "date_from": "", "cursor": "", "tz": ""})
    assert (f.user_id, f.project_name, f.date_from, f.cursor, f.tz, f.limit) == (None, None, None, None, "UTC", 50)
    assert f.window() == (None, None)


@pytest.mark.parametrize(("raw", "limit"), [("1", 1), ("50", 50), ("100", 100), ("101", 100), ("0", 1),
                                            ("-5", 1), ("", 50), (7, 7)])
def test_limits_clamp_to_1_through_100(raw: Any, limit: int) -> None:
    assert SessionFilter.model_validate({"limit": raw}).limit == limit
    assert SearchQuery.model_validate({"q": "x", "limit": raw}).limit == limit


def test_a_limit_that_is_not_a_number_names_the_parameter() -> None:
    assert _error_field(SessionFilter, {"limit": "ten"}) == "limit"


@pytest.mark.parametrize("value", ["2024-5-1", "2024-02-30", "yesterday", "2024-05-01T00:00:00Z", "1800-01-01"])
def test_dates_must_be_valid_yyyy_mm_dd(value: str) -> None:
    assert _error_field(AnalyticsFilter, {"date_from": value}) == "date_from"
    assert _error_field(SessionFilter, {"date_to": value}) == "date_to"


def test_tz_must_be_an_iana_zone() -> None:
    assert _error_field(AnalyticsFilter, {"tz": "Mars/Olympus"}) == "tz"
    assert AnalyticsFilter.model_validate({"tz": "Asia/Tokyo"}).tz == "Asia/Tokyo"


def test_window_is_local_midnights_with_the_end_day_included() -> None:
    f = AnalyticsFilter.model_validate({"date_from": "2024-03-01", "date_to": "2024-03-31", "tz": "Europe/Berlin"})
    assert f.date_from == date(2024, 3, 1)
    start, end = f.window()
    assert start == datetime(2024, 2, 29, 23, 0, tzinfo=UTC)  # CET, UTC+1
    assert end == datetime(2024, 3, 31, 22, 0, tzinfo=UTC)  # April 1st 00:00 CEST, UTC+2


def test_search_needs_a_query() -> None:
    assert _error_field(SearchQuery, {}) == "q"
    assert _error_field(SearchQuery, {"q": ""}) == "q"


def test_a_bad_cursor_fails_validation_under_its_name_and_a_good_one_passes() -> None:
    assert _error_field(SessionFilter, {"cursor": "%%%"}) == "cursor"
    good = encode_cursor(datetime(2024, 1, 1, tzinfo=UTC), "s")
    assert SessionFilter.model_validate({"cursor": good}).cursor == good
