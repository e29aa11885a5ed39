"""Secret masking before storage: replace credentials in text and JSON values with [REDACTED:<kind>] markers.

Kinds, in the order they are applied (a more specific pattern runs first, so it names the secret):
  private_key     PEM "-----BEGIN ... PRIVATE KEY-----" blocks through END (or to the end of a truncated text)
  jwt             three base64url segments, the first starting "eyJ"
  anthropic_key   sk-ant-...                          (before openai_key, which would also match)
  openai_key      sk-..., sk-proj-..., sk-svcacct-..., sk-admin-... (the body must contain a digit)
  github_token    ghp_/gho_/ghu_/ghs_/ghr_... and github_pat_...
  slack_token     xoxa-/xoxb-/xoxp-/xoxr-/xoxs-...
  aws_access_key  AKIA/ASIA + 16 upper-case alphanumerics
  aws_secret_key  40-char value assigned to aws_secret_access_key / SecretAccessKey / aws_secret (value only)
  google_api_key  AIza + 35 characters
  db_url          scheme://user:password@host: only "user:password" is masked, the scheme and host stay
                  for debugging ("postgres://[REDACTED:db_url]@db:5432/app"); any scheme counts, since
                  credentials in any URL are secrets
  bearer_token    the token of "Authorization: Bearer <token>" (header, JSON or curl form)
  generic_secret  the value (>= 8 chars) assigned to password/secret/api_key/token/... names, in
                  key=value, key: value and JSON "key": "value" forms; unquoted values must contain a digit
                  (so type hints and identifiers are left alone), "$VAR" references are never masked

Masking is idempotent: no pattern matches a "[REDACTED:" marker, so masking masked text changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["KINDS", "mask_secrets", "mask_value"]

_MASK = "[REDACTED:{}]"
_MASK_START = "[REDACTED:"
_NOT_MASKED = r"(?!\[REDACTED:)"

# Names whose assigned value is a secret. The keyword must end the name ("max_tokens", "token_count",
# "passwordHash" are not secrets) and start it, follow a separator or follow a camelCase hump
# ("db_password", "x-api-key", "clientSecret"). PWD is deliberately absent: it is the shell's cwd.
_KEYWORD = (
    r"(?i:pass(?:word|wd|phrase)|(?:client[_-]?)?secret(?:[_-]?key)?|(?:api|access|private)[_-]?key"
    r"|(?:(?:access|auth|refresh|session|bearer)[_-]?)?token|credentials?)"
)
_KEY_START = r"(?:(?<![A-Za-z0-9])|(?<=[a-z0-9])(?=[A-Z]))"
_KEY_END = r"(?![A-Za-z0-9_])"
_UNQUOTED_CHARS = r"[^\s\"'`,;&()\[\]{}<>]"
_GENERIC = (
    rf"(?P<pre>{_KEY_START}{_KEYWORD}{_KEY_END}\\?[\"']?\s*[:=]\s*\\?(?:(?P<dq>\")|(?P<sq>'))?)"
    r"(?!\[REDACTED:|\$)"
    r"(?(dq)[^\"\\\n\r]{8,}(?=\\?\")"
    r"|(?(sq)[^'\\\n\r]{8,}(?=\\?')"
    rf"|(?![\"'\[$])(?={_UNQUOTED_CHARS}*\d){_UNQUOTED_CHARS}{{8,}}(?=[\s\"'`,;&)\]}}>]|$)))"
)


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    replacement: str  # re.sub template
    keeps_prefix: bool  # the template starts with \g<pre>
    tail: str  # the template after \g<pre>, pasted directly by _sub_near (Match.expand re-parses each call)
    # Patterns slow to scan for (case-insensitive names) are tried only near the hits of these in the
    # lower-cased text, each hit being where a match's last name word starts (at most _MAX_NAME_PREFIX
    # characters after the match start). Every gate, like every ungated pattern, starts with a literal:
    # the re engine scans for a literal prefix ~30x faster than for a class, an alternation or \b.
    gates: tuple[re.Pattern[str], ...]


def _rule(kind: str, pattern: str, template: str = "{mask}", gates: tuple[str, ...] = ()) -> _Rule:
    # `template` wraps the marker in whatever the match keeps (e.g. the "key=" prefix via \g<pre>).
    replacement = template.format(mask=_MASK.format(kind))
    keeps_prefix = replacement.startswith(_PREFIX_REF)
    tail = replacement[len(_PREFIX_REF):] if keeps_prefix else replacement
    return _Rule(kind, re.compile(pattern), replacement, keeps_prefix, tail,
                 tuple(re.compile(gate) for gate in gates))


_PREFIX_REF = r"\g<pre>"
_KEEP_PREFIX = _PREFIX_REF + "{mask}"
_MAX_NAME_PREFIX = 8  # longest name part before a gate word: "session_"/"refresh_" + "token"
# First letters of every name a gated pattern starts with (pass.., client.., secret.., api/access/auth..,
# token, refresh.., private.., session.., bearer.., credential..); other positions are not tried.
_NAME_FIRST_CHARS = frozenset("pcsatrbPCSATRB")
_SEP = r"\\?[\"']?\s*[:=]"  # what may follow a secret's name: optional (escaped) quote, then : or =

# "Not preceded by a word character" written as a lookbehind *after* the literal prefix rather than a
# leading \b: a pattern that starts with a literal is scanned ~30x faster by the re engine.
_RULES: tuple[_Rule, ...] = (
    _rule("private_key",
          r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*\Z)"),
    _rule("jwt", r"eyJ(?<![A-Za-z0-9_]eyJ)[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"),
    _rule("anthropic_key", r"sk-ant-(?<![A-Za-z0-9_]sk-ant-)[A-Za-z0-9_-]{20,}"),
    _rule("openai_key",
          r"sk-(?<![A-Za-z0-9_]sk-)(?!ant-)(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]*\d)[A-Za-z0-9_-]{20,}"),
    _rule("github_token",
          r"gh[pousr]_(?<![A-Za-z0-9_]gh._)[A-Za-z0-9]{30,}"
          r"|github_pat_(?<![A-Za-z0-9_]github_pat_)[A-Za-z0-9_]{30,}"),
    _rule("slack_token", r"xox[abprs]-(?<![A-Za-z0-9_]xox.-)[A-Za-z0-9-]{10,}"),
    _rule("aws_access_key", r"(?:AKIA|ASIA)(?<![A-Za-z0-9_]....)[A-Z0-9]{16}\b"),
    _rule("aws_secret_key",
          r"(?P<pre>(?i:\b(?:aws_?)?secret_?access_?key|\baws_?secret(?:_?key)?)\\?[\"']?\s*[:=]\s*\\?[\"']?)"
          r"[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])",
          _KEEP_PREFIX, gates=(r"secret_?access_?key", r"aws_?secret")),
    _rule("google_api_key", r"AIza(?<![A-Za-z0-9_]AIza)[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
    # Anchored on "://" (the scheme stays outside the match). The password may hold an unencoded "@"
    # as long as another "@" follows in the same token.
    _rule("db_url",
          rf"(?P<pre>://){_NOT_MASKED}[^\s:/@\[\]\"']*:(?:[^\s/\"'@]|@(?=[^\s/\"']*@))+@",
          _KEEP_PREFIX + "@"),
    _rule("bearer_token",
          rf"(?P<pre>(?i:\bauthorization)\\?[\"']?\s*[:=]\s*\\?[\"']?(?i:bearer)\s+){_NOT_MASKED}"
          r"[A-Za-z0-9._~+/-]{8,}=*",
          _KEEP_PREFIX, gates=(r"authorization\\?[\"']?\s*[:=]\s*\\?[\"']?bearer\s",)),
    # The gates (each keyword's last word + separator) together are a superset of the full pattern;
    # "max_tokens: 5", '"key": 1' or prose about tokens never reaches the expensive pattern.
    _rule("generic_secret", _GENERIC, _KEEP_PREFIX,
          gates=tuple(word + _SEP for word in (r"pass(?:word|wd|phrase)", r"secret(?:[_-]?key)?",
                                               r"api[_-]?key", r"access[_-]?key", r"private[_-]?key",
                                               r"token", r"credentials?"))),
)
KINDS: tuple[str, ...] = tuple(rule.kind for rule in _RULES)

# Lower-case substrings of which every match of every rule contains one. Short texts (most attribute
# values) are checked for them first: for those, a few substring scans cost far less than a dozen regex
# calls. Beyond _PREFILTER_MAX_LEN the literal-first rules themselves are cheaper than the scans.
_TRIGGERS = ("://", "-----begin", "eyj", "sk-", "gh", "github_pat_", "xox", "akia", "asia", "aiza", "secret",
             "authorization", "pass", "api", "access", "private", "token", "credential")
_PREFILTER_MAX_LEN = 1024

# A JSON object key whose string value is a secret even without "key=" context in the value itself.
_SECRET_KEY_NAME = re.compile(rf"{_KEY_START}{_KEYWORD}$")
_AUTHORIZATION_KEY = frozenset({"authorization", "proxy-authorization"})


def mask_secrets(text: str) -> tuple[str, dict[str, int]]:
    """Mask every secret in `text`; return the masked text and counts per kind.

    When nothing matches, `text` itself (the same object) and an empty dict are returned.
    """
    if not text:
        return text, {}
    low = ""
    low_of: str | None = None  # the text `low` was computed from; recomputed after any substitution
    if len(text) <= _PREFILTER_MAX_LEN:
        low, low_of = text.lower(), text
        if not any(trigger in low for trigger in _TRIGGERS):
            return text, {}
    counts: dict[str, int] = {}
    for rule in _RULES:
        if rule.gates:
            if low_of is not text:
                low, low_of = text.lower(), text
            hits = sorted({m.start() for gate in rule.gates for m in gate.finditer(low)})
            if not hits:
                continue
            # Hit positions are valid in `text` only if lower() mapped every character to one character
            # (it never maps one to none, so equal lengths prove it); otherwise scan the whole text.
            if len(low) == len(text):
                masked, found = _sub_near(rule, text, hits)
            else:
                masked, found = rule.pattern.subn(rule.replacement, text)
        else:
            masked, found = rule.pattern.subn(rule.replacement, text)
        if found:
            text = masked
            counts[rule.kind] = counts.get(rule.kind, 0) + found
    return text, counts


def _sub_near(rule: _Rule, text: str, hits: list[int]) -> tuple[str, int]:
    """`rule.pattern.subn` restricted to matches starting up to _MAX_NAME_PREFIX characters before a hit.

    Gives the same result as the full scan (every match contains a gate hit that far from its start,
    and the leftmost match wins) at a cost proportional to the hits, not to the text.
    """
    pieces: list[str] = []
    done = 0  # end of the last match; matches never overlap, as with re.sub
    found = 0
    for hit in hits:
        if hit < done:
            continue
        for pos in range(max(done, hit - _MAX_NAME_PREFIX), hit + 1):
            if text[pos] not in _NAME_FIRST_CHARS:
                continue
            match = rule.pattern.match(text, pos)
            if match is not None:
                pieces.append(text[done:pos])
                if rule.keeps_prefix:
                    pieces.append(match.group("pre"))
                pieces.append(rule.tail)
                done = match.end()
                found += 1
                break
    if not found:
        return text, 0
    pieces.append(text[done:])
    return "".join(pieces), found


def mask_value(value: object) -> tuple[object, dict[str, int]]:
    """Mask secrets inside a JSON-like value (str, list, tuple, dict, recursively); other types pass through.

    Strings under a secret-named key ("password", "apiKey", "x-api-key", "Authorization") are masked
    whole when no specific pattern matched them. Unchanged containers are returned as the same object.
    """
    counts: dict[str, int] = {}
    return _walk(value, counts, None), counts


def _walk(value: object, counts: dict[str, int], key: str | None) -> object:
    if isinstance(value, str):
        return _mask_string(value, counts, key)
    if isinstance(value, Mapping):
        new_map: dict[object, object] = {}
        changed = False
        for k, v in value.items():
            masked = _walk(v, counts, k if isinstance(k, str) else None)
            changed = changed or masked is not v
            new_map[k] = masked
        return new_map if changed else value
    if isinstance(value, (list, tuple)):
        items = [_walk(item, counts, None) for item in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def _mask_string(value: str, counts: dict[str, int], key: str | None) -> str:
    masked, found = mask_secrets(value)
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n
    if found or key is None or len(value) < 8 or _MASK_START in value or value.startswith("$"):
        return masked
    if key.lower() in _AUTHORIZATION_KEY:
        scheme, _, token = value.partition(" ")
        if token.startswith("$"):
            return masked
        if token and scheme.lower() == "bearer":
            counts["bearer_token"] = counts.get("bearer_token", 0) + 1
            return f"{scheme} {_MASK.format('bearer_token')}"
        counts["generic_secret"] = counts.get("generic_secret", 0) + 1
        return _MASK.format("generic_secret")
    if _SECRET_KEY_NAME.search(key):
        counts["generic_secret"] = counts.get("generic_secret", 0) + 1
        return _MASK.format("generic_secret")
    return masked
