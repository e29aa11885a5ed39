"""`observatory import`: transcripts pushed to a stand-in sync endpoint (a local http.server recording requests),
incrementally, in bounded batches, with retries, and a watermark saved per file."""

from __future__ import annotations

import io
import json
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from core.agent_sessions import importer
from core.agent_sessions.importer import ImportFailed, ImportOptions, ImportReport, ImportState, run_import
from core.agent_sessions.transcripts import Identity, Project, parse_transcript

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "transcripts"
ME = Identity(user_id="dev@example.com", user_name="Dev Eloper", machine="dev-laptop")
GERMAN = "-home-dev-blog/7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b.jsonl"
MAIN = "-home-dev-shop/4b1c9d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e.jsonl"
KINDS = ("sessions", "messages", "tool_calls")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, list[dict[str, Any]]]

    @property
    def rows(self) -> int:
        return sum(len(self.body.get(k, [])) for k in KINDS)


@dataclass
class StandIn:
    """What the stand-in sync endpoint received, and the answers it is told to give next."""

    url: str
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], str]] = field(default_factory=list)
    max_rows: int | None = None  # answer 413 to larger bodies

    def ok(self) -> list[Received]:
        return [r for r in self.requests if r.headers.get("x-answer") == "200"]

    def rows(self, kind: str) -> list[dict[str, Any]]:
        return [row for r in self.ok() for row in r.body.get(kind, [])]


@pytest.fixture
def server() -> Iterator[StandIn]:
    state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            state.requests.append(received)
            if state.answers:
                status, headers, text = state.answers.pop(0)
            elif state.max_rows is not None and received.rows > state.max_rows:
                status, headers, text = 413, {}, '{"error": "body too large"}'
            else:
                counts = {k: len(body.get(k, [])) for k in KINDS}
                status, headers, text = 200, {}, json.dumps({**counts, "git_links": 0, "masked": 1})
            received.headers["x-answer"] = str(status)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "projects"
    shutil.copytree(FIXTURES, target)
    return target


def basename_project(cwd: str) -> Project:
    return Project("", cwd.rstrip("/").rsplit("/", 1)[-1])


class Run:
    def __init__(self, root: Path, state_path: Path, url: str) -> None:
        self.root, self.state_path, self.url = root, state_path, url
        self.sleeps: list[float] = []

    def __call__(self, stderr: io.StringIO | None = None, **overrides: Any) -> ImportReport:
        options = ImportOptions(root=self.root, url=self.url, key="obs_test_key", state_path=self.state_path,
                                **overrides)
        return run_import(options, ME, stderr=stderr or io.StringIO(), sleep=self.sleeps.append,
                          project_of=basename_project)


@pytest.fixture
def run(root: Path, tmp_path: Path, server: StandIn) -> Run:
    return Run(root, tmp_path / "data" / "import-state.json", server.url)


def expected_rows(root: Path) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for path in root.rglob("*.jsonl"):
        parsed = parse_transcript(path)
        counts["sessions"] += parsed.session is not None
        counts["messages"] += len(parsed.messages)
        counts["tool_calls"] += len(parsed.tool_calls)
    return counts


def test_first_import_sends_every_transcript(run: Run, server: StandIn, root: Path) -> None:
    report = run()
    assert server.requests and all(r.path == "/api/v1/sync" for r in server.requests)
    assert all(r.headers["authorization"] == "Bearer obs_test_key" for r in server.requests)
    assert all(r.headers["content-type"] == "application/json" for r in server.requests)
    expected = expected_rows(root)
    assert {k: len(server.rows(k)) for k in KINDS} == expected
    assert (report.sessions, report.messages, report.tool_calls) == tuple(expected[k] for k in KINDS)
    assert (report.files_seen, report.files_changed, report.malformed_lines) == (4, 4, 2)
    assert report.masked == len(server.requests)  # the stand-in reports one masked secret per request
    sessions = {s["id"]: s for s in server.rows("sessions")}
    assert set(sessions) == {"4b1c9d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b",
                             "agent-a1b2c3d4"}
    assert sessions["agent-a1b2c3d4"]["parent_session_id"] == "4b1c9d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
    assert {s["user_id"] for s in sessions.values()} == {ME.user_id}
    assert any(m["content"] == "「サイズ変更」です。" for m in server.rows("messages"))
    state = json.loads(run.state_path.read_text())
    assert state["version"] == importer.SYNC_VERSION and state["total_synced"] == sum(expected.values())
    assert len(state["files"]) == 4
    mark = state["files"][str((root / GERMAN).resolve())]
    assert mark["size"] == (root / GERMAN).stat().st_size and mark["last_ordinal"] == 2 and len(mark["hash"]) == 64


def test_second_run_sends_nothing(run: Run, server: StandIn) -> None:
    run()
    sent = len(server.requests)
    report = run()
    assert len(server.requests) == sent
    assert (report.files_seen, report.files_changed, report.requests) == (4, 0, 0)


def test_an_appended_line_sends_one_message(run: Run, server: StandIn, root: Path) -> None:
    run()
    before = len(server.requests)
    line = {"parentUuid": "u2-0003", "isSidechain": False, "cwd": "/home/dev/blog",
            "sessionId": "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b", "type": "user", "uuid": "u2-0004",
            "timestamp": "2025-10-15T18:03:00.000Z", "message": {"role": "user", "content": "Danke schön!"}}
    with (root / GERMAN).open("a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    report = run()
    (request,) = server.requests[before:]
    assert [m["content"] for m in request.body["messages"]] == ["Danke schön!"]
    assert [m["ordinal"] for m in request.body["messages"]] == [3]
    assert request.body.get("tool_calls", []) == []
    (session,) = request.body["sessions"]
    assert (session["id"], session["message_count"], session["user_message_count"]) == (
        "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b", 4, 2)
    assert (report.files_changed, report.messages) == (1, 1)


def test_a_changed_sync_version_sends_everything_again(run: Run, server: StandIn, root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run()
    first = len(server.ok())
    monkeypatch.setattr(importer, "SYNC_VERSION", importer.SYNC_VERSION + 1)
    report = run()
    assert len(server.ok()) == 2 * first
    assert report.files_changed == 4
    assert sum(r.rows for r in server.ok()[first:]) == sum(expected_rows(root).values())
    assert json.loads(run.state_path.read_text())["version"] == importer.SYNC_VERSION


def test_full_sends_everything_again(run: Run, server: StandIn, root: Path) -> None:
    run()
    first = sum(r.rows for r in server.ok())
    run(full=True)
    assert sum(r.rows for r in server.ok()) == 2 * first


def test_requests_stay_within_the_item_limit(run: Run, server: StandIn, root: Path) -> None:
    run(max_items=7)
    assert all(r.rows <= 7 for r in server.requests) and len(server.requests) >= 4
    assert {k: len(server.rows(k)) for k in KINDS} == expected_rows(root)
    # The session row travels first, in the request that carries the start of its file.
    assert server.requests[0].body["sessions"][0]["id"] == "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b"


def test_byte_limit_splits_requests_too(run: Run, server: StandIn, root: Path) -> None:
    run(max_bytes=4096)
    assert len(server.requests) > 2
    assert {k: len(server.rows(k)) for k in KINDS} == expected_rows(root)


def test_a_failure_keeps_the_watermarks_of_files_already_sent(run: Run, server: StandIn, root: Path) -> None:
    # Rows in file order: the German file (4 rows), the summary-only file (0), the main one (17), the subagent (5).
    server.answers = [(200, {}, "{}"), (400, {}, '{"error": "messages[2].ordinal: too large"}')]
    with pytest.raises(ImportFailed, match=r"rejected a sync request \(400 messages\[2\].ordinal: too large\)"):
        run(max_items=7)
    state = ImportState.load(run.state_path)
    assert set(state.files) == {str((root / GERMAN).resolve()),
                                str((root / "-home-dev-blog/c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f.jsonl").resolve())}
    before = len(server.requests)
    report = run(max_items=7)
    resent = server.requests[before:]
    assert {s["id"] for r in resent for s in r.body.get("sessions", [])} == {
        "4b1c9d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "agent-a1b2c3d4"}
    assert report.files_changed == 2


def test_429_and_503_are_retried_with_backoff(run: Run, server: StandIn, root: Path) -> None:
    server.answers = [(429, {"Retry-After": "3"}, '{"error": "slow down"}'), (503, {}, '{"error": "busy"}')]
    report = run()
    assert run.sleeps == [3.0, 1.0]  # Retry-After wins over the first backoff (0.5 s); then 2 x 0.5 s
    assert [r.headers["x-answer"] for r in server.requests[:3]] == ["429", "503", "200"]
    assert {k: len(server.rows(k)) for k in KINDS} == expected_rows(root)
    assert report.requests == len(server.requests)


def test_retries_give_up_with_a_clear_error(run: Run, server: StandIn) -> None:
    server.answers = [(503, {}, '{"error": "store unavailable"}')] * 3
    with pytest.raises(ImportFailed, match="503 store unavailable, still after 3 attempts"):
        run(max_attempts=3)
    assert not run.state_path.exists()


def test_a_refused_key_stops_at_once(run: Run, server: StandIn) -> None:
    server.answers = [(401, {}, '{"error": "invalid API key"}')]
    with pytest.raises(ImportFailed, match=r"refused the API key \(401 invalid API key\)"):
        run()
    assert len(server.requests) == 1 and run.sleeps == []
    assert not run.state_path.exists()


def test_413_splits_the_request(run: Run, server: StandIn, root: Path) -> None:
    server.max_rows = 5
    run()
    assert any(r.headers["x-answer"] == "413" for r in server.requests)
    assert all(r.rows <= 5 for r in server.ok())
    assert {k: len(server.rows(k)) for k in KINDS} == expected_rows(root)


def test_unreachable_server(root: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    dead = Run(root, tmp_path / "state.json", f"http://127.0.0.1:{port}")
    with pytest.raises(ImportFailed, match="unreachable"):
        dead(max_attempts=2)
    assert dead.sleeps == [0.5]


def test_dry_run_sends_and_saves_nothing(run: Run, server: StandIn, root: Path) -> None:
    report = run(dry_run=True)
    assert server.requests == [] and not run.state_path.exists()
    assert (report.sessions, report.messages, report.tool_calls) == tuple(expected_rows(root)[k] for k in KINDS)
    assert "would send" in report.summary()


def test_a_rewritten_file_is_sent_whole(run: Run, server: StandIn, root: Path) -> None:
    run()
    before = len(server.requests)
    path = root / GERMAN
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("Japanische", "Französische")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run()
    (request,) = server.requests[before:]
    assert [m["ordinal"] for m in request.body["messages"]] == [0, 1, 2]
    assert "Französische" in request.body["messages"][0]["content"]


def test_deleted_transcripts_are_forgotten(run: Run, root: Path) -> None:
    run()
    (root / GERMAN).unlink()
    run()
    assert str((root / GERMAN).resolve()) not in ImportState.load(run.state_path).files


def test_missing_root_is_an_error(run: Run, tmp_path: Path) -> None:
    run.root = tmp_path / "nowhere"
    with pytest.raises(ImportFailed, match="no transcript directory"):
        run()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal(run: Run) -> None:
    piped = io.StringIO()
    run(stderr=piped, dry_run=True)
    assert piped.getvalue() == ""
    terminal = Terminal()
    run(stderr=terminal, dry_run=True)
    shown = terminal.getvalue()
    assert shown.startswith("\rimport [") and "4/4 files" in shown and shown.endswith("\n")
    quiet = Terminal()
    run(stderr=quiet, dry_run=True, quiet=True)
    assert quiet.getvalue() == ""


def test_cli_import(server: StandIn, root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from emulator import cli

    state = tmp_path / "cli-state.json"
    args = ["import", "--root", str(root), "--url", server.url + "/", "--key", "k1", "--state", str(state)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "4 of 4 transcript files changed" in out
    assert server.requests and server.requests[0].headers["authorization"] == "Bearer k1"
    assert state.exists()
    server.answers = [(403, {}, '{"error": "key lacks the write scope"}')]
    assert cli.main([*args, "--full", "--quiet"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "observatory import: the server refused the API key (403" in captured.err
