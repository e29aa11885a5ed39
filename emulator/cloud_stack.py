"""The emulated cloud: both Google emulators, the Pub/Sub topology, one functions-framework process per function,
push subscriptions to the workers and one router port in front of the HTTP functions."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from core.routes import ANALYTICS_FUNCTIONS, ROUTES, WORKERS
from emulator import gcloud, pubsub_setup
from emulator.gcloud import Emulator
from emulator.router import Router

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "main.py"
ANALYTICS_HOST = "analytics"  # the process hosting ANALYTICS_FUNCTIONS when analytics is embedded (chdb)
HTTP_FUNCTIONS: tuple[str, ...] = tuple(dict.fromkeys(route.function for route in ROUTES))
# WAL checkpoints of the shared SQLite file run in one process: the aggregate worker's (it writes most).
CHECKPOINT_OWNER = "aggregate"
STORES = ("sqlite", "firestore")


@dataclass
class FunctionProcess:
    """One functions-framework process serving `name`; stop() ends its process group by PID."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self.proc.poll() is None

    def terminate(self) -> None:
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc, signal.SIGKILL)
                self.proc.wait(timeout=timeout_s)
        else:
            _signal_group(self.proc, signal.SIGKILL)  # gunicorn's worker may outlive a dead arbiter
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # Each process leads its own group (start_new_session): the group is it and its gunicorn worker only.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Google clients built in this process find the emulators through the environment; restore it after."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class CloudStack:
    """Start with start() (or `with`), stop with stop(): everything started here is stopped by PID, also at
    interpreter exit. Emulators passed in are used and left running (a test session shares them)."""

    def __init__(self, *, store: str = "sqlite", data_dir: Path | None = None, project: str | None = None,
                 functions: Sequence[str] | None = None, router_port: int = 0,
                 pubsub: Emulator | None = None, firestore: Emulator | None = None,
                 start_firestore: bool = True, env: Mapping[str, str] | None = None,
                 log_dir: Path | None = None, ready_timeout_s: float = 60.0, analytics: str = "") -> None:
        """``analytics``: the OBSERVATORY_CLICKHOUSE_URL every function gets (empty: analytics off). With an
        embedded `chdb://` DSN, the functions touching analytics share one process."""
        if store not in STORES:
            raise ValueError(f"store must be one of {', '.join(STORES)}, got {store!r}")
        unknown = sorted(set(functions or ()) - set(HTTP_FUNCTIONS))
        if unknown:
            raise ValueError(f"unknown HTTP function(s): {', '.join(unknown)}")
        self.store = store
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="observatory-cloud-"))
        self.data_dir = data_dir or self.log_dir / "data"
        self.project = project or f"observatory-{uuid.uuid4().hex[:8]}"
        self.http_functions = tuple(functions) if functions is not None else HTTP_FUNCTIONS
        self.router_port = router_port
        self.extra_env = dict(env or {})
        self.analytics = analytics
        self.ready_timeout_s = ready_timeout_s
        self.pubsub = pubsub
        self.firestore = firestore
        # The Firestore emulator is needed by a Firestore store; `make run-emulated` starts it regardless.
        self._want_firestore = start_firestore or store == "firestore"
        self._owned: list[Emulator] = []
        self.processes: dict[str, FunctionProcess] = {}  # function name -> its process
        self.router: Router | None = None
        self.topology: pubsub_setup.Topology | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> CloudStack:
        atexit.register(self.stop)
        try:
            self._start_emulators()
            with _environment(self.client_env()):
                pubsub_setup.setup(self.project)  # topics first: ingest publishes from its first request
            self._start_functions()
            with _environment(self.client_env()):
                worker_urls = {w: self.worker_url(w) for w in WORKERS}
                self.topology = pubsub_setup.setup(self.project, worker_urls)
            self.router = Router({f: p.url for f, p in self.processes.items() if f in self.http_functions},
                                 port=self.router_port).start()
        except BaseException:
            self.stop()
            raise
        log.info("emulated cloud ready on %s (project %s, store %s)", self.url, self.project, self.store)
        return self

    def stop(self) -> None:
        """Idempotent: the router, every function process group, then the emulators this stack started."""
        if self.router is not None:
            self.router.stop()
            self.router = None
        for process in self.processes.values():
            process.terminate()  # all at once: each takes a moment to exit
        for process in self.processes.values():
            process.stop()
        for emulator in self._owned:
            emulator.stop()
        self._owned.clear()
        atexit.unregister(self.stop)

    def __enter__(self) -> CloudStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        """The router: the one base URL of every HTTP function (exporters, API clients)."""
        if self.router is None:
            raise RuntimeError("the stack is not running")
        return self.router.url

    def worker_url(self, worker: str) -> str:
        """A worker's push URL (a test posts a push body to it directly, as Pub/Sub would): its own process's, or
        its path on the analytics host."""
        process = self.processes[worker]
        return f"{process.url}/workers/{worker}" if process.name == ANALYTICS_HOST else process.url

    def client_env(self) -> dict[str, str]:
        """What a Google client needs to reach this stack's emulators and project."""
        if self.pubsub is None:
            raise RuntimeError("the Pub/Sub emulator is not running")
        env = {**self.pubsub.env(), "GOOGLE_CLOUD_PROJECT": self.project, "OBSERVATORY_GCP_PROJECT": self.project}
        if self.firestore is not None:
            env.update(self.firestore.env())
        return env

    def function_env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "FUNCTION_SIGNATURE_TYPE"}
        env.update(self.extra_env)
        env.update(self.client_env())
        env.update({
            "OBSERVATORY_STORE": self.store,  # the composition root picks the Store adapter from it
            "OBSERVATORY_DATA_DIR": str(self.data_dir),  # every process shares the one SQLite data dir
            "OBSERVATORY_BUS": "pubsub",
            # No outbox thread anywhere (Pub/Sub delivers); WAL checkpoints in exactly one process.
            "OBSERVATORY_BUS_DRAINER": "thread" if name == self._checkpoint_owner else "external",
            "WORKERS": "1",  # one process per function, as one instance per function in the cloud
            "OBSERVATORY_CLICKHOUSE_URL": self.analytics or "off",
            "PYTHONUNBUFFERED": "1",
        })
        return env

    # ------------------------------------------------------------------ internals

    def _start_emulators(self) -> None:
        if self.pubsub is None:
            self.pubsub = gcloud.start_pubsub(log_dir=self.log_dir)
            self._owned.append(self.pubsub)
        if self.firestore is None and self._want_firestore:
            self.firestore = gcloud.start_firestore(log_dir=self.log_dir)
            self._owned.append(self.firestore)

    @property
    def _checkpoint_owner(self) -> str:
        return ANALYTICS_HOST if self.analytics.startswith("chdb:") and CHECKPOINT_OWNER in ANALYTICS_FUNCTIONS \
            else CHECKPOINT_OWNER

    def _start_functions(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        targets = [(f, "http") for f in self.http_functions] + [(w, "cloudevent") for w in WORKERS]
        shared = self.analytics.startswith("chdb:")
        if shared:
            host = self._spawn(ANALYTICS_HOST, "http", source=ROOT / "emulator" / "analytics_host.py",
                               target="analytics_host")
            targets = [t for t in targets if t[0] not in ANALYTICS_FUNCTIONS]
        # Start them all, then wait for them all: their imports overlap.
        for name, signature in targets:
            self.processes[name] = self._spawn(name, signature)
        if shared:
            self.processes.update({f: host for f in ANALYTICS_FUNCTIONS if f in self.http_functions or f in WORKERS})
        deadline = time.monotonic() + self.ready_timeout_s
        for process in {id(p): p for p in self.processes.values()}.values():
            _wait_ready(process, deadline)

    def _spawn(self, name: str, signature: str, source: Path = SOURCE, target: str = "") -> FunctionProcess:
        port = gcloud.free_port()
        log_path = self.log_dir / f"{name}.log"
        log_file = open(log_path, "wb")  # noqa: SIM115 - owned by the FunctionProcess, closed on stop()
        command = [sys.executable, "-m", "functions_framework", f"--target={target or name}", f"--source={source}",
                   f"--signature-type={signature}", "--host=127.0.0.1", f"--port={port}"]
        proc = subprocess.Popen(command, cwd=ROOT, env=self.function_env(name), stdin=subprocess.DEVNULL,
                                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        return FunctionProcess(name, port, proc, log_path, log_file)


def _wait_ready(process: FunctionProcess, deadline: float) -> None:
    """Ready once it answers HTTP at all (a function loads its module before it listens)."""
    while time.monotonic() < deadline:
        if not process.running():
            raise RuntimeError(f"function {process.name} exited ({process.proc.returncode}): {process.log_tail()}")
        try:
            with urllib.request.urlopen(process.url + "/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # an error status is an answer: it is serving
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"function {process.name} not ready in time: {process.log_tail()}")


def run(store: str = "sqlite", port: int = 8080, data_dir: Path | None = None, project: str | None = None,
        analytics: str = "") -> int:
    """`observatory cloud`: run the stack in the foreground until Ctrl-C or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    stack = CloudStack(store=store, data_dir=data_dir, project=project, router_port=port, analytics=analytics)

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    try:
        stack.start()
        assert stack.pubsub is not None
        print(f"observatory cloud: router on {stack.url} (project {stack.project}, store {store}, "
              f"data in {stack.data_dir}, logs in {stack.log_dir})", flush=True)
        print(f"  pubsub emulator {stack.pubsub.address}"
              + (f", firestore emulator {stack.firestore.address}" if stack.firestore else ""), flush=True)
        for name, process in stack.processes.items():
            print(f"  {name:<18} {process.url}  (pid {process.proc.pid})", flush=True)
        while True:
            for process in stack.processes.values():
                if not process.running():
                    print(f"observatory cloud: {process.name} exited: {process.log_tail()}", file=sys.stderr)
                    return 1
            time.sleep(1.0)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
