"""Ingest benchmark: OTLP/HTTP trace throughput, latency, server RSS, cold-start import time and baselines."""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf.internal import api_implementation
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "ingest-latest.json"
SPANS_PER_REQUEST = 100
IMPORT_MODULES = (
    "functions.ingest_traces", "functions.ingest_logs", "functions.ingest_metrics", "functions.ingest_otlp",
)
MODELS = ("claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5")
TOOLS = ("Read", "Edit", "Bash", "Grep", "Glob", "Write", "TodoWrite")
HEADERS = {"Content-Type": "application/x-protobuf"}
MIB = 1024 * 1024
# The foundation's targets (on a 2-core machine): persisted spans/s at concurrency 4, p99 of a 100-span request at
# concurrency 1, and the import of each ingest function module (functions-framework included).
TARGET_C4_SPANS_S = 15_000
TARGET_C1_P99_MS = 15.0
TARGET_IMPORT_MS = 300.0
# What the issue measured on the reference machine: decode + minimal SQLite insert about 60,000 spans/s, and
# functions-framework's import about 150 ms. This machine's speed varies (shared hosts: up to 2x within an hour),
# so the summary also scales each target by this run's own baselines against these (a reading, not the verdict).
REFERENCE_DECODE_SQLITE_SPANS_S = 60_000
REFERENCE_FRAMEWORK_IMPORT_MS = 150.0
SERVING_KNOBS = ("OBSERVATORY_INGEST_CONCURRENCY",)


# ---------------------------------------------------------------- payloads


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _span_plan(rng: random.Random) -> list[str]:
    """Span kinds of one 100-span trace: a root interaction, then LLM turns each followed by tool calls."""
    plan = ["interaction"]
    while len(plan) < SPANS_PER_REQUEST:
        plan.append("llm")
        for _ in range(rng.randint(1, 3)):
            plan += ["tool", "exec"]
            if rng.random() < 0.2:
                plan.append("blocked")
    return plan[:SPANS_PER_REQUEST]


def build_payload(index: int, rng: random.Random, base_ns: int) -> tuple[bytes, str]:
    """One ExportTraceServiceRequest of 100 spans of one new trace; returns (bytes, trace id hex)."""
    trace_id = rng.randbytes(8) + index.to_bytes(8, "big")  # unique per request by construction
    session = f"{rng.getrandbits(128):032x}"
    session_id = f"{session[:8]}-{session[8:12]}-4{session[13:16]}-a{session[17:20]}-{session[20:]}"
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([
        _kv("service.name", "claude-code"),
        _kv("service.version", "2.1.3"),
        _kv("os.type", "linux"),
        _kv("os.version", "6.8.0-45-generic"),
        _kv("host.arch", "amd64"),
        _kv("telemetry.sdk.language", "nodejs"),
    ])
    ss = rs.scope_spans.add()
    ss.scope.name = "com.anthropic.claude_code.tracing"
    ss.scope.version = "2.1.3"
    common = [
        _kv("session.id", session_id),
        _kv("user.id", f"{rng.getrandbits(256):064x}"),
        _kv("organization.id", "3f1c2e7a-0b1d-4c5e-9f2a-6d7b8c9e0a1b"),
        _kv("terminal.type", "vscode"),
    ]
    t = base_ns + index * 1_000_000_000
    root_id = b""
    llm_id = b""
    tool_id = b""
    tool_use = ""
    model = MODELS[index % len(MODELS)]
    for i, kind in enumerate(_span_plan(rng)):
        span_id = rng.randbytes(6) + (i + 1).to_bytes(2, "big")  # unique within the trace, never zero
        dur = rng.randint(1_000_000, 900_000_000)
        span = ss.spans.add(trace_id=trace_id, span_id=span_id, start_time_unix_nano=t, end_time_unix_nano=t + dur)
        span.attributes.extend(common)
        span.attributes.append(_kv("interaction.sequence", index))
        if kind == "interaction":
            root_id = span_id
            span.name = "claude_code.interaction"
            span.kind = Span.SPAN_KIND_INTERNAL
            span.end_time_unix_nano = t + 120_000_000_000
            span.attributes.extend([_kv("user_prompt_length", rng.randint(20, 2000)),
                                    _kv("app.version", "2.1.3"), _kv("workspace.host_paths", "/home/dev/repo")])
            continue
        if kind == "llm":
            llm_id = span_id
            span.parent_span_id = root_id
            span.name = "claude_code.llm_request"
            span.kind = Span.SPAN_KIND_CLIENT
            span.attributes.extend([
                _kv("gen_ai.system", "anthropic"),
                _kv("gen_ai.request.model", model),
                _kv("gen_ai.usage.input_tokens", rng.randint(50, 40_000)),
                _kv("gen_ai.usage.output_tokens", rng.randint(10, 4_000)),
                _kv("gen_ai.usage.cache_read_input_tokens", rng.randint(0, 100_000)),
                _kv("ttft_ms", float(rng.randint(200, 3000))),
            ])
        elif kind == "tool":
            tool_id = span_id
            tool_use = f"toolu_{rng.getrandbits(96):024x}"
            span.parent_span_id = llm_id
            span.name = "claude_code.tool"
            span.attributes.extend([_kv("tool_name", rng.choice(TOOLS)), _kv("tool_use_id", tool_use),
                                    _kv("success", rng.random() > 0.05)])
        elif kind == "exec":
            span.parent_span_id = tool_id
            span.name = "claude_code.tool.execution"
            span.attributes.extend([_kv("tool_use_id", tool_use), _kv("success", True),
                                    _kv("duration_ms", dur / 1e6)])
        else:
            span.parent_span_id = tool_id
            span.name = "claude_code.tool.blocked_on_user"
            span.attributes.extend([_kv("decision", "accept"), _kv("source", "config"),
                                    _kv("duration_ms", dur / 1e6)])
        t += dur // 4
    return req.SerializeToString(), trace_id.hex()


def build_payloads(n: int, seed: int) -> tuple[list[bytes], list[str]]:
    rng = random.Random(seed)
    base_ns = time.time_ns() - n * 1_000_000_000 - 3_600_000_000_000
    built = [build_payload(i, rng, base_ns) for i in range(n)]
    return [b for b, _ in built], [t for _, t in built]


# ---------------------------------------------------------------- server


@dataclass
class Server:
    url: str
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, timeout_s: float = 60.0, analytics: bool = True) -> Server:
    """Like tests/conftest.py start_server, but stderr goes to a file (a never-read pipe could fill up).
    ``analytics=False`` serves without the analytics store (`OBSERVATORY_CLICKHOUSE_URL=off`)."""
    port = _free_port()
    # The server runs with the defaults, except for the serving knobs a run compares.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_") or k in SERVING_KNOBS}
    if not analytics:
        env["OBSERVATORY_CLICKHOUSE_URL"] = "off"
    log_path = data_dir.parent / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                if r.status == 200:
                    return Server(url, port, data_dir, proc, log_path)
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}):\n{_tail(log_path)}")
    proc.kill()
    raise RuntimeError(f"server did not become healthy in {timeout_s:.0f} s:\n{_tail(log_path)}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def _proc_tree(pid: int) -> list[int]:
    """pid and its descendants (gunicorn serves from a forked worker, the Popen pid is its arbiter)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += parents.get(p, [])
    return out


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss(server: Server) -> dict[str, Any]:
    pids = _proc_tree(server.proc.pid)
    hwm = {pid: _vm_hwm_kib(pid) for pid in pids}
    master = hwm.get(server.proc.pid, 0)
    workers = [v for p, v in hwm.items() if p != server.proc.pid]
    return {
        "processes": len(pids),
        "master_mib": round(master / 1024, 1),
        "worker_mib": round(max(workers) / 1024, 1) if workers else None,
        "total_mib": round(sum(hwm.values()) / 1024, 1),
        "serving_mib": round((max(workers) if workers else master) / 1024, 1),
    }


# ---------------------------------------------------------------- load


@dataclass
class LevelResult:
    concurrency: int
    requests: int
    wall_s: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    spans_ok: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    reconnects: int = 0

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "concurrency": self.concurrency,
            "requests": self.requests,
            "wall_s": round(self.wall_s, 3),
            "requests_per_s": round(self.requests / self.wall_s, 1) if self.wall_s else 0.0,
            "spans_sent": self.requests * SPANS_PER_REQUEST,
            "spans_in_200": self.spans_ok,
            "spans_rejected_by_server": self.rejected,
            "persisted_spans_per_s": round((self.spans_ok - self.rejected) / self.wall_s, 1) if self.wall_s else 0.0,
            "latency_ms": {
                "p50": round(_pct(lat, 50), 2),
                "p95": round(_pct(lat, 95), 2),
                "p99": round(_pct(lat, 99), 2),
                "max": round(lat[-1], 2) if lat else 0.0,
            },
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors[:5],
            "error_count": len(self.errors),
            "reconnects": self.reconnects,
        }


def pooled_summary(rounds: list[LevelResult]) -> dict[str, Any]:
    """One level over its rounds: the median round's throughput (a burst of load from elsewhere on a shared machine
    moves one round, not the median), latency percentiles over every request of every round, each round's rate."""
    pooled = LevelResult(concurrency=rounds[0].concurrency, requests=sum(r.requests for r in rounds),
                         wall_s=sum(r.wall_s for r in rounds))
    for r in rounds:
        pooled.latencies_ms += r.latencies_ms
        pooled.statuses.update(r.statuses)
        pooled.spans_ok += r.spans_ok
        pooled.rejected += r.rejected
        pooled.errors += r.errors
        pooled.reconnects += r.reconnects
    out = pooled.summary()
    each = [r.summary() for r in rounds]
    out["rounds"] = [{"requests_per_s": e["requests_per_s"], "persisted_spans_per_s": e["persisted_spans_per_s"],
                      "p99_ms": e["latency_ms"]["p99"]} for e in each]
    out["requests_per_s"] = statistics.median(e["requests_per_s"] for e in each)
    out["persisted_spans_per_s"] = statistics.median(e["persisted_spans_per_s"] for e in each)
    return out


def _pct(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def _rejected_spans(body: bytes) -> int:
    try:
        return int(ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans)
    except Exception:  # a non-protobuf body counts as nothing rejected
        return 0


def run_level(port: int, payloads: list[bytes], concurrency: int) -> LevelResult:
    """Send every payload once over ``concurrency`` persistent connections (one per thread)."""
    result = LevelResult(concurrency=concurrency, requests=len(payloads), wall_s=0.0)
    lock = threading.Lock()
    counter = itertools.count()
    barrier = threading.Barrier(concurrency + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.connect()
        lat: list[float] = []
        statuses: Counter[int] = Counter()
        ok = rejected = reconnects = 0
        errors: list[str] = []
        barrier.wait()
        while (i := next(counter)) < len(payloads):
            body = payloads[i]
            t0 = time.perf_counter()
            status, data = 0, b""
            for attempt in range(2):  # one retry after a dropped keep-alive connection
                try:
                    conn.request("POST", "/v1/traces", body=body, headers=HEADERS)
                    resp = conn.getresponse()
                    data = resp.read()
                    status = resp.status
                    if resp.will_close:
                        conn.close()
                        reconnects += 1
                    break
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    reconnects += 1
                    if attempt:
                        errors.append(f"request {i}: {type(exc).__name__}: {exc}")
            lat.append((time.perf_counter() - t0) * 1000)
            statuses[status] += 1
            if status == 200:
                ok += SPANS_PER_REQUEST
                rejected += _rejected_spans(data)
            elif status and len(errors) < 5:
                errors.append(f"request {i}: HTTP {status}: {data[:200]!r}")
        conn.close()
        with lock:
            result.latencies_ms += lat
            result.statuses.update(statuses)
            result.spans_ok += ok
            result.rejected += rejected
            result.errors += errors
            result.reconnects += reconnects

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for th in threads:
        th.start()
    barrier.wait()
    start = time.perf_counter()
    for th in threads:
        th.join()
    result.wall_s = time.perf_counter() - start
    return result


def api_check(url: str, trace_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        with urllib.request.urlopen(f"{url}/api/observatory/traces?limit=1000", timeout=30) as r:
            out["api_traces_count"] = json.loads(r.read()).get("count")
        with urllib.request.urlopen(f"{url}/api/observatory/spans?trace_id={trace_id}&limit=1000", timeout=30) as r:
            out["api_spans_of_one_trace"] = json.loads(r.read()).get("count")
    except Exception as exc:  # reported, not fatal
        out["api_error"] = f"{type(exc).__name__}: {exc}"
    return out


def stored_spans(db: Path, groups: dict[str, list[str]]) -> dict[str, Any]:
    """Stored span count overall and per group of trace ids, read from SQLite directly."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        total = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
        per_trace = dict(conn.execute("SELECT trace_id, COUNT(*) FROM spans GROUP BY trace_id").fetchall())
    finally:
        conn.close()
    per_trace = {str(k).lower(): v for k, v in per_trace.items()}
    out: dict[str, Any] = {"total": total}
    for name, ids in groups.items():
        out[name] = sum(per_trace.get(t, 0) for t in ids)
    return out


# ---------------------------------------------------------------- baselines


def _any_value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which in ("array_value", "kvlist_value", "bytes_value"):
        return str(getattr(v, which))
    return getattr(v, which)


def baseline_decode(payloads: list[bytes], rounds: int = 3) -> dict[str, Any]:
    best = float("inf")
    spans = 0
    for _ in range(rounds):
        spans = 0
        t0 = time.perf_counter()
        for p in payloads:
            req = ExportTraceServiceRequest()
            req.ParseFromString(p)
            spans += sum(len(ss.spans) for rs in req.resource_spans for ss in rs.scope_spans)
        best = min(best, time.perf_counter() - t0)
    return {"spans": spans, "seconds": round(best, 4), "spans_per_s": round(spans / best, 1)}


def baseline_sqlite(payloads: list[bytes], work: Path) -> dict[str, Any]:
    db = work / "baseline.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE spans (span_id TEXT, trace_id TEXT, parent_span_id TEXT, name TEXT, "
                 "start_ns INTEGER, end_ns INTEGER, attributes TEXT)")
    spans = 0
    t0 = time.perf_counter()
    for p in payloads:
        req = ExportTraceServiceRequest()
        req.ParseFromString(p)
        rows = [
            (s.span_id.hex(), s.trace_id.hex(), s.parent_span_id.hex() or None, s.name,
             s.start_time_unix_nano, s.end_time_unix_nano,
             json.dumps({kv.key: _any_value(kv.value) for kv in s.attributes}))
            for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans
        ]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO spans VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        spans += len(rows)
    elapsed = time.perf_counter() - t0
    stored = conn.execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    conn.close()
    return {"spans": spans, "stored": stored, "seconds": round(elapsed, 4), "spans_per_s": round(spans / elapsed, 1)}


# ---------------------------------------------------------------- import time

_IMPORT_PROBE = """
import importlib, json, sys, time
t0 = time.perf_counter()
import functions_framework
t1 = time.perf_counter()
if sys.argv[1] != "-":
    module = importlib.import_module(sys.argv[1])
    assert (module.__file__ or "").startswith(sys.argv[2]), f"{module.__file__} is not under {sys.argv[2]}"
t2 = time.perf_counter()
print(json.dumps({"ff_ms": (t1 - t0) * 1000, "total_ms": (t2 - t0) * 1000}))
"""


def _source_only_tree(work: Path) -> Path:
    """A copy of the functions' source (main.py, core/, functions/) without bytecode: a first-ever import."""
    tree = work / "source-only"
    for name in ("core", "functions"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__", "ui_static"))
    shutil.copy2(ROOT / "main.py", tree / "main.py")
    return tree


def import_times(modules: list[str], runs: int, work: Path, source_only: bool = False) -> dict[str, Any]:
    """Median import time of each module in fresh processes. By default on byte-compiled source, as deployed: the
    Cloud Functions Python buildpack runs `python -m compileall` over the uploaded source, so a cold start reads
    bytecode (compiled here into the tree's __pycache__ directories, which git and the upload ignore).
    ``source_only``: from a copy without bytecode, as a first import after an edit under PYTHONDONTWRITEBYTECODE."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    env["OBSERVATORY_DATA_DIR"] = str(work / "import-data")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # each run starts from the same state
    if source_only:
        cwd = _source_only_tree(work)
    else:
        cwd = ROOT
        subprocess.run([sys.executable, "-m", "compileall", "-q", "main.py", "core", "functions"], cwd=ROOT,
                       check=True, capture_output=True)
    out: dict[str, Any] = {}
    for mod in ["functions_framework", *modules]:
        arg = "-" if mod == "functions_framework" else mod
        totals: list[float] = []
        procs: list[float] = []
        error = None
        for _ in range(runs):
            t0 = time.perf_counter()
            # The probe's working directory comes first on its path: the functions load from `cwd`.
            cp = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, arg, str(cwd)], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=60)
            procs.append((time.perf_counter() - t0) * 1000)
            if cp.returncode != 0:
                error = cp.stderr.strip().splitlines()[-1] if cp.stderr.strip() else f"exit {cp.returncode}"
                break
            totals.append(json.loads(cp.stdout.strip().splitlines()[-1])["total_ms"])
        out[mod] = {
            "import_ms_median": round(statistics.median(totals), 1) if totals else None,
            "process_ms_median": round(statistics.median(procs), 1),
            "runs": len(totals),
            "error": error,
        }
    return out


# ---------------------------------------------------------------- main


def _verdicts(results: dict[str, Any]) -> list[str]:
    """PASS/FAIL against the targets (median round at c=4; pooled p99 at c=1; slowest compiled import)."""
    out = []
    levels = {lvl["concurrency"]: lvl for lvl in results["levels"]}
    if 4 in levels:
        rate = levels[4]["persisted_spans_per_s"]
        out.append(f"target c=4 >= {TARGET_C4_SPANS_S:,} spans/s: {rate:,.0f} "
                   f"{'PASS' if rate >= TARGET_C4_SPANS_S else 'FAIL'}")
    if 1 in levels:
        p99 = levels[1]["latency_ms"]["p99"]
        verdict = "PASS" if p99 < TARGET_C1_P99_MS else "FAIL"
        out.append(f"target c=1 p99 < {TARGET_C1_P99_MS:.0f} ms: {p99:.1f} ms {verdict}")
    if not results["imports"]:
        return out
    slowest = max((r["import_ms_median"] or 0.0 for r in results["imports"].values()), default=0.0)
    out.append(f"target imports < {TARGET_IMPORT_MS:.0f} ms (compiled): slowest {slowest} ms "
               f"{'PASS' if slowest < TARGET_IMPORT_MS else 'FAIL'}")
    return out


def _host_scaled(results: dict[str, Any]) -> list[str]:
    """The targets scaled to this machine's speed in this run: throughput and latency by the decode + SQLite
    baseline against the reference machine's, imports by functions-framework's import against the reference's."""
    speed = results["baseline_sqlite"]["spans_per_s"] / REFERENCE_DECODE_SQLITE_SPANS_S
    framework = results["imports"].get("functions_framework", {}).get("import_ms_median") or 0.0
    load = framework / REFERENCE_FRAMEWORK_IMPORT_MS if framework else 1.0
    levels = {lvl["concurrency"]: lvl for lvl in results["levels"]}
    out = [f"this machine in this run: decode + SQLite {results['baseline_sqlite']['spans_per_s']:,.0f} spans/s "
           f"(reference ~{REFERENCE_DECODE_SQLITE_SPANS_S:,}: x{speed:.2f}), functions-framework import "
           f"{framework} ms (reference ~{REFERENCE_FRAMEWORK_IMPORT_MS:.0f}: x{load:.2f}); the targets at its speed:"]
    if 4 in levels:
        rate, target = levels[4]["persisted_spans_per_s"], TARGET_C4_SPANS_S * speed
        out.append(f"  c=4 >= {target:,.0f} spans/s: {rate:,.0f} {'PASS' if rate >= target else 'FAIL'}")
    if 1 in levels:
        p99, target = levels[1]["latency_ms"]["p99"], TARGET_C1_P99_MS / speed
        out.append(f"  c=1 p99 < {target:.1f} ms: {p99:.1f} ms {'PASS' if p99 < target else 'FAIL'}")
    if not results["imports"]:
        return out
    slowest = max((r["import_ms_median"] or 0.0 for r in results["imports"].values()), default=0.0)
    target = TARGET_IMPORT_MS * load
    out.append(f"  imports < {target:.0f} ms: slowest {slowest} ms {'PASS' if slowest < target else 'FAIL'}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=300, help="requests per concurrency level and round (default 300)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of every level, interleaved (default 3); each level reports its median round")
    ap.add_argument("--warmup", type=int, default=20, help="warm-up requests before the timed levels")
    ap.add_argument("--levels", default="1,4", help="comma-separated concurrency levels (default 1,4)")
    ap.add_argument("--import-runs", type=int, default=5,
                    help="fresh-process runs per imported module (0: skip the imports)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/ingest-latest.json")
    ap.add_argument("--analytics", choices=("on", "off"), default="on",
                    help="serve with the analytics store (embedded ClickHouse, the default of `make run`: the worker "
                         "process exports every batch) or without it")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    run_started = time.perf_counter()

    n = args.warmup + args.requests * len(levels) * args.rounds
    print(f"building {n} payloads x {SPANS_PER_REQUEST} spans ...", flush=True)
    t0 = time.perf_counter()
    payloads, trace_ids = build_payloads(n, args.seed)
    sizes = [len(p) for p in payloads]
    print(f"  built in {time.perf_counter() - t0:.2f} s; {statistics.mean(sizes) / 1024:.1f} KiB/payload mean, "
          f"{sum(sizes) / MIB:.1f} MiB total; protobuf backend {api_implementation.Type()}")

    work = Path(tempfile.mkdtemp(prefix="observatory-bench-"))
    data_dir = work / "data"
    results: dict[str, Any] = {
        "meta": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "protobuf_backend": api_implementation.Type(),
            "spans_per_request": SPANS_PER_REQUEST,
            "analytics": args.analytics,
            "requests_per_level": args.requests,
            "rounds": args.rounds,
            "warmup_requests": args.warmup,
            "payload_kib_mean": round(statistics.mean(sizes) / 1024, 2),
            # The server's processes and threads (`observatory serve` honours functions-framework's knobs): the
            # figures depend on them (README, "Operating it").
            "serve_workers": os.environ.get("WORKERS", "default"),
            "serve_threads": os.environ.get("THREADS", "default"),
            "serve_ingest_concurrency": os.environ.get("OBSERVATORY_INGEST_CONCURRENCY", "default"),
        },
    }
    groups: dict[str, list[str]] = {"warmup": trace_ids[: args.warmup]}
    try:
        print(f"starting server (data dir {data_dir}) ...", flush=True)
        server = start_server(data_dir, analytics=args.analytics == "on")
        try:
            warm = run_level(server.port, payloads[: args.warmup], 1)
            print(f"  warm-up: {warm.requests} requests, statuses {dict(warm.statuses)}")
            results["warmup"] = warm.summary()
            by_level: dict[int, list[LevelResult]] = {c: [] for c in levels}
            offset = args.warmup
            # Levels interleave round by round, so each meets the store at similar sizes and the machine in
            # similar moods; every round sends fresh traces (a replay would be an idempotent no-op).
            for round_no in range(1, args.rounds + 1):
                for c in levels:
                    chunk = slice(offset, offset + args.requests)
                    groups.setdefault(f"c{c}", []).extend(trace_ids[chunk])
                    res = run_level(server.port, payloads[chunk], c)
                    offset += args.requests
                    by_level[c].append(res)
                    s = res.summary()
                    lat = s["latency_ms"]
                    print(f"round {round_no}, concurrency {c}: {s['requests_per_s']:.1f} req/s, "
                          f"{s['persisted_spans_per_s']:.0f} persisted spans/s, latency p50 {lat['p50']:.1f} / "
                          f"p95 {lat['p95']:.1f} / p99 {lat['p99']:.1f} ms, statuses {s['statuses']}", flush=True)
                    for err in s["errors"]:
                        print(f"  ! {err}")
            results["levels"] = [pooled_summary(by_level[c]) for c in levels]
            results["peak_rss"] = peak_rss(server)
            rss = results["peak_rss"]
            print(f"server peak RSS (VmHWM): serving process {rss['serving_mib']} MiB "
                  f"(arbiter {rss['master_mib']} MiB, {rss['processes']} processes, sum {rss['total_mib']} MiB)")
            results["api_check"] = api_check(server.url, groups[f"c{levels[-1]}"][0] if levels else trace_ids[0])
            print(f"API read-back: {results['api_check']}")
        finally:
            stop_server(server)
            log_tail = _tail(server.log_path, 4000).strip()
            results["server_log_tail"] = log_tail[-1000:]
            if log_tail:
                print(f"server stderr (tail):\n{log_tail[-1500:]}")

        stored = stored_spans(server.data_dir / "observatory.db", groups)
        sent_total = n * SPANS_PER_REQUEST
        results["stored"] = {**stored, "sent_total": sent_total, "equal_total": stored["total"] == sent_total}
        print(f"stored spans (SQLite): {stored['total']} of {sent_total} sent -> "
              f"{'OK' if stored['total'] == sent_total else 'MISMATCH'}")
        for lvl in results["levels"]:
            key = f"c{lvl['concurrency']}"
            lvl["stored_spans"] = stored[key]
            lvl["stored_equals_sent"] = stored[key] == lvl["spans_sent"]
            print(f"  concurrency {lvl['concurrency']}: stored {stored[key]} of {lvl['spans_sent']} sent "
                  f"-> {'OK' if lvl['stored_equals_sent'] else 'MISMATCH'}")

        print("baselines ...", flush=True)
        results["baseline_decode"] = baseline_decode(payloads)
        results["baseline_sqlite"] = baseline_sqlite(payloads, work)
        bd, bs = results["baseline_decode"], results["baseline_sqlite"]
        print(f"  protobuf decode only: {bd['spans_per_s']:.0f} spans/s")
        print(f"  decode + minimal SQLite insert (WAL, NORMAL, txn/payload): {bs['spans_per_s']:.0f} spans/s")

        for key, title, source_only in (("imports", "byte-compiled as deployed", False),
                                        ("imports_source_only", "source only, no bytecode", True)):
            results[key] = {}
            if args.import_runs < 1:  # --import-runs 0: throughput and latency only
                continue
            print(f"import times, {title} (median of {args.import_runs} fresh processes) ...", flush=True)
            results[key] = import_times(list(IMPORT_MODULES), args.import_runs, work, source_only)
            for mod, r in results[key].items():
                extra = f"  ERROR {r['error']}" if r["error"] else ""
                print(f"  {mod:28s} import {r['import_ms_median']} ms  (process wall {r['process_ms_median']} ms)"
                      f"{extra}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    top = next((lvl for lvl in results["levels"] if lvl["concurrency"] == max(levels)), None)
    ratios: dict[str, float | None] = {"vs_decode": None, "vs_decode_sqlite": None}
    if top:
        ratios["vs_decode"] = round(top["persisted_spans_per_s"] / bd["spans_per_s"], 4)
        ratios["vs_decode_sqlite"] = round(top["persisted_spans_per_s"] / bs["spans_per_s"], 4)
    results["ratios"] = {"concurrency": max(levels), **ratios}
    results["meta"]["run_seconds"] = round(time.perf_counter() - run_started, 1)

    print("\n==== ingest benchmark summary ====")
    meta = results["meta"]
    print(f"server: WORKERS={meta['serve_workers']}, THREADS={meta['serve_threads']}, "
          f"OBSERVATORY_INGEST_CONCURRENCY={meta['serve_ingest_concurrency']}")
    for lvl in results["levels"]:
        lat = lvl["latency_ms"]
        print(f"c={lvl['concurrency']}: {lvl['requests_per_s']:8.1f} req/s {lvl['persisted_spans_per_s']:9.0f} "
              f"spans/s  p50/p95/p99 {lat['p50']:.1f}/{lat['p95']:.1f}/{lat['p99']:.1f} ms  "
              f"stored {lvl['stored_spans']}/{lvl['spans_sent']}{'' if lvl['stored_equals_sent'] else ' MISMATCH'}")
        rates = ", ".join(f"{r['persisted_spans_per_s']:.0f}" for r in lvl["rounds"])
        p99s = ", ".join(f"{r['p99_ms']:.1f}" for r in lvl["rounds"])
        print(f"       rounds: spans/s {rates}; p99 {p99s} ms")
    verdicts = _verdicts(results)
    for line in verdicts:
        print(line)
    results["host_scaled"] = _host_scaled(results)
    for line in results["host_scaled"]:
        print(line)
    print(f"peak RSS: {results['peak_rss']['serving_mib']} MiB (serving process)")
    print(f"baselines: decode {bd['spans_per_s']:.0f} spans/s, decode+sqlite {bs['spans_per_s']:.0f} spans/s")
    if top:
        print(f"c={max(levels)} / decode = {ratios['vs_decode']:.3f}, c={max(levels)} / decode+sqlite = "
              f"{ratios['vs_decode_sqlite']:.3f}")
    for key, title in (("imports", "imports (compiled)"), ("imports_source_only", "imports (source only)")):
        if not results[key]:
            continue
        imports = ", ".join(f"{m.rsplit('.', 1)[-1]} {r['import_ms_median']} ms" for m, r in results[key].items())
        print(f"{title}: {imports}")
    print(f"run time {results['meta']['run_seconds']} s")

    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
