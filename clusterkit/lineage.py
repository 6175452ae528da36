"""What produced a result: library versions recorded with every run."""

from __future__ import annotations

import functools
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


@functools.cache
def source_digest(*names: str) -> str:
    """A digest of the code of clusterkit's modules and packages named (a package: every ``.py``
    and ``.sql`` file under it): part of a stage's reuse key, so a stored result is never reused
    once the code that made it changed (a constant, a query), whether or not anyone remembered to
    bump a recipe version. Computed once per process (the code does not change under it)."""
    import importlib.util

    digest = hashlib.sha256()
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"no module {name!r}")
        if spec.submodule_search_locations:  # a package
            root = resources.files(name)
            files, stack = [], [root]
            while stack:
                for entry in stack.pop().iterdir():
                    if entry.is_dir():
                        if entry.name != "__pycache__":
                            stack.append(entry)
                    elif entry.name.endswith((".py", ".sql")):
                        files.append(entry)
            for entry in sorted(files, key=str):
                digest.update(f"{name}:{str(entry).removeprefix(str(root))}".encode())
                digest.update(entry.read_bytes())
        else:
            digest.update(name.encode())
            with open(spec.origin, "rb") as fh:
                digest.update(fh.read())
    return digest.hexdigest()[:16]
