"""Clustering: HDBSCAN on the reduced vectors, with near-duplicate groups kept whole.

Near-duplicate prompts (cosine similarity >= ``dup_threshold`` to a neighbour: the same template
with a word changed) are grouped from the nearest-neighbour graph, separately from HDBSCAN, and a
group is never split between a cluster and noise: every member takes the group's majority cluster.
Noise stays ``-1`` and is reported. Clusters are numbered by size, largest first.

Above ``fit_threshold`` rows HDBSCAN is fitted on a random sample of ``fit_sample`` rows (its minimum
and maximum cluster sizes scaled to the sample) and every other row is placed with
``hdbscan.approximate_predict``: its cluster in the sample's condensed tree, or noise. hdbscan's
minimum spanning tree grows faster than n log n on dense UMAP maps (slope ~1.7 measured between 100k
and 300k rows); the prediction grows with n log(sample).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .reduce import Neighbours

__all__ = [
    "FIT_SAMPLE",
    "FIT_THRESHOLD",
    "Clusterer",
    "Clustering",
    "cluster",
    "default_min_cluster_size",
    "near_duplicate_groups",
]

FIT_THRESHOLD = 150_000
FIT_SAMPLE = 100_000


@runtime_checkable
class Clusterer(Protocol):
    """Anything with ``fit_predict(X) -> labels`` (-1 for noise) can cluster."""

    def fit_predict(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Clustering:
    """Labels per row (-1 = noise), membership strength, near-duplicate group per row (-1 = none)."""

    labels: np.ndarray
    probabilities: np.ndarray
    dup_groups: np.ndarray
    min_cluster_size: int
    min_samples: int
    fitted_on: int = 0  # rows HDBSCAN was fitted on (the rest predicted); 0 = all of them

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) and self.labels.max() >= 0 else 0

    @property
    def noise_share(self) -> float:
        return float((self.labels < 0).mean()) if len(self.labels) else 0.0


def default_min_cluster_size(n: int) -> int:
    """Scaled to the data: half the square root of the number of prompts, at least 8."""
    return max(8, round(0.5 * math.sqrt(max(n, 1))))


def near_duplicate_groups(neighbours: Neighbours, threshold: float = 0.95) -> np.ndarray:
    """Connected components of the neighbour pairs with cosine similarity >= ``threshold``;
    rows in no pair get -1. Groups are numbered in order of their first row."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(neighbours.indices)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(n), neighbours.indices.shape[1])
    cols = neighbours.indices.reshape(-1)
    keep = (neighbours.distances.reshape(-1) <= 1.0 - threshold) & (rows != cols) & (cols >= 0)
    graph = coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (rows[keep], cols[keep])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    out = np.full(n, -1, dtype=np.int64)
    multi = sizes[comp] > 1
    _, first = np.unique(comp[multi], return_inverse=True)
    # renumber by first appearance so the numbering does not depend on scipy's internals
    order = {}
    for g in first:
        order.setdefault(int(g), len(order))
    out[multi] = [order[int(g)] for g in first]
    return out


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    out = np.full_like(labels, -1)
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    ranked = ids[np.lexsort((ids, -counts))]
    for new, old in enumerate(ranked):
        out[labels == old] = new
    return out


def _keep_groups_whole(labels: np.ndarray, groups: np.ndarray) -> np.ndarray:
    labels = labels.copy()
    for g in np.unique(groups[groups >= 0]):
        members = np.flatnonzero(groups == g)
        found = labels[members]
        found = found[found >= 0]
        if len(found) == 0:
            labels[members] = -1
        else:
            values, counts = np.unique(found, return_counts=True)
            labels[members] = values[np.argmax(counts)]
    return labels


def max_cluster_size(n: int, min_cluster_size: int) -> int:
    """Largest cluster HDBSCAN may return: a tenth of the prompts (at least 10 minimum sizes)."""
    return max(n // 10, 10 * min_cluster_size)


def _hdbscan(X: np.ndarray, mcs: int, ms: int, max_size: int, prediction_data: bool = False) -> Any:
    import hdbscan

    # Excess-of-mass selection can collapse a dense map into a handful of giant clusters (seen on
    # real prompt mixes: 4 clusters holding 98% of the prompts); a cap on cluster size makes it
    # descend into their sub-clusters instead.
    return hdbscan.HDBSCAN(
        min_cluster_size=mcs,
        min_samples=ms,
        metric="euclidean",
        cluster_selection_method="eom",
        max_cluster_size=max_size,
        core_dist_n_jobs=1,
        prediction_data=prediction_data,
    ).fit(X)


def _fit_on_sample(
    X: np.ndarray,
    mcs: int,
    ms: int,
    fit_sample: int,
    random_state: int,
    progress: Callable[[int, int], None] | None,
    chunk: int = 50_000,
) -> tuple[np.ndarray, np.ndarray]:
    """HDBSCAN on a random sample, sizes scaled to it; the other rows by ``approximate_predict``."""
    import hdbscan

    n = len(X)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, size=fit_sample, replace=False))
    share = fit_sample / n
    mcs_s = max(ms, round(mcs * share))
    model = _hdbscan(X[sample], mcs_s, ms, max(int(max_cluster_size(n, mcs) * share), 10 * mcs_s), True)
    labels = np.empty(n, dtype=np.int64)
    probs = np.empty(n, dtype=np.float32)
    labels[sample], probs[sample] = model.labels_, model.probabilities_
    rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
    for start in range(0, len(rest), chunk):
        rows = rest[start : start + chunk]
        labels[rows], probs[rows] = hdbscan.approximate_predict(model, X[rows])
        if progress:
            progress(start + len(rows), len(rest))
    return labels, probs


def cluster(
    reduced: np.ndarray,
    *,
    min_cluster_size: int | None = None,
    min_samples: int | None = None,
    dup_groups: np.ndarray | None = None,
    clusterer: Clusterer | None = None,
    fit_threshold: int = FIT_THRESHOLD,
    fit_sample: int = FIT_SAMPLE,
    random_state: int = 42,
    progress: Callable[[int, int], None] | None = None,
) -> Clustering:
    """HDBSCAN (or ``clusterer``) on ``reduced``; near-duplicate ``dup_groups`` kept whole.

    Above ``fit_threshold`` rows HDBSCAN is fitted on ``fit_sample`` of them (drawn with
    ``random_state``) and ``progress(done, total)`` follows the placement of the rest."""
    n = len(reduced)
    mcs = int(min_cluster_size or default_min_cluster_size(n))
    ms = int(min_samples or max(2, min(mcs, 5)))
    groups = dup_groups if dup_groups is not None else np.full(n, -1, dtype=np.int64)
    fitted_on = 0
    if n == 0:
        return Clustering(np.zeros(0, np.int64), np.zeros(0, np.float32), groups, mcs, ms)
    if clusterer is not None:
        labels = np.asarray(clusterer.fit_predict(reduced), dtype=np.int64)
        probs = np.asarray(getattr(clusterer, "probabilities_", np.ones(n)), dtype=np.float32)
    elif n < max(mcs, 2):
        labels, probs = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float32)
    elif n > fit_threshold and fit_sample < n:
        labels, probs = _fit_on_sample(reduced, mcs, ms, fit_sample, random_state, progress)
        fitted_on = fit_sample
    else:
        model = _hdbscan(reduced, mcs, ms, max_cluster_size(n, mcs))
        labels = np.asarray(model.labels_, dtype=np.int64)
        probs = np.asarray(model.probabilities_, dtype=np.float32)
    labels = _relabel_by_size(_keep_groups_whole(labels, groups))
    probs = np.where(labels < 0, 0.0, np.where(probs > 0, probs, 1.0)).astype(np.float32)
    return Clustering(labels, probs, groups, mcs, ms, fitted_on)
