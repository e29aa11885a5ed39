"""Model-name normalisation: map vendor, gateway and cloud spellings of a model id to the price-table key."""

from __future__ import annotations

import functools
import re

__all__ = ["alternate_spelling", "canonical_spelling", "normalise_model_name"]

# Bedrock ids: optional cross-region inference prefix, then the vendor ("us.anthropic.claude-...").
_DOT_PREFIX = re.compile(r"^(?:(?:us|eu|apac|au|ca|jp|global|us-gov)\.)?(?:anthropic|google|openai)\.")
# One trailing snapshot/deployment decoration; stripped repeatedly because they stack
# ("claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-v2@20241022").
_SUFFIX = re.compile(
    r"(?:-latest"
    r"|(?<=\d)-v\d+(?::\d+)?"  # bedrock -v1:0, vertex -v2 (after a version, so "deepseek-v3" survives)
    r"|[-@]\d{8}"  # -20250929, @20250929
    r"|-\d{4}-\d{2}-\d{2}"  # -2025-04-14 (OpenAI snapshots)
    r"|@[\w.-]*"  # any other vertex @version
    r"|\[[^\]]*\]"  # Claude Code context markers such as [1m]
    r"|:\d+"  # bare bedrock :0
    r")$"
)
_GEMINI_BUILD = re.compile(r"^(gemini-.*)-0\d\d$")  # gemini-2.0-flash-001
# Gemini 3 preview snapshots ("gemini-3-pro-preview-11-2025") price as the preview entry.
_GEMINI3_PREVIEW_DATE = re.compile(r"^(gemini-3[\w.-]*-preview)-\d{2}-\d{2,4}$")
# Older Claude ordering: version before family ("claude-3-5-haiku" -> "claude-haiku-3-5").
_CLAUDE_OLD_ORDER = re.compile(r"^claude-(\d+(?:-\d+)?)-(opus|sonnet|haiku)(?=-|$)")
_CLAUDE_ZERO_MINOR = re.compile(r"^(claude-(?:opus|sonnet|haiku)-\d+)-0$")  # alias claude-opus-4-0
# Only the version right after the family takes a dot, so dates and builds keep their dashes; minor
# versions are one digit, so the snapshot in "gpt-4-0613" is not one.
_DOTTED_FAMILY = re.compile(r"^(gpt|gemini)-(\d+)-(\d)(?![\d.])")
_DIGIT_DASH_DIGIT = re.compile(r"(?<=\d)-(?=\d)")


def canonical_spelling(name: str) -> str:
    """Lower-case, drop provider prefixes and fix version spelling, keeping any snapshot suffix.

    Used for table keys too, so a snapshot-specific entry ("gpt-4o-2024-05-13") can win over its
    family entry while "claude-sonnet-4.5" and "claude-sonnet-4-5" still land on one key.
    """
    text = name.strip().lower()
    # Gateways and clouds nest prefixes ("openrouter/anthropic/...", "projects/.../models/x");
    # the model id is always the last path segment.
    text = text.rpartition("/")[2]
    text = _DOT_PREFIX.sub("", text, count=1)
    if text.startswith("claude"):
        # Claude's canonical key uses dashes ("claude-sonnet-4-5"); vendors and gateways also write dots.
        text = text.replace(".", "-")
        text = _CLAUDE_OLD_ORDER.sub(r"claude-\2-\1", text, count=1)
        text = _CLAUDE_ZERO_MINOR.sub(r"\1", text, count=1)
    elif text.startswith(("gpt-", "gemini-")):
        # GPT and Gemini keep the vendor's dotted versions ("gpt-4.1", "gemini-2.5-pro").
        text = _DOTTED_FAMILY.sub(r"\1-\2.\3", text, count=1)
    return text


@functools.lru_cache(maxsize=2048)
def normalise_model_name(name: str) -> str:
    """Return the price-table key for `name`: canonical spelling without dates, builds or aliases."""
    text = canonical_spelling(name)
    for _ in range(4):  # bounded: suffixes stack at most three deep in practice
        stripped = _SUFFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    if text.startswith("gemini-"):
        text = _GEMINI_BUILD.sub(r"\1", text, count=1)
        text = _GEMINI3_PREVIEW_DATE.sub(r"\1", text, count=1)
    elif text.startswith("claude"):
        text = _CLAUDE_ZERO_MINOR.sub(r"\1", text, count=1)
    return text


def alternate_spelling(key: str) -> str | None:
    """The same key with dots and dashes swapped in the version, or None when there is nothing to swap."""
    if "." in key:
        return key.replace(".", "-")
    swapped = _DIGIT_DASH_DIGIT.sub(".", key, count=1)
    return swapped if swapped != key else None
