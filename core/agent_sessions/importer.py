"""The transcript import engine: push Claude Code transcripts to `POST /api/v1/sync`, incrementally.

One run walks a root (default `~/.claude/projects`) for `*.jsonl` files, subagent transcripts included. A
watermark per file (a JSON state file, `{version, files: {path: {hash, size, last_ordinal}}, last_synced_at,
total_synced, total_masked}`) decides what to send:
- same size and sha256 as the watermark: nothing;
- grown, and its first `size` bytes still hash to the watermark (the file was appended to): the lines after
  `last_ordinal` (their messages and tool calls, tool calls completed by them, and the session row);
- anything else (new file, rewritten, truncated, `--full`, a state written by another `SYNC_VERSION`): the
  whole file.
Rows from several files share requests of at most `max_items` rows (5,000) and `max_bytes` of JSON (8 MiB,
well under the server's body limit); a 413 answer splits the request in two. A file's watermark is saved
(atomically) once the request carrying its last row succeeded, so an interrupted import resends at most the
files in flight; resending is harmless, every row has a natural key. 429, 502, 503, 504 and unreachable
servers are retried with exponential backoff (honouring `Retry-After`); any other 4xx or 5xx stops the run
with the server's error.

Standard library HTTP only (urllib): the command runs on developer machines next to the agent.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from pydantic import BaseModel

from core.agent_sessions.transcripts import Identity, Project, ProjectResolver, parse_transcript_bytes

__all__ = ["DEFAULT_ROOT", "MAX_BYTES_PER_REQUEST", "MAX_ITEMS_PER_REQUEST", "SYNC_PATH", "SYNC_VERSION",
           "FileMark", "ImportFailed", "ImportOptions", "ImportReport", "ImportState", "SyncClient", "git_identity",
           "git_project", "run_import", "sync_url"]

# Bump when parsing changes what a transcript turns into: every file is then imported again in full.
SYNC_VERSION = 1
SYNC_PATH = "/api/v1/sync"
MAX_ITEMS_PER_REQUEST = 5_000
MAX_BYTES_PER_REQUEST = 8 * 1024 * 1024
DEFAULT_ROOT = Path.home() / ".claude" / "projects"
_RETRYABLE = frozenset({429, 502, 503, 504})
_USER_AGENT = "observatory-import/1"


class ImportFailed(Exception):
    """The import stopped: the message says why, in words for the person who ran it."""


@dataclass(slots=True)
class FileMark:
    hash: str
    size: int
    last_ordinal: int


@dataclass(slots=True)
class ImportState:
    version: int = SYNC_VERSION
    files: dict[str, FileMark] = field(default_factory=dict)
    last_synced_at: str = ""
    total_synced: int = 0
    total_masked: int = 0

    @classmethod
    def load(cls, path: Path) -> ImportState:
        """The saved state; a missing or unreadable file is an empty state (everything is imported)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            files = {str(k): FileMark(str(v["hash"]), int(v["size"]), int(v["last_ordinal"]))
                     for k, v in raw.get("files", {}).items()}
            return cls(int(raw.get("version", 0)), files, str(raw.get("last_synced_at", "")),
                       int(raw.get("total_synced", 0)), int(raw.get("total_masked", 0)))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(version=0)

    def save(self, path: Path) -> None:
        """Write atomically (a crash leaves the old state or the new one, never half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)


@dataclass(slots=True)
class ImportOptions:
    root: Path = DEFAULT_ROOT
    url: str = "http://127.0.0.1:8080"
    key: str = ""
    state_path: Path = Path(".observatory") / "import-state.json"
    full: bool = False
    dry_run: bool = False
    quiet: bool = False
    max_items: int = MAX_ITEMS_PER_REQUEST
    max_bytes: int = MAX_BYTES_PER_REQUEST
    timeout_s: float = 60.0
    max_attempts: int = 6


@dataclass(slots=True)
class ImportReport:
    files_seen: int = 0
    files_changed: int = 0
    sessions: int = 0
    messages: int = 0
    tool_calls: int = 0
    requests: int = 0
    malformed_lines: int = 0
    masked: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        text = (f"{self.files_changed} of {self.files_seen} transcript files changed; {verb} {self.sessions} sessions, "
                f"{self.messages} messages, {self.tool_calls} tool calls")
        if not self.dry_run:
            text += f" in {self.requests} requests ({self.masked} secrets masked by the server)"
        if self.malformed_lines:
            text += f"; {self.malformed_lines} malformed lines skipped"
        return text


def sync_url(base_url: str) -> str:
    base = base_url.strip().rstrip("/")
    return base if base.endswith(SYNC_PATH) else base + SYNC_PATH


class SyncClient:
    """POSTs sync bodies with retries; `send` returns the number of secrets the server masked."""

    def __init__(self, url: str, key: str = "", timeout_s: float = 60.0, max_attempts: int = 6,
                 sleep: Callable[[float], None] = time.sleep, backoff_s: float = 0.5, max_backoff_s: float = 30.0
                 ) -> None:
        self.url = sync_url(url)
        self.key = key.strip()
        self.timeout_s = timeout_s
        self.max_attempts = max(max_attempts, 1)
        self.sleep = sleep
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.requests = 0

    def send(self, items: list[tuple[str, str]]) -> int:
        """Send (list name, row JSON) pairs as one body; a 413 answer sends each half on its own."""
        status, text = self._post(_body(items))
        if status == 413 and len(items) > 1:
            half = len(items) // 2
            return self.send(items[:half]) + self.send(items[half:])
        if status >= 400:
            raise ImportFailed(self._refusal(status, text))
        try:
            masked = json.loads(text).get("masked", 0) if text else 0
        except (ValueError, AttributeError):
            masked = 0
        return masked if isinstance(masked, int) else 0

    def _post(self, body: bytes) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", "User-Agent": _USER_AGENT}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        last, retry_after = "", ""
        for attempt in range(self.max_attempts):
            if attempt:
                self.sleep(self._delay(attempt, retry_after))
            request = urllib.request.Request(self.url, data=body, method="POST", headers=headers)
            self.requests += 1
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return int(response.status), response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                text = exc.read().decode("utf-8", "replace")
                if exc.code not in _RETRYABLE:
                    return exc.code, text
                last, retry_after = f"{exc.code} {_error_text(text)}".strip(), exc.headers.get("Retry-After", "")
            except ValueError as exc:  # not a URL urllib can open
                raise ImportFailed(f"bad server URL {self.url}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
                last, retry_after = f"unreachable ({getattr(exc, 'reason', None) or exc})", ""
        raise ImportFailed(f"{self.url}: {last}, still after {self.max_attempts} attempts")

    def _delay(self, attempt: int, retry_after: str) -> float:
        """Exponential backoff; a longer Retry-After (in seconds) wins, both capped."""
        delay: float = min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)
        if retry_after.strip().isdigit():
            delay = min(max(float(retry_after), delay), self.max_backoff_s)
        return delay

    def _refusal(self, status: int, text: str) -> str:
        detail = _error_text(text)
        if status in (401, 403):
            return (f"the server refused the API key ({status} {detail}): pass one with --key or "
                    "OBSERVATORY_API_KEY")
        if status == 404:
            return f"no sync endpoint at {self.url} (404): check --url"
        return f"the server rejected a sync request ({status} {detail})"


def run_import(options: ImportOptions, identity: Identity | None = None, *, stderr: TextIO | None = None,
               sleep: Callable[[float], None] = time.sleep, project_of: ProjectResolver | None = None
               ) -> ImportReport:
    """Import every changed transcript under `options.root`; raises ImportFailed when the server refuses."""
    root = options.root.expanduser()
    if not root.is_dir():
        raise ImportFailed(f"no transcript directory at {root}")
    identity = identity if identity is not None else git_identity()
    project_of = project_of if project_of is not None else git_project
    state = ImportState.load(options.state_path)
    if options.full or state.version != SYNC_VERSION:
        state = ImportState(SYNC_VERSION, {}, state.last_synced_at, state.total_synced, state.total_masked)
    files = list(iter_transcripts(root))
    report = ImportReport(files_seen=len(files), dry_run=options.dry_run)
    stream = sys.stderr if stderr is None else stderr
    progress = _Progress(len(files), stream, enabled=not options.quiet and _is_tty(stream))
    client = SyncClient(options.url, options.key, options.timeout_s, options.max_attempts, sleep)
    batch = _Batcher(client, state, options, report)
    try:
        for done, path in enumerate(files, 1):
            key = str(path.resolve())
            mark, since, data = _changes(path, state.files.get(key))
            if mark is not None and data is not None:
                report.files_changed += 1
                parsed = parse_transcript_bytes(data, path, since, identity, project_of)
                report.malformed_lines += parsed.malformed_lines
                mark.last_ordinal = parsed.last_ordinal
                rows: list[tuple[str, BaseModel]] = []
                if parsed.session is not None:
                    rows.append(("sessions", parsed.session))
                rows.extend(("messages", m) for m in parsed.messages)
                rows.extend(("tool_calls", t) for t in parsed.tool_calls)
                batch.add_file(key, mark, rows)
            progress.show(done, report)
        batch.flush()
        live = {str(p.resolve()) for p in files}
        prefix = str(root.resolve()) + os.sep
        for gone in [k for k in state.files if k.startswith(prefix) and k not in live]:
            del state.files[gone]  # deleted transcripts: forget them, the state stays small
        if not options.dry_run:
            state.save(options.state_path)
    finally:
        progress.close()
    return report


def _changes(path: Path, old: FileMark | None) -> tuple[FileMark | None, int, bytes | None]:
    """(new watermark, ordinal to parse after, content) for a changed file; (None, -1, None) if unchanged."""
    try:
        data = path.read_bytes()
    except OSError:
        return None, -1, None  # vanished or unreadable since the walk: next run
    view = memoryview(data)
    digest = hashlib.sha256()
    since = -1
    if old is not None and old.size <= len(data):
        digest.update(view[:old.size])
        if digest.copy().hexdigest() == old.hash:
            if old.size == len(data):
                return None, -1, None
            since = old.last_ordinal  # appended to: only what follows the last line read
        digest.update(view[old.size:])
    else:
        digest.update(view)
    return FileMark(digest.hexdigest(), len(data), -1), since, data


class _Batcher:
    """Packs rows of several files into requests and saves each file's watermark once its last row is sent."""

    def __init__(self, client: SyncClient, state: ImportState, options: ImportOptions, report: ImportReport) -> None:
        self.client = client
        self.state = state
        self.options = options
        self.report = report
        self.items: list[tuple[str, str]] = []
        self.bytes = 0
        self.queued = 0  # rows queued so far, all files
        self.sent = 0
        self.waiting: list[tuple[str, FileMark, int]] = []  # (file, watermark, rows queued when it ended)

    def add_file(self, key: str, mark: FileMark, rows: list[tuple[str, BaseModel]]) -> None:
        for kind, row in rows:
            text = row.model_dump_json(exclude_defaults=True)
            if self.items and (len(self.items) >= self.options.max_items
                               or self.bytes + len(text) > self.options.max_bytes):
                self.flush()
            self.items.append((kind, text))
            self.bytes += len(text) + 1
            self.queued += 1
            setattr(self.report, kind, getattr(self.report, kind) + 1)
        self.waiting.append((key, mark, self.queued))
        if not self.items:
            self._commit()

    def flush(self) -> None:
        if self.items and not self.options.dry_run:
            masked = self.client.send(self.items)
            self.report.masked += masked
            self.report.requests = self.client.requests
            self.state.total_masked += masked
            self.state.total_synced += len(self.items)
            self.state.last_synced_at = datetime.now(UTC).isoformat()
        self.sent += len(self.items)
        self.items, self.bytes = [], 0
        self._commit()

    def _commit(self) -> None:
        done = [w for w in self.waiting if w[2] <= self.sent]
        if not done:
            return
        self.waiting = [w for w in self.waiting if w[2] > self.sent]
        for key, mark, _ in done:
            self.state.files[key] = mark
        if not self.options.dry_run:
            self.state.save(self.options.state_path)


def _body(items: list[tuple[str, str]]) -> bytes:
    lists: dict[str, list[str]] = {"sessions": [], "messages": [], "tool_calls": []}
    for kind, text in items:
        lists[kind].append(text)
    return ("{" + ",".join(f'"{kind}":[{",".join(rows)}]' for kind, rows in lists.items()) + "}").encode()


def _error_text(text: str) -> str:
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()[:300]
    if isinstance(value, dict) and "error" in value:
        error = value["error"]
        return (error if isinstance(error, str) else json.dumps(error))[:300]
    return text.strip()[:300]


class _Progress:
    """A one-line progress bar on stderr, redrawn with `\\r`; silent when disabled."""

    WIDTH = 28

    def __init__(self, total: int, stream: TextIO, enabled: bool) -> None:
        self.total = total
        self.stream = stream
        self.enabled = enabled
        self.shown = False
        self.last = 0.0

    def show(self, done: int, report: ImportReport) -> None:
        now = time.monotonic()
        if not self.enabled or (done < self.total and now - self.last < 0.1):
            return
        self.last = now
        filled = self.WIDTH * done // self.total if self.total else self.WIDTH
        rows = report.sessions + report.messages + report.tool_calls
        line = f"\rimport [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} files, {rows} rows"
        self.stream.write(line.ljust(70))
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _git(*args: str, cwd: str | None = None) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def git_identity() -> Identity:
    """The seed's identity: `git config user.email` / `user.name`, and this machine's host name."""
    return Identity(user_id=_git("config", "--get", "user.email"), user_name=_git("config", "--get", "user.name"),
                    machine=socket.gethostname())


_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


@lru_cache(maxsize=1024)
def git_project(cwd: str) -> Project:
    """The project of a working directory: its `origin` remote (credentials removed) and the remote's last
    path component without `.git`; the directory's base name when it has no remote (or is gone)."""
    name = os.path.basename(cwd.rstrip("/\\"))
    if not os.path.isdir(cwd):
        return Project("", name)
    remote = _CREDENTIALS.sub("", _git("remote", "get-url", "origin", cwd=cwd))
    if not remote:
        return Project("", name)
    last = re.split(r"[/:]", remote.rstrip("/"))[-1].removesuffix(".git")
    return Project(remote, last or name)


def iter_transcripts(root: Path) -> Iterator[Path]:
    """The transcript files under `root`, in a stable order."""
    yield from sorted(root.expanduser().rglob("*.jsonl"))
