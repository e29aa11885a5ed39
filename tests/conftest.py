"""Shared fixtures: isolated settings per test, an in-process client, and a real local server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from functions import _bootstrap
from tests.contract.firestore_store import firestore_emulator_host  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parent.parent


# OBSERVATORY_TEST_STORE=firestore runs the HTTP suites on the Firestore store (the emulator, a fresh project per
# test) instead of SQLite: the same routes must answer the same way on both adapters.
ON_FIRESTORE = os.environ.get("OBSERVATORY_TEST_STORE") == "firestore"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
                 ) -> Iterator[Path]:
    for key in list(os.environ):
        if key.startswith("OBSERVATORY_"):
            monkeypatch.delenv(key)
    # functions-framework records the last app's signature type in the environment: a CloudEvent worker's app
    # would otherwise turn the next HTTP app into a CloudEvent one.
    monkeypatch.delenv("FUNCTION_SIGNATURE_TYPE", raising=False)
    data_dir = tmp_path / "data"
    monkeypatch.setenv("OBSERVATORY_DATA_DIR", str(data_dir))
    if ON_FIRESTORE:
        import uuid

        monkeypatch.setenv("OBSERVATORY_STORE", "firestore")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", request.getfixturevalue("firestore_emulator_host"))
        monkeypatch.setenv("OBSERVATORY_GCP_PROJECT", f"test-{uuid.uuid4().hex[:12]}")
        monkeypatch.setenv("OBSERVATORY_EVENT_SETTLE_S", "0")  # events readable at once (see test_event_settle)
    _bootstrap.reset()
    yield data_dir
    _bootstrap.reset()


@pytest.fixture
def client():  # type: ignore[no-untyped-def]
    """functions-framework's own app for the local-stack target, driven in-process."""
    import functions_framework

    from emulator import local_server

    app = functions_framework.create_app(target="local_stack", source=local_server.__file__, signature_type="http")
    return app.test_client()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str, data_dir: Path, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.data_dir = data_dir
        self.proc = proc


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> Server:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    env.update(extra_env or {})
    env["OBSERVATORY_BUS_POLL_S"] = "0.05"
    # stderr (the server's and its worker's) goes to a file: a pipe nobody reads while the server runs would
    # block it once its buffer filled.
    log_path = data_dir.parent / f"server-{port}.stderr"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulator.cli", "serve", "--port", str(port), "--data-dir", str(data_dir)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as r:
                if r.status == 200:
                    return Server(url, data_dir, proc)
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')[-4000:]}")
    proc.kill()
    raise RuntimeError(f"server did not become healthy in 30 s: {log_path.read_text(errors='replace')[-4000:]}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = start_server(tmp_path / "server-data")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def analytics_engine_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Embedded ClickHouse allows one data directory per process: every test of this process shares it."""
    return tmp_path_factory.mktemp("clickhouse")


@pytest.fixture
def analytics_dsn(analytics_engine_dir: Path, request: pytest.FixtureRequest) -> str:
    """A chdb DSN with a database of this test's own (so tests never see each other's rows)."""
    import hashlib

    database = "t_" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:16]
    return f"chdb://{analytics_engine_dir}?database={database}"
