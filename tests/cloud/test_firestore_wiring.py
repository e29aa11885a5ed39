"""OBSERVATORY_STORE=firestore: the same HTTP functions ingest into and read from Firestore (the emulator)."""

from __future__ import annotations

from typing import Any

import pytest

from functions import _bootstrap
from tests.payloads import trace_request


def test_ingest_and_read_back_through_firestore(client: Any, firestore_project: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_STORE", "firestore")
    _bootstrap.reset()
    assert type(_bootstrap.container().store).__name__ == "FirestoreStore"
    request = trace_request(3, attrs={"session.id": "fs-s1"})
    r = client.post("/v1/traces", data=request.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200
    trace_id = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    trace = client.get(f"/api/observatory/traces/{trace_id}").get_json()
    assert trace["span_count"] == 3
    assert client.get("/api/observatory/sessions/fs-s1").status_code == 200
