"""Unit tests for core.redact: every secret kind, counts, idempotence, clean text and nested values."""

from __future__ import annotations

import pytest

from core.redact import KINDS, mask_secrets, mask_value

# Fake credentials shaped like the real ones (assembled so the source file itself trips no scanner).
AWS_ACCESS = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
GITHUB = "ghp_" + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8"
GITHUB_PAT = "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
SLACK = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKl"
OPENAI = "sk-proj-" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4f"
OPENAI_LEGACY = "sk-" + "T3BlbkFJ1234567890abcdefghijklmnopqrstuvwx"
ANTHROPIC = "sk-ant-api03-" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1bCd4fGh7jKl0n-AA"
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkFkYSJ9"
       + ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Ui\nq8bG2o0Jx1bZ\n"
       "-----END RSA PRIVATE KEY-----")


@pytest.mark.parametrize(("text", "expected", "counts"), [
    (f"key {AWS_ACCESS} here", "key [REDACTED:aws_access_key] here", {"aws_access_key": 1}),
    (f"aws_secret_access_key = {AWS_SECRET}", "aws_secret_access_key = [REDACTED:aws_secret_key]",
     {"aws_secret_key": 1}),
    (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', '{"SecretAccessKey": "[REDACTED:aws_secret_key]"}',
     {"aws_secret_key": 1}),
    (f"export GITHUB_TOKEN={GITHUB}", "export GITHUB_TOKEN=[REDACTED:github_token]", {"github_token": 1}),
    (f"pat {GITHUB_PAT}", "pat [REDACTED:github_token]", {"github_token": 1}),
    (f"slack {SLACK}.", "slack [REDACTED:slack_token].", {"slack_token": 1}),
    (f"OPENAI_API_KEY={OPENAI}", "OPENAI_API_KEY=[REDACTED:openai_key]", {"openai_key": 1}),
    (f"use {OPENAI_LEGACY} now", "use [REDACTED:openai_key] now", {"openai_key": 1}),
    (f"ANTHROPIC_API_KEY={ANTHROPIC}", "ANTHROPIC_API_KEY=[REDACTED:anthropic_key]", {"anthropic_key": 1}),
    (f"?key={GOOGLE}&x=1", "?key=[REDACTED:google_api_key]&x=1", {"google_api_key": 1}),
    (f"token {JWT} end", "token [REDACTED:jwt] end", {"jwt": 1}),
    (f"before\n{PEM}\nafter", "before\n[REDACTED:private_key]\nafter", {"private_key": 1}),
    ("postgres://admin:s3cr3t@db.internal:5432/app", "postgres://[REDACTED:db_url]@db.internal:5432/app",
     {"db_url": 1}),
    ("redis://:p@ss@cache:6379/0", "redis://[REDACTED:db_url]@cache:6379/0", {"db_url": 1}),
    ("Authorization: Bearer abcDEF123456ghiJKL", "Authorization: Bearer [REDACTED:bearer_token]",
     {"bearer_token": 1}),
    ("curl -H 'authorization: bearer abcDEF123456ghiJKL' https://x",
     "curl -H 'authorization: bearer [REDACTED:bearer_token]' https://x", {"bearer_token": 1}),
    ('{"Authorization": "Bearer abcDEF123456ghiJKL"}', '{"Authorization": "Bearer [REDACTED:bearer_token]"}',
     {"bearer_token": 1}),
    ("password=hunter2hunter2", "password=[REDACTED:generic_secret]", {"generic_secret": 1}),
    ("DB_PASSWORD: s3cretvalue", "DB_PASSWORD: [REDACTED:generic_secret]", {"generic_secret": 1}),
    ('{"password": "correct horse battery"}', '{"password": "[REDACTED:generic_secret]"}',
     {"generic_secret": 1}),
    ('{"clientSecret": \'abcdefghijk\'}', '{"clientSecret": \'[REDACTED:generic_secret]\'}',
     {"generic_secret": 1}),
    ('{\\"api_key\\": \\"abcdefgh1234\\"}', '{\\"api_key\\": \\"[REDACTED:generic_secret]\\"}',
     {"generic_secret": 1}),
    ("x-api-key=abcd1234efgh", "x-api-key=[REDACTED:generic_secret]", {"generic_secret": 1}),
    ("sessiontoken=abcdefgh1234", "sessiontoken=[REDACTED:generic_secret]", {"generic_secret": 1}),
])
def test_each_kind_masked_with_counts(text: str, expected: str, counts: dict[str, int]) -> None:
    assert mask_secrets(text) == (expected, counts)


def test_every_kind_is_covered_above() -> None:
    assert set(KINDS) == {"private_key", "jwt", "anthropic_key", "openai_key", "github_token", "slack_token",
                          "aws_access_key", "aws_secret_key", "google_api_key", "db_url", "bearer_token",
                          "generic_secret"}


def test_anthropic_key_wins_over_openai_key() -> None:
    masked, counts = mask_secrets(f"a={ANTHROPIC} b={OPENAI}")
    assert masked == "a=[REDACTED:anthropic_key] b=[REDACTED:openai_key]"
    assert counts == {"anthropic_key": 1, "openai_key": 1}


def test_specific_kind_wins_over_generic_and_bearer() -> None:
    masked, counts = mask_secrets(f"api_key={GOOGLE}\nAuthorization: Bearer {JWT}\ntoken: {GITHUB}")
    assert masked == ("api_key=[REDACTED:google_api_key]\nAuthorization: Bearer [REDACTED:jwt]\n"
                      "token: [REDACTED:github_token]")
    assert counts == {"google_api_key": 1, "jwt": 1, "github_token": 1}


def test_counts_add_up_over_repeats() -> None:
    masked, counts = mask_secrets(f"{AWS_ACCESS} {AWS_ACCESS} password=abcdefgh1 {AWS_ACCESS}")
    assert counts == {"aws_access_key": 3, "generic_secret": 1}
    assert AWS_ACCESS not in masked


def test_truncated_private_key_masked_to_the_end() -> None:
    masked, counts = mask_secrets("key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt")
    assert masked == "key:\n[REDACTED:private_key]"
    assert counts == {"private_key": 1}


LONG_MIXED = (
    f"export AWS_ACCESS_KEY_ID={AWS_ACCESS}\nexport AWS_SECRET_ACCESS_KEY={AWS_SECRET}\n"
    f"gh={GITHUB} slack={SLACK} oa={OPENAI} an={ANTHROPIC} g={GOOGLE}\n{PEM}\n"
    f"Authorization: Bearer {JWT}\nAuthorization: Bearer plainToken12345\n"
    f"DATABASE_URL=postgresql://svc:pa55word@db/app\npassword=hunter2hunter2\n"
    '{"refresh_token": "abcdefghij"} ' + "x" * 2000 + " İstanbul token: 'abc12345678'"
)


@pytest.mark.parametrize("text", [
    LONG_MIXED,
    "password=[REDACTED:generic_secret] token: [REDACTED:jwt]",
    "Authorization: Bearer [REDACTED:bearer_token]",
    "postgres://[REDACTED:db_url]@db/app",
])
def test_idempotent(text: str) -> None:
    once, _ = mask_secrets(text)
    twice, counts = mask_secrets(once)
    assert twice == once
    assert counts == {}


def test_long_mixed_text_every_secret_gone() -> None:
    masked, counts = mask_secrets(LONG_MIXED)
    for secret in (AWS_ACCESS, AWS_SECRET, GITHUB, SLACK, OPENAI, ANTHROPIC, GOOGLE, JWT,
                   "MIIEowIBAAKCAQEAx4Ui", "plainToken12345", "pa55word", "hunter2hunter2", "abcdefghij",
                   "abc12345678"):
        assert secret not in masked
    assert counts == {"aws_access_key": 1, "aws_secret_key": 1, "github_token": 1, "slack_token": 1,
                      "openai_key": 1, "anthropic_key": 1, "google_api_key": 1, "private_key": 1, "jwt": 1,
                      "bearer_token": 1, "db_url": 1, "generic_secret": 3}


@pytest.mark.parametrize("text", [
    "",
    "Read file src/main.py",
    "The quick brown fox. def foo(x): return x + 1\n" * 200,
    "max_tokens: 100000000 input_tokens=12345678 tokens: 99999999",
    '{"input_tokens": 1234, "key": "value-long-enough-1", "token_count": 12345678}',
    "password: Optional[str] = None",
    "token = get_token(user_id_12345)",
    "secret: ${{ secrets.DEPLOY_KEY }}",
    "password=$DB_PASSWORD_2024",
    "PWD=/home/user/project12345",
    "password=short1",
    "https://github.com/org/repo and http://localhost:8080/path",
    "task-abcdefghijklmnopqrstuvwxyz123 disk-sk-notakey",
    "xAKIAIOSFODNN7EXAMPLE",
    "Asia and akia are words; see github_pattern",
])
def test_clean_text_untouched_same_object(text: str) -> None:
    masked, counts = mask_secrets(text)
    assert masked is text
    assert counts == {}


def test_mask_value_nested() -> None:
    value = {
        "command": f"curl -H 'Authorization: Bearer {JWT}' https://api",
        "env": {"DB_PASSWORD": "hunter2hunter2", "apiKey": OPENAI, "HOME": "/home/ada", "PORT": 8080},
        "headers": [{"Authorization": "Bearer abcdefghijklmnop"}, {"X-Api-Key": "k3y-v4lue-long"}],
        "args": ("--token", GITHUB),
        "password": "short",
        "ok": True,
    }
    masked, counts = mask_value(value)
    assert masked == {
        "command": "curl -H 'Authorization: Bearer [REDACTED:jwt]' https://api",
        "env": {"DB_PASSWORD": "[REDACTED:generic_secret]", "apiKey": "[REDACTED:openai_key]",
                "HOME": "/home/ada", "PORT": 8080},
        "headers": [{"Authorization": "Bearer [REDACTED:bearer_token]"},
                    {"X-Api-Key": "[REDACTED:generic_secret]"}],
        "args": ("--token", "[REDACTED:github_token]"),
        "password": "short",
        "ok": True,
    }
    assert counts == {"jwt": 1, "generic_secret": 2, "openai_key": 1, "bearer_token": 1, "github_token": 1}
    # the input is not modified, and masking the result again is a no-op
    assert value["env"]["DB_PASSWORD"] == "hunter2hunter2"  # type: ignore[index]
    again, again_counts = mask_value(masked)
    assert again is masked
    assert again_counts == {}


def test_mask_value_unchanged_returns_same_objects() -> None:
    value = {"a": ["x", {"b": "plain text", "n": 1.5}], "c": None, "tokens": "123456789012"}
    masked, counts = mask_value(value)
    assert masked is value
    assert counts == {}
    assert mask_value("plain") == ("plain", {})
    assert mask_value(42) == (42, {})


def test_mask_value_secret_key_skips_variable_references() -> None:
    masked, counts = mask_value({"password": "${DB_PASSWORD}", "Authorization": "Bearer $TOKEN_VALUE"})
    assert masked == {"password": "${DB_PASSWORD}", "Authorization": "Bearer $TOKEN_VALUE"}
    assert counts == {}
