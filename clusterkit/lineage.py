"""What produced a result: library versions recorded with every run."""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["package_versions"]

_BASE = ("clusterkit", "duckdb", "pyarrow", "numpy")


def package_versions(*extra: str) -> dict[str, str]:
    """Installed versions of clusterkit's core packages plus ``extra`` ones (``None`` if absent)."""
    out = {"python": platform.python_version()}
    for name in (*_BASE, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
