"""The `observatory` command: serve the local stack, reprice stored calls, seed demo or load-test data, run
retention, inspect and replay dead letters."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    # As in the cloud, the aggregate worker runs apart from the HTTP functions: it gets its own process
    # (and core), so recomputing rollups never stalls an ingest request.
    os.environ["OBSERVATORY_BUS_DRAINER"] = "external"
    # One HTTP process per core (SQLite writes are serialised across them by the store's file lock);
    # WORKERS and THREADS are the functions-framework's own knobs and still win when set.
    os.environ.setdefault("WORKERS", str(min(2, os.cpu_count() or 1)))
    import functions_framework
    from functions_framework import _http

    from emulator import local_server
    from emulator.gcloud import free_port

    command = [sys.executable, "-m", "emulator.cli", "worker", "--data-dir", str(args.data_dir),
               "--parent-pid", str(os.getpid())]
    analytics = _local_analytics(args.data_dir)
    if analytics.startswith("chdb:"):
        # Embedded ClickHouse opens in one process: the worker hosts it (export, /api/v1, insights) and the
        # HTTP processes forward those functions' requests to it.
        port = free_port()
        command += ["--analytics-port", str(port)]
    worker = subprocess.Popen(command)
    if analytics.startswith("chdb:"):
        os.environ["OBSERVATORY_ANALYTICS_HOST_URL"] = f"http://127.0.0.1:{port}"
        # The worker listens once analytics is open and migrated: serving starts after it, so /healthz means ready.
        _wait_for_port(port, worker)
    try:
        app = functions_framework.create_app(target="local_stack", source=local_server.__file__)  # type: ignore[no-untyped-call]
        print(f"observatory: serving on http://{args.host}:{args.port} (data in {args.data_dir}; analytics: "
              f"{analytics.split('?')[0] or 'off'})", flush=True)
        _http.create_server(app, debug=False, **_gunicorn_options()).run(  # type: ignore[no-untyped-call]
            args.host, args.port)
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    return 0


def _gunicorn_options() -> dict[str, str]:
    """Each gunicorn worker touches its heartbeat file on every turn of the loop that dispatches requests. On a
    disk-backed /tmp that inode update can wait behind the journal while SQLite's checkpoints fsync the store
    (measured here: up to 0.4 ms, against 0.09 ms on /dev/shm); gunicorn's documentation recommends a memory
    filesystem for the file."""
    shm = "/dev/shm"
    return {"worker_tmp_dir": shm} if os.path.isdir(shm) and os.access(shm, os.W_OK) else {}


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    import socket
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    print("observatory: the analytics worker did not start; /api/v1 will answer 503 until it does", file=sys.stderr)


def _local_analytics(data_dir: Path) -> str:
    """OBSERVATORY_CLICKHOUSE_URL, defaulting to embedded ClickHouse under the data dir when it is installed
    (`off` turns analytics off)."""
    import importlib.util

    url = os.environ.get("OBSERVATORY_CLICKHOUSE_URL")
    if url is None and importlib.util.find_spec("clickhouse_connect") is not None:
        url = f"chdb://{(data_dir / 'clickhouse').resolve()}"
    os.environ["OBSERVATORY_CLICKHOUSE_URL"] = url or ""
    return "" if (url or "").lower() in ("", "off") else url or ""


def _worker(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    os.environ["OBSERVATORY_BUS_DRAINER"] = "external"  # this process drains; no second drainer thread
    os.environ.pop("OBSERVATORY_ANALYTICS_HOST_URL", None)  # analytics is here, never forwarded onwards
    import logging

    from core import background_priority
    from core.adapters.sqlite import SqliteStore
    from functions._bootstrap import container as shared_container

    logging.basicConfig(level=logging.INFO)
    container = shared_container()
    if isinstance(container.store, SqliteStore):
        container.store.start_checkpointer()  # the server leaves WAL checkpoints to this process
    server = None
    background_priority.enable()  # the export yields the CPU to the request processes
    if args.analytics_port:
        # Open and migrate before listening (the server waits for this port), on the background thread: the
        # engine's own threads (inserts, merges) are started from it and inherit its priority.
        background_priority.run(lambda: container.analytics)
        server = _analytics_server(args.analytics_port)
    signal.signal(signal.SIGTERM, lambda *_: container.bus.stop())

    def done() -> bool:
        # Exit with the server that started us, even if it died without telling.
        return args.parent_pid is not None and os.getppid() != args.parent_pid

    try:
        container.bus.run_until(done)
        container.bus.drain()
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.shutdown()
        container.store.close()
    return 0


def _analytics_server(port: int) -> Any:
    """Serve the analytics functions (the local stack's dispatcher) on 127.0.0.1:`port`, on a thread."""
    import threading

    import functions_framework
    from werkzeug.serving import make_server

    from emulator import local_server

    app = functions_framework.create_app(target="local_stack", source=local_server.__file__)  # type: ignore[no-untyped-call]
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="analytics-http", daemon=True).start()
    return server


# Each history update rewrites its rows in one statement over the history: few, large chunks.
_HISTORY_REPRICE_CHUNK = 200_000


def _reprice(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    analytics = _local_analytics(args.data_dir)  # the history's copy too (embedded: run it with `serve` stopped)
    from core.config import get_settings
    from core.pricing import PriceTable
    from core.reprice import reprice
    from functions._bootstrap import build

    settings = get_settings()
    container = build(settings)
    prices = PriceTable.load(settings.price_overrides or None)
    try:
        counts = reprice(container.store, prices)
        print(f"repriced {counts['llm_calls']} LLM calls and {counts['spans']} spans "
              f"({counts['unpriced']} unpriced)")
        if analytics:
            counts = reprice(container.analytics.history, prices, chunk=_HISTORY_REPRICE_CHUNK)
            print(f"analytics history: repriced {counts['llm_calls']} LLM calls and {counts['spans']} spans")
    finally:
        container.store.close()
        if analytics:
            container.analytics.close()
    return 0


def _seed(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    _local_analytics(args.data_dir)  # the seeded batches are exported too, as `serve` would (run it stopped)
    import json
    import time

    from core.config import Settings
    from core.seed import PROFILES, seed_database
    from functions._bootstrap import build

    anchor = None
    if args.until is not None:
        from datetime import UTC, datetime

        try:
            until = datetime.fromisoformat(args.until.replace("Z", "+00:00"))
        except ValueError:
            print(f"observatory seed: --until must be an RFC 3339 time, got {args.until!r}", file=sys.stderr)
            return 2
        anchor = int((until if until.tzinfo else until.replace(tzinfo=UTC)).timestamp()) * 10**9
    config = PROFILES[args.profile].with_options(clean_first=args.clean)
    settings = Settings.from_env()
    if config.clean_first:
        for suffix in ("", "-wal", "-shm"):
            path = settings.sqlite_path.with_name(settings.sqlite_path.name + suffix)
            path.unlink(missing_ok=True)
    container = build(settings)
    try:
        print(f"seeding profile {args.profile} (seed {args.seed}, org {args.org}) into {settings.sqlite_path}",
              flush=True)
        result = seed_database(container.store, container.ingest, config, org_id=args.org, seed=args.seed,
                               anchor_ns=anchor, progress=lambda line: print(line, flush=True))
        started = time.perf_counter()
        # The aggregates (session rollups, task and assignment totals) are computed here rather than left
        # to the next `observatory serve`, so the data is complete when the command returns.
        delivered = container.bus.drain()
        print(f"aggregates: {delivered} messages in {time.perf_counter() - started:.1f} s", flush=True)
    finally:
        container.store.close()
    print(json.dumps(result.as_dict(), indent=2))
    return 0


def _retention(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    import json

    from core.config import get_settings
    from core.retention import RetentionPolicy, run_retention
    from functions._bootstrap import build

    try:
        policy = RetentionPolicy.from_env()
    except ValueError as exc:
        print(f"observatory retention: {exc}", file=sys.stderr)
        return 2
    container = build(get_settings())
    try:
        report = run_retention(container.store, policy)
    finally:
        container.store.close()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for kind, n in report.deleted.items():
            print(f"{kind:>14}: {n} deleted (older than {policy.days[kind]:g} days)")
        print(f"store {report.health.status}: {report.health.message}")
    return 0


def _dlq(args: argparse.Namespace) -> int:
    os.environ["OBSERVATORY_DATA_DIR"] = str(args.data_dir)
    import json
    from datetime import UTC, datetime

    from core.config import get_settings
    from functions._bootstrap import build

    if args.dlq_command == "replay" and not args.all and not args.ids:
        print("observatory dlq replay: name dead-letter ids, or --all", file=sys.stderr)
        return 2
    settings = get_settings()
    if settings.bus == "pubsub":
        return _pubsub_dlq(args, settings.gcp_project)
    try:
        ids = [int(i) for i in getattr(args, "ids", [])]
    except ValueError:
        print("observatory dlq replay: dead-letter ids are numbers (see `dlq list`)", file=sys.stderr)
        return 2
    container = build(settings)
    store = container.store
    try:
        if args.dlq_command == "replay":
            replayed = store.replay_dead_letters(None if args.all else ids)
            print(f"replayed {replayed} dead letter(s) into the outbox")
            return 0
        letters = store.list_dead_letters(args.limit, args.offset)
        total = store.dead_letter_count()
    finally:
        store.close()
    rows = [{"id": d.id, "topic": d.topic, "attempts": d.attempts, "reason": d.reason, "bytes": len(d.payload),
             "failed_at": datetime.fromtimestamp(d.failed_ns / 1e9, UTC).isoformat()} for d in letters]
    if args.json:
        print(json.dumps({"dead_letters": rows, "count": total}, indent=2))
    else:
        for r in rows:
            print(f"{r['id']:>6}  {r['topic']}  attempts={r['attempts']}  {r['bytes']} bytes  {r['failed_at']}  "
                  f"{r['reason']}")
        print(f"{total} dead letter(s)")
    return 0


def _pubsub_dlq(args: argparse.Namespace, project: str) -> int:
    """`dlq list|replay` on the Pub/Sub bus: the pull subscriptions on the `-dlq` topics."""
    import json

    from core.pubsub_dead_letters import PubsubDeadLetters
    from emulator.pubsub_setup import TOPICS, inspect_subscription_name

    if not project:
        print("observatory dlq: the Pub/Sub bus needs OBSERVATORY_GCP_PROJECT", file=sys.stderr)
        return 2
    letters = PubsubDeadLetters(project, {t: inspect_subscription_name(t) for t in TOPICS})
    try:
        if args.dlq_command == "replay":
            result = letters.replay_dead_letters(None if args.all else args.ids)
            print(f"replayed {len(result.replayed)} dead letter(s) to their topics")
            if result.missing:
                print(f"not found: {' '.join(result.missing)}", file=sys.stderr)
                return 1
            return 0
        found = letters.list_dead_letters()
    finally:
        letters.close()
    total = len(found)
    rows = [d.as_dict() for d in found[args.offset:args.offset + args.limit]]
    if args.json:
        print(json.dumps({"dead_letters": rows, "count": total}, indent=2))
    else:
        for r in rows:
            print(f"{r['id']:>6}  {r['topic']}  worker={r['worker'] or '-'}  {r['bytes']} bytes  "
                  f"{r['published_at']}  {r['reason']}")
        print(f"{total} dead letter(s)")
    return 0


def _cloud(args: argparse.Namespace) -> int:
    from emulator import cloud_stack

    return cloud_stack.run(store=args.store, port=args.port, data_dir=args.data_dir, project=args.project,
                           analytics=_local_analytics(args.data_dir))


def _import(args: argparse.Namespace) -> int:
    from core.agent_sessions.importer import ImportFailed, ImportOptions, run_import

    options = ImportOptions(root=args.root, url=args.url, key=args.key, state_path=args.state, full=args.full,
                            dry_run=args.dry_run, quiet=args.quiet)
    try:
        report = run_import(options)
    except ImportFailed as exc:
        print(f"observatory import: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the watermark of every file sent so far is already saved
        print("observatory import: interrupted", file=sys.stderr)
        return 130
    if not args.quiet:
        print(report.summary())
    return 0


def _hook(args: argparse.Namespace) -> int:
    from emulator import hook_client

    return hook_client.main(args.hook_args)


def main(argv: list[str] | None = None) -> int:
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["hook"]:  # straight through: a hook starts fast and never fails on its arguments
        from emulator import hook_client

        return hook_client.main(raw[1:])
    parser = argparse.ArgumentParser(prog="observatory", description="Observability backend for AI coding agents")
    sub = parser.add_subparsers(dest="command", required=True)
    data_dir = Path(os.environ.get("OBSERVATORY_DATA_DIR") or ".observatory")
    serve = sub.add_parser("serve", help="run every HTTP function in one local process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080))
    serve.add_argument("--data-dir", type=Path, default=data_dir)
    serve.set_defaults(func=_serve)
    work = sub.add_parser("worker", help="deliver the local outbox to the workers (aggregation) until stopped")
    work.add_argument("--data-dir", type=Path, default=data_dir)
    work.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    work.add_argument("--analytics-port", type=int, default=0, help=argparse.SUPPRESS)
    work.set_defaults(func=_worker)
    rep = sub.add_parser("reprice", help="recompute computed costs of stored calls after a price change")
    rep.add_argument("--data-dir", type=Path, default=data_dir)
    rep.set_defaults(func=_reprice)
    sd = sub.add_parser("seed", help="generate demo or load-test data through the ingest and catalog services")
    sd.add_argument("--profile", choices=("minimal", "default", "stress"), default="default")
    sd.add_argument("--data-dir", type=Path, default=data_dir)
    sd.add_argument("--seed", type=int, default=1, help="random seed: the same seed writes the same data")
    sd.add_argument("--org", default="default", help="the org the data belongs to")
    sd.add_argument("--clean", action="store_true", help="delete the data dir's database first")
    sd.add_argument("--until", default=None, metavar="RFC3339",
                    help="end of the generated 30 days (default: the current hour); fixes the timestamps too")
    sd.set_defaults(func=_seed)
    ret = sub.add_parser("retention", help="delete stored rows past their TTL (OBSERVATORY_RETENTION_<KIND>_DAYS)")
    ret.add_argument("--data-dir", type=Path, default=data_dir)
    ret.add_argument("--json", action="store_true", help="print the report as JSON")
    ret.set_defaults(func=_retention)
    dlq = sub.add_parser("dlq", help="inspect or replay dead-lettered messages (the local outbox's, or the "
                                     "Pub/Sub `-dlq` topics' when OBSERVATORY_BUS=pubsub)")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_sub.add_parser("list", help="list dead letters (oldest first)")
    dlq_list.add_argument("--limit", type=int, default=100)
    dlq_list.add_argument("--offset", type=int, default=0)
    dlq_list.add_argument("--json", action="store_true")
    dlq_replay = dlq_sub.add_parser("replay", help="re-publish dead letters to their topic (the local outbox, "
                                                   "or the Pub/Sub source topic) and remove them")
    # Strings: Pub/Sub message ids; the local store's are checked to be numbers.
    dlq_replay.add_argument("ids", nargs="*", help="dead-letter ids (see `dlq list`)")
    dlq_replay.add_argument("--all", action="store_true", help="replay every dead letter")
    for p in (dlq_list, dlq_replay):
        p.add_argument("--data-dir", type=Path, default=data_dir)
    dlq.set_defaults(func=_dlq)
    cl = sub.add_parser("cloud", help="run the emulated cloud: Google's emulators, one process per function, "
                                      "Pub/Sub push to the workers, one router port")
    cl.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8080), help="the router's port")
    cl.add_argument("--store", choices=("sqlite", "firestore"), default=os.environ.get("OBSERVATORY_STORE") or "sqlite",
                    help="the Store adapter every function uses (OBSERVATORY_STORE)")
    cl.add_argument("--data-dir", type=Path, default=data_dir, help="the SQLite data dir all functions share")
    cl.add_argument("--project", default=os.environ.get("OBSERVATORY_GCP_PROJECT") or None,
                    help="the emulated project id (default: a fresh one)")
    cl.set_defaults(func=_cloud)
    im = sub.add_parser("import", help="push Claude Code transcripts to the server's agent-session sync, "
                                       "incrementally (only what changed since the last import)")
    im.add_argument("--root", type=Path, default=Path.home() / ".claude" / "projects",
                    help="where the transcripts are (default ~/.claude/projects)")
    im.add_argument("--url", default=os.environ.get("OBSERVATORY_URL") or "http://127.0.0.1:8080",
                    help="the server (default $OBSERVATORY_URL or http://127.0.0.1:8080)")
    im.add_argument("--key", default=os.environ.get("OBSERVATORY_API_KEY") or "",
                    help="API key with the write scope (default $OBSERVATORY_API_KEY)")
    im.add_argument("--state", type=Path, default=data_dir / "import-state.json",
                    help="the watermark file (default <data-dir>/import-state.json)")
    im.add_argument("--full", action="store_true", help="ignore the watermarks: send every transcript again")
    im.add_argument("--dry-run", action="store_true", help="parse and count, send nothing, save nothing")
    im.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    im.set_defaults(func=_import)
    hk = sub.add_parser("hook", help="forward a Claude Code hook payload (stdin) to the server; always exits 0",
                        description="Reads the hook JSON on stdin and posts it to $OBSERVATORY_URL "
                                    "(default http://127.0.0.1:8080)/api/observatory/hooks; prints nothing.")
    hk.add_argument("hook_args", nargs=argparse.REMAINDER, help="--url URL, --timeout SECONDS")
    hk.set_defaults(func=_hook)
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
