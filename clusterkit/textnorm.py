"""Prompt text normalisation and content hashes.

Prompts are de-duplicated by a hash of their *normalised* text: Unicode NFC, surrounding
whitespace stripped and inner runs of whitespace collapsed to one space. Case and punctuation
are kept: they carry meaning and are part of what a template looks like.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import orjson

__all__ = ["content_hash", "normalise_text", "prompt_hash", "text_hash", "visible"]


def normalise_text(text: str) -> str:
    """Return ``text`` in NFC with whitespace collapsed and stripped."""
    if not text.isascii():  # ASCII text is already NFC
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def text_hash(text: str) -> str:
    """Hash (32 hex chars) of the normalised form of ``text``."""
    return hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=16).hexdigest()


def content_hash(*parts: object) -> str:
    """Hash (32 hex chars) of a tuple of values, used to compare records field by field."""
    return hashlib.blake2b(orjson.dumps(parts, default=str), digest_size=16).hexdigest()


def prompt_hash(text: str, context: str | None = None) -> str:
    """Hash of a prompt: :func:`text_hash` of its text, or for a multi-turn prompt a hash of its
    context (the conversation's first user turn) and its text, so the same follow-up ("now a harder
    variant") in two conversations is two prompts, never one."""
    if context is None:
        return text_hash(text)
    return content_hash("conversation", normalise_text(context), normalise_text(text))


#: characters a reader cannot see that change what they think they read: C0/C1 controls (tab,
#: newline and carriage return aside), zero-width characters, bidirectional embeddings, overrides
#: and isolates (an account id ``admin\u202egnp.exe`` displays as ``adminexe.png``), the BOM
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def visible(text: str) -> str:
    """``text`` for display: every invisible or direction-changing character shown as ``⟨U+XXXX⟩``
    (the stored value is unchanged; exports keep it as it is)."""
    return _INVISIBLE.sub(lambda m: f"⟨U+{ord(m.group()):04X}⟩", text)
