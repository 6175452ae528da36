"""Prompt extraction from chat request bodies.

Understands OpenAI ``chat.completions`` bodies (``{"model", "messages": [...]}``), OpenAI
Responses bodies (``{"input": str | [...], "instructions"}``), legacy completions
(``{"prompt": str}``), Anthropic ``messages`` bodies (``{"model", "system", "messages"}``), Gemini
``generateContent`` bodies (``{"contents": [{"role", "parts"}], "systemInstruction"}``) and a
bare ``messages`` list. The prompt is the text of the last user turn; the system prompt (a top-level
``system``/``instructions`` or ``system``/``developer`` role messages) is returned separately, and
so is the first user turn of a multi-turn conversation (``context``: what the last turn is about).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

__all__ = ["ChatPrompt", "extract_prompt"]

_TEXT_BLOCKS = ("text", "input_text")
_SYSTEM_ROLES = ("system", "developer")
_BODY_KEYS = frozenset(
    (
        "messages",
        "system",
        "instructions",
        "input",
        "prompt",
        "model",
        "contents",
        "systemInstruction",
        "system_instruction",
    )
)


class ChatPrompt(NamedTuple):
    """What a request body says: the prompt, the system prompt and what else was in it."""

    text: str | None
    system: str | None = None
    model: str | None = None
    messages: list[Any] | None = None
    n_turns: int = 0
    other_blocks: tuple[str, ...] = ()
    params: dict[str, Any] | None = None
    #: the first user turn, when the conversation has earlier user turns than the last one (what
    #: "now give a harder variant" is about); None for a single-turn request
    context: str | None = None


def _content_text(content: Any, other: list[str]) -> str | None:
    """Text of a message's content: a string or a list of typed blocks."""
    if type(content) is str:
        return content
    if content is None:
        return None
    if type(content) is list and len(content) == 1:  # the common single text block
        block = content[0]
        if type(block) is dict and block.get("type") == "text" and type(block.get("text")) is str:
            return block["text"]
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict):
                kind = block.get("type", "text")
                if kind in _TEXT_BLOCKS and isinstance(block.get("text"), str):
                    parts.append(block["text"])
                else:
                    other.append(str(kind))
            else:
                other.append(type(block).__name__)
        return "\n".join(parts) if parts else None
    return str(content)


def _from_messages(messages: list[Any], other: list[str]) -> tuple[str | None, list[str], str | None]:
    """Last user turn's text, the system/developer turns' texts and the first user turn's text
    when it is an earlier turn than the last."""
    last_user = first_user = None
    systems: list[str] = []
    for msg in messages:
        if type(msg) is not dict:
            continue
        role = msg.get("role", "user")
        if role == "user":
            if first_user is None:
                first_user = msg
            last_user = msg
        elif role in _SYSTEM_ROLES:
            text = _content_text(msg.get("content"), [])
            if text:
                systems.append(text)
    prompt = _content_text(last_user.get("content"), other) if last_user is not None else None
    context = None
    if first_user is not None and first_user is not last_user:
        context = _content_text(first_user.get("content"), [])
        if context is not None and (not context.strip() or context == prompt):
            context = None
    return prompt, systems, context


def _maybe_json(value: str) -> Any:
    """A string that holds a JSON chat body (as CSV logs often do) is decoded; else returned."""
    s = value.lstrip()
    if s[:1] in ("{", "[") and ('"messages"' in s or '"role"' in s or '"input"' in s):
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            return value
    return value


def extract_prompt(value: Any, *, decode_json: bool = False) -> ChatPrompt:
    """Turn the value at the text path into a :class:`ChatPrompt`.

    A plain string is the prompt itself, unless ``decode_json`` (set for CSV, whose cells cannot
    nest) and it holds a JSON chat body. A body or message list yields the last user turn.
    Non-text blocks (images, tool results) are listed in ``other_blocks``, never fatal.
    """
    if type(value) is str:
        if not decode_json:
            return ChatPrompt(text=value)
        value = _maybe_json(value)
        if isinstance(value, str):
            return ChatPrompt(text=value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return ChatPrompt(text=str(value))
    other: list[str] = []
    if isinstance(value, list):
        prompt, systems, context = _from_messages(value, other)
        return ChatPrompt(
            text=prompt,
            system="\n\n".join(systems) or None,
            messages=value,
            n_turns=len(value),
            other_blocks=tuple(other),
            context=context,
        )
    if not isinstance(value, dict):
        return ChatPrompt(text=None)

    systems = []
    top_system = value.get("system", value.get("instructions"))
    if top_system is None:  # Gemini: {"parts": [{"text": ...}]}
        top_system = value.get("systemInstruction", value.get("system_instruction"))
        top_system = top_system.get("parts") if isinstance(top_system, dict) else top_system
    if top_system is not None:
        text = _content_text(top_system, [])
        if text:
            systems.append(text)
    messages = value.get("messages")
    if messages is None and isinstance(value.get("input"), list):
        messages = value["input"]
    if messages is None and isinstance(value.get("contents"), list):  # Gemini turns: role, parts
        messages = [
            {"role": turn.get("role", "user"), "content": turn.get("parts")} if isinstance(turn, dict) else turn
            for turn in value["contents"]
        ]
    context = None
    if isinstance(messages, list):
        prompt, more, context = _from_messages(messages, other)
        systems.extend(more)
    elif isinstance(value.get("input"), str):
        prompt = value["input"]
    elif isinstance(value.get("prompt"), str):
        prompt = value["prompt"]
    else:
        prompt = None
    model = value.get("model")
    params = {k: v for k, v in value.items() if k not in _BODY_KEYS} or None
    return ChatPrompt(
        text=prompt,
        system="\n\n".join(systems) or None,
        model=str(model) if model is not None else None,
        messages=messages if isinstance(messages, list) else None,
        n_turns=len(messages) if isinstance(messages, list) else 0,
        other_blocks=tuple(other),
        params=params,
        context=context,
    )
