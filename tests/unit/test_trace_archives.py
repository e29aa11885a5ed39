"""Remote trace archives against fake servers on the real wire protocols: the Jaeger and Cloud Trace adapters,
the answer cache (with an injected clock) and the OBSERVATORY_TRACE_ARCHIVES configuration."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from core.adapters.cloud_trace import CloudTraceArchive
from core.adapters.jaeger import JaegerArchive
from core.config import Settings, TraceArchiveConfig, parse_trace_archives
from core.ports.trace_archive import ArchiveQuery, ArchiveUnavailable
from core.trace_archive_cache import CachedTraceArchive, TraceArchiveCache
from tests.trace_archive_fakes import FakeCloudTrace, FakeJaeger, sample_trace

NOW = datetime.now(UTC).replace(microsecond=0)
OLD_ID = "0000000000000000" + "ab" * 8  # a 64-bit id: Jaeger prints it without the leading zeros
NEW_ID = "cd" * 16


@pytest.fixture
def jaeger() -> Iterator[FakeJaeger]:
    fake = FakeJaeger([sample_trace(OLD_ID, NOW - timedelta(hours=2), session="s-1"),
                       sample_trace(NEW_ID, NOW - timedelta(minutes=5), session="s-2", error=True),
                       sample_trace("ef" * 16, NOW - timedelta(minutes=1), service="other-service")])
    yield fake
    fake.close()


@pytest.fixture
def gcp() -> Iterator[FakeCloudTrace]:
    fake = FakeCloudTrace("proj-a", [sample_trace(OLD_ID, NOW - timedelta(hours=3), session="s-1"),
                                     sample_trace(NEW_ID, NOW - timedelta(minutes=7), session="s-2", error=True)])
    yield fake
    fake.close()


def jaeger_archive(url: str, name: str = "j") -> JaegerArchive:
    return JaegerArchive(TraceArchiveConfig("jaeger", "org-a", name, url=url, service="claude-code", timeout_s=2))


def gcp_archive(endpoint: str) -> CloudTraceArchive:
    return CloudTraceArchive(TraceArchiveConfig("gcp", "org-a", "g", project="proj-a", endpoint=endpoint,
                                                insecure=True, timeout_s=2))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_jaeger_lists_summaries_of_its_service_newest_first(jaeger: FakeJaeger) -> None:
    traces = jaeger_archive(jaeger.url).list_traces(ArchiveQuery(None, None, 10))
    assert [t.trace_id for t in traces] == [NEW_ID, OLD_ID]  # other-service is not searched; ids padded to 32
    new = traces[0]
    assert (new.source, new.span_count, new.root_span_name, new.service_name) == (
        "jaeger", 2, "claude_code.interaction", "claude-code")
    assert (new.tokens_in, new.tokens_out, new.session_id, new.status) == (120, 30, "s-2", "error")
    assert new.duration_ms == pytest.approx(50.0)
    assert traces[1].status == "ok"
    search = [h for h in jaeger.hits if h.startswith("/api/traces?")][0]
    assert "service=claude-code" in search and "start=" in search and "end=" in search and "limit=10" in search


def test_jaeger_window_limit_and_session_filter(jaeger: FakeJaeger) -> None:
    archive = jaeger_archive(jaeger.url)
    recent = archive.list_traces(ArchiveQuery(NOW - timedelta(hours=1), NOW, 10))
    assert [t.trace_id for t in recent] == [NEW_ID]
    assert [t.trace_id for t in archive.list_traces(ArchiveQuery(None, None, 1))] == [NEW_ID]
    assert [t.trace_id for t in archive.list_traces(ArchiveQuery(None, None, 10, "s-1"))] == [OLD_ID]


def test_jaeger_get_trace_and_unknown(jaeger: FakeJaeger) -> None:
    archive = jaeger_archive(jaeger.url)
    spans = archive.get_trace(OLD_ID)
    assert [(s.id, s.parent_span_id, s.trace_id) for s in spans] == [
        ("0000000000001111", None, OLD_ID), ("0000000000002222", "0000000000001111", OLD_ID)]
    assert spans[1].model == "claude-sonnet-4-5" and spans[0].resource_attributes["service.name"] == "claude-code"
    assert archive.get_trace("99" * 16) == []


def test_jaeger_down_raises_unavailable() -> None:
    with pytest.raises(ArchiveUnavailable, match="jaeger j"):
        jaeger_archive(f"http://127.0.0.1:{closed_port()}").list_traces(ArchiveQuery(None, None, 10))


def test_cloud_trace_lists_complete_traces(gcp: FakeCloudTrace) -> None:
    archive = gcp_archive(gcp.endpoint)
    try:
        traces = archive.list_traces(ArchiveQuery(None, None, 10))
        assert [t.trace_id for t in traces] == [NEW_ID, OLD_ID]
        assert all(t.source == "gcp" and t.span_count == 2 for t in traces)
        assert (traces[0].status, traces[0].tokens_in, traces[0].service_name) == ("error", 120, "claude-code")
        request = gcp.requests[-1]
        assert request.view.name == "COMPLETE" and request.page_size == 10 and request.project_id == "proj-a"
        assert request.start_time < request.end_time
        assert [t.trace_id for t in archive.list_traces(ArchiveQuery(None, None, 10, "s-1"))] == [OLD_ID]
        assert gcp.requests[-1].filter == "+session.id:s-1"
    finally:
        archive.close()


def test_cloud_trace_get_trace_and_unknown(gcp: FakeCloudTrace) -> None:
    archive = gcp_archive(gcp.endpoint)
    try:
        spans = archive.get_trace(NEW_ID)
        assert [(s.id, s.parent_span_id, s.kind) for s in spans] == [
            ("0000000000001111", None, "server"), ("0000000000002222", "0000000000001111", "internal")]
        assert spans[1].status == "error" and spans[1].status_message == "boom"
        assert archive.get_trace("99" * 16) == []
    finally:
        archive.close()


def test_cloud_trace_down_raises_unavailable() -> None:
    archive = gcp_archive(f"127.0.0.1:{closed_port()}")
    try:
        with pytest.raises(ArchiveUnavailable, match="gcp g"):
            archive.list_traces(ArchiveQuery(None, None, 10))
    finally:
        archive.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_serves_within_ttl_and_asks_again_after(jaeger: FakeJaeger) -> None:
    clock = Clock()
    cache = TraceArchiveCache(60, clock=clock)
    archive = CachedTraceArchive(jaeger_archive(jaeger.url), cache)
    query = ArchiveQuery(None, None, 10)
    first = archive.list_traces(query)
    assert len(jaeger.hits) == 1
    clock.now += 59
    assert archive.list_traces(query) == first and len(jaeger.hits) == 1
    archive.list_traces(ArchiveQuery(None, None, 5))  # another query is another entry
    assert len(jaeger.hits) == 2
    clock.now += 2  # past the first answer's 60 s
    assert archive.list_traces(query) == first and len(jaeger.hits) == 3
    archive.get_trace(OLD_ID)
    archive.get_trace(OLD_ID)
    assert len(jaeger.hits) == 4


def test_cache_is_per_remote_and_never_keeps_failures(jaeger: FakeJaeger) -> None:
    cache = TraceArchiveCache(60, clock=Clock())
    one, two = (CachedTraceArchive(jaeger_archive(jaeger.url, name), cache) for name in ("one", "two"))
    query = ArchiveQuery(None, None, 10)
    one.list_traces(query)
    two.list_traces(query)
    assert len(jaeger.hits) == 2
    down = CachedTraceArchive(jaeger_archive(f"http://127.0.0.1:{closed_port()}", "down"), cache)
    calls = []
    real = down.inner.list_traces

    def counting(q: ArchiveQuery) -> list[object]:
        calls.append(q)
        return real(q)  # type: ignore[return-value]

    down.inner.list_traces = counting  # type: ignore[method-assign,assignment]
    for _ in range(2):
        with pytest.raises(ArchiveUnavailable):
            down.list_traces(query)
    assert len(calls) == 2


def test_configuration_parses_both_kinds() -> None:
    settings = Settings.from_env({
        "OBSERVATORY_TRACE_ARCHIVES": json.dumps([
            {"kind": "gcp", "org": "acme", "project": "p"},
            {"kind": "jaeger", "org": "acme", "url": "http://jaeger:16686", "service": "claude-code",
             "timeout_s": 2}]),
        "OBSERVATORY_TRACE_CACHE_S": "30"})
    gcp, jaeger = settings.trace_archives
    assert (gcp.kind, gcp.org, gcp.project, gcp.name) == ("gcp", "acme", "p", "gcp:p")
    assert (jaeger.url, jaeger.service, jaeger.timeout_s, jaeger.name) == (
        "http://jaeger:16686", "claude-code", 2.0, "jaeger:claude-code@jaeger:16686")
    assert settings.trace_cache_s == 30
    assert Settings.from_env({}).trace_archives == () and Settings.from_env({}).trace_cache_s == 60


@pytest.mark.parametrize(("raw", "message"), [
    ("not json", "not valid JSON"),
    ('{"kind": "gcp"}', "JSON list"),
    ('[{"kind": "zipkin", "org": "a"}]', r"\[0\]\.kind must be one of gcp, jaeger"),
    ('[{"kind": "gcp", "project": "p"}]', r"\[0\]\.org must be a non-empty string"),
    ('[{"kind": "gcp", "org": "a"}]', r"\[0\]\.project"),
    ('[{"kind": "jaeger", "org": "a", "service": "s", "url": "jaeger:16686"}]', r"\[0\]\.url must be an http"),
    ('[{"kind": "jaeger", "org": "a", "url": "http://j:1"}]', r"\[0\]\.service"),
    ('[{"kind": "jaeger", "org": "a", "url": "http://j:1", "service": "s", "project": "p"}]', "unknown key"),
    ('[{"kind": "gcp", "org": "a", "project": "p", "timeout_s": 0}]', "timeout_s must be a positive"),
    ('[{"kind": "gcp", "org": "a", "project": "p", "insecure": true}]', r"\[0\]\.endpoint"),
    ('[{"kind": "gcp", "org": "a", "project": "p"}, {"kind": "gcp", "org": "b", "project": "p"}]', "duplicate"),
])
def test_bad_configuration_is_a_clear_startup_error(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        Settings.from_env({"OBSERVATORY_TRACE_ARCHIVES": raw})
    assert "OBSERVATORY_TRACE_ARCHIVES" in str(info.value)
    assert parse_trace_archives("") == ()


def test_bad_cache_seconds_is_a_startup_error() -> None:
    with pytest.raises(ValueError, match="OBSERVATORY_TRACE_CACHE_S"):
        Settings.from_env({"OBSERVATORY_TRACE_CACHE_S": "soon"})
