"""Vectors shared across the robustness cells of one run: every cell draws its prompts from the same
public corpora, so a text embedded for one cell is met again in later ones (12-15% of a cell's prompts
are in any one other cell; measured on tuning cells k1-k3). ``SharedVectors`` keeps what the run's
embedders computed in a DuckDB file in the run's work folder (made afresh for each run), keyed by the
model id and the SHA-256 of the exact text encoded; each cell's own store still records its own
embed run and holds every vector, so every cell runs the whole chain as a user would, minus
re-encoding a text the same model already encoded in this run.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SharedVectors"]


class SharedVectors:
    """The run's shared vectors at ``path`` (any file there is replaced) and how many texts were
    encoded (``computed``) and taken from it (``reused``)."""

    def __init__(self, path: Path) -> None:
        import duckdb

        path.unlink(missing_ok=True)
        self.reused = 0
        self.computed = 0
        self._con = duckdb.connect(str(path))
        self._con.execute("CREATE TABLE vectors (model_id VARCHAR, text_sha VARCHAR, vector FLOAT[])")
        self._embedders: dict[str | None, _Cached] = {}

    def wrapping(self, model: str | None) -> _Cached:
        """The embedder of ``model`` (None: the default one, as ``clusterkit run``), through these
        vectors; one per model for the whole run, so its model loads once."""
        if model not in self._embedders:
            from clusterkit.embed import get_embedder

            self._embedders[model] = _Cached(get_embedder(None, model), self)
        return self._embedders[model]

    def close(self) -> None:
        self._con.close()

    def _lookup(self, model_id: str, keys: list[str]) -> dict[str, np.ndarray]:
        import pyarrow as pa

        self._con.register("_wanted", pa.table({"text_sha": pa.array(sorted(set(keys)), pa.string())}))
        try:
            rows = self._con.execute(
                "SELECT v.text_sha, v.vector FROM vectors v JOIN _wanted w USING (text_sha) WHERE v.model_id = ?",
                [model_id],
            ).fetchall()
        finally:
            self._con.unregister("_wanted")
        return {sha: np.asarray(vec, dtype=np.float32) for sha, vec in rows}

    def _add(self, model_id: str, keys: list[str], vectors: np.ndarray) -> None:
        import pyarrow as pa

        table = pa.table(
            {
                "model_id": pa.array([model_id] * len(keys), pa.string()),
                "text_sha": pa.array(keys, pa.string()),
                "vector": pa.array([v.tolist() for v in vectors], pa.list_(pa.float32())),
            }
        )
        self._con.register("_fresh", table)
        try:
            self._con.execute("INSERT INTO vectors SELECT model_id, text_sha, vector FROM _fresh")
        finally:
            self._con.unregister("_fresh")


class _Cached:
    """An embedder that encodes with ``inner`` only the texts the shared vectors do not hold for its
    model id; everything else (``model_id``, ``max_tokens``, ``token_lengths``, ...) is ``inner``'s."""

    def __init__(self, inner: Any, shared: SharedVectors) -> None:
        self.inner = inner
        self.shared = shared

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: list[str]) -> np.ndarray:
        model_id = str(self.inner.model_id)
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        known = self.shared._lookup(model_id, keys)
        missing: dict[str, int] = {}  # one text per key not held
        for i, k in enumerate(keys):
            if k not in known:
                missing.setdefault(k, i)
        if missing:
            fresh = np.asarray(self.inner.encode([texts[i] for i in missing.values()]), dtype=np.float32)
            known.update(zip(missing, fresh))
            self.shared._add(model_id, list(missing), fresh)
        self.shared.computed += len(missing)
        self.shared.reused += len(texts) - len(missing)
        if not keys:
            return np.zeros((0, int(self.inner.dim)), dtype=np.float32)
        return np.stack([known[k] for k in keys])
