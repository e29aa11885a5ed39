"""The OTLP/HTTP contract of the ingest functions: encodings, compression, limits and every error path."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import threading
import zlib
from typing import Any

import pytest
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from core.ingest import IngestService
from tests.conftest import ON_FIRESTORE
from tests.payloads import gemini_json, trace_request

PB = "application/x-protobuf"


def post(client: Any, path: str, body: bytes, content_type: str = PB, **headers: str) -> Any:
    return client.post(path, data=body, headers={"Content-Type": content_type, **headers})


def stored_spans(client: Any) -> int:
    return int(client.get("/api/observatory/spans?limit=1000").get_json()["count"])


def test_protobuf_traces_stored_and_response_mirrors_content_type(client: Any) -> None:
    r = post(client, "/v1/traces", trace_request(3).SerializeToString())
    assert r.status_code == 200
    assert r.headers["Content-Type"] == PB
    resp = ExportTraceServiceResponse.FromString(r.data)
    assert not resp.HasField("partial_success")
    assert stored_spans(client) == 3


def test_gzip_and_deflate_bodies(client: Any) -> None:
    body = trace_request(2).SerializeToString()
    assert post(client, "/v1/traces", gzip.compress(body), **{"Content-Encoding": "gzip"}).status_code == 200
    body2 = trace_request(2).SerializeToString()
    assert post(client, "/v1/traces", zlib.compress(body2), **{"Content-Encoding": "deflate"}).status_code == 200
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body3 = trace_request(2).SerializeToString()
    deflated = raw.compress(body3) + raw.flush()
    assert post(client, "/v1/traces", deflated, **{"Content-Encoding": "deflate"}).status_code == 200
    assert stored_spans(client) == 6


def test_json_response_is_json(client: Any) -> None:
    doc = gemini_json("s-json", 1_700_000_000_000_000_000)["traces"]
    r = post(client, "/v1/traces", json.dumps(doc).encode(), "application/json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.get_json() == {}
    span = client.get("/api/observatory/traces/5b8efff798038103d269b633813fc60c").get_json()["spans"][0]
    assert span["trace_id"] == "5b8efff798038103d269b633813fc60c" and span["id"] == "eee19b7ec3c1b174"


def test_empty_request_is_success(client: Any) -> None:
    assert post(client, "/v1/traces", b"").status_code == 200
    assert post(client, "/v1/logs", b"{}", "application/json").status_code == 200


def test_undecodable_body_is_400_with_rpc_status(client: Any) -> None:
    r = post(client, "/v1/traces", b"\xff\xff\xff garbage")
    assert r.status_code == 400 and r.headers["Content-Type"] == PB
    status = status_pb2.Status.FromString(r.data)
    assert status.code == 3 and "protobuf" in status.message
    r = post(client, "/v1/logs", b"{not json", "application/json")
    assert r.status_code == 400 and "JSON" in r.get_json()["message"]


def test_unsupported_content_type_415_and_wrong_method_405(client: Any) -> None:
    r = post(client, "/v1/traces", b"x", "text/plain")
    assert r.status_code == 415 and "Content-Type" in r.get_json()["message"]
    r = client.get("/v1/traces")
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    r = post(client, "/v1/traces", gzip.compress(b"x"), **{"Content-Encoding": "br"})
    assert r.status_code == 415


def test_size_limit_after_decompression_and_zip_bomb(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions import _bootstrap

    monkeypatch.setenv("OBSERVATORY_MAX_BODY_BYTES", str(1024 * 1024))
    _bootstrap.reset()
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 200_000
    r = post(client, "/v1/traces", bomb, **{"Content-Encoding": "gzip"})
    assert r.status_code == 413 and "limit" in status_pb2.Status.FromString(r.data).message
    r = post(client, "/v1/traces", os.urandom(2 * 1024 * 1024))
    assert r.status_code == 413
    assert stored_spans(client) == 0


def test_truncated_gzip_is_400(client: Any) -> None:
    body = gzip.compress(trace_request(5).SerializeToString())
    r = post(client, "/v1/traces", body[: len(body) // 2], **{"Content-Encoding": "gzip"})
    assert r.status_code == 400


def test_invalid_items_dropped_and_reported(client: Any) -> None:
    req = trace_request(4)
    spans = req.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 15  # bad id length
    spans[1].end_time_unix_nano = spans[1].start_time_unix_nano - 1  # end before start
    r = post(client, "/v1/traces", req.SerializeToString())
    assert r.status_code == 200
    partial = ExportTraceServiceResponse.FromString(r.data).partial_success
    assert partial.rejected_spans == 2
    assert "invalid trace_id" in partial.error_message and "end_time before start_time" in partial.error_message
    assert stored_spans(client) == 2


def test_json_bad_hex_id_drops_only_that_span(client: Any) -> None:
    doc = gemini_json("s-bad", 1_700_000_000_000_000_000)["traces"]
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"] = "zz-not-hex"
    r = post(client, "/v1/traces", json.dumps(doc).encode(), "application/json")
    assert r.status_code == 200
    assert r.get_json()["partialSuccess"]["rejectedSpans"] == "1"
    assert stored_spans(client) == 1


def test_store_unavailable_is_503_with_retry_after(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.errors import StorageUnavailable
    from functions import _bootstrap

    store = _bootstrap.container().store

    def refuse() -> Any:
        raise StorageUnavailable("store cannot take the write: database is locked")

    # A stand-in for a locked or full disk: the store's own error type, raised where the adapter raises it.
    monkeypatch.setattr(store, "unit_of_work", refuse)
    r = post(client, "/v1/traces", trace_request(1).SerializeToString())
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert status_pb2.Status.FromString(r.data).code == 14


def test_otlp_root_tells_signal_from_json_envelope(client: Any) -> None:
    docs = gemini_json("s-root", 1_700_000_000_000_000_000)
    for doc in docs.values():
        r = post(client, "/", json.dumps(doc).encode(), "application/json")
        assert r.status_code == 200, r.data
    r = post(client, "/", trace_request(1).SerializeToString())
    assert r.status_code == 400 and "/v1/traces" in status_pb2.Status.FromString(r.data).message
    r = post(client, "/", b'{"foo": 1}', "application/json")
    assert r.status_code == 400


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from functions import _bootstrap

    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "ingest-acme-1", "org": "acme", "scopes": ["ingest"]},
        {"key": "ingest-acme-2", "org": "acme", "scopes": ["ingest", "read"]},
        {"key": "read-only-globex", "org": "globex", "scopes": ["read"]},
        {"key": "all-globex", "org": "globex", "scopes": ["ingest", "read", "write"]},
    ]}))
    _bootstrap.reset()


def test_auth_rejects_missing_invalid_and_unscoped_keys(client: Any, keys: None) -> None:
    body = trace_request(2).SerializeToString()
    assert post(client, "/v1/traces", body).status_code == 401
    assert post(client, "/v1/traces", body, Authorization="Bearer nope").status_code == 401
    assert post(client, "/v1/traces", body, Authorization="Bearer read-only-globex").status_code == 403
    r = client.get("/api/observatory/spans", headers={"X-Observatory-Key": "all-globex"})
    assert r.get_json()["count"] == 0
    assert post(client, "/v1/traces", body, **{"X-Observatory-Ingest-Token": "ingest-acme-1"}).status_code == 200
    # A second key of the same org (rotation) sees the same data; another org sees none of it.
    acme = client.get("/api/observatory/spans", headers={"Authorization": "Bearer ingest-acme-2"}).get_json()
    assert acme["count"] == 2
    globex = client.get("/api/observatory/spans", headers={"X-Observatory-Key": "all-globex"}).get_json()
    assert globex["count"] == 0
    assert client.get("/api/observatory/spans").status_code == 401
    assert client.get("/api/observatory/spans", headers={"X-Observatory-Key": "ingest-acme-1"}).status_code == 403


@pytest.mark.skipif(ON_FIRESTORE, reason="makes the SQLite file unopenable")
def test_a_store_that_cannot_open_answers_503_and_the_retry_is_stored(client: Any, isolated_env: Any) -> None:
    # A directory where the database file belongs: SQLite cannot open it. OTLP exporters retry a 503 (not a 500),
    # so the batch is delayed, not lost.
    (isolated_env / "observatory.db").mkdir(parents=True)
    body = trace_request(3).SerializeToString()
    r = post(client, "/v1/traces", body)
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert "store cannot open" in status_pb2.Status.FromString(r.data).message
    assert client.get("/healthz").status_code == 503
    r = client.get("/api/observatory/spans")
    assert r.status_code == 503 and "store cannot open" in r.get_json()["error"]
    (isolated_env / "observatory.db").rmdir()
    assert post(client, "/v1/traces", body).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert stored_spans(client) == 3


@pytest.mark.skipif(ON_FIRESTORE, reason="the gate's default is off on Firestore (its writes wait on the network)")
@pytest.mark.parametrize(("setting", "most_at_once"), [(None, 1), ("0", 4)])
def test_a_process_stores_one_otlp_request_at_a_time_by_default(
    client: Any, monkeypatch: pytest.MonkeyPatch, setting: str | None, most_at_once: int
) -> None:
    if setting is not None:
        monkeypatch.setenv("OBSERVATORY_INGEST_CONCURRENCY", setting)
    ingest = IngestService.ingest
    inside = peak = 0
    lock = threading.Lock()
    all_in = threading.Barrier(4)

    def counted(self: IngestService, *args: Any) -> Any:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
        with contextlib.suppress(threading.BrokenBarrierError):
            all_in.wait(timeout=2.0)  # without a gate, all four meet here; with one, each waits alone
        with lock:
            inside -= 1
        return ingest(self, *args)

    monkeypatch.setattr(IngestService, "ingest", counted)
    assert client.get("/healthz").status_code == 200  # the container is built before the threads race to it
    statuses: list[int] = []
    bodies = [trace_request(2).SerializeToString() for _ in range(4)]
    threads = [threading.Thread(target=lambda b=b: statuses.append(post(client, "/v1/traces", b).status_code))
               for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 4 and stored_spans(client) == 8
    assert peak == most_at_once
