"""Benchmark of the agent-session store on embedded ClickHouse: load N messages (with their sessions, tool calls and
git links) through the adapter, then time every read route and search.

    python bench/analytics_sessions.py                  # 1,000,000 messages
    python bench/analytics_sessions.py --quick          # 50,000 messages
    python bench/analytics_sessions.py --messages 200000 --runs 30

Data is deterministic (seeded): sessions over the last 300 days, written oldest first in sync-sized batches
(20,000 messages), 50 users, 30 projects, Zipf-distributed English and code vocabulary with some Japanese and
German text, tool calls with JSON input and multi-line results, git links from commits. Prints insert rows/s (and
per CPU-second: the machine may be shared) against the target, the engine's own ceiling for the same rows measured in
the same run, and p50/p95 (ms) per route; uses a temporary engine directory.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.engine_ceiling import engine_ceiling  # noqa: E402
from core.adapters.clickhouse.connection import AnalyticsConnection  # noqa: E402
from core.adapters.clickhouse.session_store import ClickHouseAgentSessions  # noqa: E402
from core.agent_sessions.models import AgentMessage, AgentSession, AgentToolCall, GitLink  # noqa: E402
from core.agent_sessions.views import AnalyticsFilter, SearchQuery, SessionFilter  # noqa: E402

ORG = "bench"
TARGET_ROWS_S = 200_000
BATCH_MESSAGES = 20_000  # the sync API's largest list
_COMMON_TEXT = ("the a to of and in is it for that this with on be as are was not we can file function test error "
          "value return if else import from class def self none true false list dict string int update fix add "
          "remove check run build config path module type data result output input user request response "
          "session message tool call commit branch merge pull review change line code should would could need "
          "let me now here there then when which what why how all any some each more most other such only also")
COMMON = _COMMON_TEXT.split()
JAPANESE = ["設定ファイルを更新しました", "テストが失敗しています", "データベース接続を修正してください",
            "東京のサーバーで再起動が必要です", "このブランチをマージします", "型エラーを直しました"]
GERMAN = ["Überprüfung der Änderungen im Schlüsselverzeichnis", "Die Größe der Zeichenkette ist falsch",
          "Fehlerbehebung für die Straßenkarte", "Bitte führe die Tests erneut aus", "Übergabe an den Prüfer"]
TOOLS = [("Bash", "shell"), ("Read", "file"), ("Edit", "file"), ("Write", "file"), ("Grep", "search"),
         ("Glob", "search"), ("Task", "agent"), ("WebFetch", "web"), ("TodoWrite", "plan"), ("MultiEdit", "file")]
MODELS = ["claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "gemini-2.5-pro"]


class Corpus:
    """Zipf-distributed words: a few frequent, a long tail of rare ones (what makes n-gram filters selective)."""

    def __init__(self, rnd: random.Random) -> None:
        syllables = ["ka", "ro", "mi", "te", "su", "na", "lo", "ve", "pri", "str", "con", "dex", "al", "or", "ing",
                     "er", "ta", "qu", "zi", "bel", "mon", "gra", "fle", "cho", "wa", "ny", "ex", "um", "ph", "sk"]
        tail = {"".join(rnd.choice(syllables) for _ in range(rnd.randint(2, 4))) for _ in range(12_000)}
        self.words = COMMON + sorted(tail)
        weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(self.words))]
        self.cum = list(itertools.accumulate(weights))
        self.rnd = rnd

    def text(self, n_words: int) -> str:
        words = self.rnd.choices(self.words, cum_weights=self.cum, k=n_words)
        r = self.rnd.random()
        if r < 0.03:
            words.insert(self.rnd.randrange(len(words) + 1), self.rnd.choice(JAPANESE))
        elif r < 0.06:
            words.insert(self.rnd.randrange(len(words) + 1), self.rnd.choice(GERMAN))
        return " ".join(words)


def generate(n_messages: int, seed: int = 7) -> tuple[list[AgentSession], list[AgentMessage], list[AgentToolCall],
                                                      list[GitLink]]:
    rnd = random.Random(seed)
    corpus = Corpus(rnd)
    now = datetime.now(UTC).replace(microsecond=0)
    sessions: list[AgentSession] = []
    messages: list[AgentMessage] = []
    calls: list[AgentToolCall] = []
    links: list[GitLink] = []
    users = [(f"dev{i}@example.com", f"Developer {i}") for i in range(50)]
    projects = [(f"https://github.com/acme/repo{i}.git", f"repo{i}") for i in range(30)]
    s = 0
    while len(messages) < n_messages:
        sid = f"{rnd.getrandbits(128):032x}"
        count = min(rnd.randint(10, 200), n_messages - len(messages))
        started = now - timedelta(days=rnd.uniform(0, 300), hours=rnd.uniform(0, 24))
        started = started.replace(microsecond=(started.microsecond // 1000) * 1000)
        user, project = rnd.choice(users), rnd.choice(projects)
        subagent = rnd.random() < 0.05
        ghost = rnd.random() < 0.02
        out_total = 0
        user_msgs = 0
        first = ""
        for o in range(count):
            role = "user" if o % 2 == 0 else "assistant"
            content = corpus.text(rnd.randint(8, 50) if role == "user" else rnd.randint(20, 160))
            model, out, ctx = "", 0, 0
            if role == "assistant":
                model, out, ctx = rnd.choice(MODELS), rnd.randint(20, 3000), rnd.randint(1000, 150_000)
                out_total += out
            else:
                user_msgs += 1
                first = first or content[:200]
            ts = started + timedelta(seconds=o * rnd.uniform(2, 40))
            messages.append(AgentMessage.model_construct(
                session_id=sid, ordinal=o, uuid=f"{sid}-{o}", role=role, content=content, timestamp=ts,
                has_thinking=role == "assistant" and rnd.random() < 0.3, has_tool_use=False, model=model,
                token_usage=json.dumps({"output_tokens": out}) if out else "", context_tokens=ctx,
                output_tokens=out))
            if role == "assistant" and rnd.random() < 0.35:
                for k in range(rnd.randint(1, 2)):
                    tool, category = rnd.choice(TOOLS)
                    tuid = f"toolu_{sid[:12]}_{o}_{k}"
                    if tool == "Bash" and rnd.random() < 0.1:
                        sha = f"{rnd.getrandbits(160):040x}"
                        result = f"[main {sha[:7]}] {corpus.text(6)}\n 2 files changed"
                        links.append(GitLink.model_construct(
                            session_id=sid, user_id=user[0], message_ordinal=o, commit_sha=sha, pr_url="",
                            link_type="commit", confidence="high", detected_at=ts))
                        inp = json.dumps({"command": f"git commit -m '{corpus.text(5)}'"})
                    else:
                        inp = json.dumps({"path": f"src/{corpus.text(2).replace(' ', '/')}.py",
                                          "pattern": corpus.text(3)})
                        result = "\n".join(corpus.text(rnd.randint(4, 14)) for _ in range(rnd.randint(2, 20)))
                    calls.append(AgentToolCall.model_construct(
                        session_id=sid, message_ordinal=o, tool_use_id=tuid, tool_name=tool, tool_category=category,
                        input_json=inp, skill_name="", result_content=result, subagent_session_id=""))
        sessions.append(AgentSession.model_construct(
            id=sid, user_id=user[0], user_name=user[1], project_id=project[0], project_name=project[1],
            project_path=f"/home/{user[0].split('@')[0]}/{project[1]}", machine="laptop",
            agent_type=rnd.choice(["claude-code", "claude-code", "gemini-cli"]), first_message=first,
            started_at=started, ended_at=started + timedelta(minutes=count), message_count=count,
            user_message_count=0 if ghost else user_msgs, parent_session_id="parent" if subagent else "",
            relationship_type="subagent" if subagent else "", source_created_at="", display_name="",
            total_output_tokens=out_total, peak_context_tokens=150_000))
        s += 1
    return sessions, messages, calls, links


class Batch:
    """One sync-sized batch: whole sessions with their messages, tool calls and git links."""

    def __init__(self) -> None:
        self.sessions: list[AgentSession] = []
        self.messages: list[AgentMessage] = []
        self.calls: list[AgentToolCall] = []
        self.links: list[GitLink] = []

    def add(self, session: AgentSession, items: list[Any]) -> None:
        self.sessions.append(session)
        for item in items:
            if isinstance(item, AgentMessage):
                self.messages.append(item)
            elif isinstance(item, AgentToolCall):
                self.calls.append(item)
            else:
                self.links.append(item)


def wait_for_merges(conn: AnalyticsConnection, limit_s: float = 300) -> int:
    """Wait until no merge runs in the database (bounded); returns how many still run."""
    deadline = time.monotonic() + limit_s
    while True:
        running = int(conn.client.query("SELECT count() FROM system.merges WHERE database = {db:String}",
                                        parameters={"db": conn.database}).result_rows[0][0])
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.5)


def _p50_p95(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float, float]:
    """(wall p50, wall p95, CPU p50, CPU p95) in ms; CPU is the process's (the embedded engine's threads included),
    which a busy shared machine distorts less than wall time."""
    fn()  # warm-up (first call loads marks and indexes)
    wall, cpu = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return (*_p50_p95(wall), *_p50_p95(cpu))


def time_routes(store: ClickHouseAgentSessions, runs: int) -> None:
    """p50/p95 of every read route with varied parameters (ids, filters and terms drawn from the stored data)."""
    today = datetime.now(UTC).date()
    rnd = random.Random(11)
    projects = [p.name for p in store.projects(ORG)]
    users = [u.id for u in store.users(ORG)]
    first = store.list_sessions(ORG, SessionFilter(limit=100))
    some = [s.id for s in first.sessions]
    shas = [g.commit_sha for sid in some[:40] for g in store.session_git_links(ORG, sid) if g.commit_sha] or ["0" * 7]

    def filters() -> AnalyticsFilter:
        kind = rnd.randrange(4)
        if kind == 0:
            return AnalyticsFilter()
        days = rnd.choice([7, 30, 90])
        start = today - timedelta(days=rnd.randint(days, 300))
        f: dict[str, Any] = {"date_from": start.isoformat(), "date_to": (start + timedelta(days=days)).isoformat()}
        if kind >= 2:
            f["project_name"] = rnd.choice(projects)
        if kind == 3:
            f["tz"] = rnd.choice(["Asia/Tokyo", "Europe/Berlin", "America/Los_Angeles"])
        return AnalyticsFilter(**f)

    terms = itertools.cycle(["flaky", "function", "設定", "Überprüfung", "connection refused", "zzqxv",
                             "STRASSENKARTE", "テスト", "merge conflict", "konrosu", "Größe", "return value",
                             "qumonex", "データベース"])
    routes: list[tuple[str, Callable[[], Any]]] = [
        ("sessions (first page)", lambda: store.list_sessions(ORG, SessionFilter(
            user_id=rnd.choice([None, rnd.choice(users)])))),
        ("sessions (next page)", lambda: store.list_sessions(ORG, SessionFilter(cursor=first.next_cursor))),
        ("session", lambda: store.get_session(ORG, rnd.choice(some))),
        ("session messages", lambda: store.session_messages(ORG, rnd.choice(some))),
        ("session gitlinks", lambda: store.session_git_links(ORG, rnd.choice(some))),
        ("users", lambda: store.users(ORG)),
        ("projects", lambda: store.projects(ORG)),
        ("agents", lambda: store.agents(ORG)),
        ("gitlinks?sha", lambda: store.lookup_git_links(ORG, sha=rnd.choice(shas)[:10])),
        ("analytics usage", lambda: store.usage(ORG, filters())),
        ("analytics heatmap", lambda: store.heatmap(ORG, filters())),
        ("analytics tools", lambda: store.tools(ORG, filters())),
        ("analytics daily", lambda: store.daily(ORG, filters())),
        ("analytics tokens-by-model", lambda: store.tokens_by_model(ORG, filters())),
        ("search", lambda: store.search(ORG, SearchQuery(q=next(terms)))),
        ("search (project + dates)", lambda: store.search(ORG, SearchQuery(
            q=next(terms), project_name=rnd.choice(projects), date_from=(today - timedelta(days=90)).isoformat()))),
    ]
    print(f"{'route':32s} {'p50 ms':>8s} {'p95 ms':>8s} {'cpu p50':>8s} {'cpu p95':>8s}")
    for name, fn in routes:
        p50, p95, c50, c95 = timed(fn, runs)
        print(f"{name:32s} {p50:8.1f} {p95:8.1f} {c50:8.1f} {c95:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 messages")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per route")
    args = parser.parse_args()
    n = 50_000 if args.quick else args.messages

    t = time.perf_counter()
    sessions, messages, calls, links = generate(n)
    print(f"generated {len(sessions):,} sessions, {len(messages):,} messages, {len(calls):,} tool calls, "
          f"{len(links):,} git links in {time.perf_counter() - t:.1f} s")

    workdir = tempfile.mkdtemp(prefix="bench-sessions-")
    try:
        conn = AnalyticsConnection(f"chdb://{workdir}?database=bench")
        store = ClickHouseAgentSessions(conn)
        store.ensure_schema()
        by_session: dict[str, list[Any]] = {}
        for item in itertools.chain(messages, calls, links):
            by_session.setdefault(item.session_id, []).append(item)
        batches: list[Batch] = []
        current = Batch()
        # Oldest first, as a client syncs its history (and as live traffic arrives): a batch touches one or two
        # monthly partitions rather than all of them.
        for sess in sorted(sessions, key=lambda x: x.started_at or datetime.min.replace(tzinfo=UTC)):
            current.add(sess, by_session.get(sess.id, []))
            if len(current.messages) >= BATCH_MESSAGES:
                batches.append(current)
                current = Batch()
        if current.sessions:
            batches.append(current)
        rows = len(sessions) + len(messages) + len(calls) + len(links)
        print(f"load average before inserting: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
        wall, cpu = time.perf_counter(), time.process_time()
        for b in batches:
            store.write_batch(ORG, b.sessions, b.messages, b.calls, b.links)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"inserted {rows:,} rows in {len(batches)} batches in {wall:.1f} s: {rows / wall:,.0f} rows/s "
              f"({len(messages) / wall:,.0f} messages/s; process CPU {cpu:.1f} s = {rows / cpu:,.0f} rows per CPU-s); "
              f"target >= {TARGET_ROWS_S:,}: {'PASS' if rows / wall >= TARGET_ROWS_S else 'FAIL'}")
        settle = time.perf_counter()
        merging = wait_for_merges(conn)
        print(f"background merges settled in {time.perf_counter() - settle:.1f} s"
              + ("" if not merging else f"; {merging} still running"))

        time_routes(store, args.runs)
        engine_ceiling(conn, rows, "rows", TARGET_ROWS_S)
        # What the n-gram indexes cost the engine (search relies on them to skip granules of text).
        engine_ceiling(conn, rows, "rows", TARGET_ROWS_S, without=("content_ngrams", "input_ngrams", "result_ngrams"))
        conn.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
