"""Search snippets as the seed builds them (`extractSnippet`): a window of characters around the first match, and
the byte offsets of every match inside the returned snippet.

- Matching is case-insensitive by simple (one character to one character) lower-casing, as Go's `strings.ToLower`.
- No match: the first `window` characters, plus `...` when the content is longer.
- A match: `window` characters starting `window // 2` before it, clamped to the content; `...` before when the
  window starts after the beginning, after when it stops before the end.
- Highlights: every non-overlapping occurrence of the term inside the window, as `(start, end)` offsets in UTF-8
  **bytes** of the returned snippet, counting the three bytes of a leading `...`. A browser slices the snippet by
  these after encoding it as UTF-8 (e.g. with `TextEncoder`).
- Empty content or an empty term: the content unchanged, no highlights.
"""

from __future__ import annotations

from functools import lru_cache

ELLIPSIS = "..."
DEFAULT_WINDOW = 200


@lru_cache(maxsize=4096)
def _lower_char(char: str) -> str:
    low = char.lower()
    return low[0] if low else char  # 'İ' lowers to two characters; its simple mapping is the first


def simple_lower(text: str) -> str:
    """Lower-case character by character, so the result has exactly as many characters as `text`."""
    # str.lower() differs from the per-character mapping only for 'İ' (two characters) and a final 'Σ' ('ς').
    if "İ" not in text and "Σ" not in text:
        return text.lower()
    return "".join(map(_lower_char, text))


def extract_snippet(content: str, term: str, window: int = DEFAULT_WINDOW) -> tuple[str, list[tuple[int, int]]]:
    """(snippet, highlights as (start, end) byte offsets into the snippet)."""
    if not content or not term:
        return content, []
    lower = simple_lower(content)
    needle = simple_lower(term)
    match = lower.find(needle)
    n = len(content)
    if match < 0:
        return (content[:window] + ELLIPSIS, []) if n > window else (content, [])
    start = max(0, match - window // 2)
    end = start + window
    if end > n:
        end = n
        start = max(0, end - window)
    prefix = ELLIPSIS if start > 0 else ""
    suffix = ELLIPSIS if end < n else ""
    snippet = content[start:end]
    snippet_lower = lower[start:end]
    base = len(prefix)  # "..." is ASCII: characters and bytes agree
    highlights: list[tuple[int, int]] = []
    pos = snippet_lower.find(needle)
    while pos >= 0:
        byte_start = base + len(snippet[:pos].encode("utf-8"))
        byte_end = byte_start + len(snippet[pos:pos + len(needle)].encode("utf-8"))
        highlights.append((byte_start, byte_end))
        pos = snippet_lower.find(needle, pos + len(needle))
    return prefix + snippet + suffix, highlights
