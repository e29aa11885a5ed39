"""Search snippets as the seed cuts them: a character window around the first match, byte-offset highlights."""

from __future__ import annotations

from core.agent_sessions.snippets import extract_snippet, simple_lower


def _marked(snippet: str, highlights: list[tuple[int, int]]) -> list[str]:
    """The highlighted parts, sliced by byte offset as a client does after UTF-8 encoding the snippet."""
    raw = snippet.encode("utf-8")
    return [raw[a:b].decode("utf-8") for a, b in highlights]


def test_short_content_is_returned_whole_with_every_match_highlighted() -> None:
    snippet, highlights = extract_snippet("Fix the flaky test; the FLAKY one again", "flaky")
    assert snippet == "Fix the flaky test; the FLAKY one again"
    assert highlights == [(8, 13), (24, 29)]
    assert _marked(snippet, highlights) == ["flaky", "FLAKY"]


def test_window_starts_half_a_window_before_the_match_with_ellipses_on_both_sides() -> None:
    content = "a" * 300 + "NEEDLE" + "b" * 300
    snippet, highlights = extract_snippet(content, "needle", 200)
    assert snippet == "..." + "a" * 100 + "NEEDLE" + "b" * 94 + "..."
    assert highlights == [(103, 109)]
    assert _marked(snippet, highlights) == ["NEEDLE"]


def test_window_is_clamped_to_the_start_and_to_the_end() -> None:
    at_start, hs = extract_snippet("needle" + "x" * 300, "needle", 200)
    assert at_start == "needle" + "x" * 194 + "..." and hs == [(0, 6)]
    at_end, he = extract_snippet("x" * 300 + "needle", "needle", 200)
    # clamped to the end: the window is the last 200 characters, so it starts after the beginning
    assert at_end == "..." + "x" * 194 + "needle" and he == [(197, 203)]


def test_no_match_gives_the_first_window_of_characters() -> None:
    assert extract_snippet("z" * 250, "needle", 200) == ("z" * 200 + "...", [])
    assert extract_snippet("short text", "needle", 200) == ("short text", [])


def test_empty_content_or_term_returns_the_content_unchanged() -> None:
    assert extract_snippet("", "x") == ("", [])
    assert extract_snippet("content", "") == ("content", [])


def test_multibyte_offsets_are_bytes_of_the_snippet_including_the_ellipsis() -> None:
    # Japanese: three bytes per character; the window counts characters, the highlights bytes.
    content = "前置き" * 50 + "設定ファイル" + "後" * 200
    snippet, highlights = extract_snippet(content, "設定", 200)
    assert snippet.startswith("...") and snippet.endswith("...")
    assert len(snippet) == 3 + 200 + 3  # 200 characters between the ellipses
    (start, end), = highlights
    assert end - start == len("設定".encode())
    assert snippet.encode("utf-8")[start:end].decode("utf-8") == "設定"
    assert start == 3 + len(snippet[3:snippet.index("設定")].encode("utf-8"))


def test_german_umlauts_match_case_insensitively_with_byte_offsets() -> None:
    snippet, highlights = extract_snippet("Die ÜBERPRÜFUNG und die Überprüfung", "überprüfung")
    assert _marked(snippet, highlights) == ["ÜBERPRÜFUNG", "Überprüfung"]
    assert highlights[0] == (4, 4 + len("ÜBERPRÜFUNG".encode()))  # 13 bytes for 11 characters


def test_matches_do_not_overlap() -> None:
    _, highlights = extract_snippet("aaaa", "aa")
    assert highlights == [(0, 2), (2, 4)]


def test_lowering_keeps_one_character_per_character() -> None:
    # str.lower() turns 'İ' into two characters and a final 'Σ' into 'ς'; the seed's mapping does neither.
    assert simple_lower("İSTANBUL ΟΔΟΣ") == "istanbul οδοσ"
    snippet, highlights = extract_snippet("İstanbul İSTANBUL", "istanbul")
    assert _marked(snippet, highlights) == ["İstanbul", "İSTANBUL"]
