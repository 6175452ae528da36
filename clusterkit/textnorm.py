"""Prompt text normalisation and content hashes.

Prompts are de-duplicated by a hash of their *normalised* text: Unicode NFC, surrounding
whitespace stripped and inner runs of whitespace collapsed to one space. Case and punctuation
are kept: they carry meaning and are part of what a template looks like.
"""

from __future__ import annotations

import hashlib
import unicodedata

__all__ = ["content_hash", "normalise_text", "text_hash"]


def normalise_text(text: str) -> str:
    """Return ``text`` in NFC with whitespace collapsed and stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def text_hash(text: str) -> str:
    """Hash (32 hex chars) of the normalised form of ``text``."""
    return hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=16).hexdigest()


def content_hash(*parts: object) -> str:
    """Hash (32 hex chars) of a tuple of values, used to compare records field by field."""
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
