"""The local stack across processes: one SQLite writer at a time, and the worker process's lifecycle."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from core.adapters.sqlite import SqliteStore
from core.records import Batch
from tests.conftest import ROOT, start_server, stop_server

PROBE_LOCK = textwrap.dedent("""
    import fcntl, sys
    with open(sys.argv[1], "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("held")
        else:
            print("free")
""")

WRITE_BATCHES = textwrap.dedent("""
    import sys
    from core.adapters.sqlite import SqliteStore
    from core.ingest import IngestService
    from core.pricing import PriceTable
    from core.span_filter import SpanFilter
    from tests.payloads import trace_request
    store = SqliteStore(sys.argv[1])
    service = IngestService(store, PriceTable.load(), SpanFilter.from_env())
    for i in range(int(sys.argv[3])):
        request = trace_request(n=20, trace_id=bytes([int(sys.argv[2])]) + i.to_bytes(15, "big"))
        service.ingest("default", "traces", request, f"{sys.argv[2]}-{i}")
    store.close()
""")

# Waits for a common start time, then opens the store (migrating a new file) and reads from it.
OPEN_AT = textwrap.dedent("""
    import sys, time
    from core.adapters.sqlite import SqliteStore
    while time.time() < float(sys.argv[2]):  # spin: a sleeping process wakes too late to race
        pass
    store = SqliteStore(sys.argv[1])
    store._reader().execute("SELECT COUNT(*) FROM spans").fetchone()
    store.close()
""")


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def test_a_write_transaction_holds_the_lock_other_processes_queue_on(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "observatory.db")
    lock_file = str(tmp_path / "observatory.db.writelock")
    try:
        with store.unit_of_work() as uow:
            uow.write(Batch(org_id="default"), "", [])
            held, _ = _python(PROBE_LOCK, lock_file).communicate(timeout=30)
        free, _ = _python(PROBE_LOCK, lock_file).communicate(timeout=30)
    finally:
        store.close()
    assert held.strip() == "held"
    assert free.strip() == "free"


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    db = str(tmp_path / "observatory.db")
    SqliteStore(db).close()  # migrate once, so both writers start from the same schema
    procs = [_python(WRITE_BATCHES, db, str(n), "40") for n in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    store = SqliteStore(db)
    try:
        count = store._reader().execute("SELECT COUNT(*) FROM spans").fetchone()[0]
    finally:
        store.close()
    assert count == 2 * 40 * 20


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    # As at `observatory serve`'s start: server workers and the bus worker create the same new file together.
    # Switching a new file to WAL needs a lock SQLite does not wait for; before the switch was made under the
    # write lock, opens here failed in most runs with "database is locked".
    errors = []
    for n in range(8):
        start = str(time.time() + 1.5)  # all three imported and spinning by then
        procs = [_python(OPEN_AT, str(tmp_path / f"store-{n}" / "observatory.db"), start) for _ in range(3)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                errors.append(err.strip().splitlines()[-1])
    assert errors == []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _worker_pids() -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "emulator.cli worker" in cmd:
                out[int(entry.name)] = cmd
    return out


def test_serve_runs_the_worker_in_its_own_process_and_stops_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv"
    server = start_server(data_dir)
    try:
        workers = [pid for pid, cmd in _worker_pids().items() if str(data_dir) in cmd]
        assert len(workers) == 1
    finally:
        stop_server(server)
    assert _wait_gone(workers[0])


def test_the_worker_exits_when_the_server_that_started_it_dies(tmp_path: Path) -> None:
    launcher = textwrap.dedent("""
        import os, subprocess, sys
        worker = subprocess.Popen([sys.executable, "-m", "emulator.cli", "worker", "--data-dir", sys.argv[1],
                                   "--parent-pid", str(os.getpid())])
        print(worker.pid, flush=True)
        os._exit(0)  # die without stopping it, as a killed server would
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    out = subprocess.run([sys.executable, "-c", launcher, str(tmp_path / "data")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert _wait_gone(int(out.strip()))
