"""The HTTP contract of the chains function: chains, stages, approvals, metrics, evals, span links, env."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from core.chains.env import decode_resource_attributes
from core.events import APPROVAL_DECISION, APPROVAL_REQUESTED, METRICS_UPDATED
from functions import _bootstrap
from tests.payloads import trace_request

API = "/api/observatory"


def call(client: Any, method: str, path: str, body: Any = None, **headers: str) -> Any:
    data = None if body is None else json.dumps(body)
    return client.open(f"{API}{path}", method=method, data=data,
                       headers={"Content-Type": "application/json", **headers} if data else headers)


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, (r.status_code, r.get_json())
    return r.get_json()


def fails(r: Any, status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.get_json())
    message: str = r.get_json()["error"]
    assert all(w in message for w in words), message
    return message


def new_chain(client: Any, **body: Any) -> dict[str, Any]:
    return dict(ok(call(client, "POST", "/chains", {"source_type": "manual", **body}), 201))


def new_stage(client: Any, chain_id: str, agent: str = "coder", **body: Any) -> dict[str, Any]:
    return dict(ok(call(client, "POST", f"/chains/{chain_id}/stages", {"agent_id": agent, **body}), 201))


def ingest(client: Any, n: int, attrs: dict[str, Any]) -> Any:
    req = trace_request(n, attrs=attrs)
    r = client.post("/v1/traces", data=req.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200
    return req


# -- the life cycle --------------------------------------------------------------------------------------------

def test_full_life_cycle(client: Any) -> None:
    chain = new_chain(client, source_type="github_issue", source_ref="octo/repo#42", github_repo="octo/repo",
                      github_issue_number=42, workspace_id="ws-1", workspace_path="/src/repo")
    cid = chain["id"]
    assert len(cid) == 36 and chain["status"] == "active" and chain["current_stage"] == 0
    assert chain["created_at"] == chain["updated_at"] and chain["completed_at"] is None

    design = new_stage(client, cid, "design-doc-creator", provider="anthropic", task_id="task-1", message_id="msg-1")
    assert (design["stage_number"], design["status"], design["iteration"], design["chain_id"]) == (1, "pending", 1, cid)
    plan = new_stage(client, cid, "sprint-planner", handoff_to="sprint-executor")
    build = new_stage(client, cid, "sprint-executor")
    assert (plan["stage_number"], build["stage_number"]) == (2, 3)
    assert ok(call(client, "GET", f"/chains/{cid}?include_stages=false"))["current_stage"] == 3

    running = ok(call(client, "PUT", f"/stages/{design['id']}/status", {"status": "running"}))
    assert running["started_at"] is not None and running["completed_at"] is None
    added = ok(call(client, "POST", f"/stages/{design['id']}/metrics",
                    {"cost": 0.5, "tokens_in": 1000, "tokens_out": 200, "turns": 3, "tool_calls": 4,
                     "duration_ms": 60000}, **{"Idempotency-Key": "run-1"}))
    assert (added["cost"], added["tokens_in"], added["turns"], added["duration_ms"]) == (0.5, 1000, 3, 60000)
    asked = ok(call(client, "PUT", f"/stages/{design['id']}/approval",
                    {"approval_status": "pending", "approval_type": "merge"}))
    assert (asked["status"], asked["approval_status"], asked["approval_type"]) == ("awaiting_approval", "pending",
                                                                                   "merge")
    assert ok(call(client, "GET", f"/chains/{cid}"))["status"] == "pending_approval"
    pending = ok(call(client, "GET", "/approvals/pending"))
    assert pending["count"] == 1
    row = pending["approvals"][0]
    assert (row["chain_id"], row["source_type"], row["source_ref"], row["stage_id"], row["agent_id"], row["cost"],
            row["turns"], row["task_id"]) == (cid, "github_issue", "octo/repo#42", design["id"],
                                              "design-doc-creator", 0.5, 3, "task-1")
    assert row["stage_created"] == design["created_at"]

    approved = ok(call(client, "PUT", f"/stages/{design['id']}/approval",
                       {"approval_status": "approved", "human_feedback": "Ship it"}))
    assert (approved["status"], approved["approval_status"], approved["approval_type"],
            approved["human_feedback"]) == ("completed", "approved", "merge", "Ship it")
    assert approved["completed_at"] is not None
    after = ok(call(client, "GET", f"/chains/{cid}"))
    assert (after["status"], after["stages_completed"], after["total_cost"], after["total_tokens"],
            after["total_turns"]) == ("active", 1, 0.5, 1200, 3)
    assert ok(call(client, "GET", "/approvals/pending"))["approvals"] == []

    ok(call(client, "PUT", f"/stages/{plan['id']}/status", {"status": "running"}))
    ok(call(client, "PUT", f"/stages/{plan['id']}/approval", {"approval_status": "pending",
                                                              "approval_type": "handoff"}))
    rejected = ok(call(client, "PUT", f"/stages/{plan['id']}/approval",
                       {"approval_status": "rejected", "feedback": "Plan misses the migration " + "x" * 300}))
    assert (rejected["status"], rejected["approval_status"]) == ("failed", "rejected")
    assert rejected["human_feedback"].startswith("Plan misses")

    ok(call(client, "PUT", f"/stages/{build['id']}/status", {"status": "running"}))
    ok(call(client, "PUT", f"/stages/{build['id']}/session", {"session_id": "sess-build-1"}))
    failed = ok(call(client, "POST", f"/stages/{build['id']}/error",
                     {"error_message": "\n  compile error: x.go:3\nmore detail"}))
    assert (failed["status"], failed["error_count"], failed["session_id"]) == ("failed", 1, "sess-build-1")

    journey = ok(call(client, "GET", f"/chains/{cid}/journey"))
    assert journey["chain_id"] == cid
    steps = journey["steps"]
    assert [(s["stage_number"], s["agent_id"], s["action"], s["status"], s["approval_status"]) for s in steps] == [
        (1, "design-doc-creator", "Created design doc", "completed", "approved"),
        (2, "sprint-planner", "Planned sprint", "failed", "rejected"),
        (3, "sprint-executor", "Executed sprint", "failed", None),
    ]
    assert (steps[0]["cost"], steps[0]["duration_ms"], steps[0]["feedback"]) == (0.5, 60000, "Ship it")
    assert len(steps[1]["feedback"]) == 200 and steps[1]["feedback"].endswith("…")
    assert steps[2]["error_excerpt"] == "compile error: x.go:3"
    assert journey["summary"] == "Design doc approved -> Sprint rejected -> Sprint failed"

    done = ok(call(client, "PUT", f"/chains/{cid}/status", {"status": "completed"}))
    assert done["status"] == "completed" and done["completed_at"] is not None

    stats = ok(call(client, "GET", "/chains/stats"))
    assert (stats["total_chains"], stats["completed_chains"], stats["total_cost"], stats["total_tokens"],
            stats["average_stages_count"]) == (1, 1, 0.5, 1200, 3.0)
    counts = ok(call(client, "GET", "/chains/status-counts?since=2000-01-01T00:00:00Z"))
    assert (counts["total_chains"], counts["completed"], counts["active"]) == (1, 1, 0)
    assert ok(call(client, "GET", "/chains/status-counts?created_after=2200-01-01T00:00:00Z"))["total_chains"] == 0
    agents = ok(call(client, "GET", "/chains/stats/by-agent"))
    assert agents["count"] == 3
    assert {a["agent_id"]: (a["stages"], a["completed"], a["failed"]) for a in agents["agents"]} == {
        "design-doc-creator": (1, 1, 0), "sprint-planner": (1, 0, 1), "sprint-executor": (1, 0, 1)}

    listed = ok(call(client, "GET", "/chains"))
    assert listed["count"] == 1 and (listed["limit"], listed["offset"]) == (50, 0)
    summary = listed["chains"][0]
    assert (summary["stage_count"], summary["max_stage"], summary["agent_flow"]) == (
        3, 3, "design-doc-creator -> sprint-planner -> sprint-executor")
    assert ok(call(client, "GET", "/chains?agent_id=sprint-planner&status=completed"))["count"] == 1
    assert ok(call(client, "GET", "/chains?agent_id=nobody"))["count"] == 0

    store = _bootstrap.container().store
    kinds = [e.type for e in store.list_events("default", 0, 100, types=[
        APPROVAL_REQUESTED, APPROVAL_DECISION, METRICS_UPDATED])]
    assert kinds == [METRICS_UPDATED, APPROVAL_REQUESTED, APPROVAL_DECISION, APPROVAL_REQUESTED, APPROVAL_DECISION]

    r = call(client, "DELETE", f"/chains/{cid}")
    assert r.status_code == 204 and r.data == b""
    for path in (f"/chains/{cid}", f"/stages/{design['id']}", f"/chains/{cid}/journey"):
        fails(call(client, "GET", path), 404)
    fails(call(client, "DELETE", f"/chains/{cid}"), 404)


def test_get_by_prefix_and_read_options(client: Any) -> None:
    a = new_chain(client, id="chain-alpha-1")
    new_chain(client, id="chain-alpha-2")
    new_chain(client, id="chain-beta")
    s = new_stage(client, a["id"], session_id="ignored-field")
    assert s["session_id"] is None  # the session is linked with PUT /stages/{id}/session
    assert ok(call(client, "GET", "/chains/chain-b"))["id"] == "chain-beta"
    fails(call(client, "GET", "/chains/chain-alpha"), 400, "several")
    full = ok(call(client, "GET", "/chains/chain-alpha-1"))
    assert [st["id"] for st in full["stages"]] == [s["id"]] and full["stages"][0]["spans"] is None
    assert ok(call(client, "GET", "/chains/chain-alpha-1?include_stages=false"))["stages"] is None
    fails(call(client, "GET", "/chains/chain-gamma"), 404)
    fails(call(client, "GET", "/chains/chain-alpha-1?include_stages=maybe"), 400, "include_stages")
    # writes take exact ids only
    fails(call(client, "PUT", "/chains/chain-b/status", {"status": "failed"}), 404)

    ok(call(client, "PUT", f"/stages/{s['id']}/session", {"session_id": "sess-1"}))
    ingest(client, 2, {"session.id": "sess-1", "chain_id": a["id"], "stage_id": s["id"]})
    got = ok(call(client, "GET", "/chains/chain-alpha-1?include_spans=true&include_sessions=true"))
    [stage] = got["stages"]
    assert len(stage["spans"]) == 2 and all(sp["stage_id"] == s["id"] for sp in stage["spans"])
    assert "attributes" not in stage["spans"][0]
    assert stage["session"]["session_id"] == "sess-1"


def test_lookup(client: Any) -> None:
    gh = new_chain(client, source_type="github_issue", github_repo="o/r", github_issue_number=7)
    by_msg = new_chain(client, source_type="message", source_ref="msg-src")
    other = new_chain(client)
    new_stage(client, other["id"], task_id="task-9", message_id="msg-9")
    assert ok(call(client, "GET", "/chains/lookup?github_repo=o/r&github_issue_number=7"))["id"] == gh["id"]
    assert ok(call(client, "GET", "/chains/lookup?message_id=msg-src"))["id"] == by_msg["id"]
    found = ok(call(client, "GET", "/chains/lookup?task_id=task-9"))
    assert found["id"] == other["id"] and len(found["stages"]) == 1
    assert ok(call(client, "GET", "/chains/lookup?message_id=msg-9&include_stages=false"))["stages"] is None
    fails(call(client, "GET", "/chains/lookup?task_id=nope"), 404)
    fails(call(client, "GET", "/chains/lookup"), 400, "exactly one")
    fails(call(client, "GET", "/chains/lookup?task_id=a&message_id=b"), 400, "exactly one")
    fails(call(client, "GET", "/chains/lookup?github_repo=o/r"), 400, "github_issue_number")
    fails(call(client, "GET", "/chains/lookup?github_repo=o/r&github_issue_number=-1"), 400, "github_issue_number")


# -- invalid requests and transitions --------------------------------------------------------------------------

def test_invalid_transitions_answer_409_or_400_and_change_nothing(client: Any) -> None:
    cid = new_chain(client)["id"]
    sid = new_stage(client, cid)["id"]
    done = new_stage(client, cid)["id"]
    ok(call(client, "PUT", f"/stages/{done}/status", {"status": "completed"}))
    before = {p: ok(call(client, "GET", p)) for p in (f"/stages/{sid}", f"/stages/{done}", f"/chains/{cid}")}

    fails(call(client, "PUT", f"/stages/{done}/approval", {"approval_status": "approved"}), 409, "completed")
    fails(call(client, "PUT", f"/stages/{done}/approval", {"approval_status": "pending"}), 409, "completed")
    fails(call(client, "PUT", f"/stages/{sid}/approval", {"approval_status": "approved"}), 409,
          "not awaiting approval")
    fails(call(client, "PUT", f"/stages/{done}/status", {"status": "running"}), 409, "completed")
    fails(call(client, "POST", f"/stages/{done}/error", {"error_message": "late"}), 409, "completed")
    fails(call(client, "PUT", f"/stages/{sid}/status", {"status": "finished"}), 400, "status")
    fails(call(client, "PUT", f"/stages/{sid}/status", {"status": "awaiting_approval"}), 400, "approval")
    fails(call(client, "PUT", f"/stages/{sid}/approval", {"approval_status": "maybe"}), 400, "approval_status")
    fails(call(client, "PUT", f"/stages/{sid}/approval", {"approval_status": "pending",
                                                          "approval_type": "yolo"}), 400, "approval_type")
    fails(call(client, "PUT", f"/chains/{cid}/status", {"status": "archived"}), 400, "status")
    fails(call(client, "POST", "/chains", {"source_type": "email"}), 400, "source_type")
    fails(call(client, "POST", "/chains", {}), 400, "source_type")
    fails(call(client, "POST", f"/chains/{cid}/stages", {}), 400, "agent_id")
    fails(call(client, "POST", f"/chains/{cid}/stages", {"agent_id": "a", "chain_id": "other"}), 400, "chain_id")
    fails(call(client, "POST", f"/stages/{sid}/metrics", {"cost": -1}), 400, "cost")
    fails(call(client, "POST", f"/stages/{sid}/error", {"error_message": ""}), 400, "error_message")
    for p in (f"/stages/{sid}", f"/stages/{done}", f"/chains/{cid}"):
        assert ok(call(client, "GET", p)) == before[p], p

    ok(call(client, "PUT", f"/stages/{sid}/approval", {"approval_status": "pending"}))
    fails(call(client, "PUT", f"/stages/{sid}/status", {"status": "completed"}), 409, "awaits approval")

    ok(call(client, "PUT", f"/chains/{cid}/status", {"status": "failed"}))
    fails(call(client, "PUT", f"/chains/{cid}/status", {"status": "active"}), 409, "failed")
    assert ok(call(client, "PUT", f"/chains/{cid}/status", {"status": "failed"}))["status"] == "failed"
    fails(call(client, "POST", f"/chains/{cid}/stages", {"agent_id": "late"}), 409, "failed")

    dup = new_chain(client, id="dup-chain")["id"]
    fails(call(client, "POST", "/chains", {"source_type": "manual", "id": dup}), 409, "already exists")
    new_stage(client, dup, id="dup-stage")
    fails(call(client, "POST", f"/chains/{dup}/stages", {"agent_id": "a", "id": "dup-stage"}), 409,
          "already exists")


def test_unknown_chains_and_stages_are_404(client: Any) -> None:
    for method, path, body in (
        ("GET", "/chains/missing", None), ("DELETE", "/chains/missing", None),
        ("PUT", "/chains/missing/status", {"status": "completed"}), ("POST", "/chains/missing/metrics", {"cost": 1}),
        ("GET", "/chains/missing/journey", None), ("GET", "/chains/missing/env", None),
        ("POST", "/chains/missing/stages", {"agent_id": "a"}), ("GET", "/stages/missing", None),
        ("PUT", "/stages/missing/status", {"status": "running"}),
        ("PUT", "/stages/missing/session", {"session_id": "s"}),
        ("PUT", "/stages/missing/approval", {"approval_status": "pending"}),
        ("POST", "/stages/missing/metrics", {"cost": 1}), ("POST", "/stages/missing/error", {"error_message": "x"}),
        ("GET", "/stages/missing/spans", None), ("GET", "/stages/missing/eval-assessment", None),
        ("PUT", "/stages/missing/eval-assessment", {"benchmark_id": "b"}),
    ):
        fails(call(client, method, path, body), 404)


# -- idempotency keys -------------------------------------------------------------------------------------------

def test_idempotency_keys_apply_metrics_once(client: Any) -> None:
    cid = new_chain(client)["id"]
    sid = new_stage(client, cid)["id"]
    body = {"cost": 0.25, "tokens_in": 10, "tokens_out": 5, "turns": 1}
    first = ok(call(client, "POST", f"/stages/{sid}/metrics", body, **{"Idempotency-Key": "k-1"}))
    again = ok(call(client, "POST", f"/stages/{sid}/metrics", body, **{"Idempotency-Key": "k-1"}))
    assert first == again and first["tokens_in"] == 10
    fails(call(client, "POST", f"/stages/{sid}/metrics", {"cost": 1}, **{"Idempotency-Key": "k-1"}), 409,
          "Idempotency-Key")
    fails(call(client, "POST", f"/stages/{sid}/metrics", body, **{"Idempotency-Key": "k" * 201}), 400,
          "Idempotency-Key")
    ok(call(client, "POST", f"/stages/{sid}/metrics", body))  # without a key every POST applies
    keyless = ok(call(client, "POST", f"/stages/{sid}/metrics", body))
    assert (keyless["cost"], keyless["tokens_in"], keyless["turns"]) == (0.75, 30, 3)

    for _ in range(2):
        chain = ok(call(client, "POST", f"/chains/{cid}/metrics", {"cost": 1.0, "tokens": 100, "turns": 2},
                        **{"Idempotency-Key": "chain-k"}))
    assert (chain["total_cost"], chain["total_tokens"], chain["total_turns"]) == (1.75, 145, 5)

    for _ in range(2):
        errored = ok(call(client, "POST", f"/stages/{sid}/error", {"error_message": "boom"},
                          **{"Idempotency-Key": "err-1"}))
    assert errored["error_count"] == 1
    assert ok(call(client, "POST", f"/stages/{sid}/error", {"error_message": "boom"}))["error_count"] == 2
    store = _bootstrap.container().store
    assert len(store.list_events("default", 0, 100, types=[METRICS_UPDATED])) == 4


def test_concurrent_stage_creation_over_http(client: Any) -> None:
    cid = new_chain(client)["id"]
    app = client.application
    numbers: list[int] = []
    failures: list[Any] = []

    def work(t: int) -> None:
        own = app.test_client()
        for i in range(5):
            r = call(own, "POST", f"/chains/{cid}/stages", {"agent_id": f"agent-{t}-{i}"})
            if r.status_code == 201:
                numbers.append(r.get_json()["stage_number"])
            else:
                failures.append(r.get_json())

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert sorted(numbers) == list(range(1, 31))
    chain = ok(call(client, "GET", f"/chains/{cid}"))
    assert chain["current_stage"] == 30 and [s["stage_number"] for s in chain["stages"]] == list(range(1, 31))


# -- evals ------------------------------------------------------------------------------------------------------

def test_eval_assessments_and_queries(client: Any) -> None:
    suite = new_chain(client, source_type="eval_suite", source_ref="bench-2026-03")
    new_chain(client)
    cid = suite["id"]
    ids = []
    for spec in ({"benchmark_id": "fizzbuzz", "model": "claude-sonnet-4-5", "language": "python",
                  "stdout_ok": True},
                 {"benchmark_id": "fizzbuzz", "model": "gpt-5", "language": "python", "stdout_ok": False,
                  "condition": "no-repair"},
                 {"benchmark_id": "json-parse", "model": "claude-sonnet-4-5", "language": "go", "stdout_ok": True,
                  "eval_mode": "standard"}):
        sid = new_stage(client, cid, "eval-runner")["id"]
        ids.append(sid)
        empty = ok(call(client, "GET", f"/stages/{sid}/eval-assessment"))
        assert empty == {"stage_id": sid, "chain_id": cid, "eval_assessment": None}
        stored = ok(call(client, "PUT", f"/stages/{sid}/eval-assessment",
                         {"eval_mode": "agent", "seed": 7, "compile_ok": True, "verify_verified": 3,
                          "code": "print(1)", **spec}))
        assert stored["eval_assessment"]["seed"] == 7 and stored["eval_assessment"]["code"] == "print(1)"
        assert ok(call(client, "GET", f"/stages/{sid}/eval-assessment")) == stored
        assert ok(call(client, "GET", f"/stages/{sid}"))["eval_assessment"] == stored["eval_assessment"]

    def found(query: str) -> list[str]:
        return [s["id"] for s in ok(call(client, "GET", f"/evals{query}"))["stages"]]

    assert found("") == ids[::-1]
    assert found(f"?chain_id={cid}&model=claude-sonnet-4-5") == [ids[2], ids[0]]
    assert found("?language=go") == found("?eval_mode=standard") == found("?benchmark_id=json-parse") == [ids[2]]
    assert found("?condition=no-repair") == found("?failure_only=true") == [ids[1]]
    assert found("?success_only=true&limit=1") == [ids[2]]
    fails(call(client, "GET", "/evals?success_only=true&failure_only=true"), 400, "failure_only")
    fails(call(client, "PUT", f"/stages/{ids[0]}/eval-assessment", {"seed": "x"}), 400, "seed")
    evals = ok(call(client, "GET", "/chains/evals"))
    assert [c["id"] for c in evals["chains"]] == [cid] and evals["chains"][0]["stage_count"] == 3


# -- spans -------------------------------------------------------------------------------------------------------

def test_span_links_and_stage_span_pages(client: Any) -> None:
    cid = new_chain(client)["id"]
    sid = new_stage(client, cid)["id"]
    other_chain = new_chain(client)["id"]
    other_stage = new_stage(client, other_chain)["id"]
    linked_req = ingest(client, 3, {"chain_id": cid, "stage_id": sid, "input_tokens": 7})
    lone_req = ingest(client, 1, {})
    _bootstrap.container().bus.drain()  # the worker's pass indexes span ids

    page = ok(call(client, "GET", f"/stages/{sid}/spans?limit=2"))
    assert (page["total"], page["limit"], page["offset"], len(page["spans"])) == (3, 2, 0, 2)
    assert set(page["spans"][0]) == {"id", "trace_id", "parent_span_id", "chain_id", "stage_id", "name", "kind",
                                     "status", "status_message", "start_time", "end_time", "duration_ms",
                                     "tokens_in", "tokens_out", "cost_usd", "model", "provider"}
    rest = ok(call(client, "GET", f"/stages/{sid}/spans?offset=2"))
    assert len(rest["spans"]) == 1 and rest["total"] == 3
    assert {s["id"] for s in page["spans"] + rest["spans"]} == {
        s.span_id.hex() for s in linked_req.resource_spans[0].scope_spans[0].spans}

    span_id = lone_req.resource_spans[0].scope_spans[0].spans[0].span_id.hex()
    linked = ok(call(client, "POST", f"/spans/{span_id}/link", {"chain_id": cid, "stage_id": sid}))
    assert (linked["id"], linked["chain_id"], linked["stage_id"]) == (span_id, cid, sid)
    assert ok(call(client, "GET", f"/spans/{span_id}"))["stage_id"] == sid
    assert ok(call(client, "GET", f"/stages/{sid}/spans"))["total"] == 4
    fails(call(client, "POST", f"/spans/{span_id}/link", {"chain_id": cid, "stage_id": other_stage}), 400,
          "stage_id", other_chain)
    fails(call(client, "POST", "/spans/00000000deadbeef/link", {"chain_id": cid}), 404, "span")
    fails(call(client, "POST", f"/spans/{span_id}/link", {"chain_id": "nope"}), 404, "chain")
    fails(call(client, "POST", f"/spans/{span_id}/link", {"chain_id": cid, "stage_id": "nope"}), 404, "stage")
    fails(call(client, "POST", f"/spans/{span_id}/link", {}), 400, "chain_id")
    only_chain = ok(call(client, "POST", f"/spans/{span_id.upper()}/link", {"chain_id": other_chain}))
    assert (only_chain["chain_id"], only_chain["stage_id"]) == (other_chain, None)
    assert ok(call(client, "GET", f"/stages/{sid}/spans"))["total"] == 3


# -- the executor environment ------------------------------------------------------------------------------------

def test_env_carries_the_ids_percent_encoded(client: Any) -> None:
    cid = new_chain(client)["id"]
    sid = new_stage(client, cid, task_id="task=1+a", message_id="msg:1@b")["id"]
    other = new_stage(client, new_chain(client)["id"])["id"]
    env = ok(call(client, "GET", f"/chains/{cid}/env?stage_id={sid}"))
    assert (env["chain_id"], env["stage_id"], env["task_id"], env["message_id"]) == (cid, sid, "task=1+a", "msg:1@b")
    variables = env["env"]
    assert (variables["OBSERVATORY_CHAIN_ID"], variables["OBSERVATORY_STAGE_ID"], variables["OBSERVATORY_TASK_ID"],
            variables["OBSERVATORY_MESSAGE_ID"]) == (cid, sid, "task=1+a", "msg:1@b")
    raw = variables["OTEL_RESOURCE_ATTRIBUTES"]
    assert "task%3D1%2Ba" in raw and "msg%3A1%40b" in raw
    assert decode_resource_attributes(raw) == {"observatory.chain_id": cid, "observatory.stage_id": sid,
                                               "observatory.task_id": "task=1+a", "observatory.message_id": "msg:1@b"}
    given = ok(call(client, "GET", f"/chains/{cid[:8]}/env?stage_id={sid}&task_id=t2"))
    assert given["task_id"] == "t2" and given["chain_id"] == cid
    bare = ok(call(client, "GET", f"/chains/{cid}/env"))
    assert bare["env"] == {"OTEL_RESOURCE_ATTRIBUTES": f"observatory.chain_id={cid}", "OBSERVATORY_CHAIN_ID": cid}
    fails(call(client, "GET", f"/chains/{cid}/env?stage_id={other}"), 400, "stage_id")
    fails(call(client, "GET", f"/chains/{cid}/env?stage_id=nope"), 404, "stage")
    fails(call(client, "GET", f"/chains/{cid}/env?task_id=bad%20id"), 400, "task_id")


# -- org isolation -----------------------------------------------------------------------------------------------

@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBSERVATORY_API_KEYS", json.dumps({"keys": [
        {"key": "key-a", "org": "org-a", "scopes": ["ingest", "read", "write"]},
        {"key": "key-b", "org": "org-b", "scopes": ["ingest", "read", "write"]},
    ]}))


def test_another_org_neither_sees_nor_changes_chains(client: Any, keys: None) -> None:
    a, b = {"Authorization": "Bearer key-a"}, {"Authorization": "Bearer key-b"}
    cid = ok(call(client, "POST", "/chains", {"source_type": "message", "source_ref": "m-a"}, **a), 201)["id"]
    sid = ok(call(client, "POST", f"/chains/{cid}/stages", {"agent_id": "x", "task_id": "t-a"}, **a), 201)["id"]
    ok(call(client, "PUT", f"/stages/{sid}/approval", {"approval_status": "pending"}, **a))
    before = ok(call(client, "GET", f"/chains/{cid}", **a))
    for path in (f"/chains/{cid}", f"/chains/{cid[:6]}", f"/stages/{sid}", f"/chains/{cid}/journey",
                 f"/chains/{cid}/env", f"/stages/{sid}/spans", f"/stages/{sid}/eval-assessment",
                 "/chains/lookup?task_id=t-a", "/chains/lookup?message_id=m-a"):
        fails(call(client, "GET", path, **b), 404)
    for path, key in (("/chains", "chains"), ("/approvals/pending", "approvals"), ("/chains/evals", "chains"),
                      ("/evals", "stages"), ("/chains/stats/by-agent", "agents")):
        assert ok(call(client, "GET", path, **b))[key] == [], path
    assert ok(call(client, "GET", "/chains/stats", **b))["total_chains"] == 0
    for method, path, body in (
        ("PUT", f"/stages/{sid}/approval", {"approval_status": "approved"}),
        ("PUT", f"/stages/{sid}/status", {"status": "failed"}),
        ("POST", f"/stages/{sid}/metrics", {"cost": 5}), ("POST", f"/chains/{cid}/metrics", {"cost": 5}),
        ("POST", f"/chains/{cid}/stages", {"agent_id": "intruder"}), ("DELETE", f"/chains/{cid}", None),
        ("PUT", f"/chains/{cid}/status", {"status": "failed"}),
    ):
        fails(call(client, method, path, body, **b), 404)
    # org B may use the same ids for its own chains without touching org A's
    ok(call(client, "POST", "/chains", {"source_type": "manual", "id": cid}, **b), 201)
    assert ok(call(client, "GET", f"/chains/{cid}", **a)) == before
