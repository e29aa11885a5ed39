"""Agent-session rows from normalised OTLP batches: the dialect fixtures (tests/fixtures/dialects) through the real
normaliser, plus requests derived from them that log response text."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.agent_sessions.from_telemetry import merge_session, message_ordinal, sessions_from_batch
from core.agent_sessions.gitlinks import extract_git_links
from core.agent_sessions.models import AgentSession
from core.ingest import IngestService
from core.otlp.codec import decode_request
from core.pricing import PriceTable
from core.records import Batch, EventRecord, SessionRecord, ToolCallRecord
from core.span_filter import SpanFilter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dialects"
CLAUDE_SESSION = "5f0c1e2a-7d7b-4c1e-9a55-3f2b8c0d1e9a"
GEMINI_SESSION = "b1e7c3d0-4a5f-4e8b-9c2d-7f6a5e4d3c2b"
_SERVICE = IngestService(store=None, prices=PriceTable.load(), span_filter=SpanFilter.from_env({}))  # type: ignore[arg-type]


def fixture(name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads((FIXTURES / f"{name}.request.json").read_text())
    return value


def normalise(request: dict[str, Any]) -> Batch:
    signal, message = decode_request(None, json.dumps(request).encode(), "json")
    return _SERVICE.normalise("org-test", signal, message)


def attr(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def records(request: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = request["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    return out


def test_claude_code_logs() -> None:
    rows = sessions_from_batch(normalise(fixture("claude_code_logs")))
    (session,) = rows.sessions
    assert (session.id, session.agent_type, session.user_id) == (CLAUDE_SESSION, "claude-code", "dev@example.com")
    assert session.started_at == datetime(2025, 10, 14, 9, 30, 1, tzinfo=UTC)
    assert session.ended_at == datetime(2025, 10, 14, 9, 30, 11, tzinfo=UTC)
    # Two api_request events: 610 + 95 output tokens; the peak context is the first call's 1520 + 24000 + 1800.
    assert (session.total_output_tokens, session.peak_context_tokens) == (705, 27320)
    # The prompt was logged (and masked at ingest); the record without a timestamp was rejected.
    (prompt,) = rows.messages
    assert prompt.role == "user" and prompt.session_id == CLAUDE_SESSION
    assert prompt.content == "why does export ANTHROPIC_API_KEY=[REDACTED:anthropic_key] fail?"
    assert prompt.ordinal == 1760434201 and prompt.timestamp == datetime(2025, 10, 14, 9, 30, 1, tzinfo=UTC)
    assert prompt.uuid.startswith("evt:") and len(prompt.uuid) == 44
    assert (session.first_message, session.message_count, session.user_message_count) == (prompt.content, 1, 1)
    calls = {t.tool_use_id: t for t in rows.tool_calls}
    bash = calls["toolu_01AbCdEfGhJkLmNoPqRsTuVw"]  # a decision event and a result event, merged
    assert (bash.tool_name, bash.tool_category, bash.success, bash.message_ordinal) == ("Bash", "Bash", True,
                                                                                        1760434207)
    assert json.loads(bash.input_json)["full_command"] == "pytest -q tests/unit"
    failed = calls["toolu_01ZyXwVuTsRqPoNmLkJhGfEd"]
    assert (failed.success, failed.result_content) == (False, "File does not exist.")


def test_prompt_not_logged_still_makes_a_turn() -> None:
    request = fixture("claude_code_logs")
    for record in records(request):
        record["attributes"] = [a for a in record["attributes"] if a["key"] != "prompt"]
    rows = sessions_from_batch(normalise(request))
    (prompt,) = rows.messages
    assert (prompt.role, prompt.content) == ("user", "")
    (session,) = rows.sessions
    assert (session.user_message_count, session.first_message) == (1, "")


def test_claude_code_spans() -> None:
    rows = sessions_from_batch(normalise(fixture("claude_code_spans")))
    (session,) = rows.sessions
    assert session.agent_type == "claude-code" and session.total_output_tokens == 610
    assert rows.messages == []  # spans carry no prompt or response text
    calls = {t.tool_use_id: t for t in rows.tool_calls}
    bash = calls["toolu_01AbCdEfGhJkLmNoPqRsTuVw"]  # the tool span and its blocked-on-user span, merged
    assert bash.input_json == '{"command":"pytest -q tests/unit"}'
    assert bash.message_ordinal == message_ordinal(1760434205000000000 + 4500 * 1_000_000)  # the span's end
    (read,) = [t for t in rows.tool_calls if t.tool_name == "Read"]
    assert (read.success, read.result_content) == (False, "File does not exist.")


def test_gemini_cli_logs() -> None:
    rows = sessions_from_batch(normalise(fixture("gemini_cli_logs")))
    (session,) = rows.sessions
    assert (session.id, session.agent_type, session.user_id) == (GEMINI_SESSION, "gemini-cli", "dev@example.com")
    assert session.first_message == "refactor the config loader"
    # Output counts thoughts (450 + 300, then 120); context is Gemini's input count, cache included.
    assert (session.total_output_tokens, session.peak_context_tokens) == (870, 12000)
    assert [m.role for m in rows.messages] == ["user"]  # the fixture logs no response text
    (tool,) = rows.tool_calls
    assert (tool.tool_name, tool.tool_category, tool.success) == ("read_file", "Read", True)
    assert tool.tool_use_id.startswith("evt:") and json.loads(tool.input_json) == {
        "absolute_path": "/home/dev/app/config.py"}


def _gemini_with_response_text() -> dict[str, Any]:
    request = fixture("gemini_cli_logs")
    response = next(r for r in records(request)
                    if any(a["value"].get("stringValue") == "gemini_cli.api_response" for a in r["attributes"]))
    chunks = [
        {"candidates": [{"content": {"role": "model", "parts": [
            {"text": "The loader reads the file twice.", "thought": True}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "I'll cache the parsed "}]}}]},
        {"candidates": [{"content": {"role": "model", "parts": [
            {"text": "config (token=ghp_0123456789abcdefghijABCDEFGHIJ012345)."},
            {"functionCall": {"name": "replace", "args": {"file_path": "config.py"}}}]}}],
         "usageMetadata": {"promptTokenCount": 12000}},
    ]
    response["attributes"].append(attr("response_text", json.dumps(chunks)))
    # Gemini CLI also sends the semconv details event for the same response: it must not double the message.
    details = copy.deepcopy(response)
    details["attributes"] = [a for a in details["attributes"] if a["key"] not in ("event.name", "response_text")]
    details["attributes"] += [attr("event.name", "gen_ai.client.inference.operation.details"),
                              attr("gen_ai.output.messages", json.dumps(
                                  [{"role": "assistant", "parts": [{"type": "text", "content": "dup"}]}]))]
    details["body"] = {"stringValue": "GenAI operation details from gemini-2.5-pro."}
    records(request).append(details)
    return request


def test_gemini_response_text_becomes_an_assistant_message() -> None:
    rows = sessions_from_batch(normalise(_gemini_with_response_text()))
    assert [m.role for m in rows.messages] == ["user", "assistant"]
    answer = rows.messages[1]
    assert answer.content == ("[Thinking]\nThe loader reads the file twice.\n"
                              "I'll cache the parsed config (token=[REDACTED:github_token]).\n[replace]")
    assert answer.has_thinking and answer.has_tool_use and answer.model == "gemini-2.5-pro"
    assert (answer.output_tokens, answer.context_tokens) == (750, 12000)
    assert json.loads(answer.token_usage)["cached_content_token_count"] == 8000
    assert answer.ordinal == 1760434206 and answer.uuid != rows.messages[0].uuid
    (session,) = rows.sessions
    assert (session.message_count, session.user_message_count) == (2, 1)


def test_plain_response_text_and_semconv_details_of_other_producers() -> None:
    request = fixture("gemini_cli_logs")
    plain = next(r for r in records(request)
                 if any(a["value"].get("stringValue") == "gemini_cli.api_response" for a in r["attributes"]))
    plain["attributes"].append(attr("response_text", "Done: the loader now caches."))
    other = {"resource": {"attributes": [attr("service.name", "review-bot")]}, "scopeLogs": [{"logRecords": [{
        "timeUnixNano": "1760434300000000000",
        "eventName": "gen_ai.client.inference.operation.details",
        "attributes": [attr("session.id", "bot-session-1"), attr("gen_ai.response.model", "gpt-5"),
                       {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "42"}},
                       attr("gen_ai.output.messages", json.dumps([{"role": "assistant", "parts": [
                           {"type": "reasoning", "content": "check tests"},
                           {"type": "text", "content": "Looks good."},
                           {"type": "tool_call", "name": "approve", "arguments": {}}]}]))]}]}]}
    request["resourceLogs"].append(other)
    rows = sessions_from_batch(normalise(request))
    by_session = {m.session_id: m for m in rows.messages if m.role == "assistant"}
    assert by_session[GEMINI_SESSION].content == "Done: the loader now caches."
    bot = by_session["bot-session-1"]
    assert bot.content == "[Thinking]\ncheck tests\nLooks good.\n[approve]"
    assert (bot.model, bot.output_tokens, bot.has_thinking, bot.has_tool_use) == ("gpt-5", 42, True, True)
    agent_types = {s.id: s.agent_type for s in rows.sessions}
    assert agent_types == {GEMINI_SESSION: "gemini-cli", "bot-session-1": ""}


def test_gemini_cli_spans() -> None:
    rows = sessions_from_batch(normalise(fixture("gemini_cli_spans")))
    (session,) = rows.sessions
    assert session.agent_type == "gemini-cli" and session.total_output_tokens == 450
    (tool,) = rows.tool_calls
    assert (tool.tool_use_id, tool.tool_name) == ("read_file-1760434206488-3f2a", "read_file")


def test_semconv_tool_call_is_masked() -> None:
    rows = sessions_from_batch(normalise(fixture("genai_semconv_new")))
    (tool,) = rows.tool_calls
    assert "[REDACTED:openai_key]" in tool.input_json and tool.result_content == "applied 1 hunk"
    (session,) = rows.sessions
    assert session.agent_type == "" and session.total_output_tokens == 800


def test_replay_makes_the_same_rows() -> None:
    for name in ("claude_code_logs", "claude_code_spans", "gemini_cli_logs", "gemini_cli_spans"):
        first = sessions_from_batch(normalise(fixture(name)))
        again = sessions_from_batch(normalise(fixture(name)))
        assert first == again, name
    rows = sessions_from_batch(normalise(_gemini_with_response_text()))
    keys = [(m.session_id, m.key) for m in rows.messages]
    assert len(set(keys)) == len(keys)


def test_git_links_from_otlp_tool_calls() -> None:
    request = fixture("claude_code_logs")
    for record in records(request):
        for a in record["attributes"]:
            if a["key"] == "tool_parameters":
                a["value"]["stringValue"] = json.dumps({"bash_command": "git", "full_command": "git show 9f8e7d6"})
    rows = sessions_from_batch(normalise(request))
    links = extract_git_links(CLAUDE_SESSION, "dev@example.com", rows.tool_calls)
    assert [(g.commit_sha, g.confidence, g.message_ordinal) for g in links] == [("9f8e7d6", "medium", 1760434207)]


def test_message_ordinal_is_unix_seconds_within_uint32() -> None:
    assert message_ordinal(1760434201999999999) == 1760434201
    assert message_ordinal(-5) == 0 and message_ordinal(2**33 * 10**9) == 2**32 - 1


def test_merge_session_is_idempotent() -> None:
    logs = sessions_from_batch(normalise(fixture("claude_code_logs"))).sessions[0]
    spans = sessions_from_batch(normalise(fixture("claude_code_spans"))).sessions[0]
    merged = merge_session(logs, spans)
    assert merged.started_at == datetime(2025, 10, 14, 9, 30, tzinfo=UTC)  # the spans started earlier
    assert merged.ended_at == datetime(2025, 10, 14, 9, 30, 30, tzinfo=UTC)
    assert merged.user_id == "dev@example.com"  # the stored identity stays
    assert merged.first_message == logs.first_message and merged.peak_context_tokens == 27320
    assert merge_session(merged, spans) == merged and merge_session(merged, logs) == merged
    assert merge_session(None, spans) == spans
    empty = AgentSession(id=CLAUDE_SESSION)
    assert merge_session(empty, logs).first_message == logs.first_message


def test_claude_code_messages_take_their_message_uuid_and_responses_are_messages() -> None:
    request = fixture("claude_code_logs")
    logs = records(request)
    prompt = next(r for r in logs if any(a["key"] == "event.name" and "user_prompt" in a["value"]["stringValue"]
                                         for a in r["attributes"]))
    prompt["attributes"].append(attr("message.uuid", "6c1f0c3e-prompt-uuid"))
    response = copy.deepcopy(prompt)
    response["timeUnixNano"] = str(int(prompt["timeUnixNano"]) + 2_000_000_000)
    response["body"] = {"stringValue": "claude_code.assistant_response"}
    response["attributes"] = [a for a in response["attributes"]
                              if a["key"] not in ("event.name", "prompt", "prompt_length", "message.uuid")]
    response["attributes"] += [attr("event.name", "assistant_response"), attr("model", "claude-sonnet-4-5"),
                               attr("response", "Use token=ghp_0123456789abcdefghijklmnopqrstuvwxyzAB here."),
                               attr("message.uuid", "9d2e-response-uuid")]
    redacted = copy.deepcopy(response)
    redacted["timeUnixNano"] = str(int(response["timeUnixNano"]) + 1_000_000_000)
    redacted["attributes"] = [a for a in redacted["attributes"] if a["key"] not in ("response", "message.uuid")]
    redacted["attributes"].append(attr("response", "<REDACTED>"))
    logs += [response, redacted]
    rows = sessions_from_batch(normalise(request))
    by_role: dict[str, list[Any]] = {}
    for m in rows.messages:
        by_role.setdefault(m.role, []).append(m)
    assert [m.uuid for m in by_role["user"]] == ["6c1f0c3e-prompt-uuid"]
    answer, unlogged = sorted(by_role["assistant"], key=lambda m: m.timestamp)
    assert (answer.uuid, answer.model) == ("9d2e-response-uuid", "claude-sonnet-4-5")
    assert answer.content == "Use token=[REDACTED:github_token] here."
    assert unlogged.content == "" and unlogged.uuid.startswith("evt:")  # the turn counts, its text was not logged
    (session,) = rows.sessions
    assert (session.message_count, session.user_message_count) == (3, 1)


def test_ids_longer_than_the_agent_session_limit_get_no_row_and_fail_nothing() -> None:
    long_sid, long_tool = "s" * 300, "toolu_" + "x" * 300
    batch = Batch("org-test", sessions={"ok": SessionRecord("ok", 10**18, 10**18 + 1),
                                        long_sid: SessionRecord(long_sid, 10**18, 10**18 + 1)},
                  tool_calls=[ToolCallRecord("toolu_ok", "ok", tool_name="Bash", time_ns=10**18),
                              ToolCallRecord(long_tool, "ok", tool_name="Bash", time_ns=10**18),
                              ToolCallRecord("toolu_2", long_sid, tool_name="Read", time_ns=10**18)],
                  events=[EventRecord("e1", "claude_code.user_prompt", "claude_code", 10**18, long_sid, None, None,
                                      None, None, None, '{"prompt":"hi"}', "{}")])
    rows = sessions_from_batch(batch)
    assert [s.id for s in rows.sessions] == ["ok"]
    assert [(t.session_id, t.tool_use_id) for t in rows.tool_calls] == [("ok", "toolu_ok")]
    assert rows.messages == [] and rows.skipped == 4
