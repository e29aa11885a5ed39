"""Masks secrets in the content-bearing attributes (prompts, responses, tool inputs and results)."""

from __future__ import annotations

from typing import Any

from core.redact import mask_value

# Only these carry user content; scanning every attribute would cost the hot path for nothing.
CONTENT_KEYS = frozenset({
    "prompt", "response", "tool_input", "tool_parameters", "tool_result", "function_args", "function_response",
    "error", "body", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.prompt", "gen_ai.completion", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    "input.value", "output.value", "llm.input_messages", "llm.output_messages", "bash_command",
    "response_text", "request_text",  # Gemini CLI api_response / api_request when content logging is on
})


def mask_content(attrs: dict[str, Any], counts: dict[str, int]) -> None:
    """Mask secrets in place in the content attributes, adding what was found to ``counts`` by kind."""
    for key in CONTENT_KEYS.intersection(attrs):
        masked, found = mask_value(attrs[key])
        if found:
            attrs[key] = masked
            for kind, n in found.items():
                counts[kind] = counts.get(kind, 0) + n


def mask_text(text: str | None, counts: dict[str, int]) -> str | None:
    if not text:
        return text
    masked, found = mask_value(text)
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n
    return masked if isinstance(masked, str) else text
