"""The `hierarchy` function over HTTP: task hierarchies (and their session fallback), outliers (a hand-computed
example), span summaries, the typed span hierarchy, the exec hierarchy, the Claude Code event queue and
timestamp-correlated session turns."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from tests.payloads import kv, trace_request

API = "/api/observatory"
PB = {"Content-Type": "application/x-protobuf"}
BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
BASE_NS = int(BASE.timestamp()) * 10**9


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def at(seconds: float) -> str:
    return iso(BASE + timedelta(seconds=seconds))


def post(client: Any, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"{API}{path}", json=body)
    assert r.status_code == 201, (path, r.get_json())
    return dict(r.get_json())


def span(client: Any, span_id: str, start: float, dur: float = 1.0, **fields: Any) -> dict[str, Any]:
    body = {"id": span_id, "trace_id": fields.pop("trace_id", "trace-1"), "name": fields.pop("name", "step"),
            "start_time": at(start), "end_time": at(start + dur), "status": "ok"} | fields
    return post(client, "/spans", body)


def logs_at(session: str, events: list[tuple[float, dict[str, Any]]], service: str = "claude-code") -> bytes:
    """Claude Code log events at BASE + seconds (the exporter's exact timestamps)."""
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", service))
    sl = rl.scope_logs.add()
    for seconds, attrs in events:
        rec = LogRecord(time_unix_nano=BASE_NS + int(seconds * 1e9))
        for k, v in ({"session.id": session} | attrs).items():
            rec.attributes.append(kv(k, v))
        sl.log_records.append(rec)
    return req.SerializeToString()


def api_request(n: int, duration_ms: int = 500, cost: float = 0.01) -> dict[str, Any]:
    return {"event.name": "api_request", "model": "claude-sonnet-4-5", "input_tokens": 100 * n,
            "output_tokens": 10 * n, "cost_usd": cost, "request_id": f"req-{n}", "duration_ms": duration_ms}


def tool_result(name: str, tool_id: str, args: dict[str, Any], ok: bool = True) -> dict[str, Any]:
    return {"event.name": "tool_result", "tool_name": name, "tool_use_id": tool_id, "success": str(ok).lower(),
            "duration_ms": 100, "tool_parameters": json.dumps(args)}


def claude_session(client: Any, session: str = "sess-1") -> None:
    """Three turns at 1 s, 6 s and 10 s; Read and Bash ran after turn 1, Edit after turn 2."""
    body = logs_at(session, [
        (0.5, {"event.name": "user_prompt", "prompt": "Please fix the failing test"}),
        (1.0, api_request(1)),
        (3.0, tool_result("Read", "tu-read", {"file_path": "/src/app.py"})),
        (4.0, tool_result("Bash", "tu-bash", {"command": "pytest -q"}, ok=False)),
        (6.0, api_request(2)),
        (8.0, tool_result("Edit", "tu-edit", {"file_path": "/src/app.py"})),
        (10.0, api_request(3, cost=0.02)),
    ])
    assert client.post("/v1/logs", data=body, headers=PB).status_code == 200


# -- the Claude Code session hierarchy ----------------------------------------------------------------------------

def test_session_turns_group_tools_by_timestamp(client: Any) -> None:
    claude_session(client)
    got = client.get(f"{API}/claude-code/sessions/sess-1/hierarchy").get_json()
    turns = got["turns"]
    assert [t["turn_number"] for t in turns] == [1, 2, 3]
    assert [[x["tool_name"] for x in t["tools"]] for t in turns] == [["Read", "Bash"], ["Edit"], []]
    assert turns[0]["span_id"] == "req:req-1" and turns[0]["tokens_in"] == 100 and turns[0]["duration_ms"] == 500
    read, bash = turns[0]["tools"]
    assert (read["id"], read["name"], read["status"]) == ("tu-read", "Read: /src/app.py", "ok")
    assert (bash["name"], bash["status"], bash["duration_ms"]) == ("Bash: pytest -q", "error", 100)
    assert got["stats"] == {"total_turns": 3, "total_tools": 3, "total_cost": pytest.approx(0.04),
                            "total_tokens": 660, "duration_ms": 9500}
    session = got["session"]
    assert session["id"] == "sess-1" and session["name"] == "Claude Code session sess-1"
    assert session["model"] == "claude-sonnet-4-5" and session["tokens_out"] == 60
    assert client.get(f"{API}/claude-code/sessions/nope/hierarchy").status_code == 404


def test_parent_links_win_over_timestamps(client: Any) -> None:
    """A tool span whose parent is the first LLM request belongs to it although it ran after the second."""
    req = trace_request(3, service="claude-code", trace_id=bytes.fromhex("33" * 16), attrs={"session.id": "s-p"})
    first, second, tool = req.resource_spans[0].scope_spans[0].spans
    for s, name, start in ((first, "claude_code.llm_request", 1.0), (second, "claude_code.llm_request", 2.0),
                           (tool, "claude_code.tool", 3.0)):
        s.name = name
        s.start_time_unix_nano = BASE_NS + int(start * 1e9)
        s.end_time_unix_nano = s.start_time_unix_nano + 500_000_000
    first.attributes.extend([kv("model", "claude-haiku-4-5"), kv("input_tokens", 1), kv("output_tokens", 1)])
    second.attributes.extend([kv("model", "claude-haiku-4-5"), kv("input_tokens", 2), kv("output_tokens", 2)])
    tool.parent_span_id = first.span_id
    tool.attributes.extend([kv("tool_name", "Grep"), kv("tool_use_id", "tu-grep")])
    assert client.post("/v1/traces", data=req.SerializeToString(), headers=PB).status_code == 200
    turns = client.get(f"{API}/claude-code/sessions/s-p/hierarchy").get_json()["turns"]
    assert [t["span_id"] for t in turns] == [first.span_id.hex(), second.span_id.hex()]
    assert [[x["id"] for x in t["tools"]] for t in turns] == [["tu-grep"], []]


# -- task hierarchy ----------------------------------------------------------------------------------------------

def _task_with_spans(client: Any) -> None:
    post(client, "/tasks", {"id": "task-1", "title": "Ship it"})
    post(client, "/agents", {"id": "as-1", "task_id": "task-1", "agent_id": "planner", "provider": "claude"})
    post(client, "/agents", {"id": "as-2", "task_id": "task-1", "agent_id": "coder", "provider": "gemini"})
    common = {"task_id": "task-1"}
    span(client, "root-1", 0, 10, name="agent.run", agent_assignment_id="as-1", workspace="/repo", **common)
    span(client, "child-1", 1, 2, parent_span_id="root-1", name="chat", model="claude-sonnet-4-5",
         tokens_in=100, tokens_out=10, agent_assignment_id="as-1", **common)
    span(client, "grand-1", 1.5, 0.5, parent_span_id="child-1", name="claude_code.tool.Read",
         agent_assignment_id="as-1", status="error", **common)
    span(client, "root-2", 20, 5, trace_id="trace-2", name="agent.run", agent_assignment_id="as-2",
         workspace="/elsewhere", **common)
    span(client, "loose", 30, 1, trace_id="trace-3", name="note", **common)


def test_task_hierarchy_agents_traces_and_trees(client: Any) -> None:
    _task_with_spans(client)
    got = client.get(f"{API}/tasks/task-1/hierarchy").get_json()
    assert got["source"] == "task" and got["task"]["id"] == "task-1" and got["task"]["title"] == "Ship it"
    agents = got["agents"]
    assert [a["agent"]["agent_id"] if a["agent"] else None for a in agents] == ["planner", "coder", None]
    [trace] = agents[0]["traces"]
    assert trace["trace_id"] == "trace-1"
    root = trace["root_span"]
    assert root["span"]["id"] == "root-1" and [c["span"]["id"] for c in root["children"]] == ["child-1"]
    assert root["children"][0]["children"][0]["span"]["id"] == "grand-1"
    assert [n["span"]["id"] for n in trace["spans"]] == ["root-1", "child-1", "grand-1"]
    assert all(n["children"] == [] for n in trace["spans"])
    assert trace["summary"] == {"span_count": 3, "total_tokens": 110,
                                "total_cost_usd": pytest.approx(root["children"][0]["span"]["cost_usd"]),
                                "duration_ms": 10000, "error_count": 1}
    assert trace["spans"][2]["span"]["display_name"] == "Read"
    assert [t["trace_id"] for t in agents[2]["traces"]] == ["trace-3"]


def test_task_hierarchy_parameters(client: Any) -> None:
    _task_with_spans(client)
    shallow = client.get(f"{API}/tasks/task-1/hierarchy?depth=1").get_json()
    trace = shallow["agents"][0]["traces"][0]
    assert trace["root_span"]["children"] == [] and [n["span"]["id"] for n in trace["spans"]] == ["root-1"]
    assert trace["summary"]["span_count"] == 3
    two = client.get(f"{API}/tasks/task-1/hierarchy?depth=2").get_json()["agents"][0]["traces"][0]
    assert two["root_span"]["children"][0]["children"] == [] and len(two["spans"]) == 2
    bare = client.get(f"{API}/tasks/task-1/hierarchy?include_spans=false").get_json()
    trace = bare["agents"][0]["traces"][0]
    assert trace["root_span"] is None and trace["spans"] == [] and trace["summary"]["span_count"] == 3
    scoped = client.get(f"{API}/tasks/task-1/hierarchy?workspace=/repo").get_json()
    assert scoped["agents"][1]["traces"] == []  # trace-2 was recorded in /elsewhere
    assert [t["trace_id"] for t in scoped["agents"][2]["traces"]] == ["trace-3"]  # unknown workspace stays
    for query, name in (("depth=-1", "depth"), ("include_spans=perhaps", "include_spans"),
                        ("include_chat=2", "include_chat")):
        r = client.get(f"{API}/tasks/task-1/hierarchy?{query}")
        assert r.status_code == 400 and f"'{name}'" in r.get_json()["error"]


def test_task_hierarchy_adds_turns_its_sessions_logged(client: Any) -> None:
    """A task's session sent only log events: its turns join the hierarchy under the session's assignment."""
    post(client, "/tasks", {"id": "task-9", "title": "Logged"})
    post(client, "/agents", {"id": "as-9", "task_id": "task-9", "agent_id": "coder"})
    claude_session(client, "sess-9")
    span(client, "exec-9", 0, 20, name="claude.execute", session_id="sess-9", task_id="task-9",
         agent_assignment_id="as-9")
    got = client.get(f"{API}/tasks/task-9/hierarchy?include_chat=true").get_json()
    [agent] = got["agents"]
    assert agent["agent"]["id"] == "as-9"
    traces = agent["traces"]
    assert [t["trace_id"] for t in traces] == ["trace-1", "req:req-1", "req:req-2", "req:req-3"]
    turn1 = traces[1]["root_span"]
    assert turn1["span"]["name"] == "claude_code.api_request" and turn1["span"]["display_name"].startswith("Turn 1")
    assert [c["span"]["display_name"] for c in turn1["children"]] == ["Read: /src/app.py", "Bash: pytest -q"]
    assert turn1["span"]["chat_context"]["user_prompt"] == "Please fix the failing test"
    assert turn1["span"]["chat_context"]["turn_number"] == 1


def test_unknown_task_falls_back_to_the_session(client: Any) -> None:
    claude_session(client, "sess-fb")
    got = client.get(f"{API}/tasks/sess-fb/hierarchy").get_json()
    assert got["source"] == "session"
    task = got["task"]
    assert (task["id"], task["source_type"], task["span_count"]) == ("sess-fb", "claude_code", 6)
    assert task["description"] == "Please fix the failing test" and task["total_cost_usd"] == pytest.approx(0.04)
    [agent] = got["agents"]
    assert (agent["agent"]["agent_id"], agent["agent"]["turns"], agent["agent"]["tool_calls"]) == (
        "claude-code", 3, 3)
    roots = [t["root_span"] for t in agent["traces"]]
    assert [[c["span"]["name"] for c in r["children"]] for r in roots] == [
        ["claude_code.tool.Read", "claude_code.tool.Bash"], ["claude_code.tool.Edit"], []]
    assert roots[0]["children"][1]["span"]["status"] == "error"
    r = client.get(f"{API}/tasks/no-such-thing/hierarchy")
    assert r.status_code == 404 and "no-such-thing" in r.get_json()["error"]


# -- outliers ----------------------------------------------------------------------------------------------------

def _cost_task(client: Any) -> None:
    """Nine spans costing $10, one costing $100 and one free: by hand, over the ten non-zero costs,
    mean 19, sample variance (9 * 81 + 81^2) / 9 = 810, z(100) = 81 / sqrt(810) = 2.846, z(10) = -0.316."""
    post(client, "/tasks", {"id": "task-o", "title": "Costly"})
    for i in range(9):
        span(client, f"cheap-{i}", i, 1, task_id="task-o", cost_usd=10)
    span(client, "pricey", 9, 1, task_id="task-o", cost_usd=100)
    span(client, "free", 10, 1, task_id="task-o")


def test_outliers_match_the_hand_computed_example(client: Any) -> None:
    _cost_task(client)
    got = client.get(f"{API}/tasks/task-o/outliers?metric=cost&show_rate=true").get_json()
    assert (got["task_id"], got["task_title"], got["span_count"], got["threshold"]) == ("task-o", "Costly", 11, 2.0)
    [stats] = got["stats"]
    std = math.sqrt(810)
    assert stats == {"metric": "cost_usd", "count": 10, "sum": 190.0, "mean": 19.0,
                     "std_dev": pytest.approx(std), "min": 10.0, "max": 100.0}
    [outlier] = got["outliers"]
    assert outlier["span"]["id"] == "pricey" and outlier["metric"] == "cost_usd" and outlier["value"] == 100
    assert outlier["z_score"] == pytest.approx(81 / std) and outlier["percent_of_total"] == pytest.approx(
        100 / 190 * 100)
    rate = got["rate_of_change"]
    assert rate["cumulative_tokens"] == [] and rate["cumulative_duration"] == []
    cost = rate["cumulative_cost"]
    assert [p["cumulative"] for p in cost] == [10.0 * (i + 1) for i in range(9)] + [190.0, 190.0]
    assert cost[9]["span_index"] == 9 and cost[9]["delta_percent"] == pytest.approx(100 / 190 * 100)
    lowered = client.get(f"{API}/tasks/task-o/outliers?threshold=0.3&metric=cost&limit=3").get_json()
    assert [o["span"]["id"] for o in lowered["outliers"]] == ["pricey", "cheap-0", "cheap-1"]
    assert lowered["rate_of_change"] is None


def test_outliers_of_every_metric_skip_zero_spread(client: Any) -> None:
    _cost_task(client)
    got = client.get(f"{API}/tasks/task-o/outliers").get_json()
    assert [s["metric"] for s in got["stats"]] == ["cost_usd", "duration_ms", "tokens"]
    duration, tokens = got["stats"][1], got["stats"][2]
    assert (duration["count"], duration["std_dev"]) == (11, 0.0) and tokens["count"] == 0
    assert [o["metric"] for o in got["outliers"]] == ["cost_usd"]
    for query, name in (("metric=bogus", "metric"), ("threshold=0", "threshold"), ("threshold=x", "threshold"),
                        ("limit=0", "limit"), ("show_rate=sometimes", "show_rate")):
        r = client.get(f"{API}/tasks/task-o/outliers?{query}")
        assert r.status_code == 400 and f"'{name}'" in r.get_json()["error"], query
    assert client.get(f"{API}/tasks/task-o/outliers?metric=").status_code == 200
    assert client.get(f"{API}/tasks/nope/outliers").status_code == 404
    session = client.get(f"{API}/tasks/sess-x/outliers")
    assert session.status_code == 404
    claude_session(client, "sess-x")
    assert client.get(f"{API}/tasks/sess-x/outliers").get_json()["span_count"] == 6


# -- span summary ------------------------------------------------------------------------------------------------

def test_span_summary_of_a_task_an_empty_task_and_a_session(client: Any) -> None:
    _cost_task(client)
    got = client.get(f"{API}/tasks/task-o/span-summary").get_json()
    assert (got["span_count"], got["trace_count"], got["cost_usd"], got["duration_ms"]) == (11, 1, 190.0, 11000)
    assert got["start_time"].startswith(at(0)[:19]) and got["end_time"].startswith(at(11)[:19])
    assert got["top_span_names"] == [{"name": "step", "count": 11}]
    post(client, "/tasks", {"id": "task-empty", "title": "Nothing yet"})
    empty = client.get(f"{API}/tasks/task-empty/span-summary").get_json()
    assert (empty["span_count"], empty["start_time"], empty["top_span_names"]) == (0, None, [])
    claude_session(client, "sess-s")
    session = client.get(f"{API}/tasks/sess-s/span-summary").get_json()
    assert (session["span_count"], session["tokens_in"], session["tokens_out"]) == (6, 600, 60)
    assert session["top_span_names"][0] == {"name": "claude_code.api_request", "count": 3}
    assert client.get(f"{API}/tasks/nothing/span-summary").status_code == 404


# -- span hierarchy ----------------------------------------------------------------------------------------------

def test_span_hierarchy_types_nodes_and_counts_turns(client: Any) -> None:
    span(client, "coord", 0, 30, trace_id="t-h", name="coordinator.dispatch", session_id="s-h")
    span(client, "exec", 1, 20, trace_id="t-h", parent_span_id="coord", name="claude.execute", session_id="s-h")
    span(client, "turn", 2, 3, trace_id="t-h", parent_span_id="exec", name="claude_code.llm_request",
         model="claude-sonnet-4-5", tokens_in=50, tokens_out=5, cache_read_tokens=1000, session_id="s-h")
    span(client, "tool", 3, 1, trace_id="t-h", parent_span_id="turn", name="claude_code.tool.Bash", session_id="s-h")
    span(client, "misc", 40, 1, trace_id="t-o", name="housekeeping")
    got = client.get(f"{API}/hierarchy/spans").get_json()
    assert [r["id"] for r in got["roots"]] == ["misc", "coord"]
    coord = got["roots"][1]
    chain = [coord, coord["children"][0], coord["children"][0]["children"][0],
             coord["children"][0]["children"][0]["children"][0]]
    assert [(n["node_type"], n["depth"]) for n in chain] == [
        ("coordinator", 0), ("executor", 1), ("turn", 2), ("tool", 3)]
    assert chain[2]["turn_number"] == 1 and chain[3]["tool_name"] == "Bash"
    assert got["roots"][0]["node_type"] == "other"
    assert got["sessions"] == {"s-h": 0}  # no LLM-call record: the span was posted, not an LLM call
    stats = got["stats"]
    assert (stats["total_spans"], stats["max_depth"]) == (5, 3)
    assert stats["total_tokens"] == {"in": 50, "out": 5, "cache_read": 1000, "cache_creation": 0}
    assert stats["cache_savings_usd"] > 0 and stats["time_range"]["start"].startswith(at(0)[:19])
    assert client.get(f"{API}/hierarchy/spans?limit=1").get_json()["stats"]["total_spans"] == 1
    assert client.get(f"{API}/hierarchy/spans?limit=zero").status_code == 400


def test_span_hierarchy_of_a_logged_session_shows_its_turns(client: Any) -> None:
    claude_session(client, "sess-h")
    got = client.get(f"{API}/hierarchy/spans?session_id=sess-h").get_json()
    assert got["sessions"] == {"sess-h": 3}
    turns = sorted(got["roots"], key=lambda n: n["start_time"])
    assert [n["node_type"] for n in turns] == ["turn", "turn", "turn"]
    assert [n["turn_number"] for n in turns] == [1, 2, 3]
    assert [[c["tool_name"] for c in n["children"]] for n in turns] == [["Read", "Bash"], ["Edit"], []]


# -- exec hierarchy ----------------------------------------------------------------------------------------------

def test_exec_hierarchy_groups_execs_by_message_with_session_turns(client: Any) -> None:
    message = post(client, "/messages", {"id": "msg-1", "inbox": "coder", "from_agent": "planner",
                                         "title": "Please implement", "message_type": "task"})
    claude_session(client, "sess-e")
    span(client, "exec-parent", 0, 30, trace_id="t-e", name="ailang.exec", task_id="task-e", message_id="msg-1",
         session_id="sess-e", provider="claude", attributes={"task.workspace": "/repo"})
    span(client, "exec-child", 12, 5, trace_id="t-e2", name="ailang.check", task_id="task-e2",
         attributes={"exec.parent_task_id": "task-e", "file_path": "main.ail"})
    span(client, "exec-orphan", 40, 1, trace_id="t-e3", name="ailang.run", task_id="task-run")
    got = client.get(f"{API}/hierarchy/exec").get_json()
    assert got["count"] == 3
    [group] = got["messages"]
    assert (group["message_id"], group["title"], group["from_agent"], group["to_inbox"]) == (
        message["id"], "Please implement", "planner", "coder")
    [parent] = group["execs"]
    assert (parent["task_id"], parent["command"], parent["workspace"], parent["provider"]) == (
        "task-e", "exec", "/repo", "claude")
    turns = [c for c in parent["children"] if c["command"] == "turn"]
    assert [t["turn_number"] for t in turns] == [1, 2, 3]
    assert [x["tool_name"] for x in turns[0]["children"]] == ["Read", "Bash"]
    assert turns[0]["children"][0]["tool_input"] == json.dumps({"file_path": "/src/app.py"})
    [child] = [c for c in parent["children"] if c["command"] == "check"]
    assert (child["task_id"], child["parent_task_id"], child["file_path"]) == ("task-e2", "task-e", "main.ail")
    assert [o["task_id"] for o in got["orphan"]] == ["task-run"]
    assert client.get(f"{API}/hierarchy/exec?limit=1").get_json()["count"] == 1


# -- the Claude Code event queue ---------------------------------------------------------------------------------

def _linked_session(client: Any, session: str) -> None:
    """A coordinator-spawned session: its execute span links it to a task and an assignment."""
    post(client, "/tasks", {"id": "task-c", "title": "Coordinated"})
    post(client, "/agents", {"id": "as-c", "task_id": "task-c", "agent_id": "design-doc-creator"})
    req = trace_request(1, service="claude-code", attrs={"session.id": session, "task.id": "task-c",
                                                         "assignment_id": "as-c"})
    req.resource_spans[0].resource.attributes.append(kv("process.cwd", "/x/worktrees/t"))
    req.resource_spans[0].scope_spans[0].spans[0].name = "claude.execute"
    assert client.post("/v1/traces", data=req.SerializeToString(), headers=PB).status_code == 200
    body = logs_at(session, [(20.0, api_request(7, cost=1.5))])
    assert client.post("/v1/logs", data=body, headers=PB).status_code == 200


def test_claude_code_events_one_item_per_session(client: Any) -> None:
    claude_session(client, "sess-user")
    _linked_session(client, "sess-coord")
    got = client.get(f"{API}/claude-code/events").get_json()
    assert (got["count"], got["limit"], got["offset"]) == (2, 50, 0)
    by_id = {e["id"]: e for e in got["events"]}
    user = by_id["sess-user"]
    assert (user["from_agent"], user["to_inbox"], user["task_id"], user["status"]) == (
        "claude-code", "user", "sess-user", "read")
    assert user["message_type"] == "claude_code_turn" and user["title"] == "Claude Code Session ($0.04)"
    assert (user["turn_count"], user["tokens_in"], user["tokens_out"]) == (3, 600, 60)
    assert user["directive"] == "Please fix the failing test" and user["model"] == "claude-sonnet-4-5"
    assert user["metrics_summary"] == f"3 turns • $0.04 • {user['duration_ms'] / 1000:.1f}s"
    assert datetime.fromisoformat(user["created_at"].replace("Z", "+00:00")) <= BASE + timedelta(seconds=1)
    coord = by_id["sess-coord"]
    assert (coord["from_agent"], coord["to_inbox"], coord["cost_usd"]) == (
        "design-doc-creator", "design-doc-creator", 1.5)
    ids = lambda q: [e["id"] for e in client.get(f"{API}/claude-code/events?{q}").get_json()["events"]]  # noqa: E731
    assert ids("source_type=coordinator") == ["sess-coord"]
    assert ids("source_type=user_session") == ["sess-user"]
    assert ids("source_type=") == ids("")
    assert ids("workspace=coordinator_worktrees") == ["sess-coord"]
    assert ids("workspace=unknown") == ["sess-user"]
    assert len(ids("limit=1")) == 1
    r = client.get(f"{API}/claude-code/events?source_type=robots")
    assert r.status_code == 400 and "'source_type'" in r.get_json()["error"]


def test_hierarchy_reads_stay_inside_the_org(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "a", "org": "org-a"}, {"key": "b", "org": "org-b"}]}))
    a, b = {"Authorization": "Bearer a"}, {"Authorization": "Bearer b"}
    body = logs_at("sess-a", [(1.0, api_request(1)), (2.0, tool_result("Read", "tu-a", {}))])
    assert client.post("/v1/logs", data=body, headers=PB | a).status_code == 200
    assert client.post(f"{API}/tasks", json={"id": "task-a", "title": "A"}, headers=a).status_code == 201
    for path in ("/tasks/sess-a/hierarchy", "/tasks/task-a/hierarchy", "/tasks/sess-a/outliers",
                 "/tasks/sess-a/span-summary", "/claude-code/sessions/sess-a/hierarchy"):
        assert client.get(f"{API}{path}", headers=b).status_code == 404, path
        assert client.get(f"{API}{path}", headers=a).status_code == 200, path
    assert client.get(f"{API}/claude-code/events", headers=b).get_json()["events"] == []
    assert client.get(f"{API}/hierarchy/spans?session_id=sess-a", headers=b).get_json()["roots"] == []
    assert client.get(f"{API}/hierarchy/exec", headers=b).get_json()["count"] == 0
