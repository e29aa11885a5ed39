"""Span, trace, task and session hierarchies: the read models behind the `spans` and `hierarchy` functions."""
