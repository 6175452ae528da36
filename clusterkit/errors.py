"""Error hierarchy: every error clusterkit raises on purpose derives from ClusterkitError.

Each message says what was wrong, where, and what to do about it.
"""

from __future__ import annotations

__all__ = ["ClusterkitError", "InputError", "MappingError", "ModelError", "StoreError"]


class ClusterkitError(Exception):
    """Base class for errors raised by clusterkit."""


class InputError(ClusterkitError):
    """An input file or path cannot be read (missing, unsupported format, unreadable)."""


class MappingError(ClusterkitError):
    """A field mapping is invalid or a required field cannot be found in the input."""


class StoreError(ClusterkitError):
    """The DuckDB store cannot be opened, migrated or queried as asked."""


class ModelError(ClusterkitError):
    """An embedding model or backend cannot be resolved, prepared or loaded."""
