"""Fixtures shared by the ClickHouse contract suites: a connection to this test's own database, and the telemetry
history on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core.adapters.clickhouse.connection import AnalyticsConnection
from core.adapters.clickhouse.history import ClickHouseHistory


@pytest.fixture
def conn(analytics_dsn: str) -> Iterator[AnalyticsConnection]:
    c = AnalyticsConnection(analytics_dsn)
    yield c
    c.close()


@pytest.fixture
def history(conn: AnalyticsConnection) -> ClickHouseHistory:
    return ClickHouseHistory(conn)
