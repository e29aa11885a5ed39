"""Pipeline benchmark on the emulated cloud: spans/s end to end (ingest -> store -> Pub/Sub -> aggregate) and the
lag from an ingest answer to the batch's aggregates, p50/p95. The emulators are slow: this is a regression
baseline, not a target."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import Span  # noqa: E402

from emulator.cloud_stack import CloudStack  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pipeline-latest.json"
POLL_S = 0.05
MODELS = ("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5")


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def batch(session: str, spans: int) -> bytes:
    """One Claude Code-like trace of `spans` spans: a root and LLM requests, all in one session."""
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([_kv("service.name", "claude-code"), _kv("process.cwd", "/work/bench")])
    ss = rs.scope_spans.add()
    trace_id = os.urandom(16)
    root = os.urandom(8)
    start = time.time_ns()
    for i in range(spans):
        span = Span(trace_id=trace_id, span_id=root if i == 0 else os.urandom(8),
                    parent_span_id=b"" if i == 0 else root,
                    name="claude_code.interaction" if i == 0 else "claude_code.llm_request",
                    start_time_unix_nano=start + i * 1000, end_time_unix_nano=start + i * 1000 + 2_000_000)
        span.attributes.append(_kv("session.id", session))
        if i:
            span.attributes.extend([_kv("gen_ai.request.model", MODELS[i % 3]), _kv("input_tokens", 1000 + i),
                                    _kv("output_tokens", 200), _kv("gen_ai.response.id", f"msg_{session}_{i}")])
        ss.spans.append(span)
    return req.SerializeToString()


class Sender(threading.local):
    conn: http.client.HTTPConnection | None = None


def post(url: str, local: Sender, body: bytes) -> int:
    parts = urllib.parse.urlsplit(url)
    for attempt in (1, 2):
        if local.conn is None:
            local.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
        try:
            local.conn.request("POST", "/v1/traces", body, {"Content-Type": "application/x-protobuf"})
            response = local.conn.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            local.conn.close()
            local.conn = None
            if attempt == 2:
                raise
    return 0


class AggregateWatch(threading.Thread):
    """Follows the event log: the first `metrics.updated` of a session marks its batch as aggregated."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seen: dict[str, float] = {}
        self.since = self._newest()
        self.stopping = threading.Event()

    def _page(self, since: int) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            conn.request("GET", f"/api/observatory/events?types=metrics.updated&limit=1000&since={since}")
            page: dict[str, Any] = json.loads(conn.getresponse().read())
            return page
        finally:
            conn.close()

    def _newest(self) -> int:
        since = 0
        while True:
            page = self._page(since)
            if page["next_since"] == since:
                return since
            since = page["next_since"]

    def run(self) -> None:
        while not self.stopping.is_set():
            page = self._page(self.since)
            now = time.perf_counter()
            for event in page["events"]:
                if event["subject_id"]:
                    self.seen.setdefault(event["subject_id"], now)
            if page["next_since"] == self.since:
                time.sleep(POLL_S)
            self.since = page["next_since"]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run(stack: CloudStack, batches: int, spans: int, concurrency: int, timeout_s: float) -> dict[str, Any]:
    url = stack.url
    local = Sender()
    for i in range(3):  # warm every process on the path (imports, store, publisher channel)
        post(url, local, batch(f"warmup-{i}-{time.time_ns()}", spans))
    watch = AggregateWatch(url)
    watch.start()
    run_id = time.time_ns()
    sessions = [f"bench-{run_id}-{i}" for i in range(batches)]
    payloads = [batch(s, spans) for s in sessions]
    answered: dict[str, float] = {}
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def send(k: int) -> None:
        started = time.perf_counter()
        status = post(url, local, payloads[k])
        done = time.perf_counter()
        with lock:
            answered[sessions[k]] = done
            latencies.append((done - started) * 1000)
            statuses[status] = statuses.get(status, 0) + 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, range(batches)))
    ingest_done = time.perf_counter()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(s in watch.seen for s in sessions):
        time.sleep(POLL_S)
    watch.stopping.set()
    watch.join(timeout=5)
    aggregated = [s for s in sessions if s in watch.seen]
    lags = [(watch.seen[s] - answered[s]) * 1000 for s in aggregated]
    last = max((watch.seen[s] for s in aggregated), default=ingest_done)
    total = batches * spans
    return {
        "batches": batches, "spans_per_batch": spans, "concurrency": concurrency, "statuses": statuses,
        "ingest_spans_per_s": round(total / (ingest_done - t0), 1),
        "end_to_end_spans_per_s": round(len(aggregated) * spans / (last - t0), 1),
        "aggregated_batches": len(aggregated),
        "ingest_latency_ms": {"p50": round(pct(latencies, 50), 1), "p95": round(pct(latencies, 95), 1)},
        "lag_ms": {"p50": round(pct(lags, 50), 1), "p95": round(pct(lags, 95), 1),
                   "max": round(max(lags, default=float("nan")), 1),
                   "mean": round(statistics.fmean(lags), 1) if lags else None},
        "lag_resolution_ms": POLL_S * 1000,
    }


def compare(results: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> list[str]:
    """Regressions beyond `tolerance` (a fraction) against a previous run's figures."""
    found = []
    old, new = baseline.get("pipeline", {}), results["pipeline"]
    for key in ("ingest_spans_per_s", "end_to_end_spans_per_s"):
        if old.get(key) and new[key] < old[key] * (1 - tolerance):
            found.append(f"{key}: {new[key]} < {old[key]} (baseline)")
    for key in ("p50", "p95"):
        before = old.get("lag_ms", {}).get(key)
        if before and new["lag_ms"][key] > before * (1 + tolerance):
            found.append(f"lag {key}: {new['lag_ms'][key]} ms > {before} ms (baseline)")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--spans", type=int, default=100, help="spans per batch (one request, one message)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--store", choices=("sqlite", "firestore"), default="sqlite")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the aggregates")
    parser.add_argument("--baseline", type=Path, default=RESULTS, help="compare with this earlier result")
    parser.add_argument("--tolerance", type=float, default=0.5, help="allowed regression (fraction)")
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/pipeline-latest.json")
    args = parser.parse_args(argv)

    baseline = json.loads(args.baseline.read_text()) if args.baseline.is_file() else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as work:
        print(f"starting the emulated cloud (store {args.store}) ...", flush=True)
        boot = time.perf_counter()
        with CloudStack(store=args.store, log_dir=Path(work), start_firestore=args.store == "firestore",
                        env={"OBSERVATORY_API_KEYS": ""}) as stack:
            boot_s = time.perf_counter() - boot
            print(f"ready in {boot_s:.1f} s; {args.batches} batches x {args.spans} spans, "
                  f"concurrency {args.concurrency}", flush=True)
            figures = run(stack, args.batches, args.spans, args.concurrency, args.timeout)
    results = {
        "meta": {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": platform.python_version(),
                 "cpu_count": os.cpu_count(), "store": args.store, "stack_start_s": round(boot_s, 1),
                 "run_seconds": round(time.perf_counter() - started, 1)},
        "pipeline": figures,
    }
    p = figures
    print(f"ingest: {p['ingest_spans_per_s']:.0f} spans/s (request p50 {p['ingest_latency_ms']['p50']} ms, "
          f"p95 {p['ingest_latency_ms']['p95']} ms; statuses {p['statuses']})")
    print(f"end to end (ingest -> {args.store} -> Pub/Sub -> aggregate): {p['end_to_end_spans_per_s']:.0f} spans/s, "
          f"{p['aggregated_batches']}/{p['batches']} batches aggregated")
    print(f"ingest-to-aggregates lag: p50 {p['lag_ms']['p50']} ms, p95 {p['lag_ms']['p95']} ms, "
          f"max {p['lag_ms']['max']} ms (resolution {p['lag_resolution_ms']:.0f} ms)")
    regressions = compare(results, baseline, args.tolerance) if baseline else []
    for line in regressions:
        print(f"REGRESSION {line}")
    if not args.no_save:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"results: {RESULTS.relative_to(ROOT)}")
    incomplete = p["aggregated_batches"] < p["batches"]
    return 1 if regressions or incomplete else 0


if __name__ == "__main__":
    sys.exit(main())
