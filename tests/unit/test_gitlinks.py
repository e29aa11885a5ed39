"""Git links from shell tool calls: git's commit summary lines, gh's PR URLs, commit ids in git arguments, and
the look-alikes that must not become links."""

from __future__ import annotations

import json

import pytest

from core.agent_sessions.gitlinks import extract_git_links, shell_command
from core.agent_sessions.models import AgentToolCall

SESSION = "4b1c9d2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
USER = "dev@example.com"


def bash(command: str, output: str | None = "", ordinal: int = 3, tool: str = "Bash",
         session: str = SESSION) -> AgentToolCall:
    return AgentToolCall(session_id=session, message_ordinal=ordinal, tool_use_id=f"toolu_{ordinal:04d}",
                         tool_name=tool, input_json=json.dumps({"command": command, "description": "x"}),
                         result_content=output)


def links(*calls: AgentToolCall) -> list[tuple[str, str, str, str, int]]:
    return [(g.link_type, g.commit_sha, g.pr_url, g.confidence, g.message_ordinal)
            for g in extract_git_links(SESSION, USER, calls)]


# --- git commit output -----------------------------------------------------------------------------------

COMMIT_OUTPUTS = {
    "plain": ("git commit -m 'Fix rounding'",
              "[main 3f9a2c1] Fix rounding\n 1 file changed, 2 insertions(+), 1 deletion(-)\n", "3f9a2c1"),
    "root-commit": ("git add -A && git commit -m 'Initial commit'",
                    "[main (root-commit) 0c1d2e3] Initial commit\n 12 files changed, 480 insertions(+)\n"
                    " create mode 100644 README.md\n", "0c1d2e3"),
    "detached HEAD": ("git commit -am wip",
                      "[detached HEAD 9b8a7c6] wip\n 1 file changed, 1 insertion(+)\n", "9b8a7c6"),
    "amend": ("git commit --amend --no-edit",
              "[feature/cart-rounding 5e6f7a8] Fix rounding\n Date: Tue Oct 14 09:30:10 2025 +0200\n"
              " 2 files changed, 3 insertions(+), 1 deletion(-)\n", "5e6f7a8"),
    "heredoc message, long sha, hook output first": (
        "git commit -m \"$(cat <<'EOF'\nRound totals\n\nCo-Authored-By: Claude <noreply@anthropic.com>\nEOF\n)\"",
        "ruff.....................................................................Passed\n"
        "[INFO] Restored changes from /home/dev/.cache/pre-commit/patch1760434210.\n"
        "[release-2.4 1a2b3c4d5e6f7a8b9c0d] Round totals\n 1 file changed, 1 insertion(+)\n",
        "1a2b3c4d5e6f7a8b9c0d"),
    "global options and env": ("cd /home/dev/shop && GIT_AUTHOR_DATE=now git -C . -c commit.gpgsign=false commit -qm x",
                               "[main 7d7d7d1] x\n", "7d7d7d1"),
    "cherry-pick creates a commit": ("git cherry-pick 4e5f6a7",
                                     "[main 8c9d0e1] Fix rounding\n Date: Tue Oct 14 09:30:10 2025\n 1 file changed\n",
                                     "8c9d0e1"),
}


@pytest.mark.parametrize("name", sorted(COMMIT_OUTPUTS))
def test_git_commit_summary_is_a_high_confidence_commit(name: str) -> None:
    command, output, sha = COMMIT_OUTPUTS[name]
    found = [(t, s, c) for t, s, _, c, _ in links(bash(command, output))]
    assert ("commit", sha, "high") in found


def test_revert_output_gives_the_new_commit_high_and_the_reverted_one_medium() -> None:
    found = links(bash("git revert --no-edit 4e5f6a7", "[main 2b3c4d5] Revert \"Fix rounding\"\n 1 file changed\n"))
    assert ("commit", "2b3c4d5", "", "high", 3) in found
    assert ("commit", "4e5f6a7", "", "medium", 3) in found


def test_commit_summary_needs_a_committing_command() -> None:
    # The same line printed by something else (a log, cat of a saved output, an echo) is not a new commit.
    assert links(bash("cat notes/last-commit.txt", "[main 3f9a2c1] Fix rounding\n")) == []
    assert links(bash('echo "git commit"', "[main 3f9a2c1] Fix rounding\n")) == []
    assert links(bash("git log -1 --format='[%D %h] %s'", "[HEAD -> main 3f9a2c1] Fix rounding\n")) == []


def test_failed_or_dry_commit_gives_nothing() -> None:
    assert links(bash("git commit -m x", "On branch main\nnothing to commit, working tree clean\n")) == []
    staged = "On branch main\nChanges to be committed:\n\tmodified: a.py\n"
    assert links(bash("git commit --dry-run -m x", staged)) == []


def test_summary_line_must_start_a_line_and_hold_hex() -> None:
    output = ("error: [main 3f9a2c1] quoted mid-line\n"
              "[main zzzzzzz] not hex\n"
              "[main 3f9a2c] six digits\n"
              "[WARNING] hook 1234567\n")
    assert links(bash("git commit -m x", output)) == []


# --- pull requests -------------------------------------------------------------------------------------------

def test_gh_pr_create_url_is_high() -> None:
    output = ("\nCreating pull request for cart-rounding into main in acme/shop\n\n"
              "https://github.com/acme/shop/pull/128\n")
    assert links(bash("git push -u origin cart-rounding && gh pr create --fill", output, 7)) == [
        ("pr", "", "https://github.com/acme/shop/pull/128", "high", 7)]


def test_gh_pr_create_on_an_enterprise_host() -> None:
    found = links(bash("gh pr create --title x --body y", "https://github.acme-corp.com/platform/api/pull/9\n"))
    assert found == [("pr", "", "https://github.acme-corp.com/platform/api/pull/9", "high", 3)]


def test_existing_pull_request_is_medium() -> None:
    output = ('a pull request for branch "cart-rounding" into branch "main" already exists:\n'
              "https://github.com/acme/shop/pull/127\n")
    assert links(bash("gh pr create --fill", output)) == [
        ("pr", "", "https://github.com/acme/shop/pull/127", "medium", 3)]


def test_pr_url_in_other_output_is_medium_and_trimmed() -> None:
    output = "title:\tRound totals\nstate:\tOPEN\nurl:\thttps://github.com/acme/shop/pull/128/files#diff-1\n"
    assert links(bash("gh pr view 128", output)) == [
        ("pr", "", "https://github.com/acme/shop/pull/128", "medium", 3)]


def test_pr_look_alikes_are_not_links() -> None:
    push = ("remote:\nremote: Create a pull request for 'cart-rounding' on GitHub by visiting:\n"
            "remote:      https://github.com/acme/shop/pull/new/cart-rounding\nremote:\n")
    assert links(bash("git push -u origin cart-rounding", push)) == []
    others = ("https://gitlab.com/acme/shop/-/merge_requests/12\n"
              "https://github.com/acme/shop/pulls\n"
              "https://github.com/acme/shop/issues/41\n")
    assert links(bash("gh pr list", others)) == []


# --- commit ids in tool parameters ---------------------------------------------------------------------------

def test_commit_ids_in_git_arguments_are_medium() -> None:
    found = links(bash("git show 9f8e7d6 --stat"),
                  bash("git show a1b2c3d^:cart.py | head -20", ordinal=4),
                  bash("git cherry-pick -x 1111aaa..2222bbb", "", 5),
                  bash("git commit --fixup=amend:3c3c3c3 -m x", "", 6),
                  bash("git commit --squash 4d4d4d4", "", 8))
    shas = {(sha, conf, ordinal) for kind, sha, _, conf, ordinal in found if kind == "commit"}
    assert shas == {("9f8e7d6", "medium", 3), ("a1b2c3d", "medium", 4), ("1111aaa", "medium", 5),
                    ("2222bbb", "medium", 5), ("3c3c3c3", "medium", 6), ("4d4d4d4", "medium", 8)}


def test_parameter_look_alikes_are_not_commits() -> None:
    calls = [
        bash("git show deadbeef"),  # a hex word without a digit: a branch name more likely than a sha
        bash("git show HEAD~3 main v1.2.0"),
        bash("git diff 9f8e7d6 a1b2c3d", ordinal=4),  # not one of the commands the rule reads
        bash("git log --oneline 9f8e7d6", ordinal=5),
        bash("echo 'git revert 9f8e7d6'", ordinal=6),
        bash("grep -rn 9f8e7d6 .", ordinal=7),
        bash("git commit -m \"$(cat <<'EOF'\nUndo\n\ngit revert 9f8e7d6 was wrong\nEOF\n)\"", "nothing", 8),
        bash("git show 12345\"", ordinal=9),  # unbalanced quote, and too short
    ]
    assert links(*calls) == []


# --- scope and deduplication ----------------------------------------------------------------------------------

def test_only_shell_tools_of_the_session_are_read() -> None:
    summary = "[main 3f9a2c1] Fix rounding\n"
    read = AgentToolCall(session_id=SESSION, message_ordinal=2, tool_use_id="toolu_r", tool_name="Read",
                         input_json=json.dumps({"file_path": "/home/dev/shop/NOTES.md"}),
                         result_content="git commit -m x\n" + summary + "https://github.com/acme/shop/pull/1\n")
    other_session = bash("git commit -m x", summary, session="another-session")
    assert links(read, other_session) == []
    gemini = bash("git commit -m x", summary, tool="run_shell_command")
    assert links(gemini) == [("commit", "3f9a2c1", "", "high", 3)]


def test_duplicates_keep_the_highest_confidence_and_first_ordinal() -> None:
    found = links(bash("gh pr view 128", "https://github.com/acme/shop/pull/128", 2),
                  bash("git show 3f9a2c1", "commit 3f9a2c1...", 3),
                  bash("git commit -m x", "[main 3f9a2c1] x\n", 5),
                  bash("gh pr create --fill", "https://github.com/acme/shop/pull/128\n", 6),
                  bash("gh pr view 128 --web", "https://github.com/acme/shop/pull/128", 9),
                  bash("git commit --amend -m y", "[main 3f9a2c1] y\n", 11))
    assert sorted(found) == [("commit", "3f9a2c1", "", "high", 5),
                             ("pr", "", "https://github.com/acme/shop/pull/128", "high", 6)]


def test_links_carry_session_and_user() -> None:
    (link,) = extract_git_links(SESSION, USER, [bash("git commit -m x", "[main 3f9a2c1] x\n")])
    assert (link.session_id, link.user_id, link.link_type) == (SESSION, USER, "commit")


def test_commands_from_otlp_parameters_and_missing_results() -> None:
    otlp = AgentToolCall(session_id=SESSION, message_ordinal=1760434207, tool_use_id="toolu_otlp", tool_name="Bash",
                         input_json=json.dumps({"bash_command": "git", "full_command": "git show 9f8e7d6"}),
                         result_content=None)
    assert links(otlp) == [("commit", "9f8e7d6", "", "medium", 1760434207)]
    assert shell_command("not json") == "" and shell_command('"git show 9f8e7d6"') == "git show 9f8e7d6"
    assert shell_command(json.dumps({"command": ["git", "show"]})) == ""
