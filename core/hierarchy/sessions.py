"""A session's turns: its LLM calls by time, each with the tools it ran, as turn groups or as spans.

Claude Code and Gemini CLI log events are not spans: a turn is an LLM-call record, a tool a tool-call record.
A tool belongs to the turn whose span is its parent span when spans say so, else to the last turn that ended
before the tool started (timestamp correlation). Turns and tools no span recorded become synthetic spans
(a turn is a trace of its own, keyed by its LLM call) so every session view can treat them like spans."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from core.errors import NotFound
from core.hierarchy.models import (
    TurnGroup,
    TurnGroupedHierarchy,
    TurnGroupSession,
    TurnGroupStats,
    TurnTool,
)
from core.hierarchy.names import dialect_of, display_name
from core.models import LlmCallView, SessionView, SpanView, ToolCallView
from core.ports.store import Store

_LABELS = {"claude_code": "Claude Code", "gemini_cli": "Gemini CLI"}
_EPOCH = datetime.fromtimestamp(0, UTC)


def _ms(delta: timedelta) -> float:
    return delta.total_seconds() * 1000


def call_end(call: LlmCallView) -> datetime:
    """An LLM call's record time is its response time (the api_request event, or the span's end)."""
    return call.time


def call_start(call: LlmCallView) -> datetime:
    return call.time - timedelta(milliseconds=call.duration_ms or 0)


def tool_start(tool: ToolCallView) -> datetime | None:
    """A tool span records its start; a tool_result event is logged when the tool is done."""
    if tool.start_time is None:
        return None
    if tool.span_id is None and tool.duration_ms:
        return tool.start_time - timedelta(milliseconds=tool.duration_ms)
    return tool.start_time


def tool_status(tool: ToolCallView) -> str:
    return "unset" if tool.success is None else ("ok" if tool.success else "error")


@dataclass
class Turn:
    number: int
    call: LlmCallView
    tools: list[ToolCallView] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The turn's span id: the span that recorded the call, else the call's key."""
        return self.call.span_id or self.call.call_key

    @property
    def trace_id(self) -> str:
        return self.call.trace_id or self.call.call_key


@dataclass
class SessionTurns:
    session_id: str
    session: SessionView | None
    calls: list[LlmCallView]
    tools: list[ToolCallView]
    spans: list[SpanView]
    turns: list[Turn] = field(default_factory=list)
    early_tools: list[ToolCallView] = field(default_factory=list)  # tools of a session without any turn

    @property
    def exists(self) -> bool:
        return bool(self.session or self.calls or self.tools or self.spans)

    @property
    def source_type(self) -> str:
        if self.session is not None:
            return self.session.source_type
        return next((s.source_type for s in self.spans), "other")

    @property
    def label(self) -> str:
        return _LABELS.get(self.source_type, "Agent")

    @property
    def started(self) -> datetime | None:
        times = [t for t in ([self.session.started_at] if self.session else []) if t]
        times += [call_start(c) for c in self.calls] + [s.start_time for s in self.spans]
        return min(times) if times else None

    @property
    def ended(self) -> datetime | None:
        times = [t for t in ([self.session.last_seen_at] if self.session else []) if t]
        times += [c.time for c in self.calls] + [s.end_time or s.start_time for s in self.spans]
        return max(times) if times else None

    @property
    def duration_ms(self) -> int:
        start, end = self.started, self.ended
        return round(_ms(end - start)) if start and end else 0


def load(store: Store, org_id: str, session_id: str, with_results: bool = False,
         spans: list[SpanView] | None = None) -> SessionTurns:
    """The session's calls, tools (their results only ``with_results``) and spans (or the ``spans`` given,
    when the caller holds them already), every tool in its turn."""
    tools = (store.session_tool_calls(org_id, session_id) if with_results
             else store.session_tool_calls_lite(org_id, session_id))
    st = SessionTurns(session_id, store.get_session(org_id, session_id),
                      store.session_llm_calls(org_id, session_id), tools,
                      store.session_spans(org_id, session_id) if spans is None else spans)
    correlate(st)
    return st


def correlate(st: SessionTurns) -> None:
    """Number the turns by time and give each tool its turn: the LLM call whose span is the tool span's parent,
    else the last call that ended at or before the tool started (the first turn for earlier tools)."""
    calls = sorted(st.calls, key=lambda c: (c.time, c.call_key))
    st.turns = [Turn(i, c) for i, c in enumerate(calls, 1)]
    st.early_tools = []
    if not st.turns:
        st.early_tools = list(st.tools)
        return
    by_span = {(t.call.trace_id, t.call.span_id): t for t in st.turns if t.call.span_id}
    parents = {(s.trace_id, s.id): s.parent_span_id for s in st.spans}
    ends = [call_end(t.call) for t in st.turns]
    for tool in st.tools:
        parent = parents.get((tool.trace_id or "", tool.span_id or ""))
        linked = by_span.get((tool.trace_id, parent)) if parent else None
        if linked is not None:
            linked.tools.append(tool)
            continue
        start = tool_start(tool)
        if start is None:  # only a decision was logged: it belongs to the latest turn
            st.turns[-1].tools.append(tool)
            continue
        turn = st.turns[max(bisect.bisect_right(ends, start) - 1, 0)]
        turn.tools.append(tool)
    for turn in st.turns:
        turn.tools.sort(key=lambda t: (tool_start(t) or _EPOCH, t.tool_use_id))


# -- synthetic spans -----------------------------------------------------------------------------------------

def turn_span(st: SessionTurns, turn: Turn) -> SpanView:
    call = turn.call
    return SpanView(
        id=turn.id, trace_id=turn.trace_id, name=f"{dialect_of(st.source_type)}.api_request", kind="client",
        status="ok" if call.success else "error", start_time=call_start(call), end_time=call_end(call),
        duration_ms=call.duration_ms or 0, tokens_in=call.tokens_in, tokens_out=call.tokens_out,
        cache_read_tokens=call.cache_read_tokens, cache_creation_tokens=call.cache_creation_tokens,
        reasoning_tokens=call.reasoning_tokens, cost_usd=call.cost_usd, provided_cost_usd=call.provided_cost_usd,
        computed_cost_usd=call.computed_cost_usd, cache_savings_usd=call.cache_savings_usd, unpriced=call.unpriced,
        model=call.model, provider=call.provider, session_id=st.session_id, source_type=st.source_type,
        workspace=st.session.workspace if st.session else "unknown",
        display_name=f"Turn {turn.number}" + (f" ({call.model})" if call.model else ""),
    )


def tool_span(st: SessionTurns, tool: ToolCallView, turn: Turn | None) -> SpanView:
    """A tool call as a span: under its turn, in the turn's trace (one tree per turn)."""
    start = tool_start(tool) or (call_end(turn.call) if turn else None) or _EPOCH
    name = tool.tool_name or "unknown"
    return SpanView(
        id=tool.span_id or tool.tool_use_id, trace_id=turn.trace_id if turn else (tool.trace_id or tool.tool_use_id),
        parent_span_id=turn.id if turn else None, name=f"{dialect_of(st.source_type)}.tool.{name}",
        kind="internal", status=tool_status(tool), status_message=tool.error, start_time=start,
        end_time=start + timedelta(milliseconds=tool.duration_ms or 0), duration_ms=tool.duration_ms or 0,
        session_id=st.session_id, source_type=st.source_type,
        workspace=st.session.workspace if st.session else "unknown",
        display_name=display_name(tool.tool_name, tool.tool_input, name),
    )


def synthetic_items(st: SessionTurns, spans_complete: bool = True) -> list[SpanView]:
    """A synthetic span for every turn and tool of the session that no stored span recorded, tools under their
    turn; by start time. ``spans_complete``: ``st.spans`` holds every span of the session, so a record is
    recorded when its span is among them; otherwise a record that names a span is taken as recorded."""
    stored = {(s.trace_id, s.id) for s in st.spans}

    def recorded(trace_id: str | None, span_id: str | None) -> bool:
        if span_id is None:
            return False
        return (trace_id or "", span_id) in stored if spans_complete else True

    items: list[SpanView] = []
    for turn in st.turns:
        if not recorded(turn.call.trace_id, turn.call.span_id):
            items.append(turn_span(st, turn))
        items += [tool_span(st, tool, turn) for tool in turn.tools if not recorded(tool.trace_id, tool.span_id)]
    items += [tool_span(st, tool, None) for tool in st.early_tools if not recorded(tool.trace_id, tool.span_id)]
    items.sort(key=lambda s: (s.start_time, s.id))
    return items


def session_items(st: SessionTurns) -> list[SpanView]:
    """The session's stored spans and its synthetic ones, by start time."""
    return sorted(st.spans + synthetic_items(st), key=lambda s: (s.start_time, s.id))


# -- the turn-grouped view -----------------------------------------------------------------------------------

def _turn_tool(tool: ToolCallView) -> TurnTool:
    return TurnTool(
        id=tool.tool_use_id, name=display_name(tool.tool_name, tool.tool_input, tool.tool_name or "unknown"),
        tool_name=tool.tool_name, duration_ms=round(tool.duration_ms or 0), status=tool_status(tool),
        start_time=tool_start(tool),
    )


def turn_grouped(store: Store, org_id: str, session_id: str) -> TurnGroupedHierarchy:
    """The session's turns with the tools each ran; 404 when nothing is known of the session."""
    st = load(store, org_id, session_id)
    if not st.exists:
        raise NotFound(f"session {session_id} not found")
    turns = [
        TurnGroup(turn_number=t.number, span_id=t.id, duration_ms=round(t.call.duration_ms or 0),
                  cost=t.call.cost_usd, tokens_in=t.call.tokens_in, tokens_out=t.call.tokens_out,
                  model=t.call.model, start_time=call_start(t.call), tools=[_turn_tool(x) for x in t.tools])
        for t in st.turns
    ]
    if st.early_tools:  # tools of a session whose LLM calls were never recorded
        turns.insert(0, TurnGroup(turn_number=0, span_id="", duration_ms=0, cost=0, tokens_in=0, tokens_out=0,
                                  tools=[_turn_tool(x) for x in st.early_tools]))
    cost = sum(c.cost_usd for c in st.calls)
    tokens_in = sum(c.tokens_in for c in st.calls)
    tokens_out = sum(c.tokens_out for c in st.calls)
    latest = max(st.calls, key=lambda c: c.time) if st.calls else None
    return TurnGroupedHierarchy(
        session=TurnGroupSession(
            id=session_id, name=f"{st.label} session {session_id[:8]}", duration_ms=st.duration_ms, cost=cost,
            tokens_in=tokens_in, tokens_out=tokens_out, provider=latest.provider if latest else None,
            model=latest.model if latest else None,
        ),
        turns=turns,
        stats=TurnGroupStats(total_turns=len(st.turns), total_tools=len(st.tools), total_cost=cost,
                             total_tokens=tokens_in + tokens_out, duration_ms=st.duration_ms),
    )
