"""Pieces of OpenAI chat completions bodies shared by the Anthropic and Gemini translators."""

from __future__ import annotations

from typing import Any


def chat_message(role: str, parts: list[dict[str, Any]], calls: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One OpenAI chat message from content parts and tool calls; None when there is neither.

    Text-only content becomes a plain string (what every OpenAI-compatible server accepts);
    mixed content stays a list of parts.
    """
    if not parts and not calls:
        return None
    only_text = all(p["type"] == "text" for p in parts)
    msg: dict[str, Any] = {"role": role, "content": "".join(p["text"] for p in parts) if only_text else parts}
    if calls:
        msg["tool_calls"] = calls
    return msg
