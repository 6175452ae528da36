"""Dimension reduction: UMAP to a few dimensions for clustering and to 2-D for maps.

Both projections share one nearest-neighbour graph (computed once with pynndescent), which is
also what finds near-duplicate prompts. Above ``fit_threshold`` rows, UMAP is fitted on a
random sample of ``fit_sample`` rows and the rest are placed with ``transform``.

Progress: UMAP reports its optimisation epochs through tqdm; :class:`_EpochsTo` is the file tqdm
writes to, turning each ``n/total`` line into a ``progress(n, total)`` call.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["UMAP_FIT_SAMPLE", "UMAP_FIT_THRESHOLD", "Neighbours", "Reducer", "nearest_neighbours", "reduce"]

#: above this many rows UMAP is fitted on a sample of ``UMAP_FIT_SAMPLE`` and the rest transformed
UMAP_FIT_THRESHOLD = 150_000
UMAP_FIT_SAMPLE = 50_000


@runtime_checkable
class Reducer(Protocol):
    """Anything with ``fit_transform(X) -> ndarray`` can reduce (an sklearn-style estimator)."""

    def fit_transform(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Neighbours:
    """k nearest neighbours of every row (itself first), by cosine distance."""

    indices: np.ndarray
    distances: np.ndarray
    index: Any = None


class _EpochsTo:
    """A write-only file for tqdm whose lines are ``n/total``: each becomes ``progress(n, total)``."""

    _LINE = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Callable[[int, int], None]) -> None:
        self.progress = progress

    def write(self, text: str) -> int:
        found = self._LINE.search(text)
        if found:
            self.progress(int(found[1]), int(found[2]))
        return len(text)

    def flush(self) -> None:
        pass


def _epoch_progress(progress: Callable[[int, int], None] | None) -> dict[str, Any]:
    """UMAP settings that report its epochs to ``progress`` (none when there is nothing to report to)."""
    if progress is None:
        return {}
    tqdm = {"disable": False, "file": _EpochsTo(progress), "bar_format": "{n}/{total}", "mininterval": 0.5}
    return {"tqdm_kwds": tqdm}


def _exact_neighbours(
    vectors: np.ndarray, k: int, block: int = 2048, progress: Callable[[int, int], None] | None = None
) -> Neighbours:
    """Exact cosine kNN by blocked matrix products (fast up to a few tens of thousands of rows);
    ``progress(done, total)`` after each block of rows."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    unit = unit.astype(np.float32, copy=False)
    n = len(unit)
    idx = np.empty((n, k), dtype=np.int64)
    dist = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sims = unit[start : start + block] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = np.inf  # each row is its own first neighbour
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -top), axis=1)  # by similarity, ties by index: deterministic
        idx[start : start + block] = np.take_along_axis(part, order, axis=1)
        best = np.take_along_axis(top, order, axis=1)
        best[:, 0] = 1.0
        dist[start : start + block] = np.maximum(1.0 - best, 0.0)
        if progress:
            progress(min(start + block, n), n)
    return Neighbours(idx, dist)


def nearest_neighbours(
    vectors: np.ndarray,
    k: int = 15,
    random_state: int = 42,
    exact_below: int = 30_000,
    progress: Callable[[int, int], None] | None = None,
) -> Neighbours:
    """kNN graph under cosine distance: exact below ``exact_below`` rows (blocked matrix
    products, no compilation; ``progress(done, total)`` per block), approximate (pynndescent,
    no progress hooks) above."""
    n = len(vectors)
    k = max(2, min(k, n - 1)) if n > 2 else n
    if n <= exact_below:
        return _exact_neighbours(vectors, k, progress=progress)
    from pynndescent import NNDescent

    index = NNDescent(
        vectors, n_neighbors=k, metric="cosine", random_state=random_state, low_memory=True, n_jobs=1, verbose=False
    )
    idx, dist = index.neighbor_graph
    # the index is kept only for UMAP to reuse, which it does below its fit threshold; above, it
    # fits on a sample with its own search, and the index (a normalised copy of every vector,
    # 1.6 GB at a million prompts) would only hold memory through the later stages
    return Neighbours(idx.astype(np.int64), dist.astype(np.float32), index if n <= UMAP_FIT_THRESHOLD else None)


def reduce(
    vectors: np.ndarray,
    *,
    n_components: int = 5,
    n_neighbors: int = 15,
    min_dist: float = 0.0,
    metric: str = "cosine",
    random_state: int = 42,
    neighbours: Neighbours | None = None,
    fit_threshold: int = UMAP_FIT_THRESHOLD,
    fit_sample: int = UMAP_FIT_SAMPLE,
    reducer: Reducer | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Project ``vectors`` to ``n_components`` dimensions with UMAP (or with ``reducer``).
    ``progress(done, total)`` follows UMAP's epochs, then the transform of the rows outside the
    fitted sample (a new total starts a new phase).

    Same inputs and ``random_state`` give the same output."""
    n = len(vectors)
    if reducer is not None:
        return np.asarray(reducer.fit_transform(vectors), dtype=np.float32)
    if n == 0:
        return np.zeros((0, n_components), dtype=np.float32)
    if n <= n_components + 1:
        out = np.zeros((n, n_components), dtype=np.float32)
        out[:, 0] = np.arange(n)
        return out
    import umap

    k = max(2, min(n_neighbors, n - 1))
    # n_jobs=1: a fixed random_state makes UMAP single-threaded anyway; saying so avoids its warning.
    settings = dict(
        n_components=n_components,
        n_neighbors=k,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        low_memory=True,
        verbose=False,
        n_jobs=1,
    )
    if n > fit_threshold:
        rng = np.random.default_rng(random_state)
        sample = np.sort(rng.choice(n, size=fit_sample, replace=False))
        model = umap.UMAP(**settings, **_epoch_progress(progress))
        model.fit(vectors[sample])
        model.tqdm_kwds = {"disable": True}  # the transform reports by chunks of rows instead
        out = np.empty((n, n_components), dtype=np.float32)
        rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
        out[sample] = model.embedding_
        for start in range(0, len(rest), 50_000):
            chunk = rest[start : start + 50_000]
            out[chunk] = model.transform(vectors[chunk])
            if progress:
                progress(start + len(chunk), len(rest))
        return out
    kwargs: dict[str, Any] = {}
    if neighbours is not None and neighbours.indices.shape[1] >= k and n > 4096:
        # UMAP computes exact neighbours itself below 4,096 rows; above, it reuses ours.
        kwargs["precomputed_knn"] = (neighbours.indices[:, :k], neighbours.distances[:, :k], neighbours.index)
    model = umap.UMAP(**settings, **kwargs, **_epoch_progress(progress))
    return np.asarray(model.fit_transform(vectors), dtype=np.float32)
