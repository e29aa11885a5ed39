"""The HTTP contract of GET /api/observatory/events: JSON pages with a cursor, filters, 400s, auth, and the
bounded text/event-stream; the events that catalog writes and OTLP batches append."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.payloads import trace_request

API = "/api/observatory"
SSE = {"Accept": "text/event-stream"}


def post(client: Any, path: str, body: Any, **headers: str) -> Any:
    return client.post(f"{API}{path}", data=json.dumps(body), headers={"Content-Type": "application/json",
                                                                         **headers})


def events(client: Any, query: str = "", **headers: str) -> dict[str, Any]:
    r = client.get(f"{API}/events{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/json"
    body: dict[str, Any] = r.get_json()
    return body


def create_task(client: Any, title: str, **fields: Any) -> dict[str, Any]:
    r = post(client, "/tasks", {"title": title, **fields})
    assert r.status_code == 201, r.get_json()
    body: dict[str, Any] = r.get_json()
    return body


def otlp(client: Any, body: bytes, **headers: str) -> None:
    r = client.post("/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf", **headers})
    assert r.status_code == 200


def frames(text: str) -> list[dict[str, str]]:
    """The events of a text/event-stream body (comments and the retry field left out)."""
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":")
                      and ": " in line)
        if "event" in fields:
            out.append(fields)
    return out


# -- JSON pages -------------------------------------------------------------------------------------------------

def test_a_task_created_through_the_api_appends_task_created(client: Any) -> None:
    empty = events(client)
    assert empty == {"events": [], "next_since": 0, "count": 0}
    task = create_task(client, "Ship it", description="the secret plan")
    page = events(client)
    assert page["count"] == 1 and page["next_since"] == page["events"][0]["seq"]
    e = page["events"][0]
    assert e["type"] == "task.created" and e["subject_id"] == task["id"] and e["task_id"] == task["id"]
    assert e["workspace_id"] is None and e["data"]["title"] == "Ship it" and e["data"]["status"] == "pending"
    assert e["created_at"].endswith("Z") or "+00:00" in e["created_at"]
    assert "secret" not in json.dumps(page)


def test_pages_follow_the_cursor(client: Any) -> None:
    ids = [create_task(client, f"t{i}")["id"] for i in range(5)]
    first = events(client, "?limit=2")
    assert first["count"] == 2 and [e["subject_id"] for e in first["events"]] == ids[:2]
    second = events(client, f"?limit=2&since={first['next_since']}")
    third = events(client, f"?limit=2&since={second['next_since']}")
    assert [e["subject_id"] for e in second["events"] + third["events"]] == ids[2:]
    done = events(client, f"?since={third['next_since']}")
    assert done == {"events": [], "next_since": third["next_since"], "count": 0}
    # Last-Event-ID (a reconnecting stream's cursor) wins over `since`
    resumed = events(client, "?since=0", **{"Last-Event-ID": str(first["next_since"])})
    assert [e["subject_id"] for e in resumed["events"]] == ids[2:]


def test_filters_by_workspace_task_and_types(client: Any) -> None:
    ws = post(client, "/workspaces", {"name": "obs", "path": "/src/obs"}).get_json()
    t1 = create_task(client, "one", workspace_id=ws["id"])
    t2 = create_task(client, "two")
    assert post(client, "/messages", {"inbox": "coder", "title": "hi", "content": "x", "task_id": t1["id"]}
                ).status_code == 201
    r = client.put(f"{API}/tasks/{t2['id']}", json={"status": "completed"})
    assert r.status_code == 200
    in_ws = events(client, f"?workspace_id={ws['id']}")["events"]
    assert [(e["type"], e["task_id"]) for e in in_ws] == [("task.created", t1["id"]), ("message.created", t1["id"])]
    of_t2 = events(client, f"?task_id={t2['id']}")["events"]
    assert [e["type"] for e in of_t2] == ["task.created", "task.updated", "task.completed"]
    typed = events(client, "?types=task.completed,message.created")["events"]
    assert [e["type"] for e in typed] == ["message.created", "task.completed"]
    assert events(client, f"?types=task.created&task_id={t2['id']}")["count"] == 1
    assert events(client, "?types=approval.decision")["count"] == 0


@pytest.mark.parametrize(("query", "name"), [
    ("?types=task.created,task.exploded", "task.exploded"), ("?types=bogus", "bogus"), ("?since=-1", "since"),
    ("?since=abc", "since"), ("?limit=0", "limit"), ("?timeout=61", "timeout"), ("?timeout=0", "timeout"),
])
def test_bad_parameters_are_named(client: Any, query: str, name: str) -> None:
    for headers in ({}, SSE):
        r = client.get(f"{API}/events{query}", headers=headers)
        assert r.status_code == 400 and r.mimetype == "application/json"
        assert name in r.get_json()["error"]


def test_a_bad_last_event_id_is_a_400(client: Any) -> None:
    for headers in ({"Last-Event-ID": "abc"}, {"Last-Event-ID": "-3", **SSE}):
        r = client.get(f"{API}/events", headers=headers)
        assert r.status_code == 400 and "Last-Event-ID" in r.get_json()["error"]


def test_the_read_scope_protects_pages_and_streams(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "agent", "org": "acme", "scopes": ["ingest"]},
        {"key": "reader", "org": "acme", "scopes": ["read"]},
        {"key": "other", "org": "globex", "scopes": ["read", "write"]},
    ]}))
    for headers in ({}, SSE):
        assert client.get(f"{API}/events", headers=headers).status_code == 401
        r = client.get(f"{API}/events", headers={"Authorization": "Bearer agent", **headers})
        assert r.status_code == 403 and "read" in r.get_json()["error"]
    assert post(client, "/tasks", {"title": "globex's"}, Authorization="Bearer other").status_code == 201
    assert events(client, Authorization="Bearer reader")["count"] == 0  # another org's events stay there
    assert events(client, Authorization="Bearer other")["count"] == 1


# -- the OTLP path -----------------------------------------------------------------------------------------------

def test_an_otlp_batch_appends_one_span_created_with_counts_and_its_replay_none(client: Any) -> None:
    task = create_task(client, "traced")
    req = trace_request(5, attrs={"session.id": "sess-events-1", "observatory.task_id": task["id"]})
    req.resource_spans[0].scope_spans[0].spans[2].status.code = 2
    body = req.SerializeToString()
    otlp(client, body)
    created = events(client, "?types=span.created")["events"]
    assert len(created) == 1
    e = created[0]
    assert e["task_id"] == task["id"]
    assert e["data"]["counts"]["spans"] == 5 and e["data"]["counts"]["errors"] == 1
    assert e["data"]["session_ids"] == ["sess-events-1"] and len(e["data"]["trace_ids"]) == 1
    otlp(client, body)  # the exporter retries the same request
    assert events(client, "?types=span.created")["count"] == 1
    otlp(client, trace_request(2).SerializeToString())
    assert events(client, "?types=span.created")["count"] == 2


# -- the stream --------------------------------------------------------------------------------------------------

def read_stream(client: Any, query: str, **headers: str) -> tuple[Any, list[tuple[float, str]], float]:
    """Open the stream and read it to its end: each chunk with its arrival time, and the end's (seconds from
    the request)."""
    start = time.monotonic()
    r = client.get(f"{API}/events{query}", headers={**SSE, **headers}, buffered=False)
    chunks = []
    for chunk in r.response:
        chunks.append((time.monotonic() - start, chunk.decode() if isinstance(chunk, bytes) else chunk))
    ended = time.monotonic() - start
    r.close()
    return r, chunks, ended


def test_the_stream_yields_events_as_they_are_written_and_ends_on_time(client: Any) -> None:
    create_task(client, "history")  # before the stream opens: not part of a live tail

    def later() -> None:
        time.sleep(0.4)
        create_task(client, "live")

    writer = threading.Thread(target=later)
    writer.start()
    r, chunks, ended = read_stream(client, "?timeout=2")
    writer.join()
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    assert r.headers["Cache-Control"] == "no-cache"
    assert 2.0 <= ended < 3.5, ended  # ends on time
    text = "".join(c for _, c in chunks)
    assert text.startswith("retry: ")
    got = frames(text)
    assert [(f["event"], json.loads(f["data"])["data"]["title"]) for f in got] == [("task.created", "live")]
    assert int(got[0]["id"]) == json.loads(got[0]["data"])["seq"]
    arrived = next(t for t, c in chunks if "event: task.created" in c)
    assert arrived < 1.5, arrived  # pushed within a poll interval, not at the end


def test_a_stream_resumes_from_last_event_id_or_since(client: Any) -> None:
    ids = [create_task(client, f"t{i}")["id"] for i in range(3)]
    seqs = [e["seq"] for e in events(client)["events"]]
    _, chunks, _ = read_stream(client, "?timeout=0.3", **{"Last-Event-ID": str(seqs[0])})
    got = frames("".join(c for _, c in chunks))
    assert [json.loads(f["data"])["subject_id"] for f in got] == ids[1:]
    assert [int(f["id"]) for f in got] == seqs[1:]
    _, chunks, _ = read_stream(client, "?timeout=0.3&since=0&types=task.created&limit=1")
    assert len(frames("".join(c for _, c in chunks))) == 3


def test_json_is_served_unless_the_stream_is_preferred(client: Any) -> None:
    r = client.get(f"{API}/events", headers={"Accept": "application/json, text/event-stream;q=0.5"})
    assert r.mimetype == "application/json"
    r = client.get(f"{API}/events", headers={"Accept": "*/*"})
    assert r.mimetype == "application/json"
    r = client.head(f"{API}/events?timeout=5", headers=SSE)
    assert r.status_code == 200 and r.mimetype == "text/event-stream" and r.data == b""


def test_a_real_server_streams_ingest_and_the_workers_recompute_as_they_happen(server: Any) -> None:
    """Through gunicorn and the separate worker process: chunks are not buffered, and the worker's
    metrics.updated reaches the stream too."""
    import urllib.request

    body = trace_request(3, attrs={"session.id": "sess-live-1", "gen_ai.request.model": "claude-haiku-4-5",
                                   "gen_ai.usage.input_tokens": 7}).SerializeToString()

    def later() -> None:
        time.sleep(0.5)
        urllib.request.urlopen(urllib.request.Request(
            f"{server.url}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"})).read()

    writer = threading.Thread(target=later)
    start = time.monotonic()
    lines: list[tuple[float, str]] = []
    request = urllib.request.Request(f"{server.url}{API}/events?timeout=4", headers=SSE)
    with urllib.request.urlopen(request, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        # The write starts once the stream is open: a stream without `since` starts at the newest event when it
        # opens, and on a slow host opening it could take longer than the writer's head start.
        writer.start()
        for raw in r:
            lines.append((time.monotonic() - start, raw.decode()))
    ended = time.monotonic() - start
    writer.join()
    assert 4.0 <= ended < 6.0, ended
    got = frames("".join(line for _, line in lines))
    assert [f["event"] for f in got] == ["span.created", "metrics.updated"]
    assert json.loads(got[0]["data"])["data"]["counts"]["spans"] == 3
    metrics = json.loads(got[1]["data"])
    assert metrics["subject_id"] == "sess-live-1" and metrics["data"]["span_count"] == 3
    first = next(t for t, line in lines if line.startswith("event: span.created"))
    assert first < 2.0, first
