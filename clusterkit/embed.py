"""Prompt embeddings: a content-addressed cache in the store, filled in length-sorted batches.

``embed_texts`` works on plain lists; ``embed`` works on a store: it embeds only the prompts the
store has no vector for under the same model id, one committed batch at a time, so an
interrupted run (Ctrl-C, kill) resumes where it stopped and loses at most one batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from .errors import InputError, ModelError
from .lineage import package_versions
from .models import DEFAULT_BACKEND, load_sentence_model, resolve_model
from .multilingual import UseEmbedder, is_use
from .ray_engine import RayOptions
from .static import StaticUseEmbedder, is_static

__all__ = ["EmbedReport", "Embedder", "SentenceEmbedder", "embed", "embed_texts", "embedder_for", "get_embedder"]

ProgressFn = Callable[[int, int], None]


@runtime_checkable
class Embedder(Protocol):
    """Anything with ``encode(texts) -> ndarray (n, dim)`` can embed prompts.

    Optional attributes: ``model_id`` (the cache key; defaults to the class name) and
    ``max_tokens`` with ``token_lengths(texts)`` to record truncation."""

    def encode(self, texts: list[str]) -> np.ndarray: ...


class SentenceEmbedder:
    """A sentence-transformers model on a chosen backend (see :mod:`clusterkit.models`)."""

    def __init__(
        self,
        model: str | None = None,
        backend: str = DEFAULT_BACKEND,
        *,
        batch_size: int = 32,
        threads: int | None = None,
    ) -> None:
        self.spec = resolve_model(model)
        self.backend = backend
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None

    @property
    def model_id(self) -> str:
        return f"{self.spec.model_id}@{self.backend}"

    @property
    def st(self) -> Any:
        if self._model is None:
            self._model = load_sentence_model(self.spec, self.backend, self.threads)
        return self._model

    @property
    def max_tokens(self) -> int:
        return int(self.st.max_seq_length)

    @property
    def dim(self) -> int:
        dim = self.st.get_sentence_embedding_dimension()
        return int(dim) if dim else int(self.encode(["x"]).shape[1])

    def token_lengths(self, texts: list[str]) -> np.ndarray:
        enc = self.st.tokenizer(
            texts,
            add_special_tokens=True,
            truncation=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        return np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int32, count=len(texts))

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.st.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def get_embedder(
    embedder: Embedder | None = None,
    model: str | None = None,
    backend: str = DEFAULT_BACKEND,
    batch_size: int = 32,
    threads: int | None = None,
) -> Embedder:
    """The embedder to use: the one given (checked against the protocol), the multilingual USE
    model (:mod:`clusterkit.multilingual`) or its static fast path (:mod:`clusterkit.static`) when
    ``model`` names one, or a SentenceEmbedder."""
    native = _native(model)
    if embedder is None and native is not None:
        if backend not in (DEFAULT_BACKEND, native.backend):
            raise ModelError(f"the {model!r} model runs on numpy only; backend {backend!r} does not apply to it")
        return native(threads=threads)
    if embedder is None:
        return SentenceEmbedder(model, backend, batch_size=batch_size, threads=threads)
    if not isinstance(embedder, Embedder):
        raise ModelError(f"{type(embedder).__name__} has no encode(texts) method; it cannot embed prompts")
    return embedder


def embedder_for(model_id: str) -> Embedder:
    """The embedder whose vectors are stored under ``model_id`` (``model@backend``, as
    :attr:`SentenceEmbedder.model_id` and :attr:`UseEmbedder.model_id` write it): what embeds new
    text into a stored run's space. A model id this installation cannot reproduce (another version
    of the multilingual package) is a :class:`ModelError`."""
    model, _, backend = model_id.rpartition("@")
    if not model:
        raise ModelError(f"{model_id!r} is not a stored model id (model@backend)")
    native = _native(model)
    if native is not None:
        emb = native()
        if emb.model_id != model_id:
            raise ModelError(f"vectors of {model_id!r} cannot be reproduced by the installed {emb.model_id!r}")
        return emb
    return SentenceEmbedder(model, backend)


def _native(model: Any) -> type[UseEmbedder] | type[StaticUseEmbedder] | None:
    """The bundled non-sentence-transformers embedder ``model`` names (a ``--model`` value or the
    model part of a stored id), if any."""
    return StaticUseEmbedder if is_static(model) else UseEmbedder if is_use(model) else None


def model_flag(model_id: str) -> str:
    """The ``--model`` value that embeds with the model of a stored id (``model@backend``)."""
    model = model_id.rpartition("@")[0] or model_id
    return "static" if is_static(model) else "multilingual" if is_use(model) else model


def _model_id(embedder: Embedder) -> str:
    return str(getattr(embedder, "model_id", type(embedder).__name__))


def _check(vectors: Any, n: int, who: str) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ModelError(f"{who}.encode returned shape {arr.shape}, expected ({n}, dim)")
    if not np.isfinite(arr).all():
        raise ModelError(f"{who}.encode returned NaN or infinite values")
    return arr


def embed_texts(
    texts: Sequence[str],
    *,
    model: str | None = None,
    backend: str = DEFAULT_BACKEND,
    embedder: Embedder | None = None,
    batch_size: int = 32,
    threads: int | None = None,
) -> np.ndarray:
    """Embed ``texts`` (arrays in, arrays out; no store). Rows follow the input order; texts are
    encoded in length-sorted order so batches carry little padding. Empty texts are refused."""
    texts = list(texts)
    empty = [i for i, t in enumerate(texts) if not t or not t.strip()]
    if empty:
        raise ModelError(f"{len(empty)} empty text(s) (first at index {empty[0]}); empty prompts are never embedded")
    emb = get_embedder(embedder, model, backend, batch_size, threads)
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    vectors = _check(emb.encode([texts[i] for i in order]), len(texts), type(emb).__name__)
    out = np.empty_like(vectors)
    out[order] = vectors
    return out


@dataclass(frozen=True)
class EmbedReport:
    """What one ``embed`` call did."""

    #: the run that embedded the prompts; with nothing left to embed, the last embed run of the model
    run_id: int | None
    model_id: str
    embedded: int
    cached: int
    truncated: int
    seconds: float


def _local_batches(
    store: Any, emb: Embedder, missing: Sequence[str], chunk_size: int, timings: dict[str, float]
) -> Iterator[tuple[Sequence[str], np.ndarray, Any, int | None]]:
    """The local engine: chunks of prompts read from the store and encoded in this process;
    (hashes, vectors, token counts, the model's token window) per chunk."""
    max_tokens = getattr(emb, "max_tokens", None)
    for start in range(0, len(missing), chunk_size):
        hashes = missing[start : start + chunk_size]
        t0 = time.perf_counter()
        texts = store.prompt_texts(hashes, with_context=True)
        t1 = time.perf_counter()
        vectors = _check(emb.encode(texts), len(texts), type(emb).__name__)
        n_tokens = emb.token_lengths(texts) if hasattr(emb, "token_lengths") else None
        timings["read"] += t1 - t0
        timings["encode"] += time.perf_counter() - t1
        yield hashes, vectors, n_tokens, max_tokens


def embed(
    store: Any,
    *,
    model: str | None = None,
    backend: str = DEFAULT_BACKEND,
    embedder: Embedder | None = None,
    batch_size: int = 32,
    chunk_size: int = 2048,
    threads: int | None = None,
    progress: ProgressFn | None = None,
    ray: RayOptions | None = None,
) -> EmbedReport:
    """Embed every prompt in ``store`` that has no vector for this model id yet.

    Prompts are taken shortest first in chunks of ``chunk_size``; each chunk is committed on its
    own, so an interrupted run resumes where it stopped. With ``ray`` (a
    :class:`~clusterkit.ray_engine.RayOptions`: cluster address, hand-off folder, workers) the
    encoding runs on Ray through Parquet files (see :mod:`clusterkit.ray_engine`); the vectors land
    in the same cache. Returns an :class:`EmbedReport`."""
    engine = "local" if ray is None else "ray"
    if engine == "ray" and embedder is not None:
        raise ModelError(
            "the ray engine loads a sentence-transformers model on each worker; pass model=, not embedder="
        )
    emb = get_embedder(embedder, model, backend, batch_size, threads)
    model_id = _model_id(emb)
    started = time.perf_counter()
    total = store.count_prompts()
    if total == 0:
        raise InputError("the store holds no prompts; ingest a log first (`clusterkit ingest LOG`)")
    missing = store.prompts_without_embedding(model_id)
    params = {
        "model_id": model_id,
        "backend": getattr(emb, "backend", None),
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "threads": threads,
        "engine": engine,
    }
    if not missing:
        # nothing to do records nothing: the vectors' own embed run stays the parent of what follows
        return EmbedReport(_last_embed_run(store, model_id), model_id, 0, total, 0, time.perf_counter() - started)
    versions = package_versions("sentence-transformers", "onnxruntime", "openvino", "torch", "transformers", "ray")
    with store.recorded_run("embed", params, parent_run_id=store.latest_run("ingest"), versions=versions) as record:
        run_id = record.run_id
        timings = record.timings
        timings.update({"encode": 0.0, "write": 0.0, "read": 0.0})
        embedded = truncated = 0
        record.stats["embedded"] = 0
        table = None
        if engine == "ray":
            from .ray_engine import ray_batches

            batches = ray_batches(
                store,
                missing,
                model=model,
                backend=backend,
                batch_size=batch_size,
                chunk_size=chunk_size,
                threads=threads,
                options=ray,
                timings=timings,
            )
        else:
            batches = _local_batches(store, emb, missing, chunk_size, timings)
        # the token window comes with each batch: with Ray only the workers load the model
        for hashes, vectors, n_tokens, max_tokens in batches:
            t2 = time.perf_counter()
            if table is None:
                table = store.embedding_table(model_id, vectors.shape[1], max_tokens)
            store.write_embeddings(table, hashes, vectors, n_tokens, max_tokens, run_id)
            timings["write"] += time.perf_counter() - t2
            embedded += len(hashes)
            record.stats["embedded"] = embedded
            if n_tokens is not None and max_tokens:
                truncated += int((np.asarray(n_tokens) > max_tokens).sum())
            if progress:
                progress(embedded, len(missing))
        seconds = time.perf_counter() - started
        timings["total"] = seconds
        record.stats.update({"embedded": embedded, "cached": total - len(missing), "truncated": truncated})
    return EmbedReport(run_id, model_id, embedded, total - len(missing), truncated, seconds)


def _last_embed_run(store: Any, model_id: str) -> int | None:
    """The latest finished embed run of ``model_id`` (None for vectors stored before runs were kept)."""
    found = store.sql(
        "SELECT max(run_id) AS r FROM runs WHERE kind = 'embed' AND status = 'ok' AND params->>'model_id' = ?",
        [model_id],
    )["r"].iloc[0]
    return None if pd.isna(found) else int(found)
