"""Analytics history benchmark: insert rate of the telemetry history and p50/p95 of the insight aggregations on it.

Generates agent sessions' telemetry as normalised records (spans, log events, the LLM and tool calls they report,
session sightings) in time order over 30 days, exports it batch by batch through ClickHouseHistory into an
embedded ClickHouse (a temporary chdb directory), and prints the insert rate of span/event rows; then times
insight_totals, insight_groups for every dimension and insight_days over 30 day buckets. Default 10,000,000
span/event rows; ``--quick`` 300,000.

Then the export worker's own rate: ``--worker-rows`` more rows (default 1,000,000), each batch of 100 spans' worth
encoded as the `telemetry-ingested` message ingest enqueues, delivered 40 messages at a time (as the local bus
does) to core.analytics_export.export_payloads: decoding, the history insert and the agent sessions from events."""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine_ceiling import engine_ceiling  # noqa: E402
from core.adapters.clickhouse import history_schema  # noqa: E402
from core.adapters.clickhouse.analytics import ClickHouseAnalytics  # noqa: E402
from core.adapters.clickhouse.connection import AnalyticsConnection  # noqa: E402
from core.adapters.clickhouse.history import ClickHouseHistory, column_values, history_columns  # noqa: E402
from core.adapters.clickhouse.insights import ClickHouseFactInsights  # noqa: E402
from core.adapters.sqlite import SqliteStore  # noqa: E402
from core.analytics_export import export_payloads  # noqa: E402
from core.ingest import ingested_message  # noqa: E402
from core.ports.fact_insights import CatalogWorkspace  # noqa: E402
from core.ports.insights import DIMENSIONS, InsightFilter  # noqa: E402
from core.record_codec import encode_records  # noqa: E402
from core.records import (  # noqa: E402
    Batch,
    EventRecord,
    Links,
    LlmCallRecord,
    SessionRecord,
    SpanRecord,
    ToolCallRecord,
    Usage,
)

ORG = "bench"
NS = 10**9
DAY = 86_400 * NS
DAYS = 30
TARGET_ROWS_S = 200_000
TARGET_P95_MS = 300.0

_AGENTS = (  # service, source type, provider, models, weight
    ("claude-code", "claude_code", "claude", ("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5"), 5),
    ("gemini-cli", "gemini_cli", "gemini", ("gemini-2.5-pro", "gemini-2.5-flash"), 3),
    ("eval", "eval", "openai", ("gpt-4.1", "gpt-5"), 1),
    ("coordinator", "coordinator", "claude", ("claude-opus-4-5", "gpt-5-mini"), 1),
)
_TOOLS = ("Read", "Edit", "Bash", "Grep", "Glob", "Write")
_OPEN = 8  # sessions either side of the current one that a trace may belong to
_PATHS = tuple(f"/home/dev/src/project-{i}" for i in range(12))


class _Session:
    __slots__ = ("sid", "agent", "workspace", "task")

    def __init__(self, rng: random.Random, i: int) -> None:
        self.sid = f"{rng.getrandbits(128):032x}"
        self.agent = rng.choices(_AGENTS, [a[4] for a in _AGENTS])[0]
        self.workspace = _PATHS[i % len(_PATHS)]
        self.task = f"task-{i % 400:04d}"


def generate(total_rows: int, batch_rows: int, anchor_ns: int, seed: int = 7
             ) -> Iterator[tuple[Batch, int, int]]:
    """(batch, its span + event rows, its ingest time) in time order until ``total_rows`` span/event rows."""
    rng = random.Random(seed)
    sessions = [_Session(rng, i) for i in range(max(50, total_rows // 5000))]
    start = anchor_ns - DAYS * DAY
    # Traces of ~12 spans and ~8 events: spread the traces evenly over the window.
    traces = max(1, total_rows // 20)
    step = DAYS * DAY // traces
    produced = 0
    t = start
    batch, rows = Batch(ORG), 0
    attrs = '{"gen_ai.operation.name":"chat","input_tokens":%d,"output_tokens":%d,"cache_read_tokens":%d}'
    resource = '{"service.name":"%s","process.cwd":"%s","session.id":"%s","host.arch":"amd64","os.type":"linux"}'
    while produced < total_rows:
        # Sessions come and go: a trace belongs to one of the ~17 sessions open at its time (each lives ~1/120 of
        # the window: about 6 hours over 30 days), as a team's agent sessions do.
        here = int((t - start) / (DAYS * DAY) * len(sessions))
        s = sessions[min(len(sessions) - 1, max(0, here + rng.randint(-_OPEN, _OPEN)))]
        service, source, provider, models, _ = s.agent
        res = resource % (service, s.workspace, s.sid)
        trace_id = f"{rng.getrandbits(128):032x}"
        links = Links(task_id=s.task)
        root_id = f"{rng.getrandbits(64):016x}"
        tt = t
        spans, events = batch.spans, batch.events
        seen = batch.sessions.get(s.sid)
        if seen is None:
            seen = batch.sessions[s.sid] = SessionRecord(s.sid, tt, tt, service_name=service, source_type=source,
                                                         workspace=s.workspace)
        events.append(EventRecord(f"e{rng.getrandbits(96):024x}", f"{service}.user_prompt", source, tt - 5 * 10**8,
                                  s.sid, None, None, None, None, None, '{"prompt_length":420}', res))
        n = 2
        for _turn in range(rng.randint(2, 4)):
            model = rng.choice(models)
            span_id = f"{rng.getrandbits(64):016x}"
            dur = rng.randint(800, 20_000) * 10**6
            t_in, t_out, t_cr = rng.randint(5, 4000), rng.randint(20, 3000), rng.randint(0, 80_000)
            usage = Usage(model=model, provider=provider, tokens_in=t_in, tokens_out=t_out, cache_read_tokens=t_cr,
                          computed_cost_usd=(t_in * 3 + t_out * 15 + t_cr * 0.3) / 1e6,
                          cache_savings_usd=t_cr * 2.7 / 1e6)
            spans.append(SpanRecord(trace_id, span_id, root_id, "chat", "client", "ok", None, tt, tt + dur, s.sid,
                                    service, source, s.workspace, usage, links, attrs % (t_in, t_out, t_cr), res,
                                    None))
            request_id = f"req_{rng.getrandbits(80):020x}"
            events.append(EventRecord(f"e{rng.getrandbits(96):024x}", f"{service}.api_request", source, tt + dur,
                                      s.sid, None, None, None, None, None, attrs % (t_in, t_out, t_cr), res))
            batch.llm_calls.append(LlmCallRecord(f"req:{request_id}", s.sid, tt + dur, dur / 1e6, usage,
                                                 request_id=request_id, trace_id=trace_id, span_id=span_id,
                                                 success=rng.random() > 0.01, source="event+span", links=links))
            tt += dur
            n += 2
            for _tool in range(rng.randint(1, 3)):
                tool_span = f"{rng.getrandbits(64):016x}"
                tool_dur = rng.randint(5, 5000) * 10**6
                ok = rng.random() > 0.05
                tool_id = f"toolu_{rng.getrandbits(96):024x}"
                name = rng.choice(_TOOLS)
                spans.append(SpanRecord(trace_id, tool_span, span_id, "execute_tool", "internal",
                                        "ok" if ok else "error", None, tt, tt + tool_dur, s.sid, service, source,
                                        s.workspace, Usage(), links,
                                        f'{{"gen_ai.tool.name":"{name}","gen_ai.tool.call.id":"{tool_id}"}}',
                                        res, None))
                events.append(EventRecord(f"e{rng.getrandbits(96):024x}", f"{service}.tool_result", source,
                                          tt + tool_dur, s.sid, None, None, None, None, None,
                                          f'{{"tool_name":"{name}","success":{"true" if ok else "false"}}}', res))
                batch.tool_calls.append(ToolCallRecord(tool_id, s.sid, tool_name=name, time_ns=tt,
                                                       duration_ms=tool_dur / 1e6, success=ok, trace_id=trace_id,
                                                       span_id=tool_span))
                tt += tool_dur
                n += 2
        spans.append(SpanRecord(trace_id, root_id, None, "agent.run", "internal", "ok", None, t, tt + 50 * 10**6,
                                s.sid, service, source, s.workspace, Usage(), links, '{"user_prompt_length":420}', res,
                                None))
        seen.last_seen_ns = max(seen.last_seen_ns, tt + 50 * 10**6)
        seen.models.update(models)
        rows += n
        produced += n
        t += step
        if rows >= batch_rows or produced >= total_rows:
            yield batch, rows, tt + NS
            batch, rows = Batch(ORG), 0


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(pct / 100 * (len(ordered) - 1))))] if ordered else 0.0


def time_it(fn: Callable[[], object], reps: int) -> tuple[float, float]:
    fn()  # warm-up
    ms = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - started) * 1000)
    return _pct(ms, 50), _pct(ms, 95)


def worker_rate(tmp: str, total: int, anchor: int) -> None:
    """The export worker's rate on bus messages (records encoded as ingest enqueues them), 40 per delivery."""
    analytics = ClickHouseAnalytics(f"chdb://{tmp}?database=bench")
    store = SqliteStore(Path(tmp) / "store.db")  # the Store the worker reads API span writes from (none here)
    messages = [ingested_message(batch, "traces", encode_records(batch))
                for batch, _, _ in generate(total, 200, anchor, seed=11)]
    rows = total
    print(f"export worker: {len(messages):,} bus messages ({sum(map(len, messages)) / len(messages) / 1024:.0f} KiB "
          f"mean), delivered 40 at a time ...")
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), 40):
        export_payloads(analytics, store, messages[i:i + 40])
    elapsed, cpu_us = time.perf_counter() - started, (time.process_time() - cpu) / rows * 1e6
    print(f"export worker rate: {rows / elapsed:,.0f} span/event rows/s ({cpu_us:.1f} us process CPU per row: "
          "decoding, the history insert, agent sessions from events)")
    store.close()


def floor_rate(conn: AnalyticsConnection, total: int, batch_rows: int, anchor: int) -> float:
    """Baseline: the same kind of span and event rows (their columns and wire types as the export sends them) into
    plain MergeTree tables without skip indexes, versions, deduplication or derived tables, through the same
    client, one insert per table per batch. What this engine and client take on this machine at this moment: the
    insert rate's ceiling, measured in the same run."""
    db = "bench_floor"
    conn.client.command(f"CREATE DATABASE IF NOT EXISTS {db}")
    tables = (("spans", history_columns(SpanRecord), "spans"), ("events", history_columns(EventRecord), "events"))
    for name, columns, _ in tables:
        ddl = ", ".join(f"{column} {wire}" for column, wire, _ in columns)
        conn.client.command(f"CREATE TABLE {db}.{name} (org_id LowCardinality(String), {ddl}) "
                            "ENGINE = MergeTree ORDER BY tuple()")
    rows, spent = 0, 0.0
    for batch, n, _ in generate(total, batch_rows, anchor, seed=3):
        started = time.perf_counter()
        for name, columns, attr in tables:
            records = getattr(batch, attr)
            conn.client.insert(f"{db}.{name}", [[ORG] * len(records), *column_values(records, columns)],
                               column_names=["org_id", *(c[0] for c in columns)],
                               column_type_names=["LowCardinality(String)", *(c[1] for c in columns)],
                               column_oriented=True)
        spent += time.perf_counter() - started
        rows += n
    conn.client.command(f"DROP DATABASE {db}")
    rate = rows / spent
    print(f"baseline (engine and client floor): {rows:,} span/event rows into plain MergeTree tables (no indexes, "
          f"versions, deduplication or derived tables), one thread: {rate:,.0f} rows/s")
    return rate


def load(history: ClickHouseHistory, total: int, batch_rows: int, anchor: int, floor: float | None = None) -> int:
    """Generate and export the history; print the insert rate (and its ratio to the floor, when measured). Returns
    the span/event rows exported."""
    print(f"generating and exporting {total:,} span/event rows in batches of {batch_rows:,} ...")
    export_s = gen_s = cpu_s = 0.0
    rows = other = batches = 0
    gen_started = time.perf_counter()
    for batch, n, version in generate(total, batch_rows, anchor):
        gen_s += time.perf_counter() - gen_started
        started, cpu = time.perf_counter(), time.process_time()
        history.export(ORG, batch, version_ns=version)
        export_s += time.perf_counter() - started
        cpu_s += time.process_time() - cpu
        rows += n
        other += len(batch.llm_calls) + len(batch.tool_calls) + len(batch.sessions)
        batches += 1
        if batches % 50 == 0:
            print(f"  {rows:,} rows, {rows / export_s:,.0f} span/event rows/s")
        gen_started = time.perf_counter()
    print(f"exported {rows:,} span/event rows (+{other:,} LLM call, tool call and session rows) in {batches} "
          f"exports: {export_s:.1f} s in export ({gen_s:.1f} s generating)")
    rate = rows / export_s
    print(f"insert rate: {rate:,.0f} span/event rows/s ({(rows + other) / export_s:,.0f} rows/s all tables); "
          f"target >= {TARGET_ROWS_S:,}: {'PASS' if rate >= TARGET_ROWS_S else 'FAIL'}")
    if floor:
        print(f"insert rate / baseline floor: {rate / floor:.2f} (the target is {TARGET_ROWS_S / floor:.2f} of the "
              "floor on this machine now)")
    print(f"process CPU per span/event row: {cpu_s / rows * 1e6:.1f} us (client encoding, engine inserts and "
          f"background merges; {cpu_s / export_s:.2f} cores busy on average)")
    return rows


def slot_rows(conn: AnalyticsConnection) -> int:
    """Rows of the slot sums tables (one per org and 15-minute slot and kind of fact)."""
    return sum(int(conn.client.query(f"SELECT count() FROM bench.{t} FINAL").result_rows[0][0])
               for t in history_schema.SLOT_GROUPS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="span/event rows to generate")
    parser.add_argument("--quick", action="store_true", help="300,000 rows")
    parser.add_argument("--batch-rows", type=int, default=50_000, help="span/event rows per export")
    # 20: the p95 of 10 runs is their maximum, one pause of the host's; of 20 it is the second slowest.
    parser.add_argument("--reps", type=int, default=20, help="timed runs per aggregation")
    parser.add_argument("--dir", help="chdb data directory (default: a temporary one, removed afterwards)")
    parser.add_argument("--worker-rows", type=int, default=1_000_000,
                        help="span/event rows delivered to the export worker as bus messages (0: skip)")
    parser.add_argument("--floor-rows", type=int, default=1_000_000,
                        help="span/event rows of the baseline into plain tables (0: skip)")
    parser.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                        help="skip the baseline of the engine alone storing the loaded rows again")
    parser.add_argument("--reads-only", action="store_true",
                        help="time the reads on the history a previous run left in --dir (no load)")
    args = parser.parse_args()
    if args.reads_only and not args.dir:
        parser.error("--reads-only needs --dir")
    total = 300_000 if args.quick else args.rows
    reps = args.reps
    tmp = args.dir or tempfile.mkdtemp(prefix="observatory-analytics-bench-")
    anchor = time.time_ns() // (3600 * NS) * 3600 * NS
    if args.reads_only:
        anchor = int(Path(tmp, "anchor").read_text())
    try:
        conn = AnalyticsConnection(f"chdb://{tmp}?database=bench")
        Path(tmp, "anchor").write_text(str(anchor))  # a kept --dir can be read again with the same window
        history = ClickHouseHistory(conn)
        loaded = 0
        if not args.reads_only:
            floor = (floor_rate(conn, min(total, args.floor_rows), args.batch_rows, anchor) if args.floor_rows
                     else None)
            loaded = load(history, total, args.batch_rows, anchor, floor)
        started = time.perf_counter()
        settled = history.settle_slots(ORG)
        print(f"settled {settled:,} slot sums left dirty by the load in {time.perf_counter() - started:.1f} s; "
              f"slot sums rows: {slot_rows(conn):,}")
        # Reads are timed at rest, as a dashboard's are between loads: no merge running for two seconds (the
        # engine schedules the next merges a moment after the last ones end).
        started, quiet = time.perf_counter(), 0
        while time.perf_counter() - started < 120 and quiet < 4:
            running = int(conn.client.query(
                "SELECT count() FROM system.merges WHERE database = 'bench'").result_rows[0][0])
            quiet = 0 if running else quiet + 1
            time.sleep(0.5)
        print(f"background merges settled in {time.perf_counter() - started:.1f} s")
        facts = ClickHouseFactInsights(conn)
        raw = ClickHouseFactInsights(conn, slot_sums=False)
        workspaces = [CatalogWorkspace(f"ws-{i}", p) for i, p in enumerate(_PATHS[:6])]
        lo, hi = anchor - DAYS * DAY, anchor
        f = InsightFilter(lo, hi)
        days = [(lo + i * DAY, lo + (i + 1) * DAY) for i in range(DAYS)]
        edges = InsightFilter(lo + 7 * 60 * NS + 123, hi - 3 * 60 * NS - 456)
        shift = 5 * 3600 * NS + 1800 * NS
        kolkata = [(max(a - shift, edges.start_ns), min(b - shift, edges.end_ns)) for a, b in days]
        cases: list[tuple[str, Callable[[], object]]] = [
            ("insight_totals", lambda: facts.insight_totals(ORG, f, workspaces)),
            *((f"insight_groups[{d}]", lambda d=d: facts.insight_groups(ORG, f, d, workspaces)) for d in DIMENSIONS),
            ("insight_days[30]", lambda: facts.insight_days(ORG, f, days, workspaces)),
            ("insight_totals source_type=gemini_cli",
             lambda: facts.insight_totals(ORG, InsightFilter(lo, hi, source_type="gemini_cli"), workspaces)),
            ("insight_days[30] provider=claude",
             lambda: facts.insight_days(ORG, InsightFilter(lo, hi, provider="claude"), days, workspaces)),
            # A dashboard's window ends now: its edges are read from the records, the slots between from the sums.
            ("insight_totals, unaligned window", lambda: facts.insight_totals(ORG, edges, workspaces)),
            ("insight_days[30] at +05:30, unaligned", lambda: facts.insight_days(ORG, edges, kolkata, workspaces)),
        ]
        baseline = {"insight_totals": lambda: raw.insight_totals(ORG, f, workspaces),
                    "insight_days[30] provider=claude":
                        lambda: raw.insight_days(ORG, InsightFilter(lo, hi, provider="claude"), days, workspaces)}
        print(f"aggregations over {DAYS} days ({reps} runs each; baseline: the same read from the records alone):")
        worst = 0.0
        for name, fn in cases:
            p50, p95 = time_it(fn, reps)
            worst = max(worst, p95)
            line = f"  {name:<40} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms"
            if name in baseline:
                base50, _ = time_it(baseline[name], 3)
                line += f"   baseline p50 {base50:7.1f} ms ({base50 / p50:.0f}x)"
            print(line)
        print(f"slowest p95 {worst:.1f} ms; target < {TARGET_P95_MS:.0f} ms: "
              f"{'PASS' if worst < TARGET_P95_MS else 'FAIL'}")
        totals = facts.insight_totals(ORG, f, workspaces)
        print(f"check: {totals.calls.calls:,} LLM calls, {totals.spans:,} spans, {totals.tool_calls:,} tool calls, "
              f"{totals.calls.sessions:,} sessions, median of day calls "
              f"{statistics.median(d.calls.calls for d in facts.insight_days(ORG, f, days, workspaces)):,.0f}")
        if loaded and args.ceiling:  # every table as the load left it (copying 10M rows takes a minute or two)
            engine_ceiling(conn, loaded, "span/event rows", TARGET_ROWS_S, repeats=3 if loaded <= 2_000_000 else 1)
        if args.worker_rows:  # after the check: its rows land in the same window
            worker_rate(tmp, args.worker_rows, anchor)
        conn.close()
    finally:
        if not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
