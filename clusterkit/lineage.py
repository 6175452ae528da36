"""What produced a result: library versions recorded with every run."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata, resources

__all__ = ["package_versions", "source_digest"]

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


def source_digest(package: str) -> str:
    """A digest of the code (``.py`` and ``.sql`` files) of one of clusterkit's packages: part of
    a stage's reuse key, so a stored result is never reused once the code that made it changed
    (a constant, a query), whether or not anyone remembered to bump a recipe version."""
    digest = hashlib.sha256()
    root = resources.files(package)
    stack = [root]
    files = []
    while stack:
        for entry in stack.pop().iterdir():
            if entry.is_dir():
                if entry.name != "__pycache__":
                    stack.append(entry)
            elif entry.name.endswith((".py", ".sql")):
                files.append(entry)
    for entry in sorted(files, key=lambda e: str(e)):
        digest.update(str(entry).removeprefix(str(root)).encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()[:16]
