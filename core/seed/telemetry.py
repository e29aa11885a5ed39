"""OTLP export requests of the seed's agent sessions, as each agent's own exporter would send them."""

from __future__ import annotations

import random
from dataclasses import dataclass

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from core.seed.plan import NS, SessionPlan, TaskPlan, TracePlan, WorkspacePlan

_MS = 1_000_000
_CLIENT = Span.SPAN_KIND_CLIENT
_INTERNAL = Span.SPAN_KIND_INTERNAL
_ERROR = Status(code=Status.STATUS_CODE_ERROR, message="tool failed")
_LLM_ERROR = Status(code=Status.STATUS_CODE_ERROR, message="overloaded_error")
_OK = Status(code=Status.STATUS_CODE_OK)


def kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


@dataclass
class TraceCounts:
    spans: int = 0
    llm_calls: int = 0
    tool_calls: int = 0
    events: int = 0


def resource_attributes(ws: WorkspacePlan, task: TaskPlan, session: SessionPlan) -> list[KeyValue]:
    """What links a session's telemetry to its workspace, task and assignment."""
    agent = session.agent
    return [
        kv("service.name", agent.service),
        kv("service.version", agent.version),
        kv("process.cwd", ws.path),
        kv("session.id", session.session_id),
        kv("observatory.task_id", task.task_id),
        kv("observatory.assignment_id", session.assignment_id),
        kv("host.arch", "amd64"),
        kv("os.type", "linux"),
    ]


def _trace_rng(seed: int, trace: TracePlan) -> random.Random:
    return random.Random(seed * 1_000_003 + trace.index)


def _span_id(rng: random.Random, i: int) -> bytes:
    return rng.randbytes(6) + (i + 1).to_bytes(2, "big")  # unique within the trace and never zero


class _Dialect:
    """How one agent names its spans and reports usage and tools."""

    root_name = "agent.run"

    def __init__(self, session: SessionPlan) -> None:
        self.session = session
        self.models = [m for m, _ in session.model_weights]
        self.weights = [w for _, w in session.model_weights]

    def root(self, span: Span, rng: random.Random) -> None:
        span.name = self.root_name
        span.attributes.append(kv("user_prompt_length", rng.randint(20, 2000)))

    def llm(self, span: Span, rng: random.Random, model: str) -> None:
        span.name = f"chat {model}"
        span.kind = _CLIENT
        cache = rng.randint(0, 40_000)
        span.attributes.extend([
            kv("gen_ai.operation.name", "chat"),
            kv("gen_ai.provider.name", self.session.agent.provider),
            kv("gen_ai.request.model", model),
            # GenAI semconv: the input count includes cached tokens.
            kv("gen_ai.usage.input_tokens", cache + rng.randint(50, 8000)),
            kv("gen_ai.usage.cache_read.input_tokens", cache),
            kv("gen_ai.usage.output_tokens", rng.randint(20, 3000)),
        ])

    def tool(self, span: Span, rng: random.Random, tool: str, tool_id: str, ok: bool) -> None:
        span.name = f"execute_tool {tool}"
        span.attributes.extend([
            kv("gen_ai.operation.name", "execute_tool"),
            kv("gen_ai.tool.name", tool),
            kv("gen_ai.tool.call.id", tool_id),
        ])

    has_execution = False  # whether a tool span has a child span for the execution itself

    def execution(self, span: Span, tool_id: str, ok: bool) -> None:
        raise NotImplementedError

    def prompt_event(self) -> str | None:
        return None


class _ClaudeCode(_Dialect):
    root_name = "claude_code.interaction"

    def llm(self, span: Span, rng: random.Random, model: str) -> None:
        span.name = "claude_code.llm_request"
        span.kind = _CLIENT
        span.attributes.extend([  # Claude Code's own names: input excludes cache reads and writes
            kv("model", model),
            kv("input_tokens", rng.randint(5, 4000)),
            kv("output_tokens", rng.randint(20, 3000)),
            kv("cache_read_tokens", rng.randint(0, 80_000)),
            kv("cache_creation_tokens", rng.randint(0, 5000)),
            kv("ttft_ms", float(rng.randint(200, 3000))),
        ])

    def tool(self, span: Span, rng: random.Random, tool: str, tool_id: str, ok: bool) -> None:
        span.name = "claude_code.tool"
        span.attributes.extend([kv("tool_name", tool), kv("tool_use_id", tool_id), kv("success", ok)])

    has_execution = True

    def execution(self, span: Span, tool_id: str, ok: bool) -> None:
        span.name = "claude_code.tool.execution"
        span.attributes.extend([kv("tool_use_id", tool_id), kv("success", ok)])

    def prompt_event(self) -> str | None:
        return "user_prompt"


class _GeminiCli(_Dialect):
    root_name = "invoke_agent gemini-cli"

    def root(self, span: Span, rng: random.Random) -> None:
        span.name = self.root_name
        span.attributes.extend([kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.agent.name", "gemini-cli")])

    def prompt_event(self) -> str | None:
        return "gemini_cli.user_prompt"


class _Eval(_Dialect):
    root_name = "eval.run"

    def root(self, span: Span, rng: random.Random) -> None:
        span.name = self.root_name
        span.attributes.extend([kv("eval.suite", "regression"), kv("eval.case", f"case-{rng.randint(1, 400)}")])


class _Coordinator(_Dialect):
    root_name = "coordinator.dispatch"


_DIALECTS: dict[str, type[_Dialect]] = {"claude-code": _ClaudeCode, "gemini-cli": _GeminiCli, "eval": _Eval,
                                        "coordinator": _Coordinator}


def add_trace(rs: ResourceSpans, session: SessionPlan, trace: TracePlan, seed: int) -> TraceCounts:
    """The spans of one trace (a root interaction, then LLM turns each followed by tool calls)."""
    rng = _trace_rng(seed, trace)
    dialect = _DIALECTS[session.agent.service](session)
    tools = session.agent.tools
    tool_error = 0.15 if session.failed else 0.04
    trace_id = rng.randbytes(15) + b"\x01"  # never all-zero
    spans = rs.scope_spans.add()
    spans.scope.name = session.agent.service
    out = spans.spans
    counts = TraceCounts()
    t = trace.start_ns
    root_id = _span_id(rng, 0)
    root = out.add(trace_id=trace_id, span_id=root_id, start_time_unix_nano=t, kind=_INTERNAL, status=_OK)
    dialect.root(root, rng)
    i = 1
    while i < trace.spans:
        model = rng.choices(dialect.models, dialect.weights)[0]
        llm_id = _span_id(rng, i)
        dur = rng.randint(800, 20_000) * _MS
        llm = out.add(trace_id=trace_id, span_id=llm_id, parent_span_id=root_id, start_time_unix_nano=t,
                      end_time_unix_nano=t + dur)
        dialect.llm(llm, rng, model)
        if rng.random() < 0.01:
            llm.status.CopyFrom(_LLM_ERROR)
        counts.llm_calls += 1
        t += dur
        i += 1
        for _ in range(rng.randint(1, 3)):
            if i >= trace.spans:
                break
            tool_dur = rng.randint(5, 5000) * _MS
            ok = rng.random() >= tool_error
            tool_id = f"toolu_{rng.getrandbits(96):024x}"
            tool_span_id = _span_id(rng, i)
            tool = out.add(trace_id=trace_id, span_id=tool_span_id, parent_span_id=llm_id, start_time_unix_nano=t,
                           end_time_unix_nano=t + tool_dur, kind=_INTERNAL)
            dialect.tool(tool, rng, rng.choice(tools), tool_id, ok)
            if not ok:
                tool.status.CopyFrom(_ERROR)
            counts.tool_calls += 1
            i += 1
            if dialect.has_execution and i < trace.spans:
                child = out.add(trace_id=trace_id, span_id=_span_id(rng, i), parent_span_id=tool_span_id,
                                start_time_unix_nano=t + _MS, end_time_unix_nano=t + tool_dur)
                dialect.execution(child, tool_id, ok)
                i += 1
            t += tool_dur
    root.end_time_unix_nano = t + 50 * _MS
    counts.spans = len(out)
    return counts


def add_prompt_event(logs: ExportLogsServiceRequest, resource: list[KeyValue], session: SessionPlan,
                     trace: TracePlan, seed: int) -> int:
    """The user-prompt log event that opens a trace of Claude Code or Gemini CLI (0 for other agents)."""
    name = _DIALECTS[session.agent.service](session).prompt_event()
    if name is None:
        return 0
    rng = random.Random(seed * 1_000_003 + trace.index + 7)
    rl = logs.resource_logs.add()
    rl.resource.attributes.extend(resource)
    rec = rl.scope_logs.add().log_records.add(time_unix_nano=trace.start_ns - rng.randint(1, 900) * _MS)
    rec.body.string_value = name if "." in name else f"claude_code.{name}"
    rec.attributes.extend([
        kv("event.name", name),
        kv("session.id", session.session_id),
        kv("prompt_length", rng.randint(20, 2000)),
        kv("prompt.id", f"{rng.getrandbits(64):016x}"),
    ])
    return 1


def new_trace_request() -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest()


def new_logs_request() -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest()


__all__ = ["NS", "TraceCounts", "add_prompt_event", "add_trace", "kv", "new_logs_request", "new_trace_request",
           "resource_attributes"]
