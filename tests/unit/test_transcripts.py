"""Claude Code transcripts (tests/fixtures/transcripts) into sessions, messages and tool calls, incrementally."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.agent_sessions.gitlinks import extract_git_links
from core.agent_sessions.transcripts import Identity, Project, parse_transcript, parse_transcript_bytes, tool_category

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "transcripts"
MAIN_ID = "4b1c9d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
MAIN = FIXTURES / "-home-dev-shop" / f"{MAIN_ID}.jsonl"
SUBAGENT = FIXTURES / "-home-dev-shop" / MAIN_ID / "subagents" / "agent-a1b2c3d4.jsonl"
GERMAN = FIXTURES / "-home-dev-blog" / "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b.jsonl"
SUMMARY_ONLY = FIXTURES / "-home-dev-blog" / "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f.jsonl"
ME = Identity(user_id="dev@example.com", user_name="Dev Eloper", machine="dev-laptop")


def lines_of(path: Path) -> list[dict[str, object]]:
    """The fixture's lines that parse, by line index (the ordinal the parser must give them)."""
    out: list[dict[str, object]] = []
    for raw in path.read_text(encoding="utf-8").split("\n"):
        try:
            value = json.loads(raw)
        except ValueError:
            value = None
        out.append(value if isinstance(value, dict) else {})
    return out


def test_main_session_row() -> None:
    parsed = parse_transcript(MAIN, identity=ME)
    s = parsed.session
    assert s is not None
    assert (s.id, s.agent_type, s.user_id, s.user_name, s.machine) == (MAIN_ID, "claude-code", ME.user_id,
                                                                        ME.user_name, ME.machine)
    assert (s.project_path, s.project_name, s.parent_session_id) == ("/home/dev/shop", "shop", "")
    assert s.first_message == "The cart total shows 19.999 instead of 20.00 — fix the rounding in cart.py and commit."
    assert s.started_at == datetime(2025, 10, 14, 9, 30, 1, 120000, tzinfo=UTC)
    assert s.ended_at == datetime(2025, 10, 14, 9, 31, 41, tzinfo=UTC)
    # The summary names a line of this file (a tool-result line), so it titles the session.
    assert s.display_name == "Fix the cart total rounding bug"
    assert s.message_count == len(parsed.messages)
    # Prompts: the first one and "Open a PR please 🙏"; not the subagent's prompt, the /cost command echo,
    # the isMeta reminder nor the tool-result lines.
    assert s.user_message_count == 2
    # Each API response counts once (msg_01AAA's three lines: its largest output count, 388).
    assert s.total_output_tokens == 388 + 140 + 96 + 77 + 41
    assert s.peak_context_tokens == 3 + 16010 + 90


def test_messages_ordinals_roles_and_flags() -> None:
    parsed = parse_transcript(MAIN, identity=ME)
    by_ordinal = {m.ordinal: m for m in parsed.messages}
    raw = lines_of(MAIN)
    for ordinal, m in by_ordinal.items():
        assert raw[ordinal].get("uuid") == m.uuid  # the ordinal is the line index
    assert [(m.ordinal, m.role) for m in parsed.messages] == [
        (1, "user"), (2, "assistant"), (3, "assistant"), (4, "assistant"), (7, "assistant"), (10, "assistant"),
        (11, "user"), (14, "user"), (15, "system"), (16, "user"), (17, "assistant"), (19, "assistant")]
    thinking = by_ordinal[2]
    assert thinking.has_thinking and not thinking.has_tool_use and "use Decimal and quantize" in thinking.content
    assert thinking.model == "claude-sonnet-4-5-20250929"
    assert (thinking.output_tokens, thinking.context_tokens) == (388, 4 + 13204 + 1830)
    assert json.loads(thinking.token_usage)["output_tokens"] == 388
    assert (by_ordinal[3].output_tokens, by_ordinal[4].output_tokens) == (0, 0)  # same response: counted once
    assert by_ordinal[4].has_tool_use and "[Edit: /home/dev/shop/cart.py]" in by_ordinal[4].content
    assert by_ordinal[17].has_thinking and by_ordinal[17].has_tool_use  # redacted thinking still counts
    assert by_ordinal[15].content == "Total cost: $0.0412"
    assert by_ordinal[16].content == "Open a PR please 🙏"  # the unknown "document" block is ignored
    assert by_ordinal[19].content.endswith("合計の丸めを修正しました。")  # the unknown block type is ignored
    assert by_ordinal[1].timestamp == datetime(2025, 10, 14, 9, 30, 1, 120000, tzinfo=UTC)


def test_tool_calls_get_their_results() -> None:
    parsed = parse_transcript(MAIN, identity=ME)
    calls = {t.tool_use_id: t for t in parsed.tool_calls}
    assert set(calls) == {"toolu_01Edit", "toolu_01Commit", "toolu_01Task", "toolu_01Pr"}
    commit = calls["toolu_01Commit"]
    assert (commit.message_ordinal, commit.tool_name, commit.tool_category, commit.success) == (7, "Bash", "Bash", True)
    assert json.loads(commit.input_json)["command"].startswith("git add cart.py && git commit -m")
    assert commit.result_content is not None and commit.result_content.startswith("[main 3f9a2c1] Round cart totals")
    task = calls["toolu_01Task"]
    assert task.subagent_session_id == "agent-a1b2c3d4"
    assert task.result_content == "Only cart.py sums money; invoices use Decimal already."  # text blocks joined
    assert calls["toolu_01Edit"].tool_category == "Edit"
    # Git links come out of the parsed calls as they would on sync.
    found = {(g.link_type, g.commit_sha or g.pr_url, g.confidence)
             for g in extract_git_links(MAIN_ID, ME.user_id, parsed.tool_calls)}
    assert found == {("commit", "3f9a2c1", "high"), ("pr", "https://github.com/acme/shop/pull/128", "high")}


def test_malformed_lines_are_counted_not_fatal() -> None:
    parsed = parse_transcript(MAIN)
    assert parsed.malformed_lines == 2  # a truncated object and a JSON array
    assert not parsed.incomplete_tail
    assert parsed.last_ordinal == len(MAIN.read_bytes().split(b"\n")) - 2


def test_subagent_transcript_is_its_own_session() -> None:
    parsed = parse_transcript(SUBAGENT, identity=ME)
    s = parsed.session
    assert s is not None
    assert (s.id, s.parent_session_id, s.relationship_type) == ("agent-a1b2c3d4", MAIN_ID, "subagent")
    assert s.user_message_count == 1 and s.first_message == "Search the repo for money computed with float."
    assert [t.tool_name for t in parsed.tool_calls] == ["Grep"]
    assert parsed.tool_calls[0].result_content == "cart.py:12: total = float(sum(prices))"
    assert {m.model for m in parsed.messages if m.role == "assistant"} == {"claude-haiku-4-5-20251001"}


def test_unicode_session_and_injected_user_text() -> None:
    parsed = parse_transcript(GERMAN, identity=ME)
    s = parsed.session
    assert s is not None and s.project_name == "blog"
    assert s.first_message == "Übersetze die Überschrift „Größenänderung“ ins Japanische."
    assert [m.content for m in parsed.messages][1] == "「サイズ変更」です。"
    assert s.user_message_count == 1  # "[Request interrupted by user]" is Claude Code's, not a prompt
    assert s.message_count == 3 and s.display_name == ""


def test_summary_only_file_has_no_session() -> None:
    parsed = parse_transcript(SUMMARY_ONLY)
    assert parsed.session is None and parsed.messages == [] and parsed.tool_calls == []
    assert parsed.last_ordinal == 0


def test_project_resolver_names_the_project() -> None:
    seen: list[str] = []

    def resolve(cwd: str) -> Project:
        seen.append(cwd)
        return Project("git@github.com:acme/shop-web.git", "shop-web")

    s = parse_transcript(MAIN, project_of=resolve).session
    assert s is not None and (s.project_id, s.project_name) == ("git@github.com:acme/shop-web.git", "shop-web")
    assert seen == ["/home/dev/shop"]


def test_incremental_parse_returns_only_new_lines_but_the_whole_session() -> None:
    full = parse_transcript(MAIN, identity=ME)
    since = 10
    part = parse_transcript(MAIN, since_ordinal=since, identity=ME)
    assert part.session == full.session
    assert [m.ordinal for m in part.messages] == [m.ordinal for m in full.messages if m.ordinal > since]
    # The Task call (line 10) got its result on line 12; the PR call is new. Earlier calls are not resent.
    assert {t.tool_use_id for t in part.tool_calls} == {"toolu_01Task", "toolu_01Pr"}
    assert part.last_ordinal == full.last_ordinal
    nothing = parse_transcript(MAIN, since_ordinal=full.last_ordinal, identity=ME)
    assert nothing.messages == [] and nothing.tool_calls == [] and nothing.session == full.session


def test_a_result_after_the_watermark_resends_the_earlier_call(tmp_path: Path) -> None:
    path = tmp_path / "sess-1.jsonl"
    use = {"type": "assistant", "uuid": "a1", "sessionId": "sess-1", "timestamp": "2025-10-14T10:00:00Z",
           "message": {"id": "msg_1", "role": "assistant", "content": [
               {"type": "tool_use", "id": "toolu_X", "name": "Bash", "input": {"command": "git commit -m x"}}]}}
    path.write_text(json.dumps(use) + "\n", encoding="utf-8")
    first = parse_transcript(path)
    assert [(t.tool_use_id, t.result_content, t.success) for t in first.tool_calls] == [("toolu_X", None, None)]
    result = {"type": "user", "uuid": "u2", "sessionId": "sess-1", "timestamp": "2025-10-14T10:00:02Z",
              "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_X",
                                                       "content": "error: gpg failed to sign", "is_error": True}]}}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(result) + "\n")
    second = parse_transcript(path, since_ordinal=first.last_ordinal)
    assert second.messages == []  # a tool-result line is no message
    assert [(t.tool_use_id, t.message_ordinal, t.result_content, t.success) for t in second.tool_calls] == [
        ("toolu_X", 0, "error: gpg failed to sign", False)]


def test_a_line_being_written_is_left_for_later(tmp_path: Path) -> None:
    lines = GERMAN.read_bytes().split(b"\n")
    partial = b"\n".join(lines[:2]) + b"\n" + lines[2][:40]
    parsed = parse_transcript_bytes(partial, tmp_path / GERMAN.name)
    assert parsed.incomplete_tail and parsed.malformed_lines == 0
    assert parsed.last_ordinal == 1 and [m.ordinal for m in parsed.messages] == [0, 1]
    # A complete last line without its newline is read.
    whole = parse_transcript_bytes(GERMAN.read_bytes().rstrip(b"\n"), GERMAN)
    assert not whole.incomplete_tail and whole.last_ordinal == 2 and len(whole.messages) == 3


@pytest.mark.parametrize("line", [
    b"\xff\xfe not utf-8",
    b'{"type": "user", "message": "a string, not an object"}',
    b'{"type": "assistant", "message": {"content": [{"type": "tool_use", "input": 5}, 7, null]}}',
    b'{"type": "user", "message": {"content": [{"type": "tool_result", "content": {"odd": true}}]}}',
    b'{"type": "assistant", "timestamp": "yesterday", "message": {"content": "x", "usage": {"output_tokens": "9"}}}',
    b'{"type": "user", "message": {"content": 42}}',
    b"null",
])
def test_odd_lines_never_crash(tmp_path: Path, line: bytes) -> None:
    data = GERMAN.read_bytes() + line + b"\n"
    parsed = parse_transcript_bytes(data, tmp_path / "odd.jsonl")
    assert parsed.session is not None and parsed.last_ordinal == 3
    assert len([m for m in parsed.messages if m.ordinal < 3]) == 3


def test_copy_keeps_the_session_id_of_the_file_name(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.jsonl"
    shutil.copy(GERMAN, copy)
    s = parse_transcript(copy).session
    assert s is not None and s.id == "renamed" and s.parent_session_id == "7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b"
    assert s.relationship_type == ""  # only agent-*.jsonl files are subagents


def test_tool_categories() -> None:
    assert [tool_category(n) for n in ("Read", "MultiEdit", "Write", "Bash", "Grep", "Glob", "Task", "Skill",
                                       "mcp__github__create_issue", "run_shell_command", "WebFetch")] == [
        "Read", "Edit", "Write", "Bash", "Grep", "Glob", "Task", "Tool", "Tool", "Bash", "Other"]
