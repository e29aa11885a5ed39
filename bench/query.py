"""Read benchmark: p50/p95 latency of the main API reads over the stress profile (1M spans, 30 days)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import Server, _pct, start_server, stop_server  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "query-latest.json"
API = "/api/observatory"
READ_TARGET_MS = 50.0  # p95 of a single-entity (or one page) read
AGGREGATE_TARGET_MS = 500.0  # p95 of an aggregate over 30 days

# A response: (status, body bytes).
Fetch = Callable[[str], tuple[int, bytes]]


@dataclass
class Query:
    name: str
    kind: str  # "read" or "aggregate": which target applies
    paths: list[str]  # requests rotate over these (several entities, so no single row stays hot)
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    sample_error: str | None = None

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        target = READ_TARGET_MS if self.kind == "read" else AGGREGATE_TARGET_MS
        ok = bool(lat) and set(self.statuses) == {200}
        p95 = _pct(lat, 95)
        return {
            "kind": self.kind,
            "example": self.paths[0] if self.paths else None,
            "requests": len(lat),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": {"p50": round(_pct(lat, 50), 2), "p95": round(p95, 2), "p99": round(_pct(lat, 99), 2),
                           "max": round(lat[-1], 2) if lat else 0.0,
                           "mean": round(statistics.fmean(lat), 2) if lat else 0.0},
            "target_p95_ms": target,
            "meets_target": ok and p95 < target,
            "error": self.sample_error,
        }


# ---------------------------------------------------------------- clients


class HttpClient:
    """One persistent HTTP/1.1 connection to a real `observatory serve`."""

    def __init__(self, server: Server) -> None:
        self._port = server.port
        self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=120)

    def __call__(self, path: str) -> tuple[int, bytes]:
        for attempt in range(2):  # one retry after a dropped keep-alive connection
            try:
                self._conn.request("GET", path)
                resp = self._conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    self._conn.close()
                return resp.status, body
            except (OSError, http.client.HTTPException):
                self._conn.close()
                self._conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=120)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conn.close()


def in_process_client(data_dir: Path) -> Fetch:
    """functions-framework's app of the local stack, driven in-process (no HTTP, no worker processes)."""
    os.environ["OBSERVATORY_DATA_DIR"] = str(data_dir)
    import functions_framework

    from emulator import local_server

    app = functions_framework.create_app(target="local_stack", source=local_server.__file__)
    test_client = app.test_client()

    def fetch(path: str) -> tuple[int, bytes]:
        r = test_client.get(path)
        return r.status_code, r.data

    return fetch


# ---------------------------------------------------------------- data


def seed(data_dir: Path, profile: str, seed_value: int, analytics: bool = True) -> dict[str, Any]:
    """Seed ``data_dir`` with ``observatory seed`` in a fresh process (exporting to the analytics store unless
    ``analytics`` is False); returns its SeedResult and wall time."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    if not analytics:
        env["OBSERVATORY_CLICKHOUSE_URL"] = "off"
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator.cli", "seed", "--profile", profile, "--data-dir", str(data_dir),
         "--seed", str(seed_value)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if not line.startswith((" ", "{", "}")):
            print(f"  {line.rstrip()}", flush=True)
    if proc.wait() != 0:
        raise RuntimeError(f"observatory seed failed ({proc.returncode})")
    text = "".join(lines)
    result: dict[str, Any] = json.loads(text[text.index("\n{") + 1:])
    return {"profile": profile, "seed": seed_value, "wall_s": round(time.perf_counter() - t0, 1), "result": result}


def _get_json(fetch: Fetch, path: str) -> Any:
    status, body = fetch(path)
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


def pick_ids(fetch: Fetch, n: int) -> dict[str, list[str]]:
    """Entities the queries read: whole traces of 200 spans, sessions, tasks, and the most used model."""
    ids: dict[str, list[str]] = {"trace_200": [], "session": [], "task": [], "model": []}
    traces = _get_json(fetch, f"{API}/traces?limit=1000")["traces"]
    ids["trace_200"] = [t["trace_id"] for t in traces if t["span_count"] == 200][:n]
    ids["session"] = [s["session_id"] for s in _get_json(fetch, f"{API}/sessions?limit={n}")["sessions"]]
    try:
        ids["task"] = [t["id"] for t in _get_json(fetch, f"{API}/tasks?limit={n}")["tasks"]]
    except RuntimeError as exc:
        print(f"  tasks unavailable: {exc}")
    spans = _get_json(fetch, f"{API}/spans?limit=1000")["spans"]
    models = Counter(s["model"] for s in spans if s.get("model"))
    ids["model"] = [m for m, _ in models.most_common(3)]
    return ids


def build_queries(ids: dict[str, list[str]], now: datetime) -> list[Query]:
    q = urllib.parse.quote
    month_ago = (now - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    week_ago = (now - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Query("trace list page", "read", [f"{API}/traces?limit=50", f"{API}/traces?limit=50&offset=50"]),
        Query("full trace (200 spans)", "read", [f"{API}/traces/{t}" for t in ids["trace_200"]]),
        Query("session metrics summary", "read", [f"{API}/sessions/{s}/metrics" for s in ids["session"]]),
        Query("task hierarchy", "read", [f"{API}/tasks/{t}/hierarchy" for t in ids["task"]]),
        Query("spans by model and time", "read",
              [f"{API}/spans?model={q(m)}&start_after={q(week_ago)}&limit=50" for m in ids["model"]]),
        Query("breakdown by model (30 days)", "aggregate",
              [f"{API}/breakdowns/model", f"{API}/breakdowns/model?start_date={q(month_ago)}"]),
        Query("heatmap (30 days)", "aggregate", [f"{API}/heatmap"]),
    ]


def run(fetch: Fetch, queries: list[Query], reps: int, warmup: int) -> None:
    for query in queries:
        if not query.paths:
            query.sample_error = "no entity to read (the data has none)"
            print(f"  {query.name}: skipped ({query.sample_error})", flush=True)
            continue
        for i in range(warmup):
            fetch(query.paths[i % len(query.paths)])
        for i in range(reps):
            path = query.paths[i % len(query.paths)]
            t0 = time.perf_counter()
            status, body = fetch(path)
            query.latencies_ms.append((time.perf_counter() - t0) * 1000)
            query.statuses[status] += 1
            if status != 200 and query.sample_error is None:
                query.sample_error = f"HTTP {status} on {path}: {body[:200]!r}"
        s = query.summary()
        print(f"  {query.name:30s} p50 {s['latency_ms']['p50']:8.1f} ms  p95 {s['latency_ms']['p95']:8.1f} ms",
              flush=True)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="reuse this (already seeded) data dir; default: seed a fresh one with --profile")
    ap.add_argument("--profile", default="stress", choices=("minimal", "default", "stress"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--reps", type=int, default=50, help="timed requests per query (default 50)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed requests per query first")
    ap.add_argument("--entities", type=int, default=20, help="distinct traces/sessions/tasks each query rotates over")
    ap.add_argument("--in-process", action="store_true",
                    help="drive the functions in-process (test client) instead of a real `observatory serve`")
    ap.add_argument("--keep", action="store_true", help="keep the seeded data dir (printed) for later --data-dir")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/query-latest.json")
    ap.add_argument("--analytics", choices=("on", "off"), default="on",
                    help="serve with the analytics store (aggregates from embedded ClickHouse, filled by the seed's "
                         "export) or without it (aggregates in SQLite)")
    args = ap.parse_args(argv)
    run_started = time.perf_counter()
    results: dict[str, Any] = {"meta": {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "mode": "in-process" if args.in_process else "http",
        "analytics": args.analytics,
        "reps": args.reps,
        "targets_p95_ms": {"read": READ_TARGET_MS, "aggregate": AGGREGATE_TARGET_MS},
    }}

    work: Path | None = None
    if args.data_dir is None:
        work = Path(tempfile.mkdtemp(prefix="observatory-query-bench-"))
        data_dir = work / "data"
        print(f"seeding profile {args.profile} into {data_dir} ...", flush=True)
        results["seeding"] = seed(data_dir, args.profile, args.seed, analytics=args.analytics == "on")
        print(f"  seeded in {results['seeding']['wall_s']} s", flush=True)
    else:
        data_dir = args.data_dir
        results["seeding"] = {"reused": True}

    server: Server | None = None
    http_client: HttpClient | None = None
    try:
        if args.in_process:
            fetch = in_process_client(data_dir)
        else:
            server = start_server(data_dir, analytics=args.analytics == "on")
            http_client = HttpClient(server)
            fetch = http_client
        ids = pick_ids(fetch, args.entities)
        results["entities"] = {k: len(v) for k, v in ids.items()}
        queries = build_queries(ids, datetime.now(UTC))
        print(f"timing {len(queries)} queries x {args.reps} requests ({results['meta']['mode']}) ...", flush=True)
        run(fetch, queries, args.reps, args.warmup)
        results["queries"] = {q.name: q.summary() for q in queries}
    finally:
        if http_client is not None:
            http_client.close()
        if server is not None:
            stop_server(server)
        if work is not None and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif work is not None:
            print(f"kept {data_dir}")
    results["meta"]["run_seconds"] = round(time.perf_counter() - run_started, 1)

    print("\n==== query benchmark summary ====")
    seeding = results["seeding"]
    if "wall_s" in seeding:
        r = seeding["result"]
        print(f"data: {r['spans_created']:,} spans, {r['traces_created']:,} traces, {r['sessions_created']:,} "
              f"sessions, {r['tasks_created']:,} tasks; seeded in {seeding['wall_s']} s")
    print(f"{'query':30s} {'p50 ms':>8s} {'p95 ms':>8s}  target p95")
    for name, s in results["queries"].items():
        lat = s["latency_ms"]
        verdict = "OK" if s["meets_target"] else ("MISSED" if not s["error"] else "ERROR")
        print(f"{name:30s} {lat['p50']:8.1f} {lat['p95']:8.1f}  < {s['target_p95_ms']:.0f} ms  {verdict}"
              + (f"  ({s['error'][:120]})" if s["error"] else ""))
    print(f"run time {results['meta']['run_seconds']} s")
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
