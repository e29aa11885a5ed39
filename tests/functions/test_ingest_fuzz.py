"""Generated OTLP payloads (tests/otlp_strategies.py): ingest answers 200 or 400, never 500 (an exporter drops a
batch answered 500), and the reads over what it stored keep answering in strict JSON."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ON_FIRESTORE
from tests.functions.test_ingest_http import post
from tests.otlp_strategies import REQUESTS

_READS = ("/api/observatory/traces", "/api/observatory/sessions", "/api/observatory/spans",
          "/api/observatory/telemetry/metrics", "/api/observatory/spans/enriched", "/api/observatory/metrics/summary",
          "/api/observatory/sessions/s-1", "/api/observatory/sessions/s-1/tools",
          "/api/observatory/sessions/s-1/llm-calls", "/api/observatory/sessions/s-1/events",
          "/api/observatory/sessions/s-1/metrics")


# Fewer on Firestore: its emulator answers each write in milliseconds, not microseconds.
@settings(max_examples=40 if ON_FIRESTORE else 150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(requests=st.lists(REQUESTS, min_size=1, max_size=3), as_json=st.booleans())
def test_generated_payloads_are_stored_or_refused_never_a_500(client: Any, requests: list[tuple[str, Any]],
                                                              as_json: bool) -> None:
    for path, message in requests:
        if as_json:
            r = post(client, path, json_format.MessageToJson(message).encode(), "application/json")
        else:
            r = post(client, path, message.SerializeToString())
        assert r.status_code in (200, 400), (path, r.status_code, r.data[:500])
    for read in _READS:
        r = client.get(read)
        assert r.status_code in (200, 404), (read, r.status_code, r.data[:500])  # 404: no session s-1 yet
        json.loads(r.data, parse_constant=_not_json)  # strict JSON: no NaN or Infinity a browser would refuse


def _not_json(constant: str) -> None:
    raise AssertionError(f"response is not strict JSON: it holds {constant}")
