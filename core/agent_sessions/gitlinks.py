"""Git links: the commits and pull requests a session produced or worked on, found in its shell tool calls.

Only shell tool calls are read (Claude Code's `Bash`, and Gemini CLI's `run_shell_command`, which is the same
tool); the command comes from the input JSON (`{"command": ...}`; OTLP tool parameters name it
`full_command` or `bash_command`). Rules, in the order a link's confidence is decided:

  commit / high   the command runs `git commit` (or `git cherry-pick` / `git revert`, which also create a
                  commit and print the same summary) and the output has git's summary line
                  `[<branch> <sha>] <subject>`; the branch part may be `detached HEAD` and may be followed by
                  `(root-commit)`; an amended commit prints the same line.
  pr / high       a pull-request URL (`https://github.com/<owner>/<repo>/pull/<n>`, or a GitHub Enterprise
                  host) in the output of `gh pr create`, unless gh says the pull request already exists (the
                  session did not create it: medium).
  pr / medium     a pull-request URL in the output of any other shell command (`gh pr view`, `gh pr merge`...).
  commit / medium a commit id given as an argument of `git show`, `git cherry-pick`, `git revert` or of
                  `git commit --fixup/--squash` (ranges `a..b` give both ends; `<sha>^`, `<sha>~2` and
                  `<sha>:<path>` give the sha). The session worked with that commit without necessarily having
                  made it, hence medium. A commit id is 7 to 40 hex digits with at least one digit (so words
                  such as "deadbeef" or "defaced" are not taken for one).

A git subcommand counts only where a command starts: at the start of the text, after `;`, `&&`, `||`, `|`, `(`,
a newline, `then`/`do`, or after `VAR=value` assignments; `echo "git commit"` or a commit message that
mentions `git revert abc1234` is not a command. A `git push` URL such as `.../pull/new/<branch>` is not a pull
request. Links are deduplicated by (commit sha, pr url): a link found twice keeps its highest confidence and,
among equals, the first message ordinal. Shas are lower-cased and kept as written (abbreviated shas stay
abbreviated), so the same commit found abbreviated and in full gives two links.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable
from typing import Literal

from core.agent_sessions.models import AgentToolCall, GitLink

__all__ = ["SHELL_TOOLS", "extract_git_links", "shell_command"]

SHELL_TOOLS = frozenset({"Bash", "run_shell_command"})
_COMMAND_KEYS = ("command", "full_command", "bash_command", "cmd")

_COMMIT_CREATING = frozenset({"commit", "cherry-pick", "revert"})
_SHA_PARAM_SUBCOMMANDS = frozenset({"show", "cherry-pick", "revert"})
# Words that may precede a command's program without being it.
_PREFIX_WORDS = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "time", "exec", "command",
                           "sudo", "{"})
_PUNCTUATION = "();<>|&\n"
_PUNCTUATION_SET = frozenset(_PUNCTUATION)
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)

# git's summary line: "[main 1a2b3c4] subject", "[main (root-commit) 1a2b3c4] subject",
# "[detached HEAD 1a2b3c4] subject", "[feature/x-y 1a2b3c4d5e] subject".
_COMMIT_SUMMARY = re.compile(r"^\[[^\]\n]*?\S (?:\(root-commit\) )?([0-9a-f]{7,40})\] ", re.MULTILINE)
_PR_URL = re.compile(r"https?://(?:[A-Za-z0-9-]+\.)*github[A-Za-z0-9.-]*/[\w.-]+/[\w.-]+/pull/\d+(?!\d)")
_PR_EXISTS = re.compile(r"pull request for branch .* already exists", re.IGNORECASE)
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_REV_SUFFIX = re.compile(r"[\^~:@].*$", re.DOTALL)

_RANK = {"high": 2, "medium": 1}


def extract_git_links(session_id: str, user_id: str, tool_calls: Iterable[AgentToolCall]) -> list[GitLink]:
    """Every git link found in the session's shell tool calls, deduplicated, in order of first discovery.

    Tool calls of other sessions are skipped, so a caller may pass a whole sync batch.
    """
    found: dict[tuple[str, str], GitLink] = {}
    for call in tool_calls:
        if call.session_id != session_id or call.tool_name not in SHELL_TOOLS:
            continue
        command = shell_command(call.input_json)
        output = call.result_content or ""
        for sha, pr, confidence in _links_of(command, output):
            link = GitLink(session_id=session_id, user_id=user_id, message_ordinal=call.message_ordinal,
                           commit_sha=sha, pr_url=pr, link_type="commit" if sha else "pr", confidence=confidence)
            key = (sha, pr)
            old = found.get(key)
            if old is None or _RANK[confidence] > _RANK[old.confidence]:
                found[key] = link
    return list(found.values())


def shell_command(input_json: str) -> str:
    """The command of a shell tool call's input JSON ("" when there is none)."""
    if not input_json:
        return ""
    try:
        value = json.loads(input_json)
    except ValueError:
        return ""
    if isinstance(value, str):  # some producers log the command itself
        return value
    if not isinstance(value, dict):
        return ""
    for key in _COMMAND_KEYS:
        command = value.get(key)
        if isinstance(command, str) and command:
            return command
    return ""


Confidence = Literal["high", "medium"]


def _links_of(command: str, output: str) -> list[tuple[str, str, Confidence]]:
    links: list[tuple[str, str, Confidence]] = []
    # Only commands naming git or gh can matter: most shell calls (tests, builds, ls) skip the tokenizer.
    commands = _simple_commands(command) if "git" in command or "gh" in command else []
    if output and any(_git_subcommand(words)[0] in _COMMIT_CREATING for words in commands):
        links.extend((sha.lower(), "", "high") for sha in _COMMIT_SUMMARY.findall(output))
    if output:
        created = any(words[:3] == ["gh", "pr", "create"] for words in commands) and not _PR_EXISTS.search(output)
        pr_confidence: Confidence = "high" if created else "medium"
        links.extend(("", url, pr_confidence) for url in _PR_URL.findall(output))
    for words in commands:
        links.extend((sha, "", "medium") for sha in _commit_params(words))
    return links


def _simple_commands(command: str) -> list[list[str]]:
    """The command's simple commands (words split by `;`, `&&`, `||`, `|`, `&`, parentheses and newlines), each
    without its leading assignments, shell keywords and redirections. Quoted text (a commit message, a heredoc
    inside `$(...)` quotes) stays one word, so what it says is never taken for a command."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace = " \t\r"  # a newline separates commands
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:  # an unbalanced quote: plain words, lines as commands
        tokens = [word for line in command.splitlines() for word in (*line.split(), ";")]
    commands: list[list[str]] = []
    words: list[str] = []
    skip_next = False
    for token in tokens:
        if skip_next:
            skip_next = False
            continue
        if token and set(token) <= _PUNCTUATION_SET:
            if "<" in token or ">" in token:
                skip_next = True  # a redirection's target is no argument
                continue
            if words:
                commands.append(words)
            words = []
            continue
        if not words and (token in _PREFIX_WORDS or _ASSIGNMENT.fullmatch(token)):
            continue
        words.append(token)
    if words:
        commands.append(words)
    return commands


def _git_subcommand(words: list[str]) -> tuple[str, list[str]]:
    """("commit", [args...]) for `git [-C dir] [-c k=v] [--opt] commit args...`; ("", []) for anything else."""
    if not words or words[0] != "git":
        return "", []
    i = 1
    while i < len(words) and words[i].startswith("-"):
        i += 2 if words[i] in ("-C", "-c") else 1
    if i >= len(words):
        return "", []
    return words[i], words[i + 1:]


def _commit_params(words: list[str]) -> list[str]:
    """Commit ids given to `git show|cherry-pick|revert` and `git commit --fixup|--squash`."""
    sub, args = _git_subcommand(words)
    if sub in _SHA_PARAM_SUBCOMMANDS:
        candidates = [a for a in args if not a.startswith("-")]
    elif sub == "commit":
        candidates = _fixup_targets(args)
    else:
        return []
    shas: list[str] = []
    for arg in candidates:
        for end in re.split(r"\.{2,3}", arg):
            sha = _REV_SUFFIX.sub("", end)
            if _SHA.fullmatch(sha) and any(c.isdigit() for c in sha):
                shas.append(sha.lower())
    return shas


def _fixup_targets(args: list[str]) -> list[str]:
    targets: list[str] = []
    for n, arg in enumerate(args):
        for flag in ("--fixup", "--squash"):
            if arg == flag and n + 1 < len(args):
                targets.append(args[n + 1])
            elif arg.startswith(flag + "="):
                # --fixup=amend:<sha> / reword:<sha> name the commit after the colon.
                targets.append(arg[len(flag) + 1:].rpartition(":")[2])
    return targets
