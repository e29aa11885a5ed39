"""Unit tests for core.span_filter: default deny list, pattern kinds, service scoping and env overrides."""

from __future__ import annotations

import pytest

from core.span_filter import DEFAULT_DENY, SpanFilter


@pytest.fixture(scope="module")
def default() -> SpanFilter:
    return SpanFilter.from_env({})


@pytest.mark.parametrize("name", [
    "google.devtools.cloudtrace.v2.TraceService/BatchWriteSpans",
    "opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "/health",
    "health.check",
    "/api/health",
    "/assets/index-abc123.js",
    "/assets/logo",
    "/static/app.js",
    "/static/site.css",
    "/favicon.ico",
    "/img/a.png",
    "/img/b.svg",
    "/api/approvals",
    "/api/approvals/pending",
    "/api/hierarchy/tree",
    "/api/statistics",
    "/api/version",
    "/api/monitor/status",
    "/api/telemetry/config",
    "/api/metrics/summary",
    "/api/observatory/traces?limit=50",
    "/api/observatory/metrics",
    "/api/inbox/agent-1",
    "/api/budget/org",
    "/api/controlplane/agents",
    "/api/coordinator/events",
])
def test_default_deny(default: SpanFilter, name: str) -> None:
    assert not default.allows(name, None)
    assert not default.allows(name, "any-service")


@pytest.mark.parametrize("name", [
    "claude_code.llm_request",
    "chat claude-sonnet-4-5",
    "execute_tool Bash",
    "POST /v1/messages",
    "/api/coordinator/events/stream",  # exact entry, not a prefix
    "/api/budget",  # the deny entry is "/api/budget/" (prefix with the slash)
    "/api/healthz",
    "/healthcheck",
    "/app.jsx",
    "messages.list",  # service-scoped entries do not apply without that service
    "",
])
def test_default_keeps_real_work(default: SpanFilter, name: str) -> None:
    assert default.allows(name, None)
    assert default.allows(name, "claude-code")


@pytest.mark.parametrize(("name", "service", "allowed"), [
    ("messages.list", "ailang-coordinator", False),
    ("messages.count", "ailang-coordinator", False),
    ("inbox.poll", "ailang-coordinator", False),
    ("agent.heartbeat", "ailang-coordinator", False),
    ("messages.list", "ailang-server", False),
    ("messages.count", "ailang-server", False),
    ("inbox.poll", "ailang-server", True),  # only the coordinator's inbox polls are noise
    ("agent.heartbeat", "ailang-server", True),
    ("messages.list", "ailang-coordinator-2", True),  # service match is exact
    ("messages.list", "Ailang-Server", True),
    ("messages.list", None, True),
    ("messages.send", "ailang-coordinator", True),
])
def test_service_scoped_defaults(default: SpanFilter, name: str, service: str | None, allowed: bool) -> None:
    assert default.allows(name, service) is allowed


def test_pattern_kinds() -> None:
    spans = SpanFilter(deny=["exact.name", "pre.*", "*.suf", "*mid*", "svc:scoped*", "/a:b"])
    assert not spans.allows("exact.name", None)
    assert spans.allows("exact.name.more", None)
    assert not spans.allows("pre.fix", None)
    assert spans.allows("xpre.fix", None)
    assert not spans.allows("name.suf", None)
    assert spans.allows("name.sufx", None)
    # "*x*" means "contains x" (the seed treated it as a prefix on x)
    assert not spans.allows("has-mid-inside", None)
    assert not spans.allows("mid-first", None)
    assert spans.allows("m-i-d", None)
    assert not spans.allows("scoped.op", "svc")
    assert spans.allows("scoped.op", "other")
    assert spans.allows("scoped.op", None)
    # a name with "/" before ":" is a plain pattern, not service-scoped
    assert not spans.allows("/a:b", None)


def test_star_matches_everything_and_blank_patterns_ignored() -> None:
    assert not SpanFilter(deny=["*"]).allows("anything", None)
    spans = SpanFilter(deny=["", "  ", "x"])
    assert spans.allows("anything", None)
    assert not spans.allows("x", None)


def test_allow_beats_deny() -> None:
    allow = "/api/health, /api/metrics/keep*,ailang-server:messages.list"
    spans = SpanFilter.from_env({"OBSERVATORY_SPAN_FILTER_ALLOW": allow})
    assert spans.allows("/api/health", None)
    assert spans.allows("/api/metrics/keep-this", None)
    assert not spans.allows("/api/metrics/other", None)
    assert spans.allows("messages.list", "ailang-server")
    assert not spans.allows("messages.list", "ailang-coordinator")
    assert not spans.allows("/health", None)


def test_deny_env_is_appended_to_defaults() -> None:
    spans = SpanFilter.from_env({"OBSERVATORY_SPAN_FILTER_DENY": "noisy.*, *.tmp ,my-svc:tick,"})
    assert not spans.allows("noisy.poll", None)
    assert not spans.allows("file.tmp", None)
    assert not spans.allows("tick", "my-svc")
    assert spans.allows("tick", "other-svc")
    assert not spans.allows("/api/health", None)  # defaults still apply
    assert spans.allows("claude_code.llm_request", None)


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", " True "])
def test_disable(value: str) -> None:
    spans = SpanFilter.from_env({"OBSERVATORY_SPAN_FILTER_DISABLE": value})
    assert not spans.enabled
    assert spans.allows("/api/health", None)
    assert spans.allows("messages.list", "ailang-coordinator")


@pytest.mark.parametrize("value", ["", "false", "0", "no"])
def test_not_disabled(value: str) -> None:
    spans = SpanFilter.from_env({"OBSERVATORY_SPAN_FILTER_DISABLE": value})
    assert spans.enabled
    assert not spans.allows("/api/health", None)


def test_from_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_SPAN_FILTER_DENY", "from.os.environ")
    monkeypatch.delenv("OBSERVATORY_SPAN_FILTER_DISABLE", raising=False)
    monkeypatch.delenv("OBSERVATORY_SPAN_FILTER_ALLOW", raising=False)
    assert not SpanFilter.from_env().allows("from.os.environ", None)


def test_decisions_are_cached_and_stable() -> None:
    spans = SpanFilter()
    for _ in range(3):
        assert not spans.allows("/api/health", None)
        assert spans.allows("chat gpt-5", "codex")
    # a flood of distinct names stays correct past the cache bound
    for i in range(10_000):
        assert spans.allows(f"op-{i}", None)
    assert not spans.allows("/api/health", None)


def test_default_deny_constant_is_used() -> None:
    assert "/api/health" in DEFAULT_DENY
    assert not SpanFilter().allows("/api/health", None)
    assert SpanFilter(deny=()).allows("/api/health", None)
