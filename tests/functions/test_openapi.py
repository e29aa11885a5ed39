"""The OpenAPI document is true: it lists every route, and schemathesis-generated requests against the app
never get a 5xx and always get a documented status with a body matching the documented schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from core.routes import ROUTES
from functions._openapi import openapi_document

schema = schemathesis.openapi.from_dict(openapi_document())


@pytest.fixture(autouse=True)
def analytics_on(monkeypatch: pytest.MonkeyPatch, analytics_engine_dir: Path) -> None:
    """Every route served as the local stack serves it: analytics (the /api/v1 routes, the insights) on embedded
    ClickHouse, one database for the whole run (the checks are about shapes, not contents)."""
    monkeypatch.setenv("OBSERVATORY_CLICKHOUSE_URL", f"chdb://{analytics_engine_dir}?database=openapi")


def test_the_document_lists_every_route_once(client: Any) -> None:
    served = client.get("/api/observatory/openapi.json").get_json()
    assert served["openapi"] == "3.1.0"
    documented = {(method.upper(), path) for path, ops in served["paths"].items() for method in ops}
    assert documented == {(r.method, r.path) for r in ROUTES}
    ids = [op["operationId"] for ops in served["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_generated_requests_conform(case: Any, client: Any) -> None:
    case.call_and_validate(app=client.application, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
    ])
