"""Dimension reduction: UMAP to a few dimensions for clustering and to 2-D for maps.

Both projections share one nearest-neighbour graph (computed once: exact, pynndescent or by
cells, by size), which is also what finds near-duplicate prompts. Above ``fit_threshold`` rows,
UMAP is fitted on a random sample of ``fit_sample`` rows and the rest are placed with ``transform``.

Progress: UMAP reports its optimisation epochs through tqdm; :class:`_EpochsTo` is the file tqdm
writes to, turning each ``n/total`` line into a ``progress(n, total)`` call.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["UMAP_FIT_SAMPLE", "UMAP_FIT_THRESHOLD", "Neighbours", "Reducer", "nearest_neighbours", "reduce"]

#: above this many rows UMAP is fitted on a sample of ``UMAP_FIT_SAMPLE`` and the rest transformed
UMAP_FIT_THRESHOLD = 150_000
UMAP_FIT_SAMPLE = 50_000
#: below this many rows UMAP finds exact neighbours itself; above, it reuses the graph it is given
UMAP_OWN_NEIGHBOURS_BELOW = 4_096


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
    unit = _unit_rows(vectors, _inverse_norms(vectors), slice(None))
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


def _inverse_norms(vectors: np.ndarray) -> np.ndarray:
    return (1.0 / np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)).astype(np.float32)


def _unit_rows(vectors: np.ndarray, inverse_norms: np.ndarray, rows: np.ndarray | slice) -> np.ndarray:
    return (vectors[rows] * inverse_norms[rows, None]).astype(np.float32, copy=False)


def _spherical_kmeans(unit: np.ndarray, n_cells: int, rng: np.random.Generator, iterations: int = 5) -> np.ndarray:
    """Unit centroids of ``n_cells`` cells of unit vectors (a few rounds of Lloyd on the sphere)."""
    from scipy.sparse import csr_matrix

    centroids = unit[rng.choice(len(unit), n_cells, replace=False)]
    for _ in range(iterations):
        assign = np.concatenate(
            [np.argmax(unit[i : i + 8192] @ centroids.T, axis=1) for i in range(0, len(unit), 8192)]
        )
        members = csr_matrix((np.ones(len(unit), np.float32), (assign, np.arange(len(unit)))), (n_cells, len(unit)))
        sums = np.asarray(members @ unit)
        norms = np.linalg.norm(sums, axis=1)
        moved = norms > 0  # a cell that lost every member keeps its centroid
        centroids[moved] = sums[moved] / norms[moved, None]
    return centroids


def _cell_neighbours(
    vectors: np.ndarray,
    k: int,
    *,
    probes: int = 3,
    cell_size: int = 1_000,
    fit_sample: int = 50_000,
    random_state: int = 42,
    block: int = 4096,
    progress: Callable[[int, int], None] | None = None,
) -> Neighbours:
    """Approximate cosine kNN by cells (an inverted file): unit vectors are put in cells of about
    ``cell_size`` rows by spherical k-means fitted on a sample (at most a tenth as many cells as
    sampled rows); each row is compared exactly with the rows of its ``probes`` nearest cells.

    Cost per row: probes x cell_size products (constant), plus one product per cell to find its
    nearest cells (n / cell_size: at a million rows a quarter of the work; it would dominate from
    about ten million). The work is known up front, so ``progress(done, total)`` gives a true ETA: rows
    placed in cells, then products cell by cell. Rows whose probed cells hold fewer than ``k`` rows
    are padded with index -1 at distance inf."""
    n = len(vectors)
    inverse_norms = _inverse_norms(vectors)
    rng = np.random.default_rng(random_state)
    n_cells = max(1, min(n // cell_size, fit_sample // 10))
    fit = _unit_rows(vectors, inverse_norms, np.sort(rng.choice(n, min(n, fit_sample), replace=False)))
    centroids = _spherical_kmeans(fit, n_cells, rng)
    probes = min(probes, n_cells)
    probe = np.empty((n, probes), dtype=np.int64)  # each row's nearest cells, nearest first
    for start in range(0, n, block):
        sims = _unit_rows(vectors, inverse_norms, slice(start, start + block)) @ centroids.T
        part = np.argpartition(-sims, probes - 1, axis=1)[:, :probes]
        probe[start : start + block] = np.take_along_axis(
            part, np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable"), axis=1
        )
        if progress:
            progress(min(start + block, n), n)  # phase 1: rows placed in cells
    home = probe[:, 0]  # the cell a row is stored in
    stored = np.argsort(home, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(home, minlength=n_cells))]
    asked = np.argsort(probe.ravel(), kind="stable")  # (row, slot) pairs grouped by probed cell
    asked_bounds = np.r_[0, np.cumsum(np.bincount(probe.ravel(), minlength=n_cells))]
    work = np.diff(bounds) * np.diff(asked_bounds)  # phase 2: products, cell by cell
    total, done = int(work.sum()), 0
    best = np.full((n, probes * k), -1, dtype=np.int64)
    best_sim = np.full((n, probes * k), -np.inf, dtype=np.float32)
    position = np.empty(n, dtype=np.int64)  # of each row among its home cell's rows
    position[stored] = np.arange(n) - bounds[home[stored]]
    for cell in np.flatnonzero(work):
        members = stored[bounds[cell] : bounds[cell + 1]]
        base = _unit_rows(vectors, inverse_norms, members)
        kk = min(k, len(members))
        queries = asked[asked_bounds[cell] : asked_bounds[cell + 1]]
        step = max(16, min(block, (1 << 24) // len(members)))  # products of at most ~64 MB
        for start in range(0, len(queries), step):
            rows, slots = np.divmod(queries[start : start + step], probes)
            sims = _unit_rows(vectors, inverse_norms, rows) @ base.T
            home_rows = np.flatnonzero(slots == 0)
            sims[home_rows, position[rows[home_rows]]] = np.inf  # each row is its own first neighbour
            part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
            columns = slots[:, None] * k + np.arange(kk)
            best[rows[:, None], columns] = members[part]
            best_sim[rows[:, None], columns] = np.take_along_axis(sims, part, axis=1)
        done += int(work[cell])
        if progress:
            progress(done, total)
    order = np.lexsort((best, -best_sim), axis=1)[:, :k]  # by similarity, ties by index
    idx = np.take_along_axis(best, order, axis=1)
    sim = np.take_along_axis(best_sim, order, axis=1)
    sim[:, 0] = np.where(idx[:, 0] == np.arange(n), 1.0, sim[:, 0])
    dist = np.where(idx >= 0, np.maximum(1.0 - sim, 0.0), np.inf).astype(np.float32)
    return Neighbours(idx, dist)


def nearest_neighbours(
    vectors: np.ndarray,
    k: int = 15,
    random_state: int = 42,
    exact_below: int = 30_000,
    progress: Callable[[int, int], None] | None = None,
) -> Neighbours:
    """kNN graph under cosine distance, by one of three methods, each with its rows' own first:

    - up to ``exact_below`` rows: exact (blocked matrix products; ``progress(done, total)`` per block);
    - up to ``UMAP_FIT_THRESHOLD`` rows: pynndescent (no progress hooks), whose index UMAP reuses;
    - above: by cells (``_cell_neighbours``: k-means cells, exact products within each row's three
      nearest cells; ``progress`` in two phases). UMAP fits on a sample there and searches its own
      index, so the graph only feeds near-duplicate groups; at a million prompts it puts every exact
      pair at cosine >= 0.95 (of 600 rows checked) in one group, as pynndescent did, in about its
      time, with less memory and a true ETA."""
    n = len(vectors)
    k = max(2, min(k, n - 1)) if n > 2 else n
    if n <= exact_below:
        return _exact_neighbours(vectors, k, progress=progress)
    if n > UMAP_FIT_THRESHOLD:
        return _cell_neighbours(vectors, k, random_state=random_state, progress=progress)
    from pynndescent import NNDescent

    index = NNDescent(
        vectors, n_neighbors=k, metric="cosine", random_state=random_state, low_memory=True, n_jobs=1, verbose=False
    )
    idx, dist = index.neighbor_graph
    return Neighbours(idx.astype(np.int64), dist.astype(np.float32), index)


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
    if neighbours is not None and neighbours.indices.shape[1] >= k and n > UMAP_OWN_NEIGHBOURS_BELOW:
        kwargs["precomputed_knn"] = (neighbours.indices[:, :k], neighbours.distances[:, :k], neighbours.index)
    model = umap.UMAP(**settings, **kwargs, **_epoch_progress(progress))
    with warnings.catch_warnings():
        # An exact graph has no search index, so UMAP warns that this model cannot ``transform``:
        # it is never asked to, and the warning would only puzzle whoever reads the terminal.
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return np.asarray(model.fit_transform(vectors), dtype=np.float32)
