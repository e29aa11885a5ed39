"""Normalised records produced by ingest: the facts the Store keeps (plain slotted dataclasses, hot path)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

# Token rule for every record: ``tokens_in`` EXCLUDES cache reads and cache writes, which have their own
# fields (Anthropic's raw meaning). Sources whose input count includes cache (GenAI semconv, Gemini,
# OpenInference) are converted by the normalisers. Likewise ``tokens_out`` excludes ``reasoning_tokens``
# (Gemini's thoughts, semconv reasoning), which are billed at the output price.


@dataclass(slots=True)
class Usage:
    model: str | None = None
    provider: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    provided_cost_usd: float | None = None
    computed_cost_usd: float | None = None
    cache_savings_usd: float = 0.0
    unpriced: bool = False

    @property
    def cost_usd(self) -> float:
        """Provided cost when the source gave one, else computed cost (DESIGN §3)."""
        if self.provided_cost_usd is not None:
            return self.provided_cost_usd
        return self.computed_cost_usd or 0.0

    @property
    def has_tokens(self) -> bool:
        return bool(self.tokens_in or self.tokens_out or self.cache_read_tokens or self.cache_creation_tokens)


@dataclass(slots=True)
class Links:
    """Task / agent-assignment / chain / stage ids a record is linked to."""

    task_id: str | None = None
    assignment_id: str | None = None
    chain_id: str | None = None
    stage_id: str | None = None
    message_id: str | None = None


@dataclass(slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    status: str
    status_message: str | None
    start_ns: int
    end_ns: int
    session_id: str | None
    service_name: str | None
    source_type: str
    workspace: str
    usage: Usage
    links: Links
    attributes_json: str
    resource_json: str
    events_json: str | None

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6 if self.end_ns else 0.0


@dataclass(slots=True)
class EventRecord:
    """A log event (Claude Code / Gemini CLI / any OTLP log record), kept as an event of its session."""

    event_key: str
    name: str
    dialect: str
    time_ns: int
    session_id: str | None
    prompt_id: str | None
    trace_id: str | None
    span_id: str | None
    severity: str | None
    body: str | None
    attributes_json: str
    resource_json: str


@dataclass(slots=True)
class LlmCallRecord:
    """One LLM request, however many signals reported it (joined by core.joins)."""

    call_key: str
    session_id: str | None
    time_ns: int
    duration_ms: float | None
    usage: Usage
    request_id: str | None = None
    response_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    event_key: str | None = None
    prompt_id: str | None = None
    success: bool = True
    source: str = "event"  # "event", "span" or "event+span"
    links: Links = field(default_factory=Links)


@dataclass(slots=True)
class ToolCallRecord:
    """One tool call; several sources fill different fields and are merged by ``tool_use_id``."""

    tool_use_id: str
    session_id: str | None
    tool_name: str | None = None
    time_ns: int | None = None
    duration_ms: float | None = None
    success: bool | None = None
    error: str | None = None
    decision: str | None = None
    decision_source: str | None = None
    approval_wait_ms: float | None = None
    tool_input: str | None = None
    tool_result: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


def merged_tool_calls(tools: list[ToolCallRecord]) -> list[ToolCallRecord]:
    """One record per tool id, merged as the stores' upserts would merge them in order: a later present field
    wins, the earliest time is kept (the start). The records given are not changed."""
    if len({t.tool_use_id for t in tools}) == len(tools):
        return tools
    out: dict[str, ToolCallRecord] = {}
    copied: set[str] = set()
    for t in tools:
        seen = out.get(t.tool_use_id)
        if seen is None:
            out[t.tool_use_id] = t
            continue
        if t.tool_use_id not in copied:  # copied only once a second report arrives: most ids come once
            copied.add(t.tool_use_id)
            seen = out[t.tool_use_id] = replace(seen)
        for f in _TOOL_FIELDS:
            value = getattr(t, f)
            if f == "time_ns":
                if value is not None and (seen.time_ns is None or value < seen.time_ns):
                    seen.time_ns = value
            elif value is not None:
                setattr(seen, f, value)
    return list(out.values())


_TOOL_FIELDS = tuple(f.name for f in fields(ToolCallRecord) if f.name != "tool_use_id")


def merged_spans(spans: list[SpanRecord]) -> list[SpanRecord]:
    """One record per span (trace and span id), merged as the Store's upserts would merge its reports in order:
    the last report wins, except that a link (task, assignment, chain, stage, message) or workspace it lacks is
    kept from an earlier one. Returned in the order of each span's last report; the records given are not
    changed (the list itself when no span comes twice)."""
    if len({(s.trace_id, s.span_id) for s in spans}) == len(spans):
        return spans
    out: dict[tuple[str, str], SpanRecord] = {}
    for s in spans:
        key = (s.trace_id, s.span_id)
        earlier = out.pop(key, None)
        if earlier is not None:
            links = Links(*(getattr(s.links, f) if getattr(s.links, f) is not None else getattr(earlier.links, f)
                            for f in _LINK_FIELDS))
            s = replace(s, links=links, workspace=s.workspace or earlier.workspace)
        out[key] = s
    return list(out.values())


_LINK_FIELDS = tuple(f.name for f in fields(Links))


@dataclass(slots=True)
class MetricPointRecord:
    series_key: str
    name: str
    metric_type: str  # "sum", "gauge", "histogram", "summary"
    temporality: str  # "delta", "cumulative" or "" (gauges)
    start_ns: int
    time_ns: int
    value: float
    session_id: str | None
    model: str | None
    label_type: str | None
    attributes_json: str
    resource_json: str


@dataclass(slots=True)
class SessionRecord:
    """What one batch saw of a session; the store merges (min/max times, union of models)."""

    session_id: str
    first_seen_ns: int
    last_seen_ns: int
    service_name: str | None = None
    source_type: str = "other"
    workspace: str | None = None
    user_id: str | None = None
    user_email: str | None = None
    account_org: str | None = None
    app_version: str | None = None
    terminal_type: str | None = None
    models: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Batch:
    """Everything one export request normalised into, plus what was rejected and why."""

    org_id: str
    spans: list[SpanRecord] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    llm_calls: list[LlmCallRecord] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    metric_points: list[MetricPointRecord] = field(default_factory=list)
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    reject_reasons: dict[str, int] = field(default_factory=dict)
    filtered: int = 0

    def reject(self, reason: str) -> None:
        self.rejected += 1
        self.reject_reasons[reason] = self.reject_reasons.get(reason, 0) + 1

    def see_session(self, session_id: str, time_ns: int) -> SessionRecord:
        rec = self.sessions.get(session_id)
        if rec is None:
            rec = self.sessions[session_id] = SessionRecord(session_id, time_ns, time_ns)
        elif time_ns:
            if time_ns < rec.first_seen_ns or not rec.first_seen_ns:
                rec.first_seen_ns = time_ns
            if time_ns > rec.last_seen_ns:
                rec.last_seen_ns = time_ns
        return rec
