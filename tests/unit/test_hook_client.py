"""`observatory hook`: forwards stdin to the hooks route with the key and correlation headers, and always exits 0
quickly and silently on stdout, whatever the server, the network or stdin do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from emulator import hook_client

ROOT = Path(__file__).resolve().parent.parent.parent
PAYLOAD = (ROOT / "tests" / "fixtures" / "hooks" / "pre_tool_use_bash.json").read_bytes()


class Recorder:
    """A local HTTP server answering per ``mode``: ok (200), error (500) or slow (no answer until released)."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.requests: list[tuple[str, dict[str, str], bytes]] = []  # header names in lower case
        self.release = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                recorder.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                if recorder.mode == "slow":
                    recorder.release.wait(10)
                status = 500 if recorder.mode == "error" else 200
                reply = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_hook(stdin: bytes | None, env: dict[str, str], *args: str, close_stdin: bool = True
             ) -> tuple[int, bytes, bytes, float]:
    """Run `observatory hook` as Claude Code does: a new process, the payload on stdin. Returns (status,
    stdout, stderr, seconds from spawn to exit)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OBSERVATORY_")}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "hook", *args], cwd=ROOT, env={**clean, **env},
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    if stdin is not None:
        proc.stdin.write(stdin)
        proc.stdin.flush()
    if close_stdin:
        proc.stdin.close()
    try:
        status = proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        stream.close()
    return status, out, err, elapsed


def test_it_posts_stdin_with_the_key_the_links_and_the_hook_time(recorder: Recorder) -> None:
    env = {"OBSERVATORY_URL": recorder.url + "/", "OBSERVATORY_API_KEY": "agent-key",
           "OBSERVATORY_TASK_ID": "task-42", "OBSERVATORY_CHAIN_ID": "chain-7", "OBSERVATORY_STAGE_ID": "stage-7-2",
           "OBSERVATORY_MESSAGE_ID": "msg-9"}
    before = time.time_ns()
    status, out, err, _ = run_hook(PAYLOAD, env)
    assert (status, out, err) == (0, b"", b"")
    [(path, headers, body)] = recorder.requests
    assert path == "/api/observatory/hooks" and body == PAYLOAD
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer agent-key"
    assert (headers["x-observatory-task-id"], headers["x-observatory-chain-id"], headers["x-observatory-stage-id"],
            headers["x-observatory-message-id"]) == ("task-42", "chain-7", "stage-7-2", "msg-9")
    assert before <= int(headers["x-observatory-hook-time"]) <= time.time_ns()


def test_no_key_and_no_links_send_no_such_headers(recorder: Recorder) -> None:
    status, out, _, _ = run_hook(PAYLOAD, {"OBSERVATORY_URL": recorder.url, "OBSERVATORY_TASK_ID": " "})
    assert (status, out) == (0, b"")
    [(_, headers, _)] = recorder.requests
    assert "authorization" not in headers and "x-observatory-task-id" not in headers


def test_url_option_wins_over_the_environment(recorder: Recorder) -> None:
    status, _, _, _ = run_hook(PAYLOAD, {"OBSERVATORY_URL": f"http://127.0.0.1:{closed_port()}"},
                               "--url", recorder.url + "/api/observatory")
    assert status == 0 and [r[0] for r in recorder.requests] == ["/api/observatory/hooks"]


def test_a_closed_port_exits_0_at_once() -> None:
    status, out, err, elapsed = run_hook(PAYLOAD, {"OBSERVATORY_URL": f"http://127.0.0.1:{closed_port()}"})
    assert (status, out) == (0, b"")
    assert err.startswith(b"observatory hook: server unreachable") and err.count(b"\n") == 1
    assert elapsed < 2.0


def test_a_server_slower_than_the_deadline_exits_0_within_it() -> None:
    slow = Recorder("slow")
    try:
        status, out, err, elapsed = run_hook(PAYLOAD, {"OBSERVATORY_URL": slow.url,
                                                       "OBSERVATORY_HOOK_TIMEOUT_S": "0.5"})
        assert (status, out) == (0, b"")
        assert b"observatory hook:" in err
        assert len(slow.requests) == 1
        assert elapsed < 2.0
        # The default budget, interpreter start included, keeps a stalled call under two seconds too.
        status, out, _, elapsed = run_hook(PAYLOAD, {"OBSERVATORY_URL": slow.url})
        assert (status, out) == (0, b"") and elapsed < 2.0
    finally:
        slow.close()


def test_a_server_error_exits_0() -> None:
    failing = Recorder("error")
    try:
        status, out, err, _ = run_hook(PAYLOAD, {"OBSERVATORY_URL": failing.url})
        assert (status, out, err) == (0, b"", b"observatory hook: server answered 500\n")
    finally:
        failing.close()


@pytest.mark.parametrize("stdin", [b"", b"   \n", b"{not json", b"\xff\xfe\x00garbage", b"[1, 2"])
def test_bad_stdin_exits_0_and_sends_nothing(recorder: Recorder, stdin: bytes) -> None:
    status, out, err, elapsed = run_hook(stdin, {"OBSERVATORY_URL": recorder.url})
    assert (status, out) == (0, b"") and elapsed < 2.0
    assert err.startswith(b"observatory hook: ") and recorder.requests == []


def test_stdin_left_open_exits_0_within_the_deadline(recorder: Recorder) -> None:
    status, out, _, elapsed = run_hook(b'{"hook_event_name": "Stop"', {"OBSERVATORY_URL": recorder.url,
                                                                       "OBSERVATORY_HOOK_TIMEOUT_S": "0.5"},
                                       close_stdin=False)
    assert (status, out) == (0, b"") and elapsed < 2.0 and recorder.requests == []


def test_arguments_never_fail_the_hook(recorder: Recorder) -> None:
    status, out, _, _ = run_hook(PAYLOAD, {"OBSERVATORY_URL": recorder.url}, "--bogus", "--timeout", "nan", "x")
    assert (status, out) == (0, b"") and len(recorder.requests) == 1


def test_settings() -> None:
    assert hook_client.endpoint({}) == "http://127.0.0.1:8080/api/observatory/hooks"
    assert hook_client.endpoint({"OBSERVATORY_URL": "https://obs.example.com/api/observatory/hooks"}) == \
        "https://obs.example.com/api/observatory/hooks"
    assert hook_client.timeout_s({}) == 1.5
    assert hook_client.timeout_s({"OBSERVATORY_HOOK_TIMEOUT_S": "30"}) == hook_client.MAX_TIMEOUT_S
    assert hook_client.timeout_s({"OBSERVATORY_HOOK_TIMEOUT_S": "soon"}) == 1.5
    assert hook_client.timeout_s({}, "0") == 0.05
    headers = hook_client.headers({"OBSERVATORY_API_KEY": "k", "OBSERVATORY_STAGE_ID": "s1"}, 7)
    assert headers == {"Content-Type": "application/json", "User-Agent": "observatory-hook/1",
                       "X-Observatory-Hook-Time": "7", "Authorization": "Bearer k", "X-Observatory-Stage-ID": "s1"}


def test_the_module_imports_nothing_heavy() -> None:
    code = ("import sys; import emulator.cli, emulator.hook_client; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('core', 'functions', 'pydantic', 'flask')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_hook_reaches_a_real_server(server: Any) -> None:
    """The whole path: `observatory hook` -> the local stack -> the session and its tool call."""
    payload = json.loads(PAYLOAD)
    status, out, err, _ = run_hook(PAYLOAD, {"OBSERVATORY_URL": server.url})
    assert (status, out, err) == (0, b"", b"")
    import urllib.request

    with urllib.request.urlopen(f"{server.url}/api/observatory/sessions/{payload['session_id']}/tools",
                                timeout=5) as r:
        tools = json.loads(r.read())["tools"]
    assert [(t["tool_use_id"], t["tool_name"]) for t in tools] == [(payload["tool_use_id"], "Bash")]
