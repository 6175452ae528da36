"""Prompt texts and the embedding cache: one ``emb_<key>`` table per model in ``embedding_models``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import duckdb

from ..errors import StoreError
from .connection import Connection, check_identifier

__all__ = ["CONTEXT_CHARS", "EmbeddingsMixin"]

#: characters of a conversation's first user turn put before its last turn in what is embedded
#: (the bundled model reads ~256 word pieces: the last turn must stay inside that window)
CONTEXT_CHARS = 600


class EmbeddingsMixin(Connection):
    """Prompts' texts and their vectors, one table per embedding model."""

    # -- prompts and embeddings ------------------------------------------------------------
    def count_prompts(self) -> int:
        return int(self._value("SELECT count(*) FROM prompts"))

    def _embedding_model(self, model_id: str) -> tuple[str, int] | None:
        row = self._row("SELECT model_key, dim FROM embedding_models WHERE model_id = ?", [model_id])
        return None if row is None else (f"emb_{int(row[0])}", int(row[1]))

    def embedding_table(self, model_id: str, dim: int, max_tokens: int | None = None) -> str:
        """Name of the table holding ``model_id``'s vectors, created on first use."""
        found = self._embedding_model(model_id)
        if found is not None:
            table, known_dim = found
            if known_dim != dim:
                raise StoreError(f"model {model_id!r} is stored with dimension {known_dim}, not {dim}")
            return table
        with self.transaction():
            key = int(self._value("SELECT coalesce(max(model_key), 0) + 1 FROM embedding_models"))
            self._con.execute(
                "INSERT INTO embedding_models (model_key, model_id, dim, max_tokens, created_at) VALUES (?, ?, ?, ?, now())",
                [key, model_id, int(dim), max_tokens],
            )
            table = check_identifier(f"emb_{key}")
            self._con.execute(
                f"CREATE TABLE {table} (prompt_hash VARCHAR PRIMARY KEY, vector FLOAT[{int(dim)}] NOT NULL, "
                "n_tokens INTEGER, truncated BOOLEAN, run_id BIGINT NOT NULL)"
            )
        return table

    def prompts_without_embedding(self, model_id: str) -> list[str]:
        """Hashes of prompts with no vector for ``model_id``, shortest text first."""
        found = self._embedding_model(model_id)
        if found is None:
            rows = self._con.execute("SELECT prompt_hash FROM prompts ORDER BY n_chars, prompt_hash").fetchall()
        else:
            rows = self._con.execute(
                f"SELECT p.prompt_hash FROM prompts p ANTI JOIN {found[0]} e USING (prompt_hash) "
                "ORDER BY p.n_chars, p.prompt_hash"
            ).fetchall()
        return [r[0] for r in rows]

    def prompt_texts(self, hashes: Sequence[str], *, with_context: bool = False) -> list[str]:
        """Texts of ``hashes``, in the same order (see :meth:`iter_prompt_texts`)."""
        return [text for part in self.iter_prompt_texts(hashes, with_context=with_context) for text in part]

    def iter_prompt_texts(
        self, hashes: Sequence[str], chunk: int = 50_000, *, with_context: bool = False
    ) -> Iterator[list[str]]:
        """Texts of ``hashes`` in the same order, ``chunk`` at a time (a million prompts' texts
        need not sit in memory at once). The text is the last user turn, as displayed; with
        ``with_context`` a multi-turn prompt is its conversation's first user turn (at most
        ``CONTEXT_CHARS``), a blank line, then the last turn: what is embedded and described."""
        import pyarrow as pa

        for start in range(0, len(hashes), chunk):
            part = list(hashes[start : start + chunk])
            keys = pa.table({"prompt_hash": pa.array(part, pa.string()), "pos": pa.array(range(len(part)), pa.int64())})
            with self._registered(_keys=keys):
                text = "p.text"
                if with_context:
                    text = "CASE WHEN p.context IS NULL THEN p.text ELSE left(p.context, ?) || chr(10) || chr(10) || p.text END"
                rows = self._con.execute(
                    f"SELECT k.pos, {text} FROM _keys k JOIN prompts p USING (prompt_hash) ORDER BY k.pos",
                    [CONTEXT_CHARS] if with_context else None,
                ).fetchall()
            if len(rows) != len(part):
                raise StoreError(f"{len(part) - len(rows)} prompt hash(es) not found in the prompts table")
            yield [r[1] for r in rows]

    def write_embeddings(
        self, table: str, hashes: Sequence[str], vectors: Any, n_tokens: Any, max_tokens: int | None, run_id: int
    ) -> None:
        """Insert one committed batch of vectors (existing hashes are left as they are)."""
        import numpy as np
        import pyarrow as pa

        check_identifier(table)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        flat = pa.array(vectors.reshape(-1), pa.float32())
        tokens = pa.array(n_tokens, pa.int32()) if n_tokens is not None else pa.nulls(n, pa.int32())
        trunc = (
            pa.array(np.asarray(n_tokens) > max_tokens)
            if n_tokens is not None and max_tokens
            else pa.nulls(n, pa.bool_())
        )
        batch = pa.table(
            {
                "prompt_hash": pa.array(list(hashes), pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
                "n_tokens": tokens,
                "truncated": trunc,
            }
        )
        with self._registered(_emb=batch):
            self._con.execute(
                f"INSERT INTO {table} (prompt_hash, vector, n_tokens, truncated, run_id) "
                f"SELECT prompt_hash, vector, n_tokens, truncated, ? FROM _emb "
                f"WHERE prompt_hash NOT IN (SELECT prompt_hash FROM {table})",
                [run_id],
            )

    def release_memory(self) -> None:
        """Drop DuckDB's cache of table blocks before memory-heavy work outside DuckDB. DuckDB keeps
        the blocks it has read or written, up to ``memory_limit`` (after embedding a million
        prompts: about 2 GB), until it needs the room itself; lowering the limit for a moment makes
        it evict them, and the store's limit is then set again (DuckDB's default if it had none)."""
        limit = self._memory_limit
        if limit is not None and not re.fullmatch(r"[0-9.]+ *[A-Za-z]*", limit):
            return  # not a size to put back into SQL text: leave the cache alone
        try:
            self._con.execute("SET memory_limit = '16MB'")
        except duckdb.Error:
            pass  # blocks still in use: whatever could be evicted was
        finally:
            self._con.execute("RESET memory_limit" if limit is None else f"SET memory_limit = '{limit}'")

    def load_embeddings(self, model_id: str, batch: int = 100_000) -> tuple[list[str], Any]:
        """All stored vectors of ``model_id``: (prompt hashes sorted, float32 matrix).

        The vectors stream into a matrix allocated once, each batch put at its hash's sorted
        position: sorting in DuckDB would carry every vector through the sort and hold about twice
        the matrix (a million 384-d vectors: 1.5 GB more), and DuckDB's allocator keeps it."""
        import numpy as np

        found = self._embedding_model(model_id)
        if found is None:
            raise StoreError(f"no embeddings for model {model_id!r}; run `clusterkit embed` first")
        table, dim = found
        hashes = sorted(r[0] for r in self._con.execute(f"SELECT prompt_hash FROM {table}").fetchall())
        where = {h: i for i, h in enumerate(hashes)}
        matrix = np.empty((len(hashes), dim), dtype=np.float32)
        filled = 0
        reader = self._con.sql(f"SELECT prompt_hash, vector FROM {table}").to_arrow_reader(batch)
        for part in reader:
            rows = np.fromiter((where[h] for h in part.column(0).to_pylist()), np.int64, part.num_rows)
            matrix[rows] = np.asarray(part.column(1).flatten(), dtype=np.float32).reshape(-1, dim)
            filled += part.num_rows
        if filled != len(hashes):
            raise StoreError(f"{table} changed while its vectors were read ({filled} of {len(hashes)} rows)")
        return hashes, matrix

    def embedding_models(self) -> list[dict[str, Any]]:
        cur = self._con.execute("SELECT * FROM embedding_models ORDER BY model_key")
        return [dict(zip([d[0] for d in cur.description], row)) for row in cur.fetchall()]
