"""Legacy JSON ingest: ClaudeMetrics session totals and Gemini-style JSON spans, stored like OTLP ingest."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    RootModel,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from core.errors import BadParameter
from core.ingest import IngestService
from core.normalise.attributes import TIME_LIMIT_NS, first, to_amount, to_count, to_str
from core.normalise.content import mask_content, mask_text
from core.normalise.jsontext import compact_json
from core.normalise.linking import link
from core.normalise.resource import resource_context, source_type_of
from core.normalise.spans import llm_call_from_span, tool_call_from_span
from core.normalise.usage import COST_KEYS, MODEL_KEYS, PROVIDER_KEYS, USAGE_KEYS, price, span_usage
from core.pricing import PriceTable
from core.records import Batch, Links, SpanRecord, Usage

# Ids end up in span ids and URL paths: URL-safe characters only, bounded.
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+=~-]*$"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=~-]{0,199}")
Id = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_ID_PATTERN)]
_KINDS = ("internal", "internal", "server", "client", "producer", "consumer")
_STATUSES = ("unset", "ok", "error")
_CLAUDE_STATUS = {"completed": "ok", "failed": "error", "cancelled": "error"}
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_GO_ZERO_YEAR = 1  # Go marshals an unset time.Time as 0001-01-01T00:00:00Z
_MAX_COUNT = 2**53  # token and call counts: summed by the reads without overflow
_COUNT_KEYS = (USAGE_KEYS - set(MODEL_KEYS) - set(PROVIDER_KEYS) - set(COST_KEYS)) | {
    "llm.token_count.input", "llm.token_count.output"}
_MAX_DURATION_MS = 10**12
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime.fromtimestamp(TIME_LIMIT_NS // 10**9, UTC)  # 2100: what every store can hold


def _ns(moment: datetime) -> int:
    if moment.tzinfo is None:  # a timestamp without offset is read as UTC
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EARLIEST) // timedelta(microseconds=1) * 1000  # integer maths: no float rounding


def _set(moment: datetime | None) -> datetime | None:
    return None if moment is None or moment.year == _GO_ZERO_YEAR else moment


def _checked(moment: datetime | None) -> datetime | None:
    """A time the store can keep as nanoseconds (Go's zero time passes: it means unset)."""
    if moment is None or moment.year == _GO_ZERO_YEAR:
        return moment
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    if not _EARLIEST <= aware < _LATEST:
        raise ValueError("must be between 1970 and 2100")
    return moment


# -- request models (the seed's JSON field names) ---------------------------------------------------------------

class ClaudeEvent(BaseModel):
    """One event Claude Code captured during the session (kept as an event of the session span)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    type: Literal["tool_call", "approval", "error"]
    timestamp: datetime
    tool_name: str | None = None
    tool_input: dict[str, Any] | None = None
    tool_result: str | None = None
    approved: bool | None = None
    error_message: str | None = None

    @field_validator("timestamp")
    @classmethod
    def _in_range(cls, value: datetime) -> datetime:
        checked = _checked(value)  # raises outside 1970..2100
        return _EARLIEST if checked is None or checked.year == _GO_ZERO_YEAR else checked


class ClaudeMetrics(BaseModel):
    """Session totals exported by Claude Code (the seed's ClaudeMetrics)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    session_id: Id
    task_id: Id | None = None
    model: str = ""
    total_input_tokens: int = Field(0, ge=0, le=_MAX_COUNT)
    total_output_tokens: int = Field(0, ge=0, le=_MAX_COUNT)
    total_cost_usd: float = Field(0, ge=0, allow_inf_nan=False)
    duration_ms: int = Field(0, ge=0, le=_MAX_DURATION_MS)
    turn_count: int = Field(0, ge=0, le=_MAX_COUNT)
    tool_calls: int = Field(0, ge=0, le=_MAX_COUNT)
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: Literal["completed", "failed", "cancelled"] | None = None
    error_message: str | None = None
    events: list[ClaudeEvent] = Field(default_factory=list)

    @field_validator("task_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("status", mode="before")
    @classmethod
    def _empty_status(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("start_time", "end_time")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        return _checked(value)

    @model_validator(mode="after")
    def _times(self) -> ClaudeMetrics:
        start, end = _set(self.start_time), _set(self.end_time)
        if start is None and end is None:
            raise ValueError("start_time is required (or end_time with duration_ms)")
        if start is not None and end is not None and end < start:
            raise ValueError("end_time is before start_time")
        if start is None and end is not None and _ns(end) < self.duration_ms * 1_000_000:
            raise ValueError("end_time minus duration_ms is before 1970")
        if start is not None and end is None and _ns(start) + self.duration_ms * 1_000_000 >= TIME_LIMIT_NS:
            raise ValueError("start_time plus duration_ms is in 2100 or later")
        return self


class AttributeValue(BaseModel):
    """An OTLP/JSON AnyValue of a scalar kind (int64 may arrive as a string)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    string_value: str | None = Field(None, alias="stringValue")
    int_value: int | None = Field(None, alias="intValue", ge=-(2**63), le=2**63 - 1)
    double_value: float | None = Field(None, alias="doubleValue", allow_inf_nan=False)
    bool_value: bool | None = Field(None, alias="boolValue")

    def value(self) -> str | int | float | bool | None:
        for v in (self.string_value, self.int_value, self.double_value, self.bool_value):
            if v is not None:
                return v
        return None


class Attribute(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    key: str = Field(min_length=1)
    value: AttributeValue


class OtelStatus(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    code: int = Field(0, ge=0, le=2, description="0 unset, 1 ok, 2 error")
    message: str = ""


class OtelEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    name: str
    time_unix_nano: int = Field(0, ge=0, lt=TIME_LIMIT_NS, alias="timeUnixNano")
    attributes: list[Attribute] = Field(default_factory=list)


class OtelResource(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    attributes: list[Attribute] = Field(default_factory=list)


class GeminiSpan(BaseModel):
    """One span as Gemini CLI exports it as JSON (the seed's GeminiOTELSpan)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    trace_id: Id = Field(alias="traceId")
    span_id: Id = Field(alias="spanId")
    parent_span_id: Id | None = Field(None, alias="parentSpanId")
    name: str = Field(min_length=1)
    kind: int = Field(0, ge=0, le=5, description="OTLP span kind: 0 unspecified .. 5 consumer")
    start_time_unix_nano: int = Field(alias="startTimeUnixNano", gt=0, lt=TIME_LIMIT_NS)
    end_time_unix_nano: int = Field(0, alias="endTimeUnixNano", ge=0, lt=TIME_LIMIT_NS)
    attributes: list[Attribute] = Field(default_factory=list)
    status: OtelStatus | None = None
    events: list[OtelEvent] = Field(default_factory=list)
    resource: OtelResource | None = None

    @field_validator("parent_span_id", mode="before")
    @classmethod
    def _empty_parent(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _times(self) -> GeminiSpan:
        if self.end_time_unix_nano and self.end_time_unix_nano < self.start_time_unix_nano:
            raise ValueError("endTimeUnixNano is before startTimeUnixNano")
        return self


class GeminiSpans(RootModel[list[GeminiSpan]]):
    """One span object or an array of them (a lone object is read as an array of one)."""

    @model_validator(mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
                                     ) -> JsonSchemaValue:
        array = handler(core_schema)
        array = handler.resolve_ref_schema(array)
        return {"anyOf": [array, array["items"]]}


# -- responses ---------------------------------------------------------------------------------------------------

class ClaudeIngestResult(BaseModel):
    span_id: str
    trace_id: str


class OtelIngestResult(BaseModel):
    span_ids: list[str]
    count: int


# -- normalisation -----------------------------------------------------------------------------------------------

def claude_batch(org_id: str, metrics: ClaudeMetrics, prices: PriceTable) -> Batch:
    """One `claude.session` span (id and trace id `claude-<session_id>`) carrying the session's totals."""
    batch = Batch(org_id=org_id)
    key = f"claude-{metrics.session_id}"
    start, end = _set(metrics.start_time), _set(metrics.end_time)
    duration_ns = metrics.duration_ms * 1_000_000
    if start is not None:
        start_ns = _ns(start)
        end_ns = _ns(end) if end is not None else start_ns + duration_ns
    else:  # the model guarantees one of the two
        end_ns = _ns(end) if end is not None else 0
        start_ns = end_ns - duration_ns
    model = metrics.model or None
    usage = price(Usage(
        model=model,
        provider="claude",
        tokens_in=metrics.total_input_tokens,
        tokens_out=metrics.total_output_tokens,
        # A zero cost is "not reported" (as for OTLP), so the computed cost stands in.
        provided_cost_usd=metrics.total_cost_usd or None,
    ), prices)
    attrs: dict[str, Any] = {
        "session.id": metrics.session_id,
        "turn_count": metrics.turn_count,
        "tool_calls": metrics.tool_calls,
        "duration_ms": metrics.duration_ms,
    }
    if model:
        attrs["model"] = model
    if metrics.status:
        attrs["claude.status"] = metrics.status
    error = mask_text(metrics.error_message, batch.redactions)
    if error:
        attrs["error_message"] = error
    status = _CLAUDE_STATUS[metrics.status] if metrics.status else "unset"
    batch.spans.append(SpanRecord(
        trace_id=key,
        span_id=key,
        parent_span_id=None,
        name="claude.session",
        kind="client",
        status=status,
        status_message=error if status == "error" else None,
        start_ns=start_ns,
        end_ns=end_ns,
        session_id=metrics.session_id,
        service_name="claude-code",
        source_type="claude_code",
        workspace="",
        usage=usage,
        links=Links(task_id=metrics.task_id),
        attributes_json=compact_json(attrs),
        resource_json=compact_json({"service.name": "claude-code"}),
        events_json=_claude_events(metrics.events, batch.redactions) if metrics.events else None,
    ))
    seen = batch.see_session(metrics.session_id, start_ns)
    seen.last_seen_ns = max(seen.last_seen_ns, end_ns)
    seen.service_name, seen.source_type = "claude-code", "claude_code"
    if model:
        seen.models.add(model)
    return batch


def _claude_events(events: list[ClaudeEvent], redactions: dict[str, int]) -> str:
    out = []
    for e in events:
        attrs: dict[str, Any] = {k: v for k, v in (
            ("tool_name", e.tool_name), ("tool_input", e.tool_input), ("tool_result", e.tool_result),
            ("approved", e.approved), ("error", e.error_message)) if v is not None}
        mask_content(attrs, redactions)
        out.append({"name": f"claude.{e.type}", "time_unix_nano": _ns(e.timestamp), "attributes": attrs})
    return compact_json(out)


def _attrs(items: list[Attribute]) -> dict[str, Any]:
    return {a.key: v for a in items if (v := a.value.value()) is not None}


def _any(value: str | int | float | bool) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=value)


def gemini_batch(org_id: str, spans: list[GeminiSpan], task_id: str | None, prices: PriceTable) -> Batch:
    """Spans `gemini-<spanId>` (provider gemini) with the LLM and tool calls they report; ``task_id`` (query or
    header) links every span, else the usual link rules apply (resource and span attributes)."""
    batch = Batch(org_id=org_id)
    for i, span in enumerate(spans):
        res = _attrs(span.resource.attributes) if span.resource else {}
        res.setdefault("service.name", "gemini-cli")
        ctx = resource_context(Resource(attributes=[KeyValue(key=k, value=_any(v)) for k, v in res.items()]))
        attrs = _attrs(span.attributes)
        mask_content(attrs, batch.redactions)
        usage = span_usage(attrs)
        usage.model = to_str(first(attrs, ("gen_ai.response.model", "llm.model"))) or usage.model
        if "gen_ai.usage.input_tokens" not in attrs and "llm.token_count.input" in attrs:
            usage.tokens_in = to_count(attrs["llm.token_count.input"]) or 0
        if "gen_ai.usage.output_tokens" not in attrs and "llm.token_count.output" in attrs:
            usage.tokens_out = to_count(attrs["llm.token_count.output"]) or 0
        usage.provider = "gemini"
        _check_usage(attrs, usage, i)
        price(usage, prices)
        links = link(ctx, attrs, span.name)
        if task_id:
            links.task_id = task_id
        status = span.status or OtelStatus(code=0)
        session_id = to_str(first(attrs, ("session.id", "gen_ai.conversation.id"))) or ctx.session_id
        record = SpanRecord(
            trace_id=span.trace_id,
            span_id=f"gemini-{span.span_id}",
            parent_span_id=f"gemini-{span.parent_span_id}" if span.parent_span_id else None,
            name=span.name,
            kind=_KINDS[span.kind],
            status=_STATUSES[status.code],
            status_message=mask_text(status.message, batch.redactions) or None,
            start_ns=span.start_time_unix_nano,
            end_ns=span.end_time_unix_nano,
            session_id=session_id,
            service_name=ctx.service_name,
            source_type=source_type_of(ctx.service_name, span.name),
            workspace=ctx.workspace or to_str(attrs.get("process.cwd")) or "",
            usage=usage,
            links=links,
            attributes_json=compact_json(attrs) if attrs else "{}",
            resource_json=ctx.json,
            events_json=_otel_events(span.events, batch.redactions) if span.events else None,
        )
        batch.spans.append(record)
        if session_id:
            seen = batch.see_session(session_id, record.start_ns)
            seen.last_seen_ns = max(seen.last_seen_ns, record.end_ns)
            if seen.service_name is None:
                seen.service_name, seen.source_type = ctx.service_name, record.source_type
                seen.workspace = record.workspace or None
            if usage.model:
                seen.models.add(usage.model)
        op = attrs.get("gen_ai.operation.name")
        if op == "execute_tool":
            batch.tool_calls.append(tool_call_from_span(record, attrs))
        elif op in _LLM_OPERATIONS or (op is None and usage.model and usage.has_tokens):
            # Spans without an operation name (the seed's `llm.*` dialect) are LLM calls when they carry usage.
            batch.llm_calls.append(llm_call_from_span(record, attrs))
    return batch


def _check_usage(attrs: dict[str, Any], usage: Usage, index: int) -> None:
    """This API names a bad count or cost (400) where OTLP ingest reads it as absent."""
    counts = (usage.tokens_in, usage.tokens_out, usage.cache_read_tokens, usage.cache_creation_tokens,
              usage.reasoning_tokens)
    unreadable = any(attrs.get(k) not in (None, "") and to_count(attrs[k]) is None for k in _COUNT_KEYS)
    if unreadable or not all(0 <= n <= _MAX_COUNT for n in counts):
        raise BadParameter(f"invalid field '{index}.attributes': token counts must be between 0 and 2^53")
    if any(attrs.get(k) not in (None, "") and to_amount(attrs[k]) is None for k in COST_KEYS):
        raise BadParameter(f"invalid field '{index}.attributes': llm.cost must be a finite, non-negative number")


def _otel_events(events: list[OtelEvent], redactions: dict[str, int]) -> str:
    out = []
    for e in events:
        attrs = _attrs(e.attributes)
        mask_content(attrs, redactions)
        out.append({"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": attrs})
    return compact_json(out)


# -- the write path ----------------------------------------------------------------------------------------------

def request_digest(body: BaseModel) -> str:
    """Key of a request for its redaction and rejection counts: a replay has the same one."""
    return hashlib.sha256(body.model_dump_json(by_alias=True).encode()).hexdigest()


# -- services (called by functions/legacy_ingest.py) ---------------------------------------------------------

def ingest_claude(ingest: IngestService, prices: PriceTable, org_id: str, metrics: ClaudeMetrics
                  ) -> ClaudeIngestResult:
    batch = claude_batch(org_id, metrics, prices)
    ingest.store_batch(batch, "traces", request_digest(metrics))
    span = batch.spans[0]
    return ClaudeIngestResult(span_id=span.span_id, trace_id=span.trace_id)


def ingest_gemini(ingest: IngestService, prices: PriceTable, org_id: str, spans: GeminiSpans, task_id: str | None
                  ) -> OtelIngestResult:
    if task_id is not None and not _valid_id(task_id):
        raise BadParameter("invalid header 'X-Task-ID': expected 1-200 URL-safe characters")
    batch = gemini_batch(org_id, spans.root, task_id or None, prices)
    ingest.store_batch(batch, "traces", request_digest(spans))
    ids = [s.span_id for s in batch.spans]
    return OtelIngestResult(span_ids=ids, count=len(ids))


def _valid_id(value: str) -> bool:
    return value == "" or _ID.fullmatch(value) is not None
